// recovery replay: a mapping rejected 50 amounts written "12,30"; the mapping
// is fixed (decimal_comma) and the dead letters are delivered again, through
// SIGKILLs right after a batch reached the sink and before its checkpoint.
// Every letter arrives exactly once and is marked; one that still fails stays
// with its new reason. For the file and the PostgreSQL dead-letter stores.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "testing/cli_runner.h"
#include "testing/postgres.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr int kRecords = 200;
constexpr int kCommaAmounts = 50;  // every fourth record: "12,30"
constexpr int kUnmappable = 7;     // its amount is "n/a", whatever the mapping

// 200 payments over one day; amounts "i.50", except every fourth ("12,30")
// and record 7 ("n/a").
std::string Export() {
  std::string out;
  for (int i = 0; i < kRecords; ++i) {
    const std::string amount = i == kUnmappable ? "n/a" : i % 4 == 0 ? "12,30" : StrCat(i, ".50");
    StrAppend(&out, R"({"id":")", absl::StrFormat("t%03d", i), R"(","created_at":"2026-11-14T)",
              absl::StrFormat("%02d:%02d", i % 24, i % 60), R"(:00Z","amount":")", amount, "\"}\n");
  }
  return out;
}

std::string Job(bool decimal_comma, const std::string& storage) {
  return StrCat(R"({"name":"replay","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "shard_duration":"6h","error_budget":{"max_count":1000,"max_fraction":1.0},
    "source":{"type":"jsonl_file","path":"export.jsonl","batch_size":20},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"},
      {"name":"amount","from":"/amount","type":"decimal","required":true)",
                decimal_comma ? R"(,"decimal_comma":true)" : "", R"(}],
      "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "sink":{"type":"jsonl_file","path":"out.jsonl"},)",
                storage, "}");
}

struct Delivered {
  std::multiset<std::string> ids;
  std::map<std::string, std::string> amount;
};

Delivered ReadOut(const std::string& path) {
  Delivered d;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(path)) {
    simdjson::dom::element e = parser.parse(line).value();
    const std::string id(e["id"].get_string().value());
    d.ids.insert(id);
    d.amount[id] = std::string(e["amount"].get_string().value());
  }
  return d;
}

