#include "http/adaptive_limiter.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace recovery {
namespace {

constexpr double kLimitCut = 0.75;      // of requests in flight, on a 429 or 503
constexpr double kLatencyCut = 0.9;     // of requests in flight, when the server queues
constexpr double kRateCut = 0.85;       // of the sending rate, on a 429 or 503
constexpr double kRateGrowth = 0.012;   // of the rate per second, at least kMinRateGrowth
constexpr double kMinRateGrowth = 0.5;  // requests per second, per second
// The server queues when the latency's moving average is this far above its floor.
constexpr double kQueueing = 2.0;
constexpr absl::Duration kQueueingMargin = absl::Milliseconds(20);
// A waiter for a slot in flight looks again at least this often (the job may stop).
constexpr absl::Duration kSlotPoll = absl::Milliseconds(50);

}  // namespace

AdaptiveLimiter::AdaptiveLimiter(int max_in_flight) : max_(std::max(1, max_in_flight)) {}

double AdaptiveLimiter::limit() const {
  absl::MutexLock lock(&mu_);
  return limit_;
}

double AdaptiveLimiter::rate() const {
  absl::MutexLock lock(&mu_);
  if (quota_rate_ > 0 && (rate_ == 0 || quota_rate_ < rate_)) return quota_rate_;
  return rate_;
}

double AdaptiveLimiter::SendingRate(absl::Time now) {
  while (!recent_starts_.empty() && now - recent_starts_.front() > absl::Seconds(1))
    recent_starts_.pop_front();
  return static_cast<double>(recent_starts_.size());
}

absl::Duration AdaptiveLimiter::TryStart(absl::Time now) {
  absl::MutexLock lock(&mu_);
  bool for_slot = false;
  return TryStartLocked(now, &for_slot);
}

absl::Duration AdaptiveLimiter::TryStartLocked(absl::Time now, bool* for_slot) {
  *for_slot = false;
  if (now < paused_until_) return paused_until_ - now;
  if (in_flight_ >= static_cast<int>(limit_)) {
    *for_slot = true;
    return kSlotPoll;
  }
  double rate = rate_;
  if (quota_rate_ > 0 && now < quota_until_ && (rate == 0 || quota_rate_ < rate)) rate = quota_rate_;
  if (rate > 0) {
    if (next_send_ > now) return next_send_ - now;
    // A rate not used for a while does not save up a burst.
    next_send_ = std::max(next_send_, now - absl::Seconds(1) / rate) + absl::Seconds(1) / rate;
  }
  ++in_flight_;
  recent_starts_.push_back(now);
  SendingRate(now);  // drops what is older than a second
  return absl::ZeroDuration();
}

absl::StatusOr<absl::Time> AdaptiveLimiter::Start(const ShardContext& context) {
  while (true) {
    absl::Duration wait;
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      bool for_slot = false;
      wait = TryStartLocked(now, &for_slot);
      if (wait == absl::ZeroDuration()) return now;
      if (for_slot) {  // until a Finish frees one; the job may stop meanwhile
        if (context.Stopping()) return absl::CancelledError("the job is stopping");
        auto slot_free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return in_flight_ < static_cast<int>(limit_);
        };
        mu_.AwaitWithTimeout(absl::Condition(&slot_free), kSlotPoll);
        continue;
      }
    }
    if (!context.Sleep(std::min(wait, kSlotPoll))) return absl::CancelledError("the job is stopping");
  }
}

void AdaptiveLimiter::Cut(absl::Time started, absl::Time now, bool rate_too) {
  slow_start_ = false;
  if (started < last_cut_) return;  // sent before the last cut: that cut answered it
  last_cut_ = now;
  limit_ = std::max(1.0, limit_ * (rate_too ? kLimitCut : kLatencyCut));
  if (!rate_too) return;
  const double sending = SendingRate(now);
  const double base = rate_ > 0 ? std::min(rate_, std::max(sending, 1.0)) : std::max(sending, 1.0);
  rate_ = std::max(0.1, base * kRateCut);
}

void AdaptiveLimiter::Grow(absl::Time now) {
  const double dt = std::clamp(absl::ToDoubleSeconds(now - last_grow_), 0.0, 1.0);
  last_grow_ = now;
  limit_ = std::min(max_, limit_ + (slow_start_ ? 1.0 : 1.0 / limit_));
  if (rate_ > 0) {
    // Grows while it binds; one that does not (too few in flight to reach
    // it) stays near what is sent, so that it still means something.
    const double grown = rate_ + std::max(kMinRateGrowth, rate_ * kRateGrowth) * dt;
    rate_ = std::min(grown, std::max(rate_, SendingRate(now) * 1.5 + 1));
  }
}

void AdaptiveLimiter::ReadQuota(absl::Time now, const AdaptiveAnswer& a) {
  if (!a.quota_remaining || !a.quota_reset) return;
  const absl::Duration reset = std::max(*a.quota_reset, absl::Milliseconds(1));
  if (*a.quota_remaining < 1) {
    paused_until_ = std::max(paused_until_, now + reset);
    return;
  }
  // What remains, spread over what is left of the window.
  quota_rate_ = *a.quota_remaining / absl::ToDoubleSeconds(reset);
  quota_until_ = now + reset;
}

void AdaptiveLimiter::Finish(absl::Time started, absl::Time now, const AdaptiveAnswer& a) {
  absl::MutexLock lock(&mu_);
  --in_flight_;  // a waiter's condition is looked at again when the lock is let go
  ReadQuota(now, a);
  if (Throttled(a)) {
    Cut(started, now, /*rate_too=*/true);
    return;
  }
  if (a.status == 0) {  // no answer: a timeout or a reset, as from an overloaded server
    Cut(started, now, /*rate_too=*/false);
    return;
  }
  floor_ = std::min(floor_, a.latency);
  const double ms = absl::ToDoubleMilliseconds(a.latency);
  ewma_ms_ = ewma_ms_ == 0 ? ms : 0.9 * ewma_ms_ + 0.1 * ms;
  const double floor_ms = absl::ToDoubleMilliseconds(floor_);
  if (ewma_ms_ > kQueueing * floor_ms && ewma_ms_ - floor_ms > absl::ToDoubleMilliseconds(kQueueingMargin)) {
    Cut(started, now, /*rate_too=*/false);
    return;
  }
  Grow(now);
}

}  // namespace recovery
