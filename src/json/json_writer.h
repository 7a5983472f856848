// Compact JSON output: string escaping and a small object builder.
#ifndef RECOVERY_JSON_JSON_WRITER_H_
#define RECOVERY_JSON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace recovery {

bool IsValidUtf8(std::string_view bytes);

// Appends `s` as a quoted JSON string. `s` must be valid UTF-8; quotes,
// backslashes and control characters are escaped.
void AppendJsonString(std::string_view s, std::string* out);

// Appends `bytes` as a JSON string when valid UTF-8, else replaces invalid
// sequences with U+FFFD (for messages and logs, never for data).
void AppendJsonStringLossy(std::string_view bytes, std::string* out);

// Builds {"k":v,...} into a caller-owned string.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  JsonObjectWriter& Str(std::string_view key, std::string_view value);
  JsonObjectWriter& Int(std::string_view key, int64_t value);
  JsonObjectWriter& Uint(std::string_view key, uint64_t value);
  JsonObjectWriter& Double(std::string_view key, double value);
  JsonObjectWriter& Bool(std::string_view key, bool value);
  JsonObjectWriter& Time(std::string_view key, absl::Time value);
  JsonObjectWriter& Raw(std::string_view key, std::string_view json);  // already JSON
  void Close() { out_->push_back('}'); }

 private:
  void Key(std::string_view key);
  std::string* out_;
  bool first_ = true;
};

}  // namespace recovery

#endif  // RECOVERY_JSON_JSON_WRITER_H_
