// Replays a job's dead letters and dies with SIGKILL right after the sink
// took its N-th batch, before that batch's checkpoint: the worst moment for
// exactly-once. Driven by replay_test.cc.
//
//   replay_child JOB.json PAGE_SIZE N
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "borrowed.h"
#include "recovery/backfiller.h"
#include "spec/components.h"

namespace recovery {
namespace {

class DieAfterWrite : public BorrowedSink {
 public:
  DieAfterWrite(std::unique_ptr<Sink> inner, int n)
      : BorrowedSink(inner.get()), inner_(std::move(inner)), n_(n) {}
  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>* rejected) override {
    absl::StatusOr<std::string> token = BorrowedSink::Write(shard, batch, rejected);
    if (++writes_ == n_) kill(getpid(), SIGKILL);
    return token;
  }
  // Under a lease (the PostgreSQL store) the engine writes through this one.
  absl::StatusOr<std::string> WriteFenced(const Shard& shard, const RecordBatch& batch,
                                          std::vector<SinkRejection>* rejected,
                                          const WriteFence& fence) override {
    absl::StatusOr<std::string> token = BorrowedSink::WriteFenced(shard, batch, rejected, fence);
    if (++writes_ == n_) kill(getpid(), SIGKILL);
    return token;
  }

 private:
  std::unique_ptr<Sink> inner_;
  const int n_;
  std::atomic<int> writes_{0};
};

int Main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: replay_child JOB.json PAGE_SIZE N\n");
    return 2;
  }
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(argv[1]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Sink>> sink = BuildSink(*spec);
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", sink.status().ToString().c_str());
    return 2;
  }
  Components c;
  c.sink = std::make_unique<DieAfterWrite>(*std::move(sink), std::atoi(argv[3]));
  BackfillerOptions options;
  options.replay.emplace().page_size = std::atoi(argv[2]);
  auto backfiller = Backfiller::Create(*spec, std::move(c), std::move(options));
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    return 2;
  }
  RunResult r = (*backfiller)->Run();
  std::fprintf(stderr, "%s %s\n", std::string(RunOutcomeName(r.outcome)).c_str(),
               r.status.ToString().c_str());
  return r.outcome == RunOutcome::kDone ? 0 : 1;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc, argv); }
