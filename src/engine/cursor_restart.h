// Restarting a shard whose cursor the source refused as expired
// (Source::cursors_may_expire, CursorExpiredError): the shard reads again
// from its beginning and delivers only what it had not delivered before.
//
// What it delivered before is known from the shard's delivered-keys log
// (CheckpointStore::delivered_keys): every batch the sink acknowledged
// appends its key hashes there, durably, before the checkpoint that counts
// them (Checkpoint::delivered_keys) is saved. A record fetched again after a
// restart whose hash the log holds counts as already present and is not
// delivered again; one of the batch that was in flight when the shard
// restarted (Checkpoint::in_flight_keys: the sink may or may not hold it) is
// delivered flagged maybe_redelivered. Without the log the job must skip
// what the sink already holds (skip_already_present), which does the same.
#ifndef RECOVERY_ENGINE_CURSOR_RESTART_H_
#define RECOVERY_ENGINE_CURSOR_RESTART_H_

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/page_mapper.h"

namespace recovery {

// Loads what `run`'s shard delivered (its delivered-keys log) for
// SkipDeliveredBefore. A shard that ever restarted does this at the start of
// every later run too: until it has paged past where it was, a resumed run
// reads pages it delivered before the restart.
absl::Status LoadDelivered(Engine& engine, ShardRun& run);

// Prepares `run` to read its shard again from the beginning after `why` (a
// CursorExpiredError): counts and logs the restart and loads what the shard
// delivered. FailedPrecondition when restarts keep coming without anything
// new delivered between them (the cursors expire before the shard gets past
// what it had): restarting again would loop.
absl::Status PrepareRestart(Engine& engine, ShardRun& run, const absl::Status& why);

// After a restart: takes the records `run` delivered before out of
// `mapped.batch` (as already present) and flags those that may be in the
// sink from the batch in flight at the restart.
void SkipDeliveredBefore(const ShardRun& run, MappedPage& mapped);

// Adds the key hashes of `batch` to the checkpoint's in-flight keys; true
// when any was new (the in-flight mark must then be saved again).
bool AddInFlightKeys(const RecordBatch& batch, Checkpoint& checkpoint);

// Appends the key hashes of `batch`, which the sink acknowledged, to the
// shard's delivered-keys log, and counts them in the checkpoint.
absl::Status RecordDelivered(Engine& engine, ShardRun& run, const RecordBatch& batch,
                             ShardCounters* counters);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_CURSOR_RESTART_H_
