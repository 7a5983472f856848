// A whole recovery job as one JSON document (format: docs/job-spec.md).
#ifndef RECOVERY_JOB_SPEC_H_
#define RECOVERY_JOB_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/options.h"

namespace recovery {

// One pluggable section ("source", "mapper", …): its type and its raw JSON,
// parsed by the component that the type names.
struct ComponentSpec {
  std::string type;  // empty when the section is absent
  std::string json;  // the section as compact JSON
  bool present() const { return !type.empty(); }
};

struct JobSpec {
  std::string name;  // [A-Za-z0-9._-]{1,128}; namespaces the checkpoints
  // The window the job recovers, overlap included: [window.start - overlap,
  // window.end + overlap).
  absl::Time start;  // inclusive
  absl::Time end;    // exclusive
  // window.overlap: how far the window was widened on each side, for edges
  // of a gap that are only roughly known (pair it with skip_already_present).
  absl::Duration overlap = absl::ZeroDuration();
  // window.only: when not empty, only these parts of the window are
  // recovered ([start, end) each, inside the window, in order, not
  // overlapping): shards are planned within each. `recovery reconcile
  // --write-plan` writes them for the buckets it found short.
  std::vector<std::pair<absl::Time, absl::Time>> only;
  // Records the sink already holds are not delivered again: each page is
  // checked against the sink first (Sink::presence), and those records
  // count as already present. The sink must offer the check.
  bool skip_already_present = false;
  // Keeps a log of every record's key and outcome beside the checkpoints
  // (KeyLog: 16 bytes a record), so that `recovery find` can tell what
  // became of a key. Needs checkpoints that keep one (the file store).
  bool key_log = false;
  // Follow mode: after the gap, one more shard keeps polling for new records
  // every `poll_interval` until cancelled (window.follow, window.poll_interval).
  bool follow = false;
  absl::Duration poll_interval = absl::Seconds(30);
  absl::Duration shard_duration = absl::InfiniteDuration();  // one shard
  int concurrency = 1;                                       // shards run at once, 1 to 1024
  // concurrency: {"max": N}: the HTTP source learns how many requests to
  // keep in flight (up to N) and how fast to send them from the API's answers
  // (HttpSourceOptions::adaptive_max_in_flight). A plain number keeps every
  // shard sending whenever it is ready.
  bool adaptive_concurrency = false;
  int64_t max_records = 0;  // stop after about this many records; 0 = all
  // The crash-loop breaker: once this many runs in a row died (a crash, an
  // out-of-memory kill) while the same batch was in the sink, the batch is
  // delivered in halves, each alone in the process, until the record that
  // kills it stands alone; that record goes to the dead letters ("crashed the
  // process N times") and the rest are delivered. 0: off. Needs a sink that
  // takes the in-flight mark (every sink but the JSON-lines file, which rolls
  // back instead).
  int isolate_after_crashes = 2;
  RetryPolicy retry;
  ErrorBudget error_budget;
  ComponentSpec source, mapper, sink, checkpoint, dead_letters;
  // Relative paths in component sections resolve against this directory
  // (the job file's, when loaded with FromFile; else the working directory).
  std::string base_dir;

  // Parses and validates strictly: an unknown key, a wrong type, a missing
  // field or a bad component section is InvalidArgument listing every error
  // with its JSON path, e.g. `source.batch_size: expected integer, got "100"`.
  // Reads nothing but the text: secrets, AWS credentials and regions named by
  // the spec are resolved when its components are created.
  static absl::StatusOr<JobSpec> Parse(std::string_view json);
  static absl::StatusOr<JobSpec> FromFile(const std::string& path);
};

// Every error of a job spec, one per entry, each starting with its JSON path.
// Empty when the spec is valid. Unlike Parse, also resolves what creating the
// components needs, so a missing secret is reported naming its variable or file.
RECOVERY_EXPORT std::vector<std::string> ValidateJobSpec(std::string_view json);

}  // namespace recovery

#endif  // RECOVERY_JOB_SPEC_H_
