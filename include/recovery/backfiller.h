// The engine: plans a job's shards and runs them, fetch → map → sink →
// checkpoint, with retries, dead letters, an error budget, cancellation and
// progress.
#ifndef RECOVERY_BACKFILLER_H_
#define RECOVERY_BACKFILLER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/checkpoint_store.h"
#include "recovery/components.h"
#include "recovery/dead_letter_store.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"
#include "recovery/job_state.h"
#include "recovery/logging.h"
#include "recovery/mapper.h"
#include "recovery/metrics.h"
#include "recovery/options.h"
#include "recovery/progress.h"
#include "recovery/shard.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// Which dead letters a replay takes (BackfillerOptions::replay).
struct ReplayOptions {
  std::string reason;                       // only letters whose reason contains this text; empty: any
  absl::Time since = absl::InfinitePast();  // only letters first rejected at or after this time
  int page_size = 500;                      // letters read and committed at a time
};

struct BackfillerOptions {
  ProgressCallback on_progress;  // optional
  LogCallback on_log;            // optional; silent when unset
  // Optional: told true once a run has loaded its checkpoints and opened its
  // sink and dead-letter store and starts its shards (each shard opens its
  // source as it starts), and false when the run ends. From Run()'s thread.
  std::function<void(bool ready)> on_ready;
  // Fetch and map, write nothing: no sink, checkpoint or dead-letter writes.
  // Starts from the stored checkpoints.
  bool dry_run = false;
  int concurrency = 0;  // overrides the spec's when > 0
  // Receives the run's metrics when set. Borrowed: must outlive the Backfiller.
  Metrics* metrics = nullptr;
  // Runs only slice `slice` (1-based) of `slices`: the shards whose index
  // modulo `slices` is `slice` - 1, so several hosts can split a plan. Each
  // slice holds its own lock; `complete` then means the slice is done.
  int slice = 1;
  int slices = 1;
  // Runs only these shards (ids from the plan), e.g. one shard per task of a
  // task queue; empty: every shard of the slice. An id not in the plan is
  // InvalidArgument at Create().
  std::vector<std::string> shard_ids;
  // Replays the job's dead letters instead of running its plan (recovery
  // replay): each letter the store has not settled is mapped again with the
  // job's current mapping and delivered, under the same checkpoints, in-flight
  // marks and sink roll-back as a run, as shard "replay-<n>". A replay cut
  // short resumes where it stopped; one that finished leaves the next to start
  // "replay-<n+1>". Every letter taken is marked with what became of it
  // (DeadLetterStore::Mark) in the same commit as the batch; a letter that
  // fails again stays, with its new reason. Needs a store that lists and marks
  // letters (the file and PostgreSQL stores). Not with dry_run or shard_ids.
  std::optional<ReplayOptions> replay;
  // How often a run notes the records it has delivered so far in the job's
  // run log (file checkpoints only; the report's records per minute).
  absl::Duration run_log_every = absl::Minutes(1);
};

// How a run ended, decided once by the engine. The CLI's exit code, the C
// ABI's status code and Python's exceptions are each mapped from it.
enum class RunOutcome {
  kDone,         // every shard to run is done
  kIncomplete,   // stopped at max_records; running again continues
  kInterrupted,  // cancelled; running again resumes from the checkpoints
  kPaused,       // the source's quota ran out for longer than the job may wait; run again later
  kLeased,       // a shard to run is leased by another worker; run again later
  kLeaseLost,    // another worker took a shard over mid-run; that worker finishes it
  kFailed,       // a shard failed, or the error budget is spent: `status` says why
};

RECOVERY_EXPORT std::string_view RunOutcomeName(RunOutcome outcome);

// True when running again, with nothing fixed, continues the job: incomplete,
// interrupted, paused and leased runs.
RECOVERY_EXPORT bool IsResumable(RunOutcome outcome);

struct RunResult {
  RunOutcome outcome = RunOutcome::kFailed;
  bool resumable() const { return IsResumable(outcome); }
  // OK when the run ended normally, even if `complete` is false because
  // max_records stopped it. kCancelled when cancelled; kResourceExhausted when
  // the error budget is spent or the job is paused (the source's quota ran
  // out for longer than the job may wait: IsPaused() is true); otherwise the
  // first shard failure (the other shards still ran). `outcome` says how it
  // ended, and resumable() whether running again, with nothing fixed,
  // continues the job.
  absl::Status status;
  bool complete = false;  // every shard is done
  Progress progress;
  std::vector<ShardReport> shards;
};

// Run() is called from one thread; Cancel() from any thread at any time.
class RECOVERY_EXPORT Backfiller {
 public:
  // Builds the components the spec names and `components` does not provide.
  // Does no I/O beyond opening the checkpoint store.
  static absl::StatusOr<std::unique_ptr<Backfiller>> Create(JobSpec spec, Components components = {},
                                                            BackfillerOptions options = {});
  Backfiller(const Backfiller&) = delete;
  Backfiller& operator=(const Backfiller&) = delete;
  virtual ~Backfiller() = default;

  // Runs or resumes the job until every shard is done, failed, cancelled or
  // max_records is reached. Holds the job lock while running, or, with a
  // store that leases shards, each shard's lease while running it: shards
  // leased by another worker are skipped (`complete` is then false), and a
  // lease lost mid-shard stops that shard with an IsLeaseLost() status.
  virtual RunResult Run() = 0;

  // Stops every shard after the batch it is delivering commits. Idempotent.
  virtual void Cancel() = 0;

  // The plan with each shard's stored state.
  virtual absl::StatusOr<std::vector<ShardReport>> Status() = 0;

  // Forgets the checkpoints of every shard, or of `shard_id` only, so the next
  // run starts over. Takes the job lock. Sinks that roll back (the file sink)
  // then rewrite their output from the start.
  virtual absl::Status Reset(std::optional<std::string> shard_id = std::nullopt) = 0;

  virtual const std::vector<Shard>& plan() const = 0;

 protected:
  Backfiller() = default;
};

}  // namespace recovery

#endif  // RECOVERY_BACKFILLER_H_
