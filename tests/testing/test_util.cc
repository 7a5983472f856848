#include "testing/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "spec/components.h"
#include "util/time_format.h"

namespace recovery {
namespace testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/recovery-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (getenv("RECOVERY_KEEP_TMP") == nullptr) std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string TransactionJson(int64_t id, absl::Time event_time) {
  static const char* kMerchants[] = {"Café Rouge", "Tesco Express", "Shell Station 42",
                                     "Boots \\\"Pharmacy\\\""};
  static const char* kCurrencies[] = {"EUR", "GBP", "USD"};
  const std::string ts = FormatRfc3339(event_time);
  return absl::StrFormat(
      R"({"id":"txn-%08d","type":"purchase","status":"settled","created_at":"%s","updated_at":"%s",)"
      R"("amount":{"value":%d.%02d,"currency":"%s"},"points":{"earned":%d,"multiplier":1.5,"tier":"gold"},)"
      R"("customer":{"id":"cust-%06d","email":"customer%d@example.com","loyalty_number":"LN%010d",)"
      R"("address":{"line1":"%d High Street","city":"London","postcode":"SW1A %dAA","country":"GB"}},)"
      R"("merchant":{"id":"m-%04d","name":"%s","category":"grocery","location":{"lat":51.50%d,"lon":-0.12%d}},)"
      R"("items":[{"sku":"SKU-%05d","qty":%d,"unit_price":3.99,"tags":["food","fresh"]},)"
      R"({"sku":"SKU-%05d","qty":1,"unit_price":12.50,"tags":["household"]}],)"
      R"("channel":"pos","terminal":"T-%03d","metadata":{"batch":"b-%d","source":"vendor-feed","version":3,)"
      R"("notes":"line one\nline two \u00e9","flags":[true,false,null]}})",
      id, ts, ts, 10 + id % 490, id % 100, kCurrencies[id % 3], id % 300, id % 100000, id, id, id % 200,
      id % 9, id % 5000, kMerchants[id % 4], id % 10, id % 10, id % 50000, 1 + id % 5, (id + 7) % 50000,
      id % 100, id / 100);
}

std::string TransactionExport(int64_t count, absl::Time start, absl::Time end) {
  std::string out;
  const absl::Duration step = (end - start) / count;
  for (int64_t i = 0; i < count; ++i) {
    out += TransactionJson(i, start + step * i);
    out += '\n';
  }
  return out;
}

absl::Time T(const char* rfc3339) {
  std::optional<absl::Time> t = ParseRfc3339(rfc3339);
  if (!t) throw std::runtime_error(std::string("bad time in test: ") + rfc3339);
  return *t;
}

absl::StatusOr<std::unique_ptr<Sink>> SinkOf(const JobSpec& spec) {
  Components c;
  absl::Status s = ResolveComponents(
      spec, {.source = false, .mapper = false, .checkpoints = false, .dead_letters = false}, &c);
  if (!s.ok()) return s;
  return std::move(c.sink);
}

absl::StatusOr<std::unique_ptr<Source>> SourceOf(const JobSpec& spec) {
  Components c;
  absl::Status s = ResolveComponents(
      spec, {.mapper = false, .sink = false, .checkpoints = false, .dead_letters = false}, &c);
  if (!s.ok()) return s;
  return std::move(c.source);
}

absl::StatusOr<std::string> WriteTo(Sink& sink, const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>* rejected) {
  WriteResult result;
  absl::Status s = sink.Write(WriteRequest{shard, batch}, &result);
  rejected->insert(rejected->end(), result.rejected.begin(), result.rejected.end());
  if (!s.ok()) return s;
  return result.commit_token;
}

void RaiseListenBacklog(int port) {
  for (int fd = 3; fd < 1024; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t optlen = sizeof listening;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET ||
        ntohs(addr.sin_port) != port || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 ||
        !listening) {
      continue;
    }
    ::listen(fd, 512);
    return;
  }
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool MakeLoopbackCertificate(const std::string& cert_file, const std::string& key_file) {
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
      "subjectAltName=IP:127.0.0.1 "
      "-keyout '",
      key_file, "' -out '", cert_file, "' >/dev/null 2>&1");
  return system(command.c_str()) == 0;
}

bool WaitForLoopbackPort(int port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

void KillAfterProgress(int pid, const std::string& watched, int64_t size_before, int delay_ms) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (FileSize(watched) <= size_before) {
    siginfo_t info{};
    // WNOWAIT: the caller still reaps it.
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) return;
    if (absl::Now() > deadline) return;
    absl::SleepFor(absl::Microseconds(200));
  }
  absl::SleepFor(absl::Milliseconds(delay_ms));
  kill(pid, SIGKILL);
}

}  // namespace testing
}  // namespace recovery
