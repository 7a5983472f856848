// Crash/resume: a child process recovers a gap and is killed with SIGKILL
// again and again — at random moments, mid sink write, between a sink write
// and its checkpoint, mid checkpoint save — and resumed each time. At the end
// the sink file must hold every record exactly once, and the redelivery flag
// must be on exactly the records of the batches in flight at a kill.
// Two sources: a 100,000-record JSON-lines export, and 200,000 records from
// the HTTP source against the simulated API on loopback, through fault storms.
// RECOVERY_TORTURE=long raises the kills from 10+ to 50+ per profile.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "recovery/checkpoint_store.h"
#include "recovery/shard.h"
#include "simdjson.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using testing::T;

// Runs the child; returns its wait status. With `kill_after_ms` >= 0, kills it
// that long after it has grown `watched`.
int RunChild(const std::string& job, const std::string& mode, int when, int kill_after_ms,
             const std::string& watched) {
  const int64_t size_before = testing::FileSize(watched);
  pid_t pid = fork();
  if (pid == 0) {
    execl(RECOVERY_CRASH_CHILD, RECOVERY_CRASH_CHILD, job.c_str(), mode.c_str(), std::to_string(when).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  if (kill_after_ms >= 0) testing::KillAfterProgress(pid, watched, size_before, kill_after_ms);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// An export of `n` records "r0".. spaced `spacing` apart from 2026-11-14.
std::string Export(int n, absl::Duration spacing) {
  std::string input;
  const absl::Time start = T("2026-11-14T00:00:00Z");
  for (int i = 0; i < n; ++i) {
    input += StrCat("{\"id\":\"r", i, "\",\"ts\":\"", FormatRfc3339(start + spacing * i), "\"}\n");
  }
  return input;
}

// The lines "KEY FLAG" a callback sink appended: each key's redelivery
// flags, in order.
std::map<std::string, std::vector<int>> Arrivals(const std::string& path) {
  std::map<std::string, std::vector<int>> arrivals;
  for (const std::string& line : testing::ReadLines(path)) {
    const size_t space = line.find(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    arrivals[line.substr(0, space)].push_back(line.substr(space + 1) == "1");
  }
  return arrivals;
}

// RECOVERY_TORTURE=long multiplies the kills (the CI runs the short profile).
int Kills(int short_profile, int long_profile) {
  const char* p = std::getenv("RECOVERY_TORTURE");
  return p != nullptr && std::string(p) == "long" ? long_profile : short_profile;
}

struct Torture {
  std::string dir;  // holds job.json; the child writes out.jsonl and state/ there
  std::string job_name;
  std::vector<Shard> plan;
  std::vector<std::string> all_ids;  // every record of the window
  // The keys of the batch that starts at `cursor` in `shard`.
  std::function<std::vector<std::string>(const Shard&, const std::string&)> batch_at;
  int min_kills = Kills(20, 50);
  // An external kill lands this long at most after the run's first write:
  // well inside the time the whole job takes, or it rarely interrupts it.
  int max_external_delay_ms = 30;
  // When set: the dead-letter file must hold exactly these records, once each.
  std::string dead_letters_path;
  std::vector<std::string> bad_ids;
  // Called before each run (its number, from 1), e.g. to wait.
  std::function<void(int)> before_run;
};

void RunTorture(const Torture& t) {
  auto store = *NewFileCheckpointStore(t.dir + "/state");
  std::mt19937 rng(20261122);
  const char* kModes[] = {"external",         "torn-sink",           "after-sink",    "torn-checkpoint",
                          "after-checkpoint", "unsynced-checkpoint", "mid-compaction"};
  constexpr int kModeCount = sizeof(kModes) / sizeof(kModes[0]);
  std::set<std::string> expected_flagged;
  std::map<std::string, int> kills_by_mode;
  int kills = 0, runs = 0, kills_mid_batch = 0;
  while (true) {
    ASSERT_LT(++runs, 500) << "no progress";
    const bool last = kills >= t.min_kills + t.min_kills / 2;            // enough: let it finish
    const std::string mode = last ? "none" : kModes[runs % kModeCount];  // every mode, in turn
    // The long profile kills sooner, so that 50 kills fit in one recovery.
    const bool long_profile = t.min_kills >= 50;
    const int when = 1 + static_cast<int>(rng() % (long_profile ? 2 : 4));
    const int max_delay = long_profile ? t.max_external_delay_ms / 5 + 1 : t.max_external_delay_ms;
    const int delay = mode == "external" ? static_cast<int>(rng() % max_delay) : -1;
    if (t.before_run) t.before_run(runs);
    const int status =
        RunChild(t.dir + "/job.json", mode == "external" ? "none" : mode, when, delay, t.dir + "/out.jsonl");
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed in mode " << mode;
      std::printf("%s: finished in mode %s (when %d, delay %d ms)\n", t.job_name.c_str(), mode.c_str(), when,
                  delay);
      break;
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ++kills;
    ++kills_by_mode[mode];
    // The checkpoints are always readable. A kill caught a batch mid-way when
    // the file holds bytes no checkpoint vouches for (the next run truncates
    // them: the JSON-lines sink rolls back, so it gets no in-flight mark), or
    // when a batch is marked in flight (it will be redelivered flagged).
    bool mid_batch = false;
    uint64_t vouched = 0;
    for (const Shard& shard : t.plan) {
      auto ck = store->Load(t.job_name, shard.id);
      ASSERT_TRUE(ck.ok()) << ck.status();
      if (!ck->has_value()) continue;
      uint64_t token = 0;
      if (absl::SimpleAtoi((*ck)->sink_token, &token)) vouched = std::max(vouched, token);
      if (!(*ck)->in_flight) continue;
      mid_batch = true;
      for (const std::string& key : t.batch_at(shard, (*ck)->cursor)) expected_flagged.insert(key);
    }
    mid_batch |= testing::FileSize(t.dir + "/out.jsonl") > static_cast<int64_t>(vouched);
    kills_mid_batch += mid_batch;
  }
  std::printf("%s: kills=%d, of them mid-batch=%d (external %d)\n", t.job_name.c_str(), kills,
              kills_mid_batch, kills_by_mode["external"]);
  EXPECT_GE(kills, t.min_kills);
  EXPECT_GT(kills_mid_batch, 0) << "no kill landed while a batch was in flight: the torture tested nothing";
  for (const char* m : kModes) EXPECT_GT(kills_by_mode[m], 0) << m;

  std::map<std::string, int> seen;
  std::set<std::string> flagged;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(t.dir + "/out.jsonl")) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << "torn line survived: " << line;
    std::string key(e["key"].get_string().value());
    ++seen[key];
    if (e["maybe_redelivered"].get_bool().value()) flagged.insert(key);
  }
  int lost = 0, duplicates = 0;
  for (const std::string& id : t.all_ids) {
    const int n = seen[id];
    lost += n == 0;
    duplicates += n > 1;
  }
  std::printf("%s: kills=%d records=%zu lost=%d duplicates=%d flagged=%zu\n", t.job_name.c_str(), kills,
              t.all_ids.size(), lost, duplicates, flagged.size());
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seen.size(), t.all_ids.size());
  EXPECT_EQ(flagged, expected_flagged);
  if (t.dead_letters_path.empty()) return;
  std::map<std::string, int> dead;
  for (const std::string& line : testing::ReadLines(t.dead_letters_path)) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << "torn dead letter survived: " << line;
    std::string_view raw = e["raw"].get_string().value();
    simdjson::dom::parser inner;
    ++dead[std::string(inner.parse(std::string(raw))["id"].get_string().value())];
  }
  int dead_twice = 0;
  for (const auto& [id, n] : dead) dead_twice += n > 1;
  std::printf("%s: dead letters=%zu (expected %zu) twice=%d\n", t.job_name.c_str(), dead.size(),
              t.bad_ids.size(), dead_twice);
  EXPECT_EQ(dead_twice, 0);
  std::set<std::string> dead_ids;
  for (const auto& [id, n] : dead) dead_ids.insert(id);
  EXPECT_EQ(dead_ids, std::set<std::string>(t.bad_ids.begin(), t.bad_ids.end()));
}

