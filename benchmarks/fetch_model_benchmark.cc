// How the HTTP source should drive its requests when there are many shards:
// a thread and a blocking libcurl easy handle per shard (what the engine does),
// against libcurl's multi interface (one event-loop thread for every shard's
// transfer, handing finished pages to a few worker threads).
//
// Each shard walks its slice of a day through the loopback API's keyset
// pagination (100 records a page, 20 ms a request). A page is handled as the
// engine handles one, in cost if not in code: every record's fields read with
// simdjson On-Demand, then the shard's position saved to a checkpoint log
// (group commit, fdatasync) before its next request goes out.
//   threads   shard thread: perform, parse, save, next request
//   multi     loop thread: curl_multi_poll over every transfer; a finished one
//             is queued for the workers; a worker parses and saves it, sets
//             the shard's next URL and gives the handle back to the loop
//             (curl_multi_wakeup)
// Both use the same easy-handle options and the same server, one after the
// other at each shard count, each client in a process of its own. Printed:
// records/s, the client's CPU time per record, context switches per page,
// threads, peak RSS and checkpoint saves per fdatasync group, with the multi
// model's ratios against the thread model of the same round.
//
//   fetch_model_benchmark [--quick] [--rounds N] [--workers W] [--shards N]
#include <curl/curl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "checkpoint/checkpoint_log.h"
#include "loopback_api.h"
#include "recovery/checkpoint.h"
#include "simdjson.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using bench::kLatency;
using bench::kPage;
using bench::kStart;

// One shard's walk through its slice.
struct Walk {
  std::string id;
  std::string from, to;  // RFC 3339
  std::string after_time, after_id;
  std::string body;
  bool done = false;
  uint64_t records = 0;
  CURL* easy = nullptr;
};

size_t Append(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// The options both models give every handle (HttpClient's, in substance).
CURL* NewHandle(Walk& walk) {
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &walk.body);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &walk);
  return easy;
}

// Sets the URL of the walk's next page and clears the body.
void PrepareNext(Walk& walk, int port) {
  // libcurl keeps its own copy of the URL.
  std::string url =
      StrCat("http://127.0.0.1:", port, "/v1/keyset?from=", walk.from, "&to=", walk.to, "&limit=", kPage);
  if (!walk.after_time.empty()) StrAppend(&url, "&after_time=", walk.after_time, "&after_id=", walk.after_id);
  walk.body.clear();
  curl_easy_setopt(walk.easy, CURLOPT_URL, url.c_str());
}

// Reads every record of the page (the mapper's share of the work, roughly),
// notes where the next page starts, and saves the shard's position. False
// when the page could not be read.
bool HandlePage(Walk& walk, simdjson::ondemand::parser& parser, CheckpointLog& log) {
  walk.body.reserve(walk.body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(walk.body)).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::array data;
  if (doc["data"].get_array().get(data) != simdjson::SUCCESS) return false;
  int n = 0;
  for (auto value : data) {
    simdjson::ondemand::object record;
    if (value.get_object().get(record) != simdjson::SUCCESS) return false;
    for (auto field : record) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
      simdjson::ondemand::value v = field.value();
      if (key == "id" || key == "created_at") {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return false;
        (key == "id" ? walk.after_id : walk.after_time).assign(s);
      } else {
        // Where the mapper converts a value, this only takes its token.
        if (v.raw_json_token().empty()) return false;
      }
    }
    ++n;
  }
  walk.records += n;
  walk.done = n < kPage;
  Checkpoint c;
  c.state = walk.done ? ShardState::kDone : ShardState::kRunning;
  c.cursor = StrCat(walk.after_time, "|", walk.after_id);
  c.counters.records_delivered = walk.records;
  return log.Save(walk.id, c).ok();
}

struct Result {
  double seconds = 0;
  uint64_t pages = 0;
  uint64_t records = 0;
  double cpu_seconds = 0;
  long context_switches = 0;
  int threads = 0;  // the most the process had at once
  long max_rss_kb = 0;
  uint64_t groups = 0;
  double loop_cpu_seconds = 0;  // multi: the loop thread's
  bool ok = true;
};

int ThreadsNow() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

// Cuts the day into `shards` slices.
std::vector<Walk> Walks(int shards) {
  std::vector<Walk> walks(shards);
  const absl::Duration slice = absl::Hours(24) / shards;
  for (int i = 0; i < shards; ++i) {
    walks[i].id = StrCat("shard-", i);
    walks[i].from = FormatRfc3339(kStart + slice * i);
    walks[i].to = FormatRfc3339(kStart + slice * (i + 1));
  }
  return walks;
}

