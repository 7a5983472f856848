// A job's plan and stored progress, read from its spec and checkpoint store
// alone: no source, sink or mapper is built, so no secret is read and no
// request is made. What `recovery plan`, `status`, `verify` and `reset` use.
#ifndef RECOVERY_JOB_STATE_H_
#define RECOVERY_JOB_STATE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recovery/checkpoint_store.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"
#include "recovery/shard.h"

namespace recovery {

struct ShardReport {
  Shard shard;
  ShardState state = ShardState::kPending;
  Checkpoint checkpoint;  // as stored (or as reached, in a dry run)
  absl::Status error;     // why the shard stopped, when it failed
  // Set when the source reported a total for the shard that differs from
  // what was fetched (an API whose paging dropped or repeated records).
  std::string total_mismatch;
  // The shard's lease, with a store that leases shards and has one on record.
  std::optional<LeaseInfo> lease;
  // This run skipped the shard because another worker holds its lease.
  bool leased_elsewhere = false;
};

// Where a job stands, worked out once from its shard reports; the CLI's
// table and `status --json`, the C ABI's status JSON and the Python package
// all show these numbers.
struct JobSummary {
  size_t shards = 0;       // the plan's shards and the replays' (replay-<n>)
  size_t shards_done = 0;  // of those
  size_t plan_shards_not_done = 0;
  size_t replays_not_done = 0;
  ShardCounters plan;      // summed over the plan's shards
  ShardCounters replayed;  // summed over the replays of the dead letters
  // Delivered by the plan's shards and by the replays.
  uint64_t records_delivered = 0;
  // Dead letters a replay delivered, found present, or let go: no longer dead.
  uint64_t dead_letters_settled = 0;
  // Dead letters of the plan not yet settled by a replay.
  uint64_t dead_letters = 0;
  // Dead letters whose raw records a retention purge removed.
  uint64_t dead_letters_purged = 0;
  bool complete() const { return shards_done == shards; }
};
RECOVERY_EXPORT JobSummary Summarize(const std::vector<ShardReport>& reports);

// The status document of `job`: {"job", "summary": {...}, "shards": [{"id",
// "start", "end", "state", "records_delivered", "dead_letters",
// "records_out_of_window", "records_of_other_shards" (of those, inside the
// job's window), "records_already_present", "pages", "progress",
// "cursor", "last_error", "warning"?, "edits"? (Checkpoint::edits), "lease"?}]}.
RECOVERY_EXPORT std::string StatusJson(std::string_view job, const std::vector<ShardReport>& reports);

// The job's shards: its window split by shard_duration (plus the open shard
// of follow mode), or, for a source that reads a queue (`one_shard`), the
// whole window as one shard.
RECOVERY_EXPORT absl::StatusOr<std::vector<Shard>> PlanJob(const JobSpec& spec, bool one_shard);

// A change an operator makes by hand to one shard's stored state.
struct ShardEdit {
  std::string shard_id;
  // `recovery state set`: where the shard reads next, in the source's own
  // terms (a page number, an offset, keyset's TIME,ID, a byte offset into an
  // export). Unset: `recovery state skip`, the shard is marked done unread.
  std::optional<std::string> position;
  std::string reason;  // required; kept with the edit
  std::string by;      // who made it (user@host); kept with the edit
};

// One of Checkpoint::edits, read back; fields the line lacks are empty.
struct EditRecord {
  std::string at, by, action, from_cursor, from_state, to_cursor, to_state, reason;
};
RECOVERY_EXPORT EditRecord ReadEdit(std::string_view audit_line);

// Not thread-safe; one per thread.
class RECOVERY_EXPORT JobState {
 public:
  // `checkpoints`: the store to read (null: the one the spec names, or its
  // default). `one_shard`: whether the job's source reads a queue (unset:
  // judged from the spec's source type).
  static absl::StatusOr<std::unique_ptr<JobState>> Open(
      const JobSpec& spec, std::unique_ptr<CheckpointStore> checkpoints = nullptr,
      std::optional<bool> one_shard = std::nullopt);
  JobState(const JobState&) = delete;
  JobState& operator=(const JobState&) = delete;
  ~JobState();

  const std::string& job() const { return job_; }
  const std::vector<Shard>& plan() const { return plan_; }
  // False when every shard of the job's source reads the same records (a
  // file export) and only the window splits them: records of other shards
  // are then expected, not a sign of an API that ignores its filter.
  bool source_partitions_by_shard() const { return partitions_by_shard_; }

  // Each shard of the plan with its stored checkpoint and lease.
  absl::StatusOr<std::vector<ShardReport>> Status();

  // Forgets the checkpoints of every shard, or of `shard_id` only (NotFound
  // when it is not in the plan), so the next run starts over. Takes the job
  // lock: FailedPrecondition while the job runs.
  absl::Status Reset(const std::optional<std::string>& shard_id = std::nullopt);

  // Applies `edit` to the shard's checkpoint and appends its audit line
  // (Checkpoint::edits), which it returns. Takes the job lock:
  // FailedPrecondition while the job runs or the shard is leased; NotFound
  // for a shard not in the plan; InvalidArgument for a missing reason or a
  // position the source cannot take (the message gives the form it takes).
  // A batch left in flight stays so: the next run still flags it.
  absl::StatusOr<std::string> EditShard(const ShardEdit& edit);

  // Retention (`recovery purge --dead-letters`): removes the raw records of
  // the job's dead letters rejected before `before` (LetterReadback::Purge),
  // keeping each letter's place, reason, key and event time, and adds each
  // shard's count to its checkpoint (Checkpoint::dead_letters_purged), which
  // status shows. Builds the job's dead-letter store; takes the job lock
  // (FailedPrecondition while the job runs or any shard is leased).
  // Returns how many letters it purged.
  absl::StatusOr<uint64_t> PurgeDeadLetters(absl::Time before);

 private:
  JobState(std::string job, std::vector<Shard> plan, std::unique_ptr<CheckpointStore> checkpoints);

  std::string job_;
  std::vector<Shard> plan_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  bool partitions_by_shard_ = true;
  std::unique_ptr<const JobSpec> spec_;  // for the source's positions
};

}  // namespace recovery

#endif  // RECOVERY_JOB_STATE_H_
