#include "http/rotating_secret.h"

#include "absl/strings/escaping.h"
#include "util/strings.h"

namespace recovery {

RotatingSecret::RotatingSecret(HttpAuth auth, std::string value) : auth_(std::move(auth)) {
  absl::MutexLock lock(&mu_);
  value_ = std::move(value);
  Seen(value_);
}

void RotatingSecret::Seen(const std::string& value) {
  secrets_.push_back(value);
  const Placement p = Place(value);
  secrets_.push_back(p.content);
  if (auth_.type == HttpAuthType::kBasic) secrets_.push_back(p.content.substr(6));  // after "Basic "
}

absl::StatusOr<RenewableSecret::Current> RotatingSecret::Get() {
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
    Seen(value_);
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

RenewableSecret::Placement RotatingSecret::Place(const std::string& value) const {
  switch (auth_.type) {
    case HttpAuthType::kBearer:
      return {"Authorization", StrCat("Bearer ", value)};
    case HttpAuthType::kBasic:
      return {"Authorization",
              StrCat("Basic ", absl::Base64Escape(ToAbsl(StrCat(auth_.username, ":", value))))};
    case HttpAuthType::kQuery:
      return {auth_.name, value, /*in_query=*/true};
    default:
      return {auth_.name, value};
  }
}

void RotatingSecret::AddSecretsTo(Redactor* redactor, size_t* seen) const {
  absl::MutexLock lock(&mu_);
  for (; *seen < secrets_.size(); ++*seen) redactor->Add(secrets_[*seen]);
}

}  // namespace recovery
