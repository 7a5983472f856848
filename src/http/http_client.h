// One libcurl easy handle and the policies around it: timeouts, TLS, a
// response size cap enforced while reading, and redirects followed by hand so
// that credentials never reach another origin.
#ifndef RECOVERY_HTTP_HTTP_CLIENT_H_
#define RECOVERY_HTTP_HTTP_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "util/redact.h"

namespace recovery {

struct HttpClientOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration timeout = absl::Seconds(60);  // the whole request
  size_t max_response_bytes = 64u << 20;
  int max_redirects = 5;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's CA bundle
};

struct HttpHeader {
  std::string name;
  std::string value;
  bool credential = false;  // dropped when a redirect leaves the origin
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;
  // A query parameter that carries a credential: removed when a redirect
  // leaves the origin.
  std::string credential_query_param;
  // AWS Signature Version 4, computed by libcurl: "aws:amz:REGION:SERVICE"
  // and the key pair. Dropped when a redirect leaves the origin.
  std::string aws_sigv4;
  std::string aws_access_key_id;
  std::string aws_secret_access_key;
  // Overrides the client's whole-request timeout when positive.
  absl::Duration timeout = absl::ZeroDuration();
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;  // with 64 spare bytes of capacity for in-place parsing
  std::string url;   // after redirects

  // The last value of a header (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

// A Retry-After header's wait: seconds or an HTTP-date; nullopt when it is neither.
std::optional<absl::Duration> ParseRetryAfter(const std::string& value);

// Not thread-safe: one per shard reader. Keeps connections alive between calls.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `request`, following redirects. Any HTTP status is a success
  // here (the caller classifies it); transport failures are kUnavailable or
  // kDeadlineExceeded (retryable), kOutOfRange for a response over the cap,
  // kFailedPrecondition for TLS verification, kInvalidArgument for a bad URL.
  // Messages show URLs through `redactor`.
  absl::Status Perform(const HttpRequest& request, HttpResponse* response, const Redactor& redactor);

  // Makes a Perform() running on another thread give up promptly (kCancelled).
  // Thread-safe; permanent for this client.
  void Abort() { aborted_.store(true); }

 private:
  absl::Status PerformOnce(const HttpRequest& request, HttpResponse* response, const Redactor& redactor);

  HttpClientOptions options_;
  void* curl_;  // CURL*
  std::atomic<bool> aborted_{false};
};

// `url` resolved against `base` (a Location header).
std::string ResolveUrl(const std::string& base, const std::string& url);
// True when both URLs have the same scheme, host and port.
bool SameOrigin(const std::string& a, const std::string& b);
// `url` without the query parameter `name`.
std::string RemoveQueryParam(const std::string& url, std::string_view name);
// `url` with `name=value` appended to its query (both URL-encoded).
std::string AddQueryParam(const std::string& url, std::string_view name, std::string_view value);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_CLIENT_H_
