#include "recovery/metrics.h"

#include <cmath>
#include <cstdio>

#include "absl/time/clock.h"
#include "engine/metric_names.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr double kBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
constexpr size_t kBucketCount = sizeof kBuckets / sizeof kBuckets[0];

struct Help {
  const char* name;
  const char* type;
  const char* help;
};

constexpr Help kHelp[] = {
    {metric::kRecordsFetched, "counter", "Raw records read from the source."},
    {metric::kRecordsDelivered, "counter", "Records acknowledged by the sink."},
    {metric::kRecordsDropped, "counter", "Records the mapper dropped on purpose."},
    {metric::kRecordsOutOfWindow, "counter", "Records whose event time lies outside their shard."},
    {metric::kRecordsAlreadyPresent, "counter",
     "Records the sink already held (skip_already_present), not delivered again."},
    {metric::kDeadLetters, "counter", "Records that could not be mapped, kept with the reason."},
    {metric::kPages, "counter", "Pages committed."},
    {metric::kBytes, "counter", "Bytes read from the source."},
    {metric::kRetries, "counter", "Transient failures retried, by operation."},
    {metric::kHttpResponses, "counter", "HTTP responses from the source, by status class."},
    {metric::kSourceEvents, "counter",
     "Source-specific events: SQS messages deleted, released, extended, skipped as already delivered."},
    {metric::kAuthRefreshes, "counter",
     "OAuth2 access tokens fetched from the token endpoint, for every shard."},
    {metric::kCursorRestarts, "counter",
     "Shards read again from their beginning after the source refused an expired cursor."},
    {metric::kRequestDuration, "histogram", "Source request latency."},
    {metric::kBatchDuration, "histogram", "Time to commit a page: sink write, dead letters, checkpoint."},
    {metric::kShards, "gauge", "Shards of the plan by state."},
    {metric::kWindowCoverage, "gauge", "Fraction of the job's window covered, 0 to 1."},
    {metric::kCheckpointAge, "gauge", "Seconds since the last checkpoint was saved."},
    {metric::kRecordsPerSecond, "gauge", "Delivery rate of the current run."},
    {metric::kConcurrencyLimit, "gauge",
     "Adaptive concurrency: requests the source keeps in flight at most."},
    {metric::kRequestRateLimit, "gauge",
     "Adaptive concurrency: requests a second the source sends at most (0 while unbounded)."},
};

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string WithLabel(std::string_view labels, std::string_view extra) {
  if (labels.empty()) return StrCat("{", extra, "}");
  return StrCat("{", labels, ",", extra, "}");
}

void AppendLabelValue(std::string_view v, std::string* out) {
  out->push_back('"');
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string Metrics::Labels(std::string_view job, std::string_view key, std::string_view value) {
  std::string out = "job=";
  AppendLabelValue(job, &out);
  if (!key.empty()) {
    StrAppend(&out, ",", key, "=");
    AppendLabelValue(value, &out);
  }
  return out;
}

void Metrics::AddCounter(std::string_view name, std::string_view labels, double value) {
  absl::MutexLock lock(&mu_);
  counters_[std::string(name)][std::string(labels)] += value;
}

void Metrics::SetGauge(std::string_view name, std::string_view labels, double value) {
  absl::MutexLock lock(&mu_);
  gauges_[std::string(name)][std::string(labels)] = value;
}

void Metrics::Observe(std::string_view name, std::string_view labels, double seconds) {
  absl::MutexLock lock(&mu_);
  Histogram& h = histograms_[std::string(name)][std::string(labels)];
  if (h.buckets.empty()) h.buckets.assign(kBucketCount, 0);
  for (size_t i = 0; i < kBucketCount; ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::CheckpointSaved(std::string_view job, absl::Time when) {
  absl::MutexLock lock(&mu_);
  last_checkpoint_[std::string(job)] = when;
}

std::string Metrics::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::map<std::string, double>> gauges = gauges_;
  const absl::Time now = absl::Now();
  for (const auto& [job, when] : last_checkpoint_) {
    gauges[metric::kCheckpointAge][Labels(job)] = absl::ToDoubleSeconds(now - when);
  }
  std::string out;
  for (const Help& h : kHelp) {
    const std::string name = h.name;
    const bool histogram = std::string_view(h.type) == "histogram";
    auto counter = counters_.find(name);
    auto gauge = gauges.find(name);
    auto hist = histograms_.find(name);
    const bool present =
        histogram ? hist != histograms_.end() : (counter != counters_.end() || gauge != gauges.end());
    if (!present) continue;
    StrAppend(&out, "# HELP ", name, " ", h.help, "\n# TYPE ", name, " ", h.type, "\n");
    if (histogram) {
      for (const auto& [labels, v] : hist->second) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kBucketCount; ++i) {
          cumulative += v.buckets[i];
          StrAppend(&out, name, "_bucket", WithLabel(labels, StrCat("le=\"", Number(kBuckets[i]), "\"")), " ",
                    cumulative, "\n");
        }
        StrAppend(&out, name, "_bucket", WithLabel(labels, "le=\"+Inf\""), " ", v.count, "\n");
        StrAppend(&out, name, "_sum", labels.empty() ? "" : StrCat("{", labels, "}"), " ", Number(v.sum),
                  "\n");
        StrAppend(&out, name, "_count", labels.empty() ? "" : StrCat("{", labels, "}"), " ", v.count, "\n");
      }
      continue;
    }
    const auto& series = counter != counters_.end() ? counter->second : gauge->second;
    for (const auto& [labels, value] : series) {
      StrAppend(&out, name, labels.empty() ? "" : StrCat("{", labels, "}"), " ", Number(value), "\n");
    }
  }
  return out;
}

}  // namespace recovery
