// Adaptive concurrency (concurrency: {"max": N}) against a loopback API, in
// one run:
// - an undisclosed quota: a token bucket of 40 requests a second answering
//   429 beyond it, 20 ms of latency, 16 shards; with the quota announced in
//   RateLimit-* headers (a fixed one-second window) too; and, as the
//   baseline, a fixed concurrency of 16 that knows nothing of it. Measured
//   over a steady window that leaves out the first 10 s (the bucket's burst
//   and the limiter's search): successful requests a second against the
//   quota, and the share of requests answered 429.
// - no quota, a server with 8 workers (requests beyond 8 queue), 20 ms:
//   records a second of the adaptive limit next to the best fixed
//   concurrency of a sweep, measured the same way. (The server has threads
//   for every connection and serves 8 requests at once: a server with only 8
//   threads would park kept-alive connections, which no real one does.)
//
//   adaptive_benchmark [--quick]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "loopback_api.h"
#include "recovery/backfiller.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

using bench::kStart;
constexpr int kPage = 20;

struct Measured {
  double ok_per_second = 0;
  double throttled_share = 0;
  double records_per_second = 0;
};

// Runs the job against `api` for `length` with `concurrency` (adaptive when
// `adaptive`), and measures the answers the server gave after `warmup`.
Measured Run(testing::SimulatedApi& api, int concurrency, bool adaptive, absl::Duration length,
             absl::Duration warmup) {
  const std::string spec_text =
      StrCat(R"({"name":"adaptive-bench",
    "window":{"start":"2025-11-14T00:00:00Z","end":"2025-11-15T00:00:00Z"},
    "shard_duration":")",
             absl::ToInt64Minutes(absl::Hours(24) / concurrency), R"(m",
    "concurrency":)",
             adaptive ? StrCat(R"({"max":)", concurrency, "}") : StrCat(concurrency),
             R"(,
    "retry":{"initial_backoff":"50ms","max_backoff":"2s","max_attempts":1000},
    "source":{"type":"http","url":")",
             api.base_url(), R"(/v1/keyset",
      "query":{"from":"{start}","to":"{end}","limit":"{limit}","after_time":"{after_time}","after_id":"{after_id}"},
      "records":"/data","page_size":)",
             kPage, R"(,"pagination":{"type":"keyset","time":"/created_at","id":"/id"}},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
              "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
    "checkpoint":{"type":"memory"}})");
  auto spec = JobSpec::Parse(spec_text);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    std::abort();
  }
  Components c;
  c.sink = NewNullSink();
  auto b = Backfiller::Create(*spec, std::move(c));
  if (!b.ok()) {
    std::fprintf(stderr, "%s\n", b.status().ToString().c_str());
    std::abort();
  }
  const size_t before = api.requests().size();
  const absl::Time began = absl::Now();
  std::thread runner([&] { (void)(*b)->Run(); });
  absl::SleepFor(length);
  (*b)->Cancel();
  runner.join();
  const std::vector<testing::RequestRecord> log = api.requests();
  int ok = 0, throttled = 0;
  absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
  for (size_t i = before; i < log.size(); ++i) {
    const testing::RequestRecord& r = log[i];
    if (r.time < began + warmup || r.time > began + length) continue;
    first = std::min(first, r.time);
    last = std::max(last, r.time);
    (r.status == 429 ? throttled : ok) += r.status == 429 || r.status == 200;
  }
  Measured m;
  const double seconds = absl::ToDoubleSeconds(length - warmup);
  m.ok_per_second = ok / seconds;
  m.throttled_share = ok + throttled > 0 ? static_cast<double>(throttled) / (ok + throttled) : 0;
  m.records_per_second = m.ok_per_second * kPage;
  return m;
}

int Main(bool quick) {
  const absl::Duration length = quick ? absl::Seconds(20) : absl::Seconds(40);
  const absl::Duration warmup = absl::Seconds(10);
  std::printf(
      "Quota of 40 requests/s (token bucket, 429 beyond), 20 ms latency, 16 shards; steady window %s\n",
      absl::FormatDuration(length - warmup).c_str());
  std::printf("%-34s %10s %10s %10s\n", "client", "ok req/s", "of quota", "429 share");
  for (int variant = 0; variant < 3; ++variant) {
    testing::SimulatedApiOptions o = bench::ApiOptions(400000, kPage);
    o.quota_per_second = 40;
    o.quota_headers = variant == 1;
    testing::SimulatedApi api(o);
    const bool adaptive = variant != 2;
    const Measured m = Run(api, 16, adaptive, length, warmup);
    const char* name = variant == 0   ? "adaptive, quota not announced"
                       : variant == 1 ? "adaptive, RateLimit-* headers"
                                      : "fixed 16 (baseline), not announced";
    std::printf("%-34s %10.1f %9.1f%% %9.2f%%\n", name, m.ok_per_second, m.ok_per_second / 40 * 100,
                m.throttled_share * 100);
  }

  const absl::Duration sweep_length = quick ? absl::Seconds(6) : absl::Seconds(10);
  const absl::Duration sweep_warmup = absl::Seconds(2);
  std::printf("\nNo quota, a server with 8 workers (beyond 8 requests queue), 20 ms latency\n");
  std::printf("%-34s %12s %12s\n", "client", "records/s", "of best");
  std::vector<std::pair<std::string, double>> rows;
  double best = 0;
  for (int fixed : {1, 2, 4, 8, 16, 32}) {
    testing::SimulatedApiOptions o = bench::ApiOptions(600000, kPage);
    o.threads = 80;
    o.max_concurrent = 8;
    testing::SimulatedApi api(o);
    const Measured m = Run(api, fixed, false, sweep_length, sweep_warmup);
    rows.emplace_back(StrCat("fixed ", fixed), m.records_per_second);
    best = std::max(best, m.records_per_second);
  }
  testing::SimulatedApiOptions o = bench::ApiOptions(600000, kPage);
  o.threads = 80;
  o.max_concurrent = 8;
  testing::SimulatedApi api(o);
  const Measured m = Run(api, 32, true, sweep_length + absl::Seconds(4), sweep_warmup + absl::Seconds(4));
  rows.emplace_back("adaptive, max 32", m.records_per_second);
  for (const auto& [name, rps] : rows)
    std::printf("%-34s %12.0f %11.1f%%\n", name.c_str(), rps, rps / best * 100);
  return 0;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc > 1 && std::strcmp(argv[1], "--quick") == 0); }
