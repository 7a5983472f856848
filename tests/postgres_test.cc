// The PostgreSQL checkpoint store (leases, fencing, schema versioning), the
// PostgreSQL sink (upserts, type checks, constraint violations to dead
// letters) and both under the engine and the CLI, against a throwaway
// cluster the suite starts on a loopback port.
#include "testing/postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/job_state.h"
#include "recovery/postgres.h"
#include "recovery/status.h"
#include "testing/cli_runner.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "testing/token_server.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PostgresServer;
using testing::T;

class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = PostgresServer::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = s->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    schema_ = StrCat("t_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : schema_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_TRUE(
        server_->Exec(StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE; CREATE SCHEMA ", schema_)).ok());
  }

  PostgresCheckpointOptions StoreOptions(std::string owner, absl::Duration lease = absl::Seconds(30)) {
    PostgresCheckpointOptions o;
    o.dsn = server_->dsn();
    o.schema = schema_;
    o.owner = std::move(owner);
    o.lease = lease;
    return o;
  }
  std::unique_ptr<CheckpointStore> Store(std::string owner, absl::Duration lease = absl::Seconds(30)) {
    return *NewPostgresCheckpointStore(StoreOptions(std::move(owner), lease));
  }
  std::string Q(const std::string& sql) {
    std::vector<std::string> rows = server_->Query(sql);
    return Join(rows, ",");
  }
  void CreateTransactions() {
    ASSERT_TRUE(server_
                    ->Exec(StrCat("CREATE TABLE ", schema_, R"(.transactions (
                        transaction_id text NOT NULL UNIQUE,
                        occurred_at timestamptz NOT NULL,
                        amount numeric(12,2) NOT NULL CHECK (amount > 0),
                        points integer,
                        extra jsonb,
                        recovered_key text))"))
                    .ok());
  }
  std::string SinkJson(std::string_view on_conflict = "nothing") {
    return StrCat(R"({"type":"postgres","dsn":")", server_->dsn(), R"(","table":")", schema_,
                  R"(.transactions","on_conflict":")", on_conflict, R"(","columns":{
        "transaction_id":"/transaction_id","occurred_at":"$event_time","amount":"/amount",
        "points":"/points","extra":"/extra"},"conflict_columns":["transaction_id"]})");
  }
  // A job over `api` with 4 shards of 6 h, into the transactions table, with
  // checkpoints and dead letters in PostgreSQL.
  std::string JobJson(const testing::SimulatedApi& api, std::string_view extra = "") {
    return StrCat(R"({"name":"pg-job","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "shard_duration":"6h","concurrency":2,)",
                  extra, R"("retry":{"initial_backoff":"10ms","max_backoff":"100ms"},
      "source":{"type":"http","url":")",
                  api.base_url(), R"(/v1/keyset",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","after_time":"{after_time}","after_id":"{after_id}"},
        "records":"/data","page_size":50,"pagination":{"type":"keyset","time":"/created_at","id":"/id"}},
      "mapper":{"type":"json","fields":[{"name":"transaction_id","from":"/id"},
        {"name":"amount","from":"/amount/value","type":"decimal"},{"name":"points","from":"/points/earned","type":"int64"}],
        "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "sink":)",
                  SinkJson(), R"(,
      "checkpoint":{"type":"postgres","dsn":")",
                  server_->dsn(), R"(","schema":")", schema_, R"(","lease":"5s"}})");
  }
  static testing::SimulatedApiOptions Api(int64_t records) {
    testing::SimulatedApiOptions o;
    o.start = T("2026-11-01T00:00:00Z");
    o.end = T("2026-11-02T00:00:00Z");
    o.records = records;
    o.small_records = true;
    return o;
  }

  static PostgresServer* server_;
  std::string schema_;
};

PostgresServer* PostgresTest::server_ = nullptr;

Checkpoint AtCursor(std::string cursor) {
  Checkpoint c;
  c.state = ShardState::kRunning;
  c.cursor = std::move(cursor);
  c.counters.records_delivered = 7;
  c.progress = 0.25;
  return c;
}

// ---- checkpoint store ------------------------------------------------------

TEST_F(PostgresTest, CreatesVersionedSchemaOnFirstUseAndRoundTrips) {
  auto store = Store("a");
  auto none = store->Load("job", "s1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(
      Q(StrCat("SELECT value FROM ", schema_, ".recovery_meta WHERE key = 'checkpoint_schema_version'")),
      "1");

  ASSERT_TRUE(store->Save("job", "s1", AtCursor("c-1")).ok());
  auto loaded = store->Load("job", "s1");
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->cursor, "c-1");
  EXPECT_EQ((*loaded)->counters.records_delivered, 7u);
  // Operators can query progress in SQL.
  EXPECT_EQ(Q(StrCat("SELECT state || ' ' || records_delivered FROM ", schema_, ".recovery_checkpoints")),
            "running 7");

  // Many shards in one query, in the order asked, other jobs' rows left out.
  ASSERT_TRUE(store->Save("job", "s3", AtCursor("c-3")).ok());
  ASSERT_TRUE(store->Save("other-job", "s2", AtCursor("elsewhere")).ok());
  auto many = store->LoadMany("job", std::vector<std::string>{"s3", "s2", "s1"});
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_EQ((*many)[0]->cursor, "c-3");
  EXPECT_FALSE((*many)[1].has_value());
  EXPECT_EQ((*many)[2]->cursor, "c-1");

  ASSERT_TRUE(store->Delete("job", "s1").ok());
  EXPECT_FALSE(store->Load("job", "s1")->has_value());
  EXPECT_TRUE(store->Delete("job", "never-saved").ok());
}

// "dsn_cmd": a command prints the connection string (a vault's client);
// one that fails is named with its exit status, and stops the job before it
// starts.
TEST_F(PostgresTest, ADsnPrintedByACommandIsUsedAndAFailingCommandIsNamed) {
  CreateTransactions();
  testing::SimulatedApi api(Api(60));
  const std::string given = StrCat(R"("checkpoint":{"type":"postgres","dsn":")", server_->dsn(), R"(")");
  std::string job = JobJson(api);
  ASSERT_NE(job.find(given), std::string::npos);
  job.replace(
      job.find(given), given.size(),
      StrCat(R"("checkpoint":{"type":"postgres","dsn_cmd":["printf","%s",")", server_->dsn(), R"("])"));
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto b = Backfiller::Create(*spec, {}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_delivered, 60u);

  const std::string printf_at = R"("dsn_cmd":["printf")";
  job.replace(job.find(printf_at), printf_at.size(), R"("dsn_cmd":["false")");
  spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  b = Backfiller::Create(*spec, {}, {});
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()),
              HasSubstr("checkpoint.dsn_cmd: secret command false exited 1"));
}

TEST_F(PostgresTest, RefusesASchemaNewerThanItKnows) {
  ASSERT_TRUE(Store("a")->Load("job", "s").ok());
  ASSERT_TRUE(server_
                  ->Exec(StrCat("UPDATE ", schema_,
                                ".recovery_meta SET value = '9' WHERE key = 'checkpoint_schema_version'"))
                  .ok());
  auto r = Store("b")->Load("job", "s");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("schema version 9, newer than this library's (1)"));
}

