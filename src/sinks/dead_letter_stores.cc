#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "json/json_writer.h"
#include "recovery/dead_letter_store.h"
#include "simdjson.h"
#include "util/append_file.h"
#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

class FileDeadLetterStore : public DeadLetterStore, public LetterReadback {
 public:
  FileDeadLetterStore(std::string path, bool fsync, bool keep_raw)
      : path_(std::move(path)), fsync_(fsync), keep_raw_(keep_raw) {}

  absl::Status Open(const SinkOpenContext& context) override {
    // A fresh job keeps an older file by renaming it: dead letters are never thrown away.
    auto file =
        AppendFile::Open(path_, context, AppendFile::OnFreshStart::kRotate, fsync_, "dead-letter file");
    if (!file.ok()) return file.status();
    absl::MutexLock lock(&mu_);
    file_ = *std::move(file);
    return absl::OkStatus();
  }

  absl::Status Add(const DeadLetter& d) override {
    std::string line;
    JsonObjectWriter w(&line);
    w.Time("time", d.time).Str("job", d.job).Str("shard", d.shard_id).Str("cursor", d.cursor);
    w.Uint("index", d.index);
    if (!d.source_id.empty()) w.Str("source_id", d.source_id);
    if (!d.key.empty()) w.Str("key", d.key);
    if (d.event_time != kUnknownEventTime) w.Time("event_time", d.event_time);
    w.Str("reason", d.reason);
    if (!keep_raw_) {
      w.Bool("raw_kept", false);
    } else if (IsValidUtf8(d.raw)) {
      w.Str("raw", d.raw);
    } else {
      w.Str("raw_base64", absl::Base64Escape(ToAbsl(d.raw)));
    }
    w.Close();
    line.push_back('\n');
    absl::MutexLock lock(&mu_);
    if (file_ == nullptr) return absl::FailedPreconditionError("dead-letter file: Add() before Open()");
    return file_->Append(line);
  }

  absl::StatusOr<std::string> Flush() override {
    absl::MutexLock lock(&mu_);
    if (file_ == nullptr) return absl::FailedPreconditionError("dead-letter file: Flush() before Open()");
    absl::StatusOr<std::string> token = file_->Commit();
    if (!token.ok()) (void)file_->Rollback();
    return token;
  }

  bool serialize_commits() const override { return true; }
  LetterReadback* readback() override { return this; }

  absl::Status Mark(const LetterMark& m) override {
    std::string line;
    JsonObjectWriter w(&line);
    w.Time("time", m.time).Str("job", m.job).Str("mark", m.letter_id).Str("replay", m.replay);
    w.Str("outcome", ReplayOutcomeName(m.outcome));
    if (!m.reason.empty()) w.Str("reason", m.reason);
    w.Close();
    line.push_back('\n');
    absl::MutexLock lock(&mu_);
    if (file_ == nullptr) return absl::FailedPreconditionError("dead-letter file: Mark() before Open()");
    return file_->Append(line);
  }

  absl::Status ListLetters(std::string_view job, std::string_view replay, std::string_view after,
                           size_t limit, std::vector<ListedLetter>* out) override;

  absl::StatusOr<std::map<std::string, uint64_t>> Purge(std::string_view job, absl::Time before) override;

  absl::Status ForEachRaw(std::string_view job, const std::function<void(std::string_view)>& visit) override {
    std::string raw;
    return ForEachLine(job, [&](uint64_t, size_t, simdjson::dom::element line) {
      if (RawOf(line, &raw)) visit(raw);
    });
  }

 private:
  // Calls `visit` with each line of the file that belongs to `job`, and the
  // line's byte offset; a file not written yet has none.
  absl::Status ForEachLine(
      std::string_view job,
      const std::function<void(uint64_t offset, size_t length, simdjson::dom::element line)>& visit) {
    absl::StatusOr<std::string> text;
    {
      absl::MutexLock lock(&mu_);  // no letter is added meanwhile
      text = ReadFile(path_);
    }
    if (!text.ok())
      return text.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : text.status();
    simdjson::dom::parser parser;
    for (size_t start = 0; start < text->size();) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      simdjson::dom::element line;
      std::string_view line_job;
      if (parser.parse(text->data() + start, end - start).get(line) == simdjson::SUCCESS &&
          line["job"].get_string().get(line_job) == simdjson::SUCCESS && line_job == job) {
        visit(start, end - start, line);
      }
      start = end + 1;
    }
    return absl::OkStatus();
  }
  // A letter line's raw record ("raw", or "raw_base64" decoded); false for
  // a line without one (a replay's mark).
  static bool RawOf(simdjson::dom::element line, std::string* out) {
    std::string_view v;
    if (line["raw"].get_string().get(v) == simdjson::SUCCESS) {
      out->assign(v);
      return true;
    }
    out->clear();
    return line["raw_base64"].get_string().get(v) == simdjson::SUCCESS &&
           absl::Base64Unescape(ToAbsl(v), out);
  }

  const std::string path_;
  const bool fsync_;
  const bool keep_raw_;
  absl::Mutex mu_;
  std::unique_ptr<AppendFile> file_ ABSL_GUARDED_BY(mu_);
};

