// Group commit: writers that arrive while a flush is under way gather in the
// next group, and one of them flushes that group for all, so one fdatasync
// covers every writer waiting at the same moment. Groups flush one at a time,
// in the order they filled.
#ifndef RECOVERY_UTIL_GROUP_COMMIT_H_
#define RECOVERY_UTIL_GROUP_COMMIT_H_

#include <memory>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace recovery {

template <typename Batch>
class GroupCommitter {
 public:
  class Group {
   public:
    Batch& batch() { return batch_; }  // only while holding the committer's lock (in Join's `add`)

   private:
    friend class GroupCommitter;
    Batch batch_;
    bool done_ = false;
    absl::Status status_;
    absl::CondVar changed_;  // done, or this group may flush
  };

  // Adds to the group now filling (`add` runs under the committer's lock) and
  // returns it, for Await(). Joining in the order of some other lock (a
  // shared file's) makes groups follow that order.
  std::shared_ptr<Group> Join(absl::FunctionRef<void(Batch&)> add) {
    absl::MutexLock lock(&mu_);
    if (open_ == nullptr) open_ = std::make_shared<Group>();
    add(open_->batch_);
    return open_;
  }

  // Returns once `mine` is flushed, with the flush's status. When `mine` is
  // the next group and no flush is under way, this caller runs `flush` on its
  // batch for every member. Each waiter sleeps on its own group's condition
  // variable: waking every waiter after every group, or re-evaluating each
  // waiter's predicate on every unlock, costs more than the fdatasync with
  // hundreds of writers.
  absl::Status Await(const std::shared_ptr<Group>& mine, absl::FunctionRef<absl::Status(Batch&)> flush) {
    absl::MutexLock lock(&mu_);
    while (!mine->done_) {
      if (flushing_ || open_ != mine) {
        mine->changed_.Wait(&mu_);
        continue;
      }
      flushing_ = true;
      std::shared_ptr<Group> group = std::move(open_);
      mu_.Unlock();
      absl::Status status = flush(group->batch_);
      mu_.Lock();
      group->status_ = std::move(status);
      group->done_ = true;
      flushing_ = false;
      group->changed_.SignalAll();
      if (open_ != nullptr) open_->changed_.Signal();  // one of the next group flushes it
    }
    return mine->status_;
  }

  // Join() then Await().
  absl::Status Commit(absl::FunctionRef<void(Batch&)> add, absl::FunctionRef<absl::Status(Batch&)> flush) {
    return Await(Join(add), flush);
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<Group> open_ ABSL_GUARDED_BY(mu_);  // filling
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace recovery

#endif  // RECOVERY_UTIL_GROUP_COMMIT_H_
