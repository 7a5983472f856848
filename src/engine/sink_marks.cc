#include "engine/sink_marks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "util/hash.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr uint32_t kMagic = 0x314d5352;  // "RSM1"

// One shard's slot. The stamp is in microseconds since the epoch, the
// precision a checkpoint keeps its times in.
struct Slot {
  int64_t stamp_us;
  uint32_t magic;
  uint32_t where;
};
static_assert(sizeof(Slot) == 16);

bool IsDirectory(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::unique_ptr<SinkMarks> SinkMarks::Open(std::string_view job) {
  if (IsDirectory("/dev/shm")) {
    if (std::unique_ptr<SinkMarks> marks = OpenIn("/dev/shm", job)) return marks;
  }
  const char* tmp = std::getenv("TMPDIR");
  return OpenIn(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", job);
}

std::unique_ptr<SinkMarks> SinkMarks::OpenIn(const std::string& dir, std::string_view job) {
  // The user's id keeps one user's file from another's; the job's name in a
  // hash keeps the name safe as a file name.
  std::string path = StrCat(dir, "/recovery-sink-marks-", getuid(), "-", Hex64(StableHash64(job)));
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nullptr;
  return std::unique_ptr<SinkMarks>(new SinkMarks(fd, std::move(path)));
}

SinkMarks::~SinkMarks() { close(fd_); }

void SinkMarks::Put(int shard, absl::Time stamp, uint32_t where) {
  if (shard < 0) return;
  const Slot slot{absl::ToUnixMicros(stamp), kMagic, where};
  // One pwrite of one slot: a process killed during it finds the kernel has
  // finished the copy, so a slot is never torn by a kill.
  (void)!pwrite(fd_, &slot, sizeof slot, static_cast<off_t>(shard) * static_cast<off_t>(sizeof slot));
}

SinkMarks::Where SinkMarks::Last(int shard, absl::Time stamp) const {
  Slot slot{};
  if (shard < 0 ||
      pread(fd_, &slot, sizeof slot, static_cast<off_t>(shard) * static_cast<off_t>(sizeof slot)) !=
          static_cast<ssize_t>(sizeof slot)) {
    return Where::kUnknown;
  }
  if (slot.magic != kMagic || slot.stamp_us != absl::ToUnixMicros(stamp)) return Where::kUnknown;
  if (slot.where == kInSink) return Where::kInSink;
  if (slot.where == kOutside) return Where::kOutside;
  return Where::kUnknown;
}

}  // namespace recovery
