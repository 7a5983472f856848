// The `recovery` binary end to end against the simulated API on loopback:
// validate, run, interrupt with SIGTERM, status, resume, reset.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "testing/cli_runner.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::Shell;

using Result = testing::CliResult;

// Runs the CLI; when `term_after_ms` >= 0 sends SIGTERM after that long,
// calling `during` halfway there.
Result Cli(std::vector<std::string> args, int term_after_ms = -1, std::function<void()> during = nullptr) {
  testing::CliOptions options;
  options.term_after_ms = term_after_ms;
  options.during = std::move(during);
  return testing::RunCli(RECOVERY_CLI, std::move(args), options);
}

TEST(CliTest, ValidateReportsEveryErrorWithItsPath) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"),
                     R"({"name":"x","window":{"start":"yesterday","end":"2026-11-16T00:00:00Z"},
    "concurency":2,"source":{"type":"http","url":"ftp://x"}})");
  Result r = Cli({"validate", dir.File("job.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("window.start: expected an RFC 3339 time"));
  EXPECT_THAT(r.out, HasSubstr("concurency: unknown key (did you mean \"concurrency\"?)"));
  EXPECT_THAT(r.out, HasSubstr("source.url: must start with http:// or https://"));
  EXPECT_THAT(r.out, HasSubstr("source.pagination: required but missing"));
  EXPECT_EQ(Cli({"run", dir.File("job.json")}).exit_code, 2);
  EXPECT_EQ(Cli({"frobnicate", dir.File("job.json")}).exit_code, 2);
  EXPECT_EQ(Cli({"run", dir.File("job.json"), "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(Cli({"--help"}).exit_code, 0);
}

TEST(CliTest, PlanShowsTheWindowWidenedByItsOverlapAndThePresenceCheck) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"),
                     R"({"name":"p","window":{"start":"2026-11-01T04:00:00Z","end":"2026-11-01T20:00:00Z",
    "overlap":"2h"},"shard_duration":"6h","skip_already_present":true,
    "source":{"type":"jsonl_file","path":"in.jsonl"},"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],
    "key":{"from":"/id"}},"sink":{"type":"jsonl_file","path":"out.jsonl","format":"envelope","append":true}})");
  Result r = Cli({"plan", dir.File("job.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("widened by an overlap of 2h on each side to 2026-11-01T02:00:00Z to "
                               "2026-11-01T22:00:00Z"));
  EXPECT_THAT(r.out, HasSubstr("skip_already_present"));
  EXPECT_THAT(r.out, HasSubstr("20261101T020000Z-20261101T080000Z"));
  EXPECT_THAT(r.out, HasSubstr("20261101T200000Z-20261101T220000Z"));
}

TEST(CliTest, RunInterruptStatusResumeAndReset) {
  testing::SimulatedApiOptions options;
  options.start = testing::T("2026-11-14T00:00:00Z");
  options.end = testing::T("2026-11-18T00:00:00Z");
  options.records = 4000;
  options.small_records = true;
  options.latency = absl::Milliseconds(30);
  options.bearer_token = "cli-secret-token";
  testing::SimulatedApi api(options);
  setenv("CLI_TEST_TOKEN", "cli-secret-token", 1);
  testing::TempDir dir;
  testing::WriteFile(
      dir.File("job.json"),
      StrCat(R"({"name":"cli","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-18T00:00:00Z"},
    "shard_duration":"1d","concurrency":2,
    "source":{"type":"http","url":")",
             api.base_url(), R"(/v1/offset",
      "query":{"from":"{start}","to":"{end}","offset":"{offset}","limit":"{limit}"},
      "auth":{"type":"bearer","token_env":"CLI_TEST_TOKEN"},"records":"/data","page_size":50,
      "pagination":{"type":"offset"}},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":{"type":"jsonl_file","path":"out.jsonl"},
    "checkpoint":{"type":"file","dir":"state"}})"));
  const std::string job = dir.File("job.json");
  EXPECT_EQ(Cli({"validate", job}).exit_code, 0);

  const int port = testing::FreeLoopbackPort();
  std::string scraped, ready, status_doc, unknown;
  // Scraped once the run has committed a page (a slow machine may take
  // longer than any fixed delay to start the listener, and an answer from
  // the API comes before its page's commit), then stopped 300 ms later: the
  // API's 30 ms per answer leaves the run more than a second of work at that
  // point, however fast the machine.
  Result interrupted =
      Cli({"run", job, "--log-format", "json", "--log-level", "info", "--metrics-listen",
           StrCat("127.0.0.1:", port)},
          600, [&] {
            const absl::Time give_up = absl::Now() + absl::Seconds(60);
            while ((scraped.find("class=\"2xx\"") == std::string::npos ||
                    scraped.find("# TYPE recovery_pages_total counter") == std::string::npos) &&
                   absl::Now() < give_up) {
              absl::SleepFor(absl::Milliseconds(20));
              scraped = Shell(StrCat("curl -s http://127.0.0.1:", port, "/metrics"));
            }
            // The run committed a page: it is ready, and its status is live.
            ready = Shell(StrCat("curl -s -w ' %{http_code}' http://127.0.0.1:", port, "/ready"));
            status_doc = Shell(StrCat("curl -s http://127.0.0.1:", port, "/status?pretty=no"));
            unknown = Shell(StrCat("curl -s -w ' %{http_code}' http://127.0.0.1:", port, "/nope"));
          });
  EXPECT_EQ(ready, "ready\n 200");
  EXPECT_THAT(status_doc, HasSubstr("{\"job\":\"cli\""));
  EXPECT_THAT(status_doc, HasSubstr("\"id\":\"20261114T000000Z-20261115T000000Z\""));
  EXPECT_EQ(unknown, "not found: try /metrics, /ready, /status\n 404");
  EXPECT_THAT(scraped, HasSubstr("# TYPE recovery_pages_total counter"));
  EXPECT_THAT(scraped, HasSubstr("recovery_request_duration_seconds_bucket{job=\"cli\",le=\"+Inf\"}"));
  EXPECT_THAT(scraped, HasSubstr("recovery_http_responses_total{job=\"cli\",class=\"2xx\"}"));
  EXPECT_EQ(interrupted.exit_code, 3) << interrupted.err;
  EXPECT_THAT(interrupted.err, HasSubstr("stopping after the current batch commits"));
  EXPECT_THAT(interrupted.err, HasSubstr("resume with: recovery run " + job));
  EXPECT_THAT(interrupted.err, HasSubstr("\"message\":\"page committed\""));
  EXPECT_EQ(interrupted.err.find("cli-secret-token"), std::string::npos);

  Result status = Cli({"status", job});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, HasSubstr("to resume: recovery run " + job));
  EXPECT_THAT(status.out, HasSubstr("20261114T000000Z-20261115T000000Z"));

  Result resumed = Cli({"run", job, "--quiet", "--metrics-file", dir.File("recovery.prom")});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  const std::string metrics = testing::ReadFileOrEmpty(dir.File("recovery.prom"));
  EXPECT_THAT(metrics, HasSubstr("recovery_window_coverage_ratio{job=\"cli\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("recovery_shards{job=\"cli\",state=\"done\"} 4"));
  // Prometheus' own parser accepts the exposition.
  EXPECT_EQ(
      system(StrCat("promtool check metrics < ", dir.File("recovery.prom"), " > /dev/null 2>&1").c_str()), 0)
      << "promtool (Debian package prometheus) rejected the metrics or is missing:\n"
      << metrics;
  std::set<std::string> keys;
  size_t lines = 0;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(dir.File("out.jsonl"))) {
    ++lines;
    keys.insert(std::string(parser.parse(line)["id"].get_string().value()));
  }
  EXPECT_EQ(lines, 4000u);
  EXPECT_EQ(keys.size(), 4000u);
  Result done = Cli({"status", job});
  EXPECT_THAT(done.out, HasSubstr("4 of 4 shards done"));
  EXPECT_EQ(done.out.find("to resume"), std::string::npos);

  EXPECT_EQ(Cli({"reset", job}).exit_code, 2);  // no terminal, no --yes: refused
  EXPECT_EQ(Cli({"reset", job, "--shard", "nope", "--yes"}).exit_code, 2);
  EXPECT_EQ(Cli({"reset", job, "--shard", "20261115T000000Z-20261116T000000Z", "--yes"}).exit_code, 0);
  Result plan = Cli({"plan", job});
  EXPECT_THAT(plan.out,
              ::testing::ContainsRegex(
                  "20261115T000000Z-20261116T000000Z +2026-11-15T00:00:00Z +2026-11-16T00:00:00Z +pending"));
}

