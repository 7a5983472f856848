// The simulated vendor API as a process of its own, for tests and benchmarks
// written in other languages (the Celery example's test and benchmark):
//
//   recovery_fixture_api [--records N] [--latency-ms MS] [--start RFC3339] [--end RFC3339]
//                        [--threads N] [--total-understated N]
//                        [--append-per-second R --append-seconds S]
//
// (--threads: connections served at once, 16 by default; a kept-alive
// connection holds its thread. --total-understated: the totals it reports
// are this many short of the truth, an API that lies about them.
// --append-per-second: records keep arriving at this rate after the last
// one, each stamped one 1/R second after the one before, for
// --append-seconds, as a live feed does for follow mode.)
//
// Listens on a free 127.0.0.1 port, prints its base URL on the first line of
// stdout, and serves until stdin closes or SIGTERM (and dies with its parent).
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "testing/simulated_api.h"
#include "util/time_format.h"

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  recovery::testing::SimulatedApiOptions o;
  o.start = *recovery::ParseRfc3339("2026-11-01T00:00:00Z");
  o.end = *recovery::ParseRfc3339("2026-11-02T00:00:00Z");
  o.records = 10000;
  o.small_records = true;
  double append_rate = 0;
  int append_seconds = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--records") {
      o.records = std::atoll(value.c_str());
    } else if (flag == "--latency-ms") {
      o.latency = absl::Milliseconds(std::atoi(value.c_str()));
    } else if (flag == "--start" && recovery::ParseRfc3339(value)) {
      o.start = *recovery::ParseRfc3339(value);
    } else if (flag == "--end" && recovery::ParseRfc3339(value)) {
      o.end = *recovery::ParseRfc3339(value);
    } else if (flag == "--total-understated" && std::atoi(value.c_str()) >= 0) {
      o.total_understated = std::atoi(value.c_str());
    } else if (flag == "--threads" && std::atoi(value.c_str()) >= 1) {
      o.threads = std::atoi(value.c_str());
    } else if (flag == "--append-per-second" && std::atof(value.c_str()) > 0) {
      append_rate = std::atof(value.c_str());
    } else if (flag == "--append-seconds" && std::atoi(value.c_str()) >= 0) {
      append_seconds = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "recovery_fixture_api: unknown flag or bad value: %s %s\n", flag.c_str(),
                   value.c_str());
      return 2;
    }
  }
  if (o.records < 1 || o.end <= o.start) {
    std::fprintf(stderr, "recovery_fixture_api: need --records >= 1 and --start < --end\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the server's threads inherit the mask
  recovery::testing::SimulatedApi api(o);
  std::printf("%s\n", api.base_url().c_str());
  std::fflush(stdout);
  std::atomic<bool> stopping{false};
  std::thread appender;
  if (append_rate > 0) {
    appender = std::thread([&api, &stopping, append_rate, append_seconds] {
      const absl::Time start = absl::Now();
      int64_t appended = 0;
      while (!stopping.load() && absl::Now() - start < absl::Seconds(append_seconds)) {
        absl::SleepFor(absl::Milliseconds(100));
        const auto due = static_cast<int64_t>(absl::ToDoubleSeconds(absl::Now() - start) * append_rate);
        if (due > appended) api.Append(due - appended, absl::Seconds(1 / append_rate));
        appended = std::max(appended, due);
      }
    });
  }
  std::thread([] {  // stdin closing (the parent is gone) stops the server too
    char buf[256];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
    kill(getpid(), SIGTERM);
  })
      .detach();
  int sig = 0;
  sigwait(&set, &sig);
  stopping.store(true);
  if (appender.joinable()) appender.join();
  return 0;
}
