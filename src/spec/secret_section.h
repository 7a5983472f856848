// A secret named in a job spec: "<key>" inline, "<key>_env", "<key>_file" or
// "<key>_cmd" (an argv array, with "<key>_cmd_timeout"); ResolveSecret reads it.
#ifndef RECOVERY_SPEC_SECRET_SECTION_H_
#define RECOVERY_SPEC_SECRET_SECTION_H_

#include <string>
#include <string_view>

#include "json/spec_reader.h"
#include "recovery/secret.h"

namespace recovery {

// The secret under `key` in `o`. A command's program given as a relative
// path ("./vault-get", "bin/token") is found from `base_dir` (the job file's
// directory); a bare name ("vault") on the PATH.
SecretRef ReadSecretSpec(SpecObject& o, std::string_view key, const std::string& base_dir);

// How many of the ways to give it are set: exactly one is wanted.
int SecretWays(const SecretRef& ref);

}  // namespace recovery

#endif  // RECOVERY_SPEC_SECRET_SECTION_H_
