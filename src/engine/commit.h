// The commit protocol: how one mapped page becomes durable, in an order that
// loses nothing at any crash (docs/architecture.md, "The commit protocol").
#ifndef RECOVERY_ENGINE_COMMIT_H_
#define RECOVERY_ENGINE_COMMIT_H_

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/page_mapper.h"
#include "recovery/source.h"

namespace recovery {

// Marks the batch in flight in the checkpoint, delivers it to the sink
// (flagged `maybe_redelivered` when `redeliver`), writes the dead letters,
// and saves the checkpoint past the page. `counters` holds the page's retries
// so far; on success it holds all of the page's counters, as added to the
// checkpoint. On error the checkpoint has not moved past the page.
absl::Status CommitPage(Engine& engine, ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver,
                        ShardCounters* counters);

// The dry run's commit: the checkpoint moves in memory only.
void AdvanceDryRun(ShardRun& run, const Page& page, const MappedPage& mapped, ShardCounters* counters);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_COMMIT_H_
