// The engine's front: Create builds what the spec names, Run schedules the
// shards on worker threads and sums up how the run ended. The page loop is in
// engine/shard_runner.cc, the commit protocol in engine/commit.cc
// (docs/architecture.md walks through both).
#include "recovery/backfiller.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "engine/engine.h"
#include "engine/replay_source.h"
#include "engine/run_log.h"
#include "engine/shard_runner.h"
#include "engine/stored_state.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "spec/components.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {

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

class BackfillerImpl : public Backfiller {
 public:
  // `plan` is what this run may run: the job's plan, or a replay's shard;
  // `job_plan` the job's, whose checkpoints every run respects.
  BackfillerImpl(JobSpec spec, Components components, BackfillerOptions options, std::vector<Shard> plan,
                 std::vector<Shard> job_plan)
      : engine_(std::move(spec), std::move(components), std::move(options), std::move(plan)),
        job_plan_(std::move(job_plan)) {}

  RunResult Run() override;
  void Cancel() override { engine_.Cancel(); }
  absl::StatusOr<std::vector<ShardReport>> Status() override {
    return LoadShardReports(*engine_.components().checkpoints, engine_.spec().name, job_plan_);
  }
  absl::Status Reset(std::optional<std::string> shard_id) override {
    return ResetShards(*engine_.components().checkpoints, engine_.spec().name, job_plan_, shard_id);
  }
  const std::vector<Shard>& plan() const override { return engine_.plan(); }

 private:
  bool InSlice(const Shard& s) const {
    const BackfillerOptions& o = engine_.options();
    if (!o.shard_ids.empty() &&
        std::find(o.shard_ids.begin(), o.shard_ids.end(), s.id) == o.shard_ids.end()) {
      return false;
    }
    return s.index % o.slices == o.slice - 1;
  }
  std::string SliceScope() const {
    const BackfillerOptions& o = engine_.options();
    return o.slices == 1 ? "" : StrCat("slice-", o.slice, "-of-", o.slices);
  }
  // Loads every shard's checkpoint into `runs`, and the sinks' commit tokens.
  absl::Status Load(std::vector<ShardRun>& runs, SinkOpenContext* sink, SinkOpenContext* dead_letters);
  // Records the dead letters already hold, so no shard dead-letters them again.
  absl::Status LoadRejectClaims();
  void LogStart(size_t pending, bool resuming);
  // Runs `pending` on the configured number of threads, this one included.
  void RunShards(const std::vector<ShardRun*>& pending, bool leasing);
  void Finish(std::vector<ShardRun>& runs, RunResult& result);
  // A line of the job's run log (run_log.h); a failure is only logged.
  void NoteRun(const std::string& path, std::string_view what, const RunResult& result);

  Engine engine_;
  const std::vector<Shard> job_plan_;
  std::atomic<bool> ran_{false};
};

