// Crash/resume: a child process recovers a gap and is killed with SIGKILL
// again and again — at random moments, mid sink write, between a sink write
// and its checkpoint, mid checkpoint save — and resumed each time. At the end
// the sink file must hold every record exactly once, and the redelivery flag
// must be on exactly the records of the batches in flight at a kill.
// Two sources: a 100,000-record JSON-lines export, and the HTTP source
// against the simulated API (with 500s and 429s) on loopback.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

// Runs the child; returns its wait status.
int RunChild(const std::string& job, const std::string& mode, int when, int kill_after_ms) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(RECOVERY_CRASH_CHILD, RECOVERY_CRASH_CHILD, job.c_str(), mode.c_str(), std::to_string(when).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  if (kill_after_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

struct Torture {
  std::string dir;  // holds job.json; the child writes out.jsonl and state/ there
  std::string job_name;
  std::vector<Shard> plan;
  std::vector<std::string> all_ids;  // every record of the window
  // The keys of the batch that starts at `cursor` in `shard`.
  std::function<std::vector<std::string>(const Shard&, const std::string&)> batch_at;
  int min_kills = 20;
  int max_external_delay_ms = 150;
};

void RunTorture(const Torture& t) {
  auto store = *NewFileCheckpointStore(t.dir + "/state");
  std::mt19937 rng(20261122);
  const char* kModes[] = {"external", "torn-sink", "after-sink", "torn-checkpoint", "after-checkpoint"};
  std::set<std::string> expected_flagged;
  std::map<std::string, int> kills_by_mode;
  int kills = 0, runs = 0;
  while (true) {
    ASSERT_LT(++runs, 500) << "no progress";
    const bool last = kills >= t.min_kills + 10;  // enough: let it finish
    const std::string mode = last ? "none" : kModes[rng() % 5];
    const int when = 1 + static_cast<int>(rng() % 6);
    const int delay = mode == "external" ? static_cast<int>(rng() % t.max_external_delay_ms) : -1;
    const int status = RunChild(t.dir + "/job.json", mode == "external" ? "none" : mode, when, delay);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed in mode " << mode;
      break;
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ++kills;
    ++kills_by_mode[mode];
    // The checkpoints are always readable; a batch in flight will be redelivered flagged.
    for (const Shard& shard : t.plan) {
      auto ck = store->Load(t.job_name, shard.id);
      ASSERT_TRUE(ck.ok()) << ck.status();
      if (!ck->has_value() || !(*ck)->in_flight) continue;
      for (const std::string& key : t.batch_at(shard, (*ck)->cursor)) expected_flagged.insert(key);
    }
  }
  EXPECT_GE(kills, t.min_kills);
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
}

TEST(CrashTest, JsonLinesExportThroughRepeatedSigkills) {
  constexpr int kRecords = 100000;
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

TEST(CrashTest, HttpApiThroughRepeatedSigkills) {
  constexpr int kRecords = 12000;
  constexpr int kPage = 100;
  testing::SimulatedApiOptions options;
  options.start = T("2026-11-14T00:00:00Z");
  options.end = T("2026-11-18T00:00:00Z");
  options.records = kRecords;
  options.small_records = true;
  options.p500 = 0.05;
  options.p429 = 0.03;
  options.retry_after_seconds = 0;
  testing::SimulatedApi api(options);
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"), StrCat(R"({
    "name": "crash-http", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 3,
    "retry": {"initial_backoff": "1ms", "max_backoff": "10ms", "max_attempts": 20},
    "source": {"type": "http", "url": ")",
                                                  api.base_url(), R"(/v1/page",
               "query": {"from": "{start}", "to": "{end}", "page": "{page}", "limit": "{limit}"},
               "records": "/data", "page_size": )",
                                                  kPage, R"(, "pagination": {"type": "page"}},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true},
                                          {"name": "amount", "from": "/amount/value", "type": "decimal"}],
               "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
    "checkpoint": {"type": "file", "dir": "state"}})"));
  Torture t;
  t.dir = dir.path();
  t.job_name = "crash-http";
  t.plan = *PlanShards(options.start, options.end, absl::Hours(24));
  t.all_ids = api.Ids(options.start, options.end);
  t.min_kills = 12;
  t.max_external_delay_ms = 60;
  t.batch_at = [&](const Shard& shard, const std::string& cursor) {
    int64_t page = 1;
    if (!cursor.empty()) EXPECT_TRUE(absl::SimpleAtoi(cursor, &page));
    std::vector<std::string> ids = api.Ids(shard.start, shard.end);
    const size_t from = std::min(ids.size(), static_cast<size_t>((page - 1) * kPage));
    const size_t to = std::min(ids.size(), from + kPage);
    return std::vector<std::string>(ids.begin() + from, ids.begin() + to);
  };
  RunTorture(t);
}

}  // namespace
}  // namespace recovery
