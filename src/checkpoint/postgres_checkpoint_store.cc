// Checkpoints of every job in one PostgreSQL table, with per-shard leases and
// fencing tokens so workers on many hosts can share a plan. Each row:
//   job, shard        the key
//   checkpoint        EncodeCheckpoint() text (checksummed), NULL until saved
//   state, records_delivered, progress, updated: copies for SQL dashboards
//   lease_owner, lease_expires, fencing_token: who runs the shard
// The database's clock decides expiry, so workers' clocks need not agree.
#include <unistd.h>

#include <thread>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "checkpoint/checkpoint_codec.h"
#include "json/json_writer.h"
#include "postgres/pg.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/postgres.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr int kSchemaVersion = 1;
// Serializes schema creation across workers starting at once.
constexpr int64_t kSchemaLockKey = 0x7265636f76657279;  // "recovery"

std::string DefaultOwner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  absl::BitGen gen;
  return absl::StrFormat("%s:%d:%06x", host, ::getpid(), absl::Uniform<uint32_t>(gen, 0, 1u << 24));
}

std::string Millis(absl::Duration d) { return StrCat(absl::ToInt64Milliseconds(d)); }

absl::Time ParseMicros(std::string_view s) {
  int64_t us = 0;
  if (!absl::SimpleAtoi(ToAbsl(s), &us)) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

// What the leases of one store share with the store and its renewal thread.
class Core {
 public:
  explicit Core(PostgresCheckpointOptions options)
      : options_(std::move(options)),
        table_(StrCat(pg::QuoteIdent(options_.schema), ".recovery_checkpoints")),
        meta_(StrCat(pg::QuoteIdent(options_.schema), ".recovery_meta")),
        dead_letters_(StrCat(pg::QuoteIdent(options_.schema), ".recovery_dead_letters")),
        letter_marks_(StrCat(pg::QuoteIdent(options_.schema), ".recovery_dead_letter_marks")),
        pool_(pg::ConnectOptions{options_.dsn, options_.connect_timeout}) {}
  ~Core() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (renewer_.joinable()) renewer_.join();
  }

  struct LeaseState {
    std::string job, shard;
    int64_t token = 0;
    bool lost = false;                           // guarded by Core::mu_
    absl::Time deadline = absl::InfinitePast();  // guarded by Core::mu_: held until then, by our clock
  };

  const PostgresCheckpointOptions& options() const { return options_; }
  const std::string& table() const { return table_; }
  const std::string& dead_letters_table() const { return dead_letters_; }
  const std::string& letter_marks_table() const { return letter_marks_; }
  std::string Describe() const { return pg::Describe(options_.dsn); }

  // A connection to a database whose schema is current.
  absl::StatusOr<pg::Pool::Handle> Connect() {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    absl::MutexLock lock(&schema_mu_);
    if (!schema_ready_) {
      RECOVERY_RETURN_IF_ERROR(EnsureSchema(*c));
      schema_ready_ = true;
    }
    return c;
  }

  void Register(const std::shared_ptr<LeaseState>& lease) {
    absl::MutexLock lock(&mu_);
    leases_[lease.get()] = lease;
    if (!renewer_.joinable()) renewer_ = std::thread([this] { RenewLoop(); });
  }
  void Unregister(LeaseState* lease) {
    absl::MutexLock lock(&mu_);
    leases_.erase(lease);
  }
  absl::Status Check(const LeaseState& l) {
    absl::MutexLock lock(&mu_);
    if (l.lost) return Lost(l, "another worker claimed it");
    if (absl::Now() > l.deadline) return Lost(l, "it could not be renewed before it expired");
    return absl::OkStatus();
  }
  void MarkLost(LeaseState& l) {
    absl::MutexLock lock(&mu_);
    l.lost = true;
  }
  void Extend(LeaseState& l, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (deadline > l.deadline) l.deadline = deadline;
  }
  absl::Status Lost(const LeaseState& l, std::string_view why) const {
    return LeaseLostError(
        StrCat("lease lost: shard ", l.shard, " of job ", l.job, " (fencing token ", l.token, "): ", why));
  }

 private:
  absl::Status EnsureSchema(pg::Connection& c) {
    RECOVERY_RETURN_IF_ERROR(c.Run("BEGIN"));
    absl::Status s = [&]() -> absl::Status {
      RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("SELECT pg_advisory_xact_lock(", kSchemaLockKey, ")")));
      RECOVERY_RETURN_IF_ERROR(c.Run(
          StrCat("CREATE TABLE IF NOT EXISTS ", meta_, " (key text PRIMARY KEY, value text NOT NULL)")));
      RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c.Exec(StrCat("SELECT value FROM ", meta_,
                                                            " WHERE key = 'checkpoint_schema_version'")));
      int version = 0;
      if (r.rows() > 0 && !absl::SimpleAtoi(ToAbsl(r.Get(0, 0)), &version)) {
        return absl::DataLossError(StrCat(Describe(), ": ", meta_, ".checkpoint_schema_version is \"",
                                          r.Get(0, 0), "\", not a number"));
      }
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(
            StrCat(Describe(), ": the checkpoint tables have schema version ", version,
                   ", newer than this library's (", kSchemaVersion, "): upgrade recovery"));
      }
      // What replays made of dead letters: added after schema version 1
      // without changing it, so that older workers sharing the database
      // keep working (they never read it).
      RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", letter_marks_, R"( (
          job text NOT NULL,
          shard text NOT NULL,
          cursor text NOT NULL,
          record_index integer NOT NULL,
          replay text NOT NULL,
          outcome text NOT NULL,
          reason text,
          marked_at timestamptz NOT NULL,
          PRIMARY KEY (job, shard, cursor, record_index, replay)))")));
      if (version == kSchemaVersion) return absl::OkStatus();
      RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", table_, R"( (
          job text NOT NULL,
          shard text NOT NULL,
          checkpoint text,
          state text NOT NULL DEFAULT 'pending',
          records_delivered bigint NOT NULL DEFAULT 0,
          progress double precision NOT NULL DEFAULT 0,
          lease_owner text,
          lease_expires timestamptz,
          fencing_token bigint NOT NULL DEFAULT 0,
          updated timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (job, shard)))")));
      RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", dead_letters_, R"( (
          job text NOT NULL,
          shard text NOT NULL,
          cursor text NOT NULL,
          record_index integer NOT NULL,
          reason text NOT NULL,
          raw bytea NOT NULL,
          source_id text,
          rejected_at timestamptz NOT NULL,
          PRIMARY KEY (job, shard, cursor, record_index)))")));
      return c.Run(StrCat("INSERT INTO ", meta_, " VALUES ('checkpoint_schema_version', '", kSchemaVersion,
                          "') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"));
    }();
    if (!s.ok()) {
      (void)c.Run("ROLLBACK");
      return absl::Status(s.code(), StrCat("creating the checkpoint tables: ", s.message()));
    }
    return c.Run("COMMIT");
  }

  // Renews every held lease each lease / 3, so one missed renewal (a
  // database hiccup) still leaves time for the next.
  void RenewLoop() {
    const absl::Duration period = options_.lease / 3;
    while (true) {
      std::vector<std::shared_ptr<LeaseState>> held;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), period);
        if (stopping_) return;
        for (auto& [ptr, l] : leases_) {
          if (!l->lost) held.push_back(l);
        }
      }
      for (const std::shared_ptr<LeaseState>& l : held) Renew(*l);
    }
  }

  void Renew(LeaseState& l) {
    const absl::Time sent = absl::Now();
    absl::StatusOr<pg::Pool::Handle> c = pool_.Acquire();
    if (!c.ok()) return;  // the deadline stands; Check() fails once it passes
    const std::string token = StrCat(l.token);
    const std::string ms = Millis(options_.lease);
    absl::StatusOr<pg::Result> r =
        (*c)->Exec(StrCat("UPDATE ", table_,
                          " SET lease_expires = now() + $4::bigint * interval '1 millisecond'"
                          " WHERE job = $1 AND shard = $2 AND fencing_token = $3 RETURNING 1"),
                   {l.job, l.shard, token, ms});
    if (!r.ok()) return;
    if (r->rows() == 0) {
      MarkLost(l);
    } else {
      Extend(l, sent + options_.lease);
    }
  }

  const PostgresCheckpointOptions options_;
  const std::string table_;
  const std::string meta_;
  const std::string dead_letters_;
  const std::string letter_marks_;
  pg::Pool pool_;

  absl::Mutex schema_mu_;
  bool schema_ready_ ABSL_GUARDED_BY(schema_mu_) = false;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_map<LeaseState*, std::shared_ptr<LeaseState>> leases_ ABSL_GUARDED_BY(mu_);
  std::thread renewer_;
};

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
  PostgresLease(std::shared_ptr<Core> core, std::shared_ptr<Core::LeaseState> state, absl::Time sent)
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
    const Core::LeaseState& l = *state_;
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
  std::shared_ptr<Core> core_;
  std::shared_ptr<Core::LeaseState> state_;
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
      : core_(std::make_shared<Core>(std::move(options))) {}

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
  // once held token 1 write again.
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
    if (r.rows() > 0) return absl::OkStatus();
    absl::Status held = HeldBy(*c, job, shard_id);
    return held.code() == absl::StatusCode::kNotFound ? absl::OkStatus() : held;
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
    auto state = std::make_shared<Core::LeaseState>();
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

  std::shared_ptr<Core> core_;
};

