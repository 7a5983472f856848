#include "recovery/job_state.h"

#include <algorithm>

#include "engine/stored_state.h"
#include "spec/components.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

absl::StatusOr<std::vector<Shard>> PlanJob(const JobSpec& spec, bool one_shard) {
  if (!spec.only.empty()) {  // shards within each part, numbered across them
    std::vector<Shard> plan;
    for (const auto& [start, end] : spec.only) {
      RECOVERY_ASSIGN_OR_RETURN(
          std::vector<Shard> part,
          PlanShards(start, end, one_shard ? absl::InfiniteDuration() : spec.shard_duration));
      for (Shard& s : part) {
        s.index = static_cast<int>(plan.size());
        plan.push_back(std::move(s));
      }
    }
    return plan;
  }
  if (!one_shard) return PlanShards(spec.start, spec.end, spec.shard_duration, spec.follow);
  // A queue: the whole window is one shard, open-ended when following.
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan,
                            PlanShards(spec.start, spec.end, absl::InfiniteDuration(), spec.follow));
  if (spec.follow) {
    Shard open = plan.back();
    open.index = 0;
    open.start = spec.start;
    open.id = StrCat(FormatCompactUtc(spec.start), "-open");
    plan = {std::move(open)};
  }
  return plan;
}

std::vector<std::string> ShardIds(const std::vector<Shard>& plan) {
  std::vector<std::string> ids;
  ids.reserve(plan.size());
  for (const Shard& s : plan) ids.push_back(s.id);
  return ids;
}

absl::StatusOr<std::vector<ShardReport>> LoadShardReports(CheckpointStore& store, std::string_view job,
                                                          const std::vector<Shard>& plan) {
  RECOVERY_ASSIGN_OR_RETURN(std::vector<LeaseInfo> leases, store.Leases(job));
  std::vector<ShardReport> reports;
  RECOVERY_ASSIGN_OR_RETURN(std::vector<std::optional<Checkpoint>> found, store.LoadMany(job, ShardIds(plan)));
  for (size_t i = 0; i < plan.size(); ++i) {
    const Shard& shard = plan[i];
    const std::optional<Checkpoint>& ck = found[i];
    ShardReport r;
    r.shard = shard;
    if (ck.has_value()) {
      r.checkpoint = *ck;
      r.state = r.checkpoint.state;
      if (!r.checkpoint.last_error.empty()) r.error = absl::UnknownError(r.checkpoint.last_error);
    }
    for (LeaseInfo& l : leases) {
      if (l.shard_id == shard.id) r.lease = std::move(l);
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

absl::Status ResetShards(CheckpointStore& store, std::string_view job, const std::vector<Shard>& plan,
                         const std::optional<std::string>& shard_id) {
  if (shard_id && std::none_of(plan.begin(), plan.end(), [&](const Shard& s) { return s.id == *shard_id; })) {
    return absl::NotFoundError(StrCat("no shard \"", *shard_id, "\" in the plan of job \"", job, "\""));
  }
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobLock> lock, store.Lock(job, ""));
  for (const Shard& shard : plan) {
    if (shard_id && shard.id != *shard_id) continue;
    RECOVERY_RETURN_IF_ERROR(store.Delete(job, shard.id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<JobState>> JobState::Open(const JobSpec& spec,
                                                         std::unique_ptr<CheckpointStore> checkpoints,
                                                         std::optional<bool> one_shard) {
  if (spec.name.empty()) return absl::InvalidArgumentError("name: required but missing");
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan,
                            PlanJob(spec, one_shard.value_or(SourcePlansOneShard(spec))));
  if (!checkpoints) {
    RECOVERY_ASSIGN_OR_RETURN(checkpoints, BuildCheckpointStore(spec));
  }
  return std::unique_ptr<JobState>(new JobState(spec.name, std::move(plan), std::move(checkpoints)));
}

JobState::JobState(std::string job, std::vector<Shard> plan, std::unique_ptr<CheckpointStore> checkpoints)
    : job_(std::move(job)), plan_(std::move(plan)), checkpoints_(std::move(checkpoints)) {}

JobState::~JobState() = default;

absl::StatusOr<std::vector<ShardReport>> JobState::Status() {
  return LoadShardReports(*checkpoints_, job_, plan_);
}

absl::Status JobState::Reset(const std::optional<std::string>& shard_id) {
  return ResetShards(*checkpoints_, job_, plan_, shard_id);
}

}  // namespace recovery
