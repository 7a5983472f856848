#include "util/time_format.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// well-known derivation of era arithmetic).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, int n, int* value) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

void AppendDigits(uint64_t v, int width, std::string* out) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, width);
}

}  // namespace

std::optional<absl::Time> ParseRfc3339(std::string_view s) {
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(s, &pos, 4, &year) || !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &month) ||
      !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &day)) {
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!Digits(s, &pos, 2, &hour) || !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &minute) ||
      !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > static_cast<int>(DaysInMonth(year, month)) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!Digits(s, &pos, 2, &oh) || !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (second == 60) second = 59;  // a leap second folds onto the one before
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return absl::FromUnixSeconds(seconds) + absl::Microseconds(micros);
}

void AppendRfc3339(absl::Time t, std::string* out) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    out->append(t == absl::InfinitePast() ? "-infinity" : "infinity");
    return;
  }
  const int64_t micros_total = absl::ToUnixMicros(t);
  int64_t seconds = micros_total / 1000000;
  int64_t micros = micros_total % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t sod = seconds % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (y < 0 || y > 9999) {  // outside RFC 3339: fall back to absl
    out->append(absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone()));
    return;
  }
  AppendDigits(y, 4, out);
  out->push_back('-');
  AppendDigits(m, 2, out);
  out->push_back('-');
  AppendDigits(d, 2, out);
  out->push_back('T');
  AppendDigits(sod / 3600, 2, out);
  out->push_back(':');
  AppendDigits(sod / 60 % 60, 2, out);
  out->push_back(':');
  AppendDigits(sod % 60, 2, out);
  if (micros != 0) {
    out->push_back('.');
    if (micros % 1000 == 0) {
      AppendDigits(micros / 1000, 3, out);
    } else {
      AppendDigits(micros, 6, out);
    }
  }
  out->push_back('Z');
}

bool IsCanonicalRfc3339(std::string_view text) {
  if (text.size() != 20 && text.size() != 24 && text.size() != 27) return false;
  if (text[10] != 'T' || text[17] == '6' || text.back() != 'Z') return false;  // second 60: a leap second
  if (text.size() == 20) return true;
  // Three digits unless they would all be zero; six unless the last three would be.
  return text[19] == '.' && text.substr(text.size() - 4, 3) != "000";
}

std::string FormatRfc3339(absl::Time t) {
  std::string out;
  AppendRfc3339(t, &out);
  return out;
}

std::string FormatCompactUtc(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

std::optional<absl::Time> ParseEpoch(std::string_view s, EpochUnit unit) {
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    ++pos;
  }
  __int128 whole = 0;
  int whole_digits = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    whole = whole * 10 + (s[pos] - '0');
    if (++whole_digits > 19) return std::nullopt;
    ++pos;
  }
  if (whole_digits == 0) return std::nullopt;
  // Fraction of the unit, kept to the nanosecond.
  int64_t frac_nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = unit == EpochUnit::kSeconds ? 100000000 : unit == EpochUnit::kMilliseconds ? 100000 : 100;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t unit_nanos = unit == EpochUnit::kSeconds        ? 1000000000
                             : unit == EpochUnit::kMilliseconds ? 1000000
                                                                : 1000;
  const __int128 nanos = whole * unit_nanos + frac_nanos;
  // Keep to years 0..9999, well inside what absl::Time represents.
  constexpr __int128 kLimit = static_cast<__int128>(253402300800) * 1000000000;
  if (nanos > kLimit) return std::nullopt;
  const int64_t n = static_cast<int64_t>(negative ? -nanos : nanos);
  return absl::FromUnixNanos(n);
}

std::optional<absl::Duration> ParseDurationText(std::string_view text) {
  if (text.size() > 1 && text.back() == 'd') {
    int64_t days;
    if (!absl::SimpleAtoi(ToAbsl(text.substr(0, text.size() - 1)), &days) || days < 0 || days > 100000) {
      return std::nullopt;
    }
    return absl::Hours(24 * days);
  }
  absl::Duration d;
  if (!absl::ParseDuration(ToAbsl(text), &d)) return std::nullopt;
  return d;
}

}  // namespace recovery
