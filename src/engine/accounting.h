// Counting what happened: a page's counters derived once from its outcomes,
// a shard's fraction done, the job's progress, and the error budget.
#ifndef RECOVERY_ENGINE_ACCOUNTING_H_
#define RECOVERY_ENGINE_ACCOUNTING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/page_mapper.h"
#include "recovery/checkpoint_store.h"
#include "recovery/options.h"
#include "recovery/progress.h"
#include "recovery/shard.h"

namespace recovery {

// What a committed page adds to its shard's counters (retries aside, which
// are counted as they happen). In a dry run nothing is delivered.
ShardCounters PageCounters(const Page& page, const MappedPage& mapped, bool dry_run);

// Adds the page's delivered records to the hourly coverage buckets.
void AddCoverage(const MappedPage& mapped, std::map<int64_t, uint64_t>* coverage);
// Adds the page's already present, dead-lettered and outside-the-window
// records to the hours of their event times (Checkpoint::hour_outcomes);
// records whose event time is unknown are left out.
void AddHourOutcomes(const MappedPage& mapped, std::map<int64_t, HourOutcomes>* hours);

// The fraction of `shard` covered: the source's word when it has one (on
// `page`), else how far the delivered event times reached.
double ShardFraction(const Shard& shard, const Checkpoint& checkpoint, absl::Time max_event_time,
                     const Page* page);

// Why the error budget is spent by `totals`, or nullopt while it is not.
std::optional<std::string> BudgetSpent(const ErrorBudget& budget, const ShardCounters& totals);

// The job's progress across shards. Thread-safe.
class ProgressTracker {
 public:
  ProgressTracker(const std::vector<Shard>& plan, absl::Time window_start, absl::Time window_end);

  // The checkpoints as found when the run starts (nullptr for none).
  void Start(const std::vector<const Checkpoint*>& checkpoints, absl::Time now);
  void SetState(int shard, ShardState state);
  // A page committed: its counters, the shard's checkpoint after it, the
  // records it delivered (or mapped, in a dry run).
  void AddPage(int shard, const ShardCounters& page, const Checkpoint& after, uint64_t records);
  // Another worker moved the shard from `before` to `now`: count its work once.
  void Replace(int shard, const Checkpoint& before, const Checkpoint& now);

  // A source's gauge (kConcurrencyLimitGauge, kRequestRateLimitGauge), shown with the progress.
  void SetSourceGauge(std::string_view gauge, double value);

  uint64_t records_this_run() const;
  ShardCounters totals() const;
  Progress Snapshot(absl::Time now) const;

 private:
  Progress SnapshotLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static double FractionOf(const Checkpoint& c) { return c.state == ShardState::kDone ? 1.0 : c.progress; }

  const std::vector<Shard>& plan_;  // the engine's, which outlives this
  const double window_seconds_;
  mutable absl::Mutex mu_;
  ShardCounters totals_ ABSL_GUARDED_BY(mu_);
  std::vector<double> fractions_ ABSL_GUARDED_BY(mu_);
  std::vector<ShardState> states_ ABSL_GUARDED_BY(mu_);
  uint64_t records_this_run_ ABSL_GUARDED_BY(mu_) = 0;
  double initial_fraction_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time run_start_ ABSL_GUARDED_BY(mu_);
  double concurrency_limit_ ABSL_GUARDED_BY(mu_) = 0;
  double request_rate_limit_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace recovery

#endif  // RECOVERY_ENGINE_ACCOUNTING_H_
