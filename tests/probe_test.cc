// `recovery probe` against APIs built to break one assumption each (the
// window filter ignored, records unsorted, the page size capped, paging that
// stops early, a total that lies, pages that overlap, times nobody can read)
// and a PostgreSQL table that does not fit the mapping: each is named broken
// with its evidence, a well-behaved API is ok throughout, and the probe
// writes nothing (a read-only role, a read-only checkpoint directory).
#include "recovery/probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

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
using testing::T;
using testing::TempDir;

testing::SimulatedApiOptions ApiOptions() {
  testing::SimulatedApiOptions o;
  o.start = T("2026-11-01T00:00:00Z");
  o.end = T("2026-11-03T00:00:00Z");
  o.records = 4800;  // 100 an hour
  o.small_records = true;
  return o;
}

struct JobOptions {
  std::string style = "page";
  std::string pagination = R"({"type":"page"})";
  std::string extra_source;  // more keys of the source section, each followed by a comma
  std::string sink = R"({"type":"jsonl_file","path":"out.jsonl"})";
  std::string extra;  // more top-level keys, each followed by a comma
};

std::string Job(const testing::SimulatedApi& api, const JobOptions& o) {
  return StrCat(R"({"name":"probe","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-03T00:00:00Z"},
    "shard_duration":"6h",)",
                o.extra, R"("source":{"type":"http","url":")", api.base_url(), "/v1/", o.style, R"(",
      "query":{"from":"{start}","to":"{end}","page":"{page}","cursor":"{cursor}","limit":"{limit}"},)",
                o.extra_source, R"("records":"/data","page_size":50,"pagination":)", o.pagination, R"(},
    "mapper":{"type":"json","fields":[{"name":"transaction_id","from":"/id","required":true},
      {"name":"amount","from":"/amount/value","type":"decimal"},{"name":"status","from":"/status"}],
      "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":)",
                o.sink, "}");
}

absl::StatusOr<ProbeReport> RunProbe(const std::string& job, const std::string& dir, int pages = 5) {
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  if (!spec.ok()) return spec.status();
  spec->base_dir = dir;
  ProbeOptions options;
  options.pages = pages;
  return Probe(*spec, Components(), options);
}

const ProbeCheck& Find(const ProbeReport& r, const std::string& id) {
  for (const ProbeCheck& c : r.checks) {
    if (c.id == id) return c;
  }
  static const ProbeCheck none;
  ADD_FAILURE() << "no check " << id;
  return none;
}

std::string Describe(const ProbeCheck& c) {
  std::string out = StrCat(c.id, ": ", VerdictName(c.verdict), ": ", c.finding);
  for (const std::string& e : c.evidence) StrAppend(&out, "\n  - ", e);
  if (!c.fix.empty()) StrAppend(&out, "\n  fix: ", c.fix);
  return out;
}

// The verdict of every check but `except`, which is not broken.
void ExpectNothingElseBroken(const ProbeReport& r, const std::string& except) {
  for (const ProbeCheck& c : r.checks) {
    if (c.id != except) EXPECT_NE(c.verdict, Verdict::kBroken) << Describe(c);
  }
}

