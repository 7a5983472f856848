// Runs a job, or a replay of its dead letters, with the sink wrapped so that
// the process interrupts itself at the worst moments for exactly-once:
//
//   sink_child JOB.json kill-after N [replay PAGE_SIZE]
//       SIGKILL right after the sink took its N-th batch, before that batch's
//       checkpoint (replay_test.cc)
//   sink_child JOB.json stop-before N
//       SIGSTOP just before the sink's N-th write, past the lease check: a
//       worker paused by a long GC or a stopped VM (postgres_test.cc, which
//       lets another worker take the shard over, then sends SIGCONT)
//
// Exit 0 when the run is done, 1 otherwise (the outcome on stderr), 2 on bad
// usage.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "recovery/backfiller.h"
#include "spec/components.h"

namespace recovery {
namespace {

class InterruptingSink : public SinkWrapper {
 public:
  InterruptingSink(std::unique_ptr<Sink> inner, int signal, int n)
      : SinkWrapper(std::move(inner)), signal_(signal), n_(n) {}
  // Fenced or not (under a lease, the PostgreSQL store), every write comes here.
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    const bool nth = ++writes_ == n_;
    if (nth && signal_ == SIGSTOP) raise(SIGSTOP);
    absl::Status status = SinkWrapper::Write(request, result);
    if (nth && signal_ == SIGKILL) kill(getpid(), SIGKILL);
    return status;
  }

 private:
  const int signal_;
  const int n_;
  std::atomic<int> writes_{0};
};

int Usage() {
  std::fprintf(stderr, "usage: sink_child JOB.json kill-after N [replay PAGE_SIZE] | stop-before N\n");
  return 2;
}

int Main(int argc, char** argv) {
  if (argc != 4 && argc != 6) return Usage();
  const bool kill_after = std::strcmp(argv[2], "kill-after") == 0;
  if (!kill_after && std::strcmp(argv[2], "stop-before") != 0) return Usage();
  BackfillerOptions options;
  if (argc == 6) {
    if (!kill_after || std::strcmp(argv[4], "replay") != 0) return Usage();
    options.replay.emplace().page_size = std::atoi(argv[5]);
  }
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(argv[1]);
  Components c;  // the spec's sink, wrapped; the rest as Create builds it
  absl::Status built =
      spec.ok()
          ? ResolveComponents(
                *spec, {.source = false, .mapper = false, .checkpoints = false, .dead_letters = false}, &c)
          : spec.status();
  if (!built.ok()) {
    std::fprintf(stderr, "%s\n", built.ToString().c_str());
    return 2;
  }
  c.sink = std::make_unique<InterruptingSink>(std::move(c.sink), kill_after ? SIGKILL : SIGSTOP,
                                              std::atoi(argv[3]));
  auto backfiller = Backfiller::Create(*spec, std::move(c), std::move(options));
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