TEST(CrashTest, JsonLinesExportThroughRepeatedSigkills) {
  const int kRecords = Kills(100000, 300000);  // the long profile needs more pages to kill in
  constexpr int kBatch = 250;
  testing::TempDir dir;
  const absl::Time start = T("2026-11-14T00:00:00Z");
  const absl::Time end = T("2026-11-18T00:00:00Z");
  std::vector<std::string> lines;
  std::vector<absl::Time> times;
  std::string input;
  Torture t;
  for (int i = 0; i < kRecords; ++i) {
    times.push_back(start + (end - start) * i / kRecords);
    lines.push_back(StrCat("{\"id\":\"r", i, "\",\"ts\":\"", FormatRfc3339(times.back()), "\",\"amount\":\"",
                           i % 1000, ".25\",\"note\":\"crash torture record\"}"));
    input += lines.back() + "\n";
    t.all_ids.push_back(StrCat("r", i));
  }
  testing::WriteFile(dir.File("in.jsonl"), input);
  testing::WriteFile(dir.File("job.json"), StrCat(R"({
    "name": "crash", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 2,
    "source": {"type": "jsonl_file", "path": "in.jsonl", "batch_size": )",
                                                  kBatch, R"(},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true},
                                          {"name": "amount", "from": "/amount", "type": "decimal"}],
               "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
    "checkpoint": {"type": "file", "dir": "state"}})"));
  std::map<uint64_t, int> line_at;  // byte offset -> line
  uint64_t offset = 0;
  for (int i = 0; i < kRecords; ++i) {
    line_at[offset] = i;
    offset += lines[i].size() + 1;
  }
  t.dir = dir.path();
  t.job_name = "crash";
  t.plan = *PlanShards(start, end, absl::Hours(24));
  t.batch_at = [&](const Shard& shard, const std::string& cursor) {
    uint64_t at = 0;
    if (!cursor.empty()) EXPECT_TRUE(absl::SimpleAtoi(cursor, &at));
    EXPECT_TRUE(line_at.count(at)) << "cursor not at a line start: " << at;
    std::vector<std::string> keys;
    for (int i = line_at[at]; i < std::min(kRecords, line_at[at] + kBatch); ++i) {
      if (times[i] >= shard.start && times[i] < shard.end) keys.push_back(StrCat("r", i));
    }
    return keys;
  };
  RunTorture(t);
}

