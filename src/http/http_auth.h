// A job's HTTP credentials, shared by the HTTP source and the HTTP sink:
// resolved once from HttpAuth (static headers, a query parameter, OAuth2
// tokens, or a secret a command prints), then put on each request by a
// per-client RequestAuthorizer, which also says what a 401 means.
#ifndef RECOVERY_HTTP_HTTP_AUTH_H_
#define RECOVERY_HTTP_HTTP_AUTH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "http/http_client.h"
#include "http/oauth2.h"
#include "http/rotating_secret.h"
#include "recovery/http_source.h"
#include "util/field_errors.h"
#include "util/redact.h"

namespace recovery {

struct HttpCredentials {
  std::vector<HttpHeader> headers;      // bearer, header and basic secrets, marked as credentials
  std::string query_name, query_value;  // auth.type "query" (no value when a command prints it)
  // Sent per request, and fetched again when the API refuses it: OAuth2
  // tokens (auth.type "oauth2") or a secret a command prints (auth.*_cmd),
  // shared by every client.
  std::shared_ptr<RenewableSecret> renewable;
};

// Checks `auth`, adding each problem under `path` ("source", "sink").
void CheckHttpAuth(const HttpAuth& auth, std::string_view path, FieldErrors* errors);

// Resolves `auth` (checked already): the secrets it names are read, added to
// `redactor`, and an inline one is warned about in `warnings`. False, with
// the problem under `path`, when a secret cannot be had. `client` is for the
// OAuth2 token endpoint.
bool ResolveHttpAuth(const HttpAuth& auth, const HttpClientOptions& client, std::string_view path,
                     FieldErrors* errors, HttpCredentials* out, Redactor* redactor,
                     std::vector<std::string>* warnings);

// One client's use of a job's credentials. Not thread-safe: one per client.
class RequestAuthorizer {
 public:
  // `credentials` must outlive the authorizer.
  explicit RequestAuthorizer(const HttpCredentials& credentials) : credentials_(credentials) {}

  // Puts the credentials on `request`: headers, the query parameter, the
  // current renewable secret (fetched if need be). Every new secret is added
  // to `redactor`. `*renewed` is set when this call fetched a token or ran
  // the command. Errors: those of RenewableSecret::Get.
  absl::Status Apply(HttpRequest* request, Redactor* redactor, bool* renewed);

  // After an answer with `status` to a request Apply() prepared: a 401 that
  // a fresh token or secret may cure is kUnavailable with no wait (ask
  // again at once), naming the request through `redactor`; anything else is
  // OK (the caller classifies the status).
  absl::Status Answered(const HttpRequest& request, long status, const Redactor& redactor);

 private:
  const HttpCredentials& credentials_;
  size_t secrets_seen_ = 0;
  uint64_t generation_ = 0;  // of the renewable secret on the last request
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_AUTH_H_
