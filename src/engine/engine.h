// What every shard of one run shares: the components, the stop flags, the
// logger, retries, progress and metrics. The page loop (shard_runner.h) and
// the commit protocol (commit.h) work through it; Backfiller::Run
// (src/backfiller.cc) schedules the shards.
#ifndef RECOVERY_ENGINE_ENGINE_H_
#define RECOVERY_ENGINE_ENGINE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/accounting.h"
#include "engine/engine_metrics.h"
#include "engine/page_mapper.h"
#include "engine/sink_marks.h"
#include "recovery/backfiller.h"
#include "util/group_commit.h"

namespace recovery {

// One shard's run: its checkpoint as it moves, and how it ended.
struct ShardRun {
  Shard shard;
  Checkpoint checkpoint;
  bool has_checkpoint = false;
  std::unique_ptr<ShardLease> lease;  // held while running, with a leasing store
  bool leased_elsewhere = false;
  // This run found the shard's last batch still in flight and counted a death
  // (crash_isolation.h) that no checkpoint holds yet.
  bool death_unsaved = false;
  bool warned_out_of_window = false;  // said once per shard
  absl::Status error;
  absl::Time max_event_time = absl::InfinitePast();  // of the records delivered so far
  int64_t reported_total = -1;                       // the source's last word on the shard's size
  std::string total_mismatch;
  // After a restart from an expired cursor (cursor_restart.h): the key
  // hashes the shard delivered before, skipped, and those of the batch in
  // flight at the restart, delivered flagged; what was delivered at the
  // last restart, and how many restarts in a row delivered nothing new.
  bool restarted = false;
  absl::flat_hash_set<uint64_t> delivered_before;
  absl::flat_hash_set<uint64_t> maybe_in_sink;
  uint64_t delivered_at_restart = 0;
  int fruitless_restarts = 0;
  // After a restart from where sorted records had got to
  // (Checkpoint::sorted_through): records sorted before it are skipped, and
  // those at it whose key hash is here.
  absl::Time skip_sorted_before = absl::InfinitePast();
  absl::flat_hash_set<uint64_t> skip_sorted_keys;
  // The latest sort time the reader has returned since it was opened.
  absl::Time last_sort_time = absl::InfinitePast();
  // The page under way (page_cut.h): how many raw records of its front an
  // earlier cut took and this run dropped, and their hash; what the record
  // limit granted it; and, should it be cut, what the checkpoint is to say
  // was taken of it once it commits (0 when it is not cut).
  uint32_t dropped_in_page = 0;
  uint64_t dropped_hash = 0;
  int64_t records_granted = 0;
  uint32_t taken_after = 0;
  uint64_t taken_hash_after = 0;
  // The checkpoint of the shard's last commit, while no save holds it yet
  // (PageCommitter::SaveTrailing): the next save of the shard supersedes it.
  std::optional<Checkpoint> trailing_commit;
};

class PageCommitter;  // commit.h

class Engine {
 public:
  Engine(JobSpec spec, Components components, BackfillerOptions options, std::vector<Shard> plan);
  ~Engine();

  const JobSpec& spec() const { return spec_; }
  const Components& components() const { return c_; }
  // The sink's traits, read once when the run was set up.
  const SinkTraits& sink_traits() const { return sink_traits_; }
  // The sink's presence check, or null (then the job does not skip present records).
  PresenceCheck* presence() const { return presence_; }
  // This run of the job (a resumed job is a new run), for provenance.
  const std::string& run_id() const { return run_id_; }
  const BackfillerOptions& options() const { return options_; }
  // Replaying the dead letters (BackfillerOptions::replay) rather than running the plan.
  bool replaying() const { return options_.replay.has_value(); }
  // How this run's pages are committed, decided when the engine was made.
  PageCommitter& committer() { return *committer_; }
  const std::vector<Shard>& plan() const { return plan_; }
  ProgressTracker& progress() { return progress_; }
  EngineMetrics& metrics() { return metrics_; }
  RejectClaims& reject_claims() { return reject_claims_; }
  // Lent to shard readers: the engine's sleep, stop flag and metrics.
  const ShardContext& source_context() const { return context_; }
  // Serializes commits when the sink or the dead letters are one shared file.
  absl::Mutex& commit_mutex() { return commit_mu_; }
  // Held shared by every delivery, and alone by a delivery of crash suspects
  // (crash_isolation.h), so that a death then is theirs.
  absl::Mutex& isolation_mutex() { return isolation_mu_; }
  // Where each shard was when a process died (sink_marks.h); null when the
  // breaker is off or no file could hold them.
  SinkMarks* sink_marks() const { return sink_marks_.get(); }
  // Each shard's delivered keys are logged (cursor_restart.h): the source's
  // cursors may expire and the checkpoint store keeps such logs.
  bool keeps_delivered_keys() const { return keeps_delivered_keys_; }
  // The source's claims when its cursors may expire and its records come
  // sorted by time: a restart then reads from where the shard had got to
  // (cursor_restart.h); else null.
  const PagingClaims* sorted_restarts() const { return sorted_restarts_; }
  // Every committed page's keys and outcomes go to the store's key log
  // (JobSpec::key_log); null when the job keeps none or writes nothing.
  KeyLog* key_log() const { return key_log_; }

