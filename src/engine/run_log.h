// The job's run log, beside its checkpoints when they are files
// (CheckpointStore::files_dir, <dir>/<job>/runs.jsonl): one line when a run
// of this host starts, one with its records so far every minute or so while
// it runs, one when it ends. A start without an end is a run that died (a
// crash, a kill) or one still running; the report draws them as its
// timeline, with the records per minute. Appended, never rewritten; not synced (a
// process that dies keeps what it wrote).
#ifndef RECOVERY_ENGINE_RUN_LOG_H_
#define RECOVERY_ENGINE_RUN_LOG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "recovery/job_spec.h"
#include "recovery/report.h"

namespace recovery {

inline constexpr char kRunLogName[] = "runs.jsonl";
// Where a job whose checkpoints are files keeps its run log (JobFilesDir).
std::string RunLogPath(const JobSpec& spec);

// `what` is "start", "progress" or "end"; `records` (delivered by the run
// so far) goes with the last two, `outcome` with an end.
absl::Status AppendRunLog(const std::string& path, std::string_view what, std::string_view run_id,
                          absl::Time at, std::string_view outcome = {}, uint64_t records = 0);

// Calls `note` every `every` (at least 10 ms) from a thread of its own until
// destroyed; the run's progress lines.
class RunLogTicker {
 public:
  RunLogTicker(absl::Duration every, std::function<void()> note);
  ~RunLogTicker();
  RunLogTicker(const RunLogTicker&) = delete;
  RunLogTicker& operator=(const RunLogTicker&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

// The runs in the order they started; lines that cannot be read are
// skipped (a torn last line). Empty when the job has no log.
absl::StatusOr<std::vector<RunLogEntry>> ReadRunLog(const std::string& path);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_RUN_LOG_H_
