// A credential that is fetched again when the API refuses it (a 401), shared
// by every client of a job: an OAuth2 access token (oauth2.h), or a secret a
// command prints (rotating_secret.h). RequestAuthorizer (http_auth.h) puts
// the current value on each request and tells it how the API answered.
#ifndef RECOVERY_HTTP_RENEWABLE_SECRET_H_
#define RECOVERY_HTTP_RENEWABLE_SECRET_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "util/redact.h"

namespace recovery {

// Thread-safe.
class RenewableSecret {
 public:
  virtual ~RenewableSecret() = default;

  struct Current {
    std::string value;
    uint64_t generation = 0;  // how many values were fetched before this one
    bool renewed = false;     // this call fetched it
  };
  // The value to send, fetched first (one caller at a time) when there is
  // none yet, it is about to expire, or the last one was refused. Errors
  // name what failed, never a secret.
  virtual absl::StatusOr<Current> Get() = 0;
  // The API refused the value of `generation`: true when another will be
  // fetched (ask again at once), false when a value fetched because of a
  // refusal was refused too (renewing again would not help).
  virtual bool Refused(uint64_t generation) = 0;
  // The API took the value of `generation`.
  virtual void Accepted(uint64_t generation) = 0;

  // Where `value` goes on a request: the header's name and content
  // ("Authorization", "Bearer …"), or, `in_query`, the query parameter's.
  struct Placement {
    std::string name, content;
    bool in_query = false;
  };
  virtual Placement Place(const std::string& value) const = 0;
  // Adds to `redactor` every form of the secrets seen since the call that
  // left `*seen` (start at 0).
  virtual void AddSecretsTo(Redactor* redactor, size_t* seen) const = 0;
  // What a refusal leads to, for the message of the retry it causes ("asking
  // the token endpoint for a new one").
  virtual std::string_view on_refusal() const = 0;
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_RENEWABLE_SECRET_H_
