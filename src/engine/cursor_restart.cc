#include "engine/cursor_restart.h"

#include <vector>

#include "json/json_writer.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// Restarts in a row that delivered nothing new before the next one.
constexpr int kMaxFruitlessRestarts = 3;

std::vector<uint64_t> HashesOf(const RecordBatch& batch) {
  std::vector<uint64_t> out;
  out.reserve(batch.size());
  for (const Record& r : batch.records()) out.push_back(StableKeyHash(r.key));
  return out;
}

}  // namespace

absl::Status LoadDelivered(Engine& engine, ShardRun& run) {
  std::vector<uint64_t> before;
  if (engine.keeps_delivered_keys()) {
    ShardCounters ignored;
    absl::StatusOr<std::vector<uint64_t>> loaded;
    absl::Status st = engine.Retry("load delivered keys", run, &ignored, [&] {
      loaded = engine.components().checkpoints->delivered_keys()->Load(engine.spec().name, run.shard.id,
                                                                       run.checkpoint.delivered_keys);
      return loaded.status();
    });
    if (!st.ok()) return absl::Status(st.code(), StrCat("load delivered keys: ", st.message()));
    before = *std::move(loaded);
  }
  run.delivered_before = absl::flat_hash_set<uint64_t>(before.begin(), before.end());
  run.restarted = true;
  run.delivered_at_restart = run.checkpoint.counters.records_delivered;
  return absl::OkStatus();
}

absl::Status ResumeRestarted(Engine& engine, ShardRun& run) {
  const Checkpoint& ck = run.checkpoint;
  if (ck.cursor_restarts == 0) return absl::OkStatus();
  if (engine.keeps_delivered_keys()) {
    RECOVERY_RETURN_IF_ERROR(LoadDelivered(engine, run));
  }
  if (engine.sorted_restarts() != nullptr && ck.read_from != absl::InfinitePast()) {
    run.restarted = true;
    run.skip_sorted_before = ck.read_from;
    // Past that time already, the reader returns nothing at it again.
    if (ck.sorted_through == ck.read_from)
      run.skip_sorted_keys = absl::flat_hash_set<uint64_t>(ck.sorted_keys.begin(), ck.sorted_keys.end());
  }
  return absl::OkStatus();
}

Shard ReaderShard(const ShardRun& run) {
  Shard s = run.shard;
  if (run.checkpoint.read_from > s.start && run.checkpoint.read_from < s.end)
    s.start = run.checkpoint.read_from;
  return s;
}

double ShardProgress(const ShardRun& run, double reader_progress) {
  const Shard reader = ReaderShard(run);
  if (reader.start == run.shard.start || reader_progress < 0 || IsOpenEnded(run.shard))
    return reader_progress;
  const double skipped = absl::FDivDuration(reader.start - run.shard.start, run.shard.end - run.shard.start);
  return skipped + (1 - skipped) * reader_progress;
}

void NoteSortedEnd(const PagingClaims& claims, bool keep_keys, const Page& page, ShardRun& run,
                   MappedPage& mapped) {
  const absl::Span<const RawRecord> records = page.records.records();
  std::vector<absl::Time> times(records.size(), absl::InfinitePast());
  for (size_t i = 0; i < records.size(); ++i) {
    const std::optional<absl::Time> t = claims.SortTimeOf(records[i]);
    if (!t) continue;
    times[i] = *t;
    if (*t < run.last_sort_time) mapped.out_of_order = true;
    run.last_sort_time = std::max(run.last_sort_time, *t);
    mapped.sorted_end = *t;
  }
  if (!keep_keys || mapped.sorted_end == absl::InfinitePast()) return;
  for (size_t i = 0; i < records.size() && i < mapped.key_hashes.size(); ++i) {
    if (times[i] == mapped.sorted_end && mapped.key_hashes[i] != 0)
      mapped.sorted_end_keys.push_back(mapped.key_hashes[i]);
  }
}

void MoveSortedThrough(const MappedPage& mapped, Checkpoint& ck) {
  if (mapped.out_of_order) {
    ck.unsorted = true;
    ck.sorted_through = absl::InfinitePast();
    ck.sorted_keys.clear();
    return;
  }
  if (ck.unsorted || mapped.sorted_end == absl::InfinitePast() || mapped.sorted_end < ck.sorted_through)
    return;
  if (mapped.sorted_end > ck.sorted_through) {
    ck.sorted_through = mapped.sorted_end;
    ck.sorted_keys.clear();
  }
  if (mapped.sorted_end_keys.empty()) return;
  absl::flat_hash_set<uint64_t> had(ck.sorted_keys.begin(), ck.sorted_keys.end());
  for (uint64_t h : mapped.sorted_end_keys) {
    if (had.insert(h).second) ck.sorted_keys.push_back(h);
  }
}

