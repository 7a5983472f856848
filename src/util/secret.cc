#include "recovery/secret.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "util/file.h"
#include "util/strings.h"

extern char** environ;

namespace recovery {
namespace {

constexpr size_t kMaxSecretBytes = 1 << 16;
constexpr size_t kMaxErrorBytes = 4096;

// The first line of what the command wrote to standard error, shortened.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  absl::StripAsciiWhitespace(&line);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line.empty() ? "" : StrCat(": ", line);
}

// Reads `fd` into `out` (at most `cap` bytes kept); false at its end.
bool Drain(int fd, std::string* out, size_t cap) {
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  out->append(buf, std::min<size_t>(static_cast<size_t>(n), cap - std::min(cap, out->size())));
  return true;
}

// Waits for the command's group to end, killing it at `deadline`. Its
// status, or -1 when it had to be killed.
int Reap(pid_t pid, absl::Time deadline) {
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return status;
    if (absl::Now() >= deadline) {
      ::kill(-pid, SIGKILL);  // its whole process group: a script's children too
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

absl::StatusOr<std::string> RunSecretCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  const std::string name = StrCat("secret command ", argv[0]);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe", name);
  ScopedFd out_read{out_pipe[0]}, out_write{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe", name);
  ScopedFd err_read{err_pipe[0]}, err_write{err_pipe[1]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.fd, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // its own group, to stop it whole
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  out_write.Close();
  err_write.Close();
  if (spawned != 0) {
    return absl::NotFoundError(StrCat(name, " cannot be started: ", std::strerror(spawned)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string secret, errors;
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && absl::Now() < deadline) {
    pollfd fds[2] = {{out_read.fd, POLLIN, 0}, {err_read.fd, POLLIN, 0}};
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (::poll(fds, 2, out_open && err_open ? wait_ms : std::min(wait_ms, 50)) < 0 && errno != EINTR) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP)) != 0)
      out_open = Drain(out_read.fd, &secret, kMaxSecretBytes);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP)) != 0)
      err_open = Drain(err_read.fd, &errors, kMaxErrorBytes);
  }
  const int status = Reap(pid, deadline);
  if (status < 0) {
    return absl::DeadlineExceededError(
        StrCat(name, " did not finish within ", absl::FormatDuration(timeout), " and was stopped"));
  }
  if (WIFSIGNALED(status)) {
    return absl::NotFoundError(StrCat(name, " was killed by signal ", WTERMSIG(status), FirstLine(errors)));
  }
  if (WEXITSTATUS(status) != 0) {
    return absl::NotFoundError(StrCat(name, " exited ", WEXITSTATUS(status), FirstLine(errors)));
  }
  absl::StripAsciiWhitespace(&secret);
  if (secret.empty()) return absl::NotFoundError(StrCat(name, " printed nothing"));
  return secret;
}

}  // namespace

absl::StatusOr<std::string> ResolveSecret(const SecretRef& ref) {
  const int given = !ref.env.empty() + !ref.file.empty() + !ref.value.empty() + !ref.command.empty();
  if (given > 1) return absl::InvalidArgumentError("give one of env, file, command or value, not several");
  if (!ref.value.empty()) return ref.value;
  if (!ref.command.empty()) {
    if (ref.command[0].empty()) return absl::InvalidArgumentError("the secret command's program is empty");
    return RunSecretCommand(ref.command, ref.command_timeout);
  }
  if (!ref.env.empty()) {
    const char* v = std::getenv(ref.env.c_str());
    if (v == nullptr || *v == '\0') {
      return absl::NotFoundError(StrCat("environment variable ", ref.env, " is not set"));
    }
    return std::string(v);
  }
  if (!ref.file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(ref.file);
    if (!text.ok()) {
      return absl::NotFoundError(
          StrCat("secret file ", ref.file, " cannot be read: ", text.status().message()));
    }
    std::string value = *std::move(text);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) return absl::NotFoundError(StrCat("secret file ", ref.file, " is empty"));
    return value;
  }
  return absl::NotFoundError("no secret given");
}

}  // namespace recovery
