// A throwaway PostgreSQL cluster on a free loopback port for one test suite:
// initdb into a temporary directory, then `postgres` in the foreground as a
// child process that is killed with the test process if that dies first.
// PostgreSQL refuses to run as root, so as root both run as the "postgres"
// user (Debian's postgresql package creates it). Trust authentication,
// superuser "recovery", no Unix socket; fsync off (the data is throwaway,
// but commits survive Kill()).
#ifndef RECOVERY_TESTS_TESTING_POSTGRES_H_
#define RECOVERY_TESTS_TESTING_POSTGRES_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "testing/test_util.h"

namespace recovery {
namespace testing {

class PostgresServer {
 public:
  // Takes a few seconds (initdb).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // "host=127.0.0.1 port=N dbname=postgres user=recovery"
  std::string dsn() const;
  int port() const { return port_; }

  // The first column of each row `sql` returns ("" for NULL); an error
  // message as the only row when it fails.
  std::vector<std::string> Query(const std::string& sql) const;
  absl::Status Exec(const std::string& sql) const;

  // Stops the server abruptly (SIGKILL) and starts it again on the same port
  // and data, for tests of a database that goes away.
  void Kill();
  absl::Status Restart();
  // Stops the server as `pg_ctl stop -m fast` does (SIGINT to the
  // postmaster: sessions are ended, the cluster shuts down cleanly).
  void StopFast();

 private:
  PostgresServer() = default;
  absl::Status Launch();

  TempDir dir_;
  std::string data_;
  std::string bin_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_POSTGRES_H_