TEST_F(PostgresTest, CorruptCheckpointIsDataLossNamingTheRow) {
  auto store = Store("a");
  ASSERT_TRUE(store->Save("job", "s1", AtCursor("c")).ok());
  ASSERT_TRUE(
      server_->Exec(StrCat("UPDATE ", schema_, ".recovery_checkpoints SET checkpoint = 'garbage'")).ok());
  auto r = store->Load("job", "s1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(r.status().message(), HasSubstr("(job, s1)"));
}

TEST_F(PostgresTest, OneLiveLeasePerShardAndFencingStopsTheStaleHolder) {
  auto a = Store("worker-a");
  auto b = Store("worker-b");
  auto la = a->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(la.ok()) << la.status();
  EXPECT_EQ((*la)->fencing_token(), 1);
  ASSERT_TRUE((*la)->Save(AtCursor("a-1")).ok());

  auto lb = b->leasing()->ClaimShard("job", "s1");
  EXPECT_EQ(lb.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(lb.status().message(), HasSubstr("leased by worker-a until"));
  // A plain save must not overwrite a shard someone holds, either.
  EXPECT_EQ(b->Save("job", "s1", AtCursor("b-plain")).code(), absl::StatusCode::kFailedPrecondition);

  // Worker A stalls past its lease (simulated by expiring it); B takes over.
  ASSERT_TRUE(server_
                  ->Exec(StrCat("UPDATE ", schema_,
                                ".recovery_checkpoints SET lease_expires = now() - interval '1s'"))
                  .ok());
  lb = b->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(lb.ok()) << lb.status();
  EXPECT_EQ((*lb)->fencing_token(), 2);
  EXPECT_EQ((*b->Load("job", "s1"))->cursor, "a-1");  // B resumes where A got

  // A wakes up: its write is refused and nothing of it lands.
  absl::Status stale = (*la)->Save(AtCursor("a-2"));
  EXPECT_TRUE(IsLeaseLost(stale)) << stale;
  EXPECT_THAT(stale.message(), HasSubstr("lease lost: shard s1 of job job (fencing token 1)"));
  EXPECT_TRUE(IsLeaseLost((*la)->Check()));
  ASSERT_TRUE((*lb)->Save(AtCursor("b-1")).ok());
  EXPECT_EQ((*a->Load("job", "s1"))->cursor, "b-1");

  // Releasing A's stale lease must not free B's shard.
  la->reset();
  EXPECT_EQ(a->leasing()->ClaimShard("job", "s1").status().code(), absl::StatusCode::kFailedPrecondition);
  auto leases = a->leasing()->Leases("job");
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].owner, "worker-b");
  EXPECT_TRUE((*leases)[0].live);
  EXPECT_EQ((*leases)[0].fencing_token, 2);

  // Released: claimable at once, with a newer token.
  lb->reset();
  auto again = a->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->fencing_token(), 3);
}

TEST_F(PostgresTest, ALeaseIsRenewedWhileHeld) {
  // Renewed every lease / 3: a lease of 2 s survives a renewal thread held
  // up for over a second on a busy machine.
  auto a = Store("worker-a", absl::Seconds(2));
  auto b = Store("worker-b", absl::Seconds(2));
  auto la = a->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(la.ok()) << la.status();
  for (int i = 0; i < 6; ++i) {  // 1.5 lease lengths
    absl::SleepFor(absl::Milliseconds(500));
    EXPECT_EQ(b->leasing()->ClaimShard("job", "s1").status().code(), absl::StatusCode::kFailedPrecondition)
        << i;
  }
  EXPECT_TRUE((*la)->Check().ok());
}

TEST_F(PostgresTest, ResetBumpsTheFencingTokenSoAStaleWorkerCannotWriteAfterIt) {
  auto a = Store("worker-a");
  auto la = *a->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(la->Save(AtCursor("a-1")).ok());
  ASSERT_TRUE(server_
                  ->Exec(StrCat("UPDATE ", schema_,
                                ".recovery_checkpoints SET lease_expires = now() - interval '1s'"))
                  .ok());
  ASSERT_TRUE(a->Delete("job", "s1").ok());
  EXPECT_TRUE(IsLeaseLost(la->Save(AtCursor("a-2"))));
  EXPECT_FALSE(a->Load("job", "s1")->has_value());
}

// The delivered-keys log of a shard whose cursors may expire: a chain of
// rows from entry 0, rewritten from where a crashed run left off, that a
// worker which lost its lease cannot overwrite, and that goes with Delete.
TEST_F(PostgresTest, DeliveredKeysAreAChainThatNeitherACrashedRunNorAStaleWorkerBreaks) {
  auto a = Store("worker-a");
  auto b = Store("worker-b");
  DeliveredKeys* ka = a->delivered_keys();
  DeliveredKeys* kb = b->delivered_keys();
  ASSERT_NE(ka, nullptr);
  auto la = a->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(la.ok()) << la.status();
  const std::vector<uint64_t> first = {1, 2, 0xffffffffffffffffULL};
  ASSERT_TRUE(ka->Append("job", "s1", 0, first).ok());
  ASSERT_TRUE(ka->Append("job", "s1", 3, {4, 5}).ok());
  EXPECT_EQ(*ka->Load("job", "s1", 5), (std::vector<uint64_t>{1, 2, 0xffffffffffffffffULL, 4, 5}));
  EXPECT_EQ(*kb->Load("job", "s1", 4), (std::vector<uint64_t>{1, 2, 0xffffffffffffffffULL, 4}));
  EXPECT_TRUE(ka->Load("job", "s1", 0)->empty());
  absl::StatusOr<std::vector<uint64_t>> more = ka->Load("job", "s1", 6);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(more.status().message(), HasSubstr(".recovery_delivered_keys (job, s1)"));
  EXPECT_THAT(more.status().message(), HasSubstr("vouches for 6"));

  // A crashed run had written entries 3.. that its checkpoint never counted:
  // the next run writes from 3 again, and what was there is gone.
  ASSERT_TRUE(ka->Append("job", "s1", 2, {3}).ok());
  EXPECT_EQ(*ka->Load("job", "s1", 3), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(ka->Load("job", "s1", 4).status().code(), absl::StatusCode::kDataLoss);

  // A stalls past its lease; B takes the shard over and carries on at 3.
  ASSERT_TRUE(server_
                  ->Exec(StrCat("UPDATE ", schema_,
                                ".recovery_checkpoints SET lease_expires = now() - interval '1s'"))
                  .ok());
  auto lb = b->leasing()->ClaimShard("job", "s1");
  ASSERT_TRUE(lb.ok()) << lb.status();
  ASSERT_TRUE(kb->Append("job", "s1", 3, {7, 8}).ok());
  // A wakes up: it cannot overwrite B's entries, and what it adds further
  // on lies off B's chain, which B then writes over.
  absl::Status stale = ka->Append("job", "s1", 3, {66});
  EXPECT_TRUE(IsLeaseLost(stale)) << stale;
  EXPECT_THAT(stale.message(), HasSubstr("shard s1 of job job (fencing token 1)"));
  ASSERT_TRUE(ka->Append("job", "s1", 4, {99}).ok());
  EXPECT_EQ(*kb->Load("job", "s1", 5), (std::vector<uint64_t>{1, 2, 3, 7, 8}));
  ASSERT_TRUE(kb->Append("job", "s1", 5, {9}).ok());
  EXPECT_EQ(*kb->Load("job", "s1", 6), (std::vector<uint64_t>{1, 2, 3, 7, 8, 9}));

  // Resetting the shard removes its log.
  lb->reset();
  la->reset();
  ASSERT_TRUE(b->Delete("job", "s1").ok());
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".recovery_delivered_keys")), "0");
  EXPECT_EQ(kb->Load("job", "s1", 1).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(PostgresTest, UnreachableDatabaseIsRetryableAndNeverShowsThePassword) {
  PostgresCheckpointOptions o = StoreOptions("a");
  o.dsn =
      StrCat("host=127.0.0.1 port=", testing::FreeLoopbackPort(), " dbname=x user=u password=hunter2-secret");
  o.connect_timeout = absl::Seconds(2);
  auto r = (*NewPostgresCheckpointStore(o))->Load("job", "s");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("hunter2")));
}

