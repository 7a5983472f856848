// This machine's abseil (20220623) has its own absl::string_view, so
// absl::StrCat rejects std::string_view. These forward to absl with every
// string-like argument converted.
#ifndef RECOVERY_UTIL_STRINGS_H_
#define RECOVERY_UTIL_STRINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "util/strings.h"

namespace recovery {
namespace strings_internal {

template <typename T>
inline auto Arg(const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    std::string_view s = value;
    return absl::string_view(s.data(), s.size());
  } else {
    return value;
  }
}

}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::Arg(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::Arg(args)...);
}

// Joins string-like items with `separator`.
template <typename Container>
std::string Join(const Container& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out.append(separator);
    first = false;
    out.append(std::string_view(item));
  }
  return out;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
inline std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// The low `bytes` bytes of `v`, little-endian, into `out`; and back.
inline void PutLittleEndian(uint64_t v, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline uint64_t GetLittleEndian(const char* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace recovery

#endif  // RECOVERY_UTIL_STRINGS_H_
