// Keeps secrets out of logs, errors, checkpoints and dead letters.
#ifndef RECOVERY_UTIL_REDACT_H_
#define RECOVERY_UTIL_REDACT_H_

#include <string>
#include <string_view>
#include <vector>

namespace recovery {

class Redactor {
 public:
  // Secrets shorter than 4 bytes are ignored: redacting "a" would mangle text
  // while hiding nothing.
  void Add(std::string_view secret);
  // `text` with every occurrence of every secret (raw or URL-encoded) replaced
  // by "<redacted>".
  std::string Redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }

 private:
  std::vector<std::string> secrets_;
};

}  // namespace recovery

#endif  // RECOVERY_UTIL_REDACT_H_
