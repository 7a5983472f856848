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
#include "spec/spec_reader.h"
#include "recovery/job_spec.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "simdjson.h"

namespace recovery {

// The queue a section names by "queue_url" or "queue_name" (looked up with
// GetQueueUrl on first use). Thread-safe.
class SqsQueue {
 public:
  // Reads the keys, adding errors to the section.
  void Read(SpecObject& o);
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

// The SQS source (type "sqs") and sink (type "sqs"), built from their spec
// sections; null (with errors in the section) when invalid. Without
// `resolve`, only the section is read (for parsing: no environment, no
// credentials file) and the result must not be used.
std::unique_ptr<Source> BuildSqsSource(SpecObject& config, const JobSpec& spec, const GetEnv& getenv,
                                       bool resolve);
std::unique_ptr<Sink> BuildSqsSink(SpecObject& config, const JobSpec& spec, const GetEnv& getenv, bool resolve);

}  // namespace recovery

#endif  // RECOVERY_AWS_SQS_H_
