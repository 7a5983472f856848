// Starts a cpp-httplib server on a free 127.0.0.1 port, shared by the test
// fixtures (the simulated API, the SQS fake).
#ifndef RECOVERY_TESTS_TESTING_LOOPBACK_SERVER_H_
#define RECOVERY_TESTS_TESTING_LOOPBACK_SERVER_H_

#include <httplib.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "testing/test_util.h"

namespace recovery {
namespace testing {

// Binds `server` to 127.0.0.1, raises its listen backlog, serves it on
// `*thread` and returns the port once it runs. Throws naming `what` when it
// cannot bind.
inline int StartLoopbackServer(httplib::Server& server, std::thread* thread, const std::string& what) {
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) throw std::runtime_error(what + ": cannot bind 127.0.0.1");
  RaiseListenBacklog(port);
  *thread = std::thread([&server] { server.listen_after_bind(); });
  while (!server.is_running()) absl::SleepFor(absl::Milliseconds(1));
  return port;
}

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_LOOPBACK_SERVER_H_
