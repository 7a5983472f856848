// The SQS source's reader, shared by the two files that implement it:
// sqs_source.cc (the source, opening a reader, pages and commits on the
// engine's thread) and sqs_reader_threads.cc (the background threads:
// receivers, the delete and release workers, the visibility heartbeat).
#ifndef RECOVERY_AWS_SQS_READER_H_
#define RECOVERY_AWS_SQS_READER_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aws/sqs.h"
#include "recovery/source.h"

namespace recovery {
namespace sqs_internal {

using Disposal = SqsDisposal;

struct Config {
  AwsConfig aws;
  std::vector<std::string> warnings;
  int receivers = 4;
  int max_messages = 10;                         // per ReceiveMessage, 1..10
  int max_page_records = 100;                    // per page handed to the engine
  absl::Duration wait_time = absl::Seconds(20);  // long polling, 0..20 s
  absl::Duration visibility_timeout = absl::Seconds(60);
  bool heartbeat = true;
  int max_receive_count = 5;  // above it a message is poison; 0: no limit
  Disposal on_poison = Disposal::kDelete;
  bool window_by_sent_time = false;  // else the mapper's event time decides
  Disposal outside_window = Disposal::kRelease;
  int drain_after_empty_receives = 3;
  bool wait_for_in_flight = true;
  std::string request_prefix;  // {"QueueUrl":"...", (built once the URL is known)
};

// Ids seen recently, bounded: the oldest are forgotten first.
class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}
  void Insert(const std::string& id) {
    if (!set_.insert(id).second) return;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool Contains(const std::string& id) const { return set_.count(id) > 0; }

 private:
  size_t capacity_;
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

class SqsSource;

class SqsReader : public ShardReader {
 public:
  SqsReader(SqsSource* source, Shard shard, SqsCursor resumed, const ShardContext& context);
  ~SqsReader() override;
  absl::Status Start();
  absl::Status Next(Page* page) override;
  absl::Status Commit(const Page& page, absl::Span<const RecordOutcome> outcomes) override;

 private:
  struct Held {
    std::string receipt;
    absl::Time deadline;  // its visibility ends
  };
  struct Task {
    enum Kind { kDelete, kRelease } kind;
    std::vector<std::pair<std::string, std::string>> entries;  // id, receipt
    // After a run: some entries failed (back off before trying again), as
    // opposed to only needing the newest receipt (try again at once).
    bool failed = false;
  };

  void ReceiveLoop(AwsJsonClient& client);
  void WorkLoop(AwsJsonClient& client);
  void HeartbeatLoop(AwsJsonClient& client);
  // Sorts one received message; returns true when it goes into a page.
  bool Admit(SqsReceivedMessage& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Task::Kind kind, std::vector<std::pair<std::string, std::string>> entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one delete or release batch (≤ 10 entries), leaving in `task` the
  // entries to try again.
  absl::Status RunTask(AwsJsonClient& client, Task& task);
  absl::Status RunRelease(AwsJsonClient& client, Task& task);
  // A delete's outcome per entry: done, or left in `task` to run again.
  void SettleDeletes(Task& task, const std::vector<bool>& resolved);
  // A delete about to run takes each message's newest receipt.
  void TakeNewestReceipts(Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Changes the visibility of up to 10 messages; the ids that succeeded.
  absl::StatusOr<std::vector<std::string>> ChangeVisibility(
      AwsJsonClient& client, const std::vector<std::pair<std::string, std::string>>& entries,
      absl::Duration timeout, std::vector<SqsBatchFailure>* failed);
  absl::StatusOr<bool> Drained(AwsJsonClient& client);
  void WarnIfBeyondRetention();
  // Records the first failure no retry can fix; every call fails with it from then on.
  void Fail(absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Request(std::string_view rest) const;
  bool SleepUnlessStopping(absl::Duration d);

  SqsSource* const source_;
  const Config& config_;
  const Shard shard_;
  const ShardContext& context_;
  std::string queue_url_;
  AwsJsonClient client_;  // the engine's thread: Next() and Commit()

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;   // stop once the work queue is empty
  absl::Status permanent_ ABSL_GUARDED_BY(mu_);  // a failure no retry can fix
  std::deque<absl::Status> receive_errors_ ABSL_GUARDED_BY(mu_);
  std::deque<SqsReceivedMessage> ready_ ABSL_GUARDED_BY(mu_);        // received, not yet in a page
  std::unordered_map<std::string, Held> held_ ABSL_GUARDED_BY(mu_);  // received, not yet resolved
  std::unordered_map<std::string, std::string> unconfirmed_ ABSL_GUARDED_BY(mu_);  // id -> receipt
  std::unordered_set<std::string> resumed_ ABSL_GUARDED_BY(mu_);  // unconfirmed at the last run's end
  absl::Time resumed_visible_by_ ABSL_GUARDED_BY(mu_);
  RecentIds done_ ABSL_GUARDED_BY(mu_){200000};                    // deleted in this run
  std::unordered_set<std::string> released_ ABSL_GUARDED_BY(mu_);  // left for others
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  // Ids with a delete queued or running: one at a time per message, however
  // often it comes back meanwhile (its newest receipt is taken when it runs).
  std::unordered_set<std::string> deleting_ ABSL_GUARDED_BY(mu_);
  int tasks_running_ ABSL_GUARDED_BY(mu_) = 0;
  int consecutive_empty_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<AwsJsonClient>> clients_;  // one per background thread
  std::vector<std::thread> threads_;
};

class SqsSource : public Source, public QueueDescription {
 public:
  SqsSource(Config config, std::string queue_url, std::string queue_name)
      : config_(std::move(config)), queue_(std::move(queue_url), std::move(queue_name)) {}

  bool plans_one_shard() const override { return true; }
  QueueDescription* queue_description() override { return this; }
  // GetQueueAttributes: counts, retention, redrive policy.
  absl::StatusOr<QueueFacts> Describe() override;
  std::vector<std::string> ConfigWarnings() const override { return config_.warnings; }

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    absl::StatusOr<SqsCursor> resumed = DecodeSqsCursor(cursor);
    if (!resumed.ok()) return resumed.status();
    auto reader = std::make_unique<SqsReader>(this, shard, *std::move(resumed), context);
    if (absl::Status s = reader->Start(); !s.ok()) return s;
    return std::unique_ptr<ShardReader>(std::move(reader));
  }

  const Config& config() const { return config_; }
  SqsQueue& queue() { return queue_; }
  void set_outside_window(Disposal d) { config_.outside_window = d; }

 private:
  Config config_;
  SqsQueue queue_;
};

}  // namespace sqs_internal
}  // namespace recovery

#endif  // RECOVERY_AWS_SQS_READER_H_