TEST(ProbeTest, AWellBehavedApiIsOkOnEveryCheckItCanMake) {
  testing::SimulatedApi api(ApiOptions());
  TempDir dir;
  JobOptions o;
  o.extra_source = R"("sorted_by":{"from":"/created_at"},"total":{"from":"/total"},)";
  absl::StatusOr<ProbeReport> r = RunProbe(Job(api, o), dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  for (const std::string id :
       {"window_filter", "order", "page_size", "last_page", "total", "keys", "mapping"}) {
    EXPECT_EQ(Find(*r, id).verdict, Verdict::kOk) << Describe(Find(*r, id));
  }
  EXPECT_EQ(Find(*r, "destination").verdict, Verdict::kNotChecked);  // a JSON-lines file cannot say
  EXPECT_EQ(Find(*r, "pace").verdict, Verdict::kOk) << Describe(Find(*r, "pace"));
  EXPECT_EQ(r->exit_code(), 0);
  EXPECT_LE(r->requests, 100);
  // 8 shards: first, last and 6 spread; each with its sub-window.
  EXPECT_EQ(r->samples.size(), 16u);
  EXPECT_EQ(r->estimated_records, 4800) << ProbeReportText(*r);
  EXPECT_NE(access(dir.File("out.jsonl").c_str(), F_OK), 0);  // the sink was never opened
}

struct Misbehaviour {
  std::string name;
  std::function<void(testing::SimulatedApiOptions*, JobOptions*)> set;
  std::string check;                        // the id that must be broken
  std::string evidence;                     // in its finding or evidence
  std::vector<testing::Fault> script = {};  // faults for the API's first requests
};

class ProbeMisbehaviourTest : public ::testing::TestWithParam<Misbehaviour> {};

TEST_P(ProbeMisbehaviourTest, IsNamedBrokenWithItsEvidence) {
  const Misbehaviour& m = GetParam();
  testing::SimulatedApiOptions api_options = ApiOptions();
  JobOptions o;
  m.set(&api_options, &o);
  testing::SimulatedApi api(api_options);
  api.Script(m.script);
  TempDir dir;
  absl::StatusOr<ProbeReport> r = RunProbe(Job(api, o), dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  const ProbeCheck& c = Find(*r, m.check);
  EXPECT_EQ(c.verdict, Verdict::kBroken) << ProbeReportText(*r);
  std::string said = c.finding;
  for (const std::string& e : c.evidence) StrAppend(&said, "\n", e);
  EXPECT_THAT(said, HasSubstr(m.evidence)) << Describe(c);
  EXPECT_FALSE(c.fix.empty()) << Describe(c);
  EXPECT_EQ(r->exit_code(), 1);
  EXPECT_LE(r->requests, 100);
}

INSTANTIATE_TEST_SUITE_P(
    EachAssumption, ProbeMisbehaviourTest,
    ::testing::Values(
        Misbehaviour{"IgnoresTheWindowFilter",
                     [](testing::SimulatedApiOptions* a, JobOptions*) { a->ignore_window = true; },
                     "window_filter", "came back outside the window asked for"},
        Misbehaviour{"IgnoresTheWindowsEnd",
                     [](testing::SimulatedApiOptions* a, JobOptions*) { a->ignore_to = true; },
                     "window_filter", "after its end"},
        Misbehaviour{"IsNotSortedAsSortedBySays",
                     [](testing::SimulatedApiOptions* a, JobOptions* o) {
                       a->unsorted = true;
                       a->same_time_group = 1;
                       o->extra_source = R"("sorted_by":{"from":"/created_at"},)";
                     },
                     "order", "came earlier than the one before them by sorted_by /created_at"},
        Misbehaviour{"CapsThePageSizeThatShortPageEndsTrusts",
                     [](testing::SimulatedApiOptions* a, JobOptions* o) {
                       a->max_page_size = 20;
                       o->pagination = R"({"type":"page","short_page_ends":true})";
                     },
                     "page_size", "pages of 20 records when asked for 50"},
        Misbehaviour{"StopsPagingEarly",
                     [](testing::SimulatedApiOptions* a, JobOptions* o) {
                       a->stop_after_pages = 3;
                       o->style = "cursor";
                       o->pagination = R"({"type":"cursor","from":"/next_cursor"})";
                     },
                     "last_page", "alone holds"},
        Misbehaviour{"LiesAboutTheTotal",
                     [](testing::SimulatedApiOptions* a, JobOptions* o) {
                       a->total_understated = 7;
                       o->extra_source = R"("total":{"header":"X-Total-Count"},)";
                     },
                     "total", "reported 68, paging returned 75"},
        Misbehaviour{"RepeatsKeysAcrossPages",
                     [](testing::SimulatedApiOptions* a, JobOptions*) { a->repeat_last = true; }, "keys",
                     "came back twice"},
        Misbehaviour{"AnswersWhatIsNoJson",
                     [](testing::SimulatedApiOptions*, JobOptions* o) {
                       o->extra = R"("retry":{"max_attempts":2,"initial_backoff":"1ms"},)";
                     },
                     "answers",
                     "after 0 pages: fetch page: gave up after 2 attempts",
                     {{testing::Fault::kInvalidJson}, {testing::Fault::kInvalidJson}}},
        Misbehaviour{"HasTimesNobodyCanRead",
                     [](testing::SimulatedApiOptions* a, JobOptions*) { a->bad_time_every = 40; }, "mapping",
                     "event_time (/created_at)"}),
    [](const ::testing::TestParamInfo<Misbehaviour>& info) { return info.param.name; });

// The JSON report is the one the CLI prints and saves, with its exit code.
TEST(ProbeTest, TheCommandPrintsAndSavesTheReportAndExitsByTheWorstVerdict) {
  testing::SimulatedApiOptions a = ApiOptions();
  a.total_understated = 7;
  testing::SimulatedApi api(a);
  TempDir dir;
  JobOptions o;
  o.extra_source = R"("total":{"header":"X-Total-Count"},)";
  testing::WriteFile(dir.File("job.json"), Job(api, o));
  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"probe", dir.File("job.json"), "--json", "--save",
                                                        dir.File("probe.json"), "--samples", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string(doc["verdict"].get_string().value()), "broken");
  EXPECT_EQ(doc["samples"].get_array().size(), 8u);  // 4 shards and their sub-windows
  bool total_broken = false;
  for (simdjson::dom::element c : doc["checks"].get_array()) {
    if (std::string(c["id"].get_string().value()) == "total")
      total_broken = std::string(c["verdict"].get_string().value()) == "broken";
  }
  EXPECT_TRUE(total_broken) << r.out;
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.File("probe.json")), r.out);
  EXPECT_THAT(r.err, HasSubstr("probe: sample 1/4"));

  r = testing::RunCli(RECOVERY_CLI, {"probe", dir.File("job.json"), "--pages", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--pages: expected a whole number from 1 to 1000, got \"0\""));
  testing::WriteFile(
      dir.File("down.json"),
      StrCat(R"({"name":"down","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "retry":{"max_attempts":2,"initial_backoff":"1ms"},
      "source":{"type":"http","url":"http://127.0.0.1:)",
             testing::FreeLoopbackPort(), R"(/v1/page","records":"/data","pagination":{"type":"page"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]}})"));
  r = testing::RunCli(RECOVERY_CLI, {"probe", dir.File("down.json"), "--quiet"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("probe: the first sample"));
}