  // JobSpec::max_records, shared by every shard: TakeRecords grants up to
  // `wanted` of the records this run may still deliver (all of them when
  // the job has no limit), ReturnRecords gives back what was granted and not
  // delivered, RecordsSpent says nothing is left.
  bool limits_records() const { return spec_.max_records > 0; }
  int64_t TakeRecords(int64_t wanted);
  void ReturnRecords(int64_t n);
  bool RecordsSpent() const { return limits_records() && records_left_.load() <= 0; }

  bool Stopping() const { return cancelled_.load() || stopped_.load(); }
  bool cancelled() const { return cancelled_.load(); }
  // Stops every shard after its current batch. Thread-safe, idempotent.
  void Cancel();
  // Stops every shard for a reason of the job's own; the first reason is kept.
  void StopJob(absl::Status why);
  absl::Status job_error() const;
  // Sleeps for `d` unless the job stops first; false if it did.
  bool Sleep(absl::Duration d);

  void Log(LogLevel level, std::string_view message, std::string_view fields_json);
  // Calls `attempt` with the job's retry policy, counting retries in
  // `counters` and logging each with the shard and cursor.
  absl::Status Retry(std::string_view what, const ShardRun& run, ShardCounters* counters,
                     const std::function<absl::Status()>& attempt);
  // A presence check named keys it was not asked about: logged once per job.
  void WarnUnaskedKeys(const ShardRun& run, size_t count, std::string_view example);
  // Stops the job when the dead letters have spent the error budget.
  void CheckBudget();
  // The progress callback and gauges, after a page or at the end.
  void ReportProgress();
  // Saves `run`'s checkpoint, through its lease when it holds one; a commit
  // that trailed (ShardRun::trailing_commit) is superseded by it.
  absl::Status SaveCheckpoint(ShardRun& run);
  // Saves `checkpoint` as `run`'s, through its lease when it holds one.
  absl::Status SaveCheckpointAs(const ShardRun& run, const Checkpoint& checkpoint);

  // Group commit for a sink that is one file shared by every shard
  // (Sink::defers_sync) over a store that saves several checkpoints
  // atomically: the shards that wrote while a group was being made durable
  // share the next sink Sync() and one SaveAll() of their checkpoints.
  using CommitGroups =
      GroupCommitter<std::vector<std::pair<std::string, Checkpoint>>>;  // shard id, checkpoint
  using CommitGroup = CommitGroups::Group;
  bool GroupsCommits() const { return groups_commits_; }
  // Adds `run`'s checkpoint to the group being filled. Under commit_mutex(),
  // right after the sink write, so groups follow the order of the writes.
  std::shared_ptr<CommitGroup> JoinCommitGroup(const ShardRun& run);
  // Returns once the group is durable, or failed (every member gets the
  // failure). One waiting member writes each group.
  absl::Status AwaitCommitGroup(const std::shared_ptr<CommitGroup>& group, const ShardRun& run,
                                ShardCounters* counters);

 private:
  class Context : public ShardContext {
   public:
    explicit Context(Engine* engine) : engine_(engine) {}
    bool Sleep(absl::Duration d) const override { return engine_->Sleep(d); }
    bool Stopping() const override { return engine_->Stopping(); }
    void ObserveRequest(absl::Duration latency, int http_status) const override {
      engine_->metrics_.Request(latency, http_status);
    }
    void CountEvent(std::string_view event, uint64_t n) const override {
      engine_->metrics_.SourceEvent(event, n);
    }
    void SetGauge(std::string_view gauge, double value) const override {
      engine_->metrics_.SourceGauge(gauge, value);
      engine_->progress_.SetSourceGauge(gauge, value);
    }
    void Warn(std::string_view message, std::string_view fields_json) const override {
      engine_->Log(LogLevel::kWarning, message, fields_json);
    }

   private:
    Engine* engine_;
  };

  const JobSpec spec_;
  const Components c_;
  const BackfillerOptions options_;
  const std::vector<Shard> plan_;
  const SinkTraits sink_traits_;
  const bool groups_commits_;
  PresenceCheck* const presence_;
  const std::string run_id_;
  const Context context_{this};
  const std::unique_ptr<SinkMarks> sink_marks_;
  const bool keeps_delivered_keys_;
  const PagingClaims* const sorted_restarts_;
  KeyLog* const key_log_;
  ProgressTracker progress_;
  EngineMetrics metrics_;
  RejectClaims reject_claims_;

  std::atomic<int64_t> records_left_;  // of max_records, when limits_records()
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stopped_{false};  // the job stops for a reason of its own
  std::atomic<bool> warned_unasked_{false};
  absl::Mutex wake_mu_;  // sleepers wait on it; taken after a flag changes, to wake them
  absl::Mutex commit_mu_;
  absl::Mutex isolation_mu_;
  mutable absl::Mutex error_mu_;
  absl::Status job_error_ ABSL_GUARDED_BY(error_mu_);
  absl::Mutex log_mu_;  // orders log and progress callbacks
  CommitGroups commit_groups_;
  std::unique_ptr<PageCommitter> committer_;  // last: it reads the members above
};

}  // namespace recovery

#endif  // RECOVERY_ENGINE_ENGINE_H_
