#include "recovery/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/strings.h"

namespace recovery {
namespace {
constexpr char kRetryAfterUrl[] = "recovery/retry-after-us";
constexpr char kPausedUrl[] = "recovery/paused";
constexpr char kLeaseLostUrl[] = "recovery/lease-lost";
constexpr char kCursorExpiredUrl[] = "recovery/cursor-expired";
}  // namespace

absl::Status PausedError(std::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(ToAbsl(message));
  s.SetPayload(kPausedUrl, absl::Cord("1"));
  return s;
}

bool IsPaused(const absl::Status& status) { return status.GetPayload(kPausedUrl).has_value(); }

absl::Status LeaseLostError(std::string_view message) {
  absl::Status s = absl::AbortedError(ToAbsl(message));
  s.SetPayload(kLeaseLostUrl, absl::Cord("1"));
  return s;
}

bool IsLeaseLost(const absl::Status& status) { return status.GetPayload(kLeaseLostUrl).has_value(); }

absl::Status CursorExpiredError(std::string_view message) {
  absl::Status s = absl::FailedPreconditionError(ToAbsl(message));
  s.SetPayload(kCursorExpiredUrl, absl::Cord("1"));
  return s;
}

bool IsCursorExpired(const absl::Status& status) { return status.GetPayload(kCursorExpiredUrl).has_value(); }

bool IsTransient(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

void SetRetryAfter(absl::Status& status, absl::Duration delay) {
  status.SetPayload(kRetryAfterUrl, absl::Cord(StrCat(absl::ToInt64Microseconds(delay))));
}

std::optional<absl::Duration> GetRetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterUrl);
  if (!payload) return std::nullopt;
  int64_t micros;
  if (!absl::SimpleAtoi(std::string(*payload), &micros)) return std::nullopt;
  return absl::Microseconds(micros);
}

}  // namespace recovery
