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
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "http/renewable_secret.h"
#include "recovery/http_source.h"
#include "recovery/secret.h"

namespace recovery {

// Thread-safe.
class RotatingSecret : public RenewableSecret {
 public:
  // `value`: what the command printed when the source was built.
  RotatingSecret(HttpAuth auth, std::string value);
  RotatingSecret(const RotatingSecret&) = delete;
  RotatingSecret& operator=(const RotatingSecret&) = delete;

  // Runs the command again when the last value was refused.
  absl::StatusOr<Current> Get() override;
  bool Refused(uint64_t generation) override;
  void Accepted(uint64_t generation) override;
  // The header that carries `value` for the auth type (bearer, header,
  // basic), or the query parameter (auth.type "query").
  Placement Place(const std::string& value) const override;
  // The command's values, and a basic secret's base64 form as sent.
  void AddSecretsTo(Redactor* redactor, size_t* seen) const override;
  std::string_view on_refusal() const override { return "the secret was refused; running its command again"; }

 private:
  void Seen(const std::string& value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const HttpAuth auth_;
  mutable absl::Mutex mu_;
  std::string value_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> secrets_ ABSL_GUARDED_BY(mu_);  // every form of every value, for redactors
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stale_ ABSL_GUARDED_BY(mu_) = false;          // refused: run the command before the next use
  bool after_refusal_ ABSL_GUARDED_BY(mu_) = false;  // the current value came from a refusal, unconfirmed
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_ROTATING_SECRET_H_