absl::Status BackfillerImpl::Load(std::vector<ShardRun>& runs, SinkOpenContext* sink,
                                  SinkOpenContext* dead_letters) {
  CheckpointStore& store = *engine_.components().checkpoints;
  const std::string& job = engine_.spec().name;
  const bool replaying = engine_.options().replay.has_value();
  // Every stored checkpoint vouches for what its shard wrote, whether or not
  // this run runs the shard.
  auto vouch = [&](const Checkpoint& ck) {
    sink->resuming = dead_letters->resuming = true;
    if (!ck.sink_token.empty()) sink->committed_tokens.push_back(ck.sink_token);
    if (!ck.dead_letter_token.empty()) dead_letters->committed_tokens.push_back(ck.dead_letter_token);
  };
  auto add_run = [&](const Shard& shard, std::optional<Checkpoint> ck) {
    ShardRun& run = runs.emplace_back();
    run.shard = shard;
    if (!ck.has_value()) return;
    run.checkpoint = *std::move(ck);
    run.has_checkpoint = true;
  };
  runs.reserve(engine_.plan().size());
  RECOVERY_ASSIGN_OR_RETURN(std::vector<std::optional<Checkpoint>> found,
                            store.LoadMany(job, ShardIds(job_plan_)));
  for (size_t i = 0; i < job_plan_.size(); ++i) {
    if (found[i].has_value()) vouch(*found[i]);
    if (!replaying) add_run(job_plan_[i], std::move(found[i]));
  }
  RECOVERY_ASSIGN_OR_RETURN(std::vector<StoredShard> replays, LoadReplayShards(store, job, job_plan_));
  for (StoredShard& r : replays) {
    vouch(r.checkpoint);
    if (replaying && r.shard.id == engine_.plan()[0].id) add_run(engine_.plan()[0], std::move(r.checkpoint));
  }
  if (replaying && runs.empty()) add_run(engine_.plan()[0], std::nullopt);
  std::vector<const Checkpoint*> stored;
  stored.reserve(runs.size());
  for (const ShardRun& r : runs) stored.push_back(r.has_checkpoint ? &r.checkpoint : nullptr);
  engine_.progress().Start(stored, absl::Now());
  return absl::OkStatus();
}

absl::Status BackfillerImpl::LoadRejectClaims() {
  // A replay takes each letter once by its cursor, and must not take the
  // letters it replays for claims of other shards.
  if (engine_.options().replay) return absl::OkStatus();
  LetterReadback* readback = engine_.components().dead_letters->readback();
  if (readback == nullptr) return absl::OkStatus();  // the rule holds within the run
  RejectClaims& claims = engine_.reject_claims();
  return readback->ForEachRaw(engine_.spec().name, [&claims](std::string_view raw) { claims.Claim(raw); });
}

void BackfillerImpl::LogStart(size_t pending, bool resuming) {
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("job", engine_.spec().name)
      .Int("shards", static_cast<int64_t>(engine_.plan().size()))
      .Int("pending", static_cast<int64_t>(pending))
      .Bool("resuming", resuming)
      .Bool("dry_run", engine_.options().dry_run)
      .Close();
  engine_.Log(LogLevel::kInfo, resuming ? "resuming job" : "starting job", fields);
  for (const std::string& warning : engine_.components().source->ConfigWarnings()) {
    engine_.Log(LogLevel::kWarning, warning, "{}");
  }
}

void BackfillerImpl::RunShards(const std::vector<ShardRun*>& pending, bool leasing) {
  const int concurrency =
      engine_.options().concurrency > 0 ? engine_.options().concurrency : engine_.spec().concurrency;
  // Workers sharing a plan through leases start at different shards, so that
  // they do not all claim (and mostly fail to claim) the same ones first.
  const size_t first =
      leasing && !pending.empty() ? absl::Uniform<size_t>(absl::BitGen(), 0, pending.size()) : 0;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (!engine_.Stopping()) {
      const size_t i = next.fetch_add(1);
      if (i >= pending.size()) return;
      ShardRun& run = *pending[(first + i) % pending.size()];
      if (leasing && !ClaimShard(engine_, run)) continue;
      RunShard(engine_, run);
      run.lease.reset();  // released at once, so another worker need not wait for it to expire
    }
  };
  std::vector<std::thread> threads;
  const int workers = static_cast<int>(std::min<size_t>(concurrency, pending.size()));
  for (int i = 1; i < workers; ++i) threads.emplace_back(worker);
  if (workers > 0) worker();
  for (std::thread& t : threads) t.join();
}