// 200,000 records from the HTTP source through 500s, 429s with Retry-After,
// connection resets, truncated bodies and stalls, with deliberately bad
// records among them, into the file sink and the dead-letter file.
TEST(CrashTest, HttpApiThroughFaultStormsAndRepeatedSigkills) {
  const int kRecords = Kills(200000, 600000);
  constexpr int kPage = 500;
  testing::SimulatedApiOptions options;
  options.start = T("2026-11-14T00:00:00Z");
  options.end = T("2026-11-18T00:00:00Z");
  options.records = kRecords;
  options.small_records = true;
  options.max_page_size = kPage;
  options.p500 = 0.02;
  options.p429 = 0.004;
  options.retry_after_seconds = 1;
  options.p_reset = 0.01;
  options.p_truncate = 0.01;
  options.p_stall = 0.01;
  options.stall = absl::Milliseconds(200);
  options.bad_every = 997;
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"),
                     StrCat(R"({
    "name": "crash-http", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 4,
    "retry": {"initial_backoff": "1ms", "max_backoff": "10ms", "max_attempts": 30},
    "error_budget": {"max_fraction": 0.01},
    "source": {"type": "http", "url": ")",
                            api.base_url(), R"(/v1/page",
               "query": {"from": "{start}", "to": "{end}", "page": "{page}", "limit": "{limit}"},
               "records": "/data", "page_size": )",
                            kPage, R"(, "timeout": "5s", "pagination": {"type": "page"}},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true},
                                          {"name": "amount", "from": "/amount/value", "type": "decimal"}],
               "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
    "checkpoint": {"type": "file", "dir": "state"}})"));
  Torture t;
  t.dir = dir.path();
  t.job_name = "crash-http";
  t.plan = *PlanShards(options.start, options.end, absl::Hours(24));
  t.bad_ids = api.BadIds();
  const std::set<std::string> bad(t.bad_ids.begin(), t.bad_ids.end());
  for (const std::string& id : api.Ids(options.start, options.end)) {
    if (!bad.count(id)) t.all_ids.push_back(id);
  }
  t.dead_letters_path = dir.File("state/crash-http/dead_letters.jsonl");
  t.min_kills = Kills(10, 50);
  t.max_external_delay_ms = 100;
  t.batch_at = [&](const Shard& shard, const std::string& cursor) {
    int64_t page = 1;
    if (!cursor.empty()) EXPECT_TRUE(absl::SimpleAtoi(cursor, &page));
    std::vector<std::string> ids = api.Ids(shard.start, shard.end);
    const size_t from = std::min(ids.size(), static_cast<size_t>((page - 1) * kPage));
    const size_t to = std::min(ids.size(), from + kPage);
    std::vector<std::string> keys;
    for (size_t i = from; i < to; ++i) {
      if (!bad.count(ids[i])) keys.push_back(ids[i]);  // bad ones are dead letters, never delivered
    }
    return keys;
  };
  RunTorture(t);
  std::map<int, int> by_status;
  for (const testing::RequestRecord& r : api.requests()) ++by_status[r.status];
  std::printf("crash-http: requests 200=%d 500=%d 429=%d (resets, truncations and stalls answer 200)\n",
              by_status[200], by_status[500], by_status[429]);
  EXPECT_GT(by_status[500], 0);
  EXPECT_GT(by_status[429], 0);
}

