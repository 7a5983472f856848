#include "testing/cli_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace recovery {
namespace testing {

CliResult RunCli(const std::string& binary, std::vector<std::string> args, const CliOptions& options) {
  // Pipes, not files: a file-size limit given to the child must not cut what it says.
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    dup2(out[1], 1);
    dup2(err[1], 2);
    dup2(in, 0);
    close(out[0]);
    close(err[0]);
    for (const std::string& kv : options.env) putenv(strdup(kv.c_str()));
    if (!options.working_dir.empty() && chdir(options.working_dir.c_str()) != 0) _exit(126);
    if (options.max_file_bytes > 0) {
      signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing
      rlimit limit{options.max_file_bytes, options.max_file_bytes};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  CliResult r;
  auto drain = [](int fd, std::string* to) {
    char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) to->append(buf, static_cast<size_t>(n));
    close(fd);
  };
  std::thread out_reader(drain, out[0], &r.out);
  std::thread err_reader(drain, err[0], &r.err);
  if (options.term_after_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.term_after_ms / 2));
    if (options.during) options.during();
    std::this_thread::sleep_for(std::chrono::milliseconds(options.term_after_ms / 2));
    kill(pid, SIGTERM);
  }
  out_reader.join();
  err_reader.join();
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace testing
}  // namespace recovery