void BackfillerImpl::Finish(std::vector<ShardRun>& runs, RunResult& result) {
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
  if (absl::Status why = engine_.job_error(); !why.ok()) result.status = why;
  if (engine_.cancelled() && result.status.ok() && !result.complete) {
    result.status = absl::CancelledError("cancelled; run again to resume from the checkpoints");
  }
  result.outcome = OutcomeOf(result);
  result.progress = engine_.progress().Snapshot(absl::Now());
  engine_.metrics().Gauges(result.progress);
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("job", engine_.spec().name)
      .Str("outcome", RunOutcomeName(result.outcome))
      .Bool("complete", result.complete)
      .Str("status", result.status.ToString())
      .Uint("delivered_this_run", result.progress.records_this_run)
      .Uint("delivered_total", result.progress.totals.records_delivered)
      .Uint("dead_letters_total", result.progress.totals.dead_letters)
      .Close();
  engine_.Log(FinalLogLevel(result.outcome), "run finished", fields);
}

RunResult BackfillerImpl::Run() {
  RunResult result;
  if (ran_.exchange(true)) {
    result.status = absl::FailedPreconditionError("Backfiller::Run() may be called once; create another");
    return result;
  }
  const Components& c = engine_.components();
  const bool dry_run = engine_.options().dry_run;
  const bool leasing = !dry_run && c.checkpoints->leasing() != nullptr;
  std::unique_ptr<JobLock> lock;
  if (!dry_run && !leasing) {
    absl::StatusOr<std::unique_ptr<JobLock>> l = c.checkpoints->Lock(engine_.spec().name, SliceScope());
    if (!l.ok()) {
      result.status = l.status();
      return result;
    }
    lock = *std::move(l);
  }
  std::vector<ShardRun> runs;
  SinkOpenContext sink_context, dead_letter_context;
  if (absl::Status s = Load(runs, &sink_context, &dead_letter_context); !s.ok()) {
    result.status = s;
    return result;
  }
  if (!dry_run) {
    absl::Status s = c.sink->Open(sink_context);
    if (s.ok()) s = c.dead_letters->Open(dead_letter_context);
    if (s.ok()) s = LoadRejectClaims();
    if (!s.ok()) {
      result.status = s;
      return result;
    }
  }
  engine_.CheckBudget();
  // Beside the checkpoints, when the store keeps them in a directory.
  const std::string files = c.checkpoints->files_dir(engine_.spec().name);
  const std::string run_log = files.empty() ? "" : StrCat(files, "/", kRunLogName);
  if (!dry_run && !run_log.empty()) NoteRun(run_log, "start", result);
  // While it runs, the run's records so far every run_log_every: the
  // report's records per minute, and where a run that died stopped.
  std::optional<RunLogTicker> ticker;
  if (!dry_run && !run_log.empty())
    ticker.emplace(engine_.options().run_log_every, [&] { NoteRun(run_log, "progress", result); });

  std::vector<ShardRun*> pending;
  for (ShardRun& r : runs) {
    if (r.checkpoint.state != ShardState::kDone && InSlice(r.shard)) pending.push_back(&r);
  }
  LogStart(pending.size(), sink_context.resuming);
  if (leasing && engine_.sink_traits().serialize_commits) {
    engine_.Log(
        LogLevel::kWarning,
        "the sink is one file for every shard, but the checkpoint store lets other processes run this "
        "job's shards: run one process per job with this sink, or use a sink every worker can share "
        "(postgres)",
        "{}");
  }
  if (engine_.options().on_ready) engine_.options().on_ready(true);
  RunShards(pending, leasing);
  if (engine_.options().on_ready) engine_.options().on_ready(false);
  if (!dry_run) {
    absl::Status s = c.sink->Close();
    if (!s.ok() && result.status.ok()) result.status = s;
  }
  ticker.reset();
  Finish(runs, result);
  if (!dry_run && !run_log.empty()) NoteRun(run_log, "end", result);
  return result;
}

