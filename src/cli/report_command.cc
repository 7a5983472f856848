// report: the job's picture as one self-contained HTML page (recovery/report.h).
#include <cstdio>

#include "cli/cli.h"
#include "recovery/report.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery::cli {

int ReportCommand(const Args& args) {
  auto out = args.flags.find("-o");
  if (out == args.flags.end() || out->second.empty()) {
    std::fprintf(stderr, "recovery report: where to? (-o report.html)\n");
    return kExitUsage;
  }
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  ReportOptions options;
  if (auto probe = args.flags.find("--probe"); probe != args.flags.end()) {
    absl::StatusOr<std::string> text = ReadFile(probe->second);
    if (!text.ok()) {
      std::fprintf(stderr, "recovery report: --probe %s: %s\n", probe->second.c_str(),
                   std::string(text.status().message()).c_str());
      return kExitUsage;
    }
    options.probe_json = *std::move(text);
  }
  absl::StatusOr<ReportData> data = CollectReport(*spec, options);
  if (!data.ok()) {
    std::fprintf(stderr, "recovery report: %s\n", data.status().ToString().c_str());
    return kExitFailed;
  }
  if (absl::Status s = WriteFileAtomically(out->second, ReportHtml(*data)); !s.ok()) {
    std::fprintf(stderr, "recovery report: %s\n", s.ToString().c_str());
    return kExitFailed;
  }
  if (!data->letters_error.empty()) {
    std::fprintf(stderr, "recovery report: the dead letters could not be read (the page says so): %s\n",
                 data->letters_error.c_str());
  }
  std::printf("%s: %zu shards, %s\n", out->second.c_str(), data->shards.size(),
              ReportComplete(*data) ? "complete" : "not complete: the page says what is left");
  return kExitDone;
}

}  // namespace recovery::cli
