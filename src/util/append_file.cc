#include "util/append_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

namespace {

// The longest length the checkpoints vouch for (their commit tokens); 0 when
// none does.
absl::StatusOr<uint64_t> CommittedLength(const SinkOpenContext& context, const std::string& path,
                                         std::string_view what) {
  uint64_t committed = 0;
  for (const std::string& token : context.committed_tokens) {
    uint64_t length;
    if (!absl::SimpleAtoi(token, &length)) {
      return absl::DataLossError(StrCat("a checkpoint holds \"", token, "\" as the committed length of ",
                                        what, " ", path, ", which is not a length"));
    }
    committed = std::max(committed, length);
  }
  return committed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppendFile>> AppendFile::Open(std::string path, const SinkOpenContext& context,
                                                             OnFreshStart fresh, bool fsync,
                                                             std::string_view what) {
  if (absl::Status s = MakeDirectories(DirName(path)); !s.ok()) return s;
  RECOVERY_ASSIGN_OR_RETURN(uint64_t committed, CommittedLength(context, path, what));
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  const uint64_t size = exists ? static_cast<uint64_t>(st.st_size) : 0;
  if (!context.resuming && size > 0) {
    switch (fresh) {
      case OnFreshStart::kFail:
        return absl::FailedPreconditionError(
            StrCat(what, " ", path, " already holds ", size,
                   " bytes but the job has no checkpoint; move it away, or set \"overwrite\": true"));
      case OnFreshStart::kRotate: {
        std::string rotated = StrCat(path, ".", FormatCompactUtc(absl::Now()), ".old");
        if (::rename(path.c_str(), rotated.c_str()) != 0) {
          return ErrnoError(errno, "rename to " + rotated, path);
        }
        break;
      }
      case OnFreshStart::kTruncate:
        break;
      case OnFreshStart::kKeep:
        committed = static_cast<uint64_t>(size);
        break;
    }
  }
  if (fresh == OnFreshStart::kKeep) {
    const std::string base_path = StrCat(path, ".base");
    if (!context.resuming) {
      if (absl::Status s = WriteFileAtomically(base_path, StrCat(committed, "\n")); !s.ok()) return s;
    } else {
      absl::StatusOr<std::string> base = ReadFile(base_path);
      uint64_t length = 0;
      if (!base.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*base), &length)) {
        return absl::DataLossError(StrCat(what, " ", path, ": ", base_path,
                                          " (where the job's appending began) is missing or unreadable"));
      }
      committed = std::max(committed, length);
    }
  }
  if (context.resuming && size < committed) {
    return absl::DataLossError(StrCat(what, " ", path, " holds ", size, " bytes but ", committed,
                                      " were committed: it was truncated or replaced "
                                      "outside recovery; records are missing from it"));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "open", path);
  // Drops what a crash left behind after the last commit (or the old content of
  // an overwritten file).
  if (::ftruncate(fd, static_cast<off_t>(committed)) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoError(e, "truncate", path);
  }
  if (fsync && ::fdatasync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoError(e, "fdatasync", path);
  }
  return std::unique_ptr<AppendFile>(new AppendFile(std::move(path), fd, committed, fsync));
}

AppendFile::~AppendFile() { ::close(fd_); }

absl::Status AppendFile::Append(std::string_view bytes) {
  absl::MutexLock lock(&mu_);
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(end_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path_);
    }
    end_ += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AppendFile::Commit(bool sync) {
  uint64_t committed;
  {
    absl::MutexLock lock(&mu_);
    committed_ = end_;
    committed = committed_;
  }
  if (sync) RECOVERY_RETURN_IF_ERROR(Sync());
  return StrCat(committed);
}

absl::Status AppendFile::Sync() {
  uint64_t target;
  {
    absl::MutexLock lock(&mu_);
    if (!fsync_ || synced_ >= committed_) return absl::OkStatus();
    target = committed_;
  }
  // Outside the lock: appends go on while the disk flushes; this covers at
  // least everything committed before it began.
  if (::fdatasync(fd_) != 0) return ErrnoError(errno, "fdatasync", path_);
  absl::MutexLock lock(&mu_);
  synced_ = std::max(synced_, target);
  return absl::OkStatus();
}

absl::Status AppendFile::Rollback() {
  absl::MutexLock lock(&mu_);
  if (end_ == committed_) return absl::OkStatus();
  if (::ftruncate(fd_, static_cast<off_t>(committed_)) != 0) {
    return ErrnoError(errno, "truncate", path_);
  }
  end_ = committed_;
  return absl::OkStatus();
}

}  // namespace recovery