// ---- sink ------------------------------------------------------------------

PostgresSinkOptions SinkOptions(const std::string& dsn, const std::string& schema) {
  PostgresSinkOptions o;
  o.dsn = dsn;
  o.table = StrCat(schema, ".transactions");
  o.columns = {{"transaction_id", "/transaction_id"},
               {"occurred_at", "$event_time"},
               {"amount", "/amount"},
               {"points", "/points"},
               {"extra", "/extra"},
               {"recovered_key", "$key"}};
  o.conflict_columns = {"transaction_id"};
  return o;
}

void AddTxn(RecordBatch* batch, int i, std::string_view amount, std::string_view extra = "null") {
  batch->Add(StrCat("k", i), T("2026-11-01T00:00:00Z") + absl::Minutes(i),
             StrCat(R"({"transaction_id":"t)", i, R"(","amount":)", amount, R"(,"points":)", i,
                    R"(,"extra":)", extra, "}"));
}

TEST_F(PostgresTest, SinkUpsertsSoRedeliveryIsHarmless) {
  CreateTransactions();
  auto sink = *NewPostgresSink(SinkOptions(server_->dsn(), schema_));
  ASSERT_TRUE(sink->Open({}).ok());
  RecordBatch batch;
  for (int i = 0; i < 250; ++i) AddTxn(&batch, i, "\"12.30\"", R"({"tags":["a","b"]})");
  std::vector<SinkRejection> rejected;
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  EXPECT_TRUE(rejected.empty());
  batch.MarkRedelivered();
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());  // the batch in flight at a crash
  const std::string t = StrCat(schema_, ".transactions");
  EXPECT_EQ(Q(StrCat("SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM ", t)), "250 250");
  EXPECT_EQ(Q(StrCat("SELECT amount::text || ' ' || points || ' ' || (extra->'tags'->>1) || ' ' || "
                     "recovered_key || ' ' || "
                     "to_char(occurred_at AT TIME ZONE 'UTC', 'HH24:MI') FROM ",
                     t, " WHERE transaction_id = 't61'")),
            "12.30 61 b k61 01:01");
  // DO NOTHING: within one batch, the first copy of a key wins too.
  batch.Clear();
  AddTxn(&batch, 900, "7.00");
  AddTxn(&batch, 900, "8.00");
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  EXPECT_EQ(Q(StrCat("SELECT amount FROM ", t, " WHERE transaction_id = 't900'")), "7.00");
}

// Provenance columns: which job, run and shard wrote a row, and when, so
// that recovered rows can be told from a live feed's.
TEST_F(PostgresTest, SinkWritesProvenanceSoRecoveredRowsCanBeToldApart) {
  ASSERT_TRUE(server_
                  ->Exec(StrCat("CREATE TABLE ", schema_, R"(.events (
                      id text NOT NULL UNIQUE, recovered_by text, recovered_run text,
                      recovered_shard text, recovered_at timestamptz, slot integer))"))
                  .ok());
  PostgresSinkOptions o;
  o.dsn = server_->dsn();
  o.table = StrCat(schema_, ".events");
  o.columns = {{"id", "$key"},
               {"recovered_by", "$job"},
               {"recovered_run", "$run_id"},
               {"recovered_shard", "$shard"},
               {"recovered_at", "$recovered_at"}};
  auto sink = *NewPostgresSink(o);
  ASSERT_TRUE(sink->Open({}).ok());
  const Shard shard{"20261101T000000Z-20261101T060000Z", 0, T("2026-11-01T00:00:00Z"),
                    T("2026-11-01T06:00:00Z")};
  RecordBatch batch;
  for (int i = 0; i < 3; ++i) batch.Add(StrCat("e", i), T("2026-11-01T01:00:00Z"), "{}");
  const absl::Time before = absl::Now() - absl::Seconds(1);
  WriteResult result;
  ASSERT_TRUE(sink->Write({shard, batch, nullptr, "gap-job", "run-1"}, &result).ok());
  batch.MarkRedelivered();  // a resumed run redelivers: the first row stays (DO NOTHING)
  ASSERT_TRUE(sink->Write({shard, batch, nullptr, "gap-job", "run-2"}, &result).ok());
  const std::string t = StrCat(schema_, ".events");
  EXPECT_EQ(Q(StrCat("SELECT count(*) || ' ' || min(recovered_by) || ' ' || min(recovered_run) || ' ' || "
                     "max(recovered_run) || ' ' || min(recovered_shard) FROM ",
                     t)),
            "3 gap-job run-1 run-1 20261101T000000Z-20261101T060000Z");
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", t, " WHERE recovered_at BETWEEN '", FormatRfc3339(before),
                     "' AND now() + interval '1 second'")),
            "3");

  // A column that cannot hold its provenance, and a run id as the conflict key, are refused.
  o.columns.push_back({"slot", "$recovered_at"});
  auto wrong = *NewPostgresSink(o);
  absl::Status opened = wrong->Open({});
  EXPECT_THAT(opened.message(),
              HasSubstr("columns.slot: \"$recovered_at\" is a timestamp; column type integer"));
  o.columns.pop_back();
  o.conflict_columns = {"recovered_run"};
  EXPECT_THAT(NewPostgresSink(o).status().message(),
              HasSubstr("\"recovered_run\" is filled from $run_id, which differs in every run"));
}

TEST_F(PostgresTest, SinkOnConflictUpdateKeepsTheLatestCopy) {
  CreateTransactions();
  PostgresSinkOptions o = SinkOptions(server_->dsn(), schema_);
  o.on_conflict = PostgresConflict::kUpdate;
  auto sink = *NewPostgresSink(o);
  ASSERT_TRUE(sink->Open({}).ok());
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  RecordBatch batch;
  AddTxn(&batch, 1, "1.00");
  AddTxn(&batch, 1, "2.00");  // the same key twice in one batch: ON CONFLICT cannot touch a row twice
  std::vector<SinkRejection> rejected;
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  EXPECT_EQ(Q(StrCat("SELECT count(*) || ' ' || max(amount) FROM ", schema_, ".transactions")), "1 2.00");
  batch.Clear();
  AddTxn(&batch, 1, "3.00");
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  EXPECT_EQ(Q(StrCat("SELECT count(*) || ' ' || max(amount) FROM ", schema_, ".transactions")), "1 3.00");
}

