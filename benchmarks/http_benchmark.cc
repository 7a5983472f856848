// End to end through the HTTP source: records/s against a loopback API that
// serves 100 records per page with 20 ms of latency per request, at several
// concurrencies, with and without a rate limit, next to the analytic bound
// min(rate, concurrency / latency) x page size and a sequential Python urllib
// loop over the same server, in one run. Also peak RSS for 1x and 10x the
// records. Each measurement runs the API server and the library client in
// processes of their own, so RSS is the library's alone.
//
//   http_benchmark [--quick | --durability | --callback]
//   http_benchmark --one callback|durable|volatile CONCURRENCY   (one run, e.g. under perf)
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "http/http_client.h"
#include "loopback_api.h"
#include "recovery/backfiller.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using bench::kLatency;
using bench::kPage;
using bench::kStart;
using bench::Server;
using bench::StartServer;
using bench::StopServer;

struct Result {
  double records_per_second = 0;
  long max_rss_kb = 0;
  uint64_t records = 0;
  double cpu_seconds = 0;  // the client's user + system time
};

// Runs one recovery of the whole day in a child process.
// Where the records and checkpoints go.
enum class Durability {
  kCallback,  // a callback sink, file checkpoints (the main table)
  kVolatile,  // the JSON-lines sink without fsync, in-memory checkpoints
  kDurable,   // the fsync'ed JSON-lines sink, file checkpoints
};

Result RunClient(int port, int concurrency, double rate, Durability durability = Durability::kCallback) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    testing::TempDir dir;
    const std::string rate_limit =
        rate > 0 ? StrCat(R"(,"rate_limit":{"requests_per_second":)", rate, R"(,"burst":)", concurrency, "}")
                 : "";
    const std::string job =
        StrCat(R"({"name":"bench","window":{"start":")", FormatRfc3339(kStart), R"(","end":")",
               FormatRfc3339(kStart + absl::Hours(24)), R"("},
      "shard_duration":")",
               86400 / concurrency, R"(s","concurrency":)", concurrency, R"(,
      "source":{"type":"http","url":"http://127.0.0.1:)",
               port, R"(/v1/keyset",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","after_time":"{after_time}","after_id":"{after_id}"},
        "records":"/data","page_size":)",
               kPage, R"(,"pagination":{"type":"keyset","time":"/created_at","id":"/id"})", rate_limit, R"(},
      "mapper":{"type":"json","fields":[{"name":"transaction_id","from":"/id","required":true},
        {"name":"occurred_at","from":"/created_at","type":"timestamp"},
        {"name":"amount","from":"/amount/value","type":"decimal"},{"name":"currency","from":"/amount/currency"}],
        "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":)",
               durability == Durability::kVolatile ? R"({"type":"memory"})"
                                                   : StrCat(R"({"type":"file","dir":")", dir.path(), R"("})"),
               durability == Durability::kCallback
                   ? ""
                   : StrCat(R"(,"sink":{"type":"jsonl_file","path":")", dir.File("out.jsonl"),
                            R"(","fsync":)", durability == Durability::kDurable ? "true" : "false", "}"),
               "}");
    auto spec = *JobSpec::Parse(job);
    std::atomic<uint64_t> delivered{0};
    Components c;
    if (durability == Durability::kCallback) {
      c.sink = NewCallbackSink(
          [&](const Shard&, absl::Span<const Record> batch) {
            delivered += batch.size();
            return absl::OkStatus();
          },
          /*serialize=*/false);
    }
    auto b = *Backfiller::Create(spec, std::move(c));
    const absl::Time began = absl::Now();
    RunResult r = b->Run();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
    if (durability != Durability::kCallback) delivered = r.progress.totals.records_delivered;
    if (!r.status.ok()) std::fprintf(stderr, "run failed: %s\n", r.status.ToString().c_str());
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    const double cpu = absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                                             absl::DurationFromTimeval(usage.ru_stime));
    Result out{delivered / seconds, usage.ru_maxrss, delivered.load(), cpu};
    (void)!write(fds[1], &out, sizeof out);
    _exit(0);
  }
  close(fds[1]);
  Result out;
  (void)!read(fds[0], &out, sizeof out);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

constexpr int kDurabilityRepetitions = 3;

// The run with the median records/s.
Result Median(std::vector<Result> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const Result& a, const Result& b) { return a.records_per_second < b.records_per_second; });
  return runs[runs.size() / 2];
}

