// verify: delivered records per time bucket across the window, from the
// checkpoints' hourly coverage; empty and thin buckets flagged.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "cli/cli.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery::cli {
namespace {

struct VerifyFlags {
  int64_t width = kCoverageBucketSeconds;  // seconds, whole hours
  double thin = 0.1;                       // of the median
};

absl::StatusOr<VerifyFlags> ParseVerifyFlags(const Args& args) {
  VerifyFlags f;
  if (auto it = args.flags.find("--bucket"); it != args.flags.end()) {
    std::optional<absl::Duration> d = ParseDurationText(it->second);
    f.width = d ? absl::ToInt64Seconds(*d) : 0;
    if (f.width <= 0 || f.width % kCoverageBucketSeconds != 0) {
      return absl::InvalidArgumentError("--bucket: expected whole hours such as 1h, 6h or 1d");
    }
  }
  if (auto it = args.flags.find("--thin"); it != args.flags.end()) {
    f.thin = std::atof(it->second.c_str());
    if (!(f.thin >= 0 && f.thin <= 1))
      return absl::InvalidArgumentError("--thin: expected a number in [0, 1]");
  }
  return f;
}

// What the checkpoints say: records per hour, and why coverage may be short.
struct Coverage {
  std::map<int64_t, uint64_t> hours;
  int not_done = 0;
  std::vector<std::string> problems;
};

Coverage CollectCoverage(const std::vector<ShardReport>& reports) {
  Coverage c;
  for (const ShardReport& r : reports) {
    for (const auto& [hour, count] : r.checkpoint.coverage) c.hours[hour] += count;
    if (r.state != ShardState::kDone && !IsOpenEnded(r.shard)) {
      ++c.not_done;
      c.problems.push_back(
          StrCat("shard ", r.shard.id, " is ", ShardStateName(r.state), ": its window is not covered yet"));
    }
    const int64_t reported = r.checkpoint.reported_total;
    if (reported >= 0 && static_cast<uint64_t>(reported) != r.checkpoint.counters.records_fetched) {
      c.problems.push_back(StrCat("shard ", r.shard.id, ": the source reported ", reported, " records, ",
                                  r.checkpoint.counters.records_fetched, " were fetched"));
    }
  }
  return c;
}

// Buckets of `width` over the window (the gap part of a follow-mode window).
std::vector<std::pair<int64_t, uint64_t>> Buckets(const JobSpec& spec, int64_t width,
                                                  const std::map<int64_t, uint64_t>& hours) {
  const int64_t start = absl::ToUnixSeconds(spec.start);
  const int64_t end = absl::ToUnixSeconds(spec.end);
  const int64_t first = start - ((start % width) + width) % width;
  std::vector<std::pair<int64_t, uint64_t>> buckets;
  for (int64_t t = first; t < end; t += width) {
    uint64_t n = 0;
    for (auto it = hours.lower_bound(t); it != hours.end() && it->first < t + width; ++it) n += it->second;
    buckets.emplace_back(t, n);
  }
  return buckets;
}

double Median(const std::vector<std::pair<int64_t, uint64_t>>& buckets) {
  std::vector<uint64_t> nonzero;
  for (const auto& [t, n] : buckets) {
    if (n > 0) nonzero.push_back(n);
  }
  std::sort(nonzero.begin(), nonzero.end());
  return nonzero.empty() ? 0 : static_cast<double>(nonzero[nonzero.size() / 2]);
}

// Prints the table (every row up to 200 buckets, else the flagged ones) and
// the summary line; returns the number of empty buckets.
int PrintBuckets(const std::vector<std::pair<int64_t, uint64_t>>& buckets, const VerifyFlags& f) {
  const double median = Median(buckets);
  int empty = 0, thin_count = 0;
  uint64_t total = 0;
  const bool all_rows = buckets.size() <= 200;
  std::printf("%-22s %10s\n", "BUCKET START", "RECORDS");
  for (const auto& [t, n] : buckets) {
    total += n;
    const char* flag = n == 0 ? "EMPTY" : static_cast<double>(n) < f.thin * median ? "thin" : "";
    empty += n == 0;
    thin_count += flag[0] == 't';
    if (all_rows || flag[0] != '\0') {
      std::printf("%-22s %10llu  %s\n", FormatRfc3339(absl::FromUnixSeconds(t)).c_str(),
                  static_cast<unsigned long long>(n), flag);
    }
  }
  std::printf(
      "%llu records in %zu buckets of %s (median %.0f); %d empty, %d thin (under %.0f%% of the median)\n",
      static_cast<unsigned long long>(total), buckets.size(),
      absl::FormatDuration(absl::Seconds(f.width)).c_str(), median, empty, thin_count, f.thin * 100);
  return empty;
}

}  // namespace

int VerifyCommand(const Args& args) {
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  absl::StatusOr<std::unique_ptr<JobState>> state = JobState::Open(*spec);
  if (!state.ok()) return BadSpec(state.status());
  absl::StatusOr<std::vector<ShardReport>> reports = (*state)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  absl::StatusOr<VerifyFlags> flags = ParseVerifyFlags(args);
  if (!flags.ok()) return BadSpec(flags.status());

  const Coverage coverage = CollectCoverage(*reports);
  const int empty = PrintBuckets(Buckets(*spec, flags->width, coverage.hours), *flags);
  for (const std::string& p : coverage.problems) std::printf("problem: %s\n", p.c_str());
  if (empty > 0) {
    std::printf("problem: %d empty bucket%s: a hole in the recovered data\n", empty, empty == 1 ? "" : "s");
  }
  const bool ok = empty == 0 && coverage.problems.empty();
  std::printf("%s\n", ok ? "coverage OK" : "coverage NOT OK");
  if (coverage.not_done > 0) std::printf("to resume: %s\n", ResumeCommand(args).c_str());
  return ok ? kExitDone : kExitFailed;
}

}  // namespace recovery::cli
