#include "engine/page_cut.h"

#include <string>

#include "json/json_writer.h"
#include "util/hash.h"
#include "util/strings.h"

namespace recovery {
namespace {

// The hash of `records`' bytes, continuing from `hash` (0 for a page's front).
uint64_t TakenHash(absl::Span<const RawRecord> records, uint64_t hash) {
  for (const RawRecord& r : records) hash = StableHash64(r.data, hash);
  return hash;
}

}  // namespace

bool DropTaken(Engine& engine, ShardRun& run, Page* page) {
  const Checkpoint& ck = run.checkpoint;
  run.dropped_in_page = 0;
  run.dropped_hash = 0;
  if (ck.page_taken == 0) return true;
  const absl::Span<const RawRecord> records = page->records.records();
  const bool same = records.size() >= ck.page_taken &&
                    TakenHash(records.subspan(0, ck.page_taken), 0) == ck.page_taken_hash;
  if (!same) {
    std::string fields;
    JsonObjectWriter(&fields).Str("shard", run.shard.id).Uint("page_taken", ck.page_taken).Close();
    engine.Log(LogLevel::kWarning,
               StrCat("the page a record limit cut in shard ", run.shard.id,
                      " came back changed: it is delivered whole, its records flagged as possible "
                      "redeliveries"),
               fields);
    return false;
  }
  page->records.DropFirst(ck.page_taken);
  run.dropped_in_page = ck.page_taken;
  run.dropped_hash = ck.page_taken_hash;
  return true;
}

Cut CutToLimit(Engine& engine, ShardRun& run, const JobWindow& job, Page* page, MappedPage* mapped) {
  run.taken_after = 0;
  run.taken_hash_after = 0;
  const auto wanted = static_cast<int64_t>(mapped->batch.size());
  run.records_granted = engine.TakeRecords(wanted);
  if (run.records_granted == wanted) return Cut::kWhole;
  // The first record not granted, and every raw record from it, wait.
  const size_t cut = mapped->origin[static_cast<size_t>(run.records_granted)];
  if (cut == 0) {
    engine.ReturnRecords(run.records_granted);
    run.records_granted = 0;
    return Cut::kNothing;
  }
  KeepFirstMapped(*engine.components().mapper, job, page->records, cut, mapped);
  const bool queue = engine.components().source->queue_description() != nullptr;
  if (!queue) {  // fetched again from the same cursor, with the front dropped
    run.taken_after = run.dropped_in_page + static_cast<uint32_t>(cut);
    run.taken_hash_after = TakenHash(page->records.records().subspan(0, cut), run.dropped_hash);
    page->next_cursor = run.checkpoint.cursor;
  }
  page->records.KeepFirst(cut);
  page->exhausted = false;
  page->progress = -1;
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Str("cursor", run.checkpoint.cursor)
      .Int("records", run.records_granted)
      .Uint("raw_records_taken", cut)
      .Close();
  engine.Log(LogLevel::kInfo, "page cut at the run's record limit (max_records)", fields);
  return Cut::kCut;
}

void ReturnUnused(Engine& engine, ShardRun& run, uint64_t delivered) {
  const int64_t unused = run.records_granted - static_cast<int64_t>(delivered);
  if (unused > 0) engine.ReturnRecords(unused);
  run.records_granted = 0;
}

}  // namespace recovery
