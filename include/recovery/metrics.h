// Metrics of a running job in the Prometheus text exposition format, for
// node_exporter's textfile collector or a /metrics endpoint (Grafana:
// examples/grafana/recovery.json).
#ifndef RECOVERY_METRICS_H_
#define RECOVERY_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

// Thread-safe. The engine records into it when given one
// (BackfillerOptions::metrics); anything may render it at any time.
//
// Counters: recovery_records_{fetched,delivered,dropped,out_of_window,already_present}_total,
// recovery_dead_letters_total, recovery_pages_total, recovery_bytes_total,
// recovery_retries_total{operation}, recovery_http_responses_total{class},
// recovery_source_events_total{event}, recovery_auth_refreshes_total,
// recovery_cursor_restarts_total.
// Histograms: recovery_request_duration_seconds, recovery_batch_duration_seconds.
// Gauges: recovery_shards{state}, recovery_window_coverage_ratio,
// recovery_checkpoint_age_seconds, recovery_records_per_second, and with
// adaptive concurrency recovery_concurrency_limit and recovery_request_rate_limit.
// Every series carries job="<name>".
class RECOVERY_EXPORT Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void AddCounter(std::string_view name, std::string_view labels, double value);
  void SetGauge(std::string_view name, std::string_view labels, double value);
  void Observe(std::string_view name, std::string_view labels, double seconds);
  // The checkpoint age gauge is computed from this at render time.
  void CheckpointSaved(std::string_view job, absl::Time when);

  std::string RenderPrometheus() const;

  // `job="name",key="value"`: label pairs with values escaped for the format.
  static std::string Labels(std::string_view job, std::string_view key = {}, std::string_view value = {});

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative at render time
    uint64_t count = 0;
    double sum = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<std::string, double>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, double>> gauges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_checkpoint_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_METRICS_H_