// `records` small records of the simulated API from 2026-11-14 for `days` days.
testing::SimulatedApiOptions SmallRecords(int64_t records, int days) {
  testing::SimulatedApiOptions options;
  options.start = testing::T("2026-11-14T00:00:00Z");
  options.end = options.start + absl::Hours(24 * days);
  options.records = records;
  options.small_records = true;
  return options;
}

// A job named `name` over the same days, read through the API's offset
// paging in pages of 50, with file checkpoints in `dir`/state; `top` adds
// top-level keys (each followed by a comma), `sink` is the sink section.
// Returns the job file's path.
std::string OffsetJob(const testing::TempDir& dir, const testing::SimulatedApi& api, const std::string& name,
                      int days, const std::string& top, const std::string& sink) {
  const std::string path = dir.File(name + ".json");
  testing::WriteFile(
      path, StrCat(R"({"name":")", name, R"(","window":{"start":"2026-11-14T00:00:00Z","end":")",
                   FormatRfc3339(testing::T("2026-11-14T00:00:00Z") + absl::Hours(24 * days)), R"("},)", top,
                   R"("source":{"type":"http","url":")", api.base_url(), R"(/v1/offset",
      "query":{"from":"{start}","to":"{end}","offset":"{offset}","limit":"{limit}"},
      "records":"/data","page_size":50,"pagination":{"type":"offset"}},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":)",
                   sink, R"(,"checkpoint":{"type":"file","dir":"state"}})"));
  return path;
}

