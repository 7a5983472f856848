// The file checkpoint store's log: group commit, torn tails, corruption,
// compaction, migration of per-shard files, several processes, and crashes at
// every moment of a group commit and of a compaction.
#include "checkpoint/checkpoint_log.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "checkpoint/checkpoint_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "testing/test_util.h"
#include "util/group_commit.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::ReadFileOrEmpty;
using testing::TempDir;
using testing::WriteFile;

Checkpoint At(int n) {
  Checkpoint c;
  c.state = ShardState::kRunning;
  c.cursor = StrCat("cursor-", n);
  c.counters.records_delivered = static_cast<uint64_t>(n);
  return c;
}

int64_t CursorOf(CheckpointStore& store, std::string_view shard) {
  absl::StatusOr<std::optional<Checkpoint>> c = store.Load("job", shard);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok() || !c->has_value()) return -1;
  return static_cast<int64_t>((*c)->counters.records_delivered);
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CheckpointLogTest, ConcurrentSavesShareOneFdatasyncPerGroup) {
  // The first group's write is held until every saver has queued its save:
  // whatever the scheduler does, the 64 saves then fit in at most two groups
  // (the one being written, and the one that filled meanwhile) where
  // ungrouped saves would take 64.
  TempDir dir;
  constexpr int kShards = 64, kSaves = 20;
  absl::Mutex mu;
  int queued = 0, groups = 0;
  bool hold = true;
  CheckpointLogOptions o;
  o.at = [&](std::string_view moment) {
    absl::MutexLock lock(&mu);
    if (moment == "save queued") ++queued;
    if (moment == "group synced") ++groups;
    if (moment == "group writing" && hold) {
      auto all_queued = [&] { return queued >= kShards; };
      mu.Await(absl::Condition(&all_queued));
      hold = false;
    }
  };
  auto store = *NewFileCheckpointStore(dir.path(), o);
  auto save_from_every_shard = [&](int from, int to) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kShards; ++t) {
      threads.emplace_back([&, t] {
        for (int i = from; i <= to; ++i) ASSERT_TRUE(store->Save("job", StrCat("s", t), At(i)).ok());
      });
    }
    for (std::thread& t : threads) t.join();
  };
  save_from_every_shard(1, 1);
  {
    absl::MutexLock lock(&mu);
    EXPECT_LE(groups, 2) << "saves were not grouped";
  }
  // Then many rounds at once, grouped as the threads happen to meet: every
  // last save is durable and readable by another process.
  save_from_every_shard(2, kSaves);
  auto reader = *NewFileCheckpointStore(dir.path());  // as `recovery status` in another process
  for (int t = 0; t < kShards; ++t) EXPECT_EQ(CursorOf(*reader, StrCat("s", t)), kSaves);
  absl::MutexLock lock(&mu);
  std::printf("%d saves from %d threads in %d groups\n", kShards * kSaves, kShards, groups);
}

TEST(CheckpointLogTest, ATornTailIsIgnoredAndCutByTheNextWriter) {
  TempDir dir;
  {
    auto store = *NewFileCheckpointStore(dir.path());
    ASSERT_TRUE(store->Save("job", "s1", At(1)).ok());
    ASSERT_TRUE(store->Save("job", "s1", At(2)).ok());
  }
  const std::string log = dir.File("job/checkpoints.0.log");
  const std::string whole = ReadFileOrEmpty(log);
  // A crash in the middle of writing a group: a header and part of a body.
  std::string torn = whole.substr(whole.find('G'), 40);
  WriteFile(log, whole + torn);
  auto reader = *NewFileCheckpointStore(dir.path());
  EXPECT_EQ(CursorOf(*reader, "s1"), 2);
  auto writer = *NewFileCheckpointStore(dir.path());
  ASSERT_TRUE(writer->Save("job", "s1", At(3)).ok());
  EXPECT_EQ(ReadFileOrEmpty(log).find(torn, whole.size()), std::string::npos) << "the torn tail stayed";
  EXPECT_EQ(CursorOf(*NewFileCheckpointStore(dir.path()).value(), "s1"), 3);
  EXPECT_EQ(CursorOf(*reader, "s1"), 3);  // a reader follows the writer
}

