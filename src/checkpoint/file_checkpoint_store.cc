#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "checkpoint/checkpoint_log.h"
#include "checkpoint/key_log_file.h"
#include "checkpoint/process_locks.h"
#include "recovery/checkpoint_store.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/key_hash_file.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

class FileJobLock : public JobLock {
 public:
  explicit FileJobLock(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<FileLock> lock_;
};

class FileCheckpointStore : public CheckpointStore, private DeliveredKeys, private KeyLog {
 public:
  FileCheckpointStore(std::string directory, CheckpointLogOptions options)
      : directory_(std::move(directory)), options_(std::move(options)) {}

  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    return LogOf(job).Load(shard_id);
  }

  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& c) override {
    return LogOf(job).Save(shard_id, c);
  }

  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    RECOVERY_RETURN_IF_ERROR(LogOf(job).Delete(shard_id));
    const std::string keys = KeysPath(job, shard_id);
    if (unlink(keys.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove", keys);
    const std::string key_log = KeyLogPath(job, shard_id);
    {
      absl::MutexLock lock(&key_logs_mu_);
      key_logs_.erase(key_log);
    }
    if (unlink(key_log.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove", key_log);
    return absl::OkStatus();
  }

  DeliveredKeys* delivered_keys() override { return this; }
  KeyLog* key_log() override { return this; }
  std::string files_dir(std::string_view job) override { return JobDir(job); }

  bool saves_atomically() const override { return true; }
  absl::Status SaveAll(std::string_view job,
                       absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) override {
    return LogOf(job).SaveAll(checkpoints);  // one group: all or none
  }

  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    if (absl::Status s = MakeDirectories(JobDir(job)); !s.ok()) return s;
    const std::string what = StrCat("job \"", job, "\"", scope.empty() ? "" : StrCat(" (", scope, ")"));
    auto lock =
        FileLock::Acquire(StrCat(JobDir(job), "/LOCK", scope.empty() ? "" : StrCat(".", scope)), what);
    if (!lock.ok()) return lock.status();
    return std::unique_ptr<JobLock>(new FileJobLock(*std::move(lock)));
  }

 private:
  absl::Status Append(std::string_view job, std::string_view shard_id, uint64_t at,
                      absl::Span<const uint64_t> hashes) override {
    RECOVERY_RETURN_IF_ERROR(MakeDirectories(StrCat(JobDir(job), "/delivered")));
    return WriteKeyHashes(KeysPath(job, shard_id), at, hashes);
  }
  absl::StatusOr<std::vector<uint64_t>> Load(std::string_view job, std::string_view shard_id,
                                             uint64_t count) override {
    return ReadKeyHashes(KeysPath(job, shard_id), count);
  }

  absl::Status Append(std::string_view job, std::string_view shard_id, std::string_view run_id, absl::Time at,
                      absl::Span<const KeyLogEntry> entries) override {
    const std::string path = KeyLogPath(job, shard_id);
    absl::MutexLock lock(&key_logs_mu_);
    auto it = key_logs_.find(path);
    if (it == key_logs_.end()) {
      RECOVERY_RETURN_IF_ERROR(MakeDirectories(StrCat(JobDir(job), "/keys")));
      it = key_logs_.emplace(path, std::make_unique<KeyLogFile>(path)).first;
    }
    return it->second->Append(shard_id, run_id, at, entries);
  }
  absl::StatusOr<std::vector<KeyLogHit>> Find(std::string_view job,
                                              absl::Span<const uint64_t> key_hashes) override {
    const absl::flat_hash_set<uint64_t> wanted(key_hashes.begin(), key_hashes.end());
    std::vector<KeyLogHit> hits;
    absl::MutexLock lock(&key_logs_mu_);  // no append of this process half written
    for (const std::string& name : ListDir(StrCat(JobDir(job), "/keys"))) {
      if (absl::EndsWith(name, ".log"))
        RECOVERY_RETURN_IF_ERROR(FindInKeyLog(StrCat(JobDir(job), "/keys/", name), wanted, &hits));
    }
    return hits;
  }

  std::string JobDir(std::string_view job) const { return StrCat(directory_, "/", job); }
  // The shard's id names its logs when it is a safe file name (the planner's
  // ids are), else its hash does.
  static std::string ShardFileName(std::string_view shard_id) {
    const bool plain =
        !shard_id.empty() && shard_id[0] != '.' && std::all_of(shard_id.begin(), shard_id.end(), [](char ch) {
          return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
        });
    return plain ? std::string(shard_id) : Hex64(StableHash64(shard_id));
  }
  std::string KeysPath(std::string_view job, std::string_view shard_id) const {
    return StrCat(JobDir(job), "/delivered/", ShardFileName(shard_id), ".keys");
  }
  std::string KeyLogPath(std::string_view job, std::string_view shard_id) const {
    return StrCat(JobDir(job), "/keys/", ShardFileName(shard_id), ".log");
  }

  // One log per job, opened on first use and kept.
  CheckpointLog& LogOf(std::string_view job) {
    absl::MutexLock lock(&mu_);
    auto it = logs_.find(job);
    if (it == logs_.end()) {
      it = logs_
               .emplace(std::string(job),
                        std::make_unique<CheckpointLog>(JobDir(job), std::string(job), options_))
               .first;
    }
    return *it->second;
  }

  const std::string directory_;
  const CheckpointLogOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CheckpointLog>, std::less<>> logs_ ABSL_GUARDED_BY(mu_);
  // One shard's appends at a time: they are a few kilobytes each.
  absl::Mutex key_logs_mu_;
  std::map<std::string, std::unique_ptr<KeyLogFile>, std::less<>> key_logs_ ABSL_GUARDED_BY(key_logs_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(std::string directory) {
  return NewFileCheckpointStore(std::move(directory), CheckpointLogOptions());
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(std::string directory,
                                                                        CheckpointLogOptions options) {
  if (directory.empty()) return absl::InvalidArgumentError("checkpoint.dir: must not be empty");
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  return std::unique_ptr<CheckpointStore>(new FileCheckpointStore(std::move(directory), std::move(options)));
}

}  // namespace recovery
