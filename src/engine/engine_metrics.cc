#include "engine/engine_metrics.h"

#include "engine/metric_names.h"
#include "recovery/source.h"

namespace recovery {

EngineMetrics::EngineMetrics(Metrics* metrics, std::string_view job)
    : m_(metrics), job_(job), labels_(Metrics::Labels(job)) {
  static constexpr const char* kClasses[] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t i = 0; i < response_classes_.size(); ++i) {
    response_classes_[i] = Metrics::Labels(job, "class", kClasses[i]);
  }
  static constexpr const char* kStates[] = {"done", "failed", "running", "pending"};
  for (size_t i = 0; i < shard_states_.size(); ++i)
    shard_states_[i] = Metrics::Labels(job, "state", kStates[i]);
}

void EngineMetrics::Page(const ShardCounters& page) {
  if (m_ == nullptr) return;
  m_->AddCounter(metric::kRecordsFetched, labels_, page.records_fetched);
  m_->AddCounter(metric::kRecordsDelivered, labels_, page.records_delivered);
  m_->AddCounter(metric::kRecordsDropped, labels_, page.records_dropped);
  m_->AddCounter(metric::kRecordsOutOfWindow, labels_, page.records_out_of_window);
  m_->AddCounter(metric::kRecordsAlreadyPresent, labels_, page.records_already_present);
  m_->AddCounter(metric::kDeadLetters, labels_, page.dead_letters);
  m_->AddCounter(metric::kPages, labels_, page.pages);
  m_->AddCounter(metric::kBytes, labels_, page.bytes);
}

void EngineMetrics::Committed(absl::Duration duration, absl::Time now) {
  if (m_ == nullptr) return;
  m_->Observe(metric::kBatchDuration, labels_, absl::ToDoubleSeconds(duration));
  m_->CheckpointSaved(job_, now);
}

void EngineMetrics::Gauges(const Progress& p) {
  if (m_ == nullptr) return;
  const int pending = p.shards_total - p.shards_done - p.shards_failed - p.shards_running;
  m_->SetGauge(metric::kShards, shard_states_[0], p.shards_done);
  m_->SetGauge(metric::kShards, shard_states_[1], p.shards_failed);
  m_->SetGauge(metric::kShards, shard_states_[2], p.shards_running);
  m_->SetGauge(metric::kShards, shard_states_[3], pending);
  m_->SetGauge(metric::kWindowCoverage, labels_, p.window_fraction);
  m_->SetGauge(metric::kRecordsPerSecond, labels_, p.records_per_second);
}

void EngineMetrics::Retry(std::string_view operation) {
  if (m_ == nullptr) return;
  m_->AddCounter(metric::kRetries, Metrics::Labels(job_, "operation", operation), 1);
}

void EngineMetrics::Request(absl::Duration latency, int http_status) {
  if (m_ == nullptr) return;
  m_->Observe(metric::kRequestDuration, labels_, absl::ToDoubleSeconds(latency));
  const int cls = http_status >= 100 && http_status < 600 ? http_status / 100 : 0;
  m_->AddCounter(metric::kHttpResponses, response_classes_[cls], 1);
}

void EngineMetrics::CursorRestart() {
  if (m_ == nullptr) return;
  m_->AddCounter(metric::kCursorRestarts, labels_, 1);
}

void EngineMetrics::SourceGauge(std::string_view gauge, double value) {
  if (m_ == nullptr) return;
  if (gauge == kConcurrencyLimitGauge) m_->SetGauge(metric::kConcurrencyLimit, labels_, value);
  if (gauge == kRequestRateLimitGauge) m_->SetGauge(metric::kRequestRateLimit, labels_, value);
}

void EngineMetrics::SourceEvent(std::string_view event, uint64_t n) {
  if (m_ == nullptr || n == 0) return;
  if (event == kAuthRefreshEvent) {
    m_->AddCounter(metric::kAuthRefreshes, Metrics::Labels(job_), n);
    return;
  }
  m_->AddCounter(metric::kSourceEvents, Metrics::Labels(job_, "event", event), n);
}

}  // namespace recovery
