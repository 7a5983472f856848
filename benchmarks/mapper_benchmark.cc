// Mapper throughput on realistic ~1 KB transactions, next to a plain simdjson
// On-Demand pass that visits every value of the same records (the baseline),
// in the same binary and run. Prints the ratio at the end; the target is >= 0.5.
#include <cstdio>
#include <map>
#include <string>

#include "benchmark/benchmark.h"
#include "json/record_walker.h"
#include "recovery/mapper.h"
#include "recovery/source.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

constexpr int kRecords = 2000;

constexpr char kMapping[] = R"({"type":"json","fields":[
    {"name":"transaction_id","from":"/id","required":true},
    {"name":"occurred_at","from":"/created_at","type":"timestamp","required":true},
    {"name":"amount","from":"/amount/value","type":"decimal","required":true},
    {"name":"currency","from":"/amount/currency","default":"EUR"},
    {"name":"customer_id","from":"/customer/id"},
    {"name":"loyalty_number","from":"/customer/loyalty_number"},
    {"name":"merchant","from":"/merchant/name"},
    {"name":"points","from":"/points/earned","type":"int64","default":0},
    {"name":"first_sku","from":"/items/0/sku"},
    {"name":"channel","from":"/channel"},
    {"name":"source","const":"gap-recovery"}],
  "key":{"from":"/id"},"event_time":{"from":"/created_at"}})";

const RawBatch& Records() {
  static const RawBatch* batch = [] {
    auto* b = new RawBatch;
    const absl::Time start = testing::T("2026-11-14T00:00:00Z");
    for (int i = 0; i < kRecords; ++i) b->Add(testing::TransactionJson(i, start + absl::Seconds(i)));
    return b;
  }();
  return *batch;
}

size_t TotalBytes() {
  size_t n = 0;
  for (const RawRecord& r : Records().records()) n += r.data.size();
  return n;
}

void Report(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * TotalBytes());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRecords);
}

void BM_RawOnDemand(benchmark::State& state, const walk::Kernel* kernel) {
  state.SetLabel(kernel->name);
  for (auto _ : state) {
    int64_t values = 0;
    for (const RawRecord& r : Records().records()) {
      const int64_t n = kernel->iterate(r.data);
      if (n < 0) state.SkipWithError("invalid record in the benchmark data");
      values += n;
    }
    benchmark::DoNotOptimize(values);
  }
  Report(state);
}

void BM_JsonMapper(benchmark::State& state) {
  auto mapper = *NewJsonMapper(kMapping);
  const Shard shard{"s", 0, testing::T("2026-11-14T00:00:00Z"), testing::T("2026-11-15T00:00:00Z")};
  RecordBatch out;
  std::string reason;
  state.SetLabel(walk::BestKernel().name);
  for (auto _ : state) {
    int i = 0;
    for (const RawRecord& r : Records().records()) {
      if (i++ % 100 == 0) out.Clear();  // pages of 100, as the engine does
      if (mapper->Map(r, shard, &out, &reason) != MapOutcome::kEmitted) state.SkipWithError(reason.c_str());
    }
    benchmark::DoNotOptimize(out.size());
  }
  Report(state);
}

BENCHMARK_CAPTURE(BM_RawOnDemand, best, &walk::BestKernel());
BENCHMARK(BM_JsonMapper);

// Prints the usual table, then each benchmark's throughput relative to the baseline.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      auto it = run.counters.find("bytes_per_second");
      if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double base = rates_["BM_RawOnDemand/best"];
    if (base <= 0) return;
    std::printf("\n%-28s %10s %14s %10s\n", "benchmark", "MB/s", "records/s", "vs raw");
    for (const auto& [name, rate] : rates_) {
      std::printf("%-28s %10.0f %14.0f %9.2fx\n", name.c_str(), rate / 1e6, rate / (TotalBytes() / double(kRecords)),
                  rate / base);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  recovery::RatioReporter reporter;
  std::printf("records: %d, %.0f bytes on average\n", recovery::kRecords,
              recovery::TotalBytes() / double(recovery::kRecords));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
}
