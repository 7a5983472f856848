// Drain throughput of the SQS source: messages/s with 1, 4 and 16 receivers
// against the in-memory SQS fake (moto is far too slow to measure us), with
// no added latency (CPU-bound: both run on this machine) and with 10 ms per
// request (a real service's round trip), next to a sequential boto3
// receive/delete loop against the same fake, in one run. Mapping included;
// null sink and in-memory checkpoints, so the source is what is measured.
//
//   sqs_benchmark [--quick]
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "recovery/backfiller.h"
#include "testing/fake_sqs.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

struct Server {
  pid_t pid;
  int port;
};

// Forks a process serving a queue of `messages` until killed.
Server StartFake(int messages, absl::Duration latency) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    testing::FakeSqs fake("bench", 64, latency);
    for (int i = 0; i < messages; ++i) {
      fake.Send(
          StrCat(R"({"id":"m)", i, R"(","ts":"2026-11-14T01:00:00Z","amount":"12.50","currency":"EUR"})"));
    }
    const std::string endpoint = fake.endpoint();
    const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
    (void)!write(fds[1], &port, sizeof port);
    close(fds[1]);
    while (true) pause();
  }
  close(fds[1]);
  int port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) std::abort();
  close(fds[0]);
  return {pid, port};
}

void Stop(const Server& s) {
  kill(s.pid, SIGKILL);
  int status;
  waitpid(s.pid, &status, 0);
}

std::string Endpoint(int port) { return StrCat("http://127.0.0.1:", port); }

// Messages/s from the start of the run to the last commit.
double Drain(int port, int receivers, int messages) {
  const std::string job = StrCat(
      R"({"name":"bench","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
        "source":{"type":"sqs","queue_url":")",
      Endpoint(port), R"(/123456789012/bench","endpoint":")", Endpoint(port), R"(","region":"us-east-1",
          "receivers":)",
      receivers, R"(,"wait_time":"1s","drain_after_empty_receives":1,"max_page_records":100},
        "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},
                  {"name":"amount","from":"/amount","type":"decimal"},{"name":"currency","from":"/currency"}],
                  "key":{"from":"/id"},"event_time":{"from":"/ts"}},
        "sink":{"type":"null"},"checkpoint":{"type":"memory"}})");
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    std::abort();
  }
  // The end is the commit that delivered the last message, not the drain
  // check after it (a long poll that finds nothing).
  std::atomic<int64_t> last_commit_ns{0};
  uint64_t delivered = 0;
  BackfillerOptions options;
  options.on_progress = [&](const Progress& p) {
    if (p.totals.records_delivered > delivered) {
      delivered = p.totals.records_delivered;
      last_commit_ns = absl::GetCurrentTimeNanos();
    }
  };
  auto b = Backfiller::Create(*spec, {}, options);
  if (!b.ok()) std::abort();
  const int64_t start = absl::GetCurrentTimeNanos();
  RunResult r = (*b)->Run();
  if (!r.status.ok() || r.progress.totals.records_delivered != static_cast<uint64_t>(messages)) {
    std::fprintf(stderr, "drain failed: %s, %llu delivered\n", r.status.ToString().c_str(),
                 static_cast<unsigned long long>(r.progress.totals.records_delivered));
    std::abort();
  }
  return messages / ((last_commit_ns.load() - start) / 1e9);
}

double Boto3(int port) {
  const std::string cmd = StrCat("python3 ", RECOVERY_SOURCE_DIR, "/benchmarks/sqs_boto3_baseline.py ",
                                 Endpoint(port), " ", Endpoint(port), "/123456789012/bench");
  return std::atof(testing::Shell(cmd).c_str());  // "RATE COUNT"; 0 when it failed
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  using namespace recovery;
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  setenv("AWS_ACCESS_KEY_ID", "bench", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "bench", 1);
  std::printf("%-10s %-10s %10s %14s %12s\n", "latency", "receivers", "messages", "messages/s", "vs boto3");
  for (int latency_ms : {0, 10}) {
    const absl::Duration latency = absl::Milliseconds(latency_ms);
    const int boto_messages = quick ? 300 : (latency_ms == 0 ? 5000 : 1500);
    Server server = StartFake(boto_messages, latency);
    const double boto = Boto3(server.port);
    Stop(server);
    for (int receivers : {1, 4, 16}) {
      int messages = latency_ms == 0 ? 40000 : 2500 * receivers;
      if (quick) messages /= 10;
      server = StartFake(messages, latency);
      const double rate = Drain(server.port, receivers, messages);
      Stop(server);
      std::printf("%-10s %-10d %10d %14.0f %11.1fx\n", StrCat(latency_ms, " ms").c_str(), receivers, messages,
                  rate, boto > 0 ? rate / boto : 0.0);
    }
    std::printf("%-10s %-10s %10d %14.0f %11.1fx   (sequential boto3 receive/delete loop, same fake)\n",
                StrCat(latency_ms, " ms").c_str(), "boto3", boto_messages, boto, 1.0);
  }
  return 0;
}