// Dead letters in the store's database, so that every worker's land in one
// place. The key (job, shard, cursor, index) makes a redelivered page's
// letters land once.
class PostgresDeadLetterStore : public DeadLetterStore, public LetterReadback {
 public:
  explicit PostgresDeadLetterStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  LetterReadback* readback() override { return this; }

  absl::Status Add(const DeadLetter& l) override {
    Row row{std::string(l.job),    std::string(l.shard_id), std::string(l.cursor),    StrCat(l.index),
            std::string(l.reason), HexBytea(l.raw),         std::string(l.source_id), FormatRfc3339(l.time)};
    absl::MutexLock lock(&mu_);
    pending_[std::this_thread::get_id()].push_back(std::move(row));
    return absl::OkStatus();
  }

  absl::Status ForEachRaw(std::string_view job, const std::function<void(std::string_view)>& visit) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    absl::StatusOr<pg::Result> rows = c->Exec(
        StrCat("SELECT encode(raw, 'hex') FROM ", core_->dead_letters_table(), " WHERE job = $1"), {job});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("dead letters (", core_->Describe(), "): ", rows.status().message()));
    }
    for (int i = 0; i < rows->rows(); ++i) visit(absl::HexStringToBytes(ToAbsl(rows->Get(i, 0))));
    return absl::OkStatus();
  }

  // Letters are listed by their key, (shard, cursor, index); the id is that
  // key as a JSON object. A letter's state is its latest mark.
  absl::Status ListLetters(std::string_view job, std::string_view replay, std::string_view after,
                           size_t limit, std::vector<ListedLetter>* out) override {
    Key from;
    if (!after.empty()) {
      RECOVERY_ASSIGN_OR_RETURN(from, ParseId(after));
    }
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    const std::string& marks = core_->letter_marks_table();
    auto same_letter = [](std::string_view m) {
      return StrCat(m, ".job = d.job AND ", m, ".shard = d.shard AND ", m, ".cursor = d.cursor AND ", m,
                    ".record_index = d.record_index");
    };
    const std::string sql = StrCat(
        "SELECT d.shard, d.cursor, d.record_index, COALESCE(m.reason, d.reason), encode(d.raw, 'hex'), "
        "d.source_id, (extract(epoch FROM d.rejected_at) * 1000000)::bigint, "
        "(SELECT count(*) FROM ",
        marks, " a WHERE ", same_letter("a"), " AND a.outcome = 'failed again') FROM ",
        core_->dead_letters_table(), " d LEFT JOIN LATERAL (SELECT outcome, reason FROM ", marks, " l WHERE ",
        same_letter("l"),
        " AND l.replay <> $6 ORDER BY marked_at DESC LIMIT 1) m ON true WHERE d.job = $1 AND ",
        "(m.outcome IS NULL OR m.outcome = 'failed again') AND ($2 OR (d.shard, d.cursor, d.record_index) > "
        "($3, $4, "
        "$5::integer)) ORDER BY d.shard, d.cursor, d.record_index LIMIT ",
        limit);
    absl::StatusOr<pg::Result> rows = c->Exec(
        sql, {job, after.empty() ? "true" : "false", from.shard, from.cursor, StrCat(from.index), replay});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("dead letters (", core_->Describe(), "): ", rows.status().message()));
    }
    for (int i = 0; i < rows->rows(); ++i) {
      ListedLetter l;
      l.shard_id = std::string(rows->Get(i, 0));
      l.cursor = std::string(rows->Get(i, 1));
      (void)absl::SimpleAtoi(ToAbsl(rows->Get(i, 2)), &l.index);
      l.reason = std::string(rows->Get(i, 3));
      l.raw = absl::HexStringToBytes(ToAbsl(rows->Get(i, 4)));
      if (!rows->IsNull(i, 5)) l.source_id = std::string(rows->Get(i, 5));
      l.time = ParseMicros(rows->Get(i, 6));
      (void)absl::SimpleAtoi(ToAbsl(rows->Get(i, 7)), &l.attempts);
      l.id = IdOf(l.shard_id, l.cursor, l.index);
      out->push_back(std::move(l));
    }
    return absl::OkStatus();
  }

  absl::Status Mark(const LetterMark& m) override {
    RECOVERY_ASSIGN_OR_RETURN(Key key, ParseId(m.letter_id));
    MarkRow row{std::string(m.job),    std::move(key.shard),  std::move(key.cursor),
                StrCat(key.index),     std::string(m.replay), std::string(ReplayOutcomeName(m.outcome)),
                std::string(m.reason), FormatRfc3339(m.time)};
    absl::MutexLock lock(&mu_);
    pending_marks_[std::this_thread::get_id()].push_back(std::move(row));
    return absl::OkStatus();
  }

  // The engine calls Add(), Mark() and Flush() for one page from one thread.
  absl::StatusOr<std::string> Flush() override {
    std::vector<Row> rows;
    std::vector<MarkRow> marks;
    {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(std::this_thread::get_id());
      if (it != pending_.end()) {
        rows = std::move(it->second);
        pending_.erase(it);
      }
      auto m = pending_marks_.find(std::this_thread::get_id());
      if (m != pending_marks_.end()) {
        marks = std::move(m->second);
        pending_marks_.erase(m);
      }
    }
    if (rows.empty() && marks.empty()) return std::string();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    absl::Status s = c->Run("BEGIN");
    for (size_t i = 0; s.ok() && i < rows.size(); ++i) {
      const Row& r = rows[i];
      s = c->Exec(StrCat("INSERT INTO ", core_->dead_letters_table(),
                         " VALUES ($1, $2, $3, $4, $5, $6::bytea, $7, $8) ON CONFLICT DO NOTHING"),
                  {r.job, r.shard, r.cursor, r.index, r.reason, r.raw,
                   r.source_id.empty() ? pg::Param() : pg::Param(r.source_id), r.time})
              .status();
    }
    // A page replayed again after a crash marks its letters again: the same
    // replay's mark is replaced, not added.
    for (size_t i = 0; s.ok() && i < marks.size(); ++i) {
      const MarkRow& r = marks[i];
      s = c->Exec(
               StrCat(
                   "INSERT INTO ", core_->letter_marks_table(),
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job, shard, cursor, record_index, "
                   "replay) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, "
                   "marked_at = EXCLUDED.marked_at"),
               {r.job, r.shard, r.cursor, r.index, r.replay, r.outcome,
                r.reason.empty() ? pg::Param() : pg::Param(r.reason), r.time})
              .status();
    }
    if (s.ok()) s = c->Run("COMMIT");
    if (!s.ok()) {
      (void)c->Run("ROLLBACK");  // the engine retries Add() and Flush() for the whole page
      return absl::Status(s.code(), StrCat("dead letters (", core_->Describe(), "): ", s.message()));
    }
    return std::string();
  }

 private:
  struct Row {
    std::string job, shard, cursor, index, reason, raw, source_id, time;
  };
  struct MarkRow {
    std::string job, shard, cursor, index, replay, outcome, reason, time;
  };
  struct Key {
    std::string shard, cursor;
    int64_t index = 0;
  };
  static std::string IdOf(std::string_view shard, std::string_view cursor, size_t index) {
    std::string id;
    JsonObjectWriter(&id).Str("shard", shard).Str("cursor", cursor).Uint("index", index).Close();
    return id;
  }
  static absl::StatusOr<Key> ParseId(std::string_view id) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    std::string_view shard, cursor;
    int64_t index = 0;
    if (parser.parse(id.data(), id.size()).get(e) != simdjson::SUCCESS ||
        e["shard"].get_string().get(shard) != simdjson::SUCCESS ||
        e["cursor"].get_string().get(cursor) != simdjson::SUCCESS ||
        e["index"].get_int64().get(index) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          StrCat("dead letters: \"", id,
                 "\" is not a letter id of a PostgreSQL store ({\"shard\",\"cursor\",\"index\"})"));
    }
    return Key{std::string(shard), std::string(cursor), index};
  }
  static std::string HexBytea(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\\x";
    for (unsigned char ch : bytes) {
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
    return out;
  }

  std::shared_ptr<Core> core_;
  absl::Mutex mu_;
  std::unordered_map<std::thread::id, std::vector<Row>> pending_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::thread::id, std::vector<MarkRow>> pending_marks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewPostgresDeadLetterStore(
    PostgresDeadLetterOptions options) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("dead_letters.dsn: required but missing");
  PostgresCheckpointOptions core;  // the connection and the schema; no leases
  core.dsn = std::move(options.dsn);
  core.schema = options.schema.empty() ? "public" : std::move(options.schema);
  core.connect_timeout = options.connect_timeout;
  return std::unique_ptr<DeadLetterStore>(
      new PostgresDeadLetterStore(std::make_shared<Core>(std::move(core))));
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> NewPostgresCheckpointStore(
    PostgresCheckpointOptions options) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("checkpoint.dsn: required but missing");
  if (options.lease < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("checkpoint.lease: at least 1s, got ", absl::FormatDuration(options.lease))));
  }
  if (options.schema.empty()) options.schema = "public";
  if (options.owner.empty()) options.owner = DefaultOwner();
  return std::unique_ptr<CheckpointStore>(new PostgresCheckpointStore(std::move(options)));
}

}  // namespace recovery
