// Durable per-shard progress: the store interface, job locks and shard
// leases. The checkpoint itself is in checkpoint.h; the PostgreSQL store in
// postgres.h.
#ifndef RECOVERY_CHECKPOINT_STORE_H_
#define RECOVERY_CHECKPOINT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/checkpoint.h"
#include "recovery/export.h"

namespace recovery {

// Held while it lives: a job's lock, so two processes cannot run the same
// job at once (CheckpointStore::Lock), or a lock that hosts share
// (HttpOAuth2::hosts_lock).
class RECOVERY_EXPORT JobLock {
 public:
  virtual ~JobLock() = default;
};

// One worker's claim on one shard of a store shared by several processes or
// hosts (ShardLeasing::ClaimShard). The store renews it in the background
// while it is held; destroying it releases the shard. Thread-safe.
//
// Every claim takes a fencing token larger than any before it for that shard,
// and every write through the lease is conditional on the token still being
// the newest: a worker that stalled past its lease (a pause, a partition) and
// was taken over can no longer write, however late it wakes up.
class RECOVERY_EXPORT ShardLease {
 public:
  ShardLease() = default;
  ShardLease(const ShardLease&) = delete;
  ShardLease& operator=(const ShardLease&) = delete;
  virtual ~ShardLease() = default;

  // Like CheckpointStore::Save, if this lease still holds the shard; a lost
  // lease writes nothing and returns LeaseLostError.
  virtual absl::Status Save(const Checkpoint& checkpoint) = 0;
  // OK while the lease is believed held; LeaseLostError once a renewal found
  // it taken over or it expired unrenewed. Cheap: no I/O.
  virtual absl::Status Check() const = 0;
  virtual int64_t fencing_token() const = 0;
};

// Who holds a shard of a job, as the store saw it.
struct LeaseInfo {
  std::string shard_id;
  std::string owner;  // e.g. "host:pid:nonce"
  absl::Time expires = absl::InfinitePast();
  int64_t fencing_token = 0;
  bool live = false;  // not expired, by the store's clock
};

// What a store shared by several processes or hosts offers
// (CheckpointStore::leasing()). Thread-safe.
class RECOVERY_EXPORT ShardLeasing {
 public:
  virtual ~ShardLeasing() = default;
  // Claims `shard_id` of `job` for this store's owner. FailedPrecondition
  // naming the holder and the expiry when another live lease holds it.
  virtual absl::StatusOr<std::unique_ptr<ShardLease>> ClaimShard(std::string_view job,
                                                                 std::string_view shard_id) = 0;
  // The leases recorded for `job`'s shards, live or expired.
  virtual absl::StatusOr<std::vector<LeaseInfo>> Leases(std::string_view job) = 0;
};

// What a store keeps for sources whose cursors may expire
// (Source::cursors_may_expire, CheckpointStore::delivered_keys()): a log per
// shard of the key hashes (StableKeyHash) of the records the shard handed to
// its sink, so that a shard restarted from its beginning skips them. Appended
// with each delivery, never rewritten; a checkpoint vouches for its first
// Checkpoint::delivered_keys entries. Removed with the shard's checkpoint
// (CheckpointStore::Delete). Thread-safe.
class RECOVERY_EXPORT DeliveredKeys {
 public:
  virtual ~DeliveredKeys() = default;
  // Writes `hashes` at entry `at` of the shard's log, dropping whatever a
  // crashed run left from there on, and returns once they are durable.
  virtual absl::Status Append(std::string_view job, std::string_view shard_id, uint64_t at,
                              absl::Span<const uint64_t> hashes) = 0;
  // The first `count` entries of the shard's log; DataLoss naming the log
  // when it holds fewer.
  virtual absl::StatusOr<std::vector<uint64_t>> Load(std::string_view job, std::string_view shard_id,
                                                     uint64_t count) = 0;
};

enum class RecordOutcome : uint8_t;  // recovery/source.h

// A record's outcome as the key log keeps it (JobSpec::key_log).
struct KeyLogEntry {
  uint64_t key_hash;  // StableKeyHash of the record's key
  RecordOutcome outcome;
};

// One entry found in a job's key log, with where and when it was written.
struct KeyLogHit {
  uint64_t key_hash;
  RecordOutcome outcome;
  std::string shard_id;
  std::string run_id;  // the run (Backfiller) that wrote it
  absl::Time at;       // when its page committed, to the second
};

// What a store keeps when a job asks for it (JobSpec::key_log,
// CheckpointStore::key_log()): per shard, the key hash and outcome of every
// record a committed page held, 16 bytes a record, for `recovery find`.
// Written before the page's checkpoint, not synced: a process that dies
// keeps what it wrote, a machine that loses power may lose the last pages'
// entries (a later run that reads those pages again writes them again). A
// record read twice has two entries; the later tells what became of it.
// Removed with the shard's checkpoint (CheckpointStore::Delete). Thread-safe.
class RECOVERY_EXPORT KeyLog {
 public:
  virtual ~KeyLog() = default;
  // Appends one page's entries to the shard's log, written by run `run_id`
  // at `at`.
  virtual absl::Status Append(std::string_view job, std::string_view shard_id, std::string_view run_id,
                              absl::Time at, absl::Span<const KeyLogEntry> entries) = 0;
  // Every entry of `job`'s logs whose hash is one of `key_hashes`, each
  // shard's in the order written; DataLoss naming a log that is not one.
  virtual absl::StatusOr<std::vector<KeyLogHit>> Find(std::string_view job,
                                                      absl::Span<const uint64_t> key_hashes) = 0;
};

// Thread-safe: shards save concurrently.
class RECOVERY_EXPORT CheckpointStore {
 public:
  CheckpointStore() = default;
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;
  virtual ~CheckpointStore() = default;