// Cursors that live 150 ms (source.pagination.expired), through the same
// kills: every third run starts after the saved cursors died, and a cursor
// also expires now and then mid-run; each shard restarts from its beginning
// (or, `sorted`, from where its records had got to, with records sharing
// their times across pages) and skips what its delivered-keys log holds. The
// log is appended before the checkpoint that counts it, and a kill between
// the two leaves entries the next append writes over.
void ExpiringCursorsThroughRepeatedSigkills(bool sorted) {
  const int kRecords = sorted ? Kills(60000, 300000) : Kills(40000, 200000);
  constexpr int kPage = 500;
  testing::SimulatedApiOptions options;
  if (sorted) options.same_time_group = 3;
  options.start = T("2026-11-14T00:00:00Z");
  options.end = T("2026-11-18T00:00:00Z");
  options.records = kRecords;
  options.small_records = true;
  options.max_page_size = kPage;
  options.cursor_lifetime = absl::Milliseconds(150);
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"),
                     StrCat(R"({
    "name": "crash-expiring", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 4,
    "retry": {"initial_backoff": "1ms", "max_backoff": "10ms", "max_attempts": 30},
    "source": {"type": "http", "url": ")",
                            api.base_url(), R"(/v1/cursor",
               "query": {"from": "{start}", "to": "{end}", "cursor": "{cursor}", "limit": "{limit}"},
               "records": "/data", "page_size": )",
                            kPage, sorted ? R"(, "sorted_by": {"from": "/created_at"})" : "",
                            R"(, "timeout": "5s",
               "pagination": {"type": "cursor", "from": "/next_cursor",
                              "expired": {"statuses": [400], "body_contains": "cursor_expired"}}},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true}],
               "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
    "checkpoint": {"type": "file", "dir": "state"}})"));
  Torture t;
  t.dir = dir.path();
  t.job_name = "crash-expiring";
  t.plan = *PlanShards(options.start, options.end, absl::Hours(24));
  t.all_ids = api.Ids(options.start, options.end);
  t.min_kills = Kills(10, 50);
  t.max_external_delay_ms = 100;
  t.batch_at = [](const Shard&, const std::string&) {
    ADD_FAILURE() << "the JSON-lines sink rolls back: no batch is ever marked in flight";
    return std::vector<std::string>();
  };
  t.before_run = [&api](int run) {
    if (run % 3 == 0) absl::SleepFor(absl::Milliseconds(200));  // the saved cursors die
    if (run % 5 == 0) api.Script({testing::Fault{testing::Fault::kCursorExpired}});
  };
  RunTorture(t);
  int expired = 0;
  for (const testing::RequestRecord& r : api.requests()) expired += r.status == 400;
  std::printf("crash-expiring%s: %d requests answered \"cursor expired\"\n", sorted ? " (sorted)" : "",
              expired);
  EXPECT_GT(expired, 0);
}

TEST(CrashTest, ExpiringCursorsThroughRepeatedSigkills) { ExpiringCursorsThroughRepeatedSigkills(false); }

TEST(CrashTest, ExpiringCursorsOverSortedRecordsThroughRepeatedSigkills) {
  ExpiringCursorsThroughRepeatedSigkills(true);
}