TEST_F(PostgresTest, SinkPresenceCheckJoinsThePageToTheUniqueIndexInOneQuery) {
  // A composite key: (region, transaction_id); a NULL in it never matches.
  ASSERT_TRUE(
      server_
          ->Exec(StrCat("CREATE TABLE ", schema_,
                        ".sales (region text, transaction_id bigint NOT NULL, amount numeric(12,2), "
                        "UNIQUE (region, transaction_id)); INSERT INTO ",
                        schema_, ".sales VALUES ('eu', 1, 1), ('eu', 3, 1), ('us', 1, 1), (NULL, 5, 1)"))
          .ok());
  PostgresSinkOptions o;
  o.dsn = server_->dsn();
  o.table = StrCat(schema_, ".sales");
  o.columns = {{"region", "/region"}, {"transaction_id", "/id"}, {"amount", "/amount"}};
  o.conflict_columns = {"region", "transaction_id"};
  auto sink = *NewPostgresSink(o);
  absl::Status opened = sink->Open({});
  ASSERT_TRUE(opened.ok()) << opened;
  EXPECT_NE(sink->presence(), nullptr);
  EXPECT_FALSE(sink->presence()->answers_by_key());  // its identity is in the record's fields
  RecordBatch batch;
  auto add = [&](std::string_view region, std::string_view id) {
    batch.Add(StrCat(region, id), kUnknownEventTime,
              StrCat(R"({"region":)", region, R"(,"id":)", id, R"(,"amount":2})"));
  };
  add("\"eu\"", "1");      // held
  add("\"eu\"", "2");      // not held
  add("\"us\"", "1");      // held
  add("\"eu\"", "3");      // held
  add("null", "5");        // NULL region: never a conflict, so never present
  add("\"eu\"", "\"x\"");  // cannot be a bigint: Write() will reject it; not present
  add("\"eu\"", "1");      // the same key twice in a page: both present
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  PresenceAnswer answer;
  const int before =
      std::stoi(Q("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
  absl::Status checked = sink->presence()->Check(shard, batch.records(), &answer);
  ASSERT_TRUE(checked.ok()) << checked;
  EXPECT_EQ(answer.present, std::vector<bool>({true, false, true, true, false, false, true}));
  // One round trip: the check's statement, then the counter query's own.
  const int after =
      std::stoi(Q("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
  EXPECT_LE(after - before, 3);

  // Any other failure stops the check, naming the table and the shard.
  ASSERT_TRUE(server_->Exec(StrCat("DROP TABLE ", schema_, ".sales")).ok());
  absl::Status s = sink->presence()->Check(shard, batch.records(), &answer);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("sales"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("shard s: presence check"));
}

// A table deduplicating on the record's key answers for keys alone
// (`recovery find`), even when its other columns are NOT NULL.
TEST_F(PostgresTest, SinkPresenceCheckByKeyAloneForATableKeyedOnTheKey) {
  ASSERT_TRUE(server_
                  ->Exec(StrCat("CREATE TABLE ", schema_,
                                ".orders (id text PRIMARY KEY, amount numeric(12,2) NOT NULL); INSERT INTO ",
                                schema_, ".orders VALUES ('o1', 1), ('o3', 2)"))
                  .ok());
  PostgresSinkOptions o;
  o.dsn = server_->dsn();
  o.table = StrCat(schema_, ".orders");
  o.columns = {{"id", "$key"}, {"amount", "/amount"}};
  auto sink = *NewPostgresSink(o);
  ASSERT_TRUE(sink->presence()->OpenForReading().ok());
  EXPECT_TRUE(sink->presence()->answers_by_key());
  RecordBatch keys;
  for (const char* k : {"o1", "o2", "o3"}) keys.Add(k, kUnknownEventTime, "{}");
  PresenceAnswer answer;
  const absl::Status checked = sink->presence()->Check(
      {"find", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")}, keys.records(), &answer);
  ASSERT_TRUE(checked.ok()) << checked;
  EXPECT_EQ(answer.present, std::vector<bool>({true, false, true}));
}

TEST_F(PostgresTest, SinkOnConflictNewerKeepsTheNewestVersionAndLeavesEqualOnesAlone) {
  ASSERT_TRUE(server_
                  ->Exec(StrCat("CREATE TABLE ", schema_,
                                ".accounts (id text PRIMARY KEY, balance numeric, updated_at timestamptz, "
                                "touched int DEFAULT 0); INSERT INTO ",
                                schema_,
                                ".accounts (id, balance, updated_at) VALUES "
                                "('newer-live', 10, '2026-11-03T00:00:00Z'), "
                                "('older-live', 10, '2026-11-01T00:00:00Z'), "
                                "('same', 10, '2026-11-02T00:00:00Z'), "
                                "('unversioned', 10, NULL); "
                                "CREATE FUNCTION ",
                                schema_,
                                ".touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                "NEW.touched := OLD.touched + 1; RETURN NEW; END $$; "
                                "CREATE TRIGGER touch BEFORE UPDATE ON ",
                                schema_, ".accounts FOR EACH ROW EXECUTE FUNCTION ", schema_, ".touch()"))
                  .ok());
  PostgresSinkOptions o;
  o.dsn = server_->dsn();
  o.table = StrCat(schema_, ".accounts");
  o.columns = {{"id", "$key"}, {"balance", "/balance"}, {"updated_at", "/updated_at"}};
  o.on_conflict = PostgresConflict::kNewer;
  o.version_column = "updated_at";
  auto sink = *NewPostgresSink(o);
  ASSERT_TRUE(sink->Open({}).ok());
  RecordBatch batch;
  for (const char* id : {"newer-live", "older-live", "same", "unversioned", "fresh"}) {
    batch.Add(id, kUnknownEventTime, R"({"balance":99,"updated_at":"2026-11-02T00:00:00Z"})");
  }
  std::vector<SinkRejection> rejected;
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  EXPECT_TRUE(rejected.empty());
  EXPECT_EQ(
      Q(StrCat("SELECT id || '=' || balance || '/' || touched FROM ", schema_, ".accounts ORDER BY id")),
      "fresh=99/0,newer-live=10/0,older-live=99/1,same=10/0,unversioned=99/1");

  // The options say what is wrong with them.
  o.version_column = "";
  EXPECT_THAT(std::string(NewPostgresSink(o).status().message()),
              HasSubstr("version: on_conflict \"newer\" needs"));
  o.version_column = "id";
  EXPECT_THAT(std::string(NewPostgresSink(o).status().message()), HasSubstr("is a conflict column"));
  o.version_column = "nope";
  EXPECT_THAT(std::string(NewPostgresSink(o).status().message()), HasSubstr("not one of the sink's columns"));
  o.on_conflict = PostgresConflict::kUpdate;
  o.version_column = "updated_at";
  EXPECT_THAT(std::string(NewPostgresSink(o).status().message()), HasSubstr("only used with on_conflict"));
}

// Through multi-row INSERTs, and through COPY (which falls back to them to
// isolate the refused rows).
TEST_F(PostgresTest, SinkSendsRowsTheDatabaseRefusesToDeadLettersAndCommitsTheRest) {
  CreateTransactions();
  for (const int copy_min_rows : {0, 1}) {
    SCOPED_TRACE(StrCat("copy_min_rows ", copy_min_rows));
    ASSERT_TRUE(server_->Exec(StrCat("TRUNCATE ", schema_, ".transactions")).ok());
    PostgresSinkOptions options = SinkOptions(server_->dsn(), schema_);
    options.copy_min_rows = copy_min_rows;
    auto sink = *NewPostgresSink(options);
    ASSERT_TRUE(sink->Open({}).ok());
    Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
    RecordBatch batch;
    for (int i = 0; i < 100; ++i) {
      if (i == 10) {
        AddTxn(&batch, i, "-5");  // CHECK (amount > 0)
      } else if (i == 50) {
        AddTxn(&batch, i, "\"12,30\"");  // numeric input syntax
      } else if (i == 77) {
        batch.Add("k77", T("2026-11-01T00:00:00Z"), R"({"amount":1})");  // transaction_id NOT NULL
      } else if (i == 90) {
        AddTxn(&batch, i, "true");  // the sink's own type check
      } else if (i == 95) {
        AddTxn(&batch, i, "99999999999999");  // numeric(12,2) overflow
      } else {
        AddTxn(&batch, i, "1.50");
      }
    }
    std::vector<SinkRejection> rejected;
    auto token = testing::WriteTo(*sink, shard, batch, &rejected);
    ASSERT_TRUE(token.ok()) << token.status();
    std::map<size_t, std::string> why;
    for (const SinkRejection& r : rejected) why[r.index] = r.reason;
    ASSERT_EQ(why.size(), 5u);
    EXPECT_THAT(why[10], HasSubstr("violates check constraint \"transactions_amount_check\""));
    EXPECT_THAT(why[10], HasSubstr("SQLSTATE 23514"));
    EXPECT_THAT(why[50], HasSubstr("invalid input syntax for type numeric: \"12,30\""));
    EXPECT_THAT(why[77], HasSubstr("column transaction_id is NOT NULL but the record has no value for it"));
    EXPECT_THAT(why[90], HasSubstr("column amount (numeric(12,2)) cannot take a boolean (/amount)"));
    EXPECT_THAT(why[95], HasSubstr("numeric field overflow"));
    EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")), "95");
  }
}

// COPY's text format: tabs, newlines, backslashes and NULLs in values arrive
// as they were; a redelivered batch changes nothing.
TEST_F(PostgresTest, SinkCopiesValuesWithEveryCharacterCopyEscapes) {
  CreateTransactions();
  PostgresSinkOptions options = SinkOptions(server_->dsn(), schema_);
  options.copy_min_rows = 2;
  auto sink = *NewPostgresSink(options);
  ASSERT_TRUE(sink->Open({}).ok());
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  RecordBatch batch;
  batch.Add("k1", T("2026-11-01T00:00:00Z"),
            R"({"transaction_id":"a\tb\nc\\d\re","amount":1.5,"points":null,"extra":{"note":"\\N \t é"}})");
  batch.Add("k2", T("2026-11-01T00:01:00Z"), R"({"transaction_id":"\\N","amount":2})");
  for (int round = 0; round < 2; ++round) {
    std::vector<SinkRejection> rejected;
    auto token = testing::WriteTo(*sink, shard, batch, &rejected);
    ASSERT_TRUE(token.ok()) << token.status();
    for (const SinkRejection& r : rejected) ADD_FAILURE() << "record " << r.index << ": " << r.reason;
  }
  const std::string t = StrCat(schema_, ".transactions");
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", t)), "2");
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", t,
                     " WHERE transaction_id = E'a\\tb\\nc\\\\d\\re' AND points IS NULL "
                     "AND extra->>'note' = E'\\\\N \\t \\u00e9' AND recovered_key = 'k1'")),
            "1");
  EXPECT_EQ(Q(StrCat("SELECT amount FROM ", t, " WHERE transaction_id = E'\\\\N'")), "2.00");
}

TEST_F(PostgresTest, SinkChecksTheTableWhenOpened) {
  CreateTransactions();
  PostgresSinkOptions o = SinkOptions(server_->dsn(), schema_);
  o.table = StrCat(schema_, ".missing");
  absl::Status s = (*NewPostgresSink(o))->Open({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("table: postgres: relation \"" + schema_ + ".missing\" does not exist"));

  o = SinkOptions(server_->dsn(), schema_);
  o.columns.push_back({"amout", "/amount"});
  o.columns.push_back({"points", "$event_time"});
  o.conflict_columns = {"points"};
  s = (*NewPostgresSink(o))->Open({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("columns.amout: table " + schema_ + ".transactions has no such column"));
  EXPECT_THAT(
      s.message(),
      HasSubstr("columns.points: \"$event_time\" is a timestamp; column type integer cannot hold it"));
  EXPECT_THAT(s.message(), HasSubstr("conflict_columns: table " + schema_ +
                                     ".transactions has no unique index on exactly (points)"));
}

TEST_F(PostgresTest, SinkRetriesAfterTheDatabaseComesBack) {
  CreateTransactions();
  auto sink = *NewPostgresSink(SinkOptions(server_->dsn(), schema_));
  ASSERT_TRUE(sink->Open({}).ok());
  Shard shard{"s", 0, T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")};
  RecordBatch batch;
  AddTxn(&batch, 1, "1.00");
  std::vector<SinkRejection> rejected;
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());  // a pooled connection now exists
  server_->Kill();
  auto down = testing::WriteTo(*sink, shard, batch, &rejected);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  ASSERT_TRUE(server_->Restart().ok());
  AddTxn(&batch, 2, "2.00");
  auto up = testing::WriteTo(*sink, shard, batch, &rejected);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")), "2");
}

// ---- engine ----------------------------------------------------------------

TEST_F(PostgresTest, TwoWorkersShareAJobAndTheTableHoldsEveryRecordOnce) {
  CreateTransactions();
  testing::SimulatedApiOptions ao = Api(2000);
  ao.latency = absl::Milliseconds(2);
  testing::SimulatedApi api(ao);
  auto spec = *JobSpec::Parse(JobJson(api));
  std::vector<RunResult> results(2);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      auto b = Backfiller::Create(spec);
      ASSERT_TRUE(b.ok()) << b.status();
      results[w] = (*b)->Run();
    });
  }
  for (auto& t : workers) t.join();
  int ran = 0;
  for (const RunResult& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    for (const ShardReport& s : r.shards) ran += s.state == ShardState::kDone && !s.leased_elsewhere;
  }
  EXPECT_GE(ran, 4);
  const std::string t = StrCat(schema_, ".transactions");
  EXPECT_EQ(Q(StrCat("SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM ", t)), "2000 2000");
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_,
                     ".recovery_checkpoints WHERE state = 'done' AND lease_owner IS NULL")),
            "4");
  // A third run finds everything done.
  RunResult again = (*Backfiller::Create(spec))->Run();
  EXPECT_TRUE(again.complete);
  EXPECT_EQ(again.progress.records_this_run, 0u);
}

