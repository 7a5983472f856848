// The crash-loop breaker (JobSpec::isolate_after_crashes): a record that kills
// the process whenever the sink takes it (a handler that crashes, an
// out-of-memory kill) must not stop a recovery forever, nor take its
// neighbours down with it.
//
// Every batch is marked in flight in the checkpoint before the sink gets it,
// so a run that finds a shard still marked (and running) knows that the last
// run died with that batch in the sink, and counts it (Checkpoint::crashes).
// Once the count reaches the limit, the page's batch is delivered in pieces,
// each alone in the process (the engine's isolation lock, which every other
// delivery holds shared): the suspects (the piece in the sink at the last
// death; at first the whole batch) in halves, each half marked as the suspects
// before it is written and recorded as settled once the sink took it. Every
// further death halves the suspects again, so the record that kills the
// process is alone after about log2(batch) more; once it died alone it goes
// to the dead letters with the reason "crashed the process N times". Only a
// piece is ever alone in the process, so a record that merely shared the
// process with another shard's culprit is never taken for one. Records
// settled by a piece are not written again when the page is fetched anew.
#ifndef RECOVERY_ENGINE_CRASH_ISOLATION_H_
#define RECOVERY_ENGINE_CRASH_ISOLATION_H_

#include <functional>

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/page_mapper.h"
#include "engine/sink_marks.h"
#include "recovery/source.h"

namespace recovery {

// At the start of a shard's run: counts a death if the last run left a batch
// in flight, unless `marks` (may be null) show it died outside the sink's
// Write. True when it counted one (the count must then be saved again before
// the next write).
bool CountDeath(ShardRun& run, const SinkMarks* marks);

// Whether `run`'s next batch is to be delivered in pieces.
bool Isolating(const Engine& engine, const ShardRun& run);

// Delivers the suspects of `mapped.batch` in pieces, as the header says, and
// leaves in `mapped.batch` the records still to deliver the ordinary way;
// records settled by earlier pieces count as delivered. `deliver` writes one
// piece to the sink (its batch, origins and outcomes as in a MappedPage) and
// applies the sink's answer; `save` makes the checkpoint durable. Call with the
// engine's isolation lock held exclusively.
absl::Status DeliverInPieces(const Engine& engine, ShardRun& run, const Page& page, MappedPage& mapped,
                             const std::function<absl::Status(MappedPage&)>& deliver,
                             const std::function<absl::Status()>& save);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_CRASH_ISOLATION_H_