TEST(CheckpointLogTest, PerShardFilesAreReadAsTheyAreAndMigratedByTheFirstSave) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("job"));
  WriteFile(dir.File("job/a.ckpt"), EncodeCheckpoint("job", "a", At(7)));
  WriteFile(dir.File("job/b.ckpt"), EncodeCheckpoint("job", "b", At(8)));
  WriteFile(dir.File("job/c.ckpt.tmp"), "{\"format\":\"recovery-ch");  // a save torn by a crash
  auto store = *NewFileCheckpointStore(dir.path());
  EXPECT_EQ(CursorOf(*store, "a"), 7);
  EXPECT_EQ(CursorOf(*store, "b"), 8);
  EXPECT_EQ(CursorOf(*store, "c"), -1);
  EXPECT_TRUE(std::filesystem::exists(dir.File("job/a.ckpt"))) << "reading must not migrate";
  ASSERT_TRUE(store->Save("job", "c", At(9)).ok());
  EXPECT_EQ(Files(dir.File("job")),
            std::vector<std::string>({"checkpoints.1.log", "checkpoints.lock", "checkpoints.snapshot"}));
  auto again = *NewFileCheckpointStore(dir.path());
  EXPECT_EQ(CursorOf(*again, "a"), 7);
  EXPECT_EQ(CursorOf(*again, "b"), 8);
  EXPECT_EQ(CursorOf(*again, "c"), 9);

  // A per-shard file that is corrupt stops the migration, naming it.
  TempDir bad;
  std::filesystem::create_directories(bad.File("job"));
  WriteFile(bad.File("job/a.ckpt"), EncodeCheckpoint("job", "a", At(7)).substr(0, 20));
  auto s = (*NewFileCheckpointStore(bad.path()))->Save("job", "z", At(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr(bad.File("job/a.ckpt")));
}

TEST(CheckpointLogTest, CompactionKeepsTheLatestOfEveryShardAndReadersFollowIt) {
  TempDir dir;
  CheckpointLogOptions o;
  o.compact_after_bytes = 4000;
  auto store = *NewFileCheckpointStore(dir.path(), o);
  auto reader = *NewFileCheckpointStore(dir.path());
  for (int i = 1; i <= 200; ++i) {
    ASSERT_TRUE(store->Save("job", StrCat("s", i % 7), At(i)).ok());
    if (i == 100) ASSERT_TRUE(store->Delete("job", "s3").ok());
    if (i % 50 == 0) EXPECT_EQ(CursorOf(*reader, StrCat("s", i % 7)), i);
  }
  const std::vector<std::string> files = Files(dir.File("job"));
  EXPECT_EQ(files.size(), 3u) << "old logs were not removed";
  EXPECT_NE(files.front(), "checkpoints.0.log") << "never compacted";
  for (int s = 0; s < 7; ++s) {
    const int last = 200 - ((200 - s) % 7);
    EXPECT_EQ(CursorOf(*reader, StrCat("s", s)), last) << s;
    EXPECT_EQ(CursorOf(*NewFileCheckpointStore(dir.path()).value(), StrCat("s", s)), last) << s;
  }
}

