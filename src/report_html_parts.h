// Pieces of the report page (report_html.cc) that stand on their own:
// escaping and numbers, and the sections drawn from the files the job keeps
// beside its checkpoints (the last reconcile, the run log).
#ifndef RECOVERY_REPORT_HTML_PARTS_H_
#define RECOVERY_REPORT_HTML_PARTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "recovery/report.h"

namespace recovery::page {

std::string Html(std::string_view s);  // escaped for text and attribute values
std::string Number(uint64_t n);        // 1234567 -> 1,234,567

// A bucket of the last reconcile where the destination holds less than the vendor.
struct ShortBucket {
  std::string start, end, status;
  int64_t from = 0, to = 0;  // Unix seconds
  uint64_t vendor = 0, destination = 0;
};

// The job's last reconcile (ReportData::reconcile_json), read.
struct Reconciled {
  bool kept = false;  // a result was saved
  bool read = false;  // and could be read
  std::string saved_at;
  int64_t bucket_seconds = 0, buckets = 0;
  uint64_t vendor = 0, destination = 0;
  std::vector<ShortBucket> short_buckets;
};

Reconciled ReadReconciled(const std::string& json);

// <section id="reconcile">: when, the totals, the short buckets. Nothing
// when the job was never reconciled.
void ReconcileSection(const Reconciled& r, std::string* out);

// <section id="runs">: the runs on a line of time, each a bar from its start
// to its end, and a table; a run with no end that a later one followed died.
void RunsSection(const std::vector<RunLogEntry>& runs, std::string* out);

// A table of the outcomes other than delivered, per day of event time (UTC),
// summed from the shards' hours (`other`: hour -> outcomes): only days with
// some. `letters_without_hour`: dead letters whose event time is unknown,
// said below it.
void OtherOutcomesTable(const std::map<int64_t, HourOutcomes>& other, uint64_t letters_without_hour,
                        std::string* out);

}  // namespace recovery::page

#endif  // RECOVERY_REPORT_HTML_PARTS_H_
