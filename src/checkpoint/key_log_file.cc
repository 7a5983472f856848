#include "checkpoint/key_log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr char kMagic[8] = {'R', 'K', 'L', 'O', 'G', '0', '0', '1'};
constexpr size_t kEntry = 16;
constexpr uint8_t kRunStart = 0;

size_t Padded(size_t n) { return (n + kEntry - 1) / kEntry * kEntry; }

uint8_t CodeOf(RecordOutcome outcome) {
  switch (outcome) {
    case RecordOutcome::kDelivered:
      return 1;
    case RecordOutcome::kAlreadyPresent:
      return 2;
    case RecordOutcome::kDeadLettered:
      return 3;
    case RecordOutcome::kOutOfWindow:
      return 4;
    case RecordOutcome::kDropped:
      break;
  }
  return 5;
}

std::optional<RecordOutcome> OutcomeOf(uint8_t code) {
  switch (code) {
    case 1:
      return RecordOutcome::kDelivered;
    case 2:
      return RecordOutcome::kAlreadyPresent;
    case 3:
      return RecordOutcome::kDeadLettered;
    case 4:
      return RecordOutcome::kOutOfWindow;
    case 5:
      return RecordOutcome::kDropped;
    default:
      return std::nullopt;
  }
}

void AppendEntry(uint64_t hash, absl::Time at, uint8_t what, std::string* out) {
  char e[kEntry] = {};
  PutLittleEndian(hash, 8, e);
  PutLittleEndian(static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixSeconds(at))), 4, e + 8);
  e[12] = static_cast<char>(what);
  out->append(e, kEntry);
}

// Text padded with zeros to whole entries.
void AppendPadded(std::string_view text, std::string* out) {
  out->append(text);
  out->append(Padded(text.size()) - text.size(), '\0');
}

// Reads the whole file; the logs are read only by `recovery find`.
absl::StatusOr<std::string> ReadAll(int fd, const std::string& path) {
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "read", path);
    if (n == 0) return bytes;
    bytes.append(buffer, static_cast<size_t>(n));
  }
}

// Walks the entries of a log's bytes: calls `visit` with each record's entry
// and the run that wrote it. Returns the length of the whole entries (what
// follows is a torn tail), or DataLoss.
template <typename Visit>
absl::StatusOr<size_t> Walk(std::string_view bytes, const std::string& path, std::string* shard_id,
                            Visit visit) {
  auto not_a_log = [&](std::string_view why) {
    return absl::DataLossError(StrCat(path, ": not a key log (", why, ")"));
  };
  if (bytes.size() < kEntry || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return not_a_log("no RKLOG001 header");
  const size_t id_size = GetLittleEndian(bytes.data() + 8, 4);
  if (bytes.size() < kEntry + Padded(id_size)) return not_a_log("its header is cut short");
  shard_id->assign(bytes.substr(kEntry, id_size));
  size_t pos = kEntry + Padded(id_size);
  std::string_view run;
  while (bytes.size() - pos >= kEntry) {
    const char* e = bytes.data() + pos;
    const uint64_t hash = GetLittleEndian(e, 8);
    const absl::Time at = absl::FromUnixSeconds(static_cast<int64_t>(GetLittleEndian(e + 8, 4)));
    const auto what = static_cast<uint8_t>(e[12]);
    if (what == kRunStart) {
      if (hash > 4096) return not_a_log(StrCat("a run id of ", hash, " bytes at offset ", pos));
      if (bytes.size() - pos - kEntry < Padded(hash)) break;  // torn
      run = bytes.substr(pos + kEntry, hash);
      pos += kEntry + Padded(hash);
      continue;
    }
    const std::optional<RecordOutcome> outcome = OutcomeOf(what);
    if (!outcome) return not_a_log(StrCat("an entry of kind ", what, " at offset ", pos));
    visit(hash, *outcome, run, at);
    pos += kEntry;
  }
  return pos;
}

}  // namespace

absl::Status KeyLogFile::Open(std::string_view shard_id) {
  const ScopedFd f{open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)};
  if (f.fd < 0) return ErrnoError(errno, "open", path_);
  absl::StatusOr<std::string> bytes = ReadAll(f.fd, path_);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty()) {
    std::string header(kMagic, sizeof kMagic);
    char size[8] = {};
    PutLittleEndian(shard_id.size(), 4, size);
    header.append(size, sizeof size);
    AppendPadded(shard_id, &header);
    if (pwrite(f.fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
      return ErrnoError(errno, "write", path_);
    opened_ = true;
    return absl::OkStatus();
  }
  std::string owner;
  absl::StatusOr<size_t> whole =
      Walk(*bytes, path_, &owner, [](uint64_t, RecordOutcome, std::string_view, absl::Time) {});
  if (!whole.ok()) return whole.status();
  if (owner != shard_id) {
    return absl::DataLossError(
        StrCat(path_, ": the key log of shard \"", owner, "\", not of shard \"", shard_id, "\""));
  }
  if (*whole < bytes->size() && ftruncate(f.fd, static_cast<off_t>(*whole)) != 0)
    return ErrnoError(errno, "truncate", path_);
  opened_ = true;
  return absl::OkStatus();
}

absl::Status KeyLogFile::Append(std::string_view shard_id, std::string_view run_id, absl::Time at,
                                absl::Span<const KeyLogEntry> entries) {
  if (!opened_) RECOVERY_RETURN_IF_ERROR(Open(shard_id));
  std::string bytes;
  bytes.reserve((entries.size() + 1) * kEntry + Padded(run_id.size()));
  if (run_id != last_run_) {
    AppendEntry(run_id.size(), at, kRunStart, &bytes);
    AppendPadded(run_id, &bytes);
  }
  for (const KeyLogEntry& e : entries) AppendEntry(e.key_hash, at, CodeOf(e.outcome), &bytes);
  // A write cut short leaves a torn tail: the next append opens the file
  // again, which cuts it off, and starts the run again.
  auto failed = [this](absl::Status s) {
    opened_ = false;
    last_run_.clear();
    return s;
  };
  const ScopedFd f{open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC)};
  if (f.fd < 0) return failed(ErrnoError(errno, "open", path_));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(ErrnoError(errno, "write", path_));
    done += static_cast<size_t>(n);
  }
  last_run_ = std::string(run_id);
  return absl::OkStatus();
}

absl::Status FindInKeyLog(const std::string& path, const absl::flat_hash_set<uint64_t>& hashes,
                          std::vector<KeyLogHit>* hits) {
  const ScopedFd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return ErrnoError(errno, "open", path);
  absl::StatusOr<std::string> bytes = ReadAll(f.fd, path);
  if (!bytes.ok()) return bytes.status();
  std::string shard_id;
  absl::StatusOr<size_t> whole =
      Walk(*bytes, path, &shard_id,
           [&](uint64_t hash, RecordOutcome outcome, std::string_view run, absl::Time at) {
             if (hashes.contains(hash)) hits->push_back({hash, outcome, shard_id, std::string(run), at});
           });
  return whole.status();
}

}  // namespace recovery
