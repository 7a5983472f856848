#include "checkpoint/checkpoint_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "checkpoint/checkpoint_codec.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {

namespace {

constexpr char kSnapshotMagic[] = "recovery-checkpoint-snapshot";
constexpr char kLogMagic[] = "recovery-checkpoint-log";
constexpr int kFormatVersion = 1;
constexpr size_t kGroupHeader = 1 + 4 + 8;
using RawMap = std::map<std::string, std::string, std::less<>>;

void PutLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(std::string_view in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  return v;
}

std::string LogRecord(char kind, std::string_view shard, std::string_view payload) {
  std::string r;
  r.push_back(kind);
  PutLe(&r, shard.size(), 2);
  r.append(shard);
  PutLe(&r, payload.size(), 4);
  r.append(payload);
  return r;
}

std::string Frame(std::string_view body) {
  std::string g;
  g.reserve(kGroupHeader + body.size());
  g.push_back('G');
  PutLe(&g, body.size(), 4);
  PutLe(&g, StableHash64(body), 8);
  g.append(body);
  return g;
}

std::string Header(const char* magic, uint64_t gen) {
  return StrCat(magic, " ", kFormatVersion, " ", gen, "\n");
}

// The length of the whole group at `pos`, or nullopt when there is none.
std::optional<size_t> GroupAt(std::string_view bytes, size_t pos) {
  if (pos + kGroupHeader > bytes.size() || bytes[pos] != 'G') return std::nullopt;
  const size_t len = GetLe(bytes, pos + 1, 4);
  if (pos + kGroupHeader + len > bytes.size()) return std::nullopt;
  if (GetLe(bytes, pos + 5, 8) != StableHash64(bytes.substr(pos + kGroupHeader, len))) return std::nullopt;
  return len;
}

absl::Status Corrupt(const std::string& file, std::string_view why) {
  return absl::DataLossError(
      StrCat("checkpoint log ", file, " is corrupt: ", why, "; restore it from a backup or reset the job"));
}

// Applies the records of one group's body.
absl::Status ApplyBody(std::string_view body, const std::string& file, RawMap* raw) {
  size_t pos = 0;
  while (pos < body.size()) {
    if (pos + 3 > body.size()) return Corrupt(file, "a record is cut short");
    const char kind = body[pos];
    const size_t shard_len = GetLe(body, pos + 1, 2);
    if (pos + 3 + shard_len + 4 > body.size()) return Corrupt(file, "a record is cut short");
    std::string_view shard = body.substr(pos + 3, shard_len);
    const size_t payload_len = GetLe(body, pos + 3 + shard_len, 4);
    const size_t payload_at = pos + 3 + shard_len + 4;
    if (payload_at + payload_len > body.size()) return Corrupt(file, "a record is cut short");
    if (kind == 'S') {
      (*raw)[std::string(shard)] = std::string(body.substr(payload_at, payload_len));
    } else if (kind == 'D') {
      raw->erase(std::string(shard));
    } else {
      return Corrupt(file,
                     StrCat("unknown record kind ", static_cast<int>(static_cast<unsigned char>(kind))));
    }
    pos = payload_at + payload_len;
  }
  return absl::OkStatus();
}

// Applies every whole group of `bytes` from `pos` on; `*end` is where the
// last whole group ends. A group that does not check out ends the log (a
// torn write), unless a whole group follows it: that is corruption.
absl::Status ParseGroups(std::string_view bytes, size_t pos, const std::string& file, uint64_t file_offset,
                         RawMap* raw, size_t* end) {
  while (pos < bytes.size()) {
    std::optional<size_t> len = GroupAt(bytes, pos);
    if (!len) {
      for (size_t q = pos + 1; q + kGroupHeader <= bytes.size(); ++q) {
        if (bytes[q] == 'G' && GroupAt(bytes, q)) {
          return Corrupt(file, StrCat("the group at byte ", file_offset + pos,
                                      " does not match its checksum, and whole groups follow it"));
        }
      }
      break;
    }
    RECOVERY_RETURN_IF_ERROR(ApplyBody(bytes.substr(pos + kGroupHeader, *len), file, raw));
    pos += kGroupHeader + *len;
  }
  *end = pos;
  return absl::OkStatus();
}

// "<magic> <version> <gen>\n" at the start of `bytes`: the generation, and
// the header's length. Nullopt when the header is incomplete.
absl::StatusOr<std::optional<std::pair<uint64_t, size_t>>> ParseHeader(std::string_view bytes,
                                                                       const char* magic,
                                                                       const std::string& file) {
  const size_t newline = bytes.find('\n');
  if (newline == std::string_view::npos) return std::optional<std::pair<uint64_t, size_t>>();
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(bytes.substr(0, newline)), ' ');
  int64_t version = 0;
  uint64_t gen = 0;
  if (parts.size() != 3 || parts[0] != absl::string_view(magic) || !absl::SimpleAtoi(parts[1], &version) ||
      !absl::SimpleAtoi(parts[2], &gen)) {
    return Corrupt(file, "not a checkpoint log or snapshot");
  }
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(StrCat(file, " has format version ", version,
                                                "; this build reads up to ", kFormatVersion,
                                                ": upgrade recovery"));
  }
  return std::optional<std::pair<uint64_t, size_t>>(std::make_pair(gen, newline + 1));
}

