// Runs the `recovery` binary as a child process and captures what it printed.
#ifndef RECOVERY_TESTS_TESTING_CLI_RUNNER_H_
#define RECOVERY_TESTS_TESTING_CLI_RUNNER_H_

#include <sys/resource.h>

#include <functional>
#include <string>
#include <vector>

namespace recovery {
namespace testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;
};

struct CliOptions {
  // SIGTERM after this many milliseconds (< 0: never), calling `during` halfway.
  int term_after_ms = -1;
  std::function<void()> during;
  std::vector<std::string> env;  // "NAME=value" added to the child's environment
  // RLIMIT_FSIZE for the child (0: unlimited): writes past it fail with EFBIG,
  // as on a full disk.
  rlim_t max_file_bytes = 0;
  std::string working_dir;  // empty: this process's
};

CliResult RunCli(const std::string& binary, std::vector<std::string> args, const CliOptions& options = {});

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_CLI_RUNNER_H_
