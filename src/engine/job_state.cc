#include "recovery/job_state.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/time/clock.h"
#include "engine/replay_source.h"
#include "engine/stored_state.h"
#include "json/json_writer.h"
#include "simdjson.h"
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

absl::StatusOr<std::vector<StoredShard>> LoadReplayShards(CheckpointStore& store, std::string_view job,
                                                          const std::vector<Shard>& plan) {
  std::vector<StoredShard> replays;
  constexpr int kProbe = 4;  // ids asked at once
  for (int n = 1;; n += kProbe) {
    std::vector<Shard> shards;
    std::vector<std::string> ids;
    for (int k = n; k < n + kProbe; ++k) {
      shards.push_back(ReplayShard(plan, k));
      ids.push_back(shards.back().id);
    }
    RECOVERY_ASSIGN_OR_RETURN(std::vector<std::optional<Checkpoint>> found, store.LoadMany(job, ids));
    for (size_t k = 0; k < found.size(); ++k) {
      if (!found[k].has_value()) return replays;
      replays.push_back({std::move(shards[k]), *std::move(found[k])});
    }
  }
}

std::vector<std::string> ShardIds(const std::vector<Shard>& plan) {
  std::vector<std::string> ids;
  ids.reserve(plan.size());
  for (const Shard& s : plan) ids.push_back(s.id);
  return ids;
}

absl::StatusOr<std::vector<ShardReport>> LoadShardReports(CheckpointStore& store, std::string_view job,
                                                          const std::vector<Shard>& plan) {
  std::vector<LeaseInfo> leases;
  if (ShardLeasing* leasing = store.leasing()) {
    RECOVERY_ASSIGN_OR_RETURN(leases, leasing->Leases(job));
  }
  std::vector<ShardReport> reports;
  auto report = [&](const Shard& shard, const std::optional<Checkpoint>& ck) {
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
  };
  RECOVERY_ASSIGN_OR_RETURN(std::vector<std::optional<Checkpoint>> found,
                            store.LoadMany(job, ShardIds(plan)));
  for (size_t i = 0; i < plan.size(); ++i) report(plan[i], found[i]);
  RECOVERY_ASSIGN_OR_RETURN(std::vector<StoredShard> replays, LoadReplayShards(store, job, plan));
  for (const StoredShard& r : replays) report(r.shard, r.checkpoint);
  return reports;
}

absl::Status ResetShards(CheckpointStore& store, std::string_view job, const std::vector<Shard>& plan,
                         const std::optional<std::string>& shard_id) {
  RECOVERY_ASSIGN_OR_RETURN(std::vector<StoredShard> replays, LoadReplayShards(store, job, plan));
  std::vector<std::string> ids = ShardIds(plan);
  for (const StoredShard& r : replays) ids.push_back(r.shard.id);
  if (shard_id && std::find(ids.begin(), ids.end(), *shard_id) == ids.end()) {
    return absl::NotFoundError(StrCat("no shard \"", *shard_id, "\" in the plan of job \"", job, "\""));
  }
  if (shard_id && IsReplayShardId(*shard_id)) {
    // Its letters are marked settled and its records delivered: forgetting it
    // would hide both from the next run's roll-back.
    return absl::FailedPreconditionError(
        StrCat("shard \"", *shard_id,
               "\" is a replay of the dead letters and cannot be reset alone; reset the "
               "whole job to start over"));
  }
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobLock> lock, store.Lock(job, ""));
  for (const std::string& id : ids) {
    if (shard_id && id != *shard_id) continue;
    RECOVERY_RETURN_IF_ERROR(store.Delete(job, id));
  }
  return absl::OkStatus();
}

JobSummary Summarize(const std::vector<ShardReport>& reports) {
  JobSummary s;
  for (const ShardReport& r : reports) {
    const bool replay = IsReplayShardId(r.shard.id);
    const bool done = r.state == ShardState::kDone;
    (replay ? s.replayed : s.plan) += r.checkpoint.counters;
    ++s.shards;
    s.shards_done += done;
    s.dead_letters_purged += r.checkpoint.dead_letters_purged;
    (replay ? s.replays_not_done : s.plan_shards_not_done) += !done;
  }
  // A replay's own "dead letters" are letters that failed again: they stay
  // dead, every other letter it took is settled.
  s.dead_letters_settled = s.replayed.records_fetched - s.replayed.dead_letters;
  s.dead_letters = s.plan.dead_letters - std::min(s.plan.dead_letters, s.dead_letters_settled);
  s.records_delivered = s.plan.records_delivered + s.replayed.records_delivered;
  return s;
}

