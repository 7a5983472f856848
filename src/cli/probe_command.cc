// probe: every assumption of the job checked against the real API and the
// real destination, read-only, before the first write.
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "recovery/probe.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery::cli {
namespace {

// A whole number in [lo, hi] from the flag's text; false when it is not one.
bool ReadCount(const Args& args, const char* flag, int lo, int hi, int* out, std::string* error) {
  auto it = args.flags.find(flag);
  if (it == args.flags.end()) return true;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < lo || v > hi) {
    *error = StrCat(flag, ": expected a whole number from ", lo, " to ", hi, ", got \"", it->second, "\"");
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int ProbeCommand(const Args& args) {
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  ProbeOptions options;
  std::string error;
  if (!ReadCount(args, "--samples", 0, 1000, &options.samples, &error) ||
      !ReadCount(args, "--pages", 1, 1000, &options.pages, &error) ||
      !ReadCount(args, "--max-requests", 1, 100000, &options.max_requests, &error)) {
    std::fprintf(stderr, "probe: %s\n", error.c_str());
    return kExitUsage;
  }
  const bool json = args.flags.count("--json") > 0;
  if (!args.flags.count("--quiet")) {
    options.progress = [](std::string_view line) {
      std::fprintf(stderr, "probe: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  absl::StatusOr<ProbeReport> report = Probe(*spec, Components(), options);
  if (!report.ok()) {
    const std::string message(ToStd(report.status().message()));
    std::fprintf(stderr, "%s%s\n", message.rfind("probe", 0) == 0 ? "" : "probe: ", message.c_str());
    return kExitUsage;  // the probe could not run
  }
  const std::string as_json = ProbeReportJson(*report);
  std::printf("%s", json ? (as_json + "\n").c_str() : ProbeReportText(*report).c_str());
  if (auto it = args.flags.find("--save"); it != args.flags.end()) {
    absl::Status saved = WriteFileAtomically(it->second, as_json + "\n");
    if (!saved.ok()) {
      std::fprintf(stderr, "probe: --save %s: %s\n", it->second.c_str(),
                   std::string(ToStd(saved.message())).c_str());
      return kExitUsage;
    }
  }
  return report->exit_code();
}

}  // namespace recovery::cli
