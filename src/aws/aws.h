// AWS plumbing shared by the SQS source and sink, without an SDK: credentials
// and region found in the usual AWS order, requests signed by libcurl (SigV4),
// and errors read from JSON or XML bodies.
#ifndef RECOVERY_AWS_AWS_H_
#define RECOVERY_AWS_AWS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/http_client.h"
#include "spec/spec_reader.h"
#include "util/redact.h"

namespace recovery {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only
  std::string origin;         // where they were found, for messages
};

// Reads the environment; a parameter so tests need not change the process's.
using GetEnv = std::function<const char*(const char*)>;

// Where to look for credentials, first to last:
//  1. `explicit_*_env`: names of environment variables given in the job spec;
//  2. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN;
//  3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//     ~/.aws/credentials), profile `profile`, else AWS_PROFILE, else "default".
struct AwsCredentialLookup {
  std::string access_key_id_env;
  std::string secret_access_key_env;
  std::string session_token_env;
  std::string profile;
};

// NotFound naming every place it looked when none holds a key pair.
absl::StatusOr<AwsCredentials> ResolveAwsCredentials(const AwsCredentialLookup& lookup, const GetEnv& getenv);
// `configured`, else AWS_REGION, else AWS_DEFAULT_REGION; NotFound naming them.
absl::StatusOr<std::string> ResolveAwsRegion(std::string_view configured, const GetEnv& getenv);

struct AwsError {
  std::string code;  // "QueueDoesNotExist", "SignatureDoesNotMatch", ...
  std::string message;
};
// Reads an error response: JSON ({"__type":"...#Code","message"}), XML
// (<Code>, <Message>), or the x-amzn-query-error header. Empty fields when
// the body says nothing.
AwsError ParseAwsError(std::string_view body, const std::string* query_error_header);
// True for the codes AWS documents as throttling.
bool IsAwsThrottling(std::string_view code);

// Everything needed to call one AWS service.
struct AwsConfig {
  std::string service = "sqs";
  std::string target_prefix = "AmazonSQS";  // X-Amz-Target: <prefix>.<Action>
  std::string region;
  std::string endpoint;  // "https://sqs.<region>.amazonaws.com/" unless overridden
  AwsCredentials credentials;
  HttpClientOptions http;
  Redactor redactor;  // knows the secret key and the session token
};

// Reads "region", "endpoint", "profile", "credentials" {"access_key_id_env",
// "secret_access_key_env", "session_token_env"}, "connect_timeout" and
// "tls" {"ca_file"} from a source or sink section; with `resolve`, also finds
// the credentials and the region (environment, credentials file), else reads
// nothing outside the section. Problems are added to the section's errors.
// `warnings` gets the risky settings.
void ReadAwsConfig(SpecObject& o, const GetEnv& getenv, bool resolve, AwsConfig* config,
                   std::vector<std::string>* warnings);

// Calls AWS JSON 1.0 actions. Not thread-safe: one per thread. Keeps its
// connection alive between calls.
class AwsJsonClient {
 public:
  explicit AwsJsonClient(const AwsConfig* config);  // borrowed, must outlive the client

  // POSTs `body` to the endpoint as `action` and returns the response body of
  // a 200. Errors name the action and the AWS error code: throttling, 5xx and
  // transport failures are kUnavailable (retryable; Retry-After honoured),
  // rejected credentials kPermissionDenied, a missing queue kNotFound, other
  // client errors kInvalidArgument. `timeout` bounds the whole request (longer
  // than a long poll's wait).
  absl::StatusOr<std::string> Call(std::string_view action, std::string body, absl::Duration timeout);

  // Makes a call on another thread give up promptly. Permanent.
  void Abort() { http_.Abort(); }

 private:
  const AwsConfig* config_;
  HttpClient http_;
  HttpRequest request_;
  HttpResponse response_;
};

}  // namespace recovery

#endif  // RECOVERY_AWS_AWS_H_
