// Any bytes as a token endpoint's answer: a token taken (never empty, its
// lifetime never negative) or refused with a reason; the error of a refusal
// read within its bounds.
#include <cstdint>
#include <string>

#include "http/oauth2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<recovery::OAuth2Issued> issued = recovery::ParseOAuth2Answer(body);
  if (issued.ok()) {
    if (issued->access_token.empty()) __builtin_trap();
    if (issued->lifetime < absl::ZeroDuration()) __builtin_trap();
  } else if (issued.status().message().empty()) {
    __builtin_trap();
  }
  const recovery::OAuth2Error error = recovery::ParseOAuth2Error(body);
  if (error.error.size() > 100 || error.description.size() > 300) __builtin_trap();
  return 0;
}
