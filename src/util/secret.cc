#include "recovery/secret.h"

#include <cstdlib>

#include "util/file.h"
#include "util/strings.h"

namespace recovery {

absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref) {
  const int given = !ref.env.empty() + !ref.file.empty() + !ref.value.empty();
  if (given > 1) return absl::InvalidArgumentError("give one of env, file or value, not several");
  if (!ref.value.empty()) return ref.value;
  if (!ref.env.empty()) {
    const char* v = std::getenv(ref.env.c_str());
    if (v == nullptr || *v == '\0') {
      return absl::NotFoundError(StrCat("environment variable ", ref.env, " is not set"));
    }
    return std::string(v);
  }
  if (!ref.file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(ref.file);
    if (!text.ok()) {
      return absl::NotFoundError(
          StrCat("secret file ", ref.file, " cannot be read: ", text.status().message()));
    }
    std::string value = *std::move(text);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) return absl::NotFoundError(StrCat("secret file ", ref.file, " is empty"));
    return value;
  }
  return absl::NotFoundError("no secret given");
}

}  // namespace recovery