// The server's own capacity at `concurrency`: requests/s of a client that
// only fetches (one thread and keep-alive connection each, the first page of
// the day over and over, nothing parsed or written), for `duration`.
double ServerCapacity(int port, int concurrency, absl::Duration duration) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::atomic<uint64_t> requests{0};
    const absl::Time stop = absl::Now() + duration;
    std::vector<std::thread> threads;
    for (int i = 0; i < concurrency; ++i) {
      threads.emplace_back([&] {
        HttpClient client(HttpClientOptions{});
        HttpRequest request;
        request.url = StrCat("http://127.0.0.1:", port, "/v1/keyset?from=", FormatRfc3339(kStart),
                             "&to=", FormatRfc3339(kStart + absl::Hours(24)), "&limit=", kPage);
        HttpResponse response;
        while (absl::Now() < stop) {
          if (client.Perform(request, &response, Redactor()).ok() && response.status == 200) ++requests;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const double rate = static_cast<double>(requests.load()) / absl::ToDoubleSeconds(duration);
    (void)!write(fds[1], &rate, sizeof rate);
    _exit(0);
  }
  close(fds[1]);
  double rate = 0;
  (void)!read(fds[0], &rate, sizeof rate);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return rate;
}

// The concurrent Python script (concurrent_baseline.py): one thread per
// shard, `pages` pages each, fsync'ed output and per-shard checkpoint files.
double ConcurrentPythonBaseline(int port, int shards, int pages) {
  testing::TempDir dir;
  const std::string cmd =
      StrCat("python3 ", RECOVERY_SOURCE_DIR, "/benchmarks/concurrent_baseline.py http://127.0.0.1:", port,
             " ", FormatRfc3339(kStart), " ", FormatRfc3339(kStart + absl::Hours(24)), " ", shards, " ",
             pages, " ", dir.path());
  return std::atof(testing::Shell(cmd).c_str());  // records/s; 0 when it failed
}

double PythonBaseline(int port, int pages) {
  const std::string cmd =
      StrCat("python3 ", RECOVERY_SOURCE_DIR, "/benchmarks/sequential_baseline.py http://127.0.0.1:", port,
             " ", FormatRfc3339(kStart), " ", FormatRfc3339(kStart + absl::Hours(24)), " ", pages);
  return std::atof(testing::Shell(cmd).c_str());  // records/s; 0 when it failed
}

// The callback sink (no shared file: each page is marked in flight before
// the callback, its commit carried by the next mark) against the fsync'ed
// JSON-lines sink (commit groups, one save a page), both with file
// checkpoints, and the volatile JSON-lines run (nothing durable: what the
// machine gives any sink), alternating, medians of three, at the
// concurrencies where the machine is the limit.
int CallbackTable() {
  std::printf(
      "Callback sink, file checkpoints, against JSON-lines durable and volatile (medians of %d alternating "
      "runs):\n%-12s %12s %15s %10s %15s %17s %15s %17s %12s\n",
      kDurabilityRepetitions, "concurrency", "bound rec/s", "callback rec/s", "of bound", "durable rec/s",
      "callback/durable", "volatile rec/s", "callback/volatile", "CPU us/rec");
  for (int concurrency : {64, 256}) {
    const int64_t records = static_cast<int64_t>(concurrency) * 40 * kPage;
    std::map<Durability, std::vector<Result>> runs;
    for (int i = 0; i < kDurabilityRepetitions; ++i) {
      for (Durability d : {Durability::kCallback, Durability::kDurable, Durability::kVolatile}) {
        Server server = StartServer(records, concurrency + 8);
        runs[d].push_back(RunClient(server.port, concurrency, 0, d));
        StopServer(server);
      }
    }
    const Result c = Median(runs[Durability::kCallback]), d = Median(runs[Durability::kDurable]),
                 v = Median(runs[Durability::kVolatile]);
    const double bound = concurrency / absl::ToDoubleSeconds(kLatency) * kPage;
    std::printf("%-12d %12.0f %15.0f %9.1f%% %15.0f %16.1f%% %15.0f %16.1f%% %5.2f / %4.2f\n", concurrency,
                bound, c.records_per_second, 100 * c.records_per_second / bound, d.records_per_second,
                100 * c.records_per_second / d.records_per_second, v.records_per_second,
                100 * c.records_per_second / v.records_per_second,
                1e6 * c.cpu_seconds / static_cast<double>(c.records),
                1e6 * d.cpu_seconds / static_cast<double>(d.records));
  }
  std::printf("(CPU us/rec: the client's own CPU time per record, callback / durable)\n");
  return 0;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  using namespace recovery;
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool quick = mode == "--quick";
  const bool durability_only = mode == "--durability";  // the durability table alone
  if (mode == "--callback") return CallbackTable();
  if (argc > 3 && mode == "--one") {  // one run, for profiling: --one callback|durable|volatile CONCURRENCY
    const std::string kind = argv[2];
    const int concurrency = std::atoi(argv[3]);
    const Durability d = kind == "durable"    ? Durability::kDurable
                         : kind == "volatile" ? Durability::kVolatile
                                              : Durability::kCallback;
    Server server = StartServer(static_cast<int64_t>(concurrency) * 40 * kPage, concurrency + 8);
    const Result r = RunClient(server.port, concurrency, 0, d);
    StopServer(server);
    std::printf("%s at %d: %.0f records/s, %.2f us CPU a record\n", kind.c_str(), concurrency,
                r.records_per_second, 1e6 * r.cpu_seconds / static_cast<double>(r.records));
    return 0;
  }
  if (argc > 2 && std::string(argv[1]) == "--serve") {  // a server alone, for manual experiments
    Server s = StartServer(std::atoll(argv[2]), 72);
    std::printf("%d\n", s.port);
    std::fflush(stdout);
    pause();
    return 0;
  }
  const int pages_per_shard = quick ? 10 : 40;
  std::printf(
      "HTTP source, loopback API: %d records/page, %lld ms latency per request, ~200-byte records\n\n", kPage,
      static_cast<long long>(absl::ToInt64Milliseconds(kLatency)));
  std::printf("%-12s %-12s %14s %14s %10s %12s\n", "concurrency", "rate limit", "bound rec/s",
              "library rec/s", "of bound", "peak RSS MB");
  struct Config {
    int concurrency;
    double rate;
  };
  const std::vector<Config> configs = {{1, 0},   {4, 0},   {16, 0},   {64, 0},
                                       {256, 0}, {4, 100}, {16, 100}, {64, 100}};
  for (const Config& c : configs) {
    if (durability_only) break;
    const int64_t records = static_cast<int64_t>(c.concurrency) * pages_per_shard * kPage;
    Server server = StartServer(records, c.concurrency + 8);
    Result r = RunClient(server.port, c.concurrency, c.rate);
    StopServer(server);
    const double request_rate = c.concurrency / absl::ToDoubleSeconds(kLatency);
    const double bound = (c.rate > 0 ? std::min(c.rate, request_rate) : request_rate) * kPage;
    std::printf("%-12d %-12s %14.0f %14.0f %9.1f%% %12.1f\n", c.concurrency,
                c.rate > 0 ? StrCat(c.rate, " req/s").c_str() : "none", bound, r.records_per_second,
                100 * r.records_per_second / bound, r.max_rss_kb / 1024.0);
  }
  // What durability costs: the same load into the JSON-lines sink, fsync'ed
  // with file checkpoints, against no fsync and in-memory checkpoints. The two
  // alternate, three times each, and the medians are compared: at 256 shards
  // both are CPU-bound on a shared machine, and one pair alone varies by
  // several percent.
  std::printf(
      "\nDurability (JSON-lines sink; medians of %d alternating runs):\n%-12s %15s %15s %17s %12s %15s "
      "%15s\n",
      kDurabilityRepetitions, "concurrency", "volatile rec/s", "durable rec/s", "durable/volatile",
      "CPU us/rec", "server cap rec/s", "python rec/s");
  for (int concurrency : {16, 64, 256}) {
    const int64_t records = static_cast<int64_t>(concurrency) * pages_per_shard * kPage;
    std::vector<Result> volatile_runs, durable_runs;
    for (int i = 0; i < kDurabilityRepetitions; ++i) {
      for (Durability d : {Durability::kVolatile, Durability::kDurable}) {
        Server server = StartServer(records, concurrency + 8);
        (d == Durability::kVolatile ? volatile_runs : durable_runs)
            .push_back(RunClient(server.port, concurrency, 0, d));
        StopServer(server);
      }
    }
    Server server = StartServer(records, concurrency + 8);
    const double capacity = kPage * ServerCapacity(server.port, concurrency, absl::Seconds(quick ? 1 : 3));
    // Python's threads share one interpreter: 256 of them add nothing over 64 but minutes.
    const double python = concurrency <= 64 ? ConcurrentPythonBaseline(server.port, concurrency, 10) : 0;
    StopServer(server);
    const Result v = Median(volatile_runs), d = Median(durable_runs);
    std::printf(
        "%-12d %15.0f %15.0f %16.1f%% %5.2f / %4.2f %15.0f %15s\n", concurrency, v.records_per_second,
        d.records_per_second, 100 * d.records_per_second / v.records_per_second,
        1e6 * v.cpu_seconds / static_cast<double>(v.records),
        1e6 * d.cpu_seconds / static_cast<double>(d.records), capacity,
        python > 0 ? absl::StrFormat("%.0f (%.1fx)", python, d.records_per_second / python).c_str() : "-");
  }
  std::printf(
      "(CPU us/rec: the client's own CPU time per record, volatile / durable; server cap: a client that\n"
      " only fetches, at the same concurrency; python: concurrent_baseline.py, a thread per shard, "
      "fsync'ed,\n"
      " 10 pages per shard, and how many times faster the durable library run is)\n");

  if (durability_only) return 0;
  Server server = StartServer(20 * kPage, 4);
  const double python = PythonBaseline(server.port, 20);
  StopServer(server);
  std::printf("%-12s %-12s %14.0f %14.0f %9.1f%%   (sequential Python urllib loop, same server)\n", "python",
              "none", kPage / absl::ToDoubleSeconds(kLatency), python,
              100 * python / (kPage / absl::ToDoubleSeconds(kLatency)));

  std::printf("\nPeak RSS as the gap grows (concurrency 16):\n");
  for (int scale : {1, 10}) {
    const int64_t records = int64_t{16} * pages_per_shard * kPage * scale;
    Server s = StartServer(records, 24);
    Result r = RunClient(s.port, 16, 0);
    StopServer(s);
    std::printf("  %8llu records: %6.1f MB peak RSS, %8.0f records/s\n",
                static_cast<unsigned long long>(r.records), r.max_rss_kb / 1024.0, r.records_per_second);
  }
  return 0;
}
