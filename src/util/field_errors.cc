#include "util/field_errors.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "util/strings.h"

namespace recovery {

void FieldErrors::Add(std::string_view path, std::string_view message) {
  std::string error = StrCat(path, ": ", message);
  if (std::find(list_.begin(), list_.end(), error) == list_.end()) list_.push_back(std::move(error));
}

absl::Status FieldErrors::ToStatus(std::string_view what) const {
  if (list_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(what, ": ", list_.size() == 1 ? "" : StrCat(list_.size(), " errors:\n"), Join(list_, "\n")));
}

std::string JoinPath(std::string_view prefix, std::string_view field) {
  return prefix.empty() ? std::string(field) : StrCat(prefix, ".", field);
}

void CheckRequired(std::string_view value, std::string_view path, FieldErrors* errors) {
  if (value.empty()) errors->Add(path, "required but missing");
}

void CheckPointer(std::string_view pointer, std::string_view path, FieldErrors* errors) {
  if (!pointer.empty() && pointer[0] != '/') {
    errors->Add(path, StrCat("\"", pointer, "\" is not a JSON pointer (RFC 6901: \"\" or \"/a/b\")"));
  }
}

}  // namespace recovery
