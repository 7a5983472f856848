#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "json/json_writer.h"
#include "recovery/dead_letter_store.h"
#include "simdjson.h"
#include "util/append_file.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

class FileDeadLetterStore : public DeadLetterStore {
 public:
  FileDeadLetterStore(std::string path, bool fsync) : path_(std::move(path)), fsync_(fsync) {}

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
    w.Str("reason", d.reason);
    if (IsValidUtf8(d.raw)) {
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

  absl::Status ForEachRaw(std::string_view job, const std::function<void(std::string_view)>& visit) override {
    absl::MutexLock lock(&mu_);  // no letter is added meanwhile
    absl::StatusOr<std::string> text = ReadFile(path_);
    if (!text.ok())
      return text.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : text.status();
    simdjson::dom::parser parser;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      simdjson::dom::element line;
      std::string_view letter_job, raw;
      std::string decoded;
      if (parser.parse(text->data() + start, end - start).get(line) == simdjson::SUCCESS &&
          line["job"].get_string().get(letter_job) == simdjson::SUCCESS && letter_job == job) {
        if (line["raw"].get_string().get(raw) == simdjson::SUCCESS) {
          visit(raw);
        } else if (line["raw_base64"].get_string().get(raw) == simdjson::SUCCESS &&
                   absl::Base64Unescape(ToAbsl(raw), &decoded)) {
          visit(decoded);
        }
      }
      start = end + 1;
    }
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const bool fsync_;
  absl::Mutex mu_;
  std::unique_ptr<AppendFile> file_ ABSL_GUARDED_BY(mu_);
};

class MemoryDeadLetterStore : public DeadLetterStore {
 public:
  explicit MemoryDeadLetterStore(std::vector<StoredDeadLetter>* out) : out_(out) {}

  absl::Status Add(const DeadLetter& d) override {
    absl::MutexLock lock(&mu_);
    ++count_;
    if (out_ != nullptr) {
      out_->push_back({std::string(d.shard_id), std::string(d.cursor), std::string(d.reason),
                       std::string(d.raw), std::string(d.source_id), d.index});
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Flush() override {
    absl::MutexLock lock(&mu_);
    return StrCat(count_);
  }

  absl::Status ForEachRaw(std::string_view, const std::function<void(std::string_view)>& visit) override {
    absl::MutexLock lock(&mu_);
    if (out_ == nullptr)
      return absl::UnimplementedError("a memory dead-letter store without a list keeps none");
    for (const StoredDeadLetter& d : *out_) visit(d.raw);
    return absl::OkStatus();
  }

 private:
  std::vector<StoredDeadLetter>* out_;
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewFileDeadLetterStore(std::string path, bool fsync) {
  if (path.empty()) return absl::InvalidArgumentError("dead_letters.path: must not be empty");
  return std::unique_ptr<DeadLetterStore>(new FileDeadLetterStore(std::move(path), fsync));
}

std::unique_ptr<DeadLetterStore> NewMemoryDeadLetterStore(std::vector<StoredDeadLetter>* sink) {
  return std::make_unique<MemoryDeadLetterStore>(sink);
}

}  // namespace recovery
