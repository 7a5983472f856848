// The HTTP sink into a loopback endpoint that spends 1 ms on each request
// (tests/testing/receiver.h, with a thread for every connection), at 1, 8 and
// 32 requests in flight, next to the endpoint's own capacity at the same
// number in flight, measured in the same run by a plain load generator: as
// many threads, each posting the same bodies in a loop on one kept-alive
// libcurl connection. The sink's runs are whole jobs (a JSON-lines export,
// the JSON mapper, memory checkpoints, 8 shards), one record per request, and
// one row of batches of 50.
//
//   http_sink_benchmark [--quick]
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "http/http_client.h"
#include "recovery/backfiller.h"
#include "testing/receiver.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr char kDay[] = "2026-11-14T00:00:00Z";

std::string Body(int i) {
  return StrCat(R"({"id":"r)", i, R"(","amount":")", i % 997, R"(.50","currency":"EUR"})");
}

// Records a second the endpoint takes from `in_flight` threads posting `n` bodies in all.
double LoadGenerator(const testing::Receiver& receiver, int in_flight, int n) {
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < in_flight; ++t) {
    threads.emplace_back([&] {
      HttpClient client({});
      Redactor redactor;
      for (int i = next++; i < n; i = next++) {
        HttpRequest req;
        req.method = "POST";
        req.url = receiver.url("/events");
        req.headers = {{"Content-Type", "application/json", false},
                       {"Idempotency-Key", StrCat("g", i), false}};
        req.body = Body(i);
        HttpResponse resp;
        if (!client.Perform(req, &resp, redactor).ok() || resp.status != 200)
          std::fprintf(stderr, "generator: failed\n");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return n / absl::ToDoubleSeconds(absl::Now() - start);
}

// Records a second a job delivers through the HTTP sink.
double SinkRun(const testing::Receiver& receiver, int in_flight, int batch, int n) {
  testing::TempDir dir;
  std::string lines;
  const absl::Time start = testing::T(kDay);
  for (int i = 0; i < n; ++i) {
    lines +=
        StrCat(R"({"id":"r)", i, R"(","amount":")", i % 997, R"(.50","currency":"EUR","ts":")",
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", start + absl::Hours(24) * i / n, absl::UTCTimeZone()),
               "\"}\n");
  }
  testing::WriteFile(dir.File("in.jsonl"), lines);
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(StrCat(
      R"({"name":"sink-bench","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "shard_duration":"3h","concurrency":8,
      "source":{"type":"jsonl_file","path":")",
      dir.File("in.jsonl"), R"(","batch_size":100},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},{"name":"amount","from":"/amount"},
        {"name":"currency","from":"/currency"}],"key":{"from":"/id"},"event_time":{"from":"/ts"}},
      "sink":{"type":"http","url":")",
      receiver.url("/events"), R"(","max_in_flight":)", in_flight,
      batch > 1 ? StrCat(R"(,"batch":{"max_records":)", batch, "}") : "", R"(},
      "checkpoint":{"type":"memory"}})"));
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    return 0;
  }
  auto backfiller = Backfiller::Create(*spec);
  if (!backfiller.ok()) return 0;
  const absl::Time began = absl::Now();
  RunResult result = (*backfiller)->Run();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  if (!result.status.ok() || result.progress.totals.records_delivered != static_cast<uint64_t>(n)) {
    std::fprintf(stderr, "sink run: %s, %llu delivered\n", result.status.ToString().c_str(),
                 static_cast<unsigned long long>(result.progress.totals.records_delivered));
  }
  return n / seconds;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  using namespace recovery;
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  testing::ReceiverOptions o;
  o.delay = absl::Milliseconds(1);
  o.dedupe = false;
  o.threads = 128;
  testing::Receiver receiver(o);
  std::printf("%-10s %-8s %18s %14s %10s\n", "in flight", "batch", "generator rec/s", "sink rec/s",
              "of gen.");
  for (int in_flight : {1, 8, 32}) {
    const int n = (quick ? 250 : 1000) * (in_flight == 1 ? 1 : in_flight / 2);
    const double generator = LoadGenerator(receiver, in_flight, n);
    const double sink = SinkRun(receiver, in_flight, 1, n);
    std::printf("%-10d %-8d %18.0f %14.0f %9.1f%%\n", in_flight, 1, generator, sink, 100 * sink / generator);
  }
  const int n = quick ? 5000 : 40000;
  const double generator = LoadGenerator(receiver, 8, n / 50);  // requests of one record
  const double sink = SinkRun(receiver, 8, 50, n);
  std::printf("%-10d %-8d %18.0f %14.0f %9s  (the generator posts one record per request: batches beat it)\n",
              8, 50, generator, sink, StrCat(static_cast<int>(100 * sink / generator), "%").c_str());
  return 0;
}
