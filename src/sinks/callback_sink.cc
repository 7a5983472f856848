#include "absl/synchronization/mutex.h"
#include "recovery/sink.h"
#include "sinks/presence.h"

namespace recovery {
namespace {

class CallbackSink : public Sink {
 public:
  CallbackSink(SinkCallback callback, bool serialize, PresenceCallback presence)
      : callback_(std::move(callback)), presence_(std::move(presence)), serialize_(serialize) {}

  bool checks_presence() const override { return presence_ != nullptr; }

  absl::Status CheckPresence(const Shard& shard, absl::Span<const Record> records,
                             PresenceAnswer* answer) override {
    if (presence_ == nullptr) return Sink::CheckPresence(shard, records, answer);
    absl::StatusOr<std::vector<std::string>> keys;
    if (serialize_) {
      absl::MutexLock lock(&mu_);
      keys = presence_(shard, records);
    } else {
      keys = presence_(shard, records);
    }
    if (!keys.ok()) return keys.status();
    std::vector<std::string_view> views(keys->begin(), keys->end());
    MarkPresentKeys(records, views, answer);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>*) override {
    absl::Status status;
    if (serialize_) {
      absl::MutexLock lock(&mu_);
      status = callback_(shard, batch.records());
    } else {
      status = callback_(shard, batch.records());
    }
    if (!status.ok()) return status;
    return std::string();
  }

 private:
  SinkCallback callback_;
  PresenceCallback presence_;
  const bool serialize_;
  absl::Mutex mu_;
};

class NullSink : public Sink {
 public:
  absl::StatusOr<std::string> Write(const Shard&, const RecordBatch&, std::vector<SinkRejection>*) override {
    return std::string();
  }
};

}  // namespace

std::unique_ptr<Sink> NewCallbackSink(SinkCallback callback, bool serialize, PresenceCallback presence) {
  return std::make_unique<CallbackSink>(std::move(callback), serialize, std::move(presence));
}

std::unique_ptr<Sink> NewNullSink() { return std::make_unique<NullSink>(); }

}  // namespace recovery
