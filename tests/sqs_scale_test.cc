// The SQS tier at volume: 50,000 messages drained by the command-line tool
// through SIGKILLs, from a standard and from a FIFO queue, into the fsync'ed
// JSON-lines sink. Every message must land exactly once, the queue must end
// empty, and a FIFO queue's groups must keep their order in the file.
//
// The queue is the project's fake SQS (tests/testing/fake_sqs.h): moto scans
// the whole queue on every receive (about 3 s per ReceiveMessage at 3,000
// messages), far too slow for this; the fake keeps what matters here
// (visibility timeouts, receive counts, in-flight counts, FIFO group locks)
// and is checked against moto in
// SqsTest.TheFakeBehavesAsMotoDoesOnVisibilityReceiveCountsAndFifoGroups.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "testing/fake_sqs.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using testing::FakeSqs;
using testing::ReadLines;
using testing::TempDir;
using testing::WriteFile;

constexpr int kMessages = 50000;
constexpr int kGroups = 40;  // FIFO message groups
constexpr int kKills = 8;

std::string Body(int i) {
  return absl::StrCat(R"({"id":"m)", i, R"(","group":"g)", i % kGroups, R"(","n":)", i / kGroups,
                      R"(,"ts":"2026-11-14T01:00:00Z"})");
}

struct Line {
  int id = -1;
  int group = -1;
  int n = -1;
};

// The sink's lines, read back.
std::vector<Line> ReadBack(const std::string& path) {
  std::vector<Line> out;
  simdjson::dom::parser parser;
  for (const std::string& l : ReadLines(path)) {
    Line line;
    simdjson::dom::element data;
    std::string_view id, group;
    int64_t n = -1;
    if (parser.parse(l).get(data) == simdjson::SUCCESS &&
        data["id"].get_string().get(id) == simdjson::SUCCESS &&
        data["group"].get_string().get(group) == simdjson::SUCCESS &&
        data["n"].get_int64().get(n) == simdjson::SUCCESS) {
      line.id = std::stoi(std::string(id.substr(1)));
      line.group = std::stoi(std::string(group.substr(1)));
      line.n = static_cast<int>(n);
    }
    out.push_back(line);
  }
  return out;
}

class SqsScaleTest : public ::testing::TestWithParam<bool> {};

TEST_P(SqsScaleTest, FiftyThousandMessagesThroughSigkillsLandExactlyOnceAndTheQueueEndsEmpty) {
  const bool fifo = GetParam();
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  FakeSqs fake(fifo ? "scale.fifo" : "scale");
  for (int i = 0; i < kMessages; ++i) fake.Send(Body(i), absl::StrCat("g", i % kGroups));
  TempDir dir;
  const std::string out = dir.File("out.jsonl");
  const std::string job = dir.File("job.json");
  // No poison limit: a message in flight at several kills is received that
  // many times, and this test is about exactly once, not about poison.
  WriteFile(job, R"({"name":"scale","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"sqs","queue_url":")" +
                     fake.queue_url() + R"(","endpoint":")" + fake.endpoint() +
                     R"(","region":"us-east-1","wait_time":"1s","drain_after_empty_receives":2,
              "visibility_timeout":"2s","receivers":4,"max_page_records":500,"max_receive_count":0},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},{"name":"group","from":"/group"},
                                      {"name":"n","from":"/n","type":"int64"}],
              "key":{"from":"/id"},"event_time":{"from":"/ts"}},
    "sink":{"type":"jsonl_file","path":")" +
                     out + R"("},
    "checkpoint":{"type":"file","dir":")" +
                     dir.File("state") + R"("},
    "dead_letters":{"type":"file","path":")" +
                     dir.File("dead.jsonl") + R"("},
    "retry":{"initial_backoff":"10ms","max_backoff":"200ms","max_attempts":8}})");

  std::mt19937 rng(fifo ? 11 : 5);
  int kills = 0, kills_in_flight = 0, runs = 0;
  const absl::Time started = absl::Now();
  for (int run = 0; run < kKills + 6; ++run) {
    ++runs;
    const int64_t out_before = testing::FileSize(out);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(RECOVERY_CLI, RECOVERY_CLI, "run", job.c_str(), nullptr);
      _exit(127);
    }
    // Once a page of this run reached the sink, a random moment later.
    if (run < kKills) {
      testing::KillAfterProgress(pid, out, out_before, std::uniform_int_distribution<int>(0, 400)(rng));
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      kills_in_flight += fake.counts().in_flight > 0;  // received, not yet deleted
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) break;
    ASSERT_FALSE(WIFEXITED(status)) << "run " << run << " exited " << WEXITSTATUS(status) << ": "
                                    << testing::ReadFileOrEmpty(dir.File("dead.jsonl")).substr(0, 500);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);

  EXPECT_GE(kills, kKills - 1);  // the last may land after the drain finished
  EXPECT_GT(kills_in_flight, 0) << "no kill caught messages in flight: the test tested nothing";
  const std::vector<Line> lines = ReadBack(out);
  std::vector<int> seen(kMessages, 0);
  int unreadable = 0, duplicates = 0, out_of_order = 0;
  std::map<int, int> next_in_group;
  for (const Line& l : lines) {
    if (l.id < 0 || l.id >= kMessages) {
      ++unreadable;
      continue;
    }
    duplicates += seen[l.id]++ > 0;
    if (fifo) {
      // Within a group the file must hold 0, 1, 2, ... in order.
      out_of_order += l.n != next_in_group[l.group];
      next_in_group[l.group] = l.n + 1;
    }
  }
  int lost = 0;
  for (int count : seen) lost += count == 0;
  const FakeSqs::Counts counts = fake.counts();
  EXPECT_EQ(unreadable, 0);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(lines.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(fake.size(), 0u) << "the queue still holds messages";
  EXPECT_EQ(counts.deleted, kMessages);
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.File("dead.jsonl")), "");
  std::printf(
      "sqs scale (%s): %d messages, %d runs, %d kills (%d with messages in flight), %.1f s, "
      "received %lld (%lld again), highest receive count %d, deletes by an old receipt %lld, lost %d, "
      "duplicates %d\n",
      fifo ? "FIFO" : "standard", kMessages, runs, kills, kills_in_flight, seconds,
      static_cast<long long>(counts.received), static_cast<long long>(counts.redelivered),
      counts.max_receive_count, static_cast<long long>(counts.stale_deletes), lost, duplicates);
}

INSTANTIATE_TEST_SUITE_P(Queues, SqsScaleTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Fifo" : "Standard";
                         });

}  // namespace
}  // namespace recovery