std::string StatusJson(std::string_view job, const std::vector<ShardReport>& reports) {
  const JobSummary s = Summarize(reports);
  std::string summary;
  JsonObjectWriter(&summary)
      .Uint("shards", s.shards)
      .Uint("shards_done", s.shards_done)
      .Bool("complete", s.complete())
      .Uint("records_delivered", s.records_delivered)
      .Uint("dead_letters", s.dead_letters)
      .Uint("dead_letters_settled", s.dead_letters_settled)
      .Uint("dead_letters_purged", s.dead_letters_purged)
      .Uint("replay_records_delivered", s.replayed.records_delivered)
      .Uint("replay_failed_again", s.replayed.dead_letters)
      .Uint("records_out_of_window", s.plan.records_out_of_window)
      .Uint("records_of_other_shards", s.plan.records_of_other_shards)
      .Uint("records_already_present", s.plan.records_already_present)
      .Uint("pages", s.plan.pages + s.replayed.pages)
      .Close();
  std::string shards = "[";
  for (const ShardReport& r : reports) {
    if (shards.size() > 1) shards += ',';
    JsonObjectWriter w(&shards);
    w.Str("id", r.shard.id).Time("start", r.shard.start);
    if (IsOpenEnded(r.shard)) {
      w.Raw("end", "null");
    } else {
      w.Time("end", r.shard.end);
    }
    w.Str("state", ShardStateName(r.state))
        .Uint("records_delivered", r.checkpoint.counters.records_delivered)
        .Uint("dead_letters", r.checkpoint.counters.dead_letters)
        .Uint("records_out_of_window", r.checkpoint.counters.records_out_of_window)
        .Uint("records_of_other_shards", r.checkpoint.counters.records_of_other_shards)
        .Uint("records_already_present", r.checkpoint.counters.records_already_present)
        .Uint("pages", r.checkpoint.counters.pages)
        .Double("progress", r.state == ShardState::kDone ? 1.0 : r.checkpoint.progress)
        .Str("cursor", r.checkpoint.cursor)
        .Str("last_error", r.checkpoint.last_error);
    if (!r.checkpoint.warning.empty()) w.Str("warning", r.checkpoint.warning);
    if (r.checkpoint.cursor_restarts > 0) w.Uint("cursor_restarts", r.checkpoint.cursor_restarts);
    if (r.checkpoint.read_from != absl::InfinitePast()) w.Time("reads_from", r.checkpoint.read_from);
    if (!r.checkpoint.edits.empty()) {
      std::string edits = "[";
      for (const std::string& e : r.checkpoint.edits) StrAppend(&edits, edits.size() > 1 ? "," : "", e);
      w.Raw("edits", StrCat(edits, "]"));
    }
    if (r.lease) {
      std::string lease;
      JsonObjectWriter(&lease)
          .Str("owner", r.lease->owner)
          .Time("expires", r.lease->expires)
          .Int("fencing_token", r.lease->fencing_token)
          .Bool("live", r.lease->live)
          .Close();
      w.Raw("lease", lease);
    }
    w.Close();
  }
  shards += ']';
  std::string out;
  JsonObjectWriter(&out).Str("job", job).Raw("summary", summary).Raw("shards", shards).Close();
  return out;
}

absl::StatusOr<std::unique_ptr<JobState>> JobState::Open(const JobSpec& spec,
                                                         std::unique_ptr<CheckpointStore> checkpoints,
                                                         std::optional<bool> one_shard) {
  if (spec.name.empty()) return absl::InvalidArgumentError("name: required but missing");
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan,
                            PlanJob(spec, one_shard.value_or(SourcePlansOneShard(spec))));
  Components c;
  c.checkpoints = std::move(checkpoints);
  RECOVERY_RETURN_IF_ERROR(
      ResolveComponents(spec, {.source = false, .mapper = false, .sink = false, .dead_letters = false}, &c));
  auto state = std::unique_ptr<JobState>(new JobState(spec.name, std::move(plan), std::move(c.checkpoints)));
  state->partitions_by_shard_ = SourcePartitionsByShard(spec);
  state->spec_ = std::make_unique<const JobSpec>(spec);
  return state;
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