void RunThreads(std::vector<Walk>& walks, int port, CheckpointLog& log, std::atomic<uint64_t>& pages,
                std::atomic<bool>& failed) {
  std::vector<std::thread> threads;
  threads.reserve(walks.size());
  for (Walk& walk : walks) {
    threads.emplace_back([&walk, port, &log, &pages, &failed] {
      simdjson::ondemand::parser parser;
      walk.easy = NewHandle(walk);
      while (!walk.done) {
        PrepareNext(walk, port);
        long status = 0;
        if (curl_easy_perform(walk.easy) != CURLE_OK ||
            curl_easy_getinfo(walk.easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
            !HandlePage(walk, parser, log)) {
          failed = true;
          break;
        }
        ++pages;
      }
      curl_easy_cleanup(walk.easy);
    });
  }
  for (std::thread& t : threads) t.join();
}

// The multi model's hand-offs between the loop and the workers.
struct Exchange {
  absl::Mutex mu;
  std::deque<Walk*> fetched ABSL_GUARDED_BY(mu);  // for the workers
  std::vector<Walk*> next ABSL_GUARDED_BY(mu);    // for the loop, its URL set
  int unfinished ABSL_GUARDED_BY(mu) = 0;
  bool stop ABSL_GUARDED_BY(mu) = false;
};

void Worker(Exchange& x, CURLM* multi, int port, CheckpointLog& log, std::atomic<uint64_t>& pages,
            std::atomic<bool>& failed) {
  simdjson::ondemand::parser parser;
  while (true) {
    Walk* walk = nullptr;
    {
      absl::MutexLock lock(&x.mu);
      x.mu.Await(absl::Condition(
          +[](Exchange* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu) { return e->stop || !e->fetched.empty(); },
          &x));
      if (x.fetched.empty()) return;
      walk = x.fetched.front();
      x.fetched.pop_front();
    }
    long status = 0;
    curl_easy_getinfo(walk->easy, CURLINFO_RESPONSE_CODE, &status);
    const bool ok = status == 200 && HandlePage(*walk, parser, log);
    if (!ok) failed = true;
    if (ok) ++pages;
    if (ok && !walk->done) PrepareNext(*walk, port);
    {
      absl::MutexLock lock(&x.mu);
      if (ok && !walk->done) {
        x.next.push_back(walk);
      } else {
        --x.unfinished;
      }
    }
    curl_multi_wakeup(multi);
  }
}

// `loop_cpu_seconds`: the loop thread's own CPU time.
void RunMulti(std::vector<Walk>& walks, int port, int workers, CheckpointLog& log,
              std::atomic<uint64_t>& pages, std::atomic<bool>& failed, double& loop_cpu_seconds) {
  CURLM* multi = curl_multi_init();
  Exchange x;
  {
    absl::MutexLock lock(&x.mu);
    x.unfinished = static_cast<int>(walks.size());
  }
  for (Walk& walk : walks) {
    walk.easy = NewHandle(walk);
    PrepareNext(walk, port);
    curl_multi_add_handle(multi, walk.easy);
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < workers; ++i) pool.emplace_back([&] { Worker(x, multi, port, log, pages, failed); });
  std::vector<Walk*> next;
  while (true) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    std::vector<Walk*> fetched;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      char* walk_pointer = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &walk_pointer);
      Walk* walk = reinterpret_cast<Walk*>(walk_pointer);
      if (m->data.result != CURLE_OK) failed = true;
      curl_multi_remove_handle(multi, m->easy_handle);
      fetched.push_back(walk);
    }
    {
      absl::MutexLock lock(&x.mu);
      x.fetched.insert(x.fetched.end(), fetched.begin(), fetched.end());
      next.swap(x.next);
      if (x.unfinished == 0) {
        x.stop = true;
        break;
      }
    }
    for (Walk* walk : next) curl_multi_add_handle(multi, walk->easy);
    next.clear();
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  loop_cpu_seconds = absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                                           absl::DurationFromTimeval(usage.ru_stime));
  for (std::thread& t : pool) t.join();
  for (Walk& walk : walks) curl_easy_cleanup(walk.easy);
  curl_multi_cleanup(multi);
}

