// The `recovery` command-line tool: one JSON job file, one command. Each
// command lives in its own file (cli/*_command.cc); the usage text is in
// cli/cli.cc.
//
// Exit codes: 0 done · 1 failed · 2 bad usage or job spec · 3 interrupted
// (resumable) · 4 paused by the source's quota (resumable).
#include <cstdio>

#include "cli/cli.h"
#include "recovery/version.h"

namespace recovery::cli {
namespace {

int Main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, &args, &error)) {
    std::fprintf(stderr, "recovery: %s\n\n%s", error.c_str(), kUsage);
    return kExitUsage;
  }
  if (args.flags.count("--help") || args.command == "help" || args.command.empty()) {
    std::printf("%s", kUsage);
    return args.command.empty() && !args.flags.count("--help") ? kExitUsage : kExitDone;
  }
  if (args.command == "version") {
    std::printf("recovery %s\n", RECOVERY_VERSION_STRING);
    return kExitDone;
  }
  if (args.job_path.empty()) {
    std::fprintf(stderr, "recovery %s: which job file?\n\n%s", args.command.c_str(), kUsage);
    return kExitUsage;
  }
  if (args.command == "run" || args.command == "replay") return RunCommand(args);
  if (args.command == "validate") return ValidateCommand(args);
  if (args.command == "plan") return PlanCommand(args);
  if (args.command == "status") return StatusCommand(args);
  if (args.command == "reset") return ResetCommand(args);
  if (args.command == "purge") return PurgeCommand(args);
  if (args.command == "state set" || args.command == "state skip") return StateEditCommand(args);
  if (args.command == "verify") return VerifyCommand(args);
  if (args.command == "reconcile") return ReconcileCommand(args);
  if (args.command == "probe") return ProbeCommand(args);
  if (args.command == "report") return ReportCommand(args);
  if (args.command == "find") return FindCommand(args);
  std::fprintf(stderr, "recovery: unknown command \"%s\"\n\n%s", args.command.c_str(), kUsage);
  return kExitUsage;
}

}  // namespace
}  // namespace recovery::cli

int main(int argc, char** argv) { return recovery::cli::Main(argc, argv); }
