// Sinks receive batches of mapped records and acknowledge them durably.
#ifndef RECOVERY_SINK_H_
#define RECOVERY_SINK_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/export.h"
#include "recovery/record.h"
#include "recovery/shard.h"
#include "recovery/sink_abilities.h"

namespace recovery {

struct SinkOpenContext {
  // True when the job has run before (some shard has a checkpoint). A sink
  // must then roll back to what `committed_tokens` says was acknowledged.
  bool resuming = false;
  // The commit token stored in each shard checkpoint that has one.
  std::vector<std::string> committed_tokens;
};

// A shard's lease as it stands when a batch is written (with a checkpoint
// store that leases shards; see ShardLeasing::ClaimShard).
struct WriteFence {
  std::string_view job;
  std::string_view shard_id;
  int64_t fencing_token = 0;
};

// One batch for Sink::Write, and where it comes from. The views stay valid
// for the call only.
struct WriteRequest {
  const Shard& shard;
  const RecordBatch& batch;
  // Set when the shard is leased (ShardLeasing::ClaimShard). A sink whose
  // traits say `fences_writes` refuses the whole batch, writing nothing, with
  // an IsLeaseLost() status once the token is no longer the newest; any other
  // sink ignores it (the engine checks the lease before each write instead).
  const WriteFence* fence = nullptr;
  // Provenance, for a sink that keeps it with each row: the job's name and
  // this run of it (a resumed job is a new run).
  std::string_view job;
  std::string_view run_id;
};

// What became of the records of one Write(): every record not named here was
// delivered (durably acknowledged).
struct WriteResult {
  // Empty on entry. The sink's state after this batch (empty when it has
  // none), stored in the shard's checkpoint with the cursor.
  std::string commit_token;
  // Records the destination will never accept: they go to dead letters.
  std::vector<SinkRejection> rejected;
  // Indexes of records the destination already held (an endpoint that answers
  // "conflict" for a key it has): counted as already present, not delivered.
  std::vector<size_t> already_present;
};

// How a sink commits. Read once, when a run starts; must not change while
// the sink lives.
struct SinkTraits {
  // Commit tokens describe the whole sink (one shared file) rather than one
  // shard, so the engine serializes Write() and the checkpoint save that
  // follows it across all shards.
  bool serialize_commits = false;
  // Group commit, for a sink that serializes commits: Write() may return
  // before its records are durable, and Sync() makes everything written so
  // far durable. The engine lets the writes of several shards share one
  // Sync() before it saves their checkpoints together, atomically
  // (CheckpointStore::saves_atomically), so a token never outlives the bytes
  // it vouches for.
  bool defers_sync = false;
  // Open() in a resumed job removes everything written after the commit
  // tokens the checkpoints hold, so a batch written but never checkpointed
  // does not survive a crash and is never delivered twice. The engine then
  // skips the in-flight mark it otherwise saves before each batch.
  bool rolls_back_uncommitted = false;
  // Write() honours WriteRequest::fence (see there).
  bool fences_writes = false;
};

// Where mapped records go. Write() may be called concurrently for different
// shards unless traits().serialize_commits. Optional abilities are reached
// through accessors that return null when the sink lacks them; the engine
// asks once, when the job is created, and refuses a job that needs one the
// sink lacks. A sink that wraps another derives from SinkWrapper, which
// forwards every method.
class RECOVERY_EXPORT Sink {
 public:
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  virtual ~Sink() = default;

  // Called once before the first Write().
  virtual absl::Status Open(const SinkOpenContext& context) { return absl::OkStatus(); }

  // Delivers `request.batch`. OK means every record is durably acknowledged,
  // except those `result` names (it is empty on entry). On error the sink
  // should undo what it wrote, if it can; a retried batch carries
  // maybe_redelivered.
  virtual absl::Status Write(const WriteRequest& request, WriteResult* result) = 0;

  // Makes everything written so far durable; called only when
  // traits().defers_sync, possibly concurrently with Write().
  virtual absl::Status Sync() { return absl::OkStatus(); }

  // Called once after the last Write().
  virtual absl::Status Close() { return absl::OkStatus(); }

  virtual SinkTraits traits() const { return SinkTraits(); }

  // The presence check, or null when the sink cannot tell which records the
  // destination holds. Owned by the sink; lives as long as it.
  virtual PresenceCheck* presence() { return nullptr; }

  // The count per time bucket for reconcile, or null when the sink cannot
  // count. Owned by the sink; lives as long as it.
  virtual DestinationCounter* counter() { return nullptr; }

  // The shape check for `recovery probe`, or null when the sink cannot tell
  // without writing whether the destination would take a record. Owned by
  // the sink; lives as long as it.
  virtual ShapeCheck* shape_check() { return nullptr; }
};

// Forwards every method to another sink, as a base for sinks that change
// one or two things about it (count writes, die at a moment, lend a sink
// kept across runs). A wrapper that overrides one method leaves the rest as
// they are, so no ability is silently lost.
class RECOVERY_EXPORT SinkWrapper : public Sink {
 public:
  // Borrows `target`, which must outlive the wrapper.
  explicit SinkWrapper(Sink* target) : target_(target) {}
  // Owns `target`.
  explicit SinkWrapper(std::unique_ptr<Sink> target) : owned_(std::move(target)), target_(owned_.get()) {}

  Sink* target() const { return target_; }

  absl::Status Open(const SinkOpenContext& context) override { return target_->Open(context); }
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    return target_->Write(request, result);
  }
  absl::Status Sync() override { return target_->Sync(); }
  absl::Status Close() override { return target_->Close(); }
  SinkTraits traits() const override { return target_->traits(); }
  PresenceCheck* presence() override { return target_->presence(); }
  DestinationCounter* counter() override { return target_->counter(); }
  ShapeCheck* shape_check() override { return target_->shape_check(); }

 private:
  std::unique_ptr<Sink> owned_;
  Sink* target_;
};

enum class JsonlFormat {
  kPayload,   // one mapped payload per line
  kEnvelope,  // {"key":…,"event_time":…,"maybe_redelivered":…,"data":payload} (and provenance)
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
  // Envelope format: each line also says where it came from, so recovered
  // lines can be told from a live feed's: "job", "run_id" (this run: a
  // resumed job is a new run), "shard" and "recovered_at" (when written).
  bool provenance = false;
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

// Where a batch handed to a callback comes from, so that the destination can
// tell recovered rows from the live feed's: the job, this run of it (a
// resumed job is a new run) and when the batch was handed over. The shard is
// the callback's first argument.
struct Provenance {
  std::string_view job;
  std::string_view run_id;
  absl::Time recovered_at;
};
using ProvenanceSinkCallback =
    std::function<absl::Status(const Shard&, absl::Span<const Record>, const Provenance&)>;
// NewCallbackSink, with each batch's provenance.
RECOVERY_EXPORT std::unique_ptr<Sink> NewCallbackSinkWithProvenance(ProvenanceSinkCallback callback,
                                                                    bool serialize = true,
                                                                    PresenceCallback presence = nullptr);

// Acknowledges and discards everything.
RECOVERY_EXPORT std::unique_ptr<Sink> NewNullSink();

}  // namespace recovery

#endif  // RECOVERY_SINK_H_
