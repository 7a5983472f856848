// The operator's report page on fixed data: its outline against a golden
// file (tests/report_outline.txt; RECOVERY_UPDATE_GOLDEN=1 rewrites
// it), the numbers it carries, what it must never hold (a script, an
// address, an unescaped vendor string, a secret), and the report gathered
// from a real run's checkpoints and dead letters. The page in a browser:
// tests/report_browser_test.py.
#include "recovery/report.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "testing/fakes.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::T;
using testing::TempDir;
using testing::WriteFile;

ShardReport ShardOf(const std::string& start, const std::string& end, ShardState state, uint64_t delivered) {
  ShardReport r;
  r.shard.start = T(start.c_str());
  r.shard.end = T(end.c_str());
  r.shard.id = start + "/" + end;
  r.state = state;
  r.checkpoint.state = state;
  r.checkpoint.counters.records_delivered = delivered;
  return r;
}

ReportData Sample() {
  ReportData d;
  d.job = "orders <gap>";
  d.start = T("2026-11-14T12:00:00Z");
  d.end = T("2026-11-15T12:00:00Z");
  d.made = T("2026-11-20T08:00:00Z");
  d.shards.push_back(ShardOf("2026-11-14T12:00:00Z", "2026-11-15T00:00:00Z", ShardState::kDone, 30));
  d.shards.push_back(ShardOf("2026-11-15T00:00:00Z", "2026-11-15T12:00:00Z", ShardState::kRunning, 5));
  d.shards[0].checkpoint.coverage = {{absl::ToUnixSeconds(T("2026-11-14T12:00:00Z")), 10},
                                     {absl::ToUnixSeconds(T("2026-11-14T13:00:00Z")), 20}};
  d.shards[0].checkpoint.counters.dead_letters = 4;
  // Of the 20 records of 13:00 the destination has, 5 were there already;
  // 3 of the 4 dead letters have a known hour; 2 records were days early.
  d.shards[0].checkpoint.hour_outcomes = {
      {absl::ToUnixSeconds(T("2026-11-10T08:00:00Z")), {.out_of_window = 2}},
      {absl::ToUnixSeconds(T("2026-11-14T13:00:00Z")), {.already_present = 5, .dead_letters = 3}}};
  d.shards[1].checkpoint.coverage = {{absl::ToUnixSeconds(T("2026-11-15T00:00:00Z")), 5}};
  d.shards[1].checkpoint.warning = "a <b>warning</b>";
  d.letters.push_back({"amount: not a number <&>", 3, R"({"id":"o1","amount":"x"})", {d.shards[0].shard.id}});
  d.letters.push_back({"event_time: required", 1, R"({"id":"o2"})", {d.shards[0].shard.id}});
  d.letters_total = 4;
  d.probe_json =
      R"({"job":"orders","verdict":"warning","checks":[{"id":"order","title":"Records come sorted","verdict":"ok",)"
      R"("finding":"they do","evidence":[]},{"id":"page_size","title":"Pages hold page_size records",)"
      R"("verdict":"warning","finding":"pages hold 50","evidence":[],"fix":"page_size: 50"}]})";
  d.reconcile_json =
      R"({"saved_at":"2026-11-20T07:00:00Z","reconcile":{"bucket_seconds":3600,"vendor":41,"destination":36,)"
      R"("short_buckets":1,"complete":false,"buckets":[)"
      R"({"start":"2026-11-14T12:00:00Z","end":"2026-11-14T13:00:00Z","vendor":10,"destination":10,"status":"ok"},)"
      R"({"start":"2026-11-14T13:00:00Z","end":"2026-11-14T14:00:00Z","vendor":25,"destination":20,)"
      R"("status":"SHORT"},)"
      R"({"start":"2026-11-15T00:00:00Z","end":"2026-11-15T01:00:00Z","vendor":6,"destination":6,)"
      R"("status":"ok"}],"notes":[]}})";
  // A run that stopped, one that died, and the last, with no end yet.
  d.runs.push_back({"20261120T060000Z-0000000a", "h", 1, T("2026-11-20T06:00:00Z"), T("2026-11-20T06:10:00Z"),
                    "interrupted", 30});
  d.runs.push_back({"20261120T061500Z-0000000b",
                    "h",
                    2,
                    T("2026-11-20T06:15:00Z"),
                    std::nullopt,
                    "",
                    0,
                    {{T("2026-11-20T06:16:00Z"), 20}, {T("2026-11-20T06:17:00Z"), 45}}});
  d.runs.push_back({"20261120T070000Z-0000000c", "h", 3, T("2026-11-20T07:00:00Z"), std::nullopt, "", 0});
  return d;
}

