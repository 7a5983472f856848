// A minimal HTTP endpoint for the running job on one address, meant for
// loopback: GET of a few fixed paths (/metrics, /status, /ready), each
// answered by a function. One connection at a time; plain sockets.
#ifndef RECOVERY_CLI_METRICS_SERVER_H_
#define RECOVERY_CLI_METRICS_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace recovery {

// What a path answers.
struct HttpAnswer {
  int status = 200;  // 200 or 503
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class MetricsServer {
 public:
  using Routes = std::map<std::string, std::function<HttpAnswer()>>;  // by path, "/metrics"

  // `address` is "HOST:PORT" with an IPv4 host, e.g. "127.0.0.1:9464" (port 0
  // picks a free one). A route is called for every GET of its path (a query
  // string is ignored), from the server's thread; other paths are 404.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address, Routes routes);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, Routes routes);
  void Serve();
  void Answer(int client);

  const int fd_;
  const int port_;
  const Routes routes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace recovery

#endif  // RECOVERY_CLI_METRICS_SERVER_H_