absl::Status WriteAllAt(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status LockFile(int fd, int op, const std::string& path) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return ErrnoError(errno, "flock", path);
  }
  return absl::OkStatus();
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

CheckpointLog::CheckpointLog(std::string job_dir, std::string job, CheckpointLogOptions options)
    : dir_(std::move(job_dir)),
      job_(std::move(job)),
      options_(std::move(options)),
      snapshot_path_(StrCat(dir_, "/checkpoints.snapshot")) {}

CheckpointLog::~CheckpointLog() {
  absl::MutexLock lock(&state_mu_);
  if (log_fd_ >= 0) ::close(log_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string CheckpointLog::LogPath(uint64_t gen) const { return StrCat(dir_, "/checkpoints.", gen, ".log"); }

absl::Status CheckpointLog::ReadSnapshot(uint64_t* gen, bool* exists) {
  const int fd = ::open(snapshot_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) return ErrnoError(errno, "open", snapshot_path_);
    *exists = false;
    *gen = 0;
    return absl::OkStatus();
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  *exists = true;
  char head[128];
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n < 0) return ErrnoError(errno, "read", snapshot_path_);
  RECOVERY_ASSIGN_OR_RETURN(auto header, ParseHeader(std::string_view(head, static_cast<size_t>(n)),
                                                     kSnapshotMagic, snapshot_path_));
  if (!header) return Corrupt(snapshot_path_, "the header is cut short");
  *gen = header->first;
  if (loaded_ && !legacy_ && *gen == gen_) return absl::OkStatus();  // unchanged: the log says what is new
  // A new snapshot (a compaction, here or elsewhere): everything again.
  RECOVERY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(snapshot_path_));
  RawMap fresh;
  size_t end = 0;
  RECOVERY_RETURN_IF_ERROR(ParseGroups(bytes, header->second, snapshot_path_, 0, &fresh, &end));
  if (end != bytes.size()) return Corrupt(snapshot_path_, "a snapshot is written whole, and this one is not");
  raw_ = std::move(fresh);
  snapshot_bytes_ = bytes.size();
  gen_ = *gen;
  offset_ = 0;
  torn_at_ = 0;
  legacy_ = false;
  loaded_ = true;
  return absl::OkStatus();
}

absl::Status CheckpointLog::ReadLogTail() {
  const std::string path = LogPath(gen_);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) return ErrnoError(errno, "open", path);
    offset_ = torn_at_ = 0;  // nothing appended since the snapshot
    return absl::OkStatus();
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "stat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < offset_) return absl::AbortedError(StrCat(path, " shrank while being read"));  // re-read all
  std::string bytes(size - offset_, '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(offset_ + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  size_t pos = 0;
  if (offset_ == 0) {
    RECOVERY_ASSIGN_OR_RETURN(auto header, ParseHeader(bytes, kLogMagic, path));
    if (!header) {  // created, its header not yet (or never) written whole
      torn_at_ = 0;
      return absl::OkStatus();
    }
    if (header->first != gen_) return Corrupt(path, StrCat("its header says generation ", header->first));
    pos = header->second;
  }
  size_t end = 0;
  RECOVERY_RETURN_IF_ERROR(ParseGroups(bytes, pos, path, offset_, &raw_, &end));
  offset_ += end;
  torn_at_ = offset_;
  return absl::OkStatus();
}

absl::Status CheckpointLog::Refresh() {
  for (int attempt = 0;; ++attempt) {
    uint64_t gen = 0;
    bool exists = false;
    absl::Status s = ReadSnapshot(&gen, &exists);
    if (s.ok() && !exists) {
      if (!loaded_) {
        // Never compacted: generation 0, or a directory of per-shard files.
        raw_.clear();
        gen_ = offset_ = torn_at_ = snapshot_bytes_ = 0;
        const std::vector<std::string> names = ListDir(dir_);
        legacy_ = ::access(LogPath(0).c_str(), F_OK) != 0 &&
                  std::any_of(names.begin(), names.end(),
                              [](const std::string& n) { return EndsWith(n, ".ckpt"); });
        loaded_ = true;
      }
      if (legacy_) return absl::OkStatus();
    }
    if (s.ok()) s = ReadLogTail();
    if (s.ok()) return s;
    // A compaction elsewhere replaced the files under us: read them again.
    if (attempt >= 5 || (s.code() != absl::StatusCode::kAborted && s.code() != absl::StatusCode::kNotFound)) {
      return s;
    }
    loaded_ = false;
  }
}

