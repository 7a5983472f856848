// reconcile: the vendor's count next to the destination's, per time bucket;
// optionally a job file that recovers only the short buckets.
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "cli/cli.h"
#include "recovery/reconcile.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery::cli {
namespace {

absl::StatusOr<ReconcileOptions> ParseReconcileFlags(const Args& args, const JobSpec& spec) {
  ReconcileOptions o;
  if (auto it = args.flags.find("--bucket"); it != args.flags.end()) {
    std::optional<absl::Duration> d = ParseDurationText(it->second);
    int64_t seconds = 0;
    if (!d && absl::SimpleAtoi(it->second, &seconds)) d = absl::Seconds(seconds);  // a plain number: seconds
    if (!d || *d <= absl::ZeroDuration() || *d % absl::Seconds(1) != absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          StrCat("--bucket: expected a whole number of seconds such as 3600, 1h, "
                 "15m or 90s, got \"",
                 it->second, "\""));
    }
    o.bucket = *d;
  }
  if (auto it = args.flags.find("--concurrency"); it != args.flags.end()) {
    o.concurrency = std::atoi(it->second.c_str());
    if (o.concurrency < 1 || o.concurrency > 1024)
      return absl::InvalidArgumentError("--concurrency: expected 1 to 1024");
  }
  o.trust_reported_total = args.flags.count("--trust-total") > 0;
  if (args.flags.count("--keys")) o.keys_limit = 1000;
  if (auto it = args.flags.find("--keys-limit"); it != args.flags.end()) {
    const long long limit = std::atoll(it->second.c_str());
    if (!args.flags.count("--keys")) return absl::InvalidArgumentError("--keys-limit: only with --keys");
    if (limit < 1 || limit > 10000000)
      return absl::InvalidArgumentError(
          StrCat("--keys-limit: expected 1 to 10000000, got \"", it->second, "\""));
    o.keys_limit = static_cast<size_t>(limit);
  }
  (void)spec;
  return o;
}

void PrintTable(const ReconcileReport& r, const ReconcileOptions& o) {
  std::printf("%-22s %10s %12s %8s  %-8s %s\n", "BUCKET START", "VENDOR", "DESTINATION", "DIFF", "STATUS",
              "VENDOR COUNT");
  for (const ReconcileBucket& b : r.buckets) {
    std::printf("%-22s %10llu %12llu %+8lld  %-8s %s\n", FormatRfc3339(b.start).c_str(),
                static_cast<unsigned long long>(b.vendor), static_cast<unsigned long long>(b.destination),
                static_cast<long long>(b.difference()), ReconcileStatus(b), b.vendor_method.c_str());
  }
  uint64_t missing = 0;
  for (const ReconcileBucket& b : r.buckets) missing += b.short_of_vendor() ? b.vendor - b.destination : 0;
  std::printf(
      "%llu vendor records and %llu in the destination across %zu buckets of %s; %d short (%llu records "
      "missing)\n",
      static_cast<unsigned long long>(r.vendor), static_cast<unsigned long long>(r.destination),
      r.buckets.size(), absl::FormatDuration(o.bucket).c_str(), r.short_buckets,
      static_cast<unsigned long long>(missing));
  if (r.vendor == 0) std::printf("the vendor holds no records in the window\n");
  for (const ReconcileBucket& b : r.buckets) {
    if (!b.keys_listed) continue;
    std::printf("missing from %s (%zu):", FormatRfc3339(b.start).c_str(), b.missing_keys.size());
    for (const std::string& k : b.missing_keys) std::printf(" %s", k.c_str());
    std::printf("\n");
  }
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("%s\n", r.complete() ? "destination COMPLETE" : "destination INCOMPLETE");
}

}  // namespace

int ReconcileCommand(const Args& args) {
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  absl::StatusOr<ReconcileOptions> options = ParseReconcileFlags(args, *spec);
  if (!options.ok()) return BadSpec(options.status());
  absl::StatusOr<ReconcileReport> report = Reconcile(*spec, Components(), *options);
  if (!report.ok()) {
    // The library's refusals already say that reconcile refused ("reconcile: …").
    const std::string message(ToStd(report.status().message()));
    std::fprintf(stderr, "%s%s\n", message.rfind("reconcile", 0) == 0 ? "" : "reconcile: ", message.c_str());
    const absl::StatusCode c = report.status().code();
    return c == absl::StatusCode::kInvalidArgument || c == absl::StatusCode::kFailedPrecondition
               ? kExitUsage
               : kExitFailed;
  }
  // Kept for `recovery report`; the answer stands without it.
  if (absl::Status s = SaveReconcileReport(*spec, *report, options->bucket, absl::Now()); !s.ok()) {
    std::fprintf(stderr, "reconcile: could not keep this result for recovery report: %s\n",
                 std::string(ToStd(s.message())).c_str());
  }
  if (args.flags.count("--json")) {
    std::printf("%s\n", ReconcileReportJson(*report, options->bucket).c_str());
  } else {
    PrintTable(*report, *options);
  }
  if (auto it = args.flags.find("--write-plan"); it != args.flags.end() && !report->complete()) {
    absl::StatusOr<std::string> text = ReadFile(args.job_path);
    absl::StatusOr<std::string> plan = text.ok() ? PlanForShortBuckets(*text, *report) : text.status();
    absl::Status written = plan.ok() ? WriteFileAtomically(it->second, *plan + "\n") : plan.status();
    if (!written.ok()) {
      std::fprintf(stderr, "reconcile: --write-plan %s: %s\n", it->second.c_str(),
                   std::string(ToStd(written.message())).c_str());
      return kExitFailed;
    }
    std::fprintf(args.flags.count("--json") ? stderr : stdout,
                 "wrote %s: a job that recovers only the %d short bucket%s (recovery plan %s shows them)\n",
                 it->second.c_str(), report->short_buckets, report->short_buckets == 1 ? "" : "s",
                 Shell(it->second).c_str());
  }
  return report->complete() ? kExitDone : kExitFailed;
}

}  // namespace recovery::cli
