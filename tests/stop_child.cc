// Runs a job and stops itself with SIGSTOP just before the sink's N-th
// write, past its lease check: a worker paused at the worst moment (a long
// GC, a VM migration). Driven by postgres_test.cc, which lets another worker
// take the shard over, then resumes this one with SIGCONT.
//
//   stop_child JOB.json N      exit 0 done, 1 otherwise (the outcome on stderr)
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "borrowed.h"
#include "recovery/backfiller.h"
#include "spec/components.h"

namespace recovery {
namespace {

class StopBeforeWrite : public BorrowedSink {
 public:
  StopBeforeWrite(std::unique_ptr<Sink> inner, int n)
      : BorrowedSink(inner.get()), inner_(std::move(inner)), n_(n) {}
  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>* rejected) override {
    if (++writes_ == n_) raise(SIGSTOP);
    return BorrowedSink::Write(shard, batch, rejected);
  }
  absl::StatusOr<std::string> WriteFenced(const Shard& shard, const RecordBatch& batch,
                                          std::vector<SinkRejection>* rejected,
                                          const WriteFence& fence) override {
    if (++writes_ == n_) raise(SIGSTOP);
    return BorrowedSink::WriteFenced(shard, batch, rejected, fence);
  }

 private:
  std::unique_ptr<Sink> inner_;
  const int n_;
  std::atomic<int> writes_{0};
};

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: stop_child JOB.json N\n");
    return 2;
  }
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(argv[1]);
  absl::StatusOr<std::unique_ptr<Sink>> sink = spec.ok() ? BuildSink(*spec) : spec.status();
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", sink.status().ToString().c_str());
    return 2;
  }
  Components c;
  c.sink = std::make_unique<StopBeforeWrite>(*std::move(sink), std::atoi(argv[2]));
  auto backfiller = Backfiller::Create(*spec, std::move(c));
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    return 2;
  }
  RunResult r = (*backfiller)->Run();
  std::fprintf(stderr, "%s: %s\n", std::string(RunOutcomeName(r.outcome)).c_str(),
               r.status.ToString().c_str());
  return r.outcome == RunOutcome::kDone ? 0 : 1;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc, argv); }
