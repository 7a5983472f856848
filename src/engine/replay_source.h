// The source of a replay (recovery replay): the job's dead letters, read
// back in the store's order, so the engine can deliver them again with the
// job's current mapping under the same checkpoints and commit protocol as a
// run. The cursor is the id of the last letter taken.
#ifndef RECOVERY_ENGINE_REPLAY_SOURCE_H_
#define RECOVERY_ENGINE_REPLAY_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "recovery/backfiller.h"
#include "recovery/dead_letter_store.h"
#include "recovery/source.h"

namespace recovery {

// The replay shard of a job: "replay-<n>", over the plan's whole window.
Shard ReplayShard(const std::vector<Shard>& plan, int n);

// Reads `letters` (borrowed; must outlive the source) for `job`, keeping those
// that match `options`. Each raw record's id is its letter's id.
std::unique_ptr<Source> NewReplaySource(LetterReadback* letters, std::string job, ReplayOptions options);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_REPLAY_SOURCE_H_
