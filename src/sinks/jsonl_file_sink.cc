#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "json/json_writer.h"
#include "recovery/sink.h"
#include "simdjson.h"
#include "util/append_file.h"
#include "util/hash.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

class JsonlFileSink : public Sink, public PresenceCheck, public DestinationCounter {
 public:
  explicit JsonlFileSink(JsonlFileSinkOptions options) : options_(std::move(options)) {}

  absl::Status Open(const SinkOpenContext& context) override {
    const AppendFile::OnFreshStart fresh = options_.append      ? AppendFile::OnFreshStart::kKeep
                                           : options_.overwrite ? AppendFile::OnFreshStart::kTruncate
                                                                : AppendFile::OnFreshStart::kFail;
    auto file = AppendFile::Open(options_.path, context, fresh, options_.fsync, "sink file");
    if (!file.ok()) return file.status();
    file_ = *std::move(file);
    absl::MutexLock lock(&index_mu_);
    index_.clear();  // an index read without Open() counted lines this one may have rolled back
    indexed_ = false;
    return absl::OkStatus();
  }

  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    if (file_ == nullptr) return absl::FailedPreconditionError("jsonl_file sink: Write() before Open()");
    const RecordBatch& batch = request.batch;
    buffer_.clear();
    std::string provenance;  // the same for every line of the batch
    if (options_.provenance) {
      JsonObjectWriter(&provenance)
          .Str("job", request.job)
          .Str("run_id", request.run_id)
          .Str("shard", request.shard.id)
          .Time("recovered_at", absl::Now());
      provenance[0] = ',';  // spliced into each envelope, not closed
    }
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
        buffer_.append(r.maybe_redelivered ? ",\"maybe_redelivered\":true" : ",\"maybe_redelivered\":false");
        buffer_.append(provenance);
        buffer_.append(",\"data\":");
        buffer_.append(r.payload);
        buffer_.push_back('}');
      } else {
        buffer_.append(r.payload);
      }
      buffer_.push_back('\n');
    }
    absl::Status status = file_->Append(buffer_);
    if (status.ok()) {
      absl::StatusOr<std::string> token = file_->Commit(/*sync=*/!options_.fsync);
      if (token.ok()) {
        IndexCommitted(batch);
        result->commit_token = *std::move(token);
        return absl::OkStatus();
      }
      status = token.status();
    }
    // Leave the file as it was, so a retry writes the batch once.
    if (absl::Status undo = file_->Rollback(); !undo.ok()) {
      return absl::DataLossError(
          StrCat(status.message(), "; and undoing the partial write failed: ", undo.message()));
    }
    return status;
  }

  SinkTraits traits() const override {
    SinkTraits t;
    t.serialize_commits = true;
    // A resumed job truncates the file to its largest committed length.
    t.rolls_back_uncommitted = true;
    // With fsync on, the engine shares one fdatasync among the batches of all
    // shards committing at the same moment.
    t.defers_sync = options_.fsync;
    return t;
  }

  // Only the envelope format keeps each record's key and event time.
  PresenceCheck* presence() override { return options_.format == JsonlFormat::kEnvelope ? this : nullptr; }
  DestinationCounter* counter() override {
    return options_.format == JsonlFormat::kEnvelope ? this : nullptr;
  }

  absl::Status Sync() override {
    if (file_ == nullptr) return absl::FailedPreconditionError("jsonl_file sink: Sync() before Open()");
    return file_->Sync();
  }

  // The file's lines counted by their envelope's event time. A torn last
  // line (a crash mid-write) is not counted.
  absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                         size_t buckets) override {
    std::vector<uint64_t> counts(buckets, 0);
    std::ifstream in(options_.path, std::ios::binary);
    if (!in) return counts;  // no file: nothing delivered yet
    simdjson::dom::parser parser;
    std::string line;
    uint64_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      const bool complete = !in.eof();  // getline stopped at a newline
      simdjson::dom::element e;
      std::string_view when;
      const bool parsed = parser.parse(line).get(e) == simdjson::SUCCESS;  // else `e` holds nothing
      if (!parsed || e["event_time"].get_string().get(when) != simdjson::SUCCESS) {
        if (!complete) break;                                                // the torn tail of a crash
        if (parsed && e.is_object() && e["event_time"].is_null()) continue;  // no event time: in no bucket
        return absl::DataLossError(StrCat("sink file ", options_.path, " line ", line_number,
                                          ": not an envelope line with an event_time"));
      }
      std::optional<absl::Time> t = ParseRfc3339(when);
      if (!t.has_value() || *t < start) continue;
      absl::Duration remainder;  // IDivDuration writes it unconditionally
      const int64_t b = absl::IDivDuration(*t - start, width, &remainder);
      if (b >= 0 && static_cast<size_t>(b) < buckets) ++counts[b];
    }
    return counts;
  }

  bool answers_by_key() const override { return true; }

  absl::Status Check(const Shard&, absl::Span<const Record> records, PresenceAnswer* answer) override {
    absl::MutexLock lock(&index_mu_);
    if (!indexed_) {
      if (absl::Status s = BuildIndex(); !s.ok()) return s;
      indexed_ = true;
    }
    answer->present.assign(records.size(), false);
    for (size_t i = 0; i < records.size(); ++i) answer->present[i] = index_.contains(KeyHash(records[i].key));
    return absl::OkStatus();
  }

 private:
  using Hash128 = std::pair<uint64_t, uint64_t>;
  static Hash128 KeyHash(std::string_view key) { return {StableHash64(key, 0), StableHash64(key, 1)}; }

  // The keys of every committed line, read once, on the first presence check.
  // Without Open() (reconcile), every whole line: a torn last line is left out.
  absl::Status BuildIndex() ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_) {
    std::ifstream in(options_.path, std::ios::binary);
    if (!in) {
      if (file_ == nullptr) return absl::OkStatus();  // reading only: no file, no records
      return absl::NotFoundError(StrCat("sink file ", options_.path, ": cannot be read for its keys"));
    }
    simdjson::dom::parser parser;
    std::string line;
    uint64_t offset = 0, line_number = 0;
    const uint64_t end = file_ != nullptr ? file_->committed() : UINT64_MAX;
    while (offset < end && std::getline(in, line)) {
      ++line_number;
      offset += line.size() + 1;
      if (file_ == nullptr && in.eof()) break;  // no newline: torn
      if (line.empty()) continue;
      std::string_view key;
      if (parser.parse(line).get_object()["key"].get_string().get(key) != simdjson::SUCCESS) {
        return absl::DataLossError(StrCat("sink file ", options_.path, " line ", line_number,
                                          ": not an envelope line with a string \"key\", so the presence "
                                          "check cannot know what the file holds"));
      }
      if (static_cast<int64_t>(index_.size()) >= options_.max_indexed_keys) {
        return absl::ResourceExhaustedError(
            StrCat("sink file ", options_.path, " holds more than max_indexed_keys (",
                   options_.max_indexed_keys, ") keys; raise it (24 to 36 bytes of memory a key)"));
      }
      index_.insert(KeyHash(key));
    }
    return absl::OkStatus();
  }

  void IndexCommitted(const RecordBatch& batch) {
    absl::MutexLock lock(&index_mu_);
    if (!indexed_) return;  // built from the file when first needed
    for (const Record& r : batch.records()) index_.insert(KeyHash(r.key));
  }

  JsonlFileSinkOptions options_;
  std::unique_ptr<AppendFile> file_;
  std::string buffer_;  // reused across batches
  absl::Mutex index_mu_;
  bool indexed_ ABSL_GUARDED_BY(index_mu_) = false;
  absl::flat_hash_set<Hash128> index_ ABSL_GUARDED_BY(index_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> NewJsonlFileSink(JsonlFileSinkOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sink.path: must not be empty");
  return std::unique_ptr<Sink>(new JsonlFileSink(std::move(options)));
}

}  // namespace recovery