// A GraphQL connection (a JSON body with a null cursor at first, the end
// cursor and has-next flag read from the answer) through the same storms and
// kills, with GraphQL throttling answered inside a 200 now and then.
TEST(CrashTest, GraphqlApiThroughFaultStormsAndRepeatedSigkills) {
  const int kRecords = Kills(60000, 300000);
  constexpr int kPage = 500;
  testing::SimulatedApiOptions options;
  options.start = T("2026-11-14T00:00:00Z");
  options.end = T("2026-11-18T00:00:00Z");
  options.records = kRecords;
  options.small_records = true;
  options.max_page_size = kPage;
  options.p500 = 0.02;
  options.p_reset = 0.01;
  options.p_stall = 0.01;
  options.stall = absl::Milliseconds(200);
  testing::SimulatedApi api(options);
  std::vector<testing::Fault> throttles(20, testing::Fault{testing::Fault::kGraphqlThrottled});
  api.Script(throttles);
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"), StrCat(R"({
    "name": "crash-graphql", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 4,
    "retry": {"initial_backoff": "1ms", "max_backoff": "10ms", "max_attempts": 40},
    "source": {"type": "http", "method": "POST", "url": ")",
                                                  api.base_url(), R"(/v1/graphql",
               "body": {"query": "query($from:DateTime!,$to:DateTime!,$first:Int!,$after:String){transactions(from:$from,to:$to,first:$first,after:$after){nodes{id created_at} pageInfo{endCursor hasNextPage}}}",
                        "variables": {"from": "{start}", "to": "{end}", "first": "{limit}", "after": "{cursor}"}},
               "records": "/data/transactions/nodes", "page_size": )",
                                                  kPage, R"(, "timeout": "5s",
               "pagination": {"type": "graphql", "cursor": "/data/transactions/pageInfo/endCursor",
                              "has_next": "/data/transactions/pageInfo/hasNextPage"}},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true}],
               "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
    "checkpoint": {"type": "file", "dir": "state"}})"));
  Torture t;
  t.dir = dir.path();
  t.job_name = "crash-graphql";
  t.plan = *PlanShards(options.start, options.end, absl::Hours(24));
  t.all_ids = api.Ids(options.start, options.end);
  t.dead_letters_path = dir.File("state/crash-graphql/dead_letters.jsonl");
  t.min_kills = Kills(10, 50);
  t.max_external_delay_ms = 100;
  // The simulator's cursors name the index of the next record among all of them.
  const std::vector<std::string> all = t.all_ids;
  t.batch_at = [&, all](const Shard& shard, const std::string& cursor) {
    std::vector<std::string> in_shard = api.Ids(shard.start, shard.end);
    size_t from = 0;
    if (!cursor.empty()) {
      int64_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(cursor.substr(1), &v)) << cursor;
      const std::string& first = all[static_cast<size_t>((v - 3) / 7)];
      from = std::find(in_shard.begin(), in_shard.end(), first) - in_shard.begin();
    }
    const size_t to = std::min(in_shard.size(), from + kPage);
    return std::vector<std::string>(in_shard.begin() + static_cast<std::ptrdiff_t>(from),
                                    in_shard.begin() + static_cast<std::ptrdiff_t>(to));
  };
  RunTorture(t);
}

