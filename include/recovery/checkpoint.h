// What a shard's checkpoint records: where it stands, what it has counted,
// and what the sinks acknowledged. Stored by a CheckpointStore.
#ifndef RECOVERY_CHECKPOINT_H_
#define RECOVERY_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

// Cumulative counters of one shard across every run.
struct ShardCounters {
  uint64_t records_fetched = 0;        // raw records read from the source
  uint64_t records_delivered = 0;      // acknowledged by the sink
  uint64_t records_dropped = 0;        // dropped by the mapper
  uint64_t records_out_of_window = 0;  // event time outside the shard
  // Of those, the ones inside the job's window: another shard's records (a
  // file export read whole by every shard, or an API ignoring its filter).
  uint64_t records_of_other_shards = 0;
  // The sink already held them (skip_already_present): not delivered again.
  uint64_t records_already_present = 0;
  uint64_t dead_letters = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  uint64_t retries = 0;

  ShardCounters& operator+=(const ShardCounters& other);
  ShardCounters& operator-=(const ShardCounters& other);
};

enum class ShardState { kPending, kRunning, kDone, kFailed };

// What became of a shard's records of one hour of event time, beside the
// delivered ones (Checkpoint::coverage): for the report's picture of the gap.
struct HourOutcomes {
  uint64_t already_present = 0;  // the sink held them (also in `coverage`: the destination has them)
  uint64_t dead_letters = 0;     // those whose event time could be read
  uint64_t out_of_window = 0;    // outside the job's whole window, by a day at most (not another shard's)

  HourOutcomes& operator+=(const HourOutcomes& other) {
    already_present += other.already_present;
    dead_letters += other.dead_letters;
    out_of_window += other.out_of_window;
    return *this;
  }
  bool operator==(const HourOutcomes& other) const = default;
};

struct Checkpoint {
  ShardState state = ShardState::kPending;
  // Where the next page starts; empty for the shard's beginning.
  std::string cursor;
  // A batch starting at `cursor` was being handed to the sink. Its records are
  // redelivered with maybe_redelivered set.
  bool in_flight = false;
  std::string sink_token;         // the sink's commit token after the last batch
  std::string dead_letter_token;  // the dead-letter store's, likewise
  double progress = 0;            // fraction of the shard covered, [0, 1]
  ShardCounters counters;
  std::string last_error;  // why the shard failed, if it did
  absl::Time updated = absl::UnixEpoch();
  // Records delivered per hour of event time: unix seconds of the hour's start
  // -> count (records without an event time are not counted). For coverage
  // reports (`recovery verify`).
  std::map<int64_t, uint64_t> coverage;
  // The other outcomes per hour of event time, keyed as `coverage`; hours
  // with none are absent. Kept since checkpoint format 8: a shard that ran
  // before has its earlier records in the counters only.
  std::map<int64_t, HourOutcomes> hour_outcomes;
  // The source's last word on how many records the shard holds, or -1.
  int64_t reported_total = -1;
  // With skip_already_present, while `in_flight`: hashes (StableKeyHash) of
  // the keys the in-flight batch was delivering because the sink lacked them.
  // After a crash the sink may hold them from that attempt; they then count
  // as delivered, not as already present.
  std::vector<uint64_t> in_flight_keys;
  // The last warning the source gave about this shard while it ran (an SQS
  // window older than what the queue keeps, say), kept for `recovery status`.
  std::string warning;
  // The crash-loop breaker (JobSpec::isolate_after_crashes): how many runs in
  // a row died while a batch of the page at `cursor` was in the sink, ...
  uint32_t crashes = 0;
  // ... which of its records were in the sink then (StableKeyHash; empty: the
  // whole batch), how many of those deaths came while exactly these suspects
  // were in the sink alone, and which records of the page pieces delivered
  // alone since. All clear when the page commits.
  std::vector<uint64_t> suspect_keys;
  uint32_t suspect_deaths = 0;
  std::vector<uint64_t> settled_keys;
  // A source whose cursors may expire (Source::cursors_may_expire): how many
  // times the shard restarted from its beginning because its cursor was
  // refused, and how many entries of its delivered-keys log
  // (CheckpointStore::delivered_keys) this checkpoint vouches for.
  uint32_t cursor_restarts = 0;
  uint64_t delivered_keys = 0;
  // ... whose records come sorted by time (PagingFacts::sorted): the sort
  // time of the last record the committed pages held, and the key hashes of
  // the records at that very time they held. A restart reads from that time
  // on and skips those keys, instead of reading the shard from its beginning.
  // `unsorted` once a page came out of order: restarts then go back to the
  // beginning. Kept since checkpoint format 9.
  absl::Time sorted_through = absl::InfinitePast();
  std::vector<uint64_t> sorted_keys;
  bool unsorted = false;
  // After such a restart: the time the shard's reader reads from (its
  // window's start, moved there), for every later run too; InfinitePast: the
  // shard's own start.
  absl::Time read_from = absl::InfinitePast();
  // A run stopped by max_records inside the page at `cursor`: how many of
  // that page's raw records it took (delivered, dead-lettered or counted),
  // and a hash of their bytes. The next run drops exactly those records
  // from the page when they come back the same.
  uint32_t page_taken = 0;
  uint64_t page_taken_hash = 0;
  // What operators changed by hand (`recovery state set`, `state skip`),
  // oldest first: one JSON object each, {"at", "by", "action" ("set" or
  // "skip"), "from" and "to" (the cursor and state before and after),
  // "reason"}.
  std::vector<std::string> edits;
  // Dead letters of this shard whose raw records a retention purge removed
  // (`recovery purge --dead-letters`): they can no longer be replayed.
  uint64_t dead_letters_purged = 0;
};

// The 64-bit hash of a record key stored in Checkpoint::in_flight_keys;
// the same in every process and build.
RECOVERY_EXPORT uint64_t StableKeyHash(std::string_view key);

// Coverage buckets are this wide.
inline constexpr int64_t kCoverageBucketSeconds = 3600;

RECOVERY_EXPORT std::string_view ShardStateName(ShardState state);

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_H_
