// Durable per-shard progress.
#ifndef RECOVERY_CHECKPOINT_STORE_H_
#define RECOVERY_CHECKPOINT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

// Cumulative counters of one shard across every run.
struct ShardCounters {
  uint64_t records_fetched = 0;        // raw records read from the source
  uint64_t records_delivered = 0;      // acknowledged by the sink
  uint64_t records_dropped = 0;        // dropped by the mapper
  uint64_t records_out_of_window = 0;  // event time outside the shard
  uint64_t dead_letters = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  uint64_t retries = 0;

  ShardCounters& operator+=(const ShardCounters& other);
};

enum class ShardState { kPending, kRunning, kDone, kFailed };

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
  // The source's last word on how many records the shard holds, or -1.
  int64_t reported_total = -1;
};

// Coverage buckets are this wide.
inline constexpr int64_t kCoverageBucketSeconds = 3600;

// Held while a job runs so two processes cannot run the same job at once.
class RECOVERY_EXPORT JobLock {
 public:
  virtual ~JobLock() = default;
};

// Thread-safe: shards save concurrently.
class RECOVERY_EXPORT CheckpointStore {
 public:
  CheckpointStore() = default;
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;
  virtual ~CheckpointStore() = default;

  // nullopt when the shard has no checkpoint; DataLoss when it is unreadable.
  virtual absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) = 0;
  // Replaces the shard's checkpoint atomically: after a crash Load() returns
  // either the old or the new one, never a mix.
  virtual absl::Status Save(std::string_view job, std::string_view shard_id,
                            const Checkpoint& checkpoint) = 0;
  // Removes the shard's checkpoint; OK when there is none.
  virtual absl::Status Delete(std::string_view job, std::string_view shard_id) = 0;
  // Takes an exclusive lock on `job` (with `scope` empty) or on one slice of
  // it (`scope` names the slice, e.g. "slice-2-of-4"), held until the returned
  // object is destroyed. FailedPrecondition when another holder has it.
  virtual absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) = 0;
};

// One file per shard under `directory`/<job>/, written atomically (temp file,
// fsync, rename, fsync of the directory), versioned and checksummed; the job
// lock is an flock() on `directory`/<job>/LOCK.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(
    std::string directory);

// Volatile; for tests and dry runs.
RECOVERY_EXPORT std::unique_ptr<CheckpointStore> NewMemoryCheckpointStore();

RECOVERY_EXPORT std::string_view ShardStateName(ShardState state);

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_STORE_H_