void BackfillerImpl::NoteRun(const std::string& path, std::string_view what, const RunResult& result) {
  // (While the run goes on, its records so far are the engine's.)
  const uint64_t records =
      what == "progress" ? engine_.progress().records_this_run() : result.progress.records_this_run;
  const absl::Status s =
      AppendRunLog(path, what, engine_.run_id(), absl::Now(), RunOutcomeName(result.outcome), records);
  if (!s.ok()) {  // the run's timeline in the report is all it costs
    engine_.Log(LogLevel::kWarning, StrCat("could not write the run log: ", s.message()), "{}");
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backfiller>> Backfiller::Create(JobSpec spec, Components c,
                                                               BackfillerOptions options) {
  if (spec.name.empty()) return absl::InvalidArgumentError("name: required but missing");
  if (options.slices < 1 || options.slice < 1 || options.slice > options.slices) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("slice ", options.slice, " of ", options.slices, ": expected 1 <= slice <= slices")));
  }
  if (options.replay && (options.dry_run || !options.shard_ids.empty())) {
    return absl::InvalidArgumentError(
        "a replay of the dead letters runs its own shard, and writes: not with "
        "dry_run or shard_ids");
  }
  RECOVERY_RETURN_IF_ERROR(ResolveComponents(spec, {.dry_run = options.dry_run}, &c));
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan, PlanJob(spec, c.source->plans_one_shard()));
  for (const std::string& id : options.shard_ids) {
    if (std::none_of(plan.begin(), plan.end(), [&](const Shard& s) { return s.id == id; })) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("shard \"", id, "\" is not in the plan of job \"", spec.name, "\" (", plan.size(),
                        " shards, from ", plan.front().id, " to ", plan.back().id, ")")));
    }
  }
  if (spec.skip_already_present && !options.dry_run && c.sink->presence() == nullptr) {
    return SinkLacks(absl::StatusCode::kInvalidArgument, spec, "skip_already_present",
                     "tell which records it already holds", &SinkType::presence);
  }
  if (spec.key_log && !options.dry_run && c.checkpoints->key_log() == nullptr) {
    return absl::InvalidArgumentError(
        "key_log: the checkpoint store keeps no key log; use \"file\" checkpoints, or turn it off");
  }
  const PagingClaims* claims = c.source->paging_claims();
  if (c.source->cursors_may_expire() && !options.dry_run && c.checkpoints->delivered_keys() == nullptr &&
      !(claims != nullptr && claims->facts().sorted) &&
      !(spec.skip_already_present && c.sink->presence() != nullptr)) {
    const CheckpointStoreType* row = FindType(CheckpointStoreTypes(), spec.checkpoint.type);
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("source.pagination.expired: ",
               RestartCannotBeExact(row != nullptr && row->read != nullptr ? spec.checkpoint.type : ""))));
  }
  std::vector<Shard> runs_plan = plan;
  if (options.replay) {
    // The job's source only planned the shards whose checkpoints the replay
    // must respect; the letters are read back from the store. An unfinished
    // replay resumes; after a finished one the next begins.
    if (options.replay->page_size < 1) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("replay page_size: at least 1, got ", options.replay->page_size)));
    }
    if (c.dead_letters->readback() == nullptr) {
      return absl::FailedPreconditionError(
          "replay: the dead-letter store cannot list and mark its letters (LetterReadback); the file, "
          "PostgreSQL and memory (with a list) stores can");
    }
    RECOVERY_ASSIGN_OR_RETURN(std::vector<StoredShard> replays,
                              LoadReplayShards(*c.checkpoints, spec.name, plan));
    Shard shard = !replays.empty() && replays.back().checkpoint.state != ShardState::kDone
                      ? replays.back().shard
                      : ReplayShard(plan, static_cast<int>(replays.size()) + 1);
    shard.index = 0;  // the only shard this run runs
    runs_plan = {std::move(shard)};
    c.source = NewReplaySource(c.dead_letters->readback(), spec.name, *options.replay);
  }
  return std::unique_ptr<Backfiller>(new BackfillerImpl(std::move(spec), std::move(c), std::move(options),
                                                        std::move(runs_plan), std::move(plan)));
}

}  // namespace recovery
