#include "cli/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                                    Routes routes) {
  const size_t colon = address.rfind(':');
  int port = -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535 || inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        "--metrics-listen: expected an IPv4 HOST:PORT such as 127.0.0.1:9464, got \"", address, "\"")));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError(errno, "socket for", address);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoError(e, "listen on", address);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(addr.sin_port), std::move(routes)));
}

MetricsServer::MetricsServer(int fd, int port, Routes routes)
    : fd_(fd), port_(port), routes_(std::move(routes)) {
  thread_ = std::thread([this] { Serve(); });
}

MetricsServer::~MetricsServer() {
  stop_.store(true);
  thread_.join();
  ::close(fd_);
}

void MetricsServer::Serve() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    Answer(client);
    ::close(client);
  }
}

void MetricsServer::Answer(int client) {
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    pollfd p{client, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) return;  // a silent client gets nothing
    ssize_t n = ::read(client, buf, sizeof buf);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  // "GET /path?query HTTP/1.1": the path, without its query.
  std::string path;
  if (request.rfind("GET ", 0) == 0) {
    const size_t end = request.find_first_of(" ?", 4);
    if (end != std::string::npos) path = request.substr(4, end - 4);
  }
  auto route = routes_.find(path);
  HttpAnswer answer;
  if (route == routes_.end()) {
    std::string known;
    for (const auto& [p, unused] : routes_) StrAppend(&known, known.empty() ? "" : ", ", p);
    answer = {404, "text/plain; charset=utf-8", StrCat("not found: try ", known, "\n")};
  } else {
    answer = route->second();
  }
  const char* reason = answer.status == 200   ? "OK"
                       : answer.status == 503 ? "Service Unavailable"
                                              : "Not Found";
  const std::string response =
      StrCat("HTTP/1.1 ", answer.status, " ", reason, "\r\nContent-Type: ", answer.content_type,
             "\r\nContent-Length: ", answer.body.size(), "\r\nConnection: close\r\n\r\n", answer.body);
  size_t sent = 0;
  while (sent < response.size()) {
    ssize_t n = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace recovery
