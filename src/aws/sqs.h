// What the SQS source and sink share: naming the queue, and reading the
// answers of the batch actions.
#ifndef RECOVERY_AWS_SQS_H_
#define RECOVERY_AWS_SQS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aws/aws.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "recovery/sqs.h"
#include "simdjson.h"
#include "util/field_errors.h"

namespace recovery {

// Adds the problems of a queue named by `url` or `name` (exactly one) under `path`.
void CheckSqsQueue(std::string_view url, std::string_view name, std::string_view path, FieldErrors* errors);

// The queue named by its URL or its name (looked up with GetQueueUrl on first
// use). Thread-safe.
class SqsQueue {
 public:
  SqsQueue(std::string url, std::string name);
  bool fifo() const { return fifo_; }
  // The URL, resolving the name once.
  absl::StatusOr<std::string> Url(AwsJsonClient& client);

 private:
  std::string name_;
  bool fifo_ = false;
  absl::Mutex mu_;
  std::string url_ ABSL_GUARDED_BY(mu_);
};

struct SqsBatchFailure {
  std::string id;
  std::string code;
  std::string message;
  bool sender_fault = false;  // the request is wrong: retrying it cannot help
};

// Reads a *Batch response: ids of the successful entries and the failed ones.
// A 200 can carry failures: callers check `failed` every time.
absl::Status ParseSqsBatchResult(std::string_view body, std::vector<std::string>* successful,
                                 std::vector<SqsBatchFailure>* failed);

// One message of a ReceiveMessage answer.
struct SqsReceivedMessage {
  std::string id;
  std::string receipt;
  std::string body;
  int receive_count = 1;  // ApproximateReceiveCount
  int64_t sent_ms = -1;   // SentTimestamp, or -1
};

// Reads a ReceiveMessage answer ({} when empty); DataLoss naming what is missing.
absl::Status ParseSqsMessages(simdjson::dom::parser& parser, std::string_view body,
                              std::vector<SqsReceivedMessage>* out);

// The SQS source's checkpoint cursor: ids of delivered messages whose deletion
// is not confirmed, and the time by which any of them still undeleted is
// visible again. Empty text for none.
struct SqsCursor {
  std::vector<std::string> unconfirmed;
  absl::Time visible_by = absl::InfinitePast();
};
std::string EncodeSqsCursor(const SqsCursor& cursor);
absl::StatusOr<SqsCursor> DecodeSqsCursor(std::string_view text);

// True for batch-entry failures worth retrying (throttling, internal errors).
bool IsRetryableEntryFailure(const SqsBatchFailure& f);

// Add every problem of the options to `errors`, each under `path`. Read no
// environment.
// `warnings` (optional) gets the risky settings.
void CheckSqsSourceOptions(const SqsSourceOptions& options, std::string_view path, FieldErrors* errors,
                           std::vector<std::string>* warnings = nullptr);
void CheckSqsSinkOptions(const SqsSinkOptions& options, std::string_view path, FieldErrors* errors);

// Check the options, resolve the region and the credentials with `getenv`,
// and build; null with every problem added under `path` when they cannot.
std::unique_ptr<Source> BuildSqsSource(const SqsSourceOptions& options, std::string_view path,
                                       const GetEnv& getenv, FieldErrors* errors);
std::unique_ptr<Sink> BuildSqsSink(const SqsSinkOptions& options, std::string_view path, const GetEnv& getenv,
                                   FieldErrors* errors);

}  // namespace recovery

#endif  // RECOVERY_AWS_SQS_H_
