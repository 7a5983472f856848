// The demo: a vendor's real-time transaction feed went silent for four days.
// Its REST API still has the transactions, 100 per page, behind a bearer
// token, and it is flaky (some 500s, some 429s with Retry-After). Recover the
// gap into the integration's inbox file, get interrupted part-way (as Ctrl-C
// would), resume from the checkpoints, and prove the result complete.
//
//   recovery_demo [WORK_DIR]      (default ./demo-run; Ctrl-C stops cleanly)
//
// The "vendor" is a simulated API started in this process on a loopback port.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "recovery/backfiller.h"
#include "testing/simulated_api.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace {

constexpr int kDays = 4;
constexpr int kRecords = kDays * 86400 / 10;  // one transaction every 10 s

std::atomic<recovery::Backfiller*> g_running{nullptr};

void OnSignal(int) {
  if (recovery::Backfiller* b = g_running.load()) b->Cancel();
}

std::string JobJson(const std::string& api, absl::Time start) {
  return recovery::StrCat(R"({
  "name": "vendor-gap-demo",
  "description": "transactions missing from the vendor queue for four days",
  "window": {"start": ")",
                          recovery::FormatRfc3339(start), R"(", "end": ")",
                          recovery::FormatRfc3339(start + absl::Hours(24 * kDays)), R"("},
  "shard_duration": "1d",
  "concurrency": 4,
  "retry": {"initial_backoff": "100ms", "max_backoff": "5s", "max_attempts": 10},
  "source": {
    "type": "http",
    "url": ")",
                          api, R"(/v1/keyset",
    "query": {"from": "{start}", "to": "{end}", "limit": "{limit}",
              "after_time": "{after_time}", "after_id": "{after_id}"},
    "auth": {"type": "bearer", "token_env": "DEMO_VENDOR_TOKEN"},
    "records": "/data",
    "page_size": 100,
    "pagination": {"type": "keyset", "time": "/created_at", "id": "/id"},
    "rate_limit": {"requests_per_second": 200, "burst": 20, "max_wait": "5m"}
  },
  "mapper": {"type": "json",
    "fields": [
      {"name": "transaction_id", "from": "/id", "required": true},
      {"name": "occurred_at", "from": "/created_at", "type": "timestamp", "required": true},
      {"name": "amount", "from": "/amount/value", "type": "decimal", "required": true},
      {"name": "currency", "from": "/amount/currency", "default": "EUR"},
      {"name": "loyalty_number", "from": "/customer/loyalty_number", "required": true},
      {"name": "points", "from": "/points/earned", "type": "int64", "default": 0},
      {"name": "source", "const": "gap-recovery"}],
    "key": {"from": "/id"},
    "event_time": {"from": "/created_at"}},
  "sink": {"type": "jsonl_file", "path": "integration-inbox.jsonl"},
  "checkpoint": {"type": "file", "dir": "state"},
  "error_budget": {"max_count": 10}
})");
}

void DrawProgress(const recovery::Progress& p, bool tty) {
  static int last_decile = -1;
  const int decile = static_cast<int>(p.window_fraction * 10);
  if (!tty && decile == last_decile) return;
  last_decile = decile;
  char bar[31];
  const int filled = static_cast<int>(p.window_fraction * 30);
  for (int i = 0; i < 30; ++i) bar[i] = i < filled ? '#' : '.';
  bar[30] = 0;
  const std::string eta =
      p.eta == absl::InfiniteDuration() ? "?" : absl::FormatDuration(absl::Trunc(p.eta, absl::Seconds(1)));
  std::printf("%s[%s] %5.1f%%  delivered %6llu  pages %4llu  retries %3llu  %6.0f rec/s  ETA %-6s%s",
              tty ? "\r" : "   ", bar, p.window_fraction * 100,
              static_cast<unsigned long long>(p.totals.records_delivered),
              static_cast<unsigned long long>(p.totals.pages),
              static_cast<unsigned long long>(p.totals.retries), p.records_per_second, eta.c_str(),
              tty ? "" : "\n");
  std::fflush(stdout);
}

