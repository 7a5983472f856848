// Secrets (API tokens, passwords) are named by where they live and read only
// when the component that needs them is created: parsing a job spec, reading
// its state or planning it never touches them.
#ifndef RECOVERY_SECRET_H_
#define RECOVERY_SECRET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

// Exactly one of the fields is set for a secret that is given; all empty
// means "none".
struct SecretRef {
  std::string env;  // the environment variable that holds it
  std::string
      file;  // or a file that holds it (Docker and Kubernetes secrets); one trailing newline is ignored
  std::string value;  // or the secret itself: discouraged, since it then lives in a job file or in code
  // Or a command that prints it (a vault's client): its argv, run without a
  // shell, its standard output with surrounding white space trimmed. Run
  // again when the secret it gave is refused (an HTTP source's 401), so a
  // rotated secret is picked up.
  std::vector<std::string> command;
  absl::Duration command_timeout = absl::Seconds(30);  // then it is killed

  bool empty() const { return env.empty() && file.empty() && value.empty() && command.empty(); }
};

// The secret's value. InvalidArgument when more than one field is set;
// NotFound naming the variable, the file or the command (never the secret)
// when it is unset, unreadable, empty or the command fails (its exit status
// and the start of what it wrote to standard error); DeadlineExceeded when
// the command outlives its timeout.
RECOVERY_EXPORT absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref);

}  // namespace recovery

#endif  // RECOVERY_SECRET_H_
