// The demo: the vendor's real-time feed went silent for four days; its
// JSON-lines export holds the missing transactions. Recover them into the
// integration's inbox file, get interrupted part-way (as a crash or Ctrl-C
// would), resume from the checkpoints, and prove the result complete.
//
//   recovery_demo [WORK_DIR]      (default ./demo-run; Ctrl-C stops cleanly)
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "recovery/backfiller.h"

namespace {

constexpr int kDays = 4;
constexpr int kEverySeconds = 10;  // one transaction every 10 s: 34,560 records
constexpr int kBadRecords = 3;     // a vendor export always has a few

std::atomic<recovery::Backfiller*> g_running{nullptr};

void OnSignal(int) {
  if (recovery::Backfiller* b = g_running.load()) b->Cancel();
}

std::string Rfc3339(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

// Writes the vendor export; returns how many good records it holds.
int WriteExport(const std::string& path, absl::Time start) {
  std::ofstream out(path, std::ios::trunc);
  std::mt19937 rng(42);
  const int total = kDays * 86400 / kEverySeconds;
  for (int i = 0; i < total; ++i) {
    const std::string ts = Rfc3339(start + absl::Seconds(i * kEverySeconds));
    char line[640];
    std::snprintf(
        line, sizeof line,
        R"({"id":"txn-%07d","created_at":"%s","status":"settled","amount":{"value":%u.%02u,"currency":"EUR"},)"
        R"("customer":{"id":"cust-%05u","loyalty_number":"LN%09u"},"merchant":{"id":"m-%03u","name":"Store %u"},)"
        R"("points":{"earned":%u,"tier":"gold"},"channel":"pos"})",
        i, ts.c_str(), 5 + rng() % 200, rng() % 100, rng() % 50000, rng() % 1000000000, rng() % 400,
        rng() % 400, rng() % 500);
    out << line << '\n';
    if (i % (total / kBadRecords) == total / (2 * kBadRecords)) {
      out << R"({"id":"txn-broken","created_at":"not a time","amount":{"value":"oops"}})" << '\n';
    }
  }
  return total;
}

std::string JobJson(absl::Time start) {
  return R"({
  "name": "vendor-gap-demo",
  "description": "transactions missing from the vendor queue for four days",
  "window": {"start": ")" +
         Rfc3339(start) + R"(", "end": ")" + Rfc3339(start + absl::Hours(24 * kDays)) + R"("},
  "shard_duration": "1d",
  "concurrency": 4,
  "source": {"type": "jsonl_file", "path": "vendor-export.jsonl", "batch_size": 100},
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
})";
}

void DrawProgress(const recovery::Progress& p, bool tty) {
  static int last_percent = -1;
  const int percent = static_cast<int>(p.window_fraction * 100);
  if (!tty && percent / 10 == last_percent / 10) return;
  last_percent = percent;
  char bar[31];
  const int filled = static_cast<int>(p.window_fraction * 30);
  for (int i = 0; i < 30; ++i) bar[i] = i < filled ? '#' : '.';
  bar[30] = 0;
  const std::string eta =
      p.eta == absl::InfiniteDuration() ? "?" : absl::FormatDuration(absl::Trunc(p.eta, absl::Seconds(1)));
  std::fprintf(
      stdout, "%s[%s] %5.1f%%  delivered %7llu  pages %5llu  dead letters %llu  %7.0f rec/s  ETA %s   %s",
      tty ? "\r" : "", bar, p.window_fraction * 100,
      static_cast<unsigned long long>(p.totals.records_delivered),
      static_cast<unsigned long long>(p.totals.pages), static_cast<unsigned long long>(p.totals.dead_letters),
      p.records_per_second, eta.c_str(), tty ? "" : "\n");
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
  auto backfiller = recovery::Backfiller::Create(*spec, {}, options);
  if (!backfiller.ok()) {
    std::fprintf(stderr, "%s\n", backfiller.status().ToString().c_str());
    std::exit(2);
  }
  self = backfiller->get();
  g_running.store(self);
  recovery::RunResult result = self->Run();
  g_running.store(nullptr);
  if (tty) std::fprintf(stdout, "\n");
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "demo-run";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  const absl::Time start = absl::FromCivil(absl::CivilDay(2026, 11, 14), absl::UTCTimeZone());
  std::printf("== The vendor feed was silent from %s to %s.\n", Rfc3339(start).c_str(),
              Rfc3339(start + absl::Hours(24 * kDays)).c_str());
  const int expected = WriteExport(dir + "/vendor-export.jsonl", start);
  std::ofstream(dir + "/job.json") << JobJson(start);
  std::printf("== Export: %d transactions (+%d malformed) in %s/vendor-export.jsonl; job: %s/job.json\n\n",
              expected, kBadRecords, dir.c_str(), dir.c_str());

  std::printf(
      "== Run 1: recovering into %s/integration-inbox.jsonl (interrupted at ~40%%, as Ctrl-C would)\n",
      dir.c_str());
  recovery::RunResult first = RunOnce(dir + "/job.json", 0.4);
  std::printf("   stopped: %s\n", first.status.ToString().c_str());
  for (const recovery::ShardReport& s : first.shards) {
    std::printf("   shard %s  %-7s  delivered %6llu  resume at cursor \"%s\"\n", s.shard.id.c_str(),
                std::string(recovery::ShardStateName(s.state)).c_str(),
                static_cast<unsigned long long>(s.checkpoint.counters.records_delivered),
                s.checkpoint.cursor.c_str());
  }

  std::printf("\n== Run 2: the same command again resumes from the checkpoints\n");
  recovery::RunResult second = RunOnce(dir + "/job.json", 0);
  if (!second.status.ok() && second.status.code() != absl::StatusCode::kCancelled) {
    std::printf("   failed: %s\n", second.status.ToString().c_str());
    return 1;
  }
  if (!second.complete) {
    std::printf("   interrupted: run the demo's second step again to resume (%s)\n",
                second.status.ToString().c_str());
    return 130;
  }

  // Proof of completeness: every transaction of the gap exactly once.
  std::ifstream inbox(dir + "/integration-inbox.jsonl");
  std::set<std::string> ids;
  size_t lines = 0;
  for (std::string line; std::getline(inbox, line); ++lines) {
    const size_t at = line.find("\"transaction_id\":\"") + 18;
    ids.insert(line.substr(at, line.find('"', at) - at));
  }
  const size_t duplicates = lines - ids.size();
  const bool complete = static_cast<int>(ids.size()) == expected && duplicates == 0;
  std::printf(
      "\n== Summary\n   records expected   %d\n   records delivered  %zu\n   duplicates         %zu\n"
      "   dead letters       %llu (reasons in %s/state/vendor-gap-demo/dead_letters.jsonl)\n"
      "   window covered     %.0f%%\n   => %s\n",
      expected, ids.size(), duplicates, static_cast<unsigned long long>(second.progress.totals.dead_letters),
      dir.c_str(), second.progress.window_fraction * 100,
      complete ? "COMPLETE: the gap is closed" : "INCOMPLETE");
  return complete ? 0 : 1;
}
