// Where a running job stands, reported after every committed page.
#ifndef RECOVERY_PROGRESS_H_
#define RECOVERY_PROGRESS_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"
#include "recovery/checkpoint.h"

namespace recovery {

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
  // With adaptive concurrency (concurrency: {"max": N}): the requests the
  // source keeps in flight at most right now, and the request rate it holds
  // to (0 while unbounded). Both 0 without it.
  double concurrency_limit = 0;
  double request_rate_limit = 0;
};

// Called after every committed page, from engine threads; calls are serialized.
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace recovery

#endif  // RECOVERY_PROGRESS_H_
