// A thread of its own that runs one task at a time, handed to it by one
// owner: for work done ahead while the owner does something else (the HTTP
// reader's next page, fetched while the engine commits the current one). One
// thread for the owner's whole life instead of one started per task, which
// cost a thread's creation and exit for every page.
#ifndef RECOVERY_UTIL_TASK_THREAD_H_
#define RECOVERY_UTIL_TASK_THREAD_H_

#include <future>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace recovery {

template <typename Result>
class TaskThread {
 public:
  TaskThread() = default;
  // Waits for the task under way, if any, and stops the thread.
  ~TaskThread() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Runs `task` on the thread (started by the first call) and returns its
  // result's future. The owner waits for that future before the next Run().
  template <typename Task>
  std::future<Result> Run(Task task) {
    std::packaged_task<Result()> packaged(std::move(task));
    std::future<Result> result = packaged.get_future();
    absl::MutexLock lock(&mu_);
    pending_ = std::move(packaged);
    if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
    return result;
  }

 private:
  void Work() {
    while (true) {
      std::packaged_task<Result()> task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](TaskThread* t)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->mu_) { return t->stopping_ || t->pending_.valid(); },
            this));
        if (!pending_.valid()) return;  // stopping, nothing left to run
        task = std::move(pending_);
      }
      task();
    }
  }

  absl::Mutex mu_;
  std::packaged_task<Result()> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started and joined by the owner's thread only
};

}  // namespace recovery

#endif  // RECOVERY_UTIL_TASK_THREAD_H_
