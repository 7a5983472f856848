#include "engine/shard_runner.h"

#include <algorithm>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/commit.h"
#include "engine/crash_isolation.h"
#include "engine/cursor_restart.h"
#include "engine/page_cut.h"
#include "engine/page_mapper.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

void CheckReportedTotal(Engine& engine, ShardRun& run) {
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
  engine.Log(LogLevel::kWarning, run.total_mismatch, fields);
}

// The page line, built only for someone to read.
void LogPage(Engine& engine, const ShardRun& run, std::string_view page_cursor, const Page& page,
             const ShardCounters& counters) {
  if (!engine.options().on_log) return;
  std::string resume;
  JsonObjectWriter(&resume).Str("shard", run.shard.id).Str("cursor", run.checkpoint.cursor).Close();
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Str("cursor", page_cursor)
      .Str("next_cursor", page.next_cursor)
      .Uint("fetched", counters.records_fetched)
      .Uint("delivered", counters.records_delivered)
      .Uint("dead_letters", counters.dead_letters)
      .Uint("dropped", counters.records_dropped)
      .Uint("out_of_window", counters.records_out_of_window)
      .Uint("already_present", counters.records_already_present)
      .Uint("bytes", counters.bytes)
      .Bool("exhausted", page.exhausted)
      .Double("shard_progress", run.checkpoint.progress)
      .Raw("resume", resume)
      .Close();
  engine.Log(LogLevel::kInfo, engine.committer().PageMessage(), fields);
}

// Counts, logs and reports a page once its checkpoint moved past it.
void AfterPage(Engine& engine, ShardRun& run, std::string_view page_cursor, const Page& page,
               const ShardCounters& counters) {
  engine.progress().AddPage(run.shard.index, counters, run.checkpoint,
                            engine.committer().ProgressRecords(counters));
  LogPage(engine, run, page_cursor, page, counters);
  engine.CheckBudget();
  engine.metrics().Page(counters);
  engine.ReportProgress();
}

// How the shard ended when a step failed: interrupted, paused, taken over, or failed.
void Stop(Engine& engine, ShardRun& run, std::string_view step, const absl::Status& s) {
  Checkpoint& ck = run.checkpoint;
  const int index = run.shard.index;
  if (s.code() == absl::StatusCode::kCancelled && engine.Stopping()) {  // interrupted, not failed
    engine.progress().SetState(index,
                               ck.state == ShardState::kDone ? ShardState::kDone : ShardState::kPending);
    return;
  }
  if (IsPaused(s)) {  // the source's quota: every shard stops, resumable later
    engine.StopJob(s);
    engine.progress().SetState(index, ShardState::kPending);
    return;
  }
  std::string fields;
  if (IsLeaseLost(s)) {  // another worker owns the shard now: stop, write nothing
    run.error = LeaseLostError(StrCat("shard ", run.shard.id, ": ", step, ": ", s.message()));
    JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("error", run.error.ToString()).Close();
    engine.Log(LogLevel::kWarning,
               "lease lost: another worker took the shard over; stopped it without writing", fields);
    engine.progress().SetState(index, ShardState::kPending);
    return;
  }
  run.error = absl::Status(s.code(), StrCat("shard ", run.shard.id, " stopped at cursor \"", ck.cursor,
                                            "\": ", step, ": ", s.message()));
  ck.state = ShardState::kFailed;
  ck.last_error = std::string(run.error.message());
  ck.updated = absl::Now();
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Str("cursor", ck.cursor)
      .Str("error", run.error.ToString())
      .Close();
  engine.Log(LogLevel::kError, "shard failed; its checkpoint is intact and a re-run resumes it", fields);
  engine.committer().SaveFailed(run);
  engine.progress().SetState(index, ShardState::kFailed);
}

// Records of other shards on a page: the API probably ignores the window
// filter. Said once per shard.
void WarnOutOfWindow(Engine& engine, ShardRun& run, const MappedPage& mapped) {
  if (run.warned_out_of_window) return;
  const auto outside =
      std::count(mapped.outcomes.begin(), mapped.outcomes.end(), RecordOutcome::kOutOfWindow);
  if (outside == 0) return;
  run.warned_out_of_window = true;
  std::string fields;
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Str("cursor", run.checkpoint.cursor)
      .Int("out_of_window", static_cast<int64_t>(outside))
      .Close();
  engine.Log(
      LogLevel::kWarning,
      StrCat("a page of shard ", run.shard.id, " holds ", outside,
             " records outside the shard's window: the API probably ignores the window filter. They are "
             "skipped (each belongs to its own shard); if the API returns records in time order, set "
             "source.sorted_by so the shard ends at its window's end instead of reading on"),
      fields);
}

