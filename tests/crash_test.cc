// Crash/resume: a child process recovers 100,000 records and is killed with
// SIGKILL again and again — at random moments, mid sink write, between a
// sink write and its checkpoint, mid checkpoint save — and resumed each time.
// At the end the sink file must hold every record exactly once, and the
// redelivery flag must appear on exactly the records of the batches that were
// in flight at a kill.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "recovery/checkpoint_store.h"
#include "recovery/shard.h"
#include "simdjson.h"
#include "testing/test_util.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using testing::T;

constexpr int kRecords = 100000;
constexpr int kBatch = 250;
constexpr int kMinKills = 20;

std::string Line(int i, absl::Time t) {
  return "{\"id\":\"r" + std::to_string(i) + "\",\"ts\":\"" + FormatRfc3339(t) + "\",\"amount\":\"" +
         std::to_string(i % 1000) + ".25\",\"note\":\"crash torture record\"}";
}

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

TEST(CrashTest, EveryRecordExactlyOnceThroughRepeatedSigkills) {
  testing::TempDir dir;
  const absl::Time start = T("2026-11-14T00:00:00Z");
  const absl::Time end = T("2026-11-18T00:00:00Z");
  std::vector<std::string> lines;
  std::vector<absl::Time> times;
  std::string input;
  for (int i = 0; i < kRecords; ++i) {
    times.push_back(start + (end - start) * i / kRecords);
    lines.push_back(Line(i, times.back()));
    input += lines.back() + "\n";
  }
  testing::WriteFile(dir.File("in.jsonl"), input);
  testing::WriteFile(dir.File("job.json"), R"({
    "name": "crash", "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
    "shard_duration": "1d", "concurrency": 2,
    "source": {"type": "jsonl_file", "path": "in.jsonl", "batch_size": )" +
                                               std::to_string(kBatch) + R"(},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": true},
                                          {"name": "amount", "from": "/amount", "type": "decimal"}],
               "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
    "checkpoint": {"type": "file", "dir": "state"}})");
  auto plan = *PlanShards(start, end, absl::Hours(24));
  auto store = *NewFileCheckpointStore(dir.File("state"));

  // Byte offset of each line, to find the batch a cursor starts.
  std::map<uint64_t, int> line_at;
  uint64_t offset = 0;
  for (int i = 0; i < kRecords; ++i) {
    line_at[offset] = i;
    offset += lines[i].size() + 1;
  }

  std::mt19937 rng(20261122);
  const char* kModes[] = {"external", "torn-sink", "after-sink", "torn-checkpoint", "after-checkpoint"};
  std::set<std::string> expected_flagged;
  std::map<std::string, int> kills_by_mode;
  int kills = 0, runs = 0;
  bool done = false;
  while (!done) {
    ASSERT_LT(++runs, 500) << "no progress";
    const bool last = kills >= kMinKills + 10;  // enough: let it finish
    const std::string mode = last ? "none" : kModes[rng() % 5];
    const int when = 1 + static_cast<int>(rng() % 6);
    const int delay = mode == "external" ? static_cast<int>(rng() % 150) : -1;
    const int status = RunChild(dir.File("job.json"), mode == "external" ? "none" : mode, when, delay);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed in mode " << mode;
      done = true;
      break;
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ++kills;
    ++kills_by_mode[mode];
    // The checkpoints are always readable; a batch in flight will be redelivered flagged.
    for (const Shard& shard : plan) {
      auto ck = store->Load("crash", shard.id);
      ASSERT_TRUE(ck.ok()) << ck.status();
      if (!ck->has_value() || !(*ck)->in_flight) continue;
      uint64_t at = 0;
      if (!(*ck)->cursor.empty()) ASSERT_TRUE(absl::SimpleAtoi((*ck)->cursor, &at));
      ASSERT_TRUE(line_at.count(at)) << "cursor not at a line start: " << at;
      for (int i = line_at[at]; i < std::min(kRecords, line_at[at] + kBatch); ++i) {
        if (times[i] >= shard.start && times[i] < shard.end) expected_flagged.insert("r" + std::to_string(i));
      }
    }
  }
  EXPECT_GE(kills, kMinKills);
  for (const char* m : kModes) EXPECT_GT(kills_by_mode[m], 0) << m;

  std::map<std::string, int> seen;
  std::set<std::string> flagged;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(dir.File("out.jsonl"))) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << "torn line survived: " << line;
    std::string key(e["key"].get_string().value());
    ++seen[key];
    if (e["maybe_redelivered"].get_bool().value()) flagged.insert(key);
  }
  int lost = 0, duplicates = 0;
  for (int i = 0; i < kRecords; ++i) {
    int n = seen["r" + std::to_string(i)];
    lost += n == 0;
    duplicates += n > 1;
  }
  std::printf("kills=%d records=%d lost=%d duplicates=%d flagged=%zu\n", kills, kRecords, lost, duplicates,
              flagged.size());
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(flagged, expected_flagged);
}

}  // namespace
}  // namespace recovery
