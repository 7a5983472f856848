// Runs one recovery for crash_test and, when told to, kills itself with
// SIGKILL at a chosen moment:
//   crash_child JOB.json MODE N
// MODE: none | torn-sink (write half a line to the sink file, die, at the
// N-th sink write) | after-sink (die after the N-th write is acknowledged,
// before its checkpoint) | torn-checkpoint (write half a group to the
// checkpoint log, die, at the N-th group) | unsynced-checkpoint (die after the
// N-th group is written, before its fdatasync) | mid-compaction (die in the
// middle of the N-th compaction of the checkpoint log: after its new log, or
// after its snapshot) | after-checkpoint (die after the N-th save) |
// back-from-sink (die at the first checkpoint save that follows the N-th
// acknowledged write: the engine is back from the sink, the commit unsaved).
// MODE prefixed "callback:" delivers through a callback sink (which cannot
// roll back, so the crash-loop breaker is on) appending "KEY FLAG" lines to
// out.txt, rather than the JSON-lines sink.
// Checkpoints compact every 4 KiB here, so compactions happen in every run.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "checkpoint/checkpoint_log.h"
#include "recovery/backfiller.h"

namespace recovery {
namespace {

std::string g_mode;
int g_when = 0;
std::atomic<int> g_acked{0};  // writes the sink acknowledged in this run

void Die() { ::raise(SIGKILL); }

// The checkpoint log being written in `dir`: the highest generation.
std::string CurrentLog(const std::string& dir) {
  std::string best;
  int64_t best_gen = -1;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    int64_t gen;
    if (name.rfind("checkpoints.", 0) == 0 && name.size() > 16 && name.substr(name.size() - 4) == ".log" &&
        absl::SimpleAtoi(name.substr(12, name.size() - 16), &gen) && gen > best_gen) {
      best_gen = gen;
      best = e.path().string();
    }
  }
  return best;
}

void AppendRaw(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  (void)!::write(fd, bytes.data(), bytes.size());
  ::close(fd);
}

// Every other method, and so everything the engine asks about how the sink
// and the store commit, is the inner one's (SinkWrapper,
// CheckpointStoreWrapper): the torture tests the protocol the real
// components get.
class KillingSink : public SinkWrapper {
 public:
  KillingSink(std::unique_ptr<Sink> inner, std::string path)
      : SinkWrapper(std::move(inner)), path_(std::move(path)) {}
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    const int n = ++writes_;
    if (g_mode == "torn-sink" && n == g_when) {
      AppendRaw(path_, "{\"key\":\"torn\",\"event_time\":\"2026-11-14T0");
      Die();
    }
    absl::Status status = SinkWrapper::Write(request, result);
    if (g_mode == "after-sink" && n == g_when) Die();
    if (status.ok()) ++g_acked;
    return status;
  }

 private:
  std::string path_;
  std::atomic<int> writes_{0};
};

class KillingStore : public CheckpointStoreWrapper {
 public:
  explicit KillingStore(std::unique_ptr<CheckpointStore> inner) : CheckpointStoreWrapper(std::move(inner)) {}
  absl::Status Save(std::string_view j, std::string_view s, const Checkpoint& c) override {
    const int n = ++saves_;
    if (g_mode == "back-from-sink" && g_acked >= g_when) Die();
    absl::Status st = CheckpointStoreWrapper::Save(j, s, c);
    if (g_mode == "after-checkpoint" && n == g_when) Die();
    return st;
  }
  absl::Status SaveAll(std::string_view j,
                       absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) override {
    const int n = ++saves_;
    if (g_mode == "back-from-sink" && g_acked >= g_when) Die();
    absl::Status st = CheckpointStoreWrapper::SaveAll(j, checkpoints);
    if (g_mode == "after-checkpoint" && n == g_when) Die();
    return st;
  }

 private:
  std::atomic<int> saves_{0};
};

// Kills the process at moments inside the checkpoint log (checkpoint_log.h).
CheckpointLogOptions KillingLogOptions(std::string job_dir) {
  CheckpointLogOptions o;
  o.compact_after_bytes = 4096;
  o.at = [job_dir, groups = std::make_shared<std::atomic<int>>(0),
          compactions = std::make_shared<std::atomic<int>>(0)](std::string_view moment) {
    if (moment == "group writing" && g_mode == "torn-checkpoint" && ++*groups == g_when) {
      // Half a group: its header promises more than follows.
      AppendRaw(CurrentLog(job_dir),
                std::string("G\x40\x01\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08S\x05", 16));
      Die();
    }
    if (moment == "group written" && g_mode == "unsynced-checkpoint" && ++*groups == g_when) Die();
    if (g_mode == "mid-compaction" && moment == "compaction starting") ++*compactions;
    if (g_mode == "mid-compaction" && *compactions == (g_when + 1) / 2 &&
        moment == (g_when % 2 == 0 ? "compaction log created" : "compaction snapshot renamed")) {
      Die();
    }
  };
  return o;
}

// Appends "KEY FLAG" per record to `path`, synced, as an integration's
// handler might.
std::unique_ptr<Sink> NewLinesCallbackSink(const std::string& path) {
  return NewCallbackSink([path](const Shard&, absl::Span<const Record> records) -> absl::Status {
    std::string lines;
    for (const Record& r : records) lines += std::string(r.key) + (r.maybe_redelivered ? " 1\n" : " 0\n");
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return absl::InternalError("cannot open " + path);
    const bool ok =
        ::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()) && ::fsync(fd) == 0;
    ::close(fd);
    return ok ? absl::OkStatus() : absl::InternalError("cannot write " + path);
  });
}

int Main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_child JOB.json MODE N\n");
    return 2;
  }
  g_mode = argv[2];
  g_when = std::atoi(argv[3]);
  const bool callback = g_mode.rfind("callback:", 0) == 0;
  if (callback) g_mode = g_mode.substr(9);
  auto spec = JobSpec::FromFile(argv[1]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 2;
  }
  const std::string sink_path = spec->base_dir + "/out.jsonl";
  const std::string state_dir = spec->base_dir + "/state";
  JsonlFileSinkOptions sink_options{sink_path};
  sink_options.format = JsonlFormat::kEnvelope;
  Components c;
  c.sink = std::make_unique<KillingSink>(
      callback ? NewLinesCallbackSink(spec->base_dir + "/out.txt") : *NewJsonlFileSink(sink_options),
      sink_path);
  c.checkpoints = std::make_unique<KillingStore>(
      *NewFileCheckpointStore(state_dir, KillingLogOptions(state_dir + "/" + spec->name)));
  auto backfiller = Backfiller::Create(*spec, std::move(c));
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    return 2;
  }
  RunResult result = (*backfiller)->Run();
  if (!result.status.ok()) {
    std::fprintf(stderr, "%s\n", result.status.ToString().c_str());
    return 1;
  }
  return result.complete ? 0 : 3;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc, argv); }
