#include "engine/commit.h"

#include <optional>

#include "absl/time/clock.h"
#include "engine/crash_isolation.h"
#include "engine/cursor_restart.h"
#include "engine/presence.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Everything but the retries, derived once from the outcomes.
void CountPage(const Page& page, const MappedPage& mapped, bool dry_run, ShardCounters* counters) {
  const uint64_t retries = counters->retries;
  *counters = PageCounters(page, mapped, dry_run);
  counters->retries = retries;
}

// The checkpoint once `page` is done, whatever wrote it.
void MovePast(ShardRun& run, const Page& page, const MappedPage& mapped, const ShardCounters& counters) {
  Checkpoint& ck = run.checkpoint;
  ck.cursor = page.next_cursor;
  MoveSortedThrough(mapped, ck);
  ck.in_flight = false;
  ck.in_flight_keys.clear();
  ck.crashes = 0;
  ck.suspect_keys.clear();
  ck.suspect_deaths = 0;
  ck.settled_keys.clear();
  ck.page_taken = run.taken_after;  // a page cut by the record limit keeps its cursor
  ck.page_taken_hash = run.taken_hash_after;
  ck.counters += counters;
  if (page.reported_total >= 0) ck.reported_total = page.reported_total;
  const bool done = page.exhausted && !IsOpenEnded(run.shard);
  ck.progress = done ? 1.0 : ShardFraction(run.shard, ck, run.max_event_time, &page);
  ck.state = done ? ShardState::kDone : ShardState::kRunning;
  ck.updated = absl::Now();
}

// Delivers the batch, retrying; a retried attempt is flagged as a possible
// redelivery. Fills what the sink said of the records (mapped.written) and
// its commit token.
absl::Status Deliver(Engine& engine, ShardRun& run, MappedPage& mapped, ShardCounters* counters) {
  bool first = true;
  RECOVERY_RETURN_IF_ERROR(engine.Retry("deliver batch to sink", run, counters, [&]() -> absl::Status {
    if (!first) mapped.batch.MarkRedelivered();  // the failed attempt may have reached the sink
    first = false;
    const std::optional<WriteFence> fence =
        run.lease ? std::optional<WriteFence>({engine.spec().name, run.shard.id, run.lease->fencing_token()})
                  : std::nullopt;
    const WriteRequest request{run.shard, mapped.batch, fence ? &*fence : nullptr, engine.spec().name,
                               engine.run_id()};
    mapped.written = WriteResult();
    {
      const InSink in_sink(engine.sink_marks(), run.shard.index, run.checkpoint.updated);
      RECOVERY_RETURN_IF_ERROR(engine.components().sink->Write(request, &mapped.written));
    }
    if (!mapped.written.commit_token.empty()) run.checkpoint.sink_token = mapped.written.commit_token;
    return absl::OkStatus();
  }));
  if (engine.keeps_delivered_keys()) return RecordDelivered(engine, run, mapped.batch, counters);
  return absl::OkStatus();
}

// A sink that defers its sync to commit groups (SinkTraits::defers_sync),
// written outside one: synced before a checkpoint vouches for its bytes.
absl::Status SyncOutsideGroup(Engine& engine, const ShardRun& run, ShardCounters* counters) {
  if (!engine.sink_traits().defers_sync) return absl::OkStatus();
  return engine.Retry("sync sink", run, counters, [&] { return engine.components().sink->Sync(); });
}

ReplayOutcome ReplayOutcomeOf(RecordOutcome outcome) {
  switch (outcome) {
    case RecordOutcome::kDelivered:
      return ReplayOutcome::kDelivered;
    case RecordOutcome::kAlreadyPresent:
      return ReplayOutcome::kAlreadyPresent;
    case RecordOutcome::kDropped:
      return ReplayOutcome::kDropped;
    case RecordOutcome::kOutOfWindow:
      return ReplayOutcome::kOutOfWindow;
    case RecordOutcome::kDeadLettered:
      break;
  }
  return ReplayOutcome::kFailedAgain;
}