// The database goes away while shards write their rows and checkpoints there:
// a fast shutdown (`pg_ctl restart -m fast`), then a SIGKILL of every
// PostgreSQL process, each followed by a start a little later. The job rides
// through (its retries) or exits resumable; resumed until complete, the table
// holds every record once, no checkpoint vouches for a row the table lacks,
// and no shard's fencing token ever went backwards.
void RunThroughOutages(PostgresServer* server, const std::string& job, const std::string& schema,
                       const std::vector<std::string>& ids, bool pg_checkpoints) {
  auto spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::atomic<bool> done{false};
  std::vector<RunResult> results;
  std::thread runner([&] {
    // A supervisor's loop: an ended run that is not complete starts again a
    // little later (as systemd's RestartSec would have it).
    for (int run = 0; run < 50 && !done; ++run) {
      auto b = Backfiller::Create(*spec);
      if (b.ok()) {
        results.push_back((*b)->Run());
        done = results.back().complete;
      }
      if (!done) absl::SleepFor(absl::Milliseconds(200));
    }
    done = true;
  });
  const std::string rows = StrCat("SELECT count(*) FROM ", schema, ".transactions");
  const std::string tokens =
      StrCat("SELECT shard || '=' || fencing_token FROM ", schema, ".recovery_checkpoints ORDER BY shard");
  std::map<std::string, int64_t> highest;
  auto check_tokens = [&] {
    for (const std::string& row : server->Query(tokens)) {
      const size_t eq = row.find('=');
      if (eq == std::string::npos) continue;  // the database is down
      int64_t token = 0;
      ASSERT_TRUE(absl::SimpleAtoi(row.substr(eq + 1), &token)) << row;
      int64_t& seen = highest[row.substr(0, eq)];
      EXPECT_GE(token, seen) << "fencing token went backwards for " << row;
      seen = std::max(seen, token);
    }
  };
  int outages = 0;
  for (int64_t at : {ids.size() / 4, ids.size() / 2}) {
    while (!done) {  // wait for that many rows
      std::vector<std::string> n = server->Query(rows);
      int64_t count = 0;
      if (!n.empty() && absl::SimpleAtoi(n[0], &count) && count >= at) break;
      check_tokens();
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (done) break;
    if (outages == 0) {
      server->StopFast();
    } else {
      server->Kill();
    }
    ++outages;
    absl::SleepFor(absl::Milliseconds(400));
    ASSERT_TRUE(server->Restart().ok());
    check_tokens();
  }
  runner.join();
  check_tokens();
  EXPECT_EQ(outages, 2) << "the job finished before both outages: they tested nothing";
  ASSERT_FALSE(results.empty());
  EXPECT_TRUE(results.back().complete) << results.back().status;
  const std::string t = StrCat(schema, ".transactions");
  std::vector<std::string> in_table = server->Query(StrCat("SELECT transaction_id FROM ", t, " ORDER BY 1"));
  std::vector<std::string> want = ids;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(in_table, want);
  // What every checkpoint says it delivered is in the table.
  uint64_t vouched = 0;
  for (const RunResult& r : results) vouched += r.progress.records_this_run;
  EXPECT_GE(vouched, ids.size());
  if (pg_checkpoints) {
    EXPECT_EQ(
        server->Query(StrCat("SELECT count(*) FROM ", schema, ".recovery_checkpoints WHERE state <> 'done'")),
        std::vector<std::string>{"0"});
    EXPECT_EQ(highest.size(), 4u);
  }
  std::printf("outages: %d, runs: %zu\n", outages, results.size());
  for (const RunResult& r : results) {
    if (!r.status.ok()) std::printf("  a run ended: %s\n", r.status.ToString().c_str());
  }
}

TEST_F(PostgresTest, TheDatabaseStoppedAndKilledMidRunLosesNothingAndRepeatsNothing) {
  CreateTransactions();
  testing::SimulatedApiOptions ao = Api(6000);
  ao.latency = absl::Milliseconds(3);
  testing::SimulatedApi api(ao);
  RunThroughOutages(server_, JobJson(api), schema_, api.Ids(ao.start, ao.end), /*pg_checkpoints=*/true);
}

TEST_F(PostgresTest, TheDatabaseStoppedAndKilledUnderThePostgresSinkWithFileCheckpoints) {
  CreateTransactions();
  testing::SimulatedApiOptions ao = Api(6000);
  ao.latency = absl::Milliseconds(3);
  testing::SimulatedApi api(ao);
  testing::TempDir dir;
  std::string job = JobJson(api);
  const size_t at = job.find(R"("checkpoint":{"type":"postgres")");
  ASSERT_NE(at, std::string::npos);
  job = StrCat(job.substr(0, at), R"("checkpoint":{"type":"file","dir":")", dir.File("state"), R"("}})");
  RunThroughOutages(server_, job, schema_, api.Ids(ao.start, ao.end), /*pg_checkpoints=*/false);
}

// The sink shares the checkpoints' database, so its writes are fenced: a
// worker paused (SIGSTOP) between its lease check and its write, past its
// lease, is resumed after another worker took the shard over and finished it.
// Its batch is refused in the database, the table is left as it was, and
// every record is in it once.
TEST_F(PostgresTest, AWorkerPausedPastItsLeaseCannotLandItsBatchAfterATakeover) {
  CreateTransactions();
  testing::SimulatedApi api(Api(400));
  std::string job = JobJson(api, R"("max_records":0,)");
  // One shard, one batch at a time, a short lease; rows updated on conflict,
  // so a batch that landed twice would show.
  job = absl::StrReplaceAll(
      job, {{R"("shard_duration":"6h","concurrency":2,)", R"("shard_duration":"24h","concurrency":1,)"},
            {R"("lease":"5s")", R"("lease":"1s")"},
            {R"("on_conflict":"nothing")", R"("on_conflict":"update")"}});
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"), job);
  const std::string log = dir.File("a.log");
  const pid_t a = fork();
  if (a == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    execl(RECOVERY_SINK_CHILD, RECOVERY_SINK_CHILD, dir.File("job.json").c_str(), "stop-before", "3",
          nullptr);
    _exit(127);
  }
  ASSERT_GT(a, 0);
  int status = 0;
  ASSERT_EQ(waitpid(a, &status, WUNTRACED), a);
  ASSERT_TRUE(WIFSTOPPED(status)) << "worker A should have stopped itself before its third write";
  const std::string t = StrCat(schema_, ".transactions");
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", t)), "100");  // two batches of 50
  absl::SleepFor(absl::Milliseconds(2500));                 // its lease (1 s) lapses, unrenewed

  // Worker B takes the shard over and finishes it.
  testing::CliResult b = testing::RunCli(RECOVERY_CLI, {"run", dir.File("job.json"), "--quiet"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  const std::string snapshot = StrCat(
      "SELECT count(*) || ' ' || count(DISTINCT transaction_id) || ' ' || "
      "sum(xmin::text::bigint) FROM ",
      t);
  const std::string after_b = Q(snapshot);
  EXPECT_THAT(after_b, ::testing::StartsWith("400 400 "));

  // A resumes where it stopped, about to write: the database refuses.
  ASSERT_EQ(kill(a, SIGCONT), 0);
  ASSERT_EQ(waitpid(a, &status, 0), a);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  const std::string a_said = testing::ReadFileOrEmpty(log);
  EXPECT_THAT(a_said, HasSubstr("lease lost"));
  EXPECT_THAT(a_said, HasSubstr("is newer; the batch was not written to"));
  EXPECT_EQ(Q(snapshot), after_b);  // not one row touched
  EXPECT_EQ(Q(StrCat("SELECT state FROM ", schema_, ".recovery_checkpoints")), "done");
}

TEST_F(PostgresTest, AWorkerWhoseLeaseIsTakenStopsWithoutWritingAndAnotherFinishes) {
  CreateTransactions();
  testing::SimulatedApi api(Api(400));
  std::string job = JobJson(api, R"("max_records":0,)");
  auto spec = *JobSpec::Parse(job);
  spec.concurrency = 1;
  spec.shard_duration = absl::InfiniteDuration();  // one shard
  // Worker A: after its third batch, another worker takes the shard over.
  std::atomic<int> batches{0};
  std::string thief_sql = StrCat("UPDATE ", schema_,
                                 ".recovery_checkpoints SET lease_owner = 'thief', "
                                 "fencing_token = fencing_token + 1");
  Components c;
  c.sink = NewCallbackSink([&](const Shard& shard, absl::Span<const Record> records) {
    if (++batches == 3) EXPECT_TRUE(server_->Exec(thief_sql).ok());
    return absl::OkStatus();
  });
  auto a = *Backfiller::Create(spec, std::move(c));
  RunResult ra = a->Run();
  EXPECT_TRUE(IsLeaseLost(ra.status)) << ra.status;
  EXPECT_THAT(ToStd(ra.status.message()), HasSubstr("lease lost"));
  EXPECT_EQ(batches.load(), 3);  // nothing after the loss reached the sink
  // Its checkpoint stopped at the second batch (the third was marked in flight
  // before the theft, then refused).
  EXPECT_EQ(Q(StrCat("SELECT state FROM ", schema_, ".recovery_checkpoints")), "running");

  // The thief's lease expires; worker B resumes and finishes into the table.
  ASSERT_TRUE(server_
                  ->Exec(StrCat("UPDATE ", schema_,
                                ".recovery_checkpoints SET lease_expires = now() - interval '1s'"))
                  .ok());
  auto b = *Backfiller::Create(spec);
  auto status = b->Status();
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE((*status)[0].lease.has_value());
  EXPECT_EQ((*status)[0].lease->owner, "thief");
  EXPECT_FALSE((*status)[0].lease->live);
  RunResult rb = b->Run();
  EXPECT_TRUE(rb.status.ok()) << rb.status;
  EXPECT_TRUE(rb.complete);
  EXPECT_EQ(rb.progress.records_this_run, 400u - 100u);  // A's two committed batches of 50 stay done
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")), "300");
}

// Cursors that die 300 ms after they are handed out, with checkpoints in
// PostgreSQL: a run stopped by its record limit, a pause past the cursors'
// life, then two workers sharing the rest while the API also expires a
// cursor in the middle: every shard restarts from its delivered-keys table
// and every record reaches a sink exactly once.
TEST_F(PostgresTest, ExpiredCursorsRestartShardsFromTheDeliveredKeysTableAcrossWorkers) {
  testing::SimulatedApiOptions ao = Api(400);
  ao.cursor_lifetime = absl::Milliseconds(300);
  testing::SimulatedApi api(ao);
  const std::string job = StrCat(
      R"({"name":"pg-expiring","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "shard_duration":"6h","concurrency":2,
      "retry":{"initial_backoff":"1ms","max_backoff":"20ms","max_attempts":6},
      "source":{"type":"http","url":")",
      api.base_url(), R"(/v1/cursor",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","cursor":"{cursor}"},
        "records":"/data","page_size":10,
        "pagination":{"type":"cursor","from":"/next_cursor",
                      "expired":{"statuses":[400],"body_contains":"cursor_expired"}}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
        "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":{"type":"postgres","dsn":")",
      server_->dsn(), R"(","schema":")", schema_, R"(","lease":"5s"}})");
  absl::Mutex mu;
  std::map<std::string, int> delivered;
  std::vector<std::string> logs;
  std::atomic<int> batches{0};
  auto run = [&](int64_t max_records) {
    auto spec = JobSpec::Parse(job);
    EXPECT_TRUE(spec.ok()) << spec.status();
    spec->max_records = max_records;
    Components c;
    c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> records) {
      // The API expires the next cursor it is shown, now and then.
      if (++batches % 9 == 0) api.Script({testing::Fault{testing::Fault::kCursorExpired}});
      absl::MutexLock lock(&mu);
      for (const Record& r : records) ++delivered[std::string(r.key)];
      return absl::OkStatus();
    });
    BackfillerOptions options;
    options.on_log = [&](const LogEvent& e) {
      absl::MutexLock lock(&mu);
      logs.emplace_back(e.message);
    };
    auto b = Backfiller::Create(*spec, std::move(c), options);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? (*b)->Run() : RunResult{};
  };
  const RunResult first = run(120);
  ASSERT_TRUE(first.status.ok()) << first.status;
  ASSERT_FALSE(first.complete);
  absl::SleepFor(absl::Milliseconds(400));  // every saved cursor is dead now
  std::vector<RunResult> results(2);
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) workers.emplace_back([&, w] { results[w] = run(0); });
  for (std::thread& t : workers) t.join();
  for (const RunResult& r : results) EXPECT_TRUE(r.status.ok()) << r.status;
  RunResult last = run(0);  // whatever a worker skipped as leased is done by now
  EXPECT_TRUE(last.status.ok()) << last.status;
  EXPECT_TRUE(last.complete);

  const std::vector<std::string> ids = api.Ids(ao.start, ao.end);
  EXPECT_EQ(delivered.size(), ids.size());
  for (const auto& [key, times] : delivered) EXPECT_EQ(times, 1) << key;
  int restarts = 0;
  for (const std::string& line : logs)
    restarts += line.find("refused its cursor as expired") != std::string::npos;
  // At least one shard stopped by the limit with a cursor that died, and
  // the API expired others mid-run.
  EXPECT_GE(restarts, 2);
  EXPECT_NE(Q(StrCat("SELECT count(*) FROM ", schema_, ".recovery_delivered_keys")), "0");
}

