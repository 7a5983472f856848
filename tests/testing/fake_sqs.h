// A fast in-memory SQS on a loopback port, speaking the AWS JSON 1.0 protocol
// (cpp-httplib). moto_server is the reference for correctness; this one is for
// throughput (moto manages ~200 messages/s) and for faults moto cannot make:
// failed entries inside a 200 batch answer, throttling.
//
// Actions: GetQueueUrl, ReceiveMessage (long polling, visibility timeouts,
// receive counts), DeleteMessageBatch, ChangeMessageVisibilityBatch,
// SendMessageBatch, GetQueueAttributes. One standard queue, named by the
// constructor; no signature checks.
#ifndef RECOVERY_TESTS_TESTING_FAKE_SQS_H_
#define RECOVERY_TESTS_TESTING_FAKE_SQS_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
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

  void Send(const std::string& body);
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
  // `count` requests, after the next `after` ones, answer 400 ThrottlingException.
  void Throttle(int count, int after = 0);

 private:
  struct Message {
    std::string id;
    std::string body;
    std::string receipt;  // of the latest receive
    absl::Time visible_at;
    int receive_count = 0;
    int64_t sent_ms = 0;
  };
  std::string Handle(const std::string& action, const std::string& body, int* status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeEntryFault(std::string* code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const absl::Duration latency_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::map<int64_t, Message> messages_ ABSL_GUARDED_BY(mu_);  // by sequence number, the id's suffix
  std::vector<std::string> sent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  int entry_faults_ ABSL_GUARDED_BY(mu_) = 0;
  std::string entry_fault_code_ ABSL_GUARDED_BY(mu_);
  int throttles_ ABSL_GUARDED_BY(mu_) = 0;
  int throttle_after_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_FAKE_SQS_H_