// The page's outline: each element that has an id, each section heading and
// table caption, and how many heatmap cells and table rows each part holds.
std::string Outline(const std::string& html) {
  std::ostringstream out;
  static const std::regex kPart(R"re(<(section|main|header|footer|table|caption|h1|h2)\b([^>]*)>)re");
  static const std::regex kId(R"re(\bid="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kPart); it != std::sregex_iterator(); ++it) {
    const std::string tag = (*it)[1], attrs = (*it)[2];
    std::smatch id;
    out << tag;
    if (std::regex_search(attrs, id, kId)) out << "#" << id[1];
    if (tag == "h2" || tag == "caption") {
      const size_t open = it->position() + it->length(), close = html.find('<', open);
      out << " \"" << html.substr(open, close - open) << "\"";
    }
    out << "\n";
  }
  auto count = [&html](const std::string& needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++n;
    return n;
  };
  out << "heatmap cells: " << count(" data-hour=") << "\n";
  out << "hour table rows: " << count("<tr><th scope=\"row\">") << "\n";
  out << "shard rows: " << count("<tr data-shard=") << "\n";
  out << "letter rows: " << count("<tr data-reason-count=") << "\n";
  return out.str();
}

TEST(ReportTest, TheOutlineMatchesItsGoldenFile) {
  const std::string outline = Outline(ReportHtml(Sample()));
  const std::string path = std::string(RECOVERY_SOURCE_DIR) + "/tests/report_outline.txt";
  if (std::getenv("RECOVERY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << outline;
    GTEST_SKIP() << "rewrote " << path;
  }
  std::ifstream in(path);
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(outline, golden.str())
      << "the page's outline changed; if on purpose, run with RECOVERY_UPDATE_GOLDEN=1 "
         "and commit tests/report_outline.txt";
}

TEST(ReportTest, ThePageCarriesItsNumbersAndNothingFromElsewhere) {
  const std::string html = ReportHtml(Sample());
  EXPECT_THAT(html, HasSubstr(R"(data-records-delivered="35" data-dead-letters="4" data-shards="2" )"
                              R"(data-shards-done="1" data-complete="false")"));
  // Hours outside the window (the first day's morning, the last day's
  // afternoon) are drawn but hold no number.
  // The letters are marked on the hour they fell in, not on all of their shard.
  EXPECT_THAT(html,
              HasSubstr(R"(class="cell l2" data-hour="1794657600" data-records="10" data-present="0")"));
  EXPECT_THAT(html,
              HasSubstr(R"(class="cell l4 present letters short" data-hour="1794661200" )"
                        R"(data-records="15" data-present="5" data-dead="3" )"
                        R"(title="2026-11-14 13:00 UTC: 15 delivered, 5 already present, 3 dead-lettered)"));
  EXPECT_THAT(html, HasSubstr(R"(<div id="other-outcomes" data-days="2" data-letters-without-hour="1">)"));
  EXPECT_THAT(html,
              HasSubstr(R"(<tr data-day="2026-11-10" data-present="0" data-dead="0" data-outside="2">)"));
  EXPECT_THAT(html,
              HasSubstr(R"(<tr data-day="2026-11-14" data-present="5" data-dead="3" data-outside="0">)"));
  EXPECT_THAT(html, HasSubstr("1 dead letters have no known event time"));
  EXPECT_THAT(html, HasSubstr("short per the last reconcile"));
  EXPECT_THAT(html, HasSubstr(R"(<section id="reconcile" data-short-buckets="1" data-buckets="3">)"));
  EXPECT_THAT(html, HasSubstr(R"(<tr data-short-from="2026-11-14T13:00:00Z">)"));
  EXPECT_THAT(html, HasSubstr(R"(<section id="runs" data-runs="3" data-died="1">)"));
  EXPECT_THAT(
      html,
      HasSubstr(R"(data-run="20261120T060000Z-0000000a" data-outcome="interrupted" data-records="30")"));
  EXPECT_THAT(html, HasSubstr(R"(data-run="20261120T061500Z-0000000b" data-outcome="died")"));
  EXPECT_THAT(html, HasSubstr(R"(data-run="20261120T070000Z-0000000c" data-outcome="running, or died")"));
  // The first run's bar starts the line and spans 10 of its 60 minutes.
  EXPECT_THAT(html, HasSubstr(R"(class="run ended" style="margin-left:0.00%;width:16.67%")"));
  // Records per minute: 3 a minute for the first run, then 20 and 25 for
  // the one that died after its note at 06:17, marked there.
  EXPECT_THAT(html, HasSubstr(R"(role="img" data-records="75" data-peak="25.0")"));
  EXPECT_THAT(html, HasSubstr("<title>2026-11-20T06:16:00Z: 25.0 records a minute</title>"));
  EXPECT_THAT(html, HasSubstr(R"(<line class="died" x1="283.33")"));
  EXPECT_THAT(html, HasSubstr("found 1 buckets where the destination holds fewer records than the vendor"));
  EXPECT_THAT(html, HasSubstr(R"(class="cell pending l1" data-hour="1794700800" data-records="5")"));
  EXPECT_THAT(html, HasSubstr(R"(class="cell outside" data-hour="1794614400")"));
  EXPECT_THAT(html, HasSubstr("<li>1 of the plan&#39;s shards are not done</li>"));
  EXPECT_THAT(html, HasSubstr("<li>4 dead letters are not settled</li>"));
  EXPECT_THAT(html, HasSubstr("amount: not a number &lt;&amp;&gt;"));
  EXPECT_THAT(html, HasSubstr("a &lt;b&gt;warning&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("<title>Recovery report: orders &lt;gap&gt;</title>"));
  EXPECT_THAT(html, HasSubstr(R"(data-probe-verdict="warning")"));
  EXPECT_THAT(html, HasSubstr("default-src 'none'"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
}

// State written before the hours were kept (or letters whose time is
// unknown): every hour of a shard with letters is marked, and nothing is
// drawn as already present.
TEST(ReportTest, LettersWithoutAnHourMarkTheirWholeShard) {
  ReportData d = Sample();
  d.shards[0].checkpoint.hour_outcomes.clear();
  const std::string html = ReportHtml(d);
  EXPECT_THAT(html, HasSubstr(R"(class="cell l2 letters" data-hour="1794657600" data-records="10")"));
  EXPECT_THAT(html, HasSubstr(R"(class="cell l4 letters short" data-hour="1794661200" data-records="20")"));
  EXPECT_THAT(html, HasSubstr(R"(<div id="other-outcomes" data-days="0" data-letters-without-hour="4">)"));
  EXPECT_THAT(html, Not(HasSubstr("Records not delivered, per day")));
}

TEST(ReportTest, AnUnreadableProbeReportAndUnreadableLettersAreSaidOnThePage) {
  ReportData d = Sample();
  d.probe_json = "not json";
  d.letters.clear();
  d.letters_error = "NOT_FOUND: no such table";
  const std::string html = ReportHtml(d);
  EXPECT_THAT(html, HasSubstr("The probe report given is not one"));
  EXPECT_THAT(html, HasSubstr("The dead letters could not be read: NOT_FOUND: no such table"));
  d.reconcile_json = R"({"saved_at":"2026-11-20T07:00:00Z","reconcile":{"buckets":"cut)";
  EXPECT_THAT(ReportHtml(d), HasSubstr("The saved reconcile result could not be read"));
  d.reconcile_json.clear();  // never reconciled: no section
  EXPECT_THAT(ReportHtml(d), Not(HasSubstr("id=\"reconcile\"")));
}

TEST(ReportTest, AWindowLongerThanTwoMonthsIsDrawnOneCellPerShard) {
  ReportData d = Sample();
  d.end = T("2027-03-01T00:00:00Z");
  d.shards.push_back(ShardOf("2026-11-15T12:00:00Z", "2027-03-01T00:00:00Z", ShardState::kFailed, 0));
  const std::string html = ReportHtml(d);
  EXPECT_THAT(html, HasSubstr("one cell per shard"));
  EXPECT_THAT(html, HasSubstr(R"(<span class="cell failed" data-records="0")"));
  EXPECT_THAT(html, Not(HasSubstr(R"(id="hours")")));
  EXPECT_FALSE(ReportComplete(d));
}

// Follow mode: the window has no end; the page draws it up to when it was made.
TEST(ReportTest, AFollowModeWindowIsDrawnUpToWhenThePageWasMade) {
  ReportData d = Sample();
  d.end = absl::InfiniteFuture();
  d.shards.push_back(ShardOf("2026-11-15T12:00:00Z", "2026-11-15T12:00:00Z", ShardState::kRunning, 0));
  d.shards.back().shard.end = absl::InfiniteFuture();
  d.made = T("2026-11-16T06:30:00Z");
  const std::string html = ReportHtml(d);
  EXPECT_THAT(html, HasSubstr("(follow mode, no end)"));
  EXPECT_THAT(html, HasSubstr(R"(<th scope="row">2026-11-16</th>)"));
  EXPECT_THAT(html, Not(HasSubstr(R"(<th scope="row">2026-11-17</th>)")));
}

// 48 JSON lines, r0..r47, two in each hour of 2026-11-14.
std::string TwoAnHour() {
  std::string lines;
  for (int i = 0; i < 48; ++i) {
    lines += absl::StrCat(R"({"id":"r)", i, R"(","ts":"2026-11-14T)", absl::Dec(i / 2, absl::kZeroPad2),
                          R"(:10:00Z"})", "\n");
  }
  return lines;
}

// Gathered from a real run: a JSON-lines file with records that cannot be
// read (dead letters, one carrying a token), into a JSON-lines sink.
TEST(ReportTest, CollectedFromARunItAgreesWithTheCheckpointsAndMasksSecretsInExamples) {
  TempDir dir;
  std::string lines = TwoAnHour();
  lines += R"({"id":"bad","api_token":"s3cr3t-value","note":"no time"})"
           "\n";
  WriteFile(dir.File("in.jsonl"), lines);
  const std::string spec_text = absl::StrCat(
      R"({"name":"collected","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "shard_duration":"12h","error_budget":{"max_fraction":0.5},
      "source":{"type":"jsonl_file","path":")",
      dir.File("in.jsonl"), R"("},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],"key":{"from":"/id"},
                "event_time":{"from":"/ts"}},
      "sink":{"type":"jsonl_file","path":")",
      dir.File("out.jsonl"), R"("},"checkpoint":{"type":"file","dir":")", dir.File("state"), R"("}})");
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(spec_text);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto b = Backfiller::Create(*spec, {}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*b)->Run().status.ok());
  b->reset();

  ReportOptions options;
  options.now = T("2026-11-20T00:00:00Z");
  absl::StatusOr<ReportData> data = CollectReport(*spec, options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->shards.size(), 2u);
  EXPECT_EQ(data->letters_error, "");
  ASSERT_EQ(data->letters.size(), 1u);
  EXPECT_EQ(data->letters_total, 1u);
  EXPECT_THAT(data->letters[0].reason, HasSubstr("event_time"));
  EXPECT_THAT(data->letters[0].example, HasSubstr(R"("api_token":"***")"));
  const std::string html = ReportHtml(*data);
  EXPECT_THAT(html, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(html, HasSubstr(R"(data-records-delivered="48" data-dead-letters="1" data-shards="2" )"
                              R"(data-shards-done="2" data-complete="false")"));
  EXPECT_THAT(html, HasSubstr(R"(data-hour="1794618000" data-records="2")"));  // 01:00: r2, r3
  EXPECT_FALSE(ReportComplete(*data));                                         // a dead letter is left
  // The run log holds the run, ended, with what it delivered.
  ASSERT_EQ(data->runs.size(), 1u);
  EXPECT_EQ(data->runs[0].outcome, "done");
  EXPECT_EQ(data->runs[0].records, 48u);
  EXPECT_TRUE(data->runs[0].ended.has_value());
  EXPECT_GT(data->runs[0].pid, 0);

  // Reasons that each carry a value of their record: past 200 groups, the
  // rest share one.
  std::string letters;
  for (int i = 0; i < 205; ++i) {
    letters +=
        absl::StrCat(R"({"time":"2026-11-20T10:00:00Z","job":"collected","shard":"s","cursor":"","index":)",
                     i, R"(,"reason":"amount: \"x)", i, R"(\" is not a number","raw":"{}"})", "\n");
  }
  const std::string letter_file = dir.File("state/collected/dead_letters.jsonl");
  WriteFile(letter_file, testing::ReadFileOrEmpty(letter_file) + letters);
  data = CollectReport(*spec, options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->letters_total, 206u);
  ASSERT_EQ(data->letters.size(), 201u);
  // Biggest first: the shared group holds the 6 reasons past the 200th.
  EXPECT_EQ(data->letters.front().count, 6u);
  EXPECT_THAT(data->letters.front().reason, HasSubstr("other reasons"));
}