// A canary: `run --limit N` delivers exactly N records (a page cut where the
// limit falls), stops resumably, and the next run goes on from the record
// after the last one delivered: through the file checkpoints, with bad
// records dead-lettered once each, every record delivered once, none flagged.
TEST(CliTest, ACanaryDeliversExactlyItsLimitAndTheNextRunGoesOnFromThere) {
  testing::SimulatedApiOptions options = SmallRecords(1000, 2);
  options.bad_time_every = 40;
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  const std::string job = OffsetJob(
      dir, api, "canary", 2, R"("shard_duration":"1d","concurrency":2,"error_budget":{"max_fraction":1},)",
      R"({"type":"jsonl_file","path":"out.jsonl","format":"envelope"})");
  auto lines = [&] { return testing::ReadLines(dir.File("out.jsonl")); };

  Result canary = Cli({"run", job, "--quiet", "--limit", "37"});
  EXPECT_EQ(canary.exit_code, 3) << canary.err;
  EXPECT_EQ(lines().size(), 37u);
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("to resume: recovery run " + job));
  Result bad = Cli({"run", job, "--limit", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--limit: expected a whole number of records from 1, got \"0\""));
  Result more = Cli({"run", job, "--quiet", "--limit", "100"});
  EXPECT_EQ(more.exit_code, 3) << more.err;
  EXPECT_EQ(lines().size(), 137u);
  Result rest = Cli({"run", job, "--quiet"});
  EXPECT_EQ(rest.exit_code, 0) << rest.err;

  std::multiset<std::string> keys;
  simdjson::dom::parser parser;
  for (const std::string& line : lines()) {
    simdjson::dom::element e = parser.parse(line);
    keys.insert(std::string(e["key"].get_string().value()));
    EXPECT_FALSE(e["maybe_redelivered"].get_bool().value()) << line;
  }
  const std::vector<std::string> bad_ids = api.BadIds();
  EXPECT_EQ(keys.size(), 1000u - bad_ids.size());
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());  // none twice
  const std::vector<std::string> letter_lines =
      testing::ReadLines(dir.File("state/canary/dead_letters.jsonl"));
  EXPECT_EQ(letter_lines.size(), bad_ids.size());
  std::set<std::string> letters;  // shard, cursor and index of each
  for (const std::string& line : letter_lines) {
    simdjson::dom::element e = parser.parse(line);
    letters.insert(StrCat(e["shard"].get_string().value(), " ", e["cursor"].get_string().value(), " ",
                          e["index"].get_uint64().value()));
  }
  EXPECT_EQ(letters.size(), bad_ids.size());
}

