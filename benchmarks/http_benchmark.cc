// End to end through the HTTP source: records/s against a loopback API that
// serves 100 records per page with 20 ms of latency per request, at several
// concurrencies, with and without a rate limit, next to the analytic bound
// min(rate, concurrency / latency) x page size and a sequential Python urllib
// loop over the same server, in one run. Also peak RSS for 1x and 10x the
// records. Each measurement runs the API server and the library client in
// processes of their own, so RSS is the library's alone.
//
//   http_benchmark [--quick]
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "recovery/backfiller.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr absl::Duration kLatency = absl::Milliseconds(20);
constexpr int kPage = 100;
const absl::Time kStart = absl::FromUnixSeconds(1763078400);  // 2025-11-14T00:00:00Z

struct Server {
  pid_t pid;
  int port;
};

// Forks a process that serves `records` records until killed.
Server StartServer(int64_t records, int threads) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    testing::SimulatedApiOptions o;
    o.start = kStart;
    o.end = kStart + absl::Hours(24);
    o.records = records;
    o.small_records = true;
    o.latency = kLatency;
    o.max_page_size = kPage;
    o.threads = threads;
    testing::SimulatedApi api(o);
    const int port = api.port();
    (void)!write(fds[1], &port, sizeof port);
    close(fds[1]);
    while (true) pause();
  }
  close(fds[1]);
  int port = 0;
  (void)!read(fds[0], &port, sizeof port);
  close(fds[0]);
  return {pid, port};
}

void StopServer(const Server& s) {
  kill(s.pid, SIGKILL);
  waitpid(s.pid, nullptr, 0);
}

struct Result {
  double records_per_second = 0;
  long max_rss_kb = 0;
  uint64_t records = 0;
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
    Result out{delivered / seconds, usage.ru_maxrss, delivered.load()};
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

double PythonBaseline(int port, int pages) {
  const std::string cmd =
      StrCat("python3 ", RECOVERY_SOURCE_DIR, "/benchmarks/sequential_baseline.py http://127.0.0.1:", port,
             " ", FormatRfc3339(kStart), " ", FormatRfc3339(kStart + absl::Hours(24)), " ", pages);
  return std::atof(testing::Shell(cmd).c_str());  // records/s; 0 when it failed
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  using namespace recovery;
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
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
  // with file checkpoints, against no fsync and in-memory checkpoints.
  std::printf("\nDurability (JSON-lines sink):\n%-12s %18s %18s %10s\n", "concurrency", "volatile rec/s",
              "durable rec/s", "durable/volatile");
  for (int concurrency : {16, 64, 256}) {
    const int64_t records = static_cast<int64_t>(concurrency) * pages_per_shard * kPage;
    Server s1 = StartServer(records, concurrency + 8);
    const Result volatile_run = RunClient(s1.port, concurrency, 0, Durability::kVolatile);
    StopServer(s1);
    Server s2 = StartServer(records, concurrency + 8);
    const Result durable_run = RunClient(s2.port, concurrency, 0, Durability::kDurable);
    StopServer(s2);
    std::printf("%-12d %18.0f %18.0f %9.1f%%\n", concurrency, volatile_run.records_per_second,
                durable_run.records_per_second,
                100 * durable_run.records_per_second / volatile_run.records_per_second);
  }

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
