#include "http/rate_limiter.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "recovery/status.h"
#include "util/strings.h"

namespace recovery {

RateLimiter::RateLimiter(double rate, double burst, absl::Duration max_wait, absl::Time start)
    : rate_(rate), burst_(burst), max_wait_(max_wait), tokens_(burst), last_(start) {}

absl::StatusOr<absl::Duration> RateLimiter::Reserve(absl::Time now) {
  if (rate_ <= 0) return absl::ZeroDuration();
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
      last_ = now;
    }
    tokens_ -= 1;
    wait = tokens_ < 0 ? absl::Seconds(-tokens_ / rate_) : absl::ZeroDuration();
    if (wait > max_wait_) tokens_ += 1;
  }
  if (wait > max_wait_) {
    return PausedError(StrCat("rate limit: the next request may leave in ", absl::FormatDuration(wait),
                              ", over rate_limit.max_wait (", absl::FormatDuration(max_wait_),
                              "); paused, run again later to resume"));
  }
  return wait;
}

absl::Status RateLimiter::Acquire(const ShardContext& context) {
  if (context.Stopping()) return absl::CancelledError("stopped");
  absl::StatusOr<absl::Duration> wait = Reserve(absl::Now());
  if (!wait.ok()) return wait.status();
  if (*wait > absl::ZeroDuration() && !context.Sleep(*wait)) return absl::CancelledError("stopped");
  return absl::OkStatus();
}

}  // namespace recovery