// `state set` moves a shard to a position the operator names and the next
// run starts exactly there; `state skip` marks a shard done unread; both keep
// an audit line that status shows, and neither is allowed while the job runs.
TEST(CliTest, StateSetMovesAShardAndTheNextRunStartsExactlyThere) {
  testing::SimulatedApiOptions options = SmallRecords(8000, 2);  // 4 s of paging a shard: the edit is
  options.latency = absl::Milliseconds(50);                      // tried well before the run could end
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  const std::string job = OffsetJob(dir, api, "edits", 2, R"("shard_duration":"1d","concurrency":2,)",
                                    R"({"type":"jsonl_file","path":"out.jsonl"})");
  const std::string day1 = "20261114T000000Z-20261115T000000Z", day2 = "20261115T000000Z-20261116T000000Z";

  Result bad = Cli({"state", "set", job, "--shard", day1, "--position", "abc", "--reason", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err,
              HasSubstr("a position of pagination type \"offset\" is a whole number from 0, got \"abc\""));
  EXPECT_EQ(Cli({"state", "set", job, "--shard", day1, "--position", "5"}).exit_code, 2);  // no reason
  Result unknown = Cli({"state", "skip", job, "--shard", "nope", "--reason", "x"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("no shard \"nope\" in the plan"));

  // While a run holds the job, an edit is refused and changes nothing.
  Result refused;
  Result running = testing::RunCli(RECOVERY_CLI, {"run", job, "--quiet"}, [&] {
    testing::CliOptions o;
    o.term_after_ms = 100;
    o.during = [&] {
      const absl::Time give_up = absl::Now() + absl::Seconds(60);
      while (testing::ReadLines(dir.File("out.jsonl")).empty() && absl::Now() < give_up)
        absl::SleepFor(absl::Milliseconds(20));
      refused = Cli({"state", "skip", job, "--shard", day2, "--reason", "while running"});
    };
    return o;
  }());
  EXPECT_EQ(running.exit_code, 3) << running.err;
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("job \"edits\" is already running"));
  ASSERT_EQ(Cli({"reset", job, "--yes"}).exit_code, 0);
  ASSERT_EQ(unlink(dir.File("out.jsonl").c_str()), 0);

  Result set = Cli({"state", "set", job, "--shard", day1, "--position", "120", "--reason",
                    "the vendor re-sent the first 120 orders"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, HasSubstr("\"action\":\"set\""));
  EXPECT_THAT(set.out, HasSubstr("\"to\":{\"cursor\":\"120\",\"state\":\"running\"}"));
  ASSERT_EQ(Cli({"state", "skip", job, "--shard", day2, "--reason", "replayed by the vendor"}).exit_code, 0);
  Result status = Cli({"status", job});
  EXPECT_THAT(status.out, ::testing::ContainsRegex("edited: shard " + day1 +
                                                   ": set by .*@.* at .*: from pending \"\" to running "
                                                   "\"120\": the vendor re-sent the first 120 orders"));
  EXPECT_THAT(status.out, HasSubstr("edited: shard " + day2 + ": skip by "));
  EXPECT_THAT(Cli({"status", job, "--json"}).out, HasSubstr("\"reason\":\"replayed by the vendor\""));
  ASSERT_EQ(Cli({"report", job, "-o", dir.File("report.html")}).exit_code, 0);
  const std::string report = testing::ReadFileOrEmpty(dir.File("report.html"));
  EXPECT_THAT(report, HasSubstr("<section id=\"edits\" data-edits=\"2\">"));
  EXPECT_THAT(report, HasSubstr("<td>the vendor re-sent the first 120 orders</td>"));

  Result run = Cli({"run", job, "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> expected =
      api.Ids(testing::T("2026-11-14T00:00:00Z"), testing::T("2026-11-15T00:00:00Z"));
  expected.erase(expected.begin(), expected.begin() + 120);
  std::vector<std::string> got;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(dir.File("out.jsonl")))
    got.push_back(std::string(parser.parse(line)["id"].get_string().value()));
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got, expected);  // day 1 from its 121st record, day 2 not at all
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("2 of 2 shards done"));
}

// Retention: `purge --dead-letters` rewrites each letter in place without its
// raw record (the file keeps its length and every later letter its offset),
// status counts them, a replay finds nothing to deliver, and --older-than
// spares what is younger; `keep_raw: false` never writes the raw record.
TEST(CliTest, PurgeRemovesTheRawRecordsOfDeadLettersAndKeepRawFalseNeverWritesThem) {
  testing::SimulatedApiOptions options = SmallRecords(400, 1);
  options.bad_time_every = 40;
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  auto job = [&](const std::string& name, const std::string& extra) {
    return OffsetJob(dir, api, name, 1,
                     StrCat(R"("shard_duration":"6h","error_budget":{"max_fraction":1},)", extra),
                     StrCat(R"({"type":"jsonl_file","path":")", name, R"(.jsonl"})"));
  };
  const std::string kept = job("kept", "");
  ASSERT_EQ(Cli({"run", kept, "--quiet"}).exit_code, 0);
  const std::string letters = dir.File("state/kept/dead_letters.jsonl");
  const std::string before = testing::ReadFileOrEmpty(letters);
  ASSERT_EQ(testing::ReadLines(letters).size(), 10u);
  EXPECT_THAT(before, HasSubstr("\"raw\":"));

  EXPECT_EQ(Cli({"purge", kept, "--dead-letters"}).exit_code, 2);  // no --yes
  Result young = Cli({"purge", kept, "--dead-letters", "--older-than", "30d", "--yes"});
  EXPECT_EQ(young.exit_code, 0) << young.err;
  EXPECT_EQ(young.out, "purged the raw records of 0 dead letters\n");
  EXPECT_EQ(testing::ReadFileOrEmpty(letters), before);
  Result purge = Cli({"purge", kept, "--dead-letters", "--yes"});
  EXPECT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_EQ(purge.out, "purged the raw records of 10 dead letters\n");
  const std::string after = testing::ReadFileOrEmpty(letters);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_EQ(after.find("\"raw\":"), std::string::npos);
  EXPECT_THAT(before, HasSubstr(R"(\"id\")"));            // a raw record's field, escaped in the letter
  EXPECT_EQ(after.find(R"(\"id\")"), std::string::npos);  // the raw records' bytes are gone
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(letters)) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
    EXPECT_FALSE(std::string_view(e["reason"].get_string().value()).empty()) << line;
    EXPECT_EQ(e["purged"].error(), simdjson::SUCCESS) << line;
  }
  EXPECT_THAT(Cli({"status", kept}).out, HasSubstr("purged: 10 dead letters had their raw records removed"));
  Result replay = Cli({"replay", kept, "--quiet"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(testing::ReadLines(dir.File("kept.jsonl")).size(), 390u);  // nothing more delivered
  EXPECT_EQ(Cli({"purge", kept, "--state", "--yes"}).exit_code, 0);
  EXPECT_THAT(Cli({"status", kept}).out, HasSubstr("0 of 4 shards done"));

  const std::string lean =
      job("lean", R"("dead_letters":{"type":"file","path":"lean-letters.jsonl","keep_raw":false},)");
  ASSERT_EQ(Cli({"run", lean, "--quiet"}).exit_code, 0);
  const std::vector<std::string> lines = testing::ReadLines(dir.File("lean-letters.jsonl"));
  ASSERT_EQ(lines.size(), 10u);
  for (const std::string& line : lines) {
    EXPECT_THAT(line, HasSubstr("\"raw_kept\":false")) << line;
    EXPECT_THAT(line, ::testing::Not(HasSubstr(R"(\"id\")"))) << line;
  }
}

// /ready says 503 until the run has opened its sink (here a PostgreSQL
// server that never answers), while /status already reads the checkpoints.
TEST(CliTest, ReadyIsSaidOnlyOnceTheSinkIsOpen) {
  const int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(silent, 8), 0);  // connections wait in its backlog: never accepted, never answered
  socklen_t len = sizeof addr;
  getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len);
  testing::TempDir dir;
  testing::WriteFile(
      dir.File("export.jsonl"),
      testing::TransactionExport(10, testing::T("2026-11-14T00:00:00Z"), testing::T("2026-11-15T00:00:00Z")));
  testing::WriteFile(dir.File("job.json"), StrCat(R"({"name":"ready",
    "window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"jsonl_file","path":"export.jsonl"},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"}},
    "sink":{"type":"postgres","dsn":"host=127.0.0.1 port=)",
                                                  ntohs(addr.sin_port), R"( dbname=x user=x","table":"t",
      "columns":{"id":"$key"},"connect_timeout":"30s"},
    "checkpoint":{"type":"file","dir":"state"}})"));
  const int port = testing::FreeLoopbackPort();
  std::string ready, status_doc;
  Result r =
      Cli({"run", dir.File("job.json"), "--quiet", "--metrics-listen", StrCat("127.0.0.1:", port)}, 0, [&] {
        const absl::Time give_up = absl::Now() + absl::Seconds(60);
        while (ready.find("503") == std::string::npos && absl::Now() < give_up) {
          absl::SleepFor(absl::Milliseconds(20));
          ready = Shell(StrCat("curl -s -w ' %{http_code}' http://127.0.0.1:", port, "/ready"));
        }
        status_doc = Shell(StrCat("curl -s http://127.0.0.1:", port, "/status"));
        close(silent);  // resets the waiting connection: the run ends at once
      });
  EXPECT_EQ(ready, "not ready\n 503");
  EXPECT_THAT(status_doc, HasSubstr("{\"job\":\"ready\""));
  EXPECT_THAT(status_doc, HasSubstr("\"state\":\"pending\""));
  EXPECT_NE(r.exit_code, 0);
}

