// The file checkpoint store's storage for one job: an append-only log of
// checkpoint saves with group commit, compacted now and then into a snapshot.
//
// Files, in <dir>/<job>/:
//   checkpoints.snapshot   "recovery-checkpoint-snapshot 1 <gen>\n", then one
//                          group holding every shard's latest checkpoint;
//                          replaced atomically (temp file, fsync, rename,
//                          directory fsync)
//   checkpoints.<gen>.log  "recovery-checkpoint-log 1 <gen>\n", then groups
//                          appended after the snapshot of the same <gen>
//   checkpoints.lock       flock'ed by a writer while it appends or compacts
//                          (the slices of one job may be separate processes)
// A group is 'G', its body's length (4 bytes) and StableHash64 (8 bytes,
// little endian), then the body: records of kind 'S' (a save: shard id and
// the checkpoint's own encoding, checkpoint_codec.h) or 'D' (a delete).
//
// Group commit: concurrent Save()s queue their records; one of them writes
// everything queued in one write() and one fdatasync() while the next group
// fills, and each Save() returns once the group holding its record is
// durable. A save is atomic: a group is either whole (its hash matches) or
// ignored. A group that fails its hash at the end of the log is a torn write
// of a crash (never acknowledged) and is dropped; one followed by a valid
// group is corruption, DataLoss naming the file and offset, since a group is
// only written after the one before it was made durable.
//
// A job directory of per-shard "<shard>.ckpt" files (the format before the
// log) is read as it is, and migrated into a snapshot by the first save.
#ifndef RECOVERY_CHECKPOINT_CHECKPOINT_LOG_H_
#define RECOVERY_CHECKPOINT_CHECKPOINT_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "recovery/checkpoint.h"
#include "recovery/checkpoint_store.h"
#include "util/group_commit.h"

namespace recovery {

struct CheckpointLogOptions {
  // Compact once the log holds more than this many bytes and more than four
  // times the snapshot.
  uint64_t compact_after_bytes = uint64_t{4} << 20;
  // Called at named moments of a group commit and a compaction ("save
  // queued", "group written", "group synced", "compaction snapshot written",
  // …), for tests that kill the process or hold a thread there. Null in
  // production.
  std::function<void(std::string_view moment)> at;
};

class CheckpointLog {
 public:
  CheckpointLog(std::string job_dir, std::string job, CheckpointLogOptions options);
  ~CheckpointLog();
  CheckpointLog(const CheckpointLog&) = delete;
  CheckpointLog& operator=(const CheckpointLog&) = delete;

  // The latest durable checkpoint of `shard`, whichever process saved it.
  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view shard);
  // Returns once the checkpoint is durable (shared with concurrent saves).
  absl::Status Save(std::string_view shard, const Checkpoint& checkpoint);
  absl::Status Delete(std::string_view shard);
  // Several saves in one group: after a crash, all of them or none.
  absl::Status SaveAll(absl::Span<const std::pair<std::string, Checkpoint>> checkpoints);

 private:
  absl::Status Append(const std::string& record);
  // Writes `bytes` as one group, fdatasyncs, and compacts when due.
  absl::Status Flush(const std::string& bytes);
  // Reads what other processes (and this one) made durable since the last
  // refresh; after a compaction, everything again.
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::Status ReadSnapshot(uint64_t* gen, bool* exists) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::Status ReadLogTail() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // Under the file lock, before this process first writes: migrates
  // per-shard files, cuts a torn tail, removes leftovers.
  absl::Status PrepareToWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::Status Compact() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::Status OpenLogForAppend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  std::string LogPath(uint64_t gen) const;
  void At(std::string_view moment) const {
    if (options_.at) options_.at(moment);
  }

  const std::string dir_;
  const std::string job_;
  const CheckpointLogOptions options_;
  const std::string snapshot_path_;

  // The durable state, as last read: shard -> its checkpoint's encoding.
  absl::Mutex state_mu_;
  std::map<std::string, std::string, std::less<>> raw_ ABSL_GUARDED_BY(state_mu_);
  bool loaded_ ABSL_GUARDED_BY(state_mu_) = false;
  bool legacy_ ABSL_GUARDED_BY(state_mu_) = false;  // per-shard files, not yet migrated
  uint64_t gen_ ABSL_GUARDED_BY(state_mu_) = 0;
  uint64_t offset_ ABSL_GUARDED_BY(state_mu_) = 0;   // read up to here in the log
  uint64_t torn_at_ ABSL_GUARDED_BY(state_mu_) = 0;  // where an incomplete tail starts (or the end)
  uint64_t snapshot_bytes_ ABSL_GUARDED_BY(state_mu_) = 0;
  bool prepared_ ABSL_GUARDED_BY(state_mu_) = false;
  int lock_fd_ ABSL_GUARDED_BY(state_mu_) = -1;
  int log_fd_ ABSL_GUARDED_BY(state_mu_) = -1;
  uint64_t log_fd_gen_ ABSL_GUARDED_BY(state_mu_) = 0;
  absl::Status broken_
      ABSL_GUARDED_BY(state_mu_);  // a failed fdatasync: nothing written since can be trusted

  GroupCommitter<std::string> queue_;  // the records of the saves waiting for a group
};

// The file checkpoint store (NewFileCheckpointStore) with options, for tests.
absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(std::string directory,
                                                                        CheckpointLogOptions options);

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_CHECKPOINT_LOG_H_
