// AWS plumbing shared by the SQS source and sink, without an SDK: credentials
// and region found in the usual AWS order, requests signed by libcurl (SigV4),
// and errors read from JSON or XML bodies.
#ifndef RECOVERY_AWS_AWS_H_
#define RECOVERY_AWS_AWS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "http/http_client.h"
#include "recovery/sqs.h"
#include "util/field_errors.h"
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
//  1. `process`, a command given in the job spec, or `explicit_*_env`: names
//     of environment variables given in the job spec;
//  2. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN;
//  3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//     ~/.aws/credentials), profile `profile`, else AWS_PROFILE, else "default"
//     (its key pair, or its credential_process);
//  4. that profile's credential_process in the config file (AWS_CONFIG_FILE,
//     else ~/.aws/config).
struct AwsCredentialLookup {
  std::string access_key_id_env;
  std::string secret_access_key_env;
  std::string session_token_env;
  std::string profile;
  // Before them all: a command printing credentials as the AWS CLI's
  // credential_process does (also honoured in a profile of the credentials
  // or config file), run again at each lookup.
  std::vector<std::string> process;
  absl::Duration process_timeout = absl::Seconds(30);
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

// Credentials that can be looked up again: when AWS refuses them as expired
// or unknown, a client asks for fresh ones (a rotated session token, a
// rewritten credentials file). Thread-safe.
class AwsCredentialSource {
 public:
  AwsCredentialSource(AwsCredentialLookup lookup, GetEnv getenv, AwsCredentials initial);
  // Credentials that are never looked up again (tests, tools).
  static std::shared_ptr<AwsCredentialSource> Fixed(AwsCredentials credentials);

  // The current credentials and their generation; `redactor` (optional) gets
  // a redactor that knows every secret seen so far.
  AwsCredentials Current(uint64_t* generation, Redactor* redactor) const;
  uint64_t generation() const;
  // Looks the credentials up again unless a newer generation than `seen`
  // exists already. True when there are credentials newer than `seen`.
  bool Refresh(uint64_t seen);

 private:
  const AwsCredentialLookup lookup_;
  const GetEnv getenv_;
  mutable absl::Mutex mu_;
  AwsCredentials current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  Redactor redactor_ ABSL_GUARDED_BY(mu_);
};

// Everything needed to call one AWS service.
struct AwsConfig {
  std::string service = "sqs";
  std::string target_prefix = "AmazonSQS";  // X-Amz-Target: <prefix>.<Action>
  std::string region;
  std::string endpoint;  // "https://sqs.<region>.amazonaws.com/" unless overridden
  HttpClientOptions http;
  std::shared_ptr<AwsCredentialSource> credentials;
};

// Adds the problems of `options` to `errors` under `path` and the risky
// settings to `warnings`. Reads no environment.
void CheckAwsOptions(const AwsOptions& options, std::string_view path, FieldErrors* errors,
                     std::vector<std::string>* warnings);

// The config for `options`, with the region and the credentials resolved;
// nullopt with the problems added under `path` ("region", "credentials").
std::optional<AwsConfig> ResolveAwsConfig(const AwsOptions& options, std::string_view path,
                                          const GetEnv& getenv, FieldErrors* errors);

// The process's environment, as a GetEnv.
const char* ProcessEnv(const char* name);

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
  // Sends request_.body as `action`.
  absl::StatusOr<std::string> CallOnce(std::string_view action, absl::Duration timeout);
  // Takes the newest credentials when the source has refreshed them.
  void Sync();

  const AwsConfig* config_;
  uint64_t generation_ = 0;  // of `credentials_`
  AwsCredentials credentials_;
  Redactor redactor_;
  bool last_error_stale_ = false;  // the last call's credentials were refused as stale
  HttpClient http_;
  HttpRequest request_;
  HttpResponse response_;
};

}  // namespace recovery

#endif  // RECOVERY_AWS_AWS_H_