// plan, status, verify and reset read the spec and the checkpoints: no secret,
// no AWS credentials or region, no request.
TEST(CliTest, ReadingStateNeedsNoSecrets) {
  testing::SimulatedApiOptions options;
  options.start = testing::T("2026-11-14T00:00:00Z");
  options.end = testing::T("2026-11-15T00:00:00Z");
  options.records = 300;
  options.small_records = true;
  options.bearer_token = "state-secret-token";
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  testing::WriteFile(
      dir.File("job.json"),
      StrCat(R"({"name":"state","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "shard_duration":"6h","source":{"type":"http","url":")",
             api.base_url(), R"(/v1/offset",
      "query":{"from":"{start}","to":"{end}","offset":"{offset}","limit":"{limit}"},
      "auth":{"type":"bearer","token_env":"STATE_TEST_TOKEN"},"records":"/data","page_size":50,
      "pagination":{"type":"offset"}},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":{"type":"jsonl_file","path":"out.jsonl"},"checkpoint":{"type":"file","dir":"state"}})"));
  testing::WriteFile(
      dir.File("queue.json"),
      R"({"name":"queue","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"sqs","queue_name":"feed","credentials":{"access_key_id_env":"STATE_TEST_KEY",
              "secret_access_key_env":"STATE_TEST_SECRET"}},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]},
    "sink":{"type":"null"},"checkpoint":{"type":"file","dir":"state"}})");
  const std::string job = dir.File("job.json");
  setenv("STATE_TEST_TOKEN", "state-secret-token", 1);
  ASSERT_EQ(Cli({"run", job, "--quiet"}).exit_code, 0);
  unsetenv("STATE_TEST_TOKEN");
  Result validate = Cli({"validate", job});  // validate still checks the secret
  EXPECT_EQ(validate.exit_code, 2);
  EXPECT_THAT(validate.out,
              HasSubstr("source.auth.token_env: environment variable STATE_TEST_TOKEN is not set"));
  Result plan = Cli({"plan", job});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("20261114T180000Z-20261115T000000Z"));
  Result status = Cli({"status", job});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("4 of 4 shards done"));
  Result verify = Cli({"verify", job});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(Cli({"reset", job, "--shard", "20261114T000000Z-20261114T060000Z", "--yes"}).exit_code, 0);
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("3 of 4 shards done"));
  // A queue job: planned as one shard without credentials, a region or a request.
  Result queue = Cli({"status", dir.File("queue.json")}, -1);
  EXPECT_EQ(queue.exit_code, 0) << queue.out << queue.err;
  EXPECT_THAT(Cli({"plan", dir.File("queue.json")}).out, HasSubstr("20261114T000000Z-20261115T000000Z"));
}

