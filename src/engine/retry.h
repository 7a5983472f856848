// Exponential backoff with full jitter, as a utility with its clock, its
// sleep and its randomness injected, so tests can drive it without waiting.
#ifndef RECOVERY_ENGINE_RETRY_H_
#define RECOVERY_ENGINE_RETRY_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "recovery/options.h"

namespace recovery {

struct RetryEnv {
  std::function<absl::Time()> now;
  // Waits `d`; false when the caller is stopping (the retry then gives up as cancelled).
  std::function<bool(absl::Duration)> sleep;
  // A uniform random number in [0, bound).
  std::function<int64_t(int64_t bound)> uniform;
  // Told of every retry before its wait, e.g. to count and log it. Optional.
  std::function<void(int attempt, absl::Duration delay, const absl::Status& failure)> on_retry;
};

// The real clock, sleep (interruptible through `sleep`) and a thread-local generator.
RetryEnv SystemRetryEnv(std::function<bool(absl::Duration)> sleep);

// The longest wait before attempt `attempt` + 1 (attempt counts from 1):
// min(max_backoff, initial_backoff * 2^(attempt - 1)).
absl::Duration BackoffCeiling(const RetryPolicy& policy, int attempt);

// Calls `attempt` until it succeeds, fails permanently (not IsTransient), or
// the policy gives up: after max_attempts, or when the next wait would pass
// max_elapsed. Each wait is uniform in [0, BackoffCeiling), but never shorter
// than a Retry-After the failure carries. Giving up is kUnavailable naming
// `what`, the attempts and the last failure; a stop during a wait is kCancelled.
absl::Status RetryWithBackoff(const RetryPolicy& policy, std::string_view what, const RetryEnv& env,
                              const std::function<absl::Status()>& attempt);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_RETRY_H_