absl::StatusOr<std::optional<Checkpoint>> CheckpointLog::Load(std::string_view shard) {
  absl::MutexLock lock(&state_mu_);
  RECOVERY_RETURN_IF_ERROR(Refresh());
  if (legacy_) {
    const std::string path = StrCat(dir_, "/", shard, ".ckpt");
    if (::access(path.c_str(), F_OK) != 0) {
      if (errno == ENOENT) return std::nullopt;
      return ErrnoError(errno, "access", path);
    }
    RECOVERY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
    RECOVERY_ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(bytes, path));
    return std::optional<Checkpoint>(std::move(c));
  }
  auto it = raw_.find(shard);
  if (it == raw_.end()) return std::nullopt;
  RECOVERY_ASSIGN_OR_RETURN(Checkpoint c,
                            DecodeCheckpoint(it->second, StrCat(LogPath(gen_), " (shard ", shard, ")")));
  return std::optional<Checkpoint>(std::move(c));
}

absl::Status CheckpointLog::Save(std::string_view shard, const Checkpoint& checkpoint) {
  return Append(LogRecord('S', shard, EncodeCheckpoint(job_, shard, checkpoint)));
}

absl::Status CheckpointLog::Delete(std::string_view shard) { return Append(LogRecord('D', shard, "")); }

absl::Status CheckpointLog::SaveAll(absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) {
  std::string records;
  for (const auto& [shard, c] : checkpoints)
    records += LogRecord('S', shard, EncodeCheckpoint(job_, shard, c));
  return Append(records);  // appended to a group as one piece
}

absl::Status CheckpointLog::Append(const std::string& record) {
  auto group = queue_.Join([&](std::string& bytes) { bytes.append(record); });
  At("save queued");
  return queue_.Await(group, [&](std::string& bytes) { return Flush(bytes); });
}

absl::Status CheckpointLog::OpenLogForAppend() {
  if (log_fd_ >= 0 && log_fd_gen_ == gen_) return absl::OkStatus();
  if (log_fd_ >= 0) ::close(log_fd_);
  log_fd_ = -1;
  const std::string path = LogPath(gen_);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "open", path);
  log_fd_ = fd;
  log_fd_gen_ = gen_;
  if (offset_ == 0) {  // new, or only a torn header: write the header
    const std::string header = Header(kLogMagic, gen_);
    if (::ftruncate(fd, 0) != 0) return ErrnoError(errno, "truncate", path);
    RECOVERY_RETURN_IF_ERROR(WriteAllAt(fd, header, 0, path));
    if (::fdatasync(fd) != 0) return ErrnoError(errno, "fdatasync", path);
    RECOVERY_RETURN_IF_ERROR(SyncDirectory(dir_));
    offset_ = torn_at_ = header.size();
  }
  return absl::OkStatus();
}

absl::Status CheckpointLog::PrepareToWrite() {
  RECOVERY_RETURN_IF_ERROR(MakeDirectories(dir_));
  const std::string lock_path = StrCat(dir_, "/checkpoints.lock");
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoError(errno, "open", lock_path);
  RECOVERY_RETURN_IF_ERROR(LockFile(lock_fd_, LOCK_EX, lock_path));
  absl::Cleanup unlock = [this] { ::flock(lock_fd_, LOCK_UN); };
  loaded_ = false;
  RECOVERY_RETURN_IF_ERROR(Refresh());
  if (legacy_) {
    // Migrate the per-shard files into a snapshot: the new empty log first,
    // then the snapshot (the commit point), then the old files go.
    std::vector<std::string> old;
    RawMap state;
    for (const std::string& name : ListDir(dir_)) {
      if (EndsWith(name, ".ckpt.tmp")) old.push_back(StrCat(dir_, "/", name));  // a save a crash tore
      if (!EndsWith(name, ".ckpt")) continue;
      const std::string path = StrCat(dir_, "/", name);
      RECOVERY_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
      RECOVERY_RETURN_IF_ERROR(DecodeCheckpoint(bytes, path).status());
      state[name.substr(0, name.size() - 5)] = bytes;
      old.push_back(path);
    }
    raw_ = std::move(state);
    legacy_ = false;
    gen_ = 0;
    RECOVERY_RETURN_IF_ERROR(Compact());
    for (const std::string& path : old) ::unlink(path.c_str());
  } else {
    // Leftovers of crashes: logs of other generations, per-shard files and
    // temporary files of a migration or compaction that completed.
    for (const std::string& name : ListDir(dir_)) {
      const bool stray_log = name.rfind("checkpoints.", 0) == 0 && EndsWith(name, ".log") &&
                             name != StrCat("checkpoints.", gen_, ".log");
      const bool leftover =
          EndsWith(name, ".ckpt") || EndsWith(name, ".ckpt.tmp") || name == "checkpoints.snapshot.tmp";
      if (stray_log || (leftover && ::access(snapshot_path_.c_str(), F_OK) == 0)) {
        ::unlink(StrCat(dir_, "/", name).c_str());
      }
    }
  }
  prepared_ = true;
  return absl::OkStatus();
}

