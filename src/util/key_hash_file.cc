#include "util/key_hash_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr char kMagic[8] = {'R', 'K', 'E', 'Y', 'S', '0', '0', '1'};
constexpr off_t kHeader = sizeof kMagic;

// Entries the open file holds after its magic, checked; or DataLoss.
absl::StatusOr<uint64_t> Entries(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return ErrnoError(errno, "stat", path);
  if (st.st_size == 0) return 0;
  char magic[sizeof kMagic];
  if (st.st_size < kHeader || pread(fd, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
      std::memcmp(magic, kMagic, sizeof magic) != 0) {
    return absl::DataLossError(StrCat(path, ": not a file of delivered keys (no RKEYS001 header)"));
  }
  return static_cast<uint64_t>(st.st_size - kHeader) / 8;  // a torn last entry is not one
}

}  // namespace

absl::Status WriteKeyHashes(const std::string& path, uint64_t at, absl::Span<const uint64_t> hashes) {
  const bool existed = access(path.c_str(), F_OK) == 0;
  const ScopedFd f{open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)};
  if (f.fd < 0) return ErrnoError(errno, "open", path);
  absl::StatusOr<uint64_t> held = Entries(f.fd, path);
  if (!held.ok()) return held.status();
  if (*held < at) {
    return absl::DataLossError(
        StrCat(path, ": holds ", *held, " delivered keys, but the checkpoint vouches for ", at));
  }
  std::string bytes;
  if (*held == 0 && at == 0) bytes.assign(kMagic, sizeof kMagic);
  const off_t offset = bytes.empty() ? kHeader + static_cast<off_t>(at * 8) : 0;
  bytes.reserve(bytes.size() + hashes.size() * 8);
  for (uint64_t h : hashes) {
    char le[8];
    PutLittleEndian(h, 8, le);
    bytes.append(le, sizeof le);
  }
  if (pwrite(f.fd, bytes.data(), bytes.size(), offset) != static_cast<ssize_t>(bytes.size()))
    return ErrnoError(errno == 0 ? EIO : errno, "write", path);
  if (ftruncate(f.fd, offset + static_cast<off_t>(bytes.size())) != 0)
    return ErrnoError(errno, "truncate", path);
  if (fdatasync(f.fd) != 0) return ErrnoError(errno, "fdatasync", path);
  if (!existed) return SyncDirectory(DirName(path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> ReadKeyHashes(const std::string& path, uint64_t count) {
  std::vector<uint64_t> out;
  if (count == 0) return out;
  const ScopedFd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) {
      return absl::DataLossError(
          StrCat(path, ": missing, but the checkpoint vouches for ", count, " delivered keys in it"));
    }
    return ErrnoError(errno, "open", path);
  }
  absl::StatusOr<uint64_t> held = Entries(f.fd, path);
  if (!held.ok()) return held.status();
  if (*held < count) {
    return absl::DataLossError(
        StrCat(path, ": holds ", *held, " delivered keys, but the checkpoint vouches for ", count));
  }
  std::string bytes(count * 8, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = pread(f.fd, bytes.data() + got, bytes.size() - got, kHeader + static_cast<off_t>(got));
    if (n <= 0) return ErrnoError(n == 0 ? EIO : errno, "read", path);
    got += static_cast<size_t>(n);
  }
  out.reserve(count);
  for (size_t i = 0; i < bytes.size(); i += 8) out.push_back(GetLittleEndian(bytes.data() + i, 8));
  return out;
}

}  // namespace recovery