TEST(CliTest, SlicesOfThePlanRunInSeparateProcessesAtOnce) {
  testing::TempDir dir;
  std::string data;
  for (int i = 0; i < 2000; ++i) {
    data += StrCat("{\"id\":\"r", i, "\",\"ts\":\"",
                   FormatRfc3339(testing::T("2026-11-14T00:00:00Z") + absl::Seconds(86400.0 * i / 2000)),
                   "\"}\n");
  }
  testing::WriteFile(dir.File("in.jsonl"), data);
  testing::WriteFile(
      dir.File("job.json"),
      R"({"name":"sliced","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "shard_duration":"3h","source":{"type":"jsonl_file","path":"in.jsonl","batch_size":25},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/ts"}},
    "sink":{"type":"null"},"checkpoint":{"type":"file","dir":"state"}})");
  Result a, b;
  std::thread first([&] { a = Cli({"run", dir.File("job.json"), "--shard", "1/2", "--quiet"}); });
  b = Cli({"run", dir.File("job.json"), "--shard", "2/2", "--quiet"});
  first.join();
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(b.exit_code, 0) << b.err;
  Result status = Cli({"status", dir.File("job.json")});
  EXPECT_THAT(status.out, HasSubstr("total: 2000 records delivered, 0 dead letters, 8 of 8 shards done"));
  EXPECT_EQ(Cli({"verify", dir.File("job.json")}).exit_code, 0);
}

