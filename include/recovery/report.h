// The operator's report: one self-contained HTML page (no script, font,
// image or request from elsewhere; it prints) that shows where a job stands,
// for the people who ask "is the gap closed?". Built from what the job keeps:
// its checkpoints (records per hour of event time, each shard's counts and
// state), its dead letters and its last reconcile (SaveReconcileReport); a
// probe's saved report is shown when given.
// Reads only: no source or sink is built, no checkpoint or letter changes.
#ifndef RECOVERY_REPORT_H_
#define RECOVERY_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"
#include "recovery/job_state.h"

namespace recovery {

struct ReportOptions {
  // A probe's JSON report (recovery probe --save), shown in its own section;
  // empty: none.
  std::string probe_json;
  // The time the page says it was made (fixed by tests).
  absl::Time now = absl::InfinitePast();  // InfinitePast: absl::Now()
};

// Dead letters not yet settled by a replay, grouped by reason.
struct LetterGroup {
  std::string reason;
  uint64_t count = 0;
  std::string example;              // the first letter's raw record, shortened, secrets masked
  std::vector<std::string> shards;  // where they came from, each once, in order
};

// One run of the job on this host, from its run log (beside the checkpoints:
// a line when a run starts, one when it ends).
struct RunLogEntry {
  std::string run_id;
  std::string host;
  int64_t pid = 0;
  absl::Time started;
  std::optional<absl::Time> ended;  // nullopt: it died (a crash, a kill), or is running
  std::string outcome;              // RunOutcomeName, once ended
  uint64_t records = 0;             // delivered by the run, once ended
  // Records the run had delivered so far, about once a minute while it ran.
  std::vector<std::pair<absl::Time, uint64_t>> progress;
};

// What the page is made of, gathered once (CollectReport) and rendered
// (ReportHtml); separate so that the page can be tested on fixed data.
struct ReportData {
  std::string job;
  absl::Time start, end;             // the window
  std::vector<ShardReport> shards;   // as `recovery status` reads them
  std::vector<LetterGroup> letters;  // biggest group first
  uint64_t letters_total = 0;
  std::string letters_error;  // the dead letters could not be read: why
  std::string probe_json;
  // The job's last reconcile as SaveReconcileReport kept it, or empty.
  std::string reconcile_json;
  std::vector<RunLogEntry> runs;  // oldest first
  absl::Time made;
};

// Whether the gap is closed: every shard done and no dead letter left
// unsettled (the page's verdict).
RECOVERY_EXPORT bool ReportComplete(const ReportData& data);

// Reads the job's checkpoints and dead letters.
RECOVERY_EXPORT absl::StatusOr<ReportData> CollectReport(const JobSpec& spec,
                                                         const ReportOptions& options = {});

// The page. Every number it shows is also on its element as a data-*
// attribute, for tests and scrapers: data-records-delivered on <main>, and
// so on (docs/operations.md lists them).
RECOVERY_EXPORT std::string ReportHtml(const ReportData& data);

}  // namespace recovery

#endif  // RECOVERY_REPORT_H_
