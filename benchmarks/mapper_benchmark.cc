// Mapper throughput on realistic ~1 KB transactions, next to a plain simdjson
// On-Demand pass that visits every value of the same records (the baseline),
// in the same binary and run. Prints the ratio at the end; the target is >= 0.5.
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

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
      // The median of the repetitions when there are several, else the one run.
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (!median && run.run_type != Run::RT_Iteration) continue;
      auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      std::string name = run.run_name.str();
      if (median || !medians_.count(name)) rates_[name] = it->second.value;
      if (median) medians_.insert(name);
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double base = rates_["BM_RawOnDemand/best"];
    std::printf("\n(medians of the repetitions)");
    if (base <= 0) return;
    std::printf("\n%-28s %10s %14s %10s\n", "benchmark", "MB/s", "records/s", "vs raw");
    for (const auto& [name, rate] : rates_) {
      std::printf("%-28s %10.0f %14.0f %9.2fx\n", name.c_str(), rate / 1e6,
                  rate / (TotalBytes() / double(kRecords)), rate / base);
    }
  }

 private:
  std::map<std::string, double> rates_;
  std::set<std::string> medians_;
};

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  // The machines are shared and noisy: by default interleave repetitions of the
  // baseline and the mapper and compare medians.
  std::vector<char*> args(argv, argv + argc);
  char repetitions[] = "--benchmark_repetitions=7";
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  char min_time[] = "--benchmark_min_time=0.3";
  char aggregates[] = "--benchmark_report_aggregates_only=true";
  bool user_set = false;
  for (int i = 1; i < argc; ++i) user_set |= std::string(argv[i]).rfind("--benchmark_repetitions", 0) == 0;
  if (!user_set) args.insert(args.begin() + 1, {repetitions, interleave, min_time, aggregates});
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  recovery::RatioReporter reporter;
  std::printf("records: %d, %.0f bytes on average\n", recovery::kRecords,
              recovery::TotalBytes() / double(recovery::kRecords));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
}
