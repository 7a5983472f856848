// A minimal HTTP endpoint serving GET /metrics (Prometheus text format) on one
// address, meant for loopback. One connection at a time; plain sockets.
#ifndef RECOVERY_CLI_METRICS_SERVER_H_
#define RECOVERY_CLI_METRICS_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace recovery {

class MetricsServer {
 public:
  // `address` is "HOST:PORT" with an IPv4 host, e.g. "127.0.0.1:9464" (port 0
  // picks a free one). `render` is called for every scrape, from the server's thread.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                              std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render);
  void Serve();
  void Answer(int client);

  const int fd_;
  const int port_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace recovery

#endif  // RECOVERY_CLI_METRICS_SERVER_H_