  // nullopt when the shard has no checkpoint; DataLoss when it is unreadable.
  virtual absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) = 0;
  // The checkpoints of `shard_ids`, in that order (nullopt where a shard has
  // none). The default calls Load() for each; a store with round trips (the
  // PostgreSQL store) answers in one, so that `recovery status` and a run's
  // start cost one query however many shards the plan holds.
  virtual absl::StatusOr<std::vector<std::optional<Checkpoint>>> LoadMany(
      std::string_view job, absl::Span<const std::string> shard_ids);
  // Replaces the shard's checkpoint atomically: after a crash Load() returns
  // either the old or the new one, never a mix.
  virtual absl::Status Save(std::string_view job, std::string_view shard_id,
                            const Checkpoint& checkpoint) = 0;
  // Removes the shard's checkpoint; OK when there is none.
  virtual absl::Status Delete(std::string_view job, std::string_view shard_id) = 0;

  // Optional: saves several shards' checkpoints as one, all or none of them
  // durable after a crash (true for the file and memory stores). The engine
  // relies on it to let shards of a shared sink file commit together.
  virtual bool saves_atomically() const { return false; }
  // Saves each (shard, checkpoint); atomically when saves_atomically().
  virtual absl::Status SaveAll(std::string_view job,
                               absl::Span<const std::pair<std::string, Checkpoint>> checkpoints);
  // Takes an exclusive lock on `job` (with `scope` empty) or on one slice of
  // it (`scope` names the slice, e.g. "slice-2-of-4"), held until the returned
  // object is destroyed. FailedPrecondition when another holder has it.
  virtual absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) = 0;

  // Shard leases, for stores shared by several processes or hosts, or null
  // for a store that locks whole jobs. With leases the engine takes no job
  // lock for a run: it claims each shard just before running it, skips
  // shards another worker holds, and saves through the lease. Owned by the
  // store; lives as long as it.
  virtual ShardLeasing* leasing() { return nullptr; }

  // The delivered-keys logs this store keeps beside its checkpoints (the
  // file, memory and PostgreSQL stores), or null (then a job whose cursors
  // may expire needs records sorted by time, or the sink's presence check).
  // Owned by the store; lives as long as it.
  virtual DeliveredKeys* delivered_keys() { return nullptr; }

  // The key logs this store can keep beside its checkpoints (the file
  // store), or null. Owned by the store; lives as long as it.
  virtual KeyLog* key_log() { return nullptr; }

  // The directory where this store keeps `job`'s files (the file store:
  // <dir>/<job>), for the files the engine keeps beside them (the run log);
  // empty for a store with no directory of its own.
  virtual std::string files_dir(std::string_view job) { return {}; }
};

// Forwards every method to another store, as a base for stores that change
// one or two things about it; no ability (atomic saves, leases) is silently
// lost.
class RECOVERY_EXPORT CheckpointStoreWrapper : public CheckpointStore {
 public:
  // Borrows `target`, which must outlive the wrapper.
  explicit CheckpointStoreWrapper(CheckpointStore* target) : target_(target) {}
  // Owns `target`.
  explicit CheckpointStoreWrapper(std::unique_ptr<CheckpointStore> target)
      : owned_(std::move(target)), target_(owned_.get()) {}

  CheckpointStore* target() const { return target_; }

  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    return target_->Load(job, shard_id);
  }
  absl::StatusOr<std::vector<std::optional<Checkpoint>>> LoadMany(
      std::string_view job, absl::Span<const std::string> shard_ids) override {
    return target_->LoadMany(job, shard_ids);
  }
  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& checkpoint) override {
    return target_->Save(job, shard_id, checkpoint);
  }
  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    return target_->Delete(job, shard_id);
  }
  bool saves_atomically() const override { return target_->saves_atomically(); }
  absl::Status SaveAll(std::string_view job,
                       absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) override {
    return target_->SaveAll(job, checkpoints);
  }
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    return target_->Lock(job, scope);
  }
  ShardLeasing* leasing() override { return target_->leasing(); }
  DeliveredKeys* delivered_keys() override { return target_->delivered_keys(); }
  KeyLog* key_log() override { return target_->key_log(); }
  std::string files_dir(std::string_view job) override { return target_->files_dir(job); }

 private:
  std::unique_ptr<CheckpointStore> owned_;
  CheckpointStore* target_;
};

// Every shard's checkpoint of a job in `directory`/<job>/: an append-only,
// checksummed log with group commit (the saves of all shards waiting at the
// same moment share one fdatasync), compacted into a snapshot now and then;
// a save is atomic, a torn tail from a crash is ignored, and corruption is
// DataLoss naming the file. Jobs saved by earlier versions (one file per
// shard) are read as they are and migrated by the first save. The job lock is
// an flock() on `directory`/<job>/LOCK.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(
    std::string directory);

// Volatile; for tests and dry runs.
RECOVERY_EXPORT std::unique_ptr<CheckpointStore> NewMemoryCheckpointStore();

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_STORE_H_
