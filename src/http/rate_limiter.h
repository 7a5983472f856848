// The token bucket behind `source.rate_limit`, shared by every shard of a job.
#ifndef RECOVERY_HTTP_RATE_LIMITER_H_
#define RECOVERY_HTTP_RATE_LIMITER_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recovery/source.h"

namespace recovery {

// Waits are reserved in arrival order: a caller takes a token now and sleeps
// for as long as the bucket owes it. Thread-safe.
class RateLimiter {
 public:
  // `rate` requests a second (0 or less: no limit) with bursts of up to
  // `burst`; a request that would wait longer than `max_wait` is refused as
  // paused (PausedError) instead, and takes no token. `start` is when the
  // bucket is full.
  RateLimiter(double rate, double burst, absl::Duration max_wait, absl::Time start);

  // Reserves the next request's token at `now` and returns how long it must
  // wait before leaving. The clock is the caller's, so tests can give one.
  absl::StatusOr<absl::Duration> Reserve(absl::Time now);

  // Reserve(absl::Now()), then sleeps through `context`; Cancelled, with no
  // token taken, once the job is stopping, and if it stops meanwhile.
  absl::Status Acquire(const ShardContext& context);

 private:
  const double rate_, burst_;
  const absl::Duration max_wait_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_RATE_LIMITER_H_