// The engine's context for one shard's reader: what the source warns about
// is also kept, so the shard's checkpoint can carry it to `recovery status`.
// Sources may warn from threads of their own.
class ShardScope : public ShardContext {
 public:
  explicit ShardScope(const ShardContext& engine) : engine_(engine) {}
  bool Sleep(absl::Duration d) const override { return engine_.Sleep(d); }
  bool Stopping() const override { return engine_.Stopping(); }
  void ObserveRequest(absl::Duration latency, int http_status) const override {
    engine_.ObserveRequest(latency, http_status);
  }
  void CountEvent(std::string_view event, uint64_t n) const override { engine_.CountEvent(event, n); }
  void SetGauge(std::string_view gauge, double value) const override { engine_.SetGauge(gauge, value); }
  void Warn(std::string_view message, std::string_view fields_json) const override {
    engine_.Warn(message, fields_json);
    absl::MutexLock lock(&mu_);
    warning_ = std::string(message);
  }
  // Moves the latest warning, if any, into `checkpoint` (saved with it).
  void TakeWarning(Checkpoint& checkpoint) const {
    absl::MutexLock lock(&mu_);
    if (warning_.empty()) return;
    checkpoint.warning = std::move(warning_);
    warning_.clear();
  }

 private:
  const ShardContext& engine_;
  mutable absl::Mutex mu_;
  mutable std::string warning_ ABSL_GUARDED_BY(mu_);
};

// Opens the shard's reader at `cursor`, with retries.
absl::Status OpenReader(Engine& engine, ShardRun& run, const ShardScope& scope, std::string_view cursor,
                        ShardCounters* counters, std::unique_ptr<ShardReader>* reader) {
  return engine.Retry("open source", run, counters, [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<ShardReader>> r =
        engine.components().source->Open(ReaderShard(run), cursor, scope);
    if (!r.ok()) return r.status();
    *reader = *std::move(r);
    return absl::OkStatus();
  });
}

// Commits a mapped page, confirms it to the source, and reports it (progress,
// log, metrics); `counters` start again for the next page. False when a step
// failed and stopped the shard.
bool CommitAndConfirm(Engine& engine, ShardRun& run, ShardReader& reader, const Page& page,
                      MappedPage& mapped, bool redeliver, ShardCounters* counters) {
  const std::string page_cursor = run.checkpoint.cursor;
  absl::Status st = engine.committer().Commit(run, page, mapped, redeliver, counters);
  if (!st.ok()) {
    Stop(engine, run, "commit page", st);
    return false;
  }
  ReturnUnused(engine, run, engine.committer().ProgressRecords(*counters));
  st = engine.committer().Confirm(run, reader, page, mapped, counters);
  if (!st.ok()) {
    Stop(engine, run, "confirm page to source", st);
    return false;
  }
  if (page.reported_total >= 0) run.reported_total = page.reported_total;
  AfterPage(engine, run, page_cursor, page, *counters);
  *counters = ShardCounters();
  return true;
}

// The next page from `reader`, with retries.
absl::Status FetchPage(Engine& engine, ShardRun& run, ShardReader& reader, Page* page,
                       ShardCounters* counters) {
  bool first_attempt = true;
  return engine.Retry("fetch page", run, counters, [&]() -> absl::Status {
    // A fetch that failed may take long to succeed: the last commit trails no longer.
    if (!std::exchange(first_attempt, false))
      RECOVERY_RETURN_IF_ERROR(engine.committer().SaveTrailing(run, counters));
    page->Clear();
    return reader.Next(page);
  });
}

