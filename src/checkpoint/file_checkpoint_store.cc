#include <unistd.h>

#include <cerrno>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "checkpoint/checkpoint_codec.h"
#include "recovery/checkpoint_store.h"
#include "util/hash.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {

ShardCounters& ShardCounters::operator+=(const ShardCounters& o) {
  records_fetched += o.records_fetched;
  records_delivered += o.records_delivered;
  records_dropped += o.records_dropped;
  records_out_of_window += o.records_out_of_window;
  records_already_present += o.records_already_present;
  dead_letters += o.dead_letters;
  pages += o.pages;
  bytes += o.bytes;
  retries += o.retries;
  return *this;
}

absl::StatusOr<std::unique_ptr<ShardLease>> CheckpointStore::ClaimShard(std::string_view job,
                                                                        std::string_view shard_id) {
  return absl::UnimplementedError("this checkpoint store does not lease shards: it locks whole jobs");
}

absl::StatusOr<std::vector<LeaseInfo>> CheckpointStore::Leases(std::string_view job) {
  return std::vector<LeaseInfo>();
}

ShardCounters& ShardCounters::operator-=(const ShardCounters& o) {
  records_fetched -= o.records_fetched;
  records_delivered -= o.records_delivered;
  records_dropped -= o.records_dropped;
  records_out_of_window -= o.records_out_of_window;
  records_already_present -= o.records_already_present;
  dead_letters -= o.dead_letters;
  pages -= o.pages;
  bytes -= o.bytes;
  retries -= o.retries;
  return *this;
}

uint64_t StableKeyHash(std::string_view key) { return StableHash64(key, /*seed=*/0x6b6579); }

std::string_view ShardStateName(ShardState state) {
  switch (state) {
    case ShardState::kPending:
      return "pending";
    case ShardState::kRunning:
      return "running";
    case ShardState::kDone:
      return "done";
    case ShardState::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

class FileJobLock : public JobLock {
 public:
  explicit FileJobLock(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<FileLock> lock_;
};

class FileCheckpointStore : public CheckpointStore {
 public:
  explicit FileCheckpointStore(std::string directory) : directory_(std::move(directory)) {}

  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    const std::string path = ShardPath(job, shard_id);
    if (::access(path.c_str(), F_OK) != 0) {
      if (errno == ENOENT) return std::nullopt;
      return ErrnoError(errno, "access", path);
    }
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<Checkpoint> c = DecodeCheckpoint(*bytes, path);
    if (!c.ok()) return c.status();
    return std::optional<Checkpoint>(*std::move(c));
  }

  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& c) override {
    if (absl::Status s = EnsureJobDir(job); !s.ok()) return s;
    return WriteFileAtomically(ShardPath(job, shard_id), EncodeCheckpoint(job, shard_id, c));
  }

  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    const std::string path = ShardPath(job, shard_id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    if (absl::Status s = EnsureJobDir(job); !s.ok()) return s;
    const std::string what = StrCat("job \"", job, "\"", scope.empty() ? "" : StrCat(" (", scope, ")"));
    auto lock =
        FileLock::Acquire(StrCat(JobDir(job), "/LOCK", scope.empty() ? "" : StrCat(".", scope)), what);
    if (!lock.ok()) return lock.status();
    return std::unique_ptr<JobLock>(new FileJobLock(*std::move(lock)));
  }

 private:
  std::string JobDir(std::string_view job) const { return StrCat(directory_, "/", job); }
  std::string ShardPath(std::string_view job, std::string_view shard_id) const {
    return StrCat(directory_, "/", job, "/", shard_id, ".ckpt");
  }

  absl::Status EnsureJobDir(std::string_view job) {
    absl::MutexLock lock(&mu_);
    if (created_.count(std::string(job))) return absl::OkStatus();
    if (absl::Status s = MakeDirectories(JobDir(job)); !s.ok()) return s;
    created_.insert(std::string(job));
    return absl::OkStatus();
  }

  const std::string directory_;
  absl::Mutex mu_;
  std::set<std::string> created_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> NewFileCheckpointStore(std::string directory) {
  if (directory.empty()) return absl::InvalidArgumentError("checkpoint.dir: must not be empty");
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  return std::unique_ptr<CheckpointStore>(new FileCheckpointStore(std::move(directory)));
}

}  // namespace recovery
