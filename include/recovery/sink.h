// Sinks receive batches of mapped records and acknowledge them durably.
#ifndef RECOVERY_SINK_H_
#define RECOVERY_SINK_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/export.h"
#include "recovery/record.h"
#include "recovery/shard.h"

namespace recovery {

struct SinkOpenContext {
  // True when the job has run before (some shard has a checkpoint). A sink
  // must then roll back to what `committed_tokens` says was acknowledged.
  bool resuming = false;
  // The commit token stored in each shard checkpoint that has one.
  std::vector<std::string> committed_tokens;
};

// A record the destination will never accept (over its size limit, against a
// constraint). It goes to dead letters with `reason`; the rest of its batch
// counts as delivered.
struct SinkRejection {
  size_t index = 0;  // into the batch
  std::string reason;
};

// A sink's answer to "which of these records do you already hold?".
struct PresenceAnswer {
  std::vector<bool> present;  // one per record asked about; all false on entry
  // Keys the destination named that were not asked about: ignored (the
  // engine logs the first once per job).
  std::vector<std::string> unasked;
};

// Write() may be called concurrently for different shards unless
// serialize_commits() is true, in which case the engine serializes Write() and
// the checkpoint save that follows it across all shards.
// A shard's lease as it stands when a batch is written (with a checkpoint
// store that leases shards; see CheckpointStore::ClaimShard).
struct WriteFence {
  std::string_view job;
  std::string_view shard_id;
  int64_t fencing_token = 0;
};

class RECOVERY_EXPORT Sink {
 public:
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  virtual ~Sink() = default;

  // Called once before the first Write().
  virtual absl::Status Open(const SinkOpenContext& context) { return absl::OkStatus(); }

  // Delivers `batch`. OK means every record is durably acknowledged, except
  // those the sink appended to `rejected` (empty on entry). Returns a commit
  // token describing the sink's state after this batch (empty when the sink
  // has none), stored in the shard's checkpoint with the cursor. On error the
  // sink should undo what it wrote, if it can; a retried batch carries
  // maybe_redelivered.
  virtual absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                            std::vector<SinkRejection>* rejected) = 0;

  // Called once after the last Write().
  // Write() by a worker holding the shard's lease. A sink that can make the
  // write conditional on the lease (the PostgreSQL sink when the checkpoints
  // are in its database) refuses the whole batch, writing nothing, with an
  // IsLeaseLost() status once `fence` is no longer the newest token. The
  // default writes as Write() does.
  virtual absl::StatusOr<std::string> WriteFenced(const Shard& shard, const RecordBatch& batch,
                                                  std::vector<SinkRejection>* rejected,
                                                  const WriteFence& fence) {
    return Write(shard, batch, rejected);
  }
  virtual absl::Status Close() { return absl::OkStatus(); }

  // True when commit tokens describe the whole sink rather than one shard
  // (one shared file), so commits must not interleave.
  virtual bool serialize_commits() const { return false; }

  // Optional group commit, for a sink that serialize_commits(): when true,
  // Write() may return before its records are durable, and Sync() makes
  // everything written so far durable. The engine then lets the writes of
  // several shards share one Sync() before it saves their checkpoints
  // together, atomically (CheckpointStore::saves_atomically), so a token
  // never outlives the bytes it vouches for. Sync() may run concurrently
  // with Write().
  virtual bool defers_sync() const { return false; }
  virtual absl::Status Sync() { return absl::OkStatus(); }

  // True when Open() in a resumed job removes everything written after the
  // commit tokens the checkpoints hold, so a batch written but never
  // checkpointed does not survive a crash and is never delivered twice. The
  // engine then skips the in-flight mark it otherwise saves before each
  // batch (one checkpoint save per page).
  virtual bool rolls_back_uncommitted() const { return false; }
  // (A sink that wraps another forwards serialize_commits(), defers_sync(),
  // Sync() and rolls_back_uncommitted() to it: the engine commits by the
  // wrapper's answers, the inner sink writes by its own. A wrapper that
  // overrides Write() overrides WriteFenced() too, or leaves both to the
  // default, which calls Write().)

