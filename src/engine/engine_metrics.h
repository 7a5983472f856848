// What the engine records into a Metrics, with each job's label sets built
// once. With no Metrics every call does nothing. Thread-safe.
#ifndef RECOVERY_ENGINE_ENGINE_METRICS_H_
#define RECOVERY_ENGINE_ENGINE_METRICS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "recovery/checkpoint_store.h"
#include "recovery/metrics.h"
#include "recovery/options.h"
#include "recovery/progress.h"

namespace recovery {

class EngineMetrics {
 public:
  EngineMetrics(Metrics* metrics, std::string_view job);  // `metrics` borrowed, may be null

  // A page's counters (committed, or mapped in a dry run).
  void Page(const ShardCounters& page);
  // A page's commit took `duration`; its checkpoint was saved at `now`.
  void Committed(absl::Duration duration, absl::Time now);
  void Gauges(const Progress& progress);
  void Retry(std::string_view operation);
  // One request to the source: its latency and HTTP status (0: no response).
  void Request(absl::Duration latency, int http_status);
  void SourceEvent(std::string_view event, uint64_t n);
  // A shard restarted from its beginning after its cursor expired.
  void CursorRestart();
  void SourceGauge(std::string_view gauge, double value);

 private:
  Metrics* const m_;
  const std::string job_;
  const std::string labels_;                     // job="…"
  std::array<std::string, 6> response_classes_;  // error, 1xx … 5xx
  std::array<std::string, 4> shard_states_;      // done, failed, running, pending
};

}  // namespace recovery

#endif  // RECOVERY_ENGINE_ENGINE_METRICS_H_
