// `recovery reconcile` against the simulated API and a destination with
// known holes (a whole missing hour, a thin hour, single records): the table
// shows exactly those buckets, --write-plan covers exactly them, running that
// plan and reconciling again exits 0; for a JSON-lines file and a PostgreSQL
// table.
#include "recovery/reconcile.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "testing/cli_runner.h"
#include "testing/moto.h"
#include "testing/postgres.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

absl::Time T(const char* s) { return *ParseRfc3339(s); }

constexpr int kRecords = 2400;  // 100 an hour over 2026-11-01

testing::SimulatedApiOptions ApiOptions() {
  testing::SimulatedApiOptions o;
  o.start = T("2026-11-01T00:00:00Z");
  o.end = T("2026-11-02T00:00:00Z");
  o.records = kRecords;
  o.small_records = true;
  return o;
}

std::string Job(
    const testing::SimulatedApi& api, const std::string& dir, const std::string& sink,
    const std::string& window = R"({"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"})") {
  return StrCat(R"({"name":"gap","window":)", window, R"(,
    "shard_duration":"6h","concurrency":4,"skip_already_present":true,
    "source":{"type":"http","url":")",
                api.base_url(), R"(/v1/page",
      "query":{"from":"{start}","to":"{end}","page":"{page}","limit":"{limit}"},
      "records":"/data","page_size":50,"pagination":{"type":"page"},"total":{"from":"/total"}},
    "mapper":{"type":"json","fields":[{"name":"transaction_id","from":"/id","required":true}],
      "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":)",
                sink, R"(,"checkpoint":{"type":"file","dir":")", dir, R"(/state"}})");
}

// The live feed's file: every record but hour 03, the second half of hour
// 10 and three records of hour 15.
std::string LiveFeed(const testing::SimulatedApi& api) {
  std::string out;
  for (int h = 0; h < 24; ++h) {
    const absl::Time from = T("2026-11-01T00:00:00Z") + absl::Hours(h);
    std::vector<std::string> ids = api.Ids(from, from + absl::Hours(1));
    if (h == 3) continue;
    if (h == 10) ids.resize(ids.size() / 2);
    if (h == 15) ids.erase(ids.begin() + 10, ids.begin() + 13);
    for (const std::string& id : ids) {
      StrAppend(&out, R"({"key":")", id, R"(","event_time":")", FormatRfc3339(from + absl::Minutes(30)),
                R"(","maybe_redelivered":false,"data":{"live":true}})", "\n");
    }
  }
  return out;
}

// --keys: the keys the destination lacks in each short bucket, exactly.
void ExpectMissingKeysListed(const testing::SimulatedApi& api, const std::string& job) {
  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"reconcile", job, "--keys"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const absl::Time day = T("2026-11-01T00:00:00Z");
  std::vector<std::string> hour15 = api.Ids(day + absl::Hours(15), day + absl::Hours(16));
  EXPECT_THAT(r.out, HasSubstr(StrCat("missing from 2026-11-01T15:00:00Z (3): ", hour15[10], " ", hour15[11],
                                      " ", hour15[12], "\n")));
  EXPECT_THAT(r.out, HasSubstr("missing from 2026-11-01T03:00:00Z (100): "));
  EXPECT_THAT(r.out, HasSubstr("missing from 2026-11-01T10:00:00Z (50): "));
  std::vector<std::string> hour10 = api.Ids(day + absl::Hours(10), day + absl::Hours(11));
  EXPECT_THAT(r.out, HasSubstr(hour10.back()));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(StrCat(" ", hour10.front(), " "))));
  // A limit under a bucket's size leaves it unlisted, and says so.
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", job, "--keys", "--keys-limit", "99", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("100 vendor records, over the keys limit (99): its missing keys are not listed"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("\"missing_keys\"")));
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", job, "--keys-limit", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--keys-limit: only with --keys"));
}