// The same export through the C ABI into a C callback sink that cannot roll
// back: every record arrives, and a record that arrives twice is flagged the
// second time.
// A process killed from outside just after the sink took a batch, before its
// commit is saved (a deploy, an operator, an OOM kill elsewhere), run after
// run: the crash-loop breaker must not take that for a record that kills the
// process. Before the breaker knew where each death happened, these kills
// made it cut the batch into pieces and single records out of it, as if each
// had died in the sink; kills timed so on CI drove a healthy record to
// "crashed the process 2 times" and into the dead letters.
TEST(CrashTest, KillsJustAfterTheSinkNeverConvictAHealthyRecord) {
  constexpr int kRecords = 40;
  constexpr int kKills = 12;
  testing::TempDir dir;
  testing::WriteFile(dir.File("in.jsonl"), Export(kRecords, absl::Minutes(30)));
  testing::WriteFile(dir.File("job.json"), R"({
    "name": "crash-after-sink", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-15T00:00:00Z"},
    "concurrency": 1,
    "source": {"type": "jsonl_file", "path": "in.jsonl", "batch_size": 4},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true}],
               "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
    "dead_letters": {"type": "file", "path": "dead.jsonl"}})");
  for (int run = 0; run < kKills; ++run) {
    const int status = RunChild(dir.File("job.json"), "callback:back-from-sink", 1, -1, "");
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "run " << run << ": status " << status;
  }
  const int status = RunChild(dir.File("job.json"), "callback:none", 0, -1, "");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  const std::string letters = dir.File("dead.jsonl");
  EXPECT_EQ(testing::FileSize(letters) > 0 ? testing::ReadLines(letters).size() : 0u, 0u)
      << "a healthy record was dead-lettered: "
      << (testing::FileSize(letters) > 0 ? testing::ReadLines(letters)[0] : "");
  const std::map<std::string, std::vector<int>> arrivals = Arrivals(dir.File("out.txt"));
  EXPECT_EQ(arrivals.size(), static_cast<size_t>(kRecords));
  for (const auto& [key, flags] : arrivals) {
    for (size_t k = 1; k < flags.size(); ++k) EXPECT_EQ(flags[k], 1) << key << " came again unflagged";
  }
  // Every run handed the sink the first batch whole (never in pieces), and
  // the last run went on from there.
  const std::vector<std::string> lines = testing::ReadLines(dir.File("out.txt"));
  ASSERT_GE(lines.size(), 4u * (kKills + 1));
  for (int run = 0; run <= kKills; ++run) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(lines[run * 4 + i].substr(0, lines[run * 4 + i].find(' ')), StrCat("r", i))
          << "run " << run << " did not deliver the batch whole";
    }
  }
}

TEST(CrashTest, CAbiCallbackSinkThroughRepeatedSigkills) {
  constexpr int kRecords = 50000;
  testing::TempDir dir;
  testing::WriteFile(dir.File("in.jsonl"), Export(kRecords, absl::Seconds(6.9)));
  testing::WriteFile(dir.File("job.json"), R"({
    "name": "crash-c", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 2,
    "source": {"type": "jsonl_file", "path": "in.jsonl", "batch_size": 200},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true}],
               "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
    "sink": {"type": "callback"},
    "checkpoint": {"type": "file", "dir": "state"}})");
  std::mt19937 rng(7);
  const int min_kills = Kills(10, 50);
  int kills = 0, runs = 0;
  while (true) {
    ASSERT_LT(++runs, 500) << "no progress";
    const int64_t out_before = testing::FileSize(dir.File("out.txt"));
    const pid_t pid = fork();
    if (pid == 0) {
      execl(RECOVERY_C_CALLBACK_CHILD, RECOVERY_C_CALLBACK_CHILD, dir.File("job.json").c_str(),
            dir.File("out.txt").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Once the callback has written a batch in this run, a random moment later
    // (a few batches' time: the whole job takes well under a second).
    if (kills < min_kills)
      testing::KillAfterProgress(pid, dir.File("out.txt"), out_before, static_cast<int>(rng() % 10));
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0);
      break;
    }
    ++kills;
  }
  std::map<std::string, std::vector<int>> arrivals = Arrivals(dir.File("out.txt"));
  int lost = 0, unflagged_duplicates = 0, duplicates = 0;
  size_t flagged = 0;
  for (int i = 0; i < kRecords; ++i) {
    const std::vector<int>& flags = arrivals[StrCat("r", i)];
    lost += flags.empty();
    duplicates += flags.size() > 1;
    for (size_t k = 1; k < flags.size(); ++k) unflagged_duplicates += flags[k] == 0;
    for (int f : flags) flagged += f;
  }
  std::printf("crash-c-callback: kills=%d records=%d lost=%d duplicates=%d (all flagged: %s) flagged=%zu\n",
              kills, kRecords, lost, duplicates, unflagged_duplicates == 0 ? "yes" : "no", flagged);
  EXPECT_GE(kills, min_kills);
  EXPECT_GT(flagged, 0u) << "no kill landed while a batch was in flight: the torture tested nothing";
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(unflagged_duplicates, 0);
  EXPECT_EQ(arrivals.size(), static_cast<size_t>(kRecords));
}

}  // namespace
}  // namespace recovery
