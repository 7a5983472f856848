#include "engine/engine.h"

#include "absl/time/clock.h"
#include "engine/retry.h"
#include "json/json_writer.h"
#include "util/strings.h"

namespace recovery {

Engine::Engine(JobSpec spec, Components components, BackfillerOptions options, std::vector<Shard> plan)
    : spec_(std::move(spec)),
      c_(std::move(components)),
      options_(std::move(options)),
      plan_(std::move(plan)),
      progress_(plan_, spec_.start, spec_.end),
      metrics_(options_.metrics, spec_.name) {}

void Engine::Cancel() {
  cancelled_.store(true);
  absl::MutexLock lock(&wake_mu_);  // wakes shards sleeping in a backoff
}

void Engine::StopJob(absl::Status why) {
  {
    absl::MutexLock lock(&error_mu_);
    if (job_error_.ok()) job_error_ = std::move(why);
  }
  stopped_.store(true);
  absl::MutexLock lock(&wake_mu_);
}

absl::Status Engine::job_error() const {
  absl::MutexLock lock(&error_mu_);
  return job_error_;
}

bool Engine::Sleep(absl::Duration d) {
  absl::MutexLock lock(&wake_mu_);
  auto stopping = [this] { return Stopping(); };
  return !wake_mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
}

void Engine::Log(LogLevel level, std::string_view message, std::string_view fields_json) {
  if (!options_.on_log) return;
  absl::MutexLock lock(&log_mu_);
  options_.on_log(LogEvent{level, message, fields_json});
}

absl::Status Engine::Retry(std::string_view what, const ShardRun& run, ShardCounters* counters,
                           const std::function<absl::Status()>& attempt) {
  RetryEnv env = SystemRetryEnv([this](absl::Duration d) { return Sleep(d); });
  env.on_retry = [&](int n, absl::Duration delay, const absl::Status& failure) {
    ++counters->retries;
    metrics_.Retry(what);
    std::string fields;
    JsonObjectWriter(&fields)
        .Str("shard", run.shard.id)
        .Str("cursor", run.checkpoint.cursor)
        .Str("operation", what)
        .Int("attempt", n)
        .Double("retry_in_s", absl::ToDoubleSeconds(delay))
        .Str("error", failure.ToString())
        .Close();
    Log(LogLevel::kWarning, "transient failure, retrying", fields);
  };
  return RetryWithBackoff(spec_.retry, what, env, attempt);
}

void Engine::WarnUnaskedKeys(const ShardRun& run, size_t count, std::string_view example) {
  if (warned_unasked_.exchange(true)) return;
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Int("keys", static_cast<int64_t>(count))
      .Str("example", example)
      .Close();
  Log(LogLevel::kWarning,
      "the sink's presence check named keys it was not asked about; they are ignored (said once per job)",
      fields);
}

void Engine::CheckBudget() {
  std::optional<std::string> why = BudgetSpent(spec_.error_budget, progress_.totals());
  if (!why) return;
  StopJob(absl::ResourceExhaustedError(
      StrCat("error budget spent: ", *why,
             "; every rejected record is in the dead letters with its reason. "
             "Fix the mapping or raise the budget, then run again to continue")));
}

void Engine::ReportProgress() {
  if (options_.metrics != nullptr) metrics_.Gauges(progress_.Snapshot(absl::Now()));
  if (!options_.on_progress) return;
  // Snapshot under the lock that orders the callbacks, so progress never goes backwards.
  absl::MutexLock lock(&log_mu_);
  options_.on_progress(progress_.Snapshot(absl::Now()));
}

struct Engine::CommitGroup {
  std::vector<std::pair<std::string, Checkpoint>> checkpoints;
  bool done = false;
  absl::Status status;
};

bool Engine::GroupsCommits() const {
  return c_.sink->serialize_commits() && c_.sink->defers_sync() && c_.checkpoints->saves_atomically();
}

std::shared_ptr<Engine::CommitGroup> Engine::JoinCommitGroup(const ShardRun& run) {
  absl::MutexLock lock(&group_mu_);
  if (open_group_ == nullptr) open_group_ = std::make_shared<CommitGroup>();
  open_group_->checkpoints.emplace_back(run.shard.id, run.checkpoint);
  return open_group_;
}

absl::Status Engine::AwaitCommitGroup(const std::shared_ptr<CommitGroup>& mine, const ShardRun& run,
                                      ShardCounters* counters) {
  absl::MutexLock lock(&group_mu_);
  struct Wait {
    Engine* engine;
    CommitGroup* group;
  } wait{this, mine.get()};
  const absl::Condition ready(
      +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return w->group->done || (!w->engine->group_flushing_ && w->engine->open_group_.get() == w->group);
      },
      &wait);
  while (true) {
    group_mu_.Await(ready);
    if (mine->done) return mine->status;
    group_flushing_ = true;
    std::shared_ptr<CommitGroup> group = std::move(open_group_);
    group_mu_.Unlock();
    // The sink first: a checkpoint must never vouch for bytes that are not durable.
    absl::Status s = Retry("make a commit group durable", run, counters, [&]() -> absl::Status {
      if (absl::Status synced = c_.sink->Sync(); !synced.ok()) return synced;
      return c_.checkpoints->SaveAll(spec_.name, group->checkpoints);
    });
    group_mu_.Lock();
    group->status = std::move(s);
    group->done = true;
    group_flushing_ = false;
  }
}

absl::Status Engine::SaveCheckpoint(const ShardRun& run) {
  if (run.lease) return run.lease->Save(run.checkpoint);
  return c_.checkpoints->Save(spec_.name, run.shard.id, run.checkpoint);
}

}  // namespace recovery
