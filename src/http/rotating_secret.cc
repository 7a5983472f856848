#include "http/rotating_secret.h"

#include "absl/strings/escaping.h"
#include "util/strings.h"

namespace recovery {

absl::StatusOr<RotatingSecret::Current> RotatingSecret::Get() {
  absl::MutexLock lock(&mu_);  // held while the command runs: one run for all shards
  bool rerun = false;
  if (stale_) {
    absl::StatusOr<std::string> fresh = ResolveSecret(auth_.secret);
    if (!fresh.ok()) {
      return absl::Status(fresh.status().code(),
                          ToAbsl(StrCat("auth: running the secret's command again after the server "
                                        "refused it: ",
                                        fresh.status().message())));
    }
    value_ = *std::move(fresh);
    ++generation_;
    stale_ = false;
    rerun = true;
  }
  return Current{value_, generation_, rerun};
}

bool RotatingSecret::Refused(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (generation != generation_ || stale_) return true;  // a newer value exists, or is on its way
  if (after_refusal_) return false;                      // a fresh value refused too
  stale_ = true;
  after_refusal_ = true;
  return true;
}

void RotatingSecret::Accepted(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (generation == generation_) after_refusal_ = false;
}

std::pair<std::string, std::string> RotatingSecret::Header(const std::string& value) const {
  switch (auth_.type) {
    case HttpAuthType::kBearer:
      return {"Authorization", StrCat("Bearer ", value)};
    case HttpAuthType::kBasic:
      return {"Authorization",
              StrCat("Basic ", absl::Base64Escape(ToAbsl(StrCat(auth_.username, ":", value))))};
    default:
      return {auth_.name, value};
  }
}

}  // namespace recovery
