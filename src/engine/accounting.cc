#include "engine/accounting.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "recovery/source.h"
#include "util/strings.h"

namespace recovery {

ShardCounters PageCounters(const Page& page, const MappedPage& mapped, bool dry_run) {
  ShardCounters c;
  c.records_fetched = page.records.size();
  c.pages = 1;
  c.bytes = page.bytes;
  c.records_of_other_shards = mapped.other_shards;
  for (RecordOutcome o : mapped.outcomes) {
    switch (o) {
      case RecordOutcome::kDelivered:
        c.records_delivered += dry_run ? 0 : 1;
        break;
      case RecordOutcome::kDeadLettered:
        ++c.dead_letters;
        break;
      case RecordOutcome::kDropped:
        ++c.records_dropped;
        break;
      case RecordOutcome::kOutOfWindow:
        ++c.records_out_of_window;
        break;
      case RecordOutcome::kAlreadyPresent:
        ++c.records_already_present;
        break;
    }
  }
  return c;
}

namespace {

// The start of the hour holding `t`, in unix seconds.
int64_t HourStart(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);
  return s - ((s % kCoverageBucketSeconds) + kCoverageBucketSeconds) % kCoverageBucketSeconds;
}

}  // namespace

void AddCoverage(const MappedPage& mapped, std::map<int64_t, uint64_t>* coverage) {
  auto add = [&](absl::Time t) {
    if (t != kUnknownEventTime) ++(*coverage)[HourStart(t)];
  };
  for (size_t j = 0; j < mapped.batch.size(); ++j) {
    if (mapped.outcomes[mapped.origin[j]] == RecordOutcome::kDelivered)
      add(mapped.batch.records()[j].event_time);
  }
  for (absl::Time t : mapped.present_event_times) add(t);
}

void AddHourOutcomes(const MappedPage& mapped, std::map<int64_t, HourOutcomes>* hours) {
  auto add = [&](absl::Time t, uint64_t HourOutcomes::*field) {
    if (t != kUnknownEventTime) ++((*hours)[HourStart(t)].*field);
  };
  for (absl::Time t : mapped.present_event_times) add(t, &HourOutcomes::already_present);
  for (const PendingDeadLetter& d : mapped.dead) add(d.event_time, &HourOutcomes::dead_letters);
  for (absl::Time t : mapped.outside_job_times) add(t, &HourOutcomes::out_of_window);
}

double ShardFraction(const Shard& shard, const Checkpoint& checkpoint, absl::Time max_event_time,
                     const Page* page) {
  if (checkpoint.state == ShardState::kDone) return 1.0;
  if (page != nullptr && page->progress >= 0) return std::min(1.0, page->progress);
  if (max_event_time > shard.start) {
    const double f = absl::FDivDuration(max_event_time - shard.start, shard.end - shard.start);
    return std::clamp(f, checkpoint.progress, 1.0);
  }
  return checkpoint.progress;
}

std::optional<std::string> BudgetSpent(const ErrorBudget& b, const ShardCounters& totals) {
  const uint64_t dead = totals.dead_letters;
  const uint64_t fetched = totals.records_fetched;
  if (b.max_count >= 0 && dead > static_cast<uint64_t>(b.max_count)) {
    return StrCat(dead, " dead letters exceed error_budget.max_count (", b.max_count, ")");
  }
  if (fetched > 0 && fetched >= static_cast<uint64_t>(b.min_records) &&
      static_cast<double>(dead) > b.max_fraction * static_cast<double>(fetched)) {
    return StrCat(dead, " dead letters in ", fetched, " records (",
                  absl::StrFormat("%.2f", 100.0 * dead / fetched), " %) exceed error_budget.max_fraction (",
                  absl::StrFormat("%.2f", 100.0 * b.max_fraction), " %)");
  }
  return std::nullopt;
}

ProgressTracker::ProgressTracker(const std::vector<Shard>& plan, absl::Time window_start,
                                 absl::Time window_end)
    : plan_(plan),
      window_seconds_(absl::ToDoubleSeconds(window_end - window_start)),
      fractions_(plan.size(), 0),
      states_(plan.size(), ShardState::kPending) {}

void ProgressTracker::Start(const std::vector<const Checkpoint*>& checkpoints, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    if (checkpoints[i] == nullptr) continue;
    totals_ += checkpoints[i]->counters;
    fractions_[i] = FractionOf(*checkpoints[i]);
    states_[i] = checkpoints[i]->state == ShardState::kDone ? ShardState::kDone : ShardState::kPending;
  }
  run_start_ = now;
  initial_fraction_ = SnapshotLocked(now).window_fraction;
}

void ProgressTracker::SetState(int shard, ShardState state) {
  absl::MutexLock lock(&mu_);
  states_[shard] = state;
}

void ProgressTracker::AddPage(int shard, const ShardCounters& page, const Checkpoint& after,
                              uint64_t records) {
  absl::MutexLock lock(&mu_);
  totals_ += page;
  records_this_run_ += records;
  fractions_[shard] = FractionOf(after);
  states_[shard] = after.state;
}

void ProgressTracker::Replace(int shard, const Checkpoint& before, const Checkpoint& now) {
  absl::MutexLock lock(&mu_);
  totals_ -= before.counters;  // wraps harmlessly when a reset shrank them
  totals_ += now.counters;
  fractions_[shard] = FractionOf(now);
  states_[shard] = now.state == ShardState::kDone ? ShardState::kDone : ShardState::kPending;
}

uint64_t ProgressTracker::records_this_run() const {
  absl::MutexLock lock(&mu_);
  return records_this_run_;
}

ShardCounters ProgressTracker::totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

void ProgressTracker::SetSourceGauge(std::string_view gauge, double value) {
  absl::MutexLock lock(&mu_);
  if (gauge == kConcurrencyLimitGauge) concurrency_limit_ = value;
  if (gauge == kRequestRateLimitGauge) request_rate_limit_ = value;
}

Progress ProgressTracker::Snapshot(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked(now);
}

Progress ProgressTracker::SnapshotLocked(absl::Time now) const {
  Progress p;
  p.totals = totals_;
  p.records_this_run = records_this_run_;
  p.shards_total = static_cast<int>(plan_.size());
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (!IsOpenEnded(plan_[i]) && window_seconds_ > 0) {  // the open shard of follow mode has no size
      p.window_fraction +=
          fractions_[i] * absl::ToDoubleSeconds(plan_[i].end - plan_[i].start) / window_seconds_;
    }
    p.shards_done += states_[i] == ShardState::kDone;
    p.shards_failed += states_[i] == ShardState::kFailed;
    p.shards_running += states_[i] == ShardState::kRunning;
  }
  p.window_fraction = std::min(1.0, p.window_fraction);
  p.concurrency_limit = concurrency_limit_;
  p.request_rate_limit = request_rate_limit_;
  p.elapsed = now - run_start_;
  const double seconds = absl::ToDoubleSeconds(p.elapsed);
  if (seconds > 0) p.records_per_second = static_cast<double>(p.records_this_run) / seconds;
  const double gained = p.window_fraction - initial_fraction_;
  if (gained > 0 && seconds > 0.5) p.eta = absl::Seconds(seconds * (1.0 - p.window_fraction) / gained);
  return p;
}

}  // namespace recovery
