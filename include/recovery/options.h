// Plain option structs shared by the job spec and the engine.
#ifndef RECOVERY_OPTIONS_H_
#define RECOVERY_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/time/time.h"
#include "recovery/checkpoint_store.h"
#include "recovery/export.h"

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

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogEvent {
  LogLevel level;
  std::string_view message;
  // The event's structured fields as one JSON object, e.g.
  // {"shard":"…","cursor":"…","records":100,"resume":{…}}.
  std::string_view fields_json;
};

// Called from engine threads; calls are serialized.
using LogCallback = std::function<void(const LogEvent&)>;

RECOVERY_EXPORT std::string_view LogLevelName(LogLevel level);

// Writes "time level message fields" lines to stderr for events at or above
// `min_level`.
RECOVERY_EXPORT LogCallback StderrLogger(LogLevel min_level = LogLevel::kInfo);

struct Progress {
  ShardCounters totals;           // cumulative across runs, all shards
  uint64_t records_this_run = 0;  // records delivered (or mapped, in a dry run)
  int shards_total = 0;
  int shards_done = 0;
  int shards_failed = 0;
  int shards_running = 0;
  double window_fraction = 0;                     // of the job's window covered, [0, 1]
  double records_per_second = 0;                  // this run
  absl::Duration elapsed;                         // this run
  absl::Duration eta = absl::InfiniteDuration();  // unknown until measurable
};

// Called after every committed page, from engine threads; calls are serialized.
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace recovery

#endif  // RECOVERY_OPTIONS_H_
