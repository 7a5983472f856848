#include "engine/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "recovery/status.h"
#include "util/strings.h"

namespace recovery {

RetryEnv SystemRetryEnv(std::function<bool(absl::Duration)> sleep) {
  RetryEnv env;
  env.now = [] { return absl::Now(); };
  env.sleep = std::move(sleep);
  env.uniform = [](int64_t bound) {
    thread_local absl::BitGen gen;
    return absl::Uniform<int64_t>(gen, 0, bound);
  };
  return env;
}

absl::Duration BackoffCeiling(const RetryPolicy& policy, int attempt) {
  const absl::Duration ceiling = policy.initial_backoff * std::pow(2.0, std::min(attempt - 1, 62));
  return std::min(ceiling, policy.max_backoff);
}

absl::Status RetryWithBackoff(const RetryPolicy& policy, std::string_view what, const RetryEnv& env,
                              const std::function<absl::Status()>& attempt) {
  const absl::Time first = env.now();
  for (int n = 1;; ++n) {
    absl::Status status = attempt();
    if (status.ok() || !IsTransient(status)) return status;
    const absl::Duration elapsed = env.now() - first;
    const int64_t bound = std::max<int64_t>(1, absl::ToInt64Microseconds(BackoffCeiling(policy, n)));
    absl::Duration delay = absl::Microseconds(env.uniform(bound));
    if (std::optional<absl::Duration> after = GetRetryAfter(status)) delay = std::max(delay, *after);
    if (n >= policy.max_attempts || elapsed + delay > policy.max_elapsed) {
      return absl::UnavailableError(StrCat(what, ": gave up after ", n, n == 1 ? " attempt" : " attempts",
                                           " over ", absl::FormatDuration(elapsed), ": ", status.message()));
    }
    if (env.on_retry) env.on_retry(n, delay, status);
    if (!env.sleep(delay)) return absl::CancelledError(StrCat(what, ": stopped while waiting to retry"));
  }
}

}  // namespace recovery
