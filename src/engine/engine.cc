#include "engine/engine.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/commit.h"
#include "engine/retry.h"
#include "json/json_writer.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// When the run started, and 32 random bits so runs started in the same
// second by several processes differ: "20261106T120000Z-1a2b3c4d".
std::string NewRunId(absl::Time now) {
  std::random_device random;
  return StrCat(FormatCompactUtc(now), "-", absl::Hex(random(), absl::kZeroPad8));
}

// The source's claims when a restart can go by its records' sort order.
const PagingClaims* SortedRestarts(const Source& source) {
  if (!source.cursors_may_expire()) return nullptr;
  const PagingClaims* claims = source.paging_claims();
  return claims != nullptr && claims->facts().sorted ? claims : nullptr;
}

}  // namespace

Engine::Engine(JobSpec spec, Components components, BackfillerOptions options, std::vector<Shard> plan)
    : spec_(std::move(spec)),
      c_(std::move(components)),
      options_(std::move(options)),
      plan_(std::move(plan)),
      sink_traits_(c_.sink->traits()),
      groups_commits_(sink_traits_.serialize_commits && sink_traits_.defers_sync &&
                      c_.checkpoints->saves_atomically()),
      presence_(c_.sink->presence()),
      run_id_(NewRunId(absl::Now())),
      sink_marks_(spec_.isolate_after_crashes > 0 && !options_.dry_run && !sink_traits_.rolls_back_uncommitted
                      ? SinkMarks::Open(spec_.name)
                      : nullptr),
      keeps_delivered_keys_(c_.source->cursors_may_expire() && c_.checkpoints->delivered_keys() != nullptr &&
                            !options_.dry_run),
      sorted_restarts_(SortedRestarts(*c_.source)),
      key_log_(spec_.key_log && !options_.dry_run ? c_.checkpoints->key_log() : nullptr),
      progress_(plan_, spec_.start, spec_.end),
      metrics_(options_.metrics, spec_.name),
      records_left_(spec_.max_records),
      committer_(NewPageCommitter(*this)) {}

int64_t Engine::TakeRecords(int64_t wanted) {
  if (!limits_records() || wanted <= 0) return std::max<int64_t>(wanted, 0);
  int64_t left = records_left_.load();
  int64_t granted = 0;
  do {
    granted = std::clamp<int64_t>(left, 0, wanted);
  } while (granted > 0 && !records_left_.compare_exchange_weak(left, left - granted));
  return granted;
}

void Engine::ReturnRecords(int64_t n) {
  if (limits_records() && n > 0) records_left_.fetch_add(n);
}

Engine::~Engine() = default;

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
  // A replay reads letters that all failed once; those that fail again stay
  // where they were, so they spend no budget.
  if (replaying()) return;
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

std::shared_ptr<Engine::CommitGroup> Engine::JoinCommitGroup(const ShardRun& run) {
  return commit_groups_.Join(
      [&](auto& checkpoints) { checkpoints.emplace_back(run.shard.id, run.checkpoint); });
}

absl::Status Engine::AwaitCommitGroup(const std::shared_ptr<CommitGroup>& mine, const ShardRun& run,
                                      ShardCounters* counters) {
  return commit_groups_.Await(mine, [&](auto& checkpoints) {
    return Retry("make a commit group durable", run, counters, [&]() -> absl::Status {
      // The sink first: a checkpoint must never vouch for bytes that are not durable.
      if (absl::Status synced = c_.sink->Sync(); !synced.ok()) return synced;
      return c_.checkpoints->SaveAll(spec_.name, checkpoints);
    });
  });
}

absl::Status Engine::SaveCheckpoint(ShardRun& run) {
  run.trailing_commit.reset();  // older than run.checkpoint; should this save fail, the shard stops
  return SaveCheckpointAs(run, run.checkpoint);
}

absl::Status Engine::SaveCheckpointAs(const ShardRun& run, const Checkpoint& checkpoint) {
  if (run.lease) return run.lease->Save(checkpoint);
  return c_.checkpoints->Save(spec_.name, run.shard.id, checkpoint);
}

}  // namespace recovery
