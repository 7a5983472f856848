// Fast RFC 3339 and epoch conversions for the mapper's hot path
// (absl::ParseTime/FormatTime are general and an order of magnitude slower).
#ifndef RECOVERY_UTIL_TIME_FORMAT_H_
#define RECOVERY_UTIL_TIME_FORMAT_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace recovery {

// "2026-11-18T10:00:00Z", "2026-11-18T10:00:00.123456+02:00", lower-case t/z
// and a space separator accepted; fractions beyond microseconds truncated.
std::optional<absl::Time> ParseRfc3339(std::string_view text);

// UTC, "Z", with 3 or 6 fraction digits only when needed.
void AppendRfc3339(absl::Time t, std::string* out);
// Whether `text`, which ParseRfc3339 accepted, is already what AppendRfc3339
// writes for its time (UTC, 'T' and 'Z', no fraction, or three or six digits
// whose last three are not all zero, no leap second), so a copy of it can
// stand for the formatting. Conservative: false is always safe.
bool IsCanonicalRfc3339(std::string_view text);
std::string FormatRfc3339(absl::Time t);

// "20261118T100000Z": compact and safe in file names.
std::string FormatCompactUtc(absl::Time t);

enum class EpochUnit { kSeconds, kMilliseconds, kMicroseconds };

// A decimal number (optional sign and fraction; an exponent is refused) in
// `unit` since the Unix epoch.
std::optional<absl::Time> ParseEpoch(std::string_view text, EpochUnit unit);

// Durations as absl writes them ("90s", "1h30m", "250ms") plus whole days ("2d").
std::optional<absl::Duration> ParseDurationText(std::string_view text);

}  // namespace recovery

#endif  // RECOVERY_UTIL_TIME_FORMAT_H_
