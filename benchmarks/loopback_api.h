// The simulated transactions API in a process of its own, for the HTTP
// benchmarks: the client's CPU time, threads and peak memory are then its
// own. Records are ~200 bytes, spread over one day from kStart.
#ifndef RECOVERY_BENCHMARKS_LOOPBACK_API_H_
#define RECOVERY_BENCHMARKS_LOOPBACK_API_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "absl/time/time.h"
#include "testing/simulated_api.h"

namespace recovery {
namespace bench {

inline constexpr absl::Duration kLatency = absl::Milliseconds(20);   // added to every request
inline constexpr int kPage = 100;                                    // records a page at most
inline const absl::Time kStart = absl::FromUnixSeconds(1763078400);  // 2025-11-14T00:00:00Z

struct Server {
  pid_t pid;
  int port;
};

// The simulated API the benchmarks share: `records` ~200-byte records spread
// over one day from kStart, at most `page` a page, kLatency a request.
inline testing::SimulatedApiOptions ApiOptions(int64_t records, int page = kPage) {
  testing::SimulatedApiOptions o;
  o.start = kStart;
  o.end = kStart + absl::Hours(24);
  o.records = records;
  o.small_records = true;
  o.latency = kLatency;
  o.max_page_size = page;
  return o;
}

// Forks a process that serves `records` records on `threads` threads until
// StopServer().
inline Server StartServer(int64_t records, int threads) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    testing::SimulatedApiOptions o = ApiOptions(records);
    o.threads = threads;
    testing::SimulatedApi api(o);
    const int port = api.port();
    (void)!write(fds[1], &port, sizeof port);
    close(fds[1]);
    while (true) pause();
  }
  close(fds[1]);
  int port = 0;
  (void)!read(fds[0], &port, sizeof port);
  close(fds[0]);
  return {pid, port};
}

inline void StopServer(const Server& s) {
  kill(s.pid, SIGKILL);
  waitpid(s.pid, nullptr, 0);
}

}  // namespace bench
}  // namespace recovery

#endif  // RECOVERY_BENCHMARKS_LOOPBACK_API_H_
