// The seam with a live feed (skip_already_present): before a batch goes to
// the sink, the sink says which of its records the destination already holds,
// and only the rest is delivered.
#ifndef RECOVERY_ENGINE_PRESENCE_H_
#define RECOVERY_ENGINE_PRESENCE_H_

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/page_mapper.h"

namespace recovery {

// Asks the sink about `mapped.batch` (retried as a sink write is) and takes
// the records it holds out of the batch. Each becomes kAlreadyPresent, unless
// its key is among the checkpoint's in_flight_keys: then an attempt of this
// very page that crashed before its checkpoint put it there, and it counts as
// delivered. Records the sink lacks stay in the batch, and their key hashes
// join in_flight_keys (returns whether that set grew, so the caller saves the
// in-flight mark again before writing).
absl::StatusOr<bool> SkipPresent(Engine& engine, ShardRun& run, MappedPage& mapped, ShardCounters* counters);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_PRESENCE_H_
