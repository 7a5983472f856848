#include "absl/strings/str_cat.h"
#include "json/json_writer.h"
#include "recovery/sink.h"
#include "util/append_file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

class JsonlFileSink : public Sink {
 public:
  explicit JsonlFileSink(JsonlFileSinkOptions options) : options_(std::move(options)) {}

  absl::Status Open(const SinkOpenContext& context) override {
    auto file = AppendFile::Open(
        options_.path, context,
        options_.overwrite ? AppendFile::OnFreshStart::kTruncate : AppendFile::OnFreshStart::kFail,
        options_.fsync, "sink file");
    if (!file.ok()) return file.status();
    file_ = *std::move(file);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>*) override {
    if (file_ == nullptr) return absl::FailedPreconditionError("jsonl_file sink: Write() before Open()");
    buffer_.clear();
    for (const Record& r : batch.records()) {
      if (options_.format == JsonlFormat::kEnvelope) {
        buffer_.append("{\"key\":");
        AppendJsonStringLossy(r.key, &buffer_);
        buffer_.append(",\"event_time\":");
        if (r.event_time == kUnknownEventTime) {
          buffer_.append("null");
        } else {
          buffer_.push_back('"');
          AppendRfc3339(r.event_time, &buffer_);
          buffer_.push_back('"');
        }
        buffer_.append(r.maybe_redelivered ? ",\"maybe_redelivered\":true,\"data\":"
                                           : ",\"maybe_redelivered\":false,\"data\":");
        buffer_.append(r.payload);
        buffer_.push_back('}');
      } else {
        buffer_.append(r.payload);
      }
      buffer_.push_back('\n');
    }
    absl::Status status = file_->Append(buffer_);
    if (status.ok()) {
      absl::StatusOr<std::string> token = file_->Commit();
      if (token.ok()) return token;
      status = token.status();
    }
    // Leave the file as it was, so a retry writes the batch once.
    if (absl::Status undo = file_->Rollback(); !undo.ok()) {
      return absl::DataLossError(
          StrCat(status.message(), "; and undoing the partial write failed: ", undo.message()));
    }
    return status;
  }

  bool serialize_commits() const override { return true; }

 private:
  JsonlFileSinkOptions options_;
  std::unique_ptr<AppendFile> file_;
  std::string buffer_;  // reused across batches
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> NewJsonlFileSink(JsonlFileSinkOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sink.path: must not be empty");
  return std::unique_ptr<Sink>(new JsonlFileSink(std::move(options)));
}

}  // namespace recovery