// Reads the file once: the letters of `job` after `after`, then every mark,
// which may come later in the file than the letter it settles.
absl::Status FileDeadLetterStore::ListLetters(std::string_view job, std::string_view replay,
                                              std::string_view after, size_t limit,
                                              std::vector<ListedLetter>* out) {
  uint64_t after_offset = 0;
  if (!after.empty() && !absl::SimpleAtoi(ToAbsl(after), &after_offset)) {
    return absl::InvalidArgumentError(StrCat("dead-letter file ", path_, ": \"", after,
                                             "\" is not a letter id of this file (a byte offset)"));
  }
  struct Found {
    ListedLetter letter;
    bool settled = false;
  };
  std::vector<Found> found;  // in file order
  absl::flat_hash_map<uint64_t, size_t> by_offset;
  absl::Status read = ForEachLine(job, [&](uint64_t offset, size_t, simdjson::dom::element line) {
    std::string_view v;
    if (line["mark"].get_string().get(v) == simdjson::SUCCESS) {
      uint64_t target = 0;
      auto it = absl::SimpleAtoi(ToAbsl(v), &target) ? by_offset.find(target) : by_offset.end();
      std::string_view outcome, reason, by;
      // A mark of a letter at or before `after` (already passed) is left alone.
      if (it == by_offset.end() || line["outcome"].get_string().get(outcome) != simdjson::SUCCESS) return;
      Found& f = found[it->second];
      f.settled = outcome != ReplayOutcomeName(ReplayOutcome::kFailedAgain) &&
                  !(line["replay"].get_string().get(by) == simdjson::SUCCESS && by == replay);
      if (f.settled) return;
      ++f.letter.attempts;
      if (line["reason"].get_string().get(reason) == simdjson::SUCCESS) f.letter.reason = std::string(reason);
      return;
    }
    ListedLetter l;
    if ((!after.empty() && offset <= after_offset) || !RawOf(line, &l.raw)) return;
    l.id = StrCat(offset);
    if (line["shard"].get_string().get(v) == simdjson::SUCCESS) l.shard_id = std::string(v);
    if (line["cursor"].get_string().get(v) == simdjson::SUCCESS) l.cursor = std::string(v);
    if (line["reason"].get_string().get(v) == simdjson::SUCCESS) l.reason = std::string(v);
    if (line["source_id"].get_string().get(v) == simdjson::SUCCESS) l.source_id = std::string(v);
    if (line["key"].get_string().get(v) == simdjson::SUCCESS) l.key = std::string(v);
    uint64_t index = 0;
    if (line["index"].get_uint64().get(index) == simdjson::SUCCESS) l.index = index;
    if (line["time"].get_string().get(v) == simdjson::SUCCESS) {
      if (std::optional<absl::Time> t = ParseRfc3339(v)) l.time = *t;
    }
    by_offset[offset] = found.size();
    found.push_back({std::move(l), false});
  });
  if (!read.ok()) return read;
  for (Found& f : found) {
    if (out->size() >= limit) break;
    if (!f.settled) out->push_back(std::move(f.letter));
  }
  return absl::OkStatus();
}

namespace {

// `line` (a letter, without its newline) rewritten without its raw record,
// marked purged at `now`, padded with spaces to the same length so every
// later letter keeps its offset (its id, and the committed lengths the
// checkpoints hold); empty when even the shortest form would not fit.
std::string PurgedLine(simdjson::dom::element letter, size_t length, absl::Time now) {
  auto build = [&](bool whole) {
    std::string out;
    JsonObjectWriter w(&out);
    for (auto [key, value] : letter.get_object()) {
      if (key == "raw" || key == "raw_base64" || key == "raw_kept") continue;
      if (!whole && key != "time" && key != "job" && key != "shard") continue;
      w.Raw(key, simdjson::minify(value));
    }
    w.Time("purged", now).Close();
    return out;
  };
  std::string out = build(true);
  if (out.size() > length) out = build(false);
  if (out.size() > length) return "";
  out.append(length - out.size(), ' ');
  return out;
}

}  // namespace