// The page loop of RunShard, up to where the shard stops, pauses or is done.
void RunPages(Engine& engine, ShardRun& run) {
  const Components& c = engine.components();
  const int index = run.shard.index;
  const ShardScope scope(engine.source_context());  // outlives the reader
  engine.progress().SetState(index, ShardState::kRunning);
  auto pause = [&] { engine.progress().SetState(index, ShardState::kPending); };
  if (engine.RecordsSpent()) return pause();
  bool redeliver = run.checkpoint.in_flight;
  if (engine.spec().isolate_after_crashes > 0) run.death_unsaved = CountDeath(run, engine.sink_marks());
  ShardCounters counters;  // of the page under way; retries count from the open
  std::unique_ptr<ShardReader> reader;
  absl::Status st = OpenReader(engine, run, scope, run.checkpoint.cursor, &counters, &reader);
  if (!st.ok()) return Stop(engine, run, "open source", st);
  st = ResumeRestarted(engine, run);  // may be re-reading
  if (!st.ok()) return Stop(engine, run, "resume a restarted shard", st);

  // See Source::partitions_by_shard(); claims keep one API's record from being
  // dead-lettered by every shard it was handed to.
  const bool partitioned = c.source->partitions_by_shard();
  const bool owns_rejects = partitioned || index == 0;
  RejectClaims* claims = partitioned ? &engine.reject_claims() : nullptr;
  Page page;
  MappedPage mapped;
  const PagingClaims* sorted = engine.sorted_restarts();
  const bool sorted_keys = sorted != nullptr && !engine.keeps_delivered_keys();  // Checkpoint::sorted_keys
  mapped.hash_keys = engine.key_log() != nullptr || sorted_keys;
  while (true) {
    if (engine.Stopping() || engine.RecordsSpent()) return pause();
    st = FetchPage(engine, run, *reader, &page, &counters);
    if (IsCursorExpired(st) && c.source->cursors_may_expire()) {  // from the beginning, skipping what was had
      reader.reset();
      st = PrepareRestart(engine, run, st);
      if (st.ok()) st = OpenReader(engine, run, scope, "", &counters, &reader);
      if (!st.ok()) return Stop(engine, run, "restart after an expired cursor", st);
      redeliver = false;  // the batch in flight is flagged record by record now
      continue;
    }
    if (!st.ok()) return Stop(engine, run, "fetch page", st);
    page.progress = ShardProgress(run, page.progress);
    if (!DropTaken(engine, run, &page)) redeliver = true;

    scope.TakeWarning(run.checkpoint);  // saved with the page
    const JobWindow job{engine.spec().start, engine.spec().end};
    MapPage(*c.mapper, run.shard, job, page.records, owns_rejects, claims, &mapped);
    const Cut cut = CutToLimit(engine, run, job, &page, &mapped);
    if (cut == Cut::kNothing) return pause();
    if (sorted != nullptr) NoteSortedEnd(*sorted, sorted_keys, page, run, mapped);
    if (partitioned && !c.source->plans_one_shard()) WarnOutOfWindow(engine, run, mapped);
    run.max_event_time = std::max(run.max_event_time, mapped.max_event_time);
    if (!CommitAndConfirm(engine, run, *reader, page, mapped, redeliver, &counters)) return;
    redeliver = false;
    // The reader has moved past the page a cut kept in the checkpoint: only a
    // reader opened again at that cursor may go on, so the shard stops here.
    if (cut == Cut::kCut) return pause();
    if (!page.exhausted) continue;
    if (IsOpenEnded(run.shard)) {  // follow mode: caught up, poll again later
      st = engine.committer().SaveTrailing(run, &counters);
      if (!st.ok()) return Stop(engine, run, "save the last commit", st);
      if (!engine.Sleep(engine.spec().poll_interval)) return pause();
      continue;
    }
    CheckReportedTotal(engine, run);
    engine.progress().SetState(index, ShardState::kDone);
    return;
  }
}

}  // namespace

void RunShard(Engine& engine, ShardRun& run) {
  RunPages(engine, run);
  // The last commit may still trail (PageCommitter::SaveTrailing): it is
  // saved before the shard's lease or the job's lock is let go. (A shard that
  // failed saved its checkpoint as it stopped.)
  ShardCounters counters;
  const absl::Status st = engine.committer().SaveTrailing(run, &counters);
  if (!st.ok()) Stop(engine, run, "save the last commit", st);
}

bool ClaimShard(Engine& engine, ShardRun& run) {
  CheckpointStore& store = *engine.components().checkpoints;
  const std::string& job = engine.spec().name;
  ShardCounters ignored;
  absl::StatusOr<std::unique_ptr<ShardLease>> lease;
  absl::Status st = engine.Retry("claim shard", run, &ignored, [&] {
    lease = store.leasing()->ClaimShard(job, run.shard.id);  // only a leasing store claims
    return lease.status();
  });
  std::string fields;
  if (!st.ok()) {
    if (st.code() == absl::StatusCode::kFailedPrecondition) {  // another worker has it
      run.leased_elsewhere = true;
      JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("holder", ToStd(st.message())).Close();
      engine.Log(LogLevel::kInfo, "shard leased by another worker; skipped", fields);
    } else {
      run.error = absl::Status(st.code(), StrCat("shard ", run.shard.id, ": claim: ", st.message()));
      JsonObjectWriter(&fields).Str("shard", run.shard.id).Str("error", run.error.ToString()).Close();
      engine.Log(LogLevel::kError, "could not claim shard", fields);
    }
    return false;
  }
  run.lease = *std::move(lease);
  absl::StatusOr<std::optional<Checkpoint>> ck;
  st = engine.Retry("load checkpoint", run, &ignored, [&] {
    ck = store.Load(job, run.shard.id);
    return ck.status();
  });
  if (!st.ok()) {
    run.error = absl::Status(st.code(), StrCat("shard ", run.shard.id, ": ", st.message()));
    run.lease.reset();
    return false;
  }
  Checkpoint fresh = ck->value_or(Checkpoint());
  engine.progress().Replace(run.shard.index, run.checkpoint, fresh);  // count what the other worker did, once
  run.checkpoint = std::move(fresh);
  run.has_checkpoint = ck->has_value();
  JsonObjectWriter(&fields)
      .Str("shard", run.shard.id)
      .Int("fencing_token", run.lease->fencing_token())
      .Str("cursor", run.checkpoint.cursor)
      .Close();
  engine.Log(LogLevel::kInfo, "shard claimed", fields);
  if (run.checkpoint.state == ShardState::kDone) {  // finished by another worker meanwhile
    run.lease.reset();
    return false;
  }
  return true;
}

}  // namespace recovery