TEST(CliTest, VerifyFlagsAHoleAndPassesCompleteCoverage) {
  testing::TempDir dir;
  std::string complete, holed;
  const absl::Time start = testing::T("2026-11-14T00:00:00Z");
  for (int i = 0; i < 24 * 12; ++i) {  // one record every 5 minutes for a day
    const absl::Time t = start + absl::Minutes(5 * i);
    const std::string line = StrCat("{\"id\":\"r", i, "\",\"ts\":\"", FormatRfc3339(t), "\"}\n");
    complete += line;
    if (t < testing::T("2026-11-14T10:00:00Z") || t >= testing::T("2026-11-14T13:00:00Z")) holed += line;
  }
  complete += R"({"id":"late","ts":"2026-11-20T00:00:00Z"})"
              "\n";  // outside the job's window
  for (const auto& [name, data] : {std::make_pair("complete", complete), std::make_pair("holed", holed)}) {
    testing::WriteFile(dir.File(StrCat(name, ".jsonl")), data);
    testing::WriteFile(dir.File(StrCat(name, ".json")),
                       StrCat(R"({"name":")", name,
                              R"(","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "shard_duration":"6h","source":{"type":"jsonl_file","path":")",
                              name, R"(.jsonl"},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/ts"}},
      "sink":{"type":"null"},"checkpoint":{"type":"file","dir":"state"}})"));
  }
  Result before = Cli({"verify", dir.File("complete.json")});
  EXPECT_EQ(before.exit_code, 1);  // nothing recovered yet
  EXPECT_THAT(before.out, HasSubstr("is pending: its window is not covered yet"));
  ASSERT_EQ(Cli({"run", dir.File("complete.json"), "--quiet"}).exit_code, 0);
  // Each of the 4 shards reads the whole file: the other shards' 216 records
  // are expected of an export and not reported; the one record outside the
  // job's window is, once per shard.
  Result status = Cli({"status", dir.File("complete.json")});
  EXPECT_THAT(status.out, HasSubstr("out of window: 4 records outside the job's window were skipped"));
  EXPECT_THAT(status.out, ::testing::Not(HasSubstr("other shards")));
  EXPECT_THAT(Cli({"status", dir.File("complete.json"), "--json"}).out,
              HasSubstr(R"("records_out_of_window":868,"records_of_other_shards":864)"));
  Result ok = Cli({"verify", dir.File("complete.json")});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, HasSubstr("288 records in 24 buckets of 1h (median 12); 0 empty, 0 thin"));
  EXPECT_THAT(ok.out, HasSubstr("coverage OK"));
  EXPECT_THAT(Cli({"verify", dir.File("complete.json"), "--bucket", "6h"}).out,
              HasSubstr("in 4 buckets of 6h"));

  EXPECT_EQ(Cli({"run", dir.File("holed.json"), "--shard", "3/2"}).exit_code, 2);
  ASSERT_EQ(Cli({"run", dir.File("holed.json"), "--quiet"}).exit_code, 0);
  Result hole = Cli({"verify", dir.File("holed.json")});
  EXPECT_EQ(hole.exit_code, 1);
  EXPECT_THAT(hole.out, ::testing::ContainsRegex("2026-11-14T10:00:00Z +0  EMPTY"));
  EXPECT_THAT(hole.out, ::testing::ContainsRegex("2026-11-14T12:00:00Z +0  EMPTY"));
  EXPECT_THAT(hole.out, HasSubstr("3 empty buckets: a hole in the recovered data"));
  EXPECT_THAT(hole.out, HasSubstr("coverage NOT OK"));
}

