#include "engine/cursor_restart.h"

#include <vector>

#include "json/json_writer.h"
#include "util/status_macros.h"
#include "util/strings.h"

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
  engine.metrics().CursorRestart();
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Str("cursor", expired_cursor)
      .Uint("cursor_restarts", ck.cursor_restarts)
      .Uint("delivered_keys", run.delivered_before.size())
      .Str("error", ToStd(why.message()))
      .Close();
  engine.Log(LogLevel::kWarning,
             StrCat("shard ", run.shard.id,
                    ": the source refused its cursor as expired; reading the shard again from its beginning, "
                    "skipping the ",
                    engine.keeps_delivered_keys()
                        ? StrCat(run.delivered_before.size(), " records it delivered before")
                        : std::string("records the sink already holds")),
             fields);
  return absl::OkStatus();
}

void SkipDeliveredBefore(const ShardRun& run, MappedPage& mapped) {
  if (run.delivered_before.empty() && run.maybe_in_sink.empty()) return;
  const absl::Span<const Record> records = mapped.batch.records();
  RecordBatch kept;
  std::vector<uint32_t> origin;
  origin.reserve(records.size());
  for (size_t j = 0; j < records.size(); ++j) {
    const Record& r = records[j];
    const uint64_t hash = StableKeyHash(r.key);
    if (run.delivered_before.contains(hash)) {
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
