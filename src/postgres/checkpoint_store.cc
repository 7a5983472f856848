// Checkpoints of every job in one PostgreSQL table (postgres/schema.h), with
// per-shard leases and fencing tokens so workers on many hosts can share a
// plan.
#include "recovery/checkpoint_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "checkpoint/checkpoint_codec.h"
#include "postgres/delivered_keys.h"
#include "postgres/store_core.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// The columns a save writes besides the checkpoint itself.
struct SaveRow {
  std::string encoded, delivered, progress;
  std::string_view state;
  SaveRow(std::string_view job, std::string_view shard, const Checkpoint& c)
      : encoded(EncodeCheckpoint(job, shard, c)),
        delivered(StrCat(c.counters.records_delivered)),
        progress(absl::StrFormat("%.6f", c.progress)),
        state(ShardStateName(c.state)) {}
};

class PostgresLease : public ShardLease {
 public:
  PostgresLease(std::shared_ptr<StoreCore> core, std::shared_ptr<StoreCore::LeaseState> state,
                absl::Time sent)
      : core_(std::move(core)), state_(std::move(state)) {
    core_->Extend(*state_, sent + core_->options().lease);
    core_->Register(state_);
  }
  ~PostgresLease() override {
    core_->Unregister(state_.get());
    absl::StatusOr<pg::Pool::Handle> c = core_->Connect();
    if (!c.ok()) return;  // it expires by itself
    (void)(*c)->Exec(StrCat("UPDATE ", core_->table(),
                            " SET lease_owner = NULL, lease_expires = NULL"
                            " WHERE job = $1 AND shard = $2 AND fencing_token = $3"),
                     {state_->job, state_->shard, StrCat(state_->token)});
  }

  absl::Status Save(const Checkpoint& checkpoint) override {
    const StoreCore::LeaseState& l = *state_;
    SaveRow row(l.job, l.shard, checkpoint);
    const absl::Time sent = absl::Now();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(
            StrCat("UPDATE ", core_->table(),
                   " SET checkpoint = $4, state = $5, records_delivered = $6, progress = $7, updated = now(),"
                   " lease_expires = now() + $8::bigint * interval '1 millisecond'"
                   " WHERE job = $1 AND shard = $2 AND fencing_token = $3 RETURNING 1"),
            {l.job, l.shard, StrCat(l.token), row.encoded, row.state, row.delivered, row.progress,
             Millis(core_->options().lease)}));
    if (r.rows() == 0) {
      core_->MarkLost(*state_);
      return core_->Lost(l, "another worker claimed it; this checkpoint was not written");
    }
    core_->Extend(*state_, sent + core_->options().lease);
    return absl::OkStatus();
  }

  absl::Status Check() const override { return core_->Check(*state_); }
  int64_t fencing_token() const override { return state_->token; }

 private:
  std::shared_ptr<StoreCore> core_;
  std::shared_ptr<StoreCore::LeaseState> state_;
};

