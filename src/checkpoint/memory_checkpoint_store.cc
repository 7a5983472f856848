#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "checkpoint/process_locks.h"
#include "recovery/checkpoint_store.h"
#include "util/strings.h"

namespace recovery {
namespace {

class MemoryCheckpointStore : public CheckpointStore, private DeliveredKeys {
 public:
  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    absl::MutexLock lock(&mu_);
    auto it = checkpoints_.find(Key(job, shard_id));
    if (it == checkpoints_.end()) return std::nullopt;
    return std::optional<Checkpoint>(it->second);
  }

  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& c) override {
    absl::MutexLock lock(&mu_);
    checkpoints_[Key(job, shard_id)] = c;
    return absl::OkStatus();
  }

  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    absl::MutexLock lock(&mu_);
    checkpoints_.erase(Key(job, shard_id));
    delivered_.erase(Key(job, shard_id));
    return absl::OkStatus();
  }

  DeliveredKeys* delivered_keys() override { return this; }

 private:
  absl::Status Append(std::string_view job, std::string_view shard_id, uint64_t at,
                      absl::Span<const uint64_t> hashes) override {
    absl::MutexLock lock(&mu_);
    std::vector<uint64_t>& log = delivered_[Key(job, shard_id)];
    if (at > log.size()) {
      return absl::DataLossError(
          StrCat("delivered keys of shard ", shard_id, ": ", log.size(), " entries, asked to write at ", at));
    }
    log.resize(at);
    log.insert(log.end(), hashes.begin(), hashes.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<uint64_t>> Load(std::string_view job, std::string_view shard_id,
                                             uint64_t count) override {
    absl::MutexLock lock(&mu_);
    const std::vector<uint64_t>& log = delivered_[Key(job, shard_id)];
    if (log.size() < count) {
      return absl::DataLossError(StrCat("delivered keys of shard ", shard_id, ": ", log.size(),
                                        " entries, the checkpoint vouches for ", count));
    }
    return std::vector<uint64_t>(log.begin(), log.begin() + static_cast<ptrdiff_t>(count));
  }

 public:
  bool saves_atomically() const override { return true; }
  absl::Status SaveAll(std::string_view job,
                       absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) override {
    absl::MutexLock lock(&mu_);
    for (const auto& [shard, c] : checkpoints) checkpoints_[Key(job, shard)] = c;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    return locks_.Lock(job, scope);
  }

 private:
  static std::string Key(std::string_view job, std::string_view shard) { return StrCat(job, "/", shard); }

  absl::Mutex mu_;
  std::map<std::string, Checkpoint> checkpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> delivered_ ABSL_GUARDED_BY(mu_);
  ProcessLocks locks_;
};

}  // namespace

std::unique_ptr<CheckpointStore> NewMemoryCheckpointStore() {
  return std::make_unique<MemoryCheckpointStore>();
}

}  // namespace recovery
