// Errors that name the field they are about ("source.auth.token_env: …"),
// collected so that one pass reports every problem of a configuration.
#ifndef RECOVERY_UTIL_FIELD_ERRORS_H_
#define RECOVERY_UTIL_FIELD_ERRORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace recovery {

class FieldErrors {
 public:
  // Adds "path: message", once (a section may be checked twice).
  void Add(std::string_view path, std::string_view message);
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<std::string>& list() const { return list_; }
  // InvalidArgument listing every error, one per line; OK when none.
  absl::Status ToStatus(std::string_view what) const;

 private:
  std::vector<std::string> list_;
};

// "prefix.field", or "field" when the prefix is empty.
std::string JoinPath(std::string_view prefix, std::string_view field);

// The checks several sections share: a value that must be given, and a JSON
// pointer (RFC 6901: "" or "/a/b").
void CheckRequired(std::string_view value, std::string_view path, FieldErrors* errors);
void CheckPointer(std::string_view pointer, std::string_view path, FieldErrors* errors);

}  // namespace recovery

#endif  // RECOVERY_UTIL_FIELD_ERRORS_H_