class PostgresJobLock : public JobLock {
 public:
  explicit PostgresJobLock(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

 private:
  std::unique_ptr<pg::Connection> c_;  // a session advisory lock lives as long as its session
};

class PostgresCheckpointStore : public CheckpointStore, public ShardLeasing {
 public:
  explicit PostgresCheckpointStore(PostgresCheckpointOptions options)
      : core_(std::make_shared<StoreCore>(std::move(options))), delivered_(NewPostgresDeliveredKeys(core_)) {}

  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c->Exec(StrCat("SELECT checkpoint FROM ", core_->table(),
                                                           " WHERE job = $1 AND shard = $2"),
                                                    {job, shard_id}));
    if (r.rows() == 0 || r.IsNull(0, 0)) return std::nullopt;
    RECOVERY_ASSIGN_OR_RETURN(
        Checkpoint ck, DecodeCheckpoint(r.Get(0, 0), StrCat(core_->Describe(), " ", core_->table(), " (", job,
                                                            ", ", shard_id, ")")));
    return std::optional<Checkpoint>(std::move(ck));
  }

  // One query for the job's rows, matched to `shard_ids` here.
  absl::StatusOr<std::vector<std::optional<Checkpoint>>> LoadMany(
      std::string_view job, absl::Span<const std::string> shard_ids) override {
    std::vector<std::optional<Checkpoint>> out(shard_ids.size());
    if (shard_ids.empty()) return out;
    absl::flat_hash_map<std::string_view, size_t> wanted;
    for (size_t i = 0; i < shard_ids.size(); ++i) wanted.emplace(shard_ids[i], i);
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c->Exec(StrCat("SELECT shard, checkpoint FROM ", core_->table(),
                                                           " WHERE job = $1 AND checkpoint IS NOT NULL"),
                                                    {job}));
    for (int row = 0; row < r.rows(); ++row) {
      auto it = wanted.find(r.Get(row, 0));
      if (it == wanted.end()) continue;
      RECOVERY_ASSIGN_OR_RETURN(
          Checkpoint ck, DecodeCheckpoint(r.Get(row, 1), StrCat(core_->Describe(), " ", core_->table(), " (",
                                                                job, ", ", r.Get(row, 0), ")")));
      out[it->second] = std::move(ck);
    }
    return out;
  }

  // Unconditional but for a live lease: a worker holding the shard wins.
  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& checkpoint) override {
    SaveRow row(job, shard_id, checkpoint);
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(
            StrCat("INSERT INTO ", core_->table(),
                   " AS t (job, shard, checkpoint, state, records_delivered, progress)"
                   " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job, shard) DO UPDATE SET"
                   " checkpoint = EXCLUDED.checkpoint, state = EXCLUDED.state,"
                   " records_delivered = EXCLUDED.records_delivered, progress = EXCLUDED.progress,"
                   " updated = now() WHERE t.lease_expires IS NULL OR t.lease_expires < now() RETURNING 1"),
            {job, shard_id, row.encoded, row.state, row.delivered, row.progress}));
    if (r.rows() == 0) return HeldBy(*c, job, shard_id);
    return absl::OkStatus();
  }

  // Clears the checkpoint but keeps the row, and bumps the fencing token:
  // deleting the row would restart tokens at 1 and let a stale worker that
  // once held token 1 write again. Removes the shard's delivered keys too.
  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(StrCat("UPDATE ", core_->table(),
                       " SET checkpoint = NULL, state = 'pending', records_delivered = 0, progress = 0,"
                       " fencing_token = fencing_token + 1, lease_owner = NULL, lease_expires = NULL,"
                       " updated = now() WHERE job = $1 AND shard = $2"
                       " AND (lease_expires IS NULL OR lease_expires < now()) RETURNING 1"),
                {job, shard_id}));
    if (r.rows() == 0) {
      absl::Status held = HeldBy(*c, job, shard_id);
      if (held.code() != absl::StatusCode::kNotFound) return held;
    }
    return DeletePostgresDeliveredKeys(*c, *core_, job, shard_id);
  }

  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    RECOVERY_ASSIGN_OR_RETURN(
        std::unique_ptr<pg::Connection> c,
        pg::Connection::Open(pg::ConnectOptions{core_->options().dsn, core_->options().connect_timeout}));
    const std::string key = StrCat("recovery job lock ", job, "/", scope);
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r,
                              c->Exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {key}));
    if (r.rows() != 1 || r.Get(0, 0) != "t") {
      return absl::FailedPreconditionError(StrCat("job \"", job, "\"",
                                                  scope.empty() ? "" : StrCat(" (", scope, ")"),
                                                  " is locked by another process using ", core_->Describe()));
    }
    return std::unique_ptr<JobLock>(new PostgresJobLock(std::move(c)));
  }

  ShardLeasing* leasing() override { return this; }
  DeliveredKeys* delivered_keys() override { return delivered_.get(); }

  absl::StatusOr<std::unique_ptr<ShardLease>> ClaimShard(std::string_view job,
                                                         std::string_view shard_id) override {
    const absl::Time sent = absl::Now();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(StrCat("INSERT INTO ", core_->table(),
                       " AS t (job, shard, lease_owner, lease_expires, fencing_token)"
                       " VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond', 1)"
                       " ON CONFLICT (job, shard) DO UPDATE SET lease_owner = EXCLUDED.lease_owner,"
                       " lease_expires = EXCLUDED.lease_expires, fencing_token = t.fencing_token + 1"
                       " WHERE t.lease_expires IS NULL OR t.lease_expires < now() RETURNING fencing_token"),
                {job, shard_id, owner(), Millis(core_->options().lease)}));
    if (r.rows() == 0) return HeldBy(*c, job, shard_id);
    auto state = std::make_shared<StoreCore::LeaseState>();
    state->job = std::string(job);
    state->shard = std::string(shard_id);
    if (!absl::SimpleAtoi(ToAbsl(r.Get(0, 0)), &state->token)) {
      return absl::InternalError(StrCat("postgres returned fencing token \"", r.Get(0, 0), "\""));
    }
    return std::unique_ptr<ShardLease>(new PostgresLease(core_, std::move(state), sent));
  }

  absl::StatusOr<std::vector<LeaseInfo>> Leases(std::string_view job) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(StrCat("SELECT shard, lease_owner, (extract(epoch FROM lease_expires) * 1000000)::bigint,"
                       " fencing_token, lease_expires > now() FROM ",
                       core_->table(), " WHERE job = $1 AND lease_owner IS NOT NULL"),
                {job}));
    std::vector<LeaseInfo> out;
    for (int i = 0; i < r.rows(); ++i) {
      LeaseInfo l;
      l.shard_id = std::string(r.Get(i, 0));
      l.owner = std::string(r.Get(i, 1));
      l.expires = ParseMicros(r.Get(i, 2));
      (void)absl::SimpleAtoi(ToAbsl(r.Get(i, 3)), &l.fencing_token);
      l.live = r.Get(i, 4) == "t";
      out.push_back(std::move(l));
    }
    return out;
  }

 private:
  const std::string& owner() const { return core_->options().owner; }

  // Why a conditional write matched no row: FailedPrecondition naming the
  // live holder, or NotFound when there is no row at all.
  absl::Status HeldBy(pg::Connection& c, std::string_view job, std::string_view shard_id) {
    absl::StatusOr<pg::Result> r =
        c.Exec(StrCat("SELECT lease_owner, (extract(epoch FROM lease_expires) * 1000000)::bigint FROM ",
                      core_->table(), " WHERE job = $1 AND shard = $2"),
               {job, shard_id});
    if (!r.ok()) return r.status();
    if (r->rows() == 0) return absl::NotFoundError(StrCat("no row for shard ", shard_id, " of job ", job));
    return absl::FailedPreconditionError(StrCat("shard ", shard_id, " of job ", job, " is leased by ",
                                                r->IsNull(0, 0) ? "(nobody)" : r->Get(0, 0), " until ",
                                                FormatRfc3339(ParseMicros(r->Get(0, 1)))));
  }

  std::shared_ptr<StoreCore> core_;
  std::unique_ptr<DeliveredKeys> delivered_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> NewPostgresCheckpointStore(
    PostgresCheckpointOptions options) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("checkpoint.dsn: required but missing");
  if (options.lease < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("checkpoint.lease: at least 1s, got ", absl::FormatDuration(options.lease))));
  }
  if (options.schema.empty()) options.schema = "public";
  if (options.owner.empty()) options.owner = DefaultLeaseOwner();
  return std::unique_ptr<CheckpointStore>(new PostgresCheckpointStore(std::move(options)));
}

std::function<absl::StatusOr<std::unique_ptr<JobLock>>(std::string_view name)> PostgresAdvisoryLocks(
    PostgresCheckpointOptions options, absl::Duration wait) {
  return [options = std::move(options),
          wait](std::string_view name) -> absl::StatusOr<std::unique_ptr<JobLock>> {
    RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                              pg::Connection::Open(pg::ConnectOptions{options.dsn, options.connect_timeout,
                                                                      wait + absl::Seconds(30)}));
    absl::Status s = c->Run(StrCat("SET lock_timeout = ", Millis(wait)));
    if (s.ok()) s = c->Exec("SELECT pg_advisory_lock(hashtextextended($1, 0))", {name}).status();
    if (!s.ok()) {
      return absl::UnavailableError(
          ToAbsl(StrCat("no advisory lock in ", pg::Describe(options.dsn), " within ",
                        absl::FormatDuration(wait), ": ", s.message())));
    }
    return std::unique_ptr<JobLock>(new PostgresJobLock(std::move(c)));
  };
}

}  // namespace recovery
