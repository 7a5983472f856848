// Restarting a shard whose cursor the source refused as expired
// (Source::cursors_may_expire, CursorExpiredError): the shard reads again
// from its beginning and delivers only what it had not delivered before.
//
// When the source's records come sorted by time (PagingFacts::sorted), the
// shard reads again from where they had got to instead: the checkpoint keeps
// the sort time of the last record committed (Checkpoint::sorted_through),
// the reader is opened on the shard's window from that time on
// (Checkpoint::read_from, kept for later runs), records sorted before it are
// skipped, and so are those at it that were committed (by the delivered-keys
// log, or, for a store without one, Checkpoint::sorted_keys). A page that
// comes out of order turns this off for the shard (Checkpoint::unsorted).
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
// SkipDeliveredBefore.
absl::Status LoadDelivered(Engine& engine, ShardRun& run);

// At the start of a run of a shard that ever restarted: until it has paged
// past where it was, it may read again what it had before the restart, so
// it skips as the restart did.
absl::Status ResumeRestarted(Engine& engine, ShardRun& run);

// The window `run`'s reader reads: the shard's, from Checkpoint::read_from on.
Shard ReaderShard(const ShardRun& run);
// A page's progress through the reader's window, as progress through the shard's.
double ShardProgress(const ShardRun& run, double reader_progress);

// With Engine::sorted_restarts: notes in `mapped` the sort time of the last
// record of `page` (as it will commit, after any cut) and, when
// `keep_keys`, the key hashes of its records at that time; and whether the
// page came out of order, against itself or the pages the reader returned
// before it (ShardRun::last_sort_time).
void NoteSortedEnd(const PagingClaims& claims, bool keep_keys, const Page& page, ShardRun& run,
                   MappedPage& mapped);
// Moves the checkpoint's sort position by a committed page's (NoteSortedEnd).
void MoveSortedThrough(const MappedPage& mapped, Checkpoint& checkpoint);

// Prepares `run` to read its shard again after `why` (a CursorExpiredError),
// from the beginning or from where its sorted records had got to: counts and
// logs the restart and loads what the shard delivered. FailedPrecondition,
// with the checkpoint unchanged, when restarts keep coming without anything
// new delivered between them (the cursors expire before the shard gets past
// what it had: restarting again would loop), or when a restart could not be
// exact (sorted records that came out of order, and nothing else to skip by).
absl::Status PrepareRestart(Engine& engine, ShardRun& run, const absl::Status& why);

// After a restart: takes the records `run` delivered before out of
// `mapped.batch` (as already present), with `sorted` (Engine::sorted_restarts)
// those of `page` sorted before where the restart read from, and flags those
// that may be in the sink from the batch in flight at the restart.
void SkipDeliveredBefore(const PagingClaims* sorted, const ShardRun& run, const Page& page,
                         MappedPage& mapped);

// Adds the key hashes of `batch` to the checkpoint's in-flight keys; true
// when any was new (the in-flight mark must then be saved again).
bool AddInFlightKeys(const RecordBatch& batch, Checkpoint& checkpoint);

// Appends the key hashes of `batch`, which the sink acknowledged, to the
// shard's delivered-keys log, and counts them in the checkpoint.
absl::Status RecordDelivered(Engine& engine, ShardRun& run, const RecordBatch& batch,
                             ShardCounters* counters);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_CURSOR_RESTART_H_