TEST_F(PostgresTest, AdvisoryLocksExcludeEachOtherAcrossConnectionsAndAWaitRunsOut) {
  auto locks = PostgresAdvisoryLocks(StoreOptions("a"), absl::Milliseconds(200));
  auto held = locks("refresh x");
  ASSERT_TRUE(held.ok()) << held.status();
  auto other = locks("refresh x");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(other.status().message(), HasSubstr("no advisory lock in postgres"));
  EXPECT_THAT(other.status().message(), HasSubstr("within 200ms"));
  EXPECT_TRUE(locks("refresh y").ok());  // another name is another lock
  held->reset();
  EXPECT_TRUE(locks("refresh x").ok());

  PostgresCheckpointOptions nowhere = StoreOptions("a");
  nowhere.dsn =
      StrCat("host=127.0.0.1 port=", testing::FreeLoopbackPort(), " dbname=x user=u password=pw-secret");
  absl::StatusOr<std::unique_ptr<JobLock>> unreachable = PostgresAdvisoryLocks(nowhere)("refresh x");
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(unreachable.status().message(), Not(HasSubstr("pw-secret")));
}

// A job whose checkpoints are in PostgreSQL refreshes its OAuth2 token under
// the database's advisory lock, so workers on other hosts take turns: while
// another holder (this test, standing for a worker elsewhere) keeps the lock,
// the job waits without touching the token endpoint; released, it refreshes
// and finishes.
TEST_F(PostgresTest, ARefreshTokenIsSpentUnderAnAdvisoryLockThatWorkersOnEveryHostShare) {
  testing::TokenServerOptions t;
  t.lifetime = absl::Seconds(60);
  t.refresh_token = "rt-initial-value";
  t.rotate = true;
  t.strict = true;
  testing::TokenServer tokens(t);
  testing::SimulatedApiOptions ao = Api(200);
  ao.authorize = tokens.Authorizer();
  testing::SimulatedApi api(ao);
  testing::TempDir dir;
  const std::string file = dir.File("refresh_token");
  testing::WriteFile(file, "rt-initial-value\n");
  const std::string job = StrCat(
      R"({"name":"pg-oauth2","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "shard_duration":"6h","concurrency":2,"retry":{"initial_backoff":"1ms","max_backoff":"20ms"},
      "source":{"type":"http","url":")",
      api.base_url(),
      R"(/v1/cursor","query":{"from":"{start}","to":"{end}","limit":"{limit}","cursor":"{cursor}"},
        "auth":{"type":"oauth2","grant":"refresh_token","token_url":")",
      tokens.url(), R"(","refresh_token_file":")", file, R"("},
        "records":"/data","page_size":20,"pagination":{"type":"cursor","from":"/next_cursor"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},
        "event_time":{"from":"/created_at"}},
      "sink":{"type":"null"},
      "checkpoint":{"type":"postgres","dsn":")",
      server_->dsn(), R"(","schema":")", schema_, R"("}})");
  auto elsewhere =
      PostgresAdvisoryLocks(StoreOptions("elsewhere"))(StrCat("recovery oauth2 refresh ", tokens.url(), " "));
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  RunResult result;
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    auto spec = JobSpec::Parse(job);
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto b = spec.ok() ? Backfiller::Create(*spec) : spec.status();
    EXPECT_TRUE(b.ok()) << b.status();
    if (b.ok()) result = (*b)->Run();
    finished = true;
  });
  // Wait until the job queues behind the lock (or, wrongly, ends).
  while (!finished && Q("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == "0") {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(tokens.requests(), 0);
  elsewhere->reset();
  worker.join();
  EXPECT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.progress.records_this_run, 200u);
  EXPECT_EQ(tokens.refused(), 0);
  EXPECT_EQ(testing::ReadFileOrEmpty(file), tokens.refresh_token() + "\n");
}

