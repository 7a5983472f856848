// The job's run log, beside its checkpoints when they are files
// (CheckpointStore::files_dir, <dir>/<job>/runs.jsonl): one line when a run
// of this host starts, one when it ends. A start without an
// end is a run that died (a crash, a kill) or one still running; the report
// draws them as its timeline. Appended, never rewritten; not synced (a
// process that dies keeps what it wrote).
#ifndef RECOVERY_ENGINE_RUN_LOG_H_
#define RECOVERY_ENGINE_RUN_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/job_spec.h"
#include "recovery/report.h"

namespace recovery {

inline constexpr char kRunLogName[] = "runs.jsonl";
// Where a job whose checkpoints are files keeps its run log (JobFilesDir).
std::string RunLogPath(const JobSpec& spec);

// `what` is "start" or "end"; `outcome` and `records` go with an end.
absl::Status AppendRunLog(const std::string& path, std::string_view what, std::string_view run_id,
                          absl::Time at, std::string_view outcome = {}, uint64_t records = 0);

// The runs in the order they started; lines that cannot be read are
// skipped (a torn last line). Empty when the job has no log.
absl::StatusOr<std::vector<RunLogEntry>> ReadRunLog(const std::string& path);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_RUN_LOG_H_
