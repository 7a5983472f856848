#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "recovery/sink.h"
#include "sinks/present_keys.h"

namespace recovery {
namespace {

class CallbackSink : public Sink, public PresenceCheck {
 public:
  CallbackSink(ProvenanceSinkCallback callback, bool serialize, PresenceCallback presence)
      : callback_(std::move(callback)), presence_(std::move(presence)), serialize_(serialize) {}

  PresenceCheck* presence() override { return presence_ != nullptr ? this : nullptr; }

  absl::Status Check(const Shard& shard, absl::Span<const Record> records, PresenceAnswer* answer) override {
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

  absl::Status Write(const WriteRequest& request, WriteResult*) override {
    const Provenance provenance{request.job, request.run_id, absl::Now()};
    if (!serialize_) return callback_(request.shard, request.batch.records(), provenance);
    absl::MutexLock lock(&mu_);
    return callback_(request.shard, request.batch.records(), provenance);
  }

 private:
  ProvenanceSinkCallback callback_;
  PresenceCallback presence_;
  const bool serialize_;
  absl::Mutex mu_;
};

class NullSink : public Sink {
 public:
  absl::Status Write(const WriteRequest&, WriteResult*) override { return absl::OkStatus(); }
};

}  // namespace

std::unique_ptr<Sink> NewCallbackSink(SinkCallback callback, bool serialize, PresenceCallback presence) {
  return NewCallbackSinkWithProvenance(
      [callback = std::move(callback)](const Shard& shard, absl::Span<const Record> records,
                                       const Provenance&) { return callback(shard, records); },
      serialize, std::move(presence));
}

std::unique_ptr<Sink> NewCallbackSinkWithProvenance(ProvenanceSinkCallback callback, bool serialize,
                                                    PresenceCallback presence) {
  return std::make_unique<CallbackSink>(std::move(callback), serialize, std::move(presence));
}

std::unique_ptr<Sink> NewNullSink() { return std::make_unique<NullSink>(); }

}  // namespace recovery
