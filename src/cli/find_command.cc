// find: what became of records, by key.
#include <cstdio>

#include "cli/cli.h"
#include "recovery/find.h"
#include "util/strings.h"

namespace recovery::cli {

int FindCommand(const Args& args) {
  if (args.keys.empty()) {
    std::fprintf(stderr, "find needs the keys to look for, after the job file\n");
    return kExitUsage;
  }
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  absl::StatusOr<FindReport> report = FindKeys(
      *spec, Components(), args.keys, {.ask_destination = args.flags.count("--no-destination") == 0});
  if (!report.ok()) {
    std::fprintf(stderr, "find: %s\n", std::string(ToStd(report.status().message())).c_str());
    return report.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  if (args.flags.count("--json")) {
    std::printf("%s\n", FindReportJson(*report).c_str());
  } else {
    std::printf("%s", FindReportText(*report).c_str());
  }
  return kExitDone;
}

}  // namespace recovery::cli
