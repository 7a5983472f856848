// The page loop of one shard: open the source at the checkpoint, then fetch,
// map and commit page after page until the source proves the shard exhausted,
// the job stops, or the shard fails.
#ifndef RECOVERY_ENGINE_SHARD_RUNNER_H_
#define RECOVERY_ENGINE_SHARD_RUNNER_H_

#include "engine/engine.h"

namespace recovery {

// Runs `run` to its end; how it ended is in run.checkpoint.state and run.error.
void RunShard(Engine& engine, ShardRun& run);

// With a store that leases shards: claims the shard and reloads its
// checkpoint, which another worker may have moved since the run started.
// False when the shard is not to run (leased elsewhere, done meanwhile, or
// the claim failed: see run.error).
bool ClaimShard(Engine& engine, ShardRun& run);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_SHARD_RUNNER_H_
