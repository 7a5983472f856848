#include "testing/postgres.h"

#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "postgres/pg.h"
#include "util/strings.h"

namespace recovery {
namespace testing {
namespace {

// The newest /usr/lib/postgresql/<version>/bin.
std::string FindBinDir() {
  glob_t g{};
  std::string best;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string p = g.gl_pathv[i];
      if (p > best) best = p;
    }
  }
  globfree(&g);
  return best.empty() ? "" : best.substr(0, best.size() - std::string("/postgres").size());
}

// Forks `argv` as the cluster's user; the child dies with this process.
pid_t Spawn(const std::vector<std::string>& argv, bool switch_user, uid_t uid, gid_t gid,
            const std::string& log) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setpgid(0, 0);  // Kill() takes the server's backends down with it
  if (switch_user && (setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
  if (FILE* f = freopen(log.c_str(), "a", stdout)) (void)f;
  dup2(STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    return absl::NotFoundError("no /usr/lib/postgresql/*/bin/postgres: apt-get install postgresql");
  }
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return absl::NotFoundError("running as root and there is no \"postgres\" user");
    s->switch_user_ = true;
    s->uid_ = pw->pw_uid;
    s->gid_ = pw->pw_gid;
  }
  chmod(s->dir_.path().c_str(), 0711);
  s->data_ = s->dir_.File("data");
  mkdir(s->data_.c_str(), 0700);
  if (s->switch_user_ && chown(s->data_.c_str(), s->uid_, s->gid_) != 0) {
    return absl::InternalError(StrCat("chown ", s->data_));
  }
  const std::string log = s->dir_.File("postgres.log");
  if (s->switch_user_) {
    int fd = open(log.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
      (void)!fchown(fd, s->uid_, s->gid_);
      close(fd);
    }
  }
  pid_t init = Spawn({s->bin_ + "/initdb", "-D", s->data_, "-U", "recovery", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--locale=C"},
                     s->switch_user_, s->uid_, s->gid_, log);
  int status = 0;
  waitpid(init, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(StrCat("initdb failed: ", ReadFileOrEmpty(log)));
  }
  s->port_ = FreeLoopbackPort();
  if (absl::Status st = s->Launch(); !st.ok()) return st;
  return s;
}

absl::Status PostgresServer::Launch() {
  const std::string log = dir_.File("postgres.log");
  pid_ = Spawn({bin_ + "/postgres", "-D", data_, "-p", StrCat(port_), "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                "max_connections=200", "-c", "shared_buffers=32MB"},
               switch_user_, uid_, gid_, log);
  for (int i = 0; i < 300; ++i) {
    if (pg::Connection::Open(pg::ConnectOptions{dsn(), absl::Seconds(2)}).ok()) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(StrCat("postgres exited: ", ReadFileOrEmpty(log)));
    }
    usleep(50 * 1000);
  }
  return absl::DeadlineExceededError(StrCat("postgres did not accept connections: ", ReadFileOrEmpty(log)));
}

PostgresServer::~PostgresServer() {
  if (pid_ > 0) {
    kill(pid_, SIGQUIT);  // immediate shutdown; the data is thrown away
    waitpid(pid_, nullptr, 0);
  }
}

std::string PostgresServer::dsn() const {
  return StrCat("host=127.0.0.1 port=", port_, " dbname=postgres user=recovery");
}

std::vector<std::string> PostgresServer::Query(const std::string& sql) const {
  auto c = pg::Connection::Open(pg::ConnectOptions{dsn()});
  if (!c.ok()) return {std::string(c.status().message())};
  auto r = (*c)->Exec(sql);
  if (!r.ok()) return {std::string(r.status().message())};
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->IsNull(i, 0) ? "" : r->Get(i, 0));
  return out;
}

absl::Status PostgresServer::Exec(const std::string& sql) const {
  auto c = pg::Connection::Open(pg::ConnectOptions{dsn()});
  if (!c.ok()) return c.status();
  return (*c)->Run(sql);
}

void PostgresServer::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  usleep(100 * 1000);  // the backends' exit, so the restart finds no shared memory in use
}

void PostgresServer::StopFast() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::Status PostgresServer::Restart() {
  Kill();
  return Launch();
}

}  // namespace testing
}  // namespace recovery
