// Secrets (API tokens, passwords) are named by where they live and read only
// when the component that needs them is created: parsing a job spec, reading
// its state or planning it never touches them.
#ifndef RECOVERY_SECRET_H_
#define RECOVERY_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "recovery/export.h"

namespace recovery {

// Exactly one of the fields is set for a secret that is given; all empty
// means "none".
struct SecretRef {
  std::string env;  // the environment variable that holds it
  std::string
      file;  // or a file that holds it (Docker and Kubernetes secrets); one trailing newline is ignored
  std::string value;  // or the secret itself: discouraged, since it then lives in a job file or in code

  bool empty() const { return env.empty() && file.empty() && value.empty(); }
};

// The secret's value. InvalidArgument when more than one field is set;
// NotFound naming the variable or the file (never its content) when it is
// unset, unreadable or empty.
RECOVERY_EXPORT absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref);

}  // namespace recovery

#endif  // RECOVERY_SECRET_H_