TEST_F(PostgresTest, ConstraintViolationsLandInThePostgresDeadLetters) {
  CreateTransactions();
  ASSERT_TRUE(
      server_->Exec(StrCat("ALTER TABLE ", schema_, ".transactions ADD CHECK (transaction_id NOT LIKE '%7')"))
          .ok());
  testing::SimulatedApi api(Api(300));
  auto spec = *JobSpec::Parse(JobJson(api));
  RunResult r = (*Backfiller::Create(spec))->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;

  const std::string dead =
      Q(StrCat("SELECT count(*) FROM ", schema_,
               ".recovery_dead_letters WHERE reason LIKE "
               "'rejected by the sink: postgres: new row for relation%violates check constraint%'"));
  EXPECT_EQ(dead, "30");  // every id ending in 7
  EXPECT_EQ(StrCat(r.progress.totals.dead_letters), dead);
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")),
            StrCat(300 - r.progress.totals.dead_letters));
  // The raw record is kept, byte for byte, with the record's key and event time.
  EXPECT_THAT(Q(StrCat("SELECT convert_from(raw, 'UTF8') FROM ", schema_, ".recovery_dead_letters LIMIT 1")),
              HasSubstr("7\",\"created_at\""));
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_,
                     ".recovery_dead_letters WHERE record_key LIKE '%7' AND event_time IS NOT NULL")),
            "30");

  // A retention purge empties the raw records, keeps the rest, counts them
  // in status, and a replay finds nothing left to deliver.
  auto state = JobState::Open(spec);
  ASSERT_TRUE(state.ok()) << state.status();
  absl::StatusOr<uint64_t> purged = (*state)->PurgeDeadLetters(absl::Now() + absl::Hours(1));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 30u);
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_,
                     ".recovery_dead_letters WHERE octet_length(raw) = 0 AND record_key IS NOT NULL")),
            "30");
  EXPECT_EQ(Summarize(*(*state)->Status()).dead_letters_purged, 30u);
  EXPECT_EQ(*(*state)->PurgeDeadLetters(absl::Now() + absl::Hours(1)), 0u);  // nothing left to purge
  BackfillerOptions replay;
  replay.replay = ReplayOptions();
  auto replayer = Backfiller::Create(spec, {}, replay);
  ASSERT_TRUE(replayer.ok()) << replayer.status();
  RunResult again = (*replayer)->Run();
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(again.progress.records_this_run, 0u);
}

