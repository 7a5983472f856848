// The engine. Per shard: fetch a page, map it, then commit it: mark the batch
// in flight in the checkpoint, deliver it to the sink, flush dead letters, and
// save the checkpoint past it. See docs/architecture.md, "The commit protocol".
#include "recovery/backfiller.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/stored_state.h"
#include "spec/components.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

LogCallback StderrLogger(LogLevel min_level) {
  return [min_level](const LogEvent& e) {
    if (e.level < min_level) return;
    std::string line = FormatRfc3339(absl::Now());
    StrAppend(&line, " ", LogLevelName(e.level), " ", e.message, " ", e.fields_json, "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

std::string_view RunOutcomeName(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kDone:
      return "done";
    case RunOutcome::kIncomplete:
      return "incomplete";
    case RunOutcome::kInterrupted:
      return "interrupted";
    case RunOutcome::kPaused:
      return "paused";
    case RunOutcome::kLeased:
      return "leased";
    case RunOutcome::kLeaseLost:
      return "lease lost";
    case RunOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

bool IsResumable(RunOutcome outcome) {
  return outcome == RunOutcome::kIncomplete || outcome == RunOutcome::kInterrupted ||
         outcome == RunOutcome::kPaused || outcome == RunOutcome::kLeased;
}

namespace {

// What the run's status, completeness and skipped shards mean, said once.
RunOutcome OutcomeOf(const RunResult& r) {
  if (r.status.ok()) {
    if (r.complete) return RunOutcome::kDone;
    const bool leased = std::any_of(r.shards.begin(), r.shards.end(),
                                    [](const ShardReport& s) { return s.leased_elsewhere; });
    return leased ? RunOutcome::kLeased : RunOutcome::kIncomplete;
  }
  if (IsPaused(r.status)) return RunOutcome::kPaused;
  if (r.status.code() == absl::StatusCode::kCancelled) return RunOutcome::kInterrupted;
  if (IsLeaseLost(r.status)) return RunOutcome::kLeaseLost;
  return RunOutcome::kFailed;
}

LogLevel FinalLogLevel(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kPaused:
      return LogLevel::kWarning;
    case RunOutcome::kLeaseLost:
    case RunOutcome::kFailed:
      return LogLevel::kError;
    default:
      return LogLevel::kInfo;
  }
}

// A record rejected while mapping, held until the page commits.
struct PendingDeadLetter {
  size_t index;
  std::string_view raw;  // into the page
  std::string reason;
  std::string_view source_id;  // into the page
};

// One page on its way through the engine: what the mapper made of it.
struct MappedPage {
  RecordBatch batch;
  std::vector<uint32_t> origin;         // batch record -> index of its raw record
  std::vector<RecordOutcome> outcomes;  // per raw record, told to the source at commit
  std::vector<PendingDeadLetter> dead;
  std::vector<SinkRejection> rejected;

  void Clear(size_t raw_records) {
    batch.Clear();
    origin.clear();
    outcomes.assign(raw_records, RecordOutcome::kDelivered);
    dead.clear();
    rejected.clear();
  }
};

struct ShardRun {
  Shard shard;
  Checkpoint checkpoint;
  bool has_checkpoint = false;
  std::unique_ptr<ShardLease> lease;  // held while running, with a leasing store
  bool leased_elsewhere = false;
  absl::Status error;
  absl::Time max_event_time = absl::InfinitePast();
  int64_t reported_total = -1;  // the source's last word on the shard's size
  std::string total_mismatch;
};

class BackfillerImpl : public Backfiller {
 public:
  BackfillerImpl(JobSpec spec, Components components, BackfillerOptions options, std::vector<Shard> plan)
      : spec_(std::move(spec)),
        c_(std::move(components)),
        options_(std::move(options)),
        plan_(std::move(plan)) {}

  RunResult Run() override;
  void Cancel() override {
    cancelled_.store(true);
    absl::MutexLock lock(&wake_mu_);  // wakes shards sleeping in a backoff
  }
  absl::StatusOr<std::vector<ShardReport>> Status() override;
  absl::Status Reset(std::optional<std::string> shard_id) override;
  const std::vector<Shard>& plan() const override { return plan_; }

 private:
  void RunShard(ShardRun& run);
  absl::Status CommitPage(ShardRun& run, const Page& page, MappedPage& mapped, ShardCounters& delta,
                          bool redeliver);
  // Calls `attempt` until it succeeds, fails permanently, or the retry policy
  // gives up; `what` names the operation in logs and errors.
  absl::Status Retry(std::string_view what, const ShardRun& run, ShardCounters* delta,
                     const std::function<absl::Status()>& attempt);
  bool Stopping() const { return cancelled_.load() || stop_.load(); }
  bool InSlice(const Shard& s) const {
    if (!options_.shard_ids.empty() &&
        std::find(options_.shard_ids.begin(), options_.shard_ids.end(), s.id) == options_.shard_ids.end()) {
      return false;
    }
    return s.index % options_.slices == options_.slice - 1;
  }
  absl::Status SaveCheckpoint(const ShardRun& run) {
    if (run.lease) return run.lease->Save(run.checkpoint);
    return c_.checkpoints->Save(spec_.name, run.shard.id, run.checkpoint);
  }
  // Claims the shard's lease and reloads its checkpoint, which another worker
  // may have moved since the run started. False when the shard is not to run
  // (leased elsewhere, done meanwhile, or the claim failed: see run.error).
  bool ClaimShard(ShardRun& run);
  std::string SliceScope() const {
    return options_.slices == 1 ? "" : StrCat("slice-", options_.slice, "-of-", options_.slices);
  }
  // Sleeps for `d` unless the job stops first; false if it did.
  bool Sleep(absl::Duration d);
  void StopJob(absl::Status why);
  void AfterCommit(ShardRun& run, std::string_view page_cursor, const Page& page, const ShardCounters& delta,
                   size_t delivered);
  void CheckBudget();
  void CheckReportedTotal(ShardRun& run);
  void RecordMetrics(const ShardCounters& delta);
  void RecordGauges(const Progress& p);
  Progress SnapshotProgress() ABSL_EXCLUSIVE_LOCKS_REQUIRED(progress_mu_);
  void Log(LogLevel level, std::string_view message, const std::string& fields);
  double ShardFraction(const ShardRun& run, const Page* page) const;

  // Lends sources the engine's interruptible sleep.
  class Context : public ShardContext {
   public:
    explicit Context(BackfillerImpl* engine) : engine_(engine) {}
    bool Sleep(absl::Duration d) const override { return engine_->Sleep(d); }
    bool Stopping() const override { return engine_->Stopping(); }
    void ObserveRequest(absl::Duration latency, int http_status) const override {
      Metrics* m = engine_->options_.metrics;
      if (m == nullptr) return;
      m->Observe("recovery_request_duration_seconds", engine_->job_labels_, absl::ToDoubleSeconds(latency));
      static constexpr const char* kClasses[] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
      const int cls = http_status >= 100 && http_status < 600 ? http_status / 100 : 0;
      m->AddCounter("recovery_http_responses_total",
                    Metrics::Labels(engine_->spec_.name, "class", kClasses[cls]), 1);
    }

    void CountEvent(std::string_view event, uint64_t n) const override {
      Metrics* m = engine_->options_.metrics;
      if (m == nullptr || n == 0) return;
      m->AddCounter("recovery_source_events_total", Metrics::Labels(engine_->spec_.name, "event", event), n);
    }

   private:
    BackfillerImpl* engine_;
  };

  const JobSpec spec_;
  Components c_;
  const Context context_{this};
  const std::string job_labels_ = Metrics::Labels(spec_.name);
  const BackfillerOptions options_;
  const std::vector<Shard> plan_;

  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stop_{false};  // the job stops for a reason of its own
  std::atomic<bool> ran_{false};
  std::atomic<uint64_t> records_this_run_{0};
  absl::Mutex wake_mu_;
  absl::Mutex commit_mu_;  // serializes commits when the sink or dead letters share state

  absl::Mutex job_error_mu_;
  absl::Status job_error_ ABSL_GUARDED_BY(job_error_mu_);

  absl::Mutex progress_mu_;
  ShardCounters totals_ ABSL_GUARDED_BY(progress_mu_);
  std::vector<double> fractions_ ABSL_GUARDED_BY(progress_mu_);
  std::vector<ShardState> states_ ABSL_GUARDED_BY(progress_mu_);
  double initial_fraction_ ABSL_GUARDED_BY(progress_mu_) = 0;
  absl::Time run_start_ ABSL_GUARDED_BY(progress_mu_);

  absl::Mutex log_mu_;
};

void BackfillerImpl::Log(LogLevel level, std::string_view message, const std::string& fields) {
  if (!options_.on_log) return;
  absl::MutexLock lock(&log_mu_);
  options_.on_log(LogEvent{level, message, fields});
}

bool BackfillerImpl::Sleep(absl::Duration d) {
  absl::MutexLock lock(&wake_mu_);
  auto stopping = [this] { return Stopping(); };
  return !wake_mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
}

void BackfillerImpl::StopJob(absl::Status why) {
  {
    absl::MutexLock lock(&job_error_mu_);
    if (job_error_.ok()) job_error_ = std::move(why);
  }
  stop_.store(true);
  absl::MutexLock lock(&wake_mu_);
}

absl::Status BackfillerImpl::Retry(std::string_view what, const ShardRun& run, ShardCounters* delta,
                                   const std::function<absl::Status()>& attempt) {
  const RetryPolicy& policy = spec_.retry;
  const absl::Time first = absl::Now();
  thread_local absl::BitGen gen;
  for (int n = 1;; ++n) {
    absl::Status status = attempt();
    if (status.ok() || !IsTransient(status)) return status;
    const absl::Duration elapsed = absl::Now() - first;
    absl::Duration ceiling = policy.initial_backoff * std::pow(2.0, std::min(n - 1, 62));
    ceiling = std::min(ceiling, policy.max_backoff);
    absl::Duration delay = absl::Microseconds(
        absl::Uniform<int64_t>(gen, 0, std::max<int64_t>(1, absl::ToInt64Microseconds(ceiling))));
    if (std::optional<absl::Duration> after = GetRetryAfter(status)) delay = std::max(delay, *after);
    if (n >= policy.max_attempts || elapsed + delay > policy.max_elapsed) {
      return absl::UnavailableError(StrCat(what, ": gave up after ", n, n == 1 ? " attempt" : " attempts",
                                           " over ", absl::FormatDuration(elapsed), ": ", status.message()));
    }
    ++delta->retries;
    if (options_.metrics != nullptr) {
      options_.metrics->AddCounter("recovery_retries_total", Metrics::Labels(spec_.name, "operation", what),
                                   1);
    }
    std::string fields;
    JsonObjectWriter(&fields)
        .Str("shard", run.shard.id)
        .Str("cursor", run.checkpoint.cursor)
        .Str("operation", what)
        .Int("attempt", n)
        .Double("retry_in_s", absl::ToDoubleSeconds(delay))
        .Str("error", status.ToString())
        .Close();
    Log(LogLevel::kWarning, "transient failure, retrying", fields);
    if (!Sleep(delay)) return absl::CancelledError(StrCat(what, ": stopped while waiting to retry"));
  }
}

double BackfillerImpl::ShardFraction(const ShardRun& run, const Page* page) const {
  if (run.checkpoint.state == ShardState::kDone) return 1.0;
  if (page != nullptr && page->progress >= 0) return std::min(1.0, page->progress);
  if (run.max_event_time > run.shard.start) {
    double f = absl::FDivDuration(run.max_event_time - run.shard.start, run.shard.end - run.shard.start);
    return std::clamp(f, run.checkpoint.progress, 1.0);
  }
  return run.checkpoint.progress;
}

Progress BackfillerImpl::SnapshotProgress() {
  Progress p;
  p.totals = totals_;
  p.records_this_run = records_this_run_.load();
  p.shards_total = static_cast<int>(plan_.size());
  const double total = absl::ToDoubleSeconds(spec_.end - spec_.start);
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (!IsOpenEnded(plan_[i]) && total > 0) {  // the open shard of follow mode has no size
      p.window_fraction += fractions_[i] * absl::ToDoubleSeconds(plan_[i].end - plan_[i].start) / total;
    }
    p.shards_done += states_[i] == ShardState::kDone;
    p.shards_failed += states_[i] == ShardState::kFailed;
    p.shards_running += states_[i] == ShardState::kRunning;
  }
  p.window_fraction = std::min(1.0, p.window_fraction);
  p.elapsed = absl::Now() - run_start_;
  const double seconds = absl::ToDoubleSeconds(p.elapsed);
  if (seconds > 0) p.records_per_second = static_cast<double>(p.records_this_run) / seconds;
  const double gained = p.window_fraction - initial_fraction_;
  if (gained > 0 && seconds > 0.5) {
    p.eta = absl::Seconds(seconds * (1.0 - p.window_fraction) / gained);
  }
  return p;
}

void BackfillerImpl::CheckBudget() {
  const ErrorBudget& b = spec_.error_budget;
  uint64_t dead, fetched;
  {
    absl::MutexLock lock(&progress_mu_);
    dead = totals_.dead_letters;
    fetched = totals_.records_fetched;
  }
  std::string why;
  if (b.max_count >= 0 && dead > static_cast<uint64_t>(b.max_count)) {
    why = StrCat(dead, " dead letters exceed error_budget.max_count (", b.max_count, ")");
  } else if (fetched > 0 && fetched >= static_cast<uint64_t>(b.min_records) &&
             static_cast<double>(dead) > b.max_fraction * static_cast<double>(fetched)) {
    why = StrCat(dead, " dead letters in ", fetched, " records (",
                 absl::StrFormat("%.2f", 100.0 * dead / fetched), " %) exceed error_budget.max_fraction (",
                 absl::StrFormat("%.2f", 100.0 * b.max_fraction), " %)");
  }
  if (why.empty()) return;
  StopJob(absl::ResourceExhaustedError(
      StrCat("error budget spent: ", why,
             "; every rejected record is in the dead letters with its reason. "
             "Fix the mapping or raise the budget, then run again to continue")));
}

void BackfillerImpl::RecordMetrics(const ShardCounters& delta) {
  Metrics& m = *options_.metrics;
  m.AddCounter("recovery_records_fetched_total", job_labels_, delta.records_fetched);
  m.AddCounter("recovery_records_delivered_total", job_labels_, delta.records_delivered);
  m.AddCounter("recovery_records_dropped_total", job_labels_, delta.records_dropped);
  m.AddCounter("recovery_records_out_of_window_total", job_labels_, delta.records_out_of_window);
  m.AddCounter("recovery_dead_letters_total", job_labels_, delta.dead_letters);
  m.AddCounter("recovery_pages_total", job_labels_, delta.pages);
  m.AddCounter("recovery_bytes_total", job_labels_, delta.bytes);
  Progress p;
  {
    absl::MutexLock lock(&progress_mu_);
    p = SnapshotProgress();
  }
  RecordGauges(p);
}

void BackfillerImpl::RecordGauges(const Progress& p) {
  Metrics& m = *options_.metrics;
  const int pending = p.shards_total - p.shards_done - p.shards_failed - p.shards_running;
  m.SetGauge("recovery_shards", Metrics::Labels(spec_.name, "state", "done"), p.shards_done);
  m.SetGauge("recovery_shards", Metrics::Labels(spec_.name, "state", "failed"), p.shards_failed);
  m.SetGauge("recovery_shards", Metrics::Labels(spec_.name, "state", "running"), p.shards_running);
  m.SetGauge("recovery_shards", Metrics::Labels(spec_.name, "state", "pending"), pending);
  m.SetGauge("recovery_window_coverage_ratio", job_labels_, p.window_fraction);
  m.SetGauge("recovery_records_per_second", job_labels_, p.records_per_second);
}

void BackfillerImpl::CheckReportedTotal(ShardRun& run) {
  const uint64_t fetched = run.checkpoint.counters.records_fetched;
  if (run.reported_total < 0 || static_cast<uint64_t>(run.reported_total) == fetched) return;
  run.total_mismatch =
      StrCat("the source reported ", run.reported_total, " records for shard ", run.shard.id, " but ",
             fetched, " were fetched: its paging may have skipped or repeated records");
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Int("reported_total", run.reported_total)
      .Uint("fetched", fetched)
      .Close();
  Log(LogLevel::kWarning, run.total_mismatch, fields);
}

void BackfillerImpl::AfterCommit(ShardRun& run, std::string_view page_cursor, const Page& page,
                                 const ShardCounters& delta, size_t delivered) {
  records_this_run_.fetch_add(options_.dry_run ? delta.records_fetched : delivered);
  {
    absl::MutexLock lock(&progress_mu_);
    totals_ += delta;
    fractions_[run.shard.index] = run.checkpoint.state == ShardState::kDone ? 1.0 : run.checkpoint.progress;
    states_[run.shard.index] = run.checkpoint.state;
  }
  if (options_.on_log) {  // the page line is built only for someone to read
    std::string resume;
    JsonObjectWriter(&resume).Str("shard", run.shard.id).Str("cursor", run.checkpoint.cursor).Close();
    std::string fields;
    JsonObjectWriter(&fields)
        .Str("shard", run.shard.id)
        .Str("cursor", page_cursor)
        .Str("next_cursor", page.next_cursor)
        .Uint("fetched", delta.records_fetched)
        .Uint("delivered", delivered)
        .Uint("dead_letters", delta.dead_letters)
        .Uint("dropped", delta.records_dropped)
        .Uint("out_of_window", delta.records_out_of_window)
        .Uint("bytes", delta.bytes)
        .Bool("exhausted", page.exhausted)
        .Double("shard_progress", run.checkpoint.progress)
        .Raw("resume", resume)
        .Close();
    Log(LogLevel::kInfo, options_.dry_run ? "page mapped (dry run)" : "page committed", fields);
  }
  CheckBudget();
  if (options_.metrics != nullptr) RecordMetrics(delta);
  if (options_.on_progress) {
    // Snapshot under the lock that orders the callbacks, so progress never goes backwards.
    absl::MutexLock lock(&log_mu_);
    Progress progress;
    {
      absl::MutexLock plock(&progress_mu_);
      progress = SnapshotProgress();
    }
    options_.on_progress(progress);
  }
}

absl::Status BackfillerImpl::CommitPage(ShardRun& run, const Page& page, MappedPage& mapped,
                                        ShardCounters& delta, bool redeliver) {
  Checkpoint& ck = run.checkpoint;
  RecordBatch& batch = mapped.batch;
  std::vector<PendingDeadLetter>& dead = mapped.dead;
  auto save = [&] { return Retry("save checkpoint", run, &delta, [&] { return SaveCheckpoint(run); }); };
  if (run.lease) RECOVERY_RETURN_IF_ERROR(run.lease->Check());  // a lost shard writes nothing more
  if (!batch.empty()) {
    if (!ck.in_flight) {  // from here on a crash redelivers this batch, flagged
      ck.in_flight = true;
      ck.updated = absl::Now();
      RECOVERY_RETURN_IF_ERROR(save());
    }
    if (redeliver) batch.MarkRedelivered();
  }

  // Only a page that writes to a sink or dead-letter store with a shared commit
  // token must not interleave with others; the rest commit concurrently.
  // (A sink that rejects records adds dead letters after the fact, hence
  // the lock whenever the batch is non-empty and dead letters serialize.)
  const bool serialize = (!batch.empty() && c_.sink->serialize_commits()) ||
                         ((!dead.empty() || !batch.empty()) && c_.dead_letters->serialize_commits());
  std::optional<absl::MutexLock> lock;
  if (serialize) lock.emplace(&commit_mu_);
  // Once a shared sink or dead-letter file holds this page, a failure before
  // the checkpoint records it must stop every shard: a later commit by another
  // shard would otherwise vouch for bytes no checkpoint covers.
  bool shared_state_written = false;
  auto fail_after_shared_write = [&](absl::Status s) {
    if (shared_state_written) {
      StopJob(absl::Status(s.code(), StrCat("shard ", run.shard.id, ": ", s.message(),
                                            "; stopped every shard so the next run rolls back cleanly")));
    }
    return s;
  };

  if (!batch.empty()) {
    bool first = true;
    absl::Status st = Retry("deliver batch to sink", run, &delta, [&]() -> absl::Status {
      if (!first) batch.MarkRedelivered();  // the failed attempt may have reached the sink
      first = false;
      mapped.rejected.clear();
      absl::StatusOr<std::string> token = c_.sink->Write(run.shard, batch, &mapped.rejected);
      if (!token.ok()) return token.status();
      if (!token->empty()) ck.sink_token = *std::move(token);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    shared_state_written = c_.sink->serialize_commits();
    for (SinkRejection& r : mapped.rejected) {  // the sink will never take these: dead letters
      if (r.index >= mapped.origin.size()) {
        return fail_after_shared_write(absl::InternalError(
            StrCat("the sink rejected record ", r.index, " of a batch of ", mapped.origin.size())));
      }
      const uint32_t i = mapped.origin[r.index];
      const RawRecord& raw = page.records.records()[i];
      mapped.outcomes[i] = RecordOutcome::kDeadLettered;
      dead.push_back({i, raw.data, StrCat("rejected by the sink: ", r.reason), raw.id});
    }
    delta.records_delivered -= mapped.rejected.size();
    delta.dead_letters += mapped.rejected.size();
  }
  if (!dead.empty()) {
    const absl::Time now = absl::Now();
    absl::Status st = Retry("write dead letters", run, &delta, [&]() -> absl::Status {
      for (const PendingDeadLetter& d : dead) {
        DeadLetter letter{spec_.name, run.shard.id, ck.cursor, d.index, d.reason, d.raw, d.source_id, now};
        RECOVERY_RETURN_IF_ERROR(c_.dead_letters->Add(letter));
      }
      absl::StatusOr<std::string> token = c_.dead_letters->Flush();
      if (!token.ok()) return token.status();
      if (!token->empty()) ck.dead_letter_token = *std::move(token);
      return absl::OkStatus();
    });
    if (!st.ok()) return fail_after_shared_write(st);
    shared_state_written |= c_.dead_letters->serialize_commits();
  }
  ck.cursor = page.next_cursor;
  ck.in_flight = false;
  ck.counters += delta;
  for (size_t j = 0; j < batch.size(); ++j) {
    const Record& r = batch.records()[j];
    if (r.event_time == kUnknownEventTime) continue;
    if (!mapped.rejected.empty() && mapped.outcomes[mapped.origin[j]] != RecordOutcome::kDelivered) continue;
    const int64_t s = absl::ToUnixSeconds(r.event_time);
    ++ck.coverage[s - ((s % kCoverageBucketSeconds) + kCoverageBucketSeconds) % kCoverageBucketSeconds];
  }
  if (page.reported_total >= 0) ck.reported_total = page.reported_total;
  const bool done = page.exhausted && !IsOpenEnded(run.shard);
  ck.progress = done ? 1.0 : ShardFraction(run, &page);
  ck.state = done ? ShardState::kDone : ShardState::kRunning;
  ck.last_error.clear();
  ck.updated = absl::Now();
  absl::Status st = save();
  if (!st.ok()) return fail_after_shared_write(st);
  return absl::OkStatus();
}

bool BackfillerImpl::ClaimShard(ShardRun& run) {
  ShardCounters ignored;
  absl::StatusOr<std::unique_ptr<ShardLease>> lease;
  absl::Status st = Retry("claim shard", run, &ignored, [&] {
    lease = c_.checkpoints->ClaimShard(spec_.name, run.shard.id);
    return lease.status();
  });
  std::string fields;
  if (!st.ok()) {
    if (st.code() == absl::StatusCode::kFailedPrecondition) {  // another worker has it
      run.leased_elsewhere = true;
      JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("holder", ToStd(st.message())).Close();
      Log(LogLevel::kInfo, "shard leased by another worker; skipped", fields);
    } else {
      run.error = absl::Status(st.code(), StrCat("shard ", run.shard.id, ": claim: ", st.message()));
      JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("error", run.error.ToString()).Close();
      Log(LogLevel::kError, "could not claim shard", fields);
    }
    return false;
  }
  run.lease = *std::move(lease);
  absl::StatusOr<std::optional<Checkpoint>> ck;
  st = Retry("load checkpoint", run, &ignored, [&] {
    ck = c_.checkpoints->Load(spec_.name, run.shard.id);
    return ck.status();
  });
  if (!st.ok()) {
    run.error = absl::Status(st.code(), StrCat("shard ", run.shard.id, ": ", st.message()));
    run.lease.reset();
    return false;
  }
  Checkpoint fresh = ck->value_or(Checkpoint());
  {
    absl::MutexLock lock(&progress_mu_);  // count what the other worker did, once
    totals_ -= run.checkpoint.counters;   // wraps harmlessly when a reset shrank them
    totals_ += fresh.counters;
    fractions_[run.shard.index] = fresh.state == ShardState::kDone ? 1.0 : fresh.progress;
    states_[run.shard.index] = fresh.state == ShardState::kDone ? ShardState::kDone : ShardState::kPending;
  }
  run.checkpoint = std::move(fresh);
  run.has_checkpoint = ck->has_value();
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Int("fencing_token", run.lease->fencing_token())
      .Str("cursor", run.checkpoint.cursor)
      .Close();
  Log(LogLevel::kInfo, "shard claimed", fields);
  if (run.checkpoint.state == ShardState::kDone) {  // finished by another worker meanwhile
    run.lease.reset();
    return false;
  }
  return true;
}

void BackfillerImpl::RunShard(ShardRun& run) {
  Checkpoint& ck = run.checkpoint;
  bool redeliver = ck.in_flight;
  {
    absl::MutexLock lock(&progress_mu_);
    states_[run.shard.index] = ShardState::kRunning;
  }
  auto finish_state = [&](ShardState state) {
    absl::MutexLock lock(&progress_mu_);
    states_[run.shard.index] = state;
  };
  auto fail = [&](std::string_view step, const absl::Status& s) {
    if (s.code() == absl::StatusCode::kCancelled && Stopping()) {  // interrupted, not failed
      finish_state(ck.state == ShardState::kDone ? ShardState::kDone : ShardState::kPending);
      return;
    }
    if (IsPaused(s)) {  // the source's quota: every shard stops, resumable later
      StopJob(s);
      finish_state(ShardState::kPending);
      return;
    }
    if (IsLeaseLost(s)) {  // another worker owns the shard now: stop, write nothing
      run.error = LeaseLostError(StrCat("shard ", run.shard.id, ": ", step, ": ", s.message()));
      std::string fields;
      JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("error", run.error.ToString()).Close();
      Log(LogLevel::kWarning, "lease lost: another worker took the shard over; stopped it without writing",
          fields);
      finish_state(ShardState::kPending);
      return;
    }
    run.error = absl::Status(s.code(), StrCat("shard ", run.shard.id, " stopped at cursor \"", ck.cursor,
                                              "\": ", step, ": ", s.message()));
    ck.state = ShardState::kFailed;
    ck.last_error = std::string(run.error.message());
    ck.updated = absl::Now();
    std::string fields;
    JsonObjectWriter(&fields)
        .Str("shard", run.shard.id)
        .Str("cursor", ck.cursor)
        .Str("error", run.error.ToString())
        .Close();
    Log(LogLevel::kError, "shard failed; its checkpoint is intact and a re-run resumes it", fields);
    if (!options_.dry_run) (void)SaveCheckpoint(run);
    finish_state(ShardState::kFailed);
  };

  ShardCounters delta;
  std::unique_ptr<ShardReader> reader;
  absl::Status st = Retry("open source", run, &delta, [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<ShardReader>> r = c_.source->Open(run.shard, ck.cursor, context_);
    if (!r.ok()) return r.status();
    reader = *std::move(r);
    return absl::OkStatus();
  });
  if (!st.ok()) return fail("open source", st);

  Page page;
  MappedPage mapped;
  RecordBatch& batch = mapped.batch;
  std::vector<PendingDeadLetter>& dead = mapped.dead;
  std::string reason;
  std::string page_cursor;
  while (true) {
    if (Stopping()) return finish_state(ShardState::kPending);
    if (spec_.max_records > 0 && records_this_run_.load() >= static_cast<uint64_t>(spec_.max_records)) {
      return finish_state(ShardState::kPending);
    }
    st = Retry("fetch page", run, &delta, [&] {
      page.Clear();
      return reader->Next(&page);
    });
    if (!st.ok()) return fail("fetch page", st);

    mapped.Clear(page.records.size());
    delta.records_fetched += page.records.size();
    delta.pages += 1;
    delta.bytes += page.bytes;
    const auto& records = page.records.records();
    // See Source::partitions_by_shard().
    const bool owns_rejects = c_.source->partitions_by_shard() || run.shard.index == 0;
    auto reject = [&](size_t i, const RawRecord& raw, std::string why) {
      if (owns_rejects) {
        dead.push_back({i, raw.data, std::move(why), raw.id});
        mapped.outcomes[i] = RecordOutcome::kDeadLettered;
      } else {
        ++delta.records_out_of_window;
        mapped.outcomes[i] = RecordOutcome::kOutOfWindow;
      }
    };
    for (size_t i = 0; i < records.size(); ++i) {
      const RawRecord& raw = records[i];
      if (!raw.error.empty()) {
        reject(i, raw, std::string(raw.error));
        continue;
      }
      reason.clear();
      switch (c_.mapper->Map(raw, run.shard, &batch, &reason)) {
        case MapOutcome::kEmitted: {
          const absl::Time t = batch.back().event_time;
          if (t != kUnknownEventTime && (t < run.shard.start || t >= run.shard.end)) {
            batch.PopBack();
            ++delta.records_out_of_window;
            mapped.outcomes[i] = RecordOutcome::kOutOfWindow;
          } else {
            if (t != kUnknownEventTime) run.max_event_time = std::max(run.max_event_time, t);
            mapped.origin.push_back(static_cast<uint32_t>(i));
          }
          break;
        }
        case MapOutcome::kDropped:
          ++delta.records_dropped;
          mapped.outcomes[i] = RecordOutcome::kDropped;
          break;
        case MapOutcome::kRejected:
          reject(i, raw, reason.empty() ? "rejected by the mapper" : reason);
          break;
      }
    }
    delta.dead_letters += dead.size();
    page_cursor = ck.cursor;
    if (options_.dry_run) {
      ck.cursor = page.next_cursor;
      ck.counters += delta;
      const bool done = page.exhausted && !IsOpenEnded(run.shard);
      ck.progress = done ? 1.0 : ShardFraction(run, &page);
      if (done) ck.state = ShardState::kDone;
    } else {
      delta.records_delivered += batch.size();
      const absl::Time commit_start = absl::Now();
      st = CommitPage(run, page, mapped, delta, redeliver);
      if (st.ok() && options_.metrics != nullptr) {
        const absl::Time now = absl::Now();
        options_.metrics->Observe("recovery_batch_duration_seconds", job_labels_,
                                  absl::ToDoubleSeconds(now - commit_start));
        options_.metrics->CheckpointSaved(spec_.name, now);
      }
      if (!st.ok()) return fail("commit page", st);
      redeliver = false;
      st =
          Retry("confirm page to source", run, &delta, [&] { return reader->Commit(page, mapped.outcomes); });
      if (!st.ok()) return fail("confirm page to source", st);
    }
    if (page.reported_total >= 0) run.reported_total = page.reported_total;
    AfterCommit(run, page_cursor, page, delta, batch.size() - mapped.rejected.size());
    delta = ShardCounters();
    if (!page.exhausted) continue;
    if (IsOpenEnded(run.shard)) {  // follow mode: caught up, poll again later
      if (!Sleep(spec_.poll_interval)) return finish_state(ShardState::kPending);
      continue;
    }
    CheckReportedTotal(run);
    return finish_state(ShardState::kDone);
  }
}

RunResult BackfillerImpl::Run() {
  RunResult result;
  if (ran_.exchange(true)) {
    result.status = absl::FailedPreconditionError("Backfiller::Run() may be called once; create another");
    return result;
  }
  std::unique_ptr<JobLock> lock;
  const bool leasing = !options_.dry_run && c_.checkpoints->leases_shards();
  if (!options_.dry_run && !leasing) {
    absl::StatusOr<std::unique_ptr<JobLock>> l = c_.checkpoints->Lock(spec_.name, SliceScope());
    if (!l.ok()) {
      result.status = l.status();
      return result;
    }
    lock = *std::move(l);
  }

  std::vector<ShardRun> runs(plan_.size());
  SinkOpenContext sink_context, dead_letter_context;
  for (size_t i = 0; i < plan_.size(); ++i) {
    runs[i].shard = plan_[i];
    absl::StatusOr<std::optional<Checkpoint>> ck = c_.checkpoints->Load(spec_.name, plan_[i].id);
    if (!ck.ok()) {
      result.status = ck.status();
      return result;
    }
    if (!ck->has_value()) continue;
    runs[i].checkpoint = **ck;
    runs[i].has_checkpoint = true;
    sink_context.resuming = dead_letter_context.resuming = true;
    if (!runs[i].checkpoint.sink_token.empty())
      sink_context.committed_tokens.push_back(runs[i].checkpoint.sink_token);
    if (!runs[i].checkpoint.dead_letter_token.empty()) {
      dead_letter_context.committed_tokens.push_back(runs[i].checkpoint.dead_letter_token);
    }
  }
  {
    absl::MutexLock l(&progress_mu_);
    fractions_.assign(plan_.size(), 0);
    states_.assign(plan_.size(), ShardState::kPending);
    for (const ShardRun& r : runs) {
      totals_ += r.checkpoint.counters;
      fractions_[r.shard.index] = r.checkpoint.state == ShardState::kDone ? 1.0 : r.checkpoint.progress;
      states_[r.shard.index] =
          r.checkpoint.state == ShardState::kDone ? ShardState::kDone : ShardState::kPending;
    }
    run_start_ = absl::Now();
    initial_fraction_ = SnapshotProgress().window_fraction;
  }
  if (!options_.dry_run) {
    absl::Status s = c_.sink->Open(sink_context);
    if (s.ok()) s = c_.dead_letters->Open(dead_letter_context);
    if (!s.ok()) {
      result.status = s;
      return result;
    }
  }
  CheckBudget();

  std::vector<ShardRun*> pending;
  for (ShardRun& r : runs) {
    if (r.checkpoint.state != ShardState::kDone && InSlice(r.shard)) pending.push_back(&r);
  }
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("job", spec_.name)
      .Int("shards", static_cast<int64_t>(plan_.size()))
      .Int("pending", static_cast<int64_t>(pending.size()))
      .Bool("resuming", sink_context.resuming)
      .Bool("dry_run", options_.dry_run)
      .Close();
  Log(LogLevel::kInfo, sink_context.resuming ? "resuming job" : "starting job", fields);
  for (const std::string& warning : c_.source->ConfigWarnings()) Log(LogLevel::kWarning, warning, "{}");
  if (leasing && c_.sink->serialize_commits()) {
    Log(LogLevel::kWarning,
        "the sink is one file for every shard, but the checkpoint store lets other processes run this "
        "job's shards: run one process per job with this sink, or use a sink every worker can share "
        "(postgres)",
        "{}");
  }

  const int concurrency = options_.concurrency > 0 ? options_.concurrency : spec_.concurrency;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (!Stopping()) {
      size_t i = next.fetch_add(1);
      if (i >= pending.size()) return;
      ShardRun& run = *pending[i];
      if (leasing && !ClaimShard(run)) continue;
      RunShard(run);
      run.lease.reset();  // released at once, so another worker need not wait for it to expire
    }
  };
  std::vector<std::thread> threads;
  const int workers = static_cast<int>(std::min<size_t>(concurrency, pending.size()));
  for (int i = 1; i < workers; ++i) threads.emplace_back(worker);
  if (workers > 0) worker();
  for (std::thread& t : threads) t.join();

  if (!options_.dry_run) {
    absl::Status s = c_.sink->Close();
    if (!s.ok() && result.status.ok()) result.status = s;
  }

  result.complete = true;
  for (ShardRun& r : runs) {
    ShardReport report;
    report.shard = r.shard;
    report.state = r.checkpoint.state == ShardState::kRunning ? ShardState::kPending : r.checkpoint.state;
    report.checkpoint = r.checkpoint;
    report.error = r.error;
    report.total_mismatch = r.total_mismatch;
    report.leased_elsewhere = r.leased_elsewhere;
    if (report.state != ShardState::kDone && InSlice(r.shard)) result.complete = false;
    if (!r.error.ok() && result.status.ok()) result.status = r.error;
    result.shards.push_back(std::move(report));
  }
  {
    absl::MutexLock l(&job_error_mu_);
    if (!job_error_.ok()) result.status = job_error_;
  }
  if (cancelled_.load() && result.status.ok() && !result.complete) {
    result.status = absl::CancelledError("cancelled; run again to resume from the checkpoints");
  }
  result.outcome = OutcomeOf(result);
  result.paused = result.outcome == RunOutcome::kPaused;
  {
    absl::MutexLock l(&progress_mu_);
    result.progress = SnapshotProgress();
  }
  if (options_.metrics != nullptr) RecordGauges(result.progress);
  fields.clear();
  JsonObjectWriter(&fields)
      .Str("job", spec_.name)
      .Str("outcome", RunOutcomeName(result.outcome))
      .Bool("complete", result.complete)
      .Str("status", result.status.ToString())
      .Uint("delivered_this_run", result.progress.records_this_run)
      .Uint("delivered_total", result.progress.totals.records_delivered)
      .Uint("dead_letters_total", result.progress.totals.dead_letters)
      .Close();
  Log(FinalLogLevel(result.outcome), "run finished", fields);
  return result;
}

absl::StatusOr<std::vector<ShardReport>> BackfillerImpl::Status() {
  return LoadShardReports(*c_.checkpoints, spec_.name, plan_);
}

absl::Status BackfillerImpl::Reset(std::optional<std::string> shard_id) {
  return ResetShards(*c_.checkpoints, spec_.name, plan_, shard_id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backfiller>> Backfiller::Create(JobSpec spec, Components c,
                                                               BackfillerOptions options) {
  if (spec.name.empty()) return absl::InvalidArgumentError("name: required but missing");
  if (options.slices < 1 || options.slice < 1 || options.slice > options.slices) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("slice ", options.slice, " of ", options.slices, ": expected 1 <= slice <= slices")));
  }
  if (!c.source) {
    RECOVERY_ASSIGN_OR_RETURN(c.source, BuildSource(spec));
  }
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan, PlanJob(spec, c.source->plans_one_shard()));
  for (const std::string& id : options.shard_ids) {
    if (std::none_of(plan.begin(), plan.end(), [&](const Shard& s) { return s.id == id; })) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("shard \"", id, "\" is not in the plan of job \"", spec.name, "\" (", plan.size(),
                        " shards, from ", plan.front().id, " to ", plan.back().id, ")")));
    }
  }
  if (!c.mapper) {
    RECOVERY_ASSIGN_OR_RETURN(c.mapper, BuildMapper(spec));
  }
  if (!c.sink) {
    if (options.dry_run && (!spec.sink.present() || spec.sink.type == "callback")) {
      c.sink = NewNullSink();
    } else {
      RECOVERY_ASSIGN_OR_RETURN(c.sink, BuildSink(spec));
    }
  }
  if (!c.checkpoints) {
    RECOVERY_ASSIGN_OR_RETURN(c.checkpoints, BuildCheckpointStore(spec));
  }
  if (!c.dead_letters) {
    RECOVERY_ASSIGN_OR_RETURN(c.dead_letters, BuildDeadLetterStore(spec));
  }
  return std::unique_ptr<Backfiller>(
      new BackfillerImpl(std::move(spec), std::move(c), std::move(options), std::move(plan)));
}

}  // namespace recovery
