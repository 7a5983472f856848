// The probe: every assumption a job makes about the vendor's API and the
// destination, checked against the real ones before the first write, within
// a budget of requests. Read-only: it fetches from the source and reads the
// destination's catalog and rows, and builds no checkpoint or dead-letter
// store. What each verdict means and what to change: docs/probe.md.
#ifndef RECOVERY_PROBE_H_
#define RECOVERY_PROBE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/components.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"

namespace recovery {

struct ProbeOptions {
  int samples = 6;         // shards spread over the window, besides the first and the last; 0 to 1000
  int pages = 5;           // pages read per sample at most; 1 to 1000
  int max_requests = 100;  // requests to the source in all, retries included; 1 to 100,000
  // Told of each step ("sample 3/8: shard …, 5 pages, 500 records"). Optional.
  std::function<void(std::string_view line)> progress;
};

enum class Verdict { kOk, kWarn, kBroken, kNotChecked };

// "ok", "warn", "broken", "not checked".
RECOVERY_EXPORT const char* VerdictName(Verdict verdict);

// One assumption and what the probe found.
struct ProbeCheck {
  std::string id;     // stable, for machines: "window_filter", "order", "page_size", …
  std::string title;  // what is assumed, in words
  Verdict verdict = Verdict::kNotChecked;
  std::string finding;                // one sentence
  std::vector<std::string> evidence;  // counts, an example record's key; never a secret
  std::string fix;                    // the spec change that fixes it, when there is one
};

// One range the probe read.
struct ProbeSample {
  std::string shard;  // the shard's id, or "<id>/sub" for a narrow sub-window
  std::string role;   // "first", "spread", "last", "sub-window"
  absl::Time start, end;
  int pages = 0;
  int requests = 0;
  uint64_t records = 0;    // raw records returned
  uint64_t in_window = 0;  // mapped, with an event time inside the range
  uint64_t outside = 0;    // with an event time outside it
  uint64_t rejected = 0;   // the mapping refused them
  int64_t reported_total = -1;
  bool exhausted = false;  // paged to the proven end within its pages
  std::string stopped;     // why it stopped: "end", "pages", "budget", or the error
};

struct ProbeReport {
  std::string job;
  std::vector<ProbeCheck> checks;
  std::vector<ProbeSample> samples;
  int requests = 0;  // to the source
  int max_requests = 0;
  bool cut_short = false;  // the budget ran out before every sample was read
  // The vendor's pace: latency of answered requests, quota headers seen.
  double latency_p50_ms = -1, latency_p90_ms = -1, latency_p99_ms = -1;
  std::vector<std::string> quota_headers;  // "name: value", the last of each name
  // The whole run, estimated from the samples: records, requests and time
  // at the job's concurrency (or its rate limit). -1: no estimate.
  int64_t estimated_records = -1;
  int64_t estimated_requests = -1;
  double estimated_seconds = -1;
  // Some sample was neither read to its end nor told its size (a total, a
  // sorted position): the estimates are a floor.
  bool estimate_is_minimum = false;
  std::vector<std::string> notes;  // what the probe could not do, and why

  Verdict worst() const;
  // 0: nothing broken (warnings allowed); 1: something broken.
  int exit_code() const { return worst() == Verdict::kBroken ? 1 : 0; }
};

// Probes the job. `components` may replace the spec's source, mapper and
// sink; no checkpoint or dead-letter store is built or asked. An error
// (InvalidArgument for a bad spec or option, Unavailable when the source
// answers nothing) means the probe could not run: the CLI's exit code 2.
RECOVERY_EXPORT absl::StatusOr<ProbeReport> Probe(const JobSpec& spec, Components components,
                                                  const ProbeOptions& options);

// The report as one JSON object (`recovery probe --json`,
// recovery_job_probe_json, Python's Job.probe()).
RECOVERY_EXPORT std::string ProbeReportJson(const ProbeReport& report);

// The report for a terminal: one line per check, its evidence and fix below.
RECOVERY_EXPORT std::string ProbeReportText(const ProbeReport& report);

}  // namespace recovery

#endif  // RECOVERY_PROBE_H_
