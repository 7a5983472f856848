// Any bytes as a job spec: a list of errors or a valid spec, never a crash.
// Validation finds everything parsing does (and may find more: it also
// resolves the secrets and credentials the spec names, which parsing never reads).
#include <cstdint>
#include <string_view>

#include "recovery/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> errors = recovery::ValidateJobSpec(text);
  absl::StatusOr<recovery::JobSpec> spec = recovery::JobSpec::Parse(text);
  if (!spec.ok() && errors.empty()) __builtin_trap();  // the two entry points must agree
  return 0;
}