absl::Status CheckpointLog::Flush(const std::string& records) {
  absl::MutexLock lock(&state_mu_);
  if (!broken_.ok()) return broken_;
  if (!prepared_) RECOVERY_RETURN_IF_ERROR(PrepareToWrite());
  const std::string lock_path = StrCat(dir_, "/checkpoints.lock");
  RECOVERY_RETURN_IF_ERROR(LockFile(lock_fd_, LOCK_EX, lock_path));
  absl::Cleanup unlock = [this] { ::flock(lock_fd_, LOCK_UN); };
  RECOVERY_RETURN_IF_ERROR(Refresh());  // what other processes appended or compacted
  RECOVERY_RETURN_IF_ERROR(OpenLogForAppend());
  const std::string path = LogPath(gen_);
  // A torn tail left by a writer that died: cut it, so this group follows the last whole one.
  struct stat st;
  if (::fstat(log_fd_, &st) != 0) return ErrnoError(errno, "stat", path);
  if (static_cast<uint64_t>(st.st_size) > torn_at_ &&
      ::ftruncate(log_fd_, static_cast<off_t>(torn_at_)) != 0) {
    return ErrnoError(errno, "truncate", path);
  }
  const std::string frame = Frame(records);
  At("group writing");
  if (absl::Status s = WriteAllAt(log_fd_, frame, offset_, path); !s.ok()) {
    // Leave no partial group behind for the next one to follow.
    if (::ftruncate(log_fd_, static_cast<off_t>(offset_)) != 0) {
      broken_ = absl::DataLossError(StrCat(path, ": a failed write could not be undone: ", s.message()));
    }
    return s;
  }
  At("group written");
  if (::fdatasync(log_fd_) != 0) {
    // After a failed fdatasync the page cache cannot be trusted to reach the
    // disk: stop saving here for good rather than build on it.
    broken_ = absl::DataLossError(StrCat("fdatasync ", path, " failed: ", std::strerror(errno),
                                         "; checkpoints saved since the last success may be lost: "
                                         "stop, check the disk, and resume"));
    return broken_;
  }
  At("group synced");
  RECOVERY_RETURN_IF_ERROR(ApplyBody(records, path, &raw_));
  offset_ += frame.size();
  torn_at_ = offset_;
  if (offset_ > options_.compact_after_bytes && offset_ > 4 * snapshot_bytes_) {
    RECOVERY_RETURN_IF_ERROR(Compact());
  }
  return absl::OkStatus();
}

absl::Status CheckpointLog::Compact() {
  At("compaction starting");
  const uint64_t next = gen_ + 1;
  // The new log exists before the snapshot that names it.
  const std::string next_log = LogPath(next);
  {
    const int fd = ::open(next_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError(errno, "create", next_log);
    absl::Cleanup close_fd = [fd] { ::close(fd); };
    const std::string header = Header(kLogMagic, next);
    RECOVERY_RETURN_IF_ERROR(WriteAllAt(fd, header, 0, next_log));
    if (::fdatasync(fd) != 0) return ErrnoError(errno, "fdatasync", next_log);
  }
  RECOVERY_RETURN_IF_ERROR(SyncDirectory(dir_));
  At("compaction log created");
  std::string body;
  for (const auto& [shard, raw] : raw_) body += LogRecord('S', shard, raw);
  const std::string snapshot = Header(kSnapshotMagic, next) + Frame(body);
  RECOVERY_RETURN_IF_ERROR(WriteFileAtomically(snapshot_path_, snapshot));
  At("compaction snapshot renamed");
  const std::string old_log = LogPath(gen_);
  if (::unlink(old_log.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "unlink", old_log);
  if (log_fd_ >= 0) ::close(log_fd_);
  log_fd_ = -1;
  gen_ = next;
  offset_ = torn_at_ = Header(kLogMagic, next).size();
  snapshot_bytes_ = snapshot.size();
  At("compaction done");
  return absl::OkStatus();
}

}  // namespace recovery
