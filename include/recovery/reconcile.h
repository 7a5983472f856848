// Reconcile: completeness proved against the destination. Per time bucket of
// the job's window, what the vendor holds next to what the destination
// holds, counted in the destination itself (where the live feed writes too),
// not in the job's own checkpoints. Run before a recovery it sizes and
// locates the gap; run after, it proves the destination complete.
#ifndef RECOVERY_RECONCILE_H_
#define RECOVERY_RECONCILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/backfiller.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"

namespace recovery {

struct ReconcileOptions {
  absl::Duration bucket = absl::Hours(1);  // a whole number of seconds
  // Buckets read from the source at once; 0: the job's concurrency.
  int concurrency = 0;
  // Take the source's reported total of a bucket (an X-Total-Count header, a
  // "total" field) as the vendor's count without paging the bucket. Off: every
  // bucket is paged and its records counted, and a reported total that
  // disagrees is shown.
  bool trust_reported_total = false;
  // List the keys the destination lacks in each short bucket holding at most
  // this many vendor records: the bucket is paged again and its records
  // asked of the sink's presence check (Sink::presence(): Check, after
  // OpenForReading). 0: list none.
  size_t keys_limit = 0;
};

struct ReconcileBucket {
  absl::Time start, end;
  // Records the vendor holds in the bucket that the job would deliver (in the
  // bucket by their event time, mapped; not the ones the mapping drops or
  // rejects).
  uint64_t vendor = 0;
  std::string vendor_method;    // "paged" or "reported total"
  int64_t reported_total = -1;  // the source's own count for the bucket, when it gave one
  uint64_t unusable = 0;        // records the mapping rejects: the destination will not get them
  uint64_t destination = 0;     // records the destination holds with an event time in the bucket
  // With ReconcileOptions::keys_limit, for a short bucket within it: the keys
  // of the vendor's records the destination lacks, in the vendor's order.
  std::vector<std::string> missing_keys;
  bool keys_listed = false;
  // The destination holds fewer than the vendor: the bucket needs recovering.
  bool short_of_vendor() const { return destination < vendor; }
  int64_t difference() const { return static_cast<int64_t>(destination) - static_cast<int64_t>(vendor); }
};

struct ReconcileReport {
  std::vector<ReconcileBucket> buckets;
  uint64_t vendor = 0, destination = 0;
  int short_buckets = 0;
  // Things an operator must know: a reported total that disagrees with what
  // the source pages, records without an event time.
  std::vector<std::string> notes;
  // The destination holds at least what the vendor reports in every bucket.
  bool complete() const { return short_buckets == 0; }
};

// Counts the vendor's records per bucket through the job's source and
// mapping, and the destination's through its sink
// (Sink::counter()). Writes nothing anywhere and takes no checkpoint.
// `components` may replace the spec's source, mapper and sink. A sink that
// cannot count is FailedPrecondition naming it; a bucket that is not a whole
// number of seconds is InvalidArgument.
RECOVERY_EXPORT absl::StatusOr<ReconcileReport> Reconcile(const JobSpec& spec, Components components,
                                                          const ReconcileOptions& options);

// The report as one JSON object (what `recovery reconcile --json` prints and
// recovery_job_reconcile_json returns).
RECOVERY_EXPORT std::string ReconcileReportJson(const ReconcileReport& report, absl::Duration bucket);

// Keeps `report` as the job's last reconcile, beside its checkpoints
// (<checkpoint.dir>/<job>/reconcile.json, or recovery-state/<job>/ beside
// the job file), as {"saved_at": RFC 3339, "reconcile": ReconcileReportJson},
// for `recovery report`; replaces the one before, atomically.
RECOVERY_EXPORT absl::Status SaveReconcileReport(const JobSpec& spec, const ReconcileReport& report,
                                                 absl::Duration bucket, absl::Time now);
// The path SaveReconcileReport writes.
RECOVERY_EXPORT std::string SavedReconcilePath(const JobSpec& spec);

// A bucket's status word: "ok", "more" (the destination holds more),
// "SHORT", or "MISSING" (the destination holds none).
RECOVERY_EXPORT const char* ReconcileStatus(const ReconcileBucket& bucket);

// A copy of `spec` (its JSON text) that recovers only the buckets `report`
// found short: its window becomes the span from the first short bucket to
// the end of the last, and "window.only" lists the short buckets, so that
// `recovery plan` and `recovery run` cover exactly them.
RECOVERY_EXPORT absl::StatusOr<std::string> PlanForShortBuckets(std::string_view spec_json,
                                                                const ReconcileReport& report);

}  // namespace recovery

#endif  // RECOVERY_RECONCILE_H_
