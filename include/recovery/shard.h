// Shards: the sub-windows a job's window is split into. Each shard is an
// independent unit of work with its own checkpoint.
#ifndef RECOVERY_SHARD_H_
#define RECOVERY_SHARD_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

struct Shard {
  // Stable across runs: derived from the shard's range, unique within its job
  // (checkpoints are keyed by job name and shard id). Safe as a file name.
  std::string id;
  int index = 0;     // position in the plan, from 0
  absl::Time start;  // inclusive
  absl::Time end;    // exclusive
};

// Splits [start, end) into consecutive shards of `shard_duration` (the last
// may be shorter). An infinite duration gives one shard. With `follow`, one
// more shard [end, InfiniteFuture) keeps polling for new records after the
// gap is closed (its id ends in "-open"); `end` may then equal `start`.
// InvalidArgument when the window is empty (without follow), the duration is
// not positive or the plan exceeds 1,000,000 shards.
RECOVERY_EXPORT absl::StatusOr<std::vector<Shard>> PlanShards(absl::Time start, absl::Time end,
                                                              absl::Duration shard_duration,
                                                              bool follow = false);

// True for the shard of a replay of the job's dead letters ("replay-<n>",
// see BackfillerOptions::replay). Such shards are not in the plan; their
// checkpoints sit beside the plan's.
RECOVERY_EXPORT bool IsReplayShardId(std::string_view id);

// True for the open-ended shard of a follow-mode plan.
inline bool IsOpenEnded(const Shard& shard) { return shard.end == absl::InfiniteFuture(); }

}  // namespace recovery

#endif  // RECOVERY_SHARD_H_
