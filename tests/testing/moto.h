// moto_server (a real SQS emulator) on a free loopback port for one test
// fixture, stopped when the fixture is destroyed, even when the test fails
// (and killed with the test process if that dies first). Plus a small admin
// client for setting queues up and looking into them.
#ifndef RECOVERY_TESTS_TESTING_MOTO_H_
#define RECOVERY_TESTS_TESTING_MOTO_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/aws.h"

namespace recovery {
namespace testing {

class MotoServer {
 public:
  // `env`: extra "NAME=value" entries (INITIAL_NO_AUTH_ACTION_COUNT=3 turns
  // on real signature checking after three free calls).
  explicit MotoServer(std::vector<std::string> env = {});
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  // Empty when it could not start; error() says why.
  const std::string& endpoint() const { return endpoint_; }
  const std::string& error() const { return error_; }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
  std::string error_;
};

struct SqsMessage {
  std::string id;
  std::string receipt;
  std::string body;
  std::string attributes_json;          // "Attributes" as JSON
  std::string message_attributes_json;  // "MessageAttributes" as JSON
};

// Calls SQS with fixed test credentials ("test"/"test", us-east-1) unless
// given others.
class SqsAdmin {
 public:
  explicit SqsAdmin(std::string endpoint, std::string key = "test", std::string secret = "test",
                    std::string token = "");

  absl::StatusOr<std::string> Call(std::string_view action, std::string body);
  // Returns the queue URL. `attributes` such as {"VisibilityTimeout","2"}, {"FifoQueue","true"}.
  absl::StatusOr<std::string> CreateQueue(const std::string& name,
                                          const std::map<std::string, std::string>& attributes = {});
  // Sends each body (FIFO: group `group`, deduplication id = the body's index + `dedup_prefix`).
  absl::Status Send(const std::string& url, const std::vector<std::string>& bodies,
                    const std::string& group = "", const std::string& dedup_prefix = "");
  absl::StatusOr<std::vector<SqsMessage>> Receive(const std::string& url, int max, int visibility_timeout,
                                                  int wait_seconds = 0);
  // ApproximateNumberOfMessages / ...NotVisible / ...Delayed.
  absl::StatusOr<std::map<std::string, int64_t>> Counts(const std::string& url);
  // Receives until `wait_seconds` of emptiness, deleting everything: the bodies, in order.
  absl::StatusOr<std::vector<SqsMessage>> Drain(const std::string& url, int wait_seconds = 1);

 private:
  AwsConfig config_;
  std::unique_ptr<AwsJsonClient> client_;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_MOTO_H_
