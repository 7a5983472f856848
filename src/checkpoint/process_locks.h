// Job locks that hold within one process: for stores with no lock of their
// own (in memory, or callbacks through the C ABI).
#ifndef RECOVERY_CHECKPOINT_PROCESS_LOCKS_H_
#define RECOVERY_CHECKPOINT_PROCESS_LOCKS_H_

#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recovery/checkpoint_store.h"
#include "util/strings.h"

namespace recovery {

// Thread-safe; must outlive the locks it hands out.
class ProcessLocks {
 public:
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) {
    const std::string key = StrCat(job, "/", scope);
    absl::MutexLock lock(&mu_);
    if (!held_.insert(key).second) {
      return absl::FailedPreconditionError(
          ToAbsl(StrCat("job \"", job, "\"", scope.empty() ? "" : StrCat(" (", scope, ")"),
                        " is already running in this process")));
    }
    return std::unique_ptr<JobLock>(new Held(this, key));
  }

 private:
  class Held : public JobLock {
   public:
    Held(ProcessLocks* locks, std::string job) : locks_(locks), job_(std::move(job)) {}
    ~Held() override {
      absl::MutexLock lock(&locks_->mu_);
      locks_->held_.erase(job_);
    }

   private:
    ProcessLocks* locks_;
    std::string job_;
  };

  absl::Mutex mu_;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_PROCESS_LOCKS_H_
