#include "json/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// 0 = copy as is; otherwise the escape letter, or 'u' for \u00XX.
constexpr char EscapeFor(unsigned char c) {
  switch (c) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '\b':
      return 'b';
    case '\f':
      return 'f';
    case '\n':
      return 'n';
    case '\r':
      return 'r';
    case '\t':
      return 't';
    default:
      return c < 0x20 ? 'u' : 0;
  }
}

struct EscapeTable {
  char v[256];
  constexpr EscapeTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = EscapeFor(static_cast<unsigned char>(i));
  }
};
constexpr EscapeTable kEscapes;

}  // namespace

bool IsValidUtf8(std::string_view bytes) { return simdjson::validate_utf8(bytes.data(), bytes.size()); }

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const char e = kEscapes.v[c];
    if (e == 0) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    if (e == 'u') {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(u, 6);
    } else {
      const char u[2] = {'\\', e};
      out->append(u, 2);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendJsonStringLossy(std::string_view bytes, std::string* out) {
  if (IsValidUtf8(bytes)) {
    AppendJsonString(bytes, out);
    return;
  }
  // Keep ASCII, replace every non-ASCII byte: simple and never invalid.
  std::string cleaned;
  cleaned.reserve(bytes.size());
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) < 0x80) {
      cleaned.push_back(c);
    } else {
      cleaned.append("\xEF\xBF\xBD");
    }
  }
  AppendJsonString(cleaned, out);
}

void JsonObjectWriter::Key(std::string_view key) {
  if (!first_) out_->push_back(',');
  first_ = false;
  AppendJsonString(key, out_);
  out_->push_back(':');
}

JsonObjectWriter& JsonObjectWriter::Str(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonStringLossy(value, out_);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Int(std::string_view key, int64_t value) {
  Key(key);
  char digits[24];
  out_->append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Uint(std::string_view key, uint64_t value) {
  Key(key);
  char digits[24];
  out_->append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Double(std::string_view key, double value) {
  Key(key);
  if (!std::isfinite(value)) {
    out_->append("null");
  } else {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.17g", value);
    out_->append(buf, n);
  }
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Bool(std::string_view key, bool value) {
  Key(key);
  out_->append(value ? "true" : "false");
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Time(std::string_view key, absl::Time value) {
  Key(key);
  out_->push_back('"');
  AppendRfc3339(value, out_);
  out_->push_back('"');
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_->append(json);
  return *this;
}

}  // namespace recovery