// One run of `shards` shards in a child process; workers == 0: the thread model.
Result RunClient(int port, int shards, int workers) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    testing::TempDir dir;
    std::atomic<uint64_t> groups{0};
    CheckpointLogOptions options;
    options.at = [&groups](std::string_view moment) {
      if (moment == "group synced") ++groups;
    };
    CheckpointLog log(dir.path(), "bench", options);
    std::vector<Walk> walks = Walks(shards);
    std::atomic<uint64_t> pages{0};
    std::atomic<bool> failed{false}, finished{false};
    std::atomic<int> most_threads{0};
    std::thread sampler([&] {  // counts itself: one less
      while (!finished) {
        most_threads = std::max(most_threads.load(), ThreadsNow() - 1);
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
    Result out;
    const absl::Time began = absl::Now();
    if (workers == 0) {
      RunThreads(walks, port, log, pages, failed);
    } else {
      RunMulti(walks, port, workers, log, pages, failed, out.loop_cpu_seconds);
    }
    out.seconds = absl::ToDoubleSeconds(absl::Now() - began);
    finished = true;
    sampler.join();
    for (const Walk& w : walks) out.records += w.records;
    out.pages = pages;
    out.groups = groups;
    out.threads = most_threads;
    out.ok = !failed;
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    out.cpu_seconds = absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                                            absl::DurationFromTimeval(usage.ru_stime));
    out.context_switches = usage.ru_nvcsw + usage.ru_nivcsw;
    out.max_rss_kb = usage.ru_maxrss;
    (void)!write(fds[1], &out, sizeof out);
    _exit(0);
  }
  close(fds[1]);
  Result out;
  out.ok = read(fds[0], &out, sizeof out) == sizeof out && out.ok;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

void PrintRow(const char* model, int shards, uint64_t expected, const Result& r, const Result* baseline) {
  const double rate = static_cast<double>(r.records) / r.seconds;
  const double cpu = 1e6 * r.cpu_seconds / static_cast<double>(r.records);
  std::printf("%-8d %-10s %12.0f %9.2f %10.1f %8d %9.1f %11.1f", shards, model, rate, cpu,
              static_cast<double>(r.context_switches) / static_cast<double>(r.pages), r.threads,
              r.max_rss_kb / 1024.0,
              static_cast<double>(r.pages) / static_cast<double>(std::max<uint64_t>(1, r.groups)));
  if (baseline != nullptr) {
    const double base_rate = static_cast<double>(baseline->records) / baseline->seconds;
    const double base_cpu = baseline->cpu_seconds / static_cast<double>(baseline->records);
    std::printf("   %5.2fx rec/s  %5.2fx CPU  loop thread busy %3.0f%%", rate / base_rate,
                r.cpu_seconds / static_cast<double>(r.records) / base_cpu,
                100 * r.loop_cpu_seconds / r.seconds);
  }
  if (!r.ok) std::printf("   FAILED");
  if (r.records != expected)
    std::printf("   %llu records, not %llu", static_cast<unsigned long long>(r.records),
                static_cast<unsigned long long>(expected));
  std::printf("\n");
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) {
  using namespace recovery;
  int rounds = 3, workers = 4, pages_per_shard = 40;
  std::vector<int> shard_counts = {64, 256, 1024};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      rounds = 1;
      pages_per_shard = 10;
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--workers" && i + 1 < argc) {
      workers = std::atoi(argv[++i]);
    } else if (arg == "--shards" && i + 1 < argc) {
      shard_counts = {std::atoi(argv[++i])};
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--rounds N] [--workers W] [--shards N]\n", argv[0]);
      return 2;
    }
  }
  std::printf(
      "Driving the HTTP requests of many shards: a thread per shard against libcurl multi (1 loop thread, %d "
      "workers)\nloopback API, %d records a page, %lld ms a request, %d pages a shard; each page parsed and "
      "its "
      "position saved (checkpoint log, fdatasync)\n\n",
      workers, kPage, static_cast<long long>(absl::ToInt64Milliseconds(kLatency)), pages_per_shard);
  std::printf("%-8s %-10s %12s %9s %10s %8s %9s %11s   %s\n", "shards", "model", "rec/s", "CPU us/rec",
              "ctxsw/page", "threads", "RSS MB", "saves/group", "multi against threads, same round");
  for (int shards : shard_counts) {
    const uint64_t records = static_cast<uint64_t>(shards) * pages_per_shard * kPage;
    for (int round = 0; round < rounds; ++round) {
      bench::Server server = bench::StartServer(records, shards + 8);
      // Each goes first every other round.
      Result threads, multi;
      if (round % 2 == 0) {
        threads = RunClient(server.port, shards, 0);
        multi = RunClient(server.port, shards, workers);
      } else {
        multi = RunClient(server.port, shards, workers);
        threads = RunClient(server.port, shards, 0);
      }
      bench::StopServer(server);
      PrintRow("threads", shards, records, threads, nullptr);
      PrintRow("multi", shards, records, multi, &threads);
    }
  }
  return 0;
}