  // Optional, for reconcile (include/recovery/reconcile.h): how many records
  // the destination holds per time bucket, by the event time it keeps with
  // each: `buckets` consecutive buckets of `width` from `start`. Reads only;
  // called without Open(), and must leave the destination as it is.
  virtual bool counts_by_event_time() const { return false; }
  virtual absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                                 size_t buckets) {
    return absl::UnimplementedError("this sink cannot count its records by event time");
  }

  // Optional: the presence check behind the job's skip_already_present. A
  // sink that can tell which records the destination already holds (by the
  // same identity it deduplicates on) returns true here and answers
  // CheckPresence for one page at a time, ideally in one round trip. Called
  // after Open(), possibly concurrently for different shards. An error is
  // retried like a failed Write() when transient (Unavailable, …) and stops
  // the shard, its checkpoint intact, when not.
  virtual bool checks_presence() const { return false; }
  virtual absl::Status CheckPresence(const Shard& shard, absl::Span<const Record> records,
                                     PresenceAnswer* answer) {
    return absl::UnimplementedError("this sink cannot tell which records it already holds");
  }
  // Instead of Open(), for reconcile --keys: prepares CheckPresence while
  // writing nothing and leaving the destination as it is (the PostgreSQL sink
  // reads its table's columns). No Write() follows. Default: nothing to do.
  virtual absl::Status OpenForReading() { return absl::OkStatus(); }
};

enum class JsonlFormat {
  kPayload,   // one mapped payload per line
  kEnvelope,  // {"key":…,"event_time":…,"maybe_redelivered":…,"data":payload}
};

struct JsonlFileSinkOptions {
  std::string path;  // required
  JsonlFormat format = JsonlFormat::kPayload;
  // A fresh job refuses to append to a non-empty file unless this is set, in
  // which case the file is truncated.
  bool overwrite = false;
  bool fsync = true;  // fdatasync before acknowledging; off only for tests
  // A fresh job keeps what the file already holds and appends after it (the
  // destination a live feed wrote), instead of refusing or truncating. The
  // job must be the file's only writer while it runs.
  bool append = false;
  // The presence check is offered (envelope format) and holds at most this
  // many keys in memory.
  int64_t max_indexed_keys = 20'000'000;  // at most about 720 MB
};

// Exactly-once JSON-lines file: the commit token is the file's committed
// length; on resume the file is truncated to the largest committed length,
// removing any batch that was written but not checkpointed.
//
// The presence check (envelope format only: payload lines do not carry the
// key) answers from an index of the keys of the file's committed lines, read
// on the first check and kept up to date by Write(): 128-bit hashes of the
// keys, 24 to 36 bytes each in memory (a hash table's load varies with its
// size); a file of more than `max_indexed_keys` lines is refused
// (ResourceExhausted) rather than exhausting memory.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewJsonlFileSink(JsonlFileSinkOptions options);

using SinkCallback = std::function<absl::Status(const Shard&, absl::Span<const Record>)>;
// Returns the keys among `records` that the destination already holds; any
// other key it returns is ignored.
using PresenceCallback =
    std::function<absl::StatusOr<std::vector<std::string>>(const Shard&, absl::Span<const Record>)>;

// Calls `callback` for each batch; returning OK acknowledges it. When
// `serialize` is true (the default) calls never overlap, so the callback need
// not be thread-safe. With `presence` the sink offers the presence check
// (same serialization).
RECOVERY_EXPORT std::unique_ptr<Sink> NewCallbackSink(SinkCallback callback, bool serialize = true,
                                                      PresenceCallback presence = nullptr);

// Acknowledges and discards everything.
RECOVERY_EXPORT std::unique_ptr<Sink> NewNullSink();

}  // namespace recovery

#endif  // RECOVERY_SINK_H_