// A replay marks every letter of the page with what became of it: one that
// failed again keeps its place with its new reason, instead of a second letter.
absl::Status MarkReplayed(Engine& engine, const ShardRun& run, const Page& page, const MappedPage& mapped,
                          absl::Time now) {
  LetterReadback& store = *engine.components().dead_letters->readback();  // checked at Create
  std::vector<std::string_view> reasons(mapped.outcomes.size());
  for (const PendingDeadLetter& d : mapped.dead) reasons[d.index] = d.reason;
  const auto& records = page.records.records();
  for (size_t i = 0; i < records.size(); ++i) {
    const ReplayOutcome outcome = ReplayOutcomeOf(mapped.outcomes[i]);
    LetterMark mark{engine.spec().name,
                    records[i].id,
                    run.shard.id,
                    outcome,
                    outcome == ReplayOutcome::kFailedAgain ? reasons[i] : std::string_view(),
                    now};
    RECOVERY_RETURN_IF_ERROR(store.Mark(mark));
  }
  return absl::OkStatus();
}

// A run's dead letters: the page's new ones, added to the store.
absl::Status AddLetters(Engine& engine, const ShardRun& run, const Page&, const MappedPage& mapped,
                        absl::Time now) {
  DeadLetterStore& store = *engine.components().dead_letters;
  for (const PendingDeadLetter& d : mapped.dead) {
    // Indexes count from the page's front, records an earlier cut took included.
    DeadLetter letter{engine.spec().name,
                      run.shard.id,
                      run.checkpoint.cursor,
                      d.index + run.dropped_in_page,
                      d.reason,
                      d.raw,
                      d.source_id,
                      now,
                      d.key,
                      d.event_time};
    RECOVERY_RETURN_IF_ERROR(store.Add(letter));
  }
  return absl::OkStatus();
}

// The page's keys and outcomes, to the key log when the job keeps one. A
// record whose key could not be read has no entry.
absl::Status LogKeys(Engine& engine, ShardRun& run, const MappedPage& mapped, ShardCounters* counters) {
  KeyLog* log = engine.key_log();
  if (log == nullptr) return absl::OkStatus();
  std::vector<KeyLogEntry> entries;
  entries.reserve(mapped.outcomes.size());
  for (size_t i = 0; i < mapped.outcomes.size() && i < mapped.key_hashes.size(); ++i) {
    if (mapped.key_hashes[i] != 0) entries.push_back({mapped.key_hashes[i], mapped.outcomes[i]});
  }
  if (entries.empty()) return absl::OkStatus();
  const absl::Time now = absl::Now();
  return engine.Retry("write key log", run, counters, [&] {
    return log->Append(engine.spec().name, run.shard.id, engine.run_id(), now, entries);
  });
}

// How a run treats the letters of a page: a run writes the new ones; a replay
// marks every letter it took, so it letters every page.
struct Lettering {
  absl::Status (*write)(Engine&, const ShardRun&, const Page&, const MappedPage&, absl::Time);
  std::string_view what;  // for the retry's log
  bool every_page;
};
constexpr Lettering kNewLetters{AddLetters, "write dead letters", false};
constexpr Lettering kReplayMarks{MarkReplayed, "mark replayed dead letters", true};

absl::Status WriteDeadLetters(Engine& engine, const Lettering& lettering, ShardRun& run, const Page& page,
                              const MappedPage& mapped, ShardCounters* counters) {
  DeadLetterStore& store = *engine.components().dead_letters;
  const absl::Time now = absl::Now();
  return engine.Retry(lettering.what, run, counters, [&]() -> absl::Status {
    RECOVERY_RETURN_IF_ERROR(lettering.write(engine, run, page, mapped, now));
    absl::StatusOr<std::string> token = store.Flush();
    if (!token.ok()) return token.status();
    if (!token->empty()) run.checkpoint.dead_letter_token = *std::move(token);
    return absl::OkStatus();
  });
}

