#include "engine/crash_isolation.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/clock.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

std::vector<uint64_t> HashesOf(const RecordBatch& batch, const std::vector<size_t>& indexes) {
  std::vector<uint64_t> out;
  out.reserve(indexes.size());
  for (size_t j : indexes) out.push_back(StableKeyHash(batch.records()[j].key));
  return out;
}

// The records `indexes` of `from`, with their origins, as a page of their own.
void TakeRecords(const MappedPage& from, const std::vector<size_t>& indexes, MappedPage* to) {
  to->batch.Clear();
  to->origin.clear();
  for (size_t j : indexes) {
    const Record& r = from.batch.records()[j];
    to->batch.Add(r.key, r.event_time, r.payload, r.maybe_redelivered);
    to->origin.push_back(from.origin[j]);
  }
}

}  // namespace

bool CountDeath(ShardRun& run, const SinkMarks* marks) {
  Checkpoint& ck = run.checkpoint;
  if (!ck.in_flight || ck.state != ShardState::kRunning) return false;
  // Killed after the sink took the batch and before its commit was saved:
  // nothing in the batch is to blame.
  if (marks != nullptr && marks->Last(run.shard.index, ck.updated) == SinkMarks::Where::kOutside)
    return false;
  ++ck.crashes;
  if (!ck.suspect_keys.empty()) ++ck.suspect_deaths;  // a piece was alone in the sink
  return true;
}

bool Isolating(const Engine& engine, const ShardRun& run) {
  const int limit = engine.spec().isolate_after_crashes;
  return limit > 0 && run.checkpoint.crashes >= static_cast<uint32_t>(limit);
}

namespace {

// Dies when the process does: as often alone as the limit asks of a batch.
bool ProvenCulprit(const Engine& engine, const Checkpoint& ck, size_t suspects_here) {
  return ck.suspect_keys.size() == 1 && suspects_here == 1 &&
         ck.suspect_deaths >= static_cast<uint32_t>(engine.spec().isolate_after_crashes);
}

}  // namespace

absl::Status DeliverInPieces(const Engine& engine, ShardRun& run, const Page& page, MappedPage& mapped,
                             const std::function<absl::Status(MappedPage&)>& deliver,
                             const std::function<absl::Status()>& save) {
  Checkpoint& ck = run.checkpoint;
  const absl::flat_hash_set<uint64_t> settled(ck.settled_keys.begin(), ck.settled_keys.end());
  const absl::flat_hash_set<uint64_t> suspects(ck.suspect_keys.begin(), ck.suspect_keys.end());
  std::vector<size_t> suspect, rest;  // indexes into mapped.batch; settled ones are in neither
  const absl::Span<const Record> records = mapped.batch.records();
  for (size_t j = 0; j < records.size(); ++j) {
    const uint64_t h = StableKeyHash(records[j].key);
    if (settled.contains(h)) continue;  // a piece delivered it before the last death
    (suspects.empty() || suspects.contains(h) ? suspect : rest).push_back(j);
  }
  // Alone in the process at as many deaths as the limit (only a piece is
  // ever alone: a batch of one delivered the ordinary way may have died of
  // another shard's record; and a death just after the sink took a piece
  // looks like one inside it, so one death alone proves nothing): the record
  // that kills the process.
  if (ProvenCulprit(engine, ck, suspect.size())) {
    const uint32_t i = mapped.origin[suspect.front()];
    const RawRecord& raw = page.records.records()[i];
    mapped.outcomes[i] = RecordOutcome::kDeadLettered;
    const Record& record = mapped.batch.records()[suspect.front()];
    mapped.dead.push_back({i, raw.data, StrCat("crashed the process ", ck.crashes, " times"), raw.id,
                           std::string(record.key), record.event_time});
    suspect.clear();
  }
  // The suspects in halves (one that is not proven yet goes alone), each
  // marked as the suspects before the sink gets it.
  const size_t half = (suspect.size() + 1) / 2;
  std::vector<std::vector<size_t>> pieces;
  if (!suspect.empty()) pieces.emplace_back(suspect.begin(), suspect.begin() + half);
  if (suspect.size() > half) pieces.emplace_back(suspect.begin() + half, suspect.end());
  MappedPage piece;
  for (const std::vector<size_t>& indexes : pieces) {
    piece.outcomes = mapped.outcomes;
    piece.dead.clear();
    piece.present_event_times.clear();
    TakeRecords(mapped, indexes, &piece);
    std::vector<uint64_t> keys = HashesOf(mapped.batch, indexes);
    if (keys != ck.suspect_keys) ck.suspect_deaths = 0;  // new suspects; the same ones keep their count
    ck.in_flight = true;
    ck.suspect_keys = std::move(keys);
    ck.updated = absl::Now();
    RECOVERY_RETURN_IF_ERROR(save());
    RECOVERY_RETURN_IF_ERROR(deliver(piece));
    for (uint32_t i : piece.origin) mapped.outcomes[i] = piece.outcomes[i];
    for (PendingDeadLetter& d : piece.dead) mapped.dead.push_back(std::move(d));
    mapped.present_event_times.insert(mapped.present_event_times.end(), piece.present_event_times.begin(),
                                      piece.present_event_times.end());
    const std::vector<uint64_t> done = HashesOf(mapped.batch, indexes);
    ck.settled_keys.insert(ck.settled_keys.end(), done.begin(), done.end());
    // The rest of the batch stays in flight: an attempt before the breaker
    // may have handed it to the sink, so its records still go flagged.
    ck.suspect_keys.clear();
    ck.suspect_deaths = 0;
    ck.updated = absl::Now();
    RECOVERY_RETURN_IF_ERROR(save());
  }
  // What is left goes the ordinary way; should it kill the process, it is
  // the next suspect.
  MappedPage left;
  TakeRecords(mapped, rest, &left);
  mapped.batch = std::move(left.batch);
  mapped.origin = std::move(left.origin);
  return absl::OkStatus();
}

}  // namespace recovery