// A budget too small for every sample: the samples it read give verdicts,
// the report says it was cut short, and no more requests were made.
TEST(ProbeTest, ABudgetCutShortIsSaidAndNeverExceeded) {
  testing::SimulatedApi api(ApiOptions());
  TempDir dir;
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(Job(api, JobOptions()));
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->base_dir = dir.path();
  ProbeOptions options;
  options.max_requests = 7;
  absl::StatusOr<ProbeReport> r = Probe(*spec, Components(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->cut_short);
  EXPECT_LE(r->requests, 7);
  EXPECT_LE(api.requests().size(), 7u);
  EXPECT_THAT(ProbeReportText(*r), HasSubstr("raise --max-requests"));
}

// A queue is never received from (a receive changes it): the probe reads
// its attributes, and says when the window is older than what it keeps.
TEST(ProbeTest, AQueueIsDescribedNotReceivedFrom) {
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  setenv("AWS_REGION", "us-east-1", 1);
  testing::MotoServer moto;
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  testing::SqsAdmin admin(moto.endpoint());
  absl::StatusOr<std::string> url = admin.CreateQueue("feed", {{"MessageRetentionPeriod", "86400"}});
  ASSERT_TRUE(url.ok()) << url.status();
  ASSERT_TRUE(admin.Send(*url, {R"({"id":"a"})", R"({"id":"b"})", R"({"id":"c"})"}).ok());
  auto job = [&](absl::Duration age) {
    const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    return StrCat(R"({"name":"q","window":{"start":")", FormatRfc3339(now - age), R"(","end":")",
                  FormatRfc3339(now + absl::Hours(1)), R"("},
      "source":{"type":"sqs","queue_url":")",
                  *url, R"(","endpoint":")", moto.endpoint(), R"("},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"}},
      "sink":{"type":"jsonl_file","path":"out.jsonl"}})");
  };
  TempDir dir;
  absl::StatusOr<ProbeReport> r = RunProbe(job(absl::Hours(72)), dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  const ProbeCheck& queue = Find(*r, "queue");
  EXPECT_EQ(queue.verdict, Verdict::kBroken) << Describe(queue);
  EXPECT_THAT(queue.finding, HasSubstr("but the queue keeps messages only since"));
  EXPECT_THAT(queue.evidence, ::testing::Contains(HasSubstr("3 messages visible, 0 in flight")));
  EXPECT_EQ(Find(*r, "order").verdict, Verdict::kNotChecked);

  r = RunProbe(job(absl::Hours(2)), dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Find(*r, "queue").verdict, Verdict::kOk) << Describe(Find(*r, "queue"));
  EXPECT_EQ(r->exit_code(), 0);
  absl::StatusOr<std::map<std::string, int64_t>> counts = admin.Counts(*url);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((*counts)["ApproximateNumberOfMessages"], 3);  // none received, none hidden
  EXPECT_EQ((*counts)["ApproximateNumberOfMessagesNotVisible"], 0);
}