// Delivers, letters and saves: a run, or a replay of the dead letters.
class WritingCommitter : public PageCommitter {
 public:
  WritingCommitter(Engine& engine, const Lettering& lettering)
      : engine_(engine),
        lettering_(lettering),
        groups_commits_(engine.GroupsCommits()),
        isolates_(engine.spec().isolate_after_crashes > 0 && !engine.sink_traits().rolls_back_uncommitted),
        trails_(!engine.sink_traits().rolls_back_uncommitted &&
                !engine.components().source->commit_needs_saved_checkpoint()) {}
  absl::Status Commit(ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver,
                      ShardCounters* counters) override {
    const absl::Time start = absl::Now();
    RECOVERY_RETURN_IF_ERROR(CommitPage(run, page, mapped, redeliver, counters));
    const absl::Time now = absl::Now();
    engine_.metrics().Committed(now - start, now);
    return absl::OkStatus();
  }
  absl::Status Confirm(ShardRun& run, ShardReader& reader, const Page& page, const MappedPage& mapped,
                       ShardCounters* counters) override {
    return engine_.Retry("confirm page to source", run, counters,
                         [&] { return reader.Commit(page, mapped.outcomes); });
  }
  uint64_t ProgressRecords(const ShardCounters& counters) const override {
    return counters.records_delivered;
  }
  std::string_view PageMessage() const override { return "page committed"; }
  void SaveFailed(ShardRun& run) override { (void)engine_.SaveCheckpoint(run); }
  absl::Status SaveTrailing(ShardRun& run, ShardCounters* counters) override;

 private:
  // Checks the lease, takes the isolation lock, then the two steps below.
  absl::Status CommitPage(ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver,
                          ShardCounters* counters);
  // Takes out what the destination already holds, delivers the crash
  // suspects in pieces (`alone`: the isolation lock is held exclusively), and
  // marks the rest of the batch in flight.
  absl::Status PrepareBatch(ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver, bool alone,
                            ShardCounters* counters);
  // Delivers the batch, writes the dead letters and saves the checkpoint
  // (or joins a commit group, or lets the save trail when `may_trail`),
  // serialized where a shared token demands it.
  absl::Status DeliverAndSave(ShardRun& run, const Page& page, MappedPage& mapped, bool may_trail,
                              ShardCounters* counters);
  // Joins the commit group and waits for it, letting go of `lock` (the
  // commit lock) meanwhile; should the group fail, the shard's checkpoint is
  // `before_commit` again.
  absl::Status AwaitGroup(ShardRun& run, std::optional<absl::MutexLock>& lock, Checkpoint before_commit,
                          ShardCounters* counters);
  // Saves the shard's checkpoint, with retries.
  absl::Status Save(ShardRun& run, ShardCounters* counters);

  Engine& engine_;
  const Lettering& lettering_;
  const bool groups_commits_;
  const bool isolates_;  // the crash-loop breaker: needs the in-flight mark
  const bool trails_;    // every batch is marked in flight: a commit's save may trail
};

// Fetches and maps, writes nothing: the checkpoint moves in memory only.
class DryRunCommitter : public PageCommitter {
 public:
  absl::Status Commit(ShardRun& run, const Page& page, MappedPage& mapped, bool,
                      ShardCounters* counters) override {
    CountPage(page, mapped, /*dry_run=*/true, counters);
    MovePast(run, page, mapped, *counters);
    return absl::OkStatus();
  }
  absl::Status Confirm(ShardRun&, ShardReader&, const Page&, const MappedPage&, ShardCounters*) override {
    return absl::OkStatus();
  }
  uint64_t ProgressRecords(const ShardCounters& counters) const override { return counters.records_fetched; }
  std::string_view PageMessage() const override { return "page mapped (dry run)"; }
  void SaveFailed(ShardRun&) override {}
  absl::Status SaveTrailing(ShardRun&, ShardCounters*) override { return absl::OkStatus(); }
};

}  // namespace

absl::Status WritingCommitter::Save(ShardRun& run, ShardCounters* counters) {
  absl::Status s =
      engine_.Retry("save checkpoint", run, counters, [&] { return engine_.SaveCheckpoint(run); });
  run.has_checkpoint |= s.ok();
  return s;
}

absl::Status WritingCommitter::SaveTrailing(ShardRun& run, ShardCounters* counters) {
  if (!run.trailing_commit) return absl::OkStatus();
  return engine_.Retry("save the last commit", run, counters, [&]() -> absl::Status {
    RECOVERY_RETURN_IF_ERROR(engine_.SaveCheckpointAs(run, *run.trailing_commit));
    run.trailing_commit.reset();
    return absl::OkStatus();
  });
}