// While a run goes on, it notes its records so far in the run log; the
// sink holds its third batch until a note is there, so the test does not
// depend on how fast the machine is.
TEST(ReportTest, ARunNotesItsRecordsSoFarInTheRunLogWhileItGoesOn) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), TwoAnHour());
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(absl::StrCat(
      R"({"name":"ticking","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "source":{"type":"jsonl_file","batch_size":8,"path":")",
      dir.File("in.jsonl"), R"("},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},
                "event_time":{"from":"/ts"}},
      "checkpoint":{"type":"file","dir":")",
      dir.File("state"), R"("}})"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const std::string log = dir.File("state/ticking/runs.jsonl");
  std::vector<testing::Delivered> delivered;
  Components c;
  c.sink = std::make_unique<testing::RecordingSink>(&delivered, [&](const Shard&, const RecordBatch&, int n) {
    const absl::Time give_up = absl::Now() + absl::Minutes(2);
    while (n == 3 && testing::ReadFileOrEmpty(log).find(R"("at":)") == std::string::npos) {
      if (absl::Now() > give_up) return absl::DeadlineExceededError("no progress note in the run log");
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::OkStatus();
  });
  BackfillerOptions options;
  options.run_log_every = absl::Milliseconds(20);
  auto b = Backfiller::Create(*spec, std::move(c), options);
  ASSERT_TRUE(b.ok()) << b.status();
  const RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  absl::StatusOr<ReportData> data = CollectReport(*spec, {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->runs.size(), 1u);
  const RunLogEntry& run = data->runs[0];
  ASSERT_FALSE(run.progress.empty());
  uint64_t before = 0;
  for (const auto& [at, records] : run.progress) {
    EXPECT_GE(at, run.started);
    EXPECT_GE(records, before);
    before = records;
  }
  EXPECT_LE(before, 48u);
  EXPECT_EQ(run.records, 48u);
  // Drawn: the chart holds every record the run delivered.
  EXPECT_THAT(ReportHtml(*data), HasSubstr(R"(<svg id="rate" class="rate" )"));
  EXPECT_THAT(ReportHtml(*data), HasSubstr(R"(role="img" data-records="48")"));
}

}  // namespace
}  // namespace recovery
