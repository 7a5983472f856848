// OAuth2 access tokens for the HTTP source (auth.type "oauth2"), shared by
// every shard of a job: fetched when first needed, refreshed a margin before
// they expire and once more when the API refuses one (401), one refresh at a
// time. With the refresh_token grant the refresh token lives in a file; a
// refresh holds an exclusive lock beside it (so the processes of one job on a
// host never spend the same refresh token twice, which can get the whole
// token family revoked), reads the newest token from the file first, and
// writes a rotated one back atomically before using the access token it came
// with.
#ifndef RECOVERY_HTTP_OAUTH2_H_
#define RECOVERY_HTTP_OAUTH2_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "http/http_client.h"
#include "http/renewable_secret.h"
#include "recovery/http_source.h"
#include "util/redact.h"
#include "util/strings.h"

namespace recovery {

// A 2xx answer of a token endpoint.
struct OAuth2Issued {
  std::string access_token;
  std::string refresh_token;  // empty unless it sent one
  absl::Duration lifetime = absl::InfiniteDuration();
};

// The token in a 2xx answer; Unavailable (with what is wrong) when it is not
// JSON or holds no access_token. An expires_in that is not a number of
// seconds (quoted or not) leaves the lifetime unknown (infinite).
absl::StatusOr<OAuth2Issued> ParseOAuth2Answer(std::string_view body);

// The "error" (at most 100 bytes) and the start of the "error_description"
// (at most 300) of a refusal; empty when it has none.
struct OAuth2Error {
  std::string error, description;
};
OAuth2Error ParseOAuth2Error(std::string_view body);

// Thread-safe.
class OAuth2Tokens : public RenewableSecret {
 public:
  // `options` checked already; `client` for the token endpoint (TLS, timeouts).
  OAuth2Tokens(HttpOAuth2 options, HttpClientOptions client);
  OAuth2Tokens(const OAuth2Tokens&) = delete;
  OAuth2Tokens& operator=(const OAuth2Tokens&) = delete;

  // A token valid for a while yet, fetched if need be (while one caller
  // renews a token that is still valid, the others keep using it). Errors:
  // kUnavailable (the token endpoint failed or did not answer: retry),
  // kUnauthenticated (it refused the grant twice, the secrets read anew in
  // between; every later call fails the same way without asking it again).
  // Messages name the token URL and the endpoint's error, never a secret.
  absl::StatusOr<Current> Get() override;
  // A refusal renews the token at the next Get(), unless a newer one exists
  // already; false when that token was itself fetched because the API
  // refused the one before it and has not been accepted since: the API
  // refuses fresh tokens.
  bool Refused(uint64_t generation) override;
  void Accepted(uint64_t generation) override;
  // "Authorization: Bearer <token>".
  Placement Place(const std::string& value) const override {
    return {"Authorization", StrCat("Bearer ", value)};
  }
  // The client secret, refresh and access tokens.
  void AddSecretsTo(Redactor* redactor, size_t* seen) const override;
  std::string_view on_refusal() const override {
    return "the access token was refused; asking the token endpoint for a new one";
  }

 private:
  using Issued = OAuth2Issued;
  // Exchanges the grant, and once more with the secrets read anew when the
  // endpoint refuses it; a second refusal is permanent.
  absl::StatusOr<Issued> Fetch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  absl::StatusOr<Issued> Exchange(bool reread) ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  absl::Status ReadSecrets(bool reread) ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  // Saves a rotated refresh token before its access token is used.
  absl::Status SaveRotated(const std::string& refresh_token) ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);

  const HttpOAuth2 options_;
  absl::Mutex refresh_mu_;  // held by the one caller renewing the token
  HttpClient client_ ABSL_GUARDED_BY(refresh_mu_);
  std::string client_secret_ ABSL_GUARDED_BY(refresh_mu_);
  std::string refresh_token_ ABSL_GUARDED_BY(refresh_mu_);

  mutable absl::Mutex mu_;
  std::string access_token_ ABSL_GUARDED_BY(mu_);
  absl::Time refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // renewed from then on
  absl::Time expires_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool refreshing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool refusal_pending_ ABSL_GUARDED_BY(mu_) = false;  // the next token replaces a refused one
  std::atomic<bool> after_refusal_{false};             // the current one did, and is not yet accepted
  absl::Status permanent_ ABSL_GUARDED_BY(mu_);        // the grant was refused
  std::vector<std::string> secrets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_OAUTH2_H_