absl::Status WritingCommitter::CommitPage(ShardRun& run, const Page& page, MappedPage& mapped, bool redeliver,
                                          ShardCounters* counters) {
  if (run.lease) RECOVERY_RETURN_IF_ERROR(run.lease->Check());  // a lost shard writes nothing more
  // Crash suspects are delivered alone in the process; every other delivery
  // shares the process with the rest.
  std::optional<absl::ReaderMutexLock> shared;
  std::optional<absl::WriterMutexLock> alone;
  if (isolates_ && Isolating(engine_, run)) {
    alone.emplace(&engine_.isolation_mutex());
  } else if (isolates_) {
    shared.emplace(&engine_.isolation_mutex());
  }
  RECOVERY_RETURN_IF_ERROR(PrepareBatch(run, page, mapped, redeliver, alone.has_value(), counters));
  return DeliverAndSave(run, page, mapped, /*may_trail=*/trails_ && !alone.has_value(), counters);
}

absl::Status WritingCommitter::PrepareBatch(ShardRun& run, const Page& page, MappedPage& mapped,
                                            bool redeliver, bool alone, ShardCounters* counters) {
  Engine& engine = engine_;
  Checkpoint& ck = run.checkpoint;
  bool new_keys_in_flight = false;
  if (run.restarted) SkipDeliveredBefore(engine.sorted_restarts(), run, page, mapped);
  if (engine.spec().skip_already_present && !mapped.batch.empty()) {
    absl::StatusOr<bool> grew = SkipPresent(engine, run, mapped, counters);
    if (!grew.ok()) return grew.status();
    new_keys_in_flight = *grew;
  }
  if (alone && !mapped.batch.empty()) {
    if (redeliver) mapped.batch.MarkRedelivered();
    RECOVERY_RETURN_IF_ERROR(DeliverInPieces(
        engine, run, page, mapped,
        [&](MappedPage& piece) {
          RECOVERY_RETURN_IF_ERROR(Deliver(engine, run, piece, counters));
          RECOVERY_RETURN_IF_ERROR(SyncOutsideGroup(engine, run, counters));
          return ApplyWriteResult(page.records, &piece);
        },
        [&] { return Save(run, counters); }));
  }
  if (mapped.batch.empty()) return absl::OkStatus();
  if (!engine.sink_traits().rolls_back_uncommitted) {
    // A shard that may restart from its beginning must know which records
    // the batch in flight holds (cursor_restart.h); the presence step keeps
    // them itself.
    if (engine.keeps_delivered_keys() && !engine.spec().skip_already_present)
      new_keys_in_flight |= AddInFlightKeys(mapped.batch, ck);
    // From here on a crash redelivers this batch, flagged. A death counted
    // at the start of this run is saved with the mark.
    if (!ck.in_flight || new_keys_in_flight || run.death_unsaved) {
      ck.in_flight = true;
      ck.state = ShardState::kRunning;  // a death now is counted (even on the shard's first batch)
      ck.suspect_keys.clear();          // the whole batch
      ck.suspect_deaths = 0;
      ck.updated = absl::Now();
      RECOVERY_RETURN_IF_ERROR(Save(run, counters));
      run.death_unsaved = false;
    }
  } else if (!run.has_checkpoint) {
    // The sink drops what no checkpoint vouches for, so the batch needs no
    // mark; but only a job with a checkpoint counts as resumed and has its
    // sink rolled back: the shard's first batch must not come first.
    ck.updated = absl::Now();
    RECOVERY_RETURN_IF_ERROR(Save(run, counters));
  }
  if (redeliver) mapped.batch.MarkRedelivered();
  return absl::OkStatus();
}

absl::Status WritingCommitter::AwaitGroup(ShardRun& run, std::optional<absl::MutexLock>& lock,
                                          Checkpoint before_commit, ShardCounters* counters) {
  // Let the next shard write while this batch waits for the durability it
  // shares with the others of its group.
  std::shared_ptr<Engine::CommitGroup> group = engine_.JoinCommitGroup(run);
  lock.reset();
  if (absl::Status s = engine_.AwaitCommitGroup(group, run, counters); !s.ok()) {
    // The batch may not be durable: the checkpoint the shard stops with must
    // not vouch for it.
    run.checkpoint = std::move(before_commit);
    return s;
  }
  run.has_checkpoint = true;
  return absl::OkStatus();
}