TEST_F(PostgresTest, CliRunsOneShardAndShowsLeasesInStatus) {
  CreateTransactions();
  testing::SimulatedApi api(Api(400));
  testing::TempDir dir;
  const std::string path = dir.File("job.json");
  testing::WriteFile(path, JobJson(api));
  auto plan = testing::RunCli(RECOVERY_CLI, {"plan", path});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("20261101T060000Z-20261101T120000Z"));

  auto one =
      testing::RunCli(RECOVERY_CLI, {"run", path, "--shard", "20261101T060000Z-20261101T120000Z", "--quiet"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")), "100");

  ASSERT_TRUE(server_
                  ->Exec(StrCat(
                      "INSERT INTO ", schema_,
                      ".recovery_checkpoints (job, shard, lease_owner, "
                      "lease_expires, fencing_token) VALUES ('pg-job', '20261101T000000Z-20261101T060000Z', "
                      "'host-b:42:abc', now() + interval '1 hour', 5)"))
                  .ok());
  auto status = testing::RunCli(RECOVERY_CLI, {"status", path});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("leased by host-b:42:abc until"));
  EXPECT_THAT(status.out, HasSubstr("1 of 4 shards done"));

  auto bad = testing::RunCli(RECOVERY_CLI, {"run", path, "--shard", "20261101T070000Z-nope"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("shard \"20261101T070000Z-nope\" is not in the plan of job \"pg-job\""));

  // The rest: the leased shard is skipped, the others run.
  auto rest = testing::RunCli(RECOVERY_CLI, {"run", path, "--quiet"});
  EXPECT_THAT(rest.err, HasSubstr("1 shard is leased by another worker"));
  EXPECT_EQ(Q(StrCat("SELECT count(*) FROM ", schema_, ".transactions")), "300");
}

}  // namespace
}  // namespace recovery