absl::Status PrepareRestart(Engine& engine, ShardRun& run, const absl::Status& why) {
  Checkpoint& ck = run.checkpoint;
  const uint64_t delivered = ck.counters.records_delivered;
  run.fruitless_restarts =
      run.restarted && delivered == run.delivered_at_restart ? run.fruitless_restarts + 1 : 0;
  if (run.fruitless_restarts >= kMaxFruitlessRestarts) {
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        "the source's cursors expired ", run.fruitless_restarts + 1,
        " times in a row before the shard got past what it had delivered; restarting again would loop "
        "(a cursor lives shorter than paging to where the shard was takes: raise page_size, or lower the "
        "shard's width with shard_duration). Last refusal: ",
        why.message())));
  }
  // Sorted records: from where they had got to, if that is inside the shard.
  // Decided before the checkpoint changes: a refusal leaves it as it was.
  const bool by_order = engine.sorted_restarts() != nullptr && !ck.unsorted &&
                        ck.sorted_through > run.shard.start && ck.sorted_through < run.shard.end;
  if (!by_order && !engine.keeps_delivered_keys() && engine.presence() == nullptr &&
      (delivered > 0 || ck.in_flight)) {
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        "the source's cursor expired and the shard cannot restart exactly: its records were to come sorted "
        "by "
        "time (sorted_by), but ",
        ck.unsorted ? "a page came out of order"
                    : "no record committed so far has a sort time inside the shard's window",
        ", and the checkpoint store keeps no delivered keys to skip what the shard delivered. Fix sorted_by, "
        "or use a store that keeps delivered keys (file, memory, postgres), or reset the shard. Refusal: ",
        why.message())));
  }
  RECOVERY_RETURN_IF_ERROR(LoadDelivered(engine, run));
  // With the sink's presence check, the in-flight keys are the presence
  // step's own (presence.cc); else they are this batch's, which may be in the sink.
  run.maybe_in_sink.clear();
  if (ck.in_flight && !engine.spec().skip_already_present)
    run.maybe_in_sink.insert(ck.in_flight_keys.begin(), ck.in_flight_keys.end());
  ++ck.cursor_restarts;
  const std::string expired_cursor = ck.cursor;
  ck.cursor.clear();
  ck.page_taken = 0;
  ck.page_taken_hash = 0;
  ck.read_from = by_order ? ck.sorted_through : absl::InfinitePast();
  run.skip_sorted_before = ck.read_from;
  run.skip_sorted_keys = by_order
                             ? absl::flat_hash_set<uint64_t>(ck.sorted_keys.begin(), ck.sorted_keys.end())
                             : absl::flat_hash_set<uint64_t>();
  run.last_sort_time = absl::InfinitePast();
  engine.metrics().CursorRestart();
  std::string fields;
  JsonObjectWriter w(&fields);
  w.Str("shard", run.shard.id)
      .Str("cursor", expired_cursor)
      .Uint("cursor_restarts", ck.cursor_restarts)
      .Uint("delivered_keys", run.delivered_before.size());
  if (by_order) w.Time("read_from", ck.read_from);
  w.Str("error", ToStd(why.message())).Close();
  const std::string from = by_order ? StrCat("from ", FormatRfc3339(ck.read_from),
                                             ", where its records (sorted by time) had got to")
                                    : std::string("from its beginning");
  const std::string skipping = engine.keeps_delivered_keys() ? StrCat("the ", run.delivered_before.size(),
                                                                      " records it delivered before")
                               : by_order ? std::string("the records it had committed at that time")
                                          : std::string("the records the sink already holds");
  engine.Log(
      LogLevel::kWarning,
      StrCat("shard ", run.shard.id, ": the source refused its cursor as expired; reading the shard again ",
             from, ", skipping ", skipping),
      fields);
  return absl::OkStatus();
}

void SkipDeliveredBefore(const PagingClaims* sorted, const ShardRun& run, const Page& page,
                         MappedPage& mapped) {
  const absl::Time before = sorted != nullptr ? run.skip_sorted_before : absl::InfinitePast();
  if (run.delivered_before.empty() && run.maybe_in_sink.empty() && before == absl::InfinitePast()) return;
  // Sorted before the restart's time, or at it and committed then.
  auto sorted_out = [&](size_t raw, uint64_t hash) {
    if (before == absl::InfinitePast()) return false;
    const std::optional<absl::Time> t = sorted->SortTimeOf(page.records.records()[raw]);
    return t && (*t < before || (*t == before && run.skip_sorted_keys.contains(hash)));
  };
  const absl::Span<const Record> records = mapped.batch.records();
  RecordBatch kept;
  std::vector<uint32_t> origin;
  origin.reserve(records.size());
  for (size_t j = 0; j < records.size(); ++j) {
    const Record& r = records[j];
    const uint64_t hash = StableKeyHash(r.key);
    if (run.delivered_before.contains(hash) || sorted_out(mapped.origin[j], hash)) {
      mapped.outcomes[mapped.origin[j]] = RecordOutcome::kAlreadyPresent;
      continue;
    }
    kept.Add(r.key, r.event_time, r.payload, r.maybe_redelivered || run.maybe_in_sink.contains(hash));
    origin.push_back(mapped.origin[j]);
  }
  mapped.batch = std::move(kept);
  mapped.origin = std::move(origin);
}

bool AddInFlightKeys(const RecordBatch& batch, Checkpoint& checkpoint) {
  const absl::flat_hash_set<uint64_t> had(checkpoint.in_flight_keys.begin(), checkpoint.in_flight_keys.end());
  bool grew = false;
  for (uint64_t h : HashesOf(batch)) {
    if (had.contains(h)) continue;
    checkpoint.in_flight_keys.push_back(h);
    grew = true;
  }
  return grew;
}

absl::Status RecordDelivered(Engine& engine, ShardRun& run, const RecordBatch& batch,
                             ShardCounters* counters) {
  if (batch.empty()) return absl::OkStatus();
  const std::vector<uint64_t> hashes = HashesOf(batch);
  Checkpoint& ck = run.checkpoint;
  RECOVERY_RETURN_IF_ERROR(engine.Retry("record delivered keys", run, counters, [&] {
    return engine.components().checkpoints->delivered_keys()->Append(engine.spec().name, run.shard.id,
                                                                     ck.delivered_keys, hashes);
  }));
  ck.delivered_keys += hashes.size();
  return absl::OkStatus();
}

}  // namespace recovery