absl::Status WritingCommitter::DeliverAndSave(ShardRun& run, const Page& page, MappedPage& mapped,
                                              bool may_trail, ShardCounters* counters) {
  Engine& engine = engine_;
  Checkpoint& ck = run.checkpoint;
  const bool delivering = !mapped.batch.empty();
  // Only a page that writes to a sink or dead-letter store with a shared commit
  // token must not interleave with others; the rest commit concurrently. A
  // shared sink is locked before its write. A shared dead-letter store is
  // locked only once the page has letters to write (the sink's rejections
  // join them after its write), so that the sinks of other pages are written
  // concurrently and their checkpoints share the store's commit groups.
  // A replay writes to the dead-letter store for every page: it marks each letter.
  const bool marking = lettering_.every_page && !page.records.empty();
  const bool letters_serialize = engine.components().dead_letters->serialize_commits();
  std::optional<absl::MutexLock> lock;
  if (delivering && engine.sink_traits().serialize_commits) lock.emplace(&engine.commit_mutex());
  // Once a shared sink or dead-letter file holds this page, a failure before
  // the checkpoint records it must stop every shard: a later commit by another
  // shard would otherwise vouch for bytes no checkpoint covers.
  bool shared_state_written = false;
  auto fail_after_shared_write = [&](absl::Status s) {
    if (shared_state_written) {
      engine.StopJob(
          absl::Status(s.code(), StrCat("shard ", run.shard.id, ": ", s.message(),
                                        "; stopped every shard so the next run rolls back cleanly")));
    }
    return s;
  };

  // With commit groups: the checkpoint as it is before this batch (in flight,
  // with the sink's last durable token), for the shard to stop with should
  // its group fail.
  const bool grouped = delivering && lock.has_value() && groups_commits_;
  std::optional<Checkpoint> before_commit;
  if (grouped) before_commit = ck;
  if (delivering) {
    RECOVERY_RETURN_IF_ERROR(Deliver(engine, run, mapped, counters));
    shared_state_written = engine.sink_traits().serialize_commits;
    if (absl::Status s = grouped ? absl::OkStatus() : SyncOutsideGroup(engine, run, counters); !s.ok())
      return fail_after_shared_write(s);
    // The sink will never take its rejections: they join the dead letters.
    if (absl::Status s = ApplyWriteResult(page.records, &mapped); !s.ok()) return fail_after_shared_write(s);
  }
  // (The sink's rejections have joined mapped.dead by now.)
  if (!mapped.dead.empty() || marking) {
    if (letters_serialize && !lock.has_value()) lock.emplace(&engine.commit_mutex());
    if (absl::Status s = WriteDeadLetters(engine, lettering_, run, page, mapped, counters); !s.ok())
      return fail_after_shared_write(s);
    shared_state_written |= letters_serialize;
  }
  if (absl::Status s = LogKeys(engine, run, mapped, counters); !s.ok()) return fail_after_shared_write(s);
  CountPage(page, mapped, /*dry_run=*/false, counters);
  AddCoverage(mapped, &ck.coverage);
  AddHourOutcomes(mapped, &ck.hour_outcomes);
  MovePast(run, page, mapped, *counters);
  ck.last_error.clear();
  if (grouped) {
    absl::Status s = AwaitGroup(run, lock, *std::move(before_commit), counters);
    return s.ok() ? s : fail_after_shared_write(s);
  }
  if (may_trail && !lock.has_value() && ck.state != ShardState::kDone && run.has_checkpoint) {
    run.trailing_commit = ck;  // the shard's next mark saves it (PageCommitter::SaveTrailing)
    return absl::OkStatus();
  }
  if (absl::Status s = Save(run, counters); !s.ok()) return fail_after_shared_write(s);
  return absl::OkStatus();
}

std::unique_ptr<PageCommitter> NewPageCommitter(Engine& engine) {
  if (engine.options().dry_run) return std::make_unique<DryRunCommitter>();
  return std::make_unique<WritingCommitter>(engine, engine.replaying() ? kReplayMarks : kNewLetters);
}

}  // namespace recovery
