// Adaptive concurrency (`concurrency: {"max": N}`): how many requests a job
// keeps in flight to one API, and how fast it sends them, learned from the
// answers rather than guessed by the operator. One limiter serves every
// shard of a job, so the API sees one budget.
//
// Two limits, both additive-increase / multiplicative-decrease:
// - requests in flight, from 1 to the job's concurrency: doubled per round
//   trip until the first sign of load (slow start), then grown by one per
//   round trip; cut by a quarter on a 429 or 503, and by a tenth when the
//   latency climbs well above its observed floor (the server queues);
// - a request rate, unbounded until the first 429 or 503, then set under the
//   rate measured when it came (a quota counts requests per second, and a
//   single connection may already exceed it), grown by a fraction of a
//   request per second each second, cut by 15 % at the next one.
// One answer cuts once: answers to requests sent before the last cut do not
// cut again. Quota headers (RateLimit-Remaining/-Reset of the IETF draft,
// X-RateLimit-*) cap the rate at what remains over what is left of the
// window, and pause every request until the reset when nothing remains. (A
// 429's Retry-After holds back the request it answered, through the engine's
// retry; the others are slowed by the cut.)
#ifndef RECOVERY_HTTP_ADAPTIVE_LIMITER_H_
#define RECOVERY_HTTP_ADAPTIVE_LIMITER_H_

#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recovery/source.h"

namespace recovery {

// What an answer tells the limiter.
struct AdaptiveAnswer {
  int status = 0;  // 0: no answer (a timeout, a reset)
  absl::Duration latency;
  std::optional<double> quota_remaining;      // requests left in the quota's window
  std::optional<absl::Duration> quota_reset;  // until the window resets
};

class AdaptiveLimiter {
 public:
  // Up to `max_in_flight` requests at once (at least 1).
  explicit AdaptiveLimiter(int max_in_flight);

  // At `now`: zero when a request may leave now (it is then counted in
  // flight until Finish), else how long to wait before asking again.
  absl::Duration TryStart(absl::Time now);
  // TryStart until a request may leave, sleeping through `context`
  // (Cancelled if the job stops meanwhile). Returns the start time to give Finish.
  absl::StatusOr<absl::Time> Start(const ShardContext& context);
  // The request started at `started` was answered at `now`.
  void Finish(absl::Time started, absl::Time now, const AdaptiveAnswer& answer);

  // The current limits: requests in flight, and requests a second (0 while
  // unbounded).
  double limit() const;
  double rate() const;

 private:
  bool Throttled(const AdaptiveAnswer& a) const { return a.status == 429 || a.status == 503; }
  // TryStart under the lock; `*for_slot` says the wait is for a request in
  // flight to finish.
  absl::Duration TryStartLocked(absl::Time now, bool* for_slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Cut(absl::Time started, absl::Time now, bool rate_too) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Grow(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadQuota(absl::Time now, const AdaptiveAnswer& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Requests started in the last second, at `now`.
  double SendingRate(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double max_;
  mutable absl::Mutex mu_;
  double limit_ ABSL_GUARDED_BY(mu_) = 1;
  bool slow_start_ ABSL_GUARDED_BY(mu_) = true;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  double rate_ ABSL_GUARDED_BY(mu_) = 0;        // learned; 0 = unbounded
  double quota_rate_ ABSL_GUARDED_BY(mu_) = 0;  // from quota headers; 0 = none
  absl::Time quota_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_send_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time paused_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_cut_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_grow_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration floor_ ABSL_GUARDED_BY(mu_) = absl::InfiniteDuration();
  double ewma_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<absl::Time> recent_starts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_ADAPTIVE_LIMITER_H_
