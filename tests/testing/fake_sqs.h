// A fast in-memory SQS on a loopback port, speaking the AWS JSON 1.0 protocol
// (cpp-httplib). moto_server is the reference for the protocol; this one is
// for volume (moto scans the whole queue on every receive and manages a few
// hundred messages a second) and for faults moto cannot make: failed entries
// inside a 200 batch answer, throttling.
//
// Actions: GetQueueUrl, ReceiveMessage (long polling), DeleteMessageBatch,
// ChangeMessageVisibilityBatch, SendMessageBatch, GetQueueAttributes. One
// queue, named by the constructor; a name ending in ".fifo" makes it a FIFO
// queue. No signature checks.
//
// What it keeps as SQS does (SqsFakeTest.BehavesAsMotoDoes compares the two):
//   - visibility timeouts: a received message is in flight until its timeout,
//     then visible again with its receive count raised on the next receive;
//     ChangeMessageVisibility on a message no longer in flight fails
//     (MessageNotInflight); a receipt handle is replaced by each receive: an
//     older one is refused by ChangeMessageVisibility and accepted by
//     DeleteMessage without deleting (SQS "might not" delete; moto does);
//   - the counts GetQueueAttributes reports (visible, in flight);
//   - FIFO: a message group with a message in flight is locked (none of its
//     messages is received until that one is deleted or visible again), a
//     receive takes as many messages of one group as it can, in order, before
//     the next group; MessageGroupId is required; a deduplication id (or,
//     without one, the body) seen in the last 5 minutes is accepted and
//     dropped.
// Every operation is logarithmic in the queue's depth, so a receive costs the
// same with 50,000 messages queued as with 5.
#ifndef RECOVERY_TESTS_TESTING_FAKE_SQS_H_
#define RECOVERY_TESTS_TESTING_FAKE_SQS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace recovery {
namespace testing {

class FakeSqs {
 public:
  // `latency` is added to every answer, as a network and a real service would.
  explicit FakeSqs(std::string queue_name = "fake", int threads = 32,
                   absl::Duration latency = absl::ZeroDuration());
  ~FakeSqs();
  FakeSqs(const FakeSqs&) = delete;
  FakeSqs& operator=(const FakeSqs&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:PORT
  std::string queue_url() const;
  bool fifo() const { return fifo_; }

  // Enqueues a message (a FIFO queue needs a `group`; each call is a new
  // message, never deduplicated).
  void Send(const std::string& body, const std::string& group = "");

  struct Counts {
    int64_t visible = 0;      // ApproximateNumberOfMessages
    int64_t in_flight = 0;    // ApproximateNumberOfMessagesNotVisible
    int64_t received = 0;     // messages handed out by ReceiveMessage, redeliveries included
    int64_t redelivered = 0;  // of those, received before
    int64_t deleted = 0;
    int64_t stale_deletes = 0;   // deletions by an older receipt, accepted and not done
    int64_t delete_entries = 0;  // DeleteMessageBatch entries, whatever became of them
    int64_t failed_deletes = 0;  // of those, failed by FailDeletesUntilReceived
    int max_receive_count = 0;   // the highest receive count a message reached
  };
  Counts counts() const;
  // Messages in the queue (visible or not).
  size_t size() const;
  // Whether a message with this body is in the queue (visible or not).
  bool Holds(const std::string& body) const;
  // Bodies of every message accepted by SendMessageBatch, in order.
  std::vector<std::string> sent() const;
  // Calls per action.
  std::map<std::string, int> calls() const;

  // The next `count` batch entries (Delete/ChangeVisibility/SendMessageBatch)
  // fail with `code` inside a 200 answer (SenderFault false: retryable).
  void FailEntries(int count, std::string code = "InternalError");
  // Deleting a message fails (InternalError, retryable) until it has been
  // received `times` times: its consumer must keep up with its newest receipt.
  void FailDeletesUntilReceived(int times);
  // `count` requests, after the next `after` ones, answer 400 ThrottlingException.
  void Throttle(int count, int after = 0);

 private:
  struct Message {
    int64_t seq = 0;
    std::string id;
    std::string body;
    std::string group;    // FIFO only
    std::string receipt;  // of the latest receive
    bool in_flight = false;
    absl::Time visible_at;  // while in flight
    int receive_count = 0;
    int64_t sent_ms = 0;
  };
  // A FIFO message group: its messages in order; locked while any is in flight.
  struct Group {
    std::set<int64_t> seqs;
    int in_flight = 0;
  };

  std::string Handle(const std::string& action, const std::string& body, int* status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Receive(int64_t max, int64_t visibility, absl::Time now, int* status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeEntryFault(std::string* code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A message enters or leaves the indexes (ready_, groups_, in_flight_) around every change.
  void Attach(const Message& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Detach(const Message& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(std::string body, std::string group, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes messages whose visibility timeout has passed visible again.
  void Expire(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The message a receipt handle names (null when there is none); `*stale`
  // when the message was received again since that handle.
  Message* FindByReceipt(std::string_view receipt, bool* stale) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const bool fifo_;
  const absl::Duration latency_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::map<int64_t, Message> messages_ ABSL_GUARDED_BY(mu_);  // by sequence number, the id's suffix
  std::set<std::pair<absl::Time, int64_t>> in_flight_ ABSL_GUARDED_BY(mu_);  // visible again at, seq
  std::set<int64_t> ready_ ABSL_GUARDED_BY(mu_);              // standard queue: the visible messages
  std::map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);  // FIFO
  // FIFO: the groups that can be received from (some message, none in flight), by their first message.
  std::set<std::pair<int64_t, std::string>> ready_groups_ ABSL_GUARDED_BY(mu_);
  // FIFO deduplication ids seen in the last 5 minutes (Expire forgets older ones), and when.
  std::map<std::string, absl::Time> dedup_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, std::string>> dedup_order_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
  int entry_faults_ ABSL_GUARDED_BY(mu_) = 0;
  std::string entry_fault_code_ ABSL_GUARDED_BY(mu_);
  int fail_deletes_until_ ABSL_GUARDED_BY(mu_) = 0;
  int throttles_ ABSL_GUARDED_BY(mu_) = 0;
  int throttle_after_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_FAKE_SQS_H_
