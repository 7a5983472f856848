// An HTTP auth secret that a command prints (auth.token_cmd and the
// like), shared by every shard of a job: run once when the source or sink is built,
// and once more when the API refuses the value (a 401), so that a secret the
// vault rotated mid-recovery is picked up without a restart. A value fetched
// because of a refusal and refused too is final: the 401 then fails the
// shard, as with any other secret.
#ifndef RECOVERY_HTTP_ROTATING_SECRET_H_
#define RECOVERY_HTTP_ROTATING_SECRET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recovery/http_source.h"
#include "recovery/secret.h"

namespace recovery {

// Thread-safe.
class RotatingSecret {
 public:
  // `value`: what the command printed when the source was built.
  RotatingSecret(HttpAuth auth, std::string value) : auth_(std::move(auth)), value_(std::move(value)) {}
  RotatingSecret(const RotatingSecret&) = delete;
  RotatingSecret& operator=(const RotatingSecret&) = delete;

  struct Current {
    std::string value;
    uint64_t generation = 0;  // how many times the command ran before this value
    bool rerun = false;       // this call ran the command again
  };
  // The value to send; runs the command again (one caller at a time) when
  // the last value was refused.
  absl::StatusOr<Current> Get();
  // The API refused the value of `generation`: true when another will be
  // fetched (ask again), false when a value fetched after a refusal was
  // refused too.
  bool Refused(uint64_t generation);
  // The API took the value of `generation`.
  void Accepted(uint64_t generation);

  // The header that carries `value`: name and content ("Authorization",
  // "Bearer …"), and the other forms of the secret to redact; for a query
  // secret, the parameter's name and the value.
  std::pair<std::string, std::string> Header(const std::string& value) const;
  // The secret goes in a query parameter (auth.type "query"), not a header.
  bool in_query() const { return auth_.type == HttpAuthType::kQuery; }

 private:
  const HttpAuth auth_;
  absl::Mutex mu_;
  std::string value_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stale_ ABSL_GUARDED_BY(mu_) = false;          // refused: run the command before the next use
  bool after_refusal_ ABSL_GUARDED_BY(mu_) = false;  // the current value came from a refusal, unconfirmed
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_ROTATING_SECRET_H_