// One run; `interrupt_at` > 0 cancels once that fraction of the window is covered.
recovery::RunResult RunOnce(const std::string& job_path, double interrupt_at) {
  const bool tty = isatty(STDOUT_FILENO);
  auto spec = recovery::JobSpec::FromFile(job_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    std::exit(2);
  }
  recovery::Backfiller* self = nullptr;
  recovery::BackfillerOptions options;
  options.on_progress = [&](const recovery::Progress& p) {
    DrawProgress(p, tty);
    if (interrupt_at > 0 && p.window_fraction >= interrupt_at) self->Cancel();
  };
  options.on_log = [](const recovery::LogEvent& e) {  // only what an operator must see
    if (e.level >= recovery::LogLevel::kWarning && e.message != "transient failure, retrying") {
      std::fprintf(stderr, "\n%s: %s %s\n", std::string(recovery::LogLevelName(e.level)).c_str(),
                   std::string(e.message).c_str(), std::string(e.fields_json).c_str());
    }
  };
  auto backfiller = recovery::Backfiller::Create(*spec, {}, options);
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    std::exit(2);
  }
  self = backfiller->get();
  g_running.store(self);
  recovery::RunResult result = self->Run();
  g_running.store(nullptr);
  if (tty) std::printf("\n");
  return result;
}

void PrintShards(const recovery::RunResult& r) {
  for (const recovery::ShardReport& s : r.shards) {
    std::printf("   shard %s  %-7s  delivered %5llu  resume after %s\n", s.shard.id.c_str(),
                std::string(recovery::ShardStateName(s.state)).c_str(),
                static_cast<unsigned long long>(s.checkpoint.counters.records_delivered),
                s.checkpoint.cursor.empty() ? "(start)" : s.checkpoint.cursor.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "demo-run";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  const absl::Time start = absl::FromCivil(absl::CivilDay(2026, 11, 14), absl::UTCTimeZone());
  recovery::testing::SimulatedApiOptions api_options;
  api_options.start = start;
  api_options.end = start + absl::Hours(24 * kDays);
  api_options.records = kRecords;
  api_options.max_page_size = 100;
  api_options.bearer_token = "demo-token-4f9a2c";
  api_options.p500 = 0.03;
  api_options.p429 = 0.02;
  api_options.retry_after_seconds = 1;
  api_options.latency = absl::Milliseconds(5);
  recovery::testing::SimulatedApi api(api_options);
  setenv("DEMO_VENDOR_TOKEN", api_options.bearer_token.c_str(), 1);
  std::ofstream(dir + "/job.json") << JobJson(api.base_url(), start);

  std::printf("== The vendor queue was silent from %s to %s: %d transactions are missing.\n",
              recovery::FormatRfc3339(start).c_str(),
              recovery::FormatRfc3339(start + absl::Hours(24 * kDays)).c_str(), kRecords);
  std::printf("== Its API (simulated at %s) pages them 100 at a time, with random 500s and 429s.\n",
              api.base_url().c_str());
  std::printf("== Job: %s/job.json (token from $DEMO_VENDOR_TOKEN, never logged)\n\n", dir.c_str());

  std::printf(
      "== Run 1: recovering into %s/integration-inbox.jsonl (interrupted at ~40%%, as Ctrl-C would)\n",
      dir.c_str());
  recovery::RunResult first = RunOnce(dir + "/job.json", 0.4);
  std::printf("   stopped: %s\n", first.status.ToString().c_str());
  PrintShards(first);

  std::printf("\n== Run 2: the same job again resumes from the checkpoints\n");
  recovery::RunResult second = RunOnce(dir + "/job.json", 0);
  if (!second.complete) {
    std::printf("   not complete: %s (run the demo again to resume)\n", second.status.ToString().c_str());
    return second.status.code() == absl::StatusCode::kCancelled ? 130 : 1;
  }
  PrintShards(second);

  // Proof of completeness: every transaction of the gap, exactly once.
  std::ifstream inbox(dir + "/integration-inbox.jsonl");
  std::set<std::string> ids;
  size_t lines = 0;
  for (std::string line; std::getline(inbox, line); ++lines) {
    const size_t at = line.find("\"transaction_id\":\"") + 18;
    ids.insert(line.substr(at, line.find('"', at) - at));
  }
  const std::vector<std::string> expected = api.Ids(start, start + absl::Hours(24 * kDays));
  const std::set<std::string> expected_set(expected.begin(), expected.end());
  const size_t duplicates = lines - ids.size();
  const bool complete = ids == expected_set && duplicates == 0;
  int throttled = 0, failed = 0;
  for (const auto& r : api.requests()) {
    throttled += r.status == 429;
    failed += r.status == 500;
  }
  std::printf(
      "\n== Summary\n   records expected   %zu\n   records delivered  %zu\n   duplicates         %zu\n"
      "   requests           %zu (%d answered 500, %d answered 429: all retried)\n"
      "   dead letters       %llu\n   => %s\n",
      expected.size(), ids.size(), duplicates, api.requests().size(), failed, throttled,
      static_cast<unsigned long long>(second.progress.totals.dead_letters),
      complete ? "COMPLETE: the gap is closed" : "INCOMPLETE");
  return complete ? 0 : 1;
}
