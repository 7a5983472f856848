// An OAuth2 token endpoint on a loopback port (cpp-httplib), for tests of
// auth.type "oauth2": it issues access tokens that live `lifetime`, for the
// client_credentials grant (with the client's id and secret, in the body or
// as HTTP basic auth) and the refresh_token grant, rotating refresh tokens
// if asked. The simulated API asks it which bearer tokens are good
// (SimulatedApiOptions::authorize = server.Authorizer()).
#ifndef RECOVERY_TESTS_TESTING_TOKEN_SERVER_H_
#define RECOVERY_TESTS_TESTING_TOKEN_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace recovery {
namespace testing {

struct TokenServerOptions {
  absl::Duration lifetime = absl::Seconds(2);  // expires_in of every access token
  std::string client_id = "recovery-test-client";
  std::string client_secret = "client-s3cret-value";
  std::string refresh_token;  // the refresh token it accepts at first; empty: no refresh_token grant
  // Each refresh answers with a new refresh token. The one it replaced stays
  // good until the new one is first used (the grace most providers give),
  // unless `strict`: then it is refused at once with invalid_grant.
  bool rotate = false;
  bool strict = false;
};

class TokenServer {
 public:
  explicit TokenServer(TokenServerOptions options);
  ~TokenServer();  // stops the server
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  std::string url() const;  // http://127.0.0.1:<port>/oauth/token
  // Whether an Authorization header carries a token it issued that has not
  // expired or been revoked; for the simulated API.
  std::function<bool(std::string_view authorization)> Authorizer();
  // Every token issued so far is refused from now on.
  void RevokeAll();
  // Spends the current refresh token as a client would, and forgets the
  // answer: what a client killed between a refresh and saving the rotated
  // token leaves behind.
  void RefreshAndForget();

  int tokens_issued() const;          // access tokens
  int requests() const;               // to the token endpoint, answered or refused
  int refused() const;                // refused with an OAuth2 error
  std::string refresh_token() const;  // the newest refresh token

 private:
  struct Answer {
    int status;
    std::string body;
  };
  Answer Grant(const std::map<std::string, std::string>& form, const std::string& authorization);
  Answer Refresh(const std::string& token) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Issue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TokenServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Time> access_ ABSL_GUARDED_BY(mu_);  // token -> expiry
  std::string refresh_ ABSL_GUARDED_BY(mu_);                       // the newest
  std::string previous_refresh_ ABSL_GUARDED_BY(mu_);              // still good in the grace
  bool refresh_used_ ABSL_GUARDED_BY(mu_) = false;                 // the newest was spent once
  int issued_ ABSL_GUARDED_BY(mu_) = 0;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  int rotations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_TOKEN_SERVER_H_
