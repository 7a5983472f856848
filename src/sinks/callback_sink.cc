#include "absl/synchronization/mutex.h"
#include "recovery/sink.h"

namespace recovery {
namespace {

class CallbackSink : public Sink {
 public:
  CallbackSink(SinkCallback callback, bool serialize)
      : callback_(std::move(callback)), serialize_(serialize) {}

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

std::unique_ptr<Sink> NewCallbackSink(SinkCallback callback, bool serialize) {
  return std::make_unique<CallbackSink>(std::move(callback), serialize);
}

std::unique_ptr<Sink> NewNullSink() { return std::make_unique<NullSink>(); }

}  // namespace recovery