// Rewrites each letter to purge in place, under no lock but the job's (no
// run appends meanwhile): same length, so ids and committed lengths hold.
absl::StatusOr<std::map<std::string, uint64_t>> FileDeadLetterStore::Purge(std::string_view job,
                                                                           absl::Time before) {
  std::map<std::string, uint64_t> purged;
  std::vector<std::pair<uint64_t, std::string>> rewrites;
  const absl::Time now = absl::Now();
  std::string raw;
  RECOVERY_RETURN_IF_ERROR(ForEachLine(job, [&](uint64_t offset, size_t length, simdjson::dom::element line) {
    std::string_view t, shard;
    std::optional<absl::Time> at;
    if (!RawOf(line, &raw) || line["time"].get_string().get(t) || !(at = ParseRfc3339(t)) || *at >= before)
      return;
    std::string rewritten = PurgedLine(line, length, now);
    if (rewritten.empty()) return;
    rewrites.emplace_back(offset, std::move(rewritten));
    if (line["shard"].get_string().get(shard) == simdjson::SUCCESS) ++purged[std::string(shard)];
  }));
  if (rewrites.empty()) return purged;
  RECOVERY_RETURN_IF_ERROR(OverwriteInPlace(path_, rewrites, fsync_));
  return purged;
}

class MemoryDeadLetterStore : public DeadLetterStore, public LetterReadback {
 public:
  explicit MemoryDeadLetterStore(std::vector<StoredDeadLetter>* out) : out_(out) {}

  absl::Status Add(const DeadLetter& d) override {
    absl::MutexLock lock(&mu_);
    ++count_;
    if (out_ != nullptr) {
      out_->push_back({std::string(d.shard_id), std::string(d.cursor), std::string(d.reason),
                       std::string(d.raw), std::string(d.source_id), d.index, "", ""});
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Flush() override {
    absl::MutexLock lock(&mu_);
    return StrCat(count_);
  }

  // Without a list it keeps nothing to read back.
  LetterReadback* readback() override { return out_ != nullptr ? this : nullptr; }

  // Marks apply at once here; the replay's own are not held against it.
  absl::Status ListLetters(std::string_view, std::string_view replay, std::string_view after, size_t limit,
                           std::vector<ListedLetter>* out) override {
    absl::MutexLock lock(&mu_);
    size_t i = 0;
    if (!after.empty() && (!absl::SimpleAtoi(ToAbsl(after), &i) || ++i > out_->size()))
      return absl::InvalidArgumentError(StrCat("\"", after, "\" is not a letter id of this store"));
    for (; i < out_->size() && out->size() < limit; ++i) {
      const StoredDeadLetter& d = (*out_)[i];
      if (!d.replayed.empty() && d.replayed != ReplayOutcomeName(ReplayOutcome::kFailedAgain) &&
          d.replayed_by != replay)
        continue;
      out->push_back(
          {StrCat(i), d.shard_id, d.cursor, d.reason, d.raw, d.source_id, d.index, absl::Time(), 0, ""});
    }
    return absl::OkStatus();
  }

  absl::Status Mark(const LetterMark& m) override {
    absl::MutexLock lock(&mu_);
    size_t i = 0;
    if (out_ == nullptr || !absl::SimpleAtoi(ToAbsl(m.letter_id), &i) || i >= out_->size())
      return absl::InvalidArgumentError(StrCat("\"", m.letter_id, "\" is not a letter id of this store"));
    (*out_)[i].replayed = std::string(ReplayOutcomeName(m.outcome));
    (*out_)[i].replayed_by = std::string(m.replay);
    if (!m.reason.empty()) (*out_)[i].reason = std::string(m.reason);
    return absl::OkStatus();
  }

  absl::Status ForEachRaw(std::string_view, const std::function<void(std::string_view)>& visit) override {
    absl::MutexLock lock(&mu_);
    for (const StoredDeadLetter& d : *out_) visit(d.raw);
    return absl::OkStatus();
  }

 private:
  std::vector<StoredDeadLetter>* out_;
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::string_view ReplayOutcomeName(ReplayOutcome outcome) {
  switch (outcome) {
    case ReplayOutcome::kDelivered:
      return "delivered";
    case ReplayOutcome::kAlreadyPresent:
      return "already present";
    case ReplayOutcome::kDropped:
      return "dropped";
    case ReplayOutcome::kOutOfWindow:
      return "out of window";
    case ReplayOutcome::kFailedAgain:
      return "failed again";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewFileDeadLetterStore(std::string path, bool fsync) {
  return NewFileDeadLetterStore(std::move(path), fsync, /*keep_raw=*/true);
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewFileDeadLetterStore(std::string path, bool fsync,
                                                                        bool keep_raw) {
  if (path.empty()) return absl::InvalidArgumentError("dead_letters.path: must not be empty");
  return std::unique_ptr<DeadLetterStore>(new FileDeadLetterStore(std::move(path), fsync, keep_raw));
}

std::unique_ptr<DeadLetterStore> NewMemoryDeadLetterStore(std::vector<StoredDeadLetter>* sink) {
  return std::make_unique<MemoryDeadLetterStore>(sink);
}

}  // namespace recovery