// Runs the job with the broken mapping, then the replay with the fixed one:
// two children that die right after their 3rd and 2nd batch, then `recovery
// replay` to the end. With a store that leases shards, a killed child holds
// its lease until it expires: `lease_wait` later.
void RunBreakFixReplay(const TempDir& dir, const std::string& storage,
                       absl::Duration lease_wait = absl::ZeroDuration()) {
  testing::WriteFile(dir.File("export.jsonl"), Export());
  testing::WriteFile(dir.File("job.json"), Job(false, storage));
  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("job.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.err, HasSubstr(StrCat(kCommaAmounts + 1, " dead letters")));

  testing::WriteFile(dir.File("job.json"), Job(true, storage));
  for (const char* die_after : {"3", "2"}) {
    r = testing::RunCli(RECOVERY_SINK_CHILD, {dir.File("job.json"), "kill-after", die_after, "replay", "7"});
    ASSERT_EQ(r.exit_code, 128 + 9) << "the child should have died after write " << die_after << ": "
                                    << r.err;
    absl::SleepFor(lease_wait);
  }
  r = testing::RunCli(RECOVERY_CLI, {"replay", dir.File("job.json"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(StrCat("replay-1: ", kCommaAmounts,
                                      " letters delivered, 0 already present, 0 "
                                      "dropped by the mapping, 0 out of the window, 1 failed again")));
}

void ExpectEveryLetterDeliveredOnce(const TempDir& dir) {
  const Delivered out = ReadOut(dir.File("out.jsonl"));
  EXPECT_EQ(out.ids.size(), static_cast<size_t>(kRecords - 1));
  for (int i = 0; i < kRecords; ++i) {
    const std::string id = absl::StrFormat("t%03d", i);
    EXPECT_EQ(out.ids.count(id), i == kUnmappable ? 0u : 1u) << id;
    if (i % 4 == 0) EXPECT_EQ(out.amount.at(id), "12.30") << id;
  }
}

TEST(ReplayTest, FileLettersAreDeliveredOnceThroughKillsAndMarked) {
  TempDir dir;
  RunBreakFixReplay(dir, R"("checkpoint":{"type":"file","dir":"state"},
    "dead_letters":{"type":"file","path":"dead.jsonl"})");
  ExpectEveryLetterDeliveredOnce(dir);

  // Each letter is still there, with exactly one mark (the killed batches'
  // marks were rolled back with them).
  std::map<std::string, std::string> letter_id;  // offset -> record id
  std::map<std::string, std::vector<std::string>> marks;
  simdjson::dom::parser parser;
  int64_t offset = 0;
  for (const std::string& line : testing::ReadLines(dir.File("dead.jsonl"))) {
    simdjson::dom::element e = parser.parse(line).value();
    std::string_view v;
    if (e["mark"].get_string().get(v) == simdjson::SUCCESS) {
      std::string_view outcome, replay;
      ASSERT_EQ(e["outcome"].get_string().get(outcome), simdjson::SUCCESS);
      ASSERT_EQ(e["replay"].get_string().get(replay), simdjson::SUCCESS);
      EXPECT_EQ(replay, "replay-1");
      marks[std::string(v)].push_back(std::string(outcome));
    } else {
      simdjson::dom::element raw = parser.parse(std::string(e["raw"].get_string().value())).value();
      letter_id[StrCat(offset)] = std::string(raw["id"].get_string().value());
    }
    offset += static_cast<int64_t>(line.size()) + 1;
  }
  ASSERT_EQ(letter_id.size(), static_cast<size_t>(kCommaAmounts + 1));
  for (const auto& [at, id] : letter_id) {
    ASSERT_EQ(marks[at].size(), 1u) << id;
    EXPECT_EQ(marks[at][0], id == absl::StrFormat("t%03d", kUnmappable) ? "failed again" : "delivered") << id;
  }

  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"status", dir.File("job.json")});
  EXPECT_THAT(r.out, ::testing::ContainsRegex("replay-1 +done +50"));
  EXPECT_THAT(r.out, HasSubstr("total: 199 records delivered, 1 dead letters"));
  EXPECT_THAT(r.out, HasSubstr("replayed: 50 dead letters settled by replays (50 delivered)"));

  // A second replay finds only the letter that still fails, and tries it again.
  r = testing::RunCli(RECOVERY_CLI, {"replay", dir.File("job.json"), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("replay-2: 0 letters delivered, 0 already present, 0 dropped by the mapping, 0 out "
                        "of the window, 1 failed again"));
  EXPECT_EQ(ReadOut(dir.File("out.jsonl")).ids.size(), static_cast<size_t>(kRecords - 1));

  // Bad input is named.
  r = testing::RunCli(RECOVERY_CLI, {"replay", dir.File("job.json"), "--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--since: expected an RFC 3339 time"));
  r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("job.json"), "--reason", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--reason: only for recovery replay"));
  r = testing::RunCli(RECOVERY_CLI, {"reset", dir.File("job.json"), "--shard", "replay-1", "--yes"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot be reset alone"));
}

TEST(ReplayTest, PostgresLettersAreDeliveredOnceThroughKillsAndMarked) {
  auto server = testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  testing::PostgresServer& pg = **server;
  TempDir dir;
  RunBreakFixReplay(dir, StrCat(R"("checkpoint":{"type":"postgres","dsn":")", pg.dsn(), R"(","lease":"1s"})"),
                    absl::Milliseconds(1500));
  ExpectEveryLetterDeliveredOnce(dir);

  EXPECT_EQ(pg.Query("SELECT count(*) FROM recovery_dead_letters WHERE job = 'replay'"),
            std::vector<std::string>{"51"});
  // One mark per letter and replay: a batch marked again after a kill
  // replaced its marks.
  EXPECT_EQ(pg.Query("SELECT outcome || ' ' || count(*) FROM recovery_dead_letter_marks WHERE job = 'replay' "
                     "GROUP BY outcome ORDER BY outcome"),
            (std::vector<std::string>{"delivered 50", "failed again 1"}));
  EXPECT_EQ(pg.Query("SELECT reason FROM recovery_dead_letter_marks WHERE outcome = 'failed again'"),
            std::vector<std::string>{"field amount (/amount): expected decimal, got \"n/a\""});

  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"replay", dir.File("job.json"), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("replay-2: 0 letters delivered, 0 already present, 0 dropped by the mapping, 0 out "
                        "of the window, 1 failed again"));
  EXPECT_EQ(pg.Query("SELECT count(*) FROM recovery_dead_letter_marks WHERE job = 'replay'"),
            std::vector<std::string>{"52"});
}

}  // namespace
}  // namespace recovery
