// Runs one recovery for crash_test and, when told to, kills itself with
// SIGKILL at a chosen moment:
//   crash_child JOB.json MODE N
// MODE: none | torn-sink (write half a line to the sink file, die, at the
// N-th sink write) | after-sink (die after the N-th write is acknowledged,
// before its checkpoint) | torn-checkpoint (write half a temp checkpoint, die,
// at the N-th save) | after-checkpoint (die after the N-th save).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "recovery/backfiller.h"

namespace recovery {
namespace {

std::string g_mode;
int g_when = 0;

void Die() { ::raise(SIGKILL); }

void AppendRaw(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  (void)!::write(fd, bytes.data(), bytes.size());
  ::close(fd);
}

class KillingSink : public Sink {
 public:
  KillingSink(std::unique_ptr<Sink> inner, std::string path)
      : inner_(std::move(inner)), path_(std::move(path)) {}
  absl::Status Open(const SinkOpenContext& c) override { return inner_->Open(c); }
  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>* rejected) override {
    const int n = ++writes_;
    if (g_mode == "torn-sink" && n == g_when) {
      AppendRaw(path_, "{\"key\":\"torn\",\"event_time\":\"2026-11-14T0");
      Die();
    }
    auto token = inner_->Write(shard, batch, rejected);
    if (g_mode == "after-sink" && n == g_when) Die();
    return token;
  }
  absl::Status Close() override { return inner_->Close(); }
  bool serialize_commits() const override { return inner_->serialize_commits(); }

 private:
  std::unique_ptr<Sink> inner_;
  std::string path_;
  std::atomic<int> writes_{0};
};

class KillingStore : public CheckpointStore {
 public:
  KillingStore(std::unique_ptr<CheckpointStore> inner, std::string dir)
      : inner_(std::move(inner)), dir_(std::move(dir)) {}
  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view j, std::string_view s) override {
    return inner_->Load(j, s);
  }
  absl::Status Save(std::string_view j, std::string_view s, const Checkpoint& c) override {
    const int n = ++saves_;
    if (g_mode == "torn-checkpoint" && n == g_when) {
      AppendRaw(dir_ + "/" + std::string(j) + "/" + std::string(s) + ".ckpt.tmp",
                "{\"format\":\"recovery-checkp");
      Die();
    }
    absl::Status st = inner_->Save(j, s, c);
    if (g_mode == "after-checkpoint" && n == g_when) Die();
    return st;
  }
  absl::Status Delete(std::string_view j, std::string_view s) override { return inner_->Delete(j, s); }
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view j, std::string_view scope) override {
    return inner_->Lock(j, scope);
  }

 private:
  std::unique_ptr<CheckpointStore> inner_;
  std::string dir_;
  std::atomic<int> saves_{0};
};

int Main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_child JOB.json MODE N\n");
    return 2;
  }
  g_mode = argv[2];
  g_when = std::atoi(argv[3]);
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
  c.sink = std::make_unique<KillingSink>(*NewJsonlFileSink(sink_options), sink_path);
  c.checkpoints = std::make_unique<KillingStore>(*NewFileCheckpointStore(state_dir), state_dir);
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
