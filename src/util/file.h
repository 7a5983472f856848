// POSIX file helpers with errors that name the file.
#ifndef RECOVERY_UTIL_FILE_H_
#define RECOVERY_UTIL_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recovery {

// errno turned into a status: "<op> <path>: <strerror>".
absl::Status ErrnoError(int error, std::string_view op, std::string_view path);

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `content` to `path` so that after a crash the file holds either its
// old content or `content`: a temp file, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content);
// Writes each (offset, bytes) over what the file holds there, then
// fdatasync()s when `sync`; the file keeps its length.
absl::Status OverwriteInPlace(const std::string& path,
                              const std::vector<std::pair<uint64_t, std::string>>& pieces, bool sync);

absl::Status SyncDirectory(const std::string& dir);
// The names in `dir` ("." and ".." among them; none when it does not exist).
std::vector<std::string> ListDir(const std::string& dir);
absl::Status MakeDirectories(const std::string& path);  // like mkdir -p
std::string DirName(const std::string& path);
// `path` when absolute or `base` is empty, else base/path.
std::string ResolvePath(const std::string& base, const std::string& path);

// A descriptor closed when the holder goes (a negative one is not open).
struct ScopedFd {
  explicit ScopedFd(int descriptor = -1) : fd(descriptor) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Close(); }
  void Close();

  int fd;
};

// An exclusive flock() on `path`, released when destroyed.
class FileLock {
 public:
  // FailedPrecondition naming the file and the holder's pid when held.
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path, std::string_view what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace recovery

#endif  // RECOVERY_UTIL_FILE_H_