#if RECOVERY_WITH_POSTGRES
// The destination: a table whose columns do not take the mapped values, and
// one that does (with some of the window already there); the probe runs as
// a role that may only read, with a checkpoint directory it cannot write,
// and leaves both as they were.
TEST(ProbeTest, TheDestinationIsCheckedReadOnly) {
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  testing::PostgresServer& pg = **server;
  testing::SimulatedApi api(ApiOptions());
  ASSERT_TRUE(
      pg.Exec("CREATE TABLE fits (transaction_id text PRIMARY KEY, amount numeric(12,2), status text, "
              "occurred_at timestamptz NOT NULL)")
          .ok());
  ASSERT_TRUE(pg.Exec("CREATE TABLE misfit (transaction_id text PRIMARY KEY, amount integer, status text, "
                      "note text NOT NULL)")
                  .ok());
  std::string live =
      "INSERT INTO fits SELECT 'txn-' || lpad(i::text, 8, '0'), 1, 'live', now() FROM "
      "generate_series(0, 99) AS i";
  ASSERT_TRUE(pg.Exec(live).ok());
  ASSERT_TRUE(pg.Exec("CREATE ROLE reader LOGIN; GRANT SELECT ON fits, misfit TO reader").ok());
  const std::string reader_dsn = StrCat(pg.dsn(), " user=reader");
  TempDir dir;
  ASSERT_EQ(mkdir(dir.File("state").c_str(), 0555), 0);
  auto job = [&](const std::string& table, const std::string& columns) {
    JobOptions o;
    o.extra = R"("skip_already_present":true,"concurrency":2,)";
    o.sink = StrCat(R"({"type":"postgres","dsn":")", reader_dsn, R"(","table":")", table,
                    R"(","conflict_columns":["transaction_id"],"columns":)", columns, R"(})");
    std::string text = Job(api, o);
    text.pop_back();  // the checkpoints in the read-only directory, and in the database for the second run
    return StrCat(text, R"(,"checkpoint":{"type":"file","dir":"state"}})");
  };

  absl::StatusOr<ProbeReport> r = RunProbe(
      job("fits",
          R"({"transaction_id":"/transaction_id","amount":"/amount","status":"/status","occurred_at":"$event_time"})"),
      dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Find(*r, "destination").verdict, Verdict::kOk) << Describe(Find(*r, "destination"));
  const ProbeCheck& present = Find(*r, "already_present");
  EXPECT_EQ(present.verdict, Verdict::kOk) << Describe(present);
  // The first shard's first 5 pages are records 0 to 249; 0 to 99 are in the table already.
  EXPECT_THAT(present.evidence,
              ::testing::Contains(HasSubstr(": 100 of 250 already present, 150 to deliver")))
      << Describe(present);
  ExpectNothingElseBroken(*r, "");

  r = RunProbe(job("misfit", R"({"transaction_id":"/transaction_id","amount":"/amount","status":"/status",
      "note":"/note"})"),
               dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  const ProbeCheck& misfit = Find(*r, "destination");
  EXPECT_EQ(misfit.verdict, Verdict::kBroken) << Describe(misfit);
  EXPECT_THAT(
      misfit.evidence,
      ::testing::Contains(HasSubstr("column note is NOT NULL but the record has no value for it (/note)")))
      << Describe(misfit);
  ExpectNothingElseBroken(*r, "destination");

  r = RunProbe(job("misfit", R"({"transaction_id":"/transaction_id","amount":"/amount","status":"/nope"})"),
               dir.path());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Find(*r, "destination").verdict, Verdict::kBroken) << Describe(Find(*r, "destination"));
  EXPECT_THAT(Find(*r, "destination").evidence, ::testing::Contains(HasSubstr("integer")))
      << Describe(Find(*r, "destination"));

  // Nothing written: the tables as they were, no store's table created, the directory empty.
  EXPECT_EQ(pg.Query("SELECT count(*) FROM fits"), std::vector<std::string>{"100"});
  EXPECT_EQ(pg.Query("SELECT count(*) FROM misfit"), std::vector<std::string>{"0"});
  EXPECT_EQ(pg.Query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'recovery%'"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(testing::Shell(StrCat("ls -A ", dir.File("state"))), "");
}
#endif

}  // namespace
}  // namespace recovery