TEST(CheckpointLogTest, ANewerFormatIsRefusedAndCorruptionInTheMiddleIsDataLoss) {
  TempDir dir;
  CheckpointLogOptions o;
  o.compact_after_bytes = 1;  // every save compacts: a snapshot exists
  auto store = *NewFileCheckpointStore(dir.path(), o);
  ASSERT_TRUE(store->Save("job", "s1", At(1)).ok());
  const std::string snapshot = dir.File("job/checkpoints.snapshot");
  std::string bytes = ReadFileOrEmpty(snapshot);
  WriteFile(snapshot, "recovery-checkpoint-snapshot 9 " + bytes.substr(bytes.find(' ', 30) + 1));
  auto r = (*NewFileCheckpointStore(dir.path()))->Load("job", "s1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("upgrade recovery"));
  bytes[bytes.size() - 10] ^= 1;  // a snapshot is whole or nothing
  WriteFile(snapshot, bytes);
  r = (*NewFileCheckpointStore(dir.path()))->Load("job", "s1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(snapshot));
}

// Saves 1, 2, 3, … to one shard in a child process that dies at the `n`th
// time `moment` comes; reports each acknowledged save through a pipe.
struct CrashOutcome {
  int last_acknowledged = 0;
  int died = 0;
};

CrashOutcome SaveUntilKilled(const std::string& dir, const std::string& moment, int n,
                             uint64_t compact_after) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    CheckpointLogOptions o;
    o.compact_after_bytes = compact_after;
    std::atomic<int> seen{0};
    o.at = [&](std::string_view m) {
      if (m == moment && ++seen == n) _exit(9);
    };
    auto store = *NewFileCheckpointStore(dir, o);
    for (int i = 1; i <= 400; ++i) {
      if (!store->Save("job", StrCat("s", i % 3), At(i)).ok()) _exit(2);
      (void)!write(fds[1], &i, sizeof i);
    }
    _exit(0);
  }
  close(fds[1]);
  CrashOutcome out;
  int v;
  while (read(fds[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) out.last_acknowledged = v;
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  out.died = WIFEXITED(status) && WEXITSTATUS(status) == 9;
  return out;
}

TEST(CheckpointLogTest, AKillAtAnyMomentOfAGroupCommitOrACompactionLosesNoAcknowledgedSave) {
  for (const char* moment : {"group writing", "group written", "group synced", "compaction starting",
                             "compaction log created", "compaction snapshot renamed", "compaction done"}) {
    for (int n : {1, 3, 7}) {
      SCOPED_TRACE(StrCat(moment, " #", n));
      TempDir dir;
      const CrashOutcome crash = SaveUntilKilled(dir.path(), moment, n, /*compact_after=*/1500);
      ASSERT_TRUE(crash.died) << "the child never reached the moment";
      auto store = *NewFileCheckpointStore(dir.path());
      // Every shard holds its last acknowledged save, or the one in flight at the kill.
      for (int s = 0; s < 3; ++s) {
        int acknowledged = 0;
        for (int i = 1; i <= crash.last_acknowledged; ++i) {
          if (i % 3 == s) acknowledged = i;
        }
        const int64_t got = std::max<int64_t>(0, CursorOf(*store, StrCat("s", s)));  // 0: never saved
        const int in_flight = crash.last_acknowledged + 1;
        EXPECT_TRUE(got == acknowledged || (in_flight % 3 == s && got == in_flight))
            << "shard s" << s << ": " << got << ", acknowledged " << acknowledged;
      }
      // And the next writer carries on from there.
      ASSERT_TRUE(store->Save("job", "s0", At(1000)).ok());
      EXPECT_EQ(CursorOf(*NewFileCheckpointStore(dir.path()).value(), "s0"), 1000);
    }
  }
}

TEST(CheckpointLogTest, TwoProcessesSavingDifferentShardsAtOnceLoseNothing) {
  TempDir dir;
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      CheckpointLogOptions o;
      o.compact_after_bytes = 3000;  // compactions by both, interleaved with the other's appends
      auto store = *NewFileCheckpointStore(dir.path(), o);
      for (int i = 1; i <= 300; ++i) {
        if (!store->Save("job", StrCat("p", p, "-", i % 5), At(i)).ok()) _exit(2);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto store = *NewFileCheckpointStore(dir.path());
  for (int p = 0; p < 2; ++p) {
    for (int s = 0; s < 5; ++s) EXPECT_EQ(CursorOf(*store, StrCat("p", p, "-", s)), 300 - ((300 - s) % 5));
  }
}

// ---- commit groups: a shared file's batches made durable together -------------

// The JSON-lines sink whose `fail_at`th Sync() fails after losing what was
// not yet durable (as a disk that drops its cache would).
class LosingSink : public SinkWrapper {
 public:
  LosingSink(std::unique_ptr<Sink> inner, std::string path, int fail_at)
      : SinkWrapper(std::move(inner)), path_(std::move(path)), fail_at_(fail_at) {}
  SinkTraits traits() const override {
    SinkTraits t = SinkWrapper::traits();
    t.serialize_commits = t.defers_sync = true;
    return t;
  }
  absl::Status Sync() override {
    absl::MutexLock lock(&mu_);
    if (++syncs_ == fail_at_) {
      std::filesystem::resize_file(path_, durable_);
      return absl::DataLossError("fdatasync failed: the disk dropped its cache");
    }
    RECOVERY_RETURN_IF_ERROR(SinkWrapper::Sync());
    durable_ = std::filesystem::file_size(path_);
    return absl::OkStatus();
  }
  int syncs() {
    absl::MutexLock lock(&mu_);
    return syncs_;
  }

 private:
  const std::string path_;
  const int fail_at_;
  absl::Mutex mu_;
  int syncs_ ABSL_GUARDED_BY(mu_) = 0;
  uintmax_t durable_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(CommitGroupTest, ShardsShareSyncsAndAFailedGroupLeavesNoCheckpointVouchingForLostBytes) {
  TempDir dir;
  std::string input;
  for (int i = 0; i < 4000; ++i) {
    input += StrCat(R"({"id":"r)", i, R"(","ts":")", i < 2000 ? "2026-11-14" : "2026-11-15", "T",
                    absl::StrFormat("%02d", (i % 2000) * 24 / 2000), ":00:00Z\"}\n");
  }
  WriteFile(dir.File("in.jsonl"), input);
  const std::string job = StrCat(
      R"({"name":"groups","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-16T00:00:00Z"},
      "shard_duration":"6h","concurrency":8,"retry":{"max_attempts":1},
      "source":{"type":"jsonl_file","path":")",
      dir.File("in.jsonl"), R"(","batch_size":20},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/ts"}},
      "sink":{"type":"jsonl_file","path":")",
      dir.File("out.jsonl"), R"(","format":"envelope"},"checkpoint":{"type":"file","dir":")",
      dir.File("state"), R"("}})");
  auto run = [&](int fail_at, int* syncs) {
    JobSpec spec = *JobSpec::Parse(job);
    JsonlFileSinkOptions o;
    o.path = dir.File("out.jsonl");
    o.format = JsonlFormat::kEnvelope;
    auto sink = std::make_unique<LosingSink>(*NewJsonlFileSink(o), o.path, fail_at);
    LosingSink* losing = sink.get();
    Components c;
    c.sink = std::move(sink);
    auto b = *Backfiller::Create(spec, std::move(c), {});
    RunResult r = b->Run();
    *syncs = losing->syncs();
    return r;
  };
  int syncs = 0;
  RunResult failed = run(/*fail_at=*/8, &syncs);
  EXPECT_FALSE(failed.status.ok());
  EXPECT_THAT(std::string(failed.status.message()), HasSubstr("disk dropped its cache"));
  RunResult done = run(/*fail_at=*/0, &syncs);
  ASSERT_TRUE(done.status.ok()) << done.status;
  // 200 pages, fewer syncs: batches of several shards shared them.
  EXPECT_LT(syncs, 200);
  std::map<std::string, int> seen;
  for (const std::string& line : testing::ReadLines(dir.File("out.jsonl"))) {
    ++seen[line.substr(line.find("\"key\":\"") + 7,
                       line.find('"', line.find("\"key\":\"") + 7) - line.find("\"key\":\"") - 7)];
  }
  EXPECT_EQ(seen.size(), 4000u);
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key;
  std::printf("commit groups: 200 pages, %d syncs\n", syncs);
}

// The group commit both the log and the engine build on: every writer's
// item is flushed exactly once, groups flush in the order they were joined,
// and a failed flush fails exactly the writers of its group.
TEST(GroupCommitterTest, EveryItemFlushesOnceInJoinOrderAndAFailureReachesOnlyItsGroup) {
  GroupCommitter<std::vector<int>> committer;
  std::vector<int> joined, flushed;  // joined: under the committer's lock; flushed: one flush at a time
  std::vector<std::vector<int>> groups;
  constexpr int kWriters = 64, kFailing = 13;
  std::vector<absl::Status> results(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      results[i] = committer.Commit(
          [&](std::vector<int>& batch) {
            batch.push_back(i);
            joined.push_back(i);
          },
          [&](std::vector<int>& batch) {
            groups.push_back(batch);
            flushed.insert(flushed.end(), batch.begin(), batch.end());
            std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the next group fill
            for (int v : batch)
              if (v == kFailing) return absl::DataLossError("fdatasync failed");
            return absl::OkStatus();
          });
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(flushed, joined);
  ASSERT_EQ(flushed.size(), static_cast<size_t>(kWriters));
  for (const std::vector<int>& group : groups) {
    const bool failed = std::find(group.begin(), group.end(), kFailing) != group.end();
    for (int v : group) EXPECT_EQ(results[v].ok(), !failed) << v << ": " << results[v];
  }
}

}  // namespace
}  // namespace recovery
