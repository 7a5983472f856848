// Strict reading of JSON configuration: every error names its JSON path, and
// keys nobody asked for are reported as unknown (with a suggestion).
#ifndef RECOVERY_JSON_SPEC_READER_H_
#define RECOVERY_JSON_SPEC_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "json/describe.h"
#include "simdjson.h"
#include "util/field_errors.h"

namespace recovery {

// A job spec's errors, each naming its JSON path.
using SpecErrors = FieldErrors;

// Reads one JSON object. Call Finish() after the last read to report unknown keys.
class SpecObject {
 public:
  // Reports "expected object" and reads nothing when `value` is not one.
  SpecObject(simdjson::dom::element value, std::string path, SpecErrors* errors);

  bool valid() const { return valid_; }
  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const;
  SpecErrors* errors() const { return errors_; }
  bool Has(std::string_view key) const;

  std::optional<simdjson::dom::element> Value(std::string_view key, bool required = false);
  std::optional<std::string> String(std::string_view key, bool required = false);
  std::optional<int64_t> Int(std::string_view key, bool required, int64_t min, int64_t max);
  std::optional<double> Double(std::string_view key, bool required, double min, double max);
  std::optional<bool> Bool(std::string_view key, bool required = false);
  std::optional<absl::Time> Time(std::string_view key, bool required = false);  // RFC 3339
  // "30s", "1h30m", "2d"; `min` inclusive.
  std::optional<absl::Duration> Duration(std::string_view key, bool required, absl::Duration min);
  // One of `choices`; returns its index.
  std::optional<int> Enum(std::string_view key, bool required, const std::vector<std::string_view>& choices);
  std::optional<SpecObject> Object(std::string_view key, bool required = false);
  // An object of free-form names to strings (query parameters, headers), in order.
  std::vector<std::pair<std::string, std::string>> StringMap(std::string_view key);
  std::optional<simdjson::dom::array> Array(std::string_view key, bool required = false);

  void Finish();
  // Finish() will not report the keys nobody read: for a section whose
  // reader this build of the library left out.
  void SkipUnread() { skip_unread_ = true; }

 private:
  void Error(std::string_view key, std::string_view message);
  std::optional<simdjson::dom::element> Lookup(std::string_view key, bool required);

  simdjson::dom::object object_;
  std::string path_;
  SpecErrors* errors_;
  bool valid_ = false;
  bool skip_unread_ = false;
  std::vector<std::string> seen_;
};

}  // namespace recovery

#endif  // RECOVERY_JSON_SPEC_READER_H_