// `find` tells what became of each key, from the key log and the dead
// letters: one record delivered, one the destination already held, one
// dead-lettered (its key still read from the bad record), one outside the
// job's window, one the job never saw. The export is read by both shards; a
// record of the other shard leaves no entry. A shard reset and run again
// starts its log over: its record is found delivered by the second run.
TEST(CliTest, FindTellsWhatBecameOfEachKey) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("in.jsonl"),
                     R"({"id":"a1","t":"2026-11-01T01:00:00Z"}
{"id":"p1","t":"2026-11-01T02:00:00Z"}
{"id":"d1","t":"not a time"}
{"id":"w1","t":"2026-10-01T00:00:00Z"}
{"id":"b2","t":"2026-11-01T13:00:00Z"}
)");
  testing::WriteFile(
      dir.File("out.jsonl"),
      R"({"key":"p1","event_time":"2026-11-01T02:00:00Z","maybe_redelivered":false,"record":{"id":"p1"}})"
      "\n");
  const std::string job = dir.File("find.json");
  testing::WriteFile(job,
                     R"({"name":"find","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
    "shard_duration":"12h","skip_already_present":true,"key_log":true,
    "source":{"type":"jsonl_file","path":"in.jsonl"},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/t"}},
    "sink":{"type":"jsonl_file","path":"out.jsonl","format":"envelope","append":true},
    "checkpoint":{"type":"file","dir":"state"}})");
  Result run = Cli({"run", job, "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Cli({"reset", job, "--shard", "20261101T120000Z-20261102T000000Z", "--yes"}).exit_code, 0);
  ASSERT_EQ(Cli({"run", job, "--quiet"}).exit_code, 0);

  Result found = Cli({"find", job, "a1", "p1", "d1", "w1", "b2", "never"});
  EXPECT_EQ(found.exit_code, 0) << found.err;
  EXPECT_THAT(
      found.out,
      ::testing::ContainsRegex(
          "a1: delivered by shard 20261101T000000Z-20261101T120000Z \\(run 2026[0-9T]+Z-[0-9a-f]{8}, "));
  EXPECT_THAT(found.out, ::testing::ContainsRegex(
                             "\np1: found already present in the destination by shard 20261101T000000Z-"));
  EXPECT_THAT(found.out, HasSubstr("\nd1: dead-lettered by shard 20261101T000000Z-20261101T120000Z"));
  EXPECT_THAT(found.out, HasSubstr(R"(: event_time (/t): expected rfc3339 time, got "not a time")"));
  // Both shards read it, outside the job's window: one entry each.
  EXPECT_THAT(found.out,
              ::testing::ContainsRegex("\nw1: read, but its event time is outside the job's window by "
                                       "shard [^\n]*; read 2 times; the destination does not hold it\n"));
  const std::string first_run = found.out.substr(found.out.find("(run ") + 5, 25);
  EXPECT_THAT(found.out, HasSubstr("\nb2: delivered by shard 20261101T120000Z-20261102T000000Z (run "));
  EXPECT_EQ(found.out.find("b2: delivered by shard 20261101T120000Z-20261102T000000Z (run " + first_run),
            std::string::npos);
  EXPECT_THAT(found.out, HasSubstr("\nnever: never seen by the job; the destination does not hold it\n"));
  // The destination is asked too: it holds what was delivered and what was
  // there before, not what was dead-lettered.
  EXPECT_THAT(found.out, ::testing::ContainsRegex("^a1: delivered [^\n]*; the destination holds it\n"));
  EXPECT_THAT(found.out,
              ::testing::ContainsRegex("\nd1: dead-lettered [^\n]*; the destination does not hold it\n"));
  // A key only the destination knows: written there by something else.
  testing::WriteFile(
      dir.File("out.jsonl"),
      testing::ReadFileOrEmpty(dir.File("out.jsonl")) +
          R"({"key":"live9","event_time":"2026-11-01T05:00:00Z","maybe_redelivered":false,"record":{}})"
          "\n");
  EXPECT_THAT(Cli({"find", job, "live9"}).out,
              HasSubstr("live9: never seen by the job; the destination holds it (written there by something "
                        "else, such as the live feed)\n"));
  Result asked_not = Cli({"find", job, "live9", "--no-destination"});
  EXPECT_EQ(asked_not.out, "live9: never seen by the job\n");

  Result json = Cli({"find", job, "a1", "never", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(
      json.out,
      ::testing::ContainsRegex(
          R"(^\{"key_log":true,"destination_asked":true,"keys":\[\{"key":"a1","outcome":"delivered","shard":"20261101T000000Z-20261101T120000Z","run_id":"[^"]+","at":"[^"]+","times_seen":1,"in_destination":true\},)"
          R"(\{"key":"never","outcome":"not_seen","times_seen":0,"in_destination":false\}\]\})"));
  EXPECT_EQ(Cli({"find", job}).exit_code, 2);  // no key

  // Without a key log, find says what it cannot know.
  std::string text = testing::ReadFileOrEmpty(job);
  text.replace(text.find(R"("key_log":true,)"), 15, "");
  testing::WriteFile(dir.File("nolog.json"), text);
  Result nolog = Cli({"find", dir.File("nolog.json"), "zz"});
  EXPECT_THAT(nolog.out, HasSubstr("zz: not in the dead letters (the job keeps no key log"));
  // A store that keeps no key log is refused before the first write.
  const std::string file_store = R"("checkpoint":{"type":"file","dir":"state"})";
  text.replace(text.find(file_store), file_store.size(), R"("checkpoint":{"type":"memory"},"key_log":true)");
  testing::WriteFile(dir.File("memory.json"), text);
  Result refused = Cli({"validate", dir.File("memory.json")});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.out, HasSubstr("key_log: the memory checkpoint store keeps no key log"));
}

}  // namespace
}  // namespace recovery
