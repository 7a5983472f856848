#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recovery/source.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kErrorPrefix = 256;

// The bytes read ahead of a reader. It grows only when a read needs more
// room, so a read does not first zero the bytes it is about to fill (as
// std::string::resize would, 256 KiB a read).
class ReadAhead {
 public:
  const char* data() const { return bytes_.data(); }
  size_t size() const { return size_; }
  std::string_view view() const { return {bytes_.data(), size_}; }
  void clear() { size_ = 0; }
  void DropFront(size_t n) {
    std::memmove(bytes_.data(), bytes_.data() + n, size_ - n);
    size_ -= n;
  }
  // Room for `n` bytes after the last, to read into; Grow() then keeps what was read.
  char* Room(size_t n) {
    if (bytes_.size() < size_ + n) bytes_.resize(size_ + n);
    return bytes_.data() + size_;
  }
  void Grow(size_t n) { size_ += n; }

 private:
  std::string bytes_;
  size_t size_ = 0;
};

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

class JsonlFileReader : public ShardReader {
 public:
  JsonlFileReader(const JsonlFileSourceOptions& options, int fd, uint64_t offset)
      : options_(options), fd_(fd), offset_(offset) {}
  ~JsonlFileReader() override { ::close(fd_); }

  absl::Status Next(Page* page) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoError(errno, "stat", options_.path);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t pos = offset_;
    int count = 0;
    while (count < options_.batch_size && pos < size) {
      absl::StatusOr<uint64_t> next = ReadLine(pos, size, page, &count);
      if (!next.ok()) return next.status();  // position unchanged: Next() retries the page
      pos = *next;
    }
    page->bytes = pos - offset_;
    page->next_cursor = StrCat(pos);
    page->exhausted = pos >= size;
    page->progress = size == 0 ? 1.0 : static_cast<double>(pos) / static_cast<double>(size);
    offset_ = pos;
    return absl::OkStatus();
  }

 private:
  // Reads the line starting at `pos` into `page` (blank lines are skipped) and
  // returns where the following line starts.
  absl::StatusOr<uint64_t> ReadLine(uint64_t pos, uint64_t size, Page* page, int* count) {
    if (pos < buf_start_ || pos > buf_start_ + buf_.size()) {  // not buffered: start over here
      buf_.clear();
      buf_start_ = pos;
    }
    size_t scanned = pos - buf_start_;  // bytes of the buffer known to hold no newline
    while (true) {
      const char* begin = buf_.data() + scanned;
      // NOLINTNEXTLINE(bugprone-not-null-terminated-result): a search, not a copy
      const char* newline = static_cast<const char*>(std::memchr(begin, '\n', buf_.size() - scanned));
      if (newline != nullptr) {
        const size_t line_start = pos - buf_start_;
        const size_t line_end = static_cast<size_t>(newline - buf_.data());
        if (line_end - line_start > options_.max_record_bytes) {
          AddOversize(buf_.view().substr(line_start, kErrorPrefix), pos, line_end - line_start + 1, page,
                      count);
        } else {
          AddLine(buf_.view().substr(line_start, line_end - line_start), page, count);
        }
        return buf_start_ + line_end + 1;
      }
      scanned = buf_.size();
      const uint64_t buffered_end = buf_start_ + buf_.size();
      if (buffered_end - pos > options_.max_record_bytes) return SkipOversize(pos, size, page, count);
      if (buffered_end >= size) {  // the last line has no newline
        AddLine(buf_.view().substr(pos - buf_start_), page, count);
        return buffered_end;
      }
      // Drop consumed bytes, then read more.
      const size_t consumed = pos - buf_start_;
      buf_.DropFront(consumed);
      buf_start_ = pos;
      scanned -= consumed;
      absl::StatusOr<size_t> n = ReadMore();
      if (!n.ok()) return n.status();
      if (*n == 0) {  // the file shrank under us: what we have is the last line
        AddLine(buf_.view(), page, count);
        return buf_start_ + buf_.size();
      }
    }
  }

  absl::StatusOr<size_t> ReadMore() {
    const size_t old = buf_.size();
    char* room = buf_.Room(kReadChunk);
    while (true) {
      ssize_t n = ::pread(fd_, room, kReadChunk, static_cast<off_t>(buf_start_ + old));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(errno, StrCat("read at offset ", buf_start_ + old, " of"), options_.path);
      buf_.Grow(static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
  }

  // The line at `pos` is too long to hold: dead-letter its prefix and skip to
  // the next newline without buffering the rest.
  absl::StatusOr<uint64_t> SkipOversize(uint64_t pos, uint64_t size, Page* page, int* count) {
    std::string prefix(buf_.view().substr(pos - buf_start_, kErrorPrefix));
    uint64_t at = buf_start_ + buf_.size();
    buf_.clear();
    while (at < size) {
      buf_start_ = at;
      absl::StatusOr<size_t> n = ReadMore();
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      const char* newline = static_cast<const char*>(std::memchr(buf_.data(), '\n', buf_.size()));
      if (newline != nullptr) {
        at = buf_start_ + static_cast<size_t>(newline - buf_.data()) + 1;
        break;
      }
      at = buf_start_ + buf_.size();
      buf_.clear();
    }
    AddOversize(prefix, pos, at - pos, page, count);
    return at;
  }

  void AddOversize(std::string_view prefix, uint64_t pos, uint64_t length, Page* page, int* count) const {
    page->records.AddError(prefix, StrCat("line at byte offset ", pos, " is ", length,
                                          " bytes, over max_record_bytes (", options_.max_record_bytes, ")"));
    ++*count;
  }

  static void AddLine(std::string_view line, Page* page, int* count) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return;
    page->records.Add(line);
    ++*count;
  }

  const JsonlFileSourceOptions options_;  // a copy: the reader may outlive its source
  const int fd_;
  uint64_t offset_;
  ReadAhead buf_;  // file bytes [buf_start_, buf_start_ + size)
  uint64_t buf_start_ = 0;
};

class JsonlFileSource : public Source {
 public:
  explicit JsonlFileSource(JsonlFileSourceOptions options) : options_(std::move(options)) {}

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext&) override {
    uint64_t offset = 0;
    if (!cursor.empty() && !absl::SimpleAtoi(ToAbsl(cursor), &offset)) {
      return absl::DataLossError(
          StrCat("shard ", shard.id, ": cursor \"", cursor, "\" is not a byte offset into ", options_.path));
    }
    int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open source file", options_.path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return ErrnoError(e, "stat", options_.path);
    }
    if (offset > static_cast<uint64_t>(st.st_size)) {
      ::close(fd);
      return absl::DataLossError(StrCat("shard ", shard.id, ": cursor ", offset, " is past the end of ",
                                        options_.path, " (", st.st_size,
                                        " bytes): the export changed since the checkpoint"));
    }
    return std::unique_ptr<ShardReader>(new JsonlFileReader(options_, fd, offset));
  }

  bool partitions_by_shard() const override { return false; }
  bool commit_needs_saved_checkpoint() const override { return false; }  // a reader commits nothing

 private:
  const JsonlFileSourceOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> NewJsonlFileSource(JsonlFileSourceOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("source.path: must not be empty");
  if (options.batch_size < 1 || options.batch_size > 1000000) {
    return absl::InvalidArgumentError("source.batch_size: must be between 1 and 1000000");
  }
  if (options.max_record_bytes < 1024 || options.max_record_bytes > (1ull << 30)) {
    return absl::InvalidArgumentError("source.max_record_bytes: must be between 1024 and 1073741824");
  }
  return std::unique_ptr<Source>(new JsonlFileSource(std::move(options)));
}

}  // namespace recovery
