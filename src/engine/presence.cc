#include "engine/presence.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "json/json_writer.h"
#include "util/strings.h"

namespace recovery {

absl::StatusOr<bool> SkipPresent(Engine& engine, ShardRun& run, MappedPage& mapped, ShardCounters* counters) {
  PresenceCheck& presence = *engine.presence();  // the job was refused at Create without one
  const absl::Span<const Record> records = mapped.batch.records();
  PresenceAnswer answer;
  absl::Status st = engine.Retry("check presence in the sink", run, counters, [&] {
    answer = PresenceAnswer();
    answer.present.assign(records.size(), false);  // as the interface promises
    return presence.Check(run.shard, records, &answer);
  });
  if (!st.ok()) return absl::Status(st.code(), StrCat("check presence in the sink: ", st.message()));
  if (answer.present.size() != records.size()) {
    answer.present.resize(records.size(), false);  // unanswered: not known to be there, so delivered
  }
  if (!answer.unasked.empty()) engine.WarnUnaskedKeys(run, answer.unasked.size(), answer.unasked.front());

  Checkpoint& ck = run.checkpoint;
  const absl::flat_hash_set<uint64_t> ours(ck.in_flight_keys.begin(), ck.in_flight_keys.end());
  const size_t had = ck.in_flight_keys.size();
  RecordBatch kept;
  std::vector<uint32_t> origin;
  origin.reserve(records.size());
  for (size_t j = 0; j < records.size(); ++j) {
    const Record& r = records[j];
    const uint64_t hash = StableKeyHash(r.key);
    if (answer.present[j]) {
      mapped.outcomes[mapped.origin[j]] =
          ours.contains(hash) ? RecordOutcome::kDelivered : RecordOutcome::kAlreadyPresent;
      mapped.present_event_times.push_back(r.event_time);
      continue;
    }
    kept.Add(r.key, r.event_time, r.payload, r.maybe_redelivered);
    origin.push_back(mapped.origin[j]);
    if (!ours.contains(hash)) ck.in_flight_keys.push_back(hash);
  }
  mapped.batch = std::move(kept);
  mapped.origin = std::move(origin);
  return ck.in_flight_keys.size() != had;
}

}  // namespace recovery
