// An append-only file with a committed length, shared by the JSON-lines sink
// and the dead-letter file: exactly once by truncating to the committed length
// stored in the checkpoints.
#ifndef RECOVERY_UTIL_APPEND_FILE_H_
#define RECOVERY_UTIL_APPEND_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recovery/sink.h"

namespace recovery {

class AppendFile {
 public:
  // What to do with a non-empty file when the job starts fresh. kKeep appends
  // after what the file holds, and records that length in "<path>.base" so a
  // resume before any commit knows where the job's own bytes began.
  enum class OnFreshStart { kFail, kTruncate, kRotate, kKeep };

  // On resume, truncates to the largest committed token (DataLoss when the
  // file is shorter than that or a token is not a length). `what` names the
  // file's role in errors ("sink file").
  static absl::StatusOr<std::unique_ptr<AppendFile>> Open(std::string path, const SinkOpenContext& context,
                                                          OnFreshStart fresh, bool fsync,
                                                          std::string_view what);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  absl::Status Append(std::string_view bytes);
  // Makes everything appended durable; returns the new committed length as a
  // decimal token. With `sync` false the bytes are committed (Rollback keeps
  // them) but durable only after the next Sync().
  absl::StatusOr<std::string> Commit(bool sync = true);
  // fdatasync, when something committed is not yet durable.
  absl::Status Sync();
  // Drops everything appended since the last Commit().
  absl::Status Rollback();
  const std::string& path() const { return path_; }
  // The committed length: every byte before it is vouched for.
  uint64_t committed() const {
    absl::MutexLock lock(&mu_);
    return committed_;
  }

 private:
  AppendFile(std::string path, int fd, uint64_t committed, bool fsync)
      : path_(std::move(path)),
        fd_(fd),
        fsync_(fsync),
        committed_(committed),
        end_(committed),
        synced_(committed) {}

  const std::string path_;
  const int fd_;
  const bool fsync_;
  // Sync() may run on another thread than Append()/Commit() (group commit).
  mutable absl::Mutex mu_;
  uint64_t committed_ ABSL_GUARDED_BY(mu_);
  uint64_t end_ ABSL_GUARDED_BY(mu_);
  uint64_t synced_ ABSL_GUARDED_BY(mu_);  // durable up to here (with fsync_)
};

}  // namespace recovery

#endif  // RECOVERY_UTIL_APPEND_FILE_H_