TEST(ReconcileTest, JsonLinesDestinationShowsExactlyItsHolesAndThePlanFillsThem) {
  testing::SimulatedApi api(ApiOptions());
  TempDir dir;
  testing::WriteFile(dir.File("out.jsonl"), LiveFeed(api));
  const std::string sink = StrCat(R"({"type":"jsonl_file","path":")", dir.File("out.jsonl"),
                                  R"(","format":"envelope","append":true})");
  testing::WriteFile(dir.File("job.json"), Job(api, dir.path(), sink));

  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T03:00:00Z          100            0     -100  MISSING  paged"));
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T10:00:00Z          100           50      -50  SHORT    paged"));
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T15:00:00Z          100           97       -3  SHORT    paged"));
  EXPECT_THAT(r.out,
              HasSubstr("2400 vendor records and 2247 in the destination across 24 buckets of 1h; 3 short "
                        "(153 records missing)"));
  EXPECT_THAT(r.out, HasSubstr("destination INCOMPLETE"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("note:")));  // the API's totals agree with its pages
  ExpectMissingKeysListed(api, dir.File("job.json"));

  // The same as JSON, and a plan of only the short buckets.
  r = testing::RunCli(RECOVERY_CLI,
                      {"reconcile", dir.File("job.json"), "--json", "--write-plan", dir.File("plan.json")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.parse(r.out).get(report), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(report["short_buckets"].get_int64().value(), 3);
  EXPECT_EQ(report["complete"].get_bool().value(), false);
  std::set<std::string> short_starts;
  for (simdjson::dom::element b : report["buckets"].get_array()) {
    if (b["difference"].get_int64().value() < 0)
      short_starts.insert(std::string(b["start"].get_string().value()));
  }
  EXPECT_EQ(short_starts,
            (std::set<std::string>{"2026-11-01T03:00:00Z", "2026-11-01T10:00:00Z", "2026-11-01T15:00:00Z"}));
  r = testing::RunCli(RECOVERY_CLI, {"plan", dir.File("plan.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("20261101T030000Z-20261101T040000Z"));
  EXPECT_THAT(r.out, HasSubstr("20261101T100000Z-20261101T110000Z"));
  EXPECT_THAT(r.out, HasSubstr("20261101T150000Z-20261101T160000Z"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << r.out;  // a note, a header, those three

  // Running the plan fills exactly the holes; reconciling the job again proves it.
  r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("plan.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("2400 vendor records and 2400 in the destination across 24 buckets of 1h; 0 short"));
  EXPECT_THAT(r.out, HasSubstr("destination COMPLETE"));
  EXPECT_EQ(testing::ReadLines(dir.File("out.jsonl")).size(), static_cast<size_t>(kRecords));
}

TEST(ReconcileTest, PostgresDestinationIsCountedInOneQueryAndThePlanFillsItsHoles) {
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  testing::PostgresServer& pg = **server;
  testing::SimulatedApi api(ApiOptions());
  ASSERT_TRUE(pg.Exec("CREATE TABLE payments (transaction_id text NOT NULL UNIQUE, occurred_at timestamptz, "
                      "origin text)")
                  .ok());
  // The live feed's rows, from the same holes as the file's.
  std::string insert = "INSERT INTO payments VALUES ";
  bool first = true;
  const std::string feed = LiveFeed(api);
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(feed, '\n', absl::SkipEmpty())) {
    simdjson::dom::element e = parser.parse(line.data(), line.size()).value();
    StrAppend(&insert, first ? "" : ",", "('", std::string(e["key"].get_string().value()), "', '",
              std::string(e["event_time"].get_string().value()), "', 'live')");
    first = false;
  }
  ASSERT_TRUE(pg.Exec(insert).ok());
  TempDir dir;
  testing::WriteFile(
      dir.File("job.json"),
      Job(api, dir.path(), StrCat(R"({"type":"postgres","dsn":")", pg.dsn(), R"(","table":"payments",
      "columns":{"transaction_id":"/transaction_id","occurred_at":"$event_time"},
      "conflict_columns":["transaction_id"]})")));

  testing::CliResult r = testing::RunCli(
      RECOVERY_CLI, {"reconcile", dir.File("job.json"), "--write-plan", dir.File("plan.json")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T03:00:00Z          100            0     -100  MISSING  paged"));
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T10:00:00Z          100           50      -50  SHORT    paged"));
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T15:00:00Z          100           97       -3  SHORT    paged"));
  EXPECT_THAT(r.out, HasSubstr("3 short (153 records missing)"));
  ExpectMissingKeysListed(api, dir.File("job.json"));
  r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("plan.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2400 vendor records and 2400 in the destination"));
  EXPECT_EQ(pg.Query("SELECT count(*) || ' ' || count(*) FILTER (WHERE origin = 'live') FROM payments"),
            std::vector<std::string>{"2400 2247"});
}

// The story's incident: the feed's queue went silent for a day, and by the
// time it resumed it kept only the last part of the gap (its retention). The
// recipe (docs/reconcile.md): drain what the queue still holds, then recover
// the rest from the vendor's API with the presence check on; reconcile proves
// the table complete, every record in it exactly once.
TEST(ReconcileTest, TheQueueThenTheApiRecipeLeavesTheTableCompleteAndReconcileExitsZero) {
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  setenv("AWS_REGION", "us-east-1", 1);
  testing::MotoServer moto;
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  testing::SqsAdmin admin(moto.endpoint());
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  testing::PostgresServer& pg = **server;
  testing::SimulatedApiOptions o = ApiOptions();
  o.records = 240;  // 10 an hour: moto scans the whole queue on every receive
  testing::SimulatedApi api(o);
  ASSERT_TRUE(
      pg.Exec("CREATE TABLE payments (transaction_id text NOT NULL UNIQUE, occurred_at timestamptz)").ok());
  const std::string table = StrCat(R"({"type":"postgres","dsn":")", pg.dsn(), R"(","table":"payments",
      "columns":{"transaction_id":"/transaction_id","occurred_at":"$event_time"},"conflict_columns":["transaction_id"]})");

  // The queue still holds hours 14 to 23 of the gap.
  absl::StatusOr<std::string> url = admin.CreateQueue("feed");
  ASSERT_TRUE(url.ok()) << url.status();
  std::vector<std::string> bodies;
  for (int h = 14; h < 24; ++h) {
    const absl::Time from = T("2026-11-01T00:00:00Z") + absl::Hours(h);
    for (const std::string& id : api.Ids(from, from + absl::Hours(1))) {
      bodies.push_back(
          StrCat(R"({"id":")", id, R"(","created_at":")", FormatRfc3339(from + absl::Minutes(30)), R"("})"));
    }
  }
  ASSERT_EQ(bodies.size(), 100u);
  ASSERT_TRUE(admin.Send(*url, bodies).ok());

  TempDir dir;
  const std::string mapper =
      R"({"type":"json","fields":[{"name":"transaction_id","from":"/id","required":true}],
      "key":{"from":"/id"},"event_time":{"from":"/created_at"}})";
  testing::WriteFile(
      dir.File("queue.json"),
      StrCat(R"({"name":"gap-queue","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
    "source":{"type":"sqs","queue_url":")",
             *url, R"(","endpoint":")", moto.endpoint(), R"(","wait_time":"1s",
      "drain_after_empty_receives":2,"visibility_timeout":"5s","receivers":1},
    "mapper":)",
             mapper, R"(,"sink":)", table, R"(,"checkpoint":{"type":"file","dir":")", dir.path(),
             R"(/state"}})"));
  testing::WriteFile(dir.File("api.json"), Job(api, dir.path(), table));

  // Before: the API knows the whole day; the table holds nothing.
  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("api.json"), "--bucket", "6h"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("240 vendor records and 0 in the destination"));
  // 1. Drain the queue.
  r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("queue.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("api.json"), "--bucket", "6h"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T12:00:00Z           60           40      -20  SHORT"));
  EXPECT_THAT(r.out, HasSubstr("2026-11-01T18:00:00Z           60           60       +0  ok"));
  // 2. The rest from the API, skipping what the queue delivered.
  r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("api.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = testing::RunCli(RECOVERY_CLI, {"status", dir.File("api.json")});
  EXPECT_THAT(r.out, HasSubstr("total: 140 records delivered"));
  EXPECT_THAT(r.out, HasSubstr("already present: 100 records the sink already held"));
  r = testing::RunCli(RECOVERY_CLI,
                      {"reconcile", dir.File("api.json"), "--bucket", "21600"});  // 6h, in seconds
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::printf("%s", r.out.c_str());  // the closing proof, as an operator sees it
  EXPECT_THAT(r.out, HasSubstr("240 vendor records and 240 in the destination"));
  EXPECT_EQ(pg.Query("SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM payments"),
            std::vector<std::string>{"240 240"});
}

TEST(ReconcileTest, BadInputIsNamedAndAnApiThatUnderstatesItsTotalsIsShown) {
  testing::SimulatedApiOptions o = ApiOptions();
  o.total_understated = 7;
  testing::SimulatedApi api(o);
  TempDir dir;
  testing::WriteFile(dir.File("out.jsonl"), LiveFeed(api));
  const std::string envelope = StrCat(R"({"type":"jsonl_file","path":")", dir.File("out.jsonl"),
                                      R"(","format":"envelope","append":true})");
  testing::WriteFile(dir.File("job.json"), Job(api, dir.path(), envelope));

  testing::CliResult r =
      testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json"), "--bucket", "1.5s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bucket: expected a whole number of seconds"));

  // Paged counts stand; the totals that disagree are shown, bucket by bucket.
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json"), "--bucket", "6h"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("note: bucket 2026-11-01T00:00:00Z: the source reported 593 records but paged 600"));
  // Trusting them instead undercounts the vendor, and says it did.
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("job.json"), "--bucket", "6h", "--trust-total"});
  EXPECT_THAT(r.out,
              HasSubstr("2026-11-01T00:00:00Z          593          500      -93  SHORT    reported total"));

  // A sink that cannot count (payload lines carry no event time).
  std::string payload =
      Job(api, dir.path(), StrCat(R"({"type":"jsonl_file","path":")", dir.File("p.jsonl"), R"("})"));
  payload.replace(payload.find(R"("skip_already_present":true,)"), 28, "");
  testing::WriteFile(dir.File("payload.json"), payload);
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("payload.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err,
      HasSubstr("reconcile: the jsonl_file sink cannot count its records by event time; a jsonl_file (in its "
                "envelope format) or postgres (with a $event_time column) sink can"));

  // A window where the vendor holds nothing: nothing is short.
  testing::WriteFile(
      dir.File("empty.json"),
      Job(api, dir.path(), envelope, R"({"start":"2026-11-05T00:00:00Z","end":"2026-11-05T06:00:00Z"})"));
  r = testing::RunCli(RECOVERY_CLI, {"reconcile", dir.File("empty.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("the vendor holds no records in the window"));
  EXPECT_THAT(r.out, HasSubstr("destination COMPLETE"));
}

TEST(ReconcileTest, APlanForNoShortBucketIsRefusedAndWindowOnlyIsChecked) {
  ReconcileReport complete;
  complete.buckets.push_back({T("2026-11-01T00:00:00Z"), T("2026-11-01T01:00:00Z"), 10, "paged", -1, 0, 10});
  EXPECT_EQ(PlanForShortBuckets(R"({"name":"x"})", complete).status().code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<JobSpec> bad = JobSpec::Parse(
      R"({"name":"x","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z",
          "only":[{"start":"2026-11-01T05:00:00Z","end":"2026-11-01T04:00:00Z"},
                  {"start":"2026-10-31T00:00:00Z","end":"2026-11-01T01:00:00Z"}]},
          "source":{"type":"jsonl_file","path":"in.jsonl"},"sink":{"type":"null"}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("window.only[0].end: must be after its start"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("window.only[1]: must lie inside the window"));
}

}  // namespace
}  // namespace recovery
