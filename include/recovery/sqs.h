// Amazon SQS as a source (drain a queue: delete each message only after the
// sink acknowledged it) and as a sink (replay recovered records into the live
// queue). Requests are signed with SigV4 by libcurl; no AWS SDK. The job
// spec's "source" and "sink" sections of type "sqs" fill these options
// (docs/job-spec.md).
#ifndef RECOVERY_SQS_H_
#define RECOVERY_SQS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// Where to reach AWS and with which credentials. Credentials and region are
// looked up when the component is created, and the credentials again whenever
// AWS refuses them as expired or unknown (a rotated session token is picked
// up without a restart). Order: the command or the variables named here; then
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; then the
// shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials), profile `profile`, else AWS_PROFILE, else "default".
struct AwsOptions {
  std::string region;    // empty: AWS_REGION, else AWS_DEFAULT_REGION
  std::string endpoint;  // http(s) URL; empty: https://sqs.<region>.amazonaws.com/
  std::string profile;   // of the shared credentials file
  // Environment variables holding the key pair (both or neither) and,
  // optionally, a session token.
  std::string access_key_id_env;
  std::string secret_access_key_env;
  std::string session_token_env;
  // Or a command printing temporary credentials as JSON, as the AWS CLI's
  // credential_process does ({"Version": 1, "AccessKeyId", "SecretAccessKey",
  // "SessionToken"}): its argv, run without a shell, stopped after the
  // timeout, and run again when AWS refuses the credentials as expired. Not
  // with the *_env names. (A profile's credential_process in the shared
  // credentials file or ~/.aws/config is honoured too.)
  std::vector<std::string> credential_process;
  absl::Duration credential_process_timeout = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(10);  // >= 1 ms
  std::string ca_file;                                 // PEM bundle; empty = the system's
};

// What becomes of a message the job will not deliver.
enum class SqsDisposal {
  kDelete,   // removed from the queue
  kRelease,  // made visible again at once, for other consumers
};

struct SqsSourceOptions {
  AwsOptions aws;
  // Exactly one: the queue's URL, or its name (looked up with GetQueueUrl on
  // first use). A name or URL ending in ".fifo" is a FIFO queue.
  std::string queue_url;
  std::string queue_name;
  int receivers = 4;                                      // parallel long polls, 1 to 64
  int max_messages = 10;                                  // per ReceiveMessage, 1 to 10
  int max_page_records = 100;                             // per page handed to the engine, 1 to 10,000
  absl::Duration wait_time = absl::Seconds(20);           // long polling, 0 to 20 s (whole seconds)
  absl::Duration visibility_timeout = absl::Seconds(60);  // 1 s to 12 h (whole seconds)
  bool heartbeat = true;  // extend the visibility of messages while their batch is in flight
  // A message received more often than this is poison: it goes to dead
  // letters and is disposed of by `on_poison`. 0 to 1000; 0 = no limit.
  int max_receive_count = 5;
  SqsDisposal on_poison = SqsDisposal::kDelete;  // kRelease is refused for FIFO queues
  // Window messages by their SentTimestamp instead of the mapper's event time.
  bool window_by_sent_time = false;
  // A message outside the job's window. Always kDelete for FIFO queues, where
  // a released message would block its group.
  SqsDisposal outside_window = SqsDisposal::kRelease;
  // Consecutive empty receives (with nothing in flight) that prove the queue
  // drained, 1 to 1000.
  int drain_after_empty_receives = 3;
  // Before calling the queue drained, wait for messages other consumers hold
  // in flight (ApproximateNumberOfMessagesNotVisible) to come back or go.
  bool wait_for_in_flight = true;
};

// Checks every field (InvalidArgument naming each), resolves the region and
// the credentials (NotFound saying where it looked). Makes no request.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Source>> NewSqsSource(const SqsSourceOptions& options);

struct SqsSinkOptions {
  AwsOptions aws;
  std::string queue_url;  // exactly one of the two, as for the source
  std::string queue_name;
  // FIFO queues need exactly one: a JSON pointer into the mapped record
  // giving each message's group, or one fixed group. Not for standard queues.
  std::string message_group_id_from;
  std::string message_group_id;
  // Message attributes: name -> JSON pointer into the mapped record; at most 10.
  std::vector<std::pair<std::string, std::string>> attributes;
  absl::Duration delay = absl::ZeroDuration();  // 0 to 900 s; not for FIFO queues
  int64_t max_message_bytes = 1 << 20;  // a larger record is rejected into dead letters; 1 KiB to 1 MiB
};

// Like NewSqsSource. Sends with SendMessageBatch (10 messages or 1 MiB per
// call); a FIFO queue deduplicates on each record's key.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewSqsSink(const SqsSinkOptions& options);

}  // namespace recovery

#endif  // RECOVERY_SQS_H_