namespace {

std::string CursorAndState(const Checkpoint& ck) {
  std::string out;
  JsonObjectWriter(&out).Str("cursor", ck.cursor).Str("state", ShardStateName(ck.state)).Close();
  return out;
}

// FailedPrecondition when another worker holds the shard's lease (any
// shard's, with `shard_id` empty).
absl::Status CheckNotLeased(CheckpointStore& store, std::string_view job, std::string_view shard_id) {
  ShardLeasing* leasing = store.leasing();
  if (leasing == nullptr) return absl::OkStatus();
  RECOVERY_ASSIGN_OR_RETURN(std::vector<LeaseInfo> leases, leasing->Leases(job));
  for (const LeaseInfo& l : leases) {
    if ((shard_id.empty() || l.shard_id == shard_id) && l.live) {
      return absl::FailedPreconditionError(StrCat("shard ", shard_id, " is leased by ", l.owner, " until ",
                                                  FormatRfc3339(l.expires), ": stop that worker first"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

EditRecord ReadEdit(std::string_view audit_line) {
  EditRecord out;
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(audit_line.data(), audit_line.size()).get(e)) return out;
  // Missing fields and fields of another type read as empty: an audit line
  // may have been edited by hand.
  auto text = [](simdjson::simdjson_result<simdjson::dom::element> x) {
    std::string_view v;
    return x.get_string().get(v) ? std::string() : std::string(v);
  };
  out.at = text(e["at"]);
  out.by = text(e["by"]);
  out.action = text(e["action"]);
  out.from_cursor = text(e["from"]["cursor"]);
  out.from_state = text(e["from"]["state"]);
  out.to_cursor = text(e["to"]["cursor"]);
  out.to_state = text(e["to"]["state"]);
  out.reason = text(e["reason"]);
  return out;
}

absl::StatusOr<std::string> JobState::EditShard(const ShardEdit& edit) {
  const std::string& id = edit.shard_id;
  if (std::none_of(plan_.begin(), plan_.end(), [&](const Shard& s) { return s.id == id; })) {
    if (IsReplayShardId(id)) {
      return absl::FailedPreconditionError(StrCat(
          "shard \"", id, "\" is a replay of the dead letters: it has no position of its own to edit"));
    }
    return absl::NotFoundError(StrCat("no shard \"", id, "\" in the plan of job \"", job_, "\""));
  }
  if (edit.reason.empty())
    return absl::InvalidArgumentError("a reason is required: it is kept with the edit");
  std::string cursor;
  if (edit.position) {
    RECOVERY_ASSIGN_OR_RETURN(cursor, SourceCursorAt(*spec_, *edit.position));
  }
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobLock> lock, checkpoints_->Lock(job_, ""));
  RECOVERY_RETURN_IF_ERROR(CheckNotLeased(*checkpoints_, job_, id));
  RECOVERY_ASSIGN_OR_RETURN(std::optional<Checkpoint> found, checkpoints_->Load(job_, id));
  Checkpoint ck = found.value_or(Checkpoint());
  const std::string from = CursorAndState(ck);
  if (edit.position) {
    ck.cursor = std::move(cursor);
    ck.state = ShardState::kRunning;  // goes on from there at the next run
  } else {
    ck.state = ShardState::kDone;
    ck.progress = 1;
    ck.in_flight = false;
    ck.in_flight_keys.clear();
  }
  ck.last_error.clear();
  ck.crashes = 0;  // the breaker's suspects were of the page at the old position
  ck.suspect_keys.clear();
  ck.suspect_deaths = 0;
  ck.settled_keys.clear();
  ck.page_taken = 0;
  ck.page_taken_hash = 0;
  ck.updated = absl::Now();
  std::string audit;
  JsonObjectWriter(&audit)
      .Time("at", ck.updated)
      .Str("by", edit.by)
      .Str("action", edit.position ? "set" : "skip")
      .Raw("from", from)
      .Raw("to", CursorAndState(ck))
      .Str("reason", edit.reason)
      .Close();
  ck.edits.push_back(audit);
  RECOVERY_RETURN_IF_ERROR(checkpoints_->Save(job_, id, ck));
  return audit;
}

absl::StatusOr<uint64_t> JobState::PurgeDeadLetters(absl::Time before) {
  Components c;
  RECOVERY_RETURN_IF_ERROR(
      ResolveComponents(*spec_, {.source = false, .mapper = false, .sink = false, .checkpoints = false}, &c));
  LetterReadback* letters = c.dead_letters->readback();
  if (letters == nullptr) {
    return absl::FailedPreconditionError(
        "the job's dead-letter store cannot read its letters back to purge them");
  }
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobLock> lock, checkpoints_->Lock(job_, ""));
  RECOVERY_RETURN_IF_ERROR(CheckNotLeased(*checkpoints_, job_, ""));
  RECOVERY_ASSIGN_OR_RETURN(auto purged, letters->Purge(job_, before));
  uint64_t total = 0;
  for (const auto& [shard, n] : purged) {
    total += n;
    RECOVERY_ASSIGN_OR_RETURN(std::optional<Checkpoint> ck, checkpoints_->Load(job_, shard));
    if (!ck.has_value()) continue;  // a shard reset since: its letters stay, uncounted
    ck->dead_letters_purged += n;
    RECOVERY_RETURN_IF_ERROR(checkpoints_->Save(job_, shard, *ck));
  }
  return total;
}

}  // namespace recovery
