// How the engine retries and how many bad records a job tolerates: plain
// structs, set in a JobSpec.
#ifndef RECOVERY_OPTIONS_H_
#define RECOVERY_OPTIONS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace recovery {

// Exponential backoff with full jitter: attempt n waits a uniform random time
// in [0, min(max_backoff, initial_backoff * 2^n)), and never less than a
// Retry-After the failed attempt carried.
struct RetryPolicy {
  absl::Duration initial_backoff = absl::Milliseconds(200);  // > 0
  absl::Duration max_backoff = absl::Seconds(30);            // >= initial_backoff
  int max_attempts = 10;                                     // attempts per call including the first, >= 1
  // Give up once this much time went by since the first attempt, >= 0
  // (InfiniteDuration: no limit).
  absl::Duration max_elapsed = absl::Minutes(15);
};

// How many unmappable records a job tolerates before it fails with
// kResourceExhausted. Counts are cumulative across runs.
struct ErrorBudget {
  int64_t max_count = -1;      // dead letters allowed; -1 = no count limit
  double max_fraction = 0.01;  // of records fetched, in [0, 1]
  // The fraction is judged only once this many records were fetched, so the
  // first bad record of a run does not count as 100 %.
  int64_t min_records = 1000;
};

}  // namespace recovery

#endif  // RECOVERY_OPTIONS_H_
