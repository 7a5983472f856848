// The commit protocol: how one mapped page becomes durable, in an order that
// loses nothing at any crash (docs/architecture.md, "The commit protocol").
#ifndef RECOVERY_ENGINE_COMMIT_H_
#define RECOVERY_ENGINE_COMMIT_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/page_mapper.h"
#include "recovery/source.h"

namespace recovery {

// How every page of a run moves its shard on, decided once when the run is
// set up (NewPageCommitter): a dry run only counts; a run delivers and writes
// new dead letters; a replay delivers and marks each letter it took. Whether
// commits are grouped is fixed with it. Nothing below RunShard asks about the
// run's mode again. Thread-safe: every shard of the run shares one.
class PageCommitter {
 public:
  virtual ~PageCommitter() = default;

  // Moves `run` past `page`. A writing committer marks the batch in flight in
  // the checkpoint, delivers it to the sink (flagged `maybe_redelivered` when
  // `redeliver`), writes the dead letters (or a replay's marks), and saves
  // the checkpoint past the page. `counters` holds the page's retries so far;
  // on success it holds all of the page's counters, as added to the
  // checkpoint. On error the checkpoint has not moved past the page.
  virtual absl::Status Commit(ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver,
                              ShardCounters* counters) = 0;

  // Tells the source what became of each record of a committed page (a queue
  // deletes its messages here), with retries. A dry run tells it nothing.
  virtual absl::Status Confirm(ShardRun& run, ShardReader& reader, const Page& page, const MappedPage& mapped,
                               ShardCounters* counters) = 0;

  // The records a committed page adds to the run's progress: delivered, or,
  // in a dry run, mapped.
  virtual uint64_t ProgressRecords(const ShardCounters& counters) const = 0;
  // What the page's log line says.
  virtual std::string_view PageMessage() const = 0;
  // Saves the checkpoint of a shard that failed (a dry run saves nothing).
  virtual void SaveFailed(ShardRun& run) = 0;

  // A commit's save may trail. With a sink that cannot roll back, every
  // batch is marked in flight before the sink gets it, and that mark, saved
  // durably, holds everything the commit of the page before it would: so
  // Commit() may leave the save of a page's commit to the shard's next mark
  // (ShardRun::trailing_commit), and a page waits for one durable save of
  // its own instead of two. A crash before the mark is saved redelivers the
  // committed page flagged, as a crash just before its commit's save always
  // did: never more than one page a shard. A commit does not trail when it
  // finishes the shard, when it shares a lock with other shards' commits,
  // when its batch was delivered in pieces (crash_isolation.h), or when the
  // source's Commit() needs it saved (Source::commit_needs_saved_checkpoint).
  //
  // Saves `run`'s trailing commit, if any, with retries: before the shard
  // lets go of its run, and before it waits (a failed fetch, a poll in
  // follow mode), so that what `recovery status` and a crash see is never
  // more than a page behind for long.
  virtual absl::Status SaveTrailing(ShardRun& run, ShardCounters* counters) = 0;
};

// The committer for `engine`'s run, from its options and components.
std::unique_ptr<PageCommitter> NewPageCommitter(Engine& engine);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_COMMIT_H_
