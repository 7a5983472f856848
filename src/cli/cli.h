// What the commands of the `recovery` tool share: the parsed command line,
// exit codes, and loading a job.
#ifndef RECOVERY_CLI_CLI_H_
#define RECOVERY_CLI_CLI_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recovery/backfiller.h"
#include "recovery/job_state.h"

namespace recovery::cli {

inline constexpr int kExitDone = 0, kExitFailed = 1, kExitUsage = 2, kExitInterrupted = 3, kExitPaused = 4;

extern const char kUsage[];

struct Args {
  std::string command;
  std::string job_path;
  std::map<std::string, std::string> flags;  // "--concurrency" -> "4"; switches -> ""
  std::vector<std::string> keys;             // find's, after the job file
};

// False with `error` set on an unknown flag, a missing value or a stray argument.
bool ParseArgs(int argc, char** argv, Args* args, std::string* error);

// The exit code of a run that ended so, and the word its summary line starts with.
int ExitCode(RunOutcome outcome);
const char* OutcomeLabel(RunOutcome outcome);

// Prints the status's message and returns kExitUsage.
int BadSpec(const absl::Status& s);

// `s` quoted for a copy-and-paste command line.
std::string Shell(const std::string& s);
// The command that resumes what `args` ran.
std::string ResumeCommand(const Args& args);

// The job's stored state: needs no secret and makes no request.
absl::StatusOr<std::unique_ptr<JobState>> OpenState(const Args& args);

// The commands; each returns the process's exit code.
int RunCommand(const Args& args);
int ValidateCommand(const Args& args);
int PlanCommand(const Args& args);
int StatusCommand(const Args& args);
int VerifyCommand(const Args& args);
int ReconcileCommand(const Args& args);
int ProbeCommand(const Args& args);
int ReportCommand(const Args& args);
int ResetCommand(const Args& args);
int StateEditCommand(const Args& args);  // state set, state skip
int PurgeCommand(const Args& args);
int FindCommand(const Args& args);

}  // namespace recovery::cli

#endif  // RECOVERY_CLI_CLI_H_
