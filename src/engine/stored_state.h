// Reading and forgetting a job's checkpoints: shared by JobState and the
// Backfiller.
#ifndef RECOVERY_ENGINE_STORED_STATE_H_
#define RECOVERY_ENGINE_STORED_STATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recovery/checkpoint_store.h"
#include "recovery/job_state.h"

namespace recovery {

absl::StatusOr<std::vector<ShardReport>> LoadShardReports(CheckpointStore& store, std::string_view job,
                                                          const std::vector<Shard>& plan);

// The replay shards (recovery replay) with a checkpoint, in order:
// "replay-1", "replay-2", … up to the first that has none.
struct StoredShard {
  Shard shard;
  Checkpoint checkpoint;
};
absl::StatusOr<std::vector<StoredShard>> LoadReplayShards(CheckpointStore& store, std::string_view job,
                                                          const std::vector<Shard>& plan);

std::vector<std::string> ShardIds(const std::vector<Shard>& plan);

// Forgets the checkpoints of every shard of `plan` and every replay shard, or
// of `shard_id` only (one of those).
absl::Status ResetShards(CheckpointStore& store, std::string_view job, const std::vector<Shard>& plan,
                         const std::optional<std::string>& shard_id);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_STORED_STATE_H_
