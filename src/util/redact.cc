#include "util/redact.h"

#include <algorithm>

#include "util/strings.h"

namespace recovery {

void Redactor::Add(std::string_view secret) {
  if (secret.size() < 4) return;
  for (const std::string& form : {std::string(secret), UrlEncode(secret)}) {
    if (std::find(secrets_.begin(), secrets_.end(), form) == secrets_.end()) secrets_.push_back(form);
  }
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::Redact(std::string_view text) const {
  std::string out(text);
  for (const std::string& secret : secrets_) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "<redacted>");
      pos += 10;
    }
  }
  return out;
}

}  // namespace recovery
