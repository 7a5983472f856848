// run: the job under the engine, with a progress line, logs, metrics, and
// signals that stop it cleanly.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cli/cli.h"
#include "cli/metrics_server.h"
#include "json/json_writer.h"
#include "recovery/job_state.h"
#include "recovery/metrics.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery::cli {
namespace {

class ProgressLine {
 public:
  ProgressLine(bool tty, bool quiet) : tty_(tty), quiet_(quiet) {}

  void Update(const Progress& p) {
    if (quiet_) return;
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (!tty_ && now - last_ < absl::Seconds(10)) return;  // a periodic plain line
    if (tty_ && now - last_ < absl::Milliseconds(100) && p.window_fraction < 1) return;
    last_ = now;
    const std::string eta =
        p.eta == absl::InfiniteDuration() ? "?" : absl::FormatDuration(absl::Trunc(p.eta, absl::Seconds(1)));
    const std::string line = StrCat(
        absl::StrFormat("%5.1f%%", p.window_fraction * 100), " of the window  records ",
        p.totals.records_delivered,
        p.totals.records_already_present > 0 ? StrCat("  already present ", p.totals.records_already_present)
                                             : std::string(),
        "  pages ", p.totals.pages, "  ", absl::StrFormat("%.0f", p.records_per_second), " rec/s  ETA ", eta,
        "  retries ", p.totals.retries, "  dead letters ", p.totals.dead_letters, "  shards ", p.shards_done,
        "/", p.shards_total,
        p.concurrency_limit > 0 ? absl::StrFormat("  in flight <= %.0f", p.concurrency_limit) : std::string(),
        p.request_rate_limit > 0 ? absl::StrFormat("  rate <= %.1f/s", p.request_rate_limit) : std::string());
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s progress %s\n", FormatRfc3339(now).c_str(), line.c_str());
    }
    std::fflush(stderr);
  }

  // Call before printing anything else on a terminal.
  void Clear() {
    absl::MutexLock lock(&mu_);
    if (tty_ && shown_) std::fprintf(stderr, "\r\033[K");
  }
  void Finish() {
    absl::MutexLock lock(&mu_);
    if (tty_ && shown_) std::fprintf(stderr, "\n");
    shown_ = false;
  }

 private:
  const bool tty_, quiet_;
  absl::Mutex mu_;
  absl::Time last_ = absl::InfinitePast();
  bool shown_ = false;
};

LogCallback MakeLogger(const std::string& format, LogLevel min_level, ProgressLine* progress) {
  const bool json = format == "json";
  return [json, min_level, progress](const LogEvent& e) {
    if (e.level < min_level) return;
    std::string line;
    if (json) {
      JsonObjectWriter w(&line);
      w.Time("time", absl::Now()).Str("level", LogLevelName(e.level)).Str("message", e.message);
      w.Raw("fields", e.fields_json.empty() ? std::string_view("{}") : e.fields_json);
      w.Close();
    } else {
      line =
          StrCat(FormatRfc3339(absl::Now()), " ", LogLevelName(e.level), " ", e.message, " ", e.fields_json);
    }
    line.push_back('\n');
    progress->Clear();
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

std::atomic<Backfiller*> g_running{nullptr};

// Waits for SIGINT/SIGTERM on its own thread: the first stops after the
// current batch commits, a second exits at once (checkpoints are atomic).
void WatchSignals(const std::string& resume) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int count = 0;
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (++count == 1) {
      std::fprintf(stderr, "\nstopping after the current batch commits (again to exit at once)...\n");
      if (Backfiller* b = g_running.load()) b->Cancel();
    } else {
      std::fprintf(stderr, "\nexiting now; the checkpoints are safe. Resume with: %s\n", resume.c_str());
      std::_Exit(kExitInterrupted);
    }
  }
}

// The log level and format the flags ask for.
absl::Status ReadLogFlags(const Args& args, bool tty, LogLevel* level, std::string* format) {
  static const std::map<std::string, LogLevel> kLevels = {{"debug", LogLevel::kDebug},
                                                          {"info", LogLevel::kInfo},
                                                          {"warning", LogLevel::kWarning},
                                                          {"error", LogLevel::kError}};
  *level = tty && !args.flags.count("--quiet") ? LogLevel::kWarning : LogLevel::kInfo;
  if (auto it = args.flags.find("--log-level"); it != args.flags.end()) {
    auto l = kLevels.find(it->second);
    if (l == kLevels.end())
      return absl::InvalidArgumentError("--log-level: expected debug, info, warning or error");
    *level = l->second;
  }
  *format = "text";
  if (auto it = args.flags.find("--log-format"); it != args.flags.end()) {
    if (it->second != "text" && it->second != "json") {
      return absl::InvalidArgumentError("--log-format: expected text or json");
    }
    *format = it->second;
  }
  return absl::OkStatus();
}

// --limit: the canary's record limit, in place of the spec's max_records.
absl::Status ReadLimit(const Args& args, JobSpec* spec) {
  auto it = args.flags.find("--limit");
  if (it == args.flags.end()) return absl::OkStatus();
  int64_t n = 0;
  if (!absl::SimpleAtoi(it->second, &n) || n < 1) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("--limit: expected a whole number of records from 1, got \"", it->second, "\"")));
  }
  spec->max_records = n;
  return absl::OkStatus();
}

// --dry-run, --concurrency and --shard (ids, or a slice I/N).
absl::Status ReadRunFlags(const Args& args, BackfillerOptions* options) {
  options->dry_run = args.flags.count("--dry-run") > 0;
  if (auto it = args.flags.find("--concurrency"); it != args.flags.end()) {
    options->concurrency = std::atoi(it->second.c_str());
    if (options->concurrency < 1 || options->concurrency > 1024) {
      return absl::InvalidArgumentError("--concurrency: expected 1 to 1024");
    }
  }
  auto it = args.flags.find("--shard");
  if (it == args.flags.end()) return absl::OkStatus();
  const size_t slash = it->second.find('/');
  if (slash == std::string::npos) {
    options->shard_ids =
        absl::StrSplit(it->second, ',', absl::SkipEmpty());  // shard ids, as `plan` lists them
    return absl::OkStatus();
  }
  const int slice = std::atoi(it->second.substr(0, slash).c_str());
  const int slices = std::atoi(it->second.substr(slash + 1).c_str());
  if (slices < 1 || slice < 1 || slice > slices) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("--shard: expected I/N with 1 <= I <= N, got \"", it->second, "\"")));
  }
  options->slice = slice;
  options->slices = slices;
  return absl::OkStatus();
}

// --metrics-listen and --metrics-file: /metrics, /status and /ready
// endpoints, and a file rewritten atomically every 5 s and once more at the
// end.
class MetricsOutputs {
 public:
  MetricsOutputs(Metrics* metrics, ProgressLine* progress, std::string job)
      : metrics_(metrics), progress_(progress), job_(std::move(job)) {}
  ~MetricsOutputs() { Stop(); }

  // The job the endpoints describe, once it exists (until then /status is 503).
  void Serve(Backfiller* backfiller) { backfiller_.store(backfiller); }
  // What /ready says: the run has opened its sink and loaded its checkpoints.
  void SetReady(bool ready) { ready_.store(ready); }

  absl::Status Start(const Args& args) {
    if (auto it = args.flags.find("--metrics-listen"); it != args.flags.end()) {
      MetricsServer::Routes routes;
      routes["/metrics"] = [this] {
        return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", metrics_->RenderPrometheus()};
      };
      routes["/ready"] = [this] {
        return ready_.load() ? HttpAnswer{200, "text/plain; charset=utf-8", "ready\n"}
                             : HttpAnswer{503, "text/plain; charset=utf-8", "not ready\n"};
      };
      routes["/status"] = [this] { return StatusAnswer(); };
      auto started = MetricsServer::Start(it->second, std::move(routes));
      if (!started.ok()) return started.status();
      server_ = *std::move(started);
      progress_->Clear();
      std::fprintf(stderr, "metrics at http://%s/metrics (and /status, /ready)\n",
                   StrCat(it->second.substr(0, it->second.rfind(':')), ":", server_->port()).c_str());
    }
    if (auto it = args.flags.find("--metrics-file"); it != args.flags.end()) {
      file_ = it->second;
      writer_ = std::thread([this] {
        while (!done_.WaitForNotificationWithTimeout(absl::Seconds(5))) Write();
      });
    }
    return absl::OkStatus();
  }

  void Stop() {
    if (!done_.HasBeenNotified()) done_.Notify();
    if (writer_.joinable()) {
      writer_.join();
      Write();
    }
  }

 private:
  void Write() {
    absl::Status s = WriteFileAtomically(file_, metrics_->RenderPrometheus());
    if (s.ok()) return;
    progress_->Clear();
    std::fprintf(stderr, "warning: %s\n", std::string(ToStd(s.message())).c_str());
  }

  // The document `recovery status --json` prints, read from the running job's checkpoints.
  HttpAnswer StatusAnswer() const {
    Backfiller* b = backfiller_.load();
    if (b == nullptr) return {503, "text/plain; charset=utf-8", "the job is not created yet\n"};
    absl::StatusOr<std::vector<ShardReport>> reports = b->Status();
    if (!reports.ok()) {
      return {503, "text/plain; charset=utf-8", StrCat(ToStd(reports.status().message()), "\n")};
    }
    return {200, "application/json", StrCat(StatusJson(job_, *reports), "\n")};
  }

  Metrics* const metrics_;
  ProgressLine* const progress_;
  const std::string job_;  // its name, for /status
  std::atomic<Backfiller*> backfiller_{nullptr};
  std::atomic<bool> ready_{false};
  std::unique_ptr<MetricsServer> server_;
  std::string file_;
  absl::Notification done_;
  std::thread writer_;
};

// recovery replay: --reason and --since.
absl::Status ReadReplayFlags(const Args& args, BackfillerOptions* options) {
  if (args.command != "replay") {
    for (const char* flag : {"--reason", "--since"}) {
      if (args.flags.count(flag))
        return absl::InvalidArgumentError(StrCat(flag, ": only for recovery replay"));
    }
    return absl::OkStatus();
  }
  if (options->dry_run || options->slices > 1 || !options->shard_ids.empty())
    return absl::InvalidArgumentError("recovery replay: --dry-run and --shard are for recovery run");
  ReplayOptions& replay = options->replay.emplace();
  if (auto it = args.flags.find("--reason"); it != args.flags.end()) replay.reason = it->second;
  if (auto it = args.flags.find("--since"); it != args.flags.end()) {
    std::optional<absl::Time> since = ParseRfc3339(it->second);
    if (!since) {
      return absl::InvalidArgumentError(StrCat(
          "--since: expected an RFC 3339 time such as 2026-11-02T00:00:00Z, got \"", it->second, "\""));
    }
    replay.since = *since;
  }
  return absl::OkStatus();
}

// What a replay made of the letters it took, over every run of it.
void SummarizeReplay(const RunResult& r) {
  for (const ShardReport& s : r.shards) {
    const ShardCounters& c = s.checkpoint.counters;
    std::fprintf(stderr,
                 "%s: %llu letters delivered, %llu already present, %llu dropped by the mapping, %llu out of "
                 "the window, %llu failed again (kept in the dead letters with their new reason)\n",
                 s.shard.id.c_str(), static_cast<unsigned long long>(c.records_delivered),
                 static_cast<unsigned long long>(c.records_already_present),
                 static_cast<unsigned long long>(c.records_dropped),
                 static_cast<unsigned long long>(c.records_out_of_window),
                 static_cast<unsigned long long>(c.dead_letters));
  }
}

// The closing lines: what happened, and how to go on.
int Summarize(const Args& args, const RunResult& r) {
  if (args.command == "replay") SummarizeReplay(r);
  const Progress& p = r.progress;
  std::fprintf(stderr,
               "%s: %llu records delivered this run (%llu in all), %llu dead letters, %d/%d shards done\n",
               OutcomeLabel(r.outcome), static_cast<unsigned long long>(p.records_this_run),
               static_cast<unsigned long long>(p.totals.records_delivered),
               static_cast<unsigned long long>(p.totals.dead_letters), p.shards_done, p.shards_total);
  if (p.totals.records_already_present > 0) {
    std::fprintf(stderr, "%llu records already present in the sink were not delivered again\n",
                 static_cast<unsigned long long>(p.totals.records_already_present));
  }
  int leased_elsewhere = 0;
  for (const ShardReport& s : r.shards) {
    if (!s.total_mismatch.empty()) std::fprintf(stderr, "warning: %s\n", s.total_mismatch.c_str());
    leased_elsewhere += s.leased_elsewhere;
  }
  if (leased_elsewhere > 0) {
    std::fprintf(stderr, "%d shard%s leased by another worker: `recovery status` shows by whom\n",
                 leased_elsewhere, leased_elsewhere == 1 ? " is" : "s are");
  }
  if (r.outcome == RunOutcome::kDone) return kExitDone;
  if (!r.status.ok()) std::fprintf(stderr, "%s\n", std::string(ToStd(r.status.message())).c_str());
  std::fprintf(stderr, "resume with: %s\n", ResumeCommand(args).c_str());
  return ExitCode(r.outcome);
}

}  // namespace

int RunCommand(const Args& args) {
  // Signals go to the watcher thread only: blocked before any thread exists,
  // so every thread started from here on inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  const bool tty = isatty(STDERR_FILENO);
  LogLevel level;
  std::string format;
  BackfillerOptions options;
  if (absl::Status s = ReadLogFlags(args, tty, &level, &format); !s.ok()) return BadSpec(s);
  if (absl::Status s = ReadRunFlags(args, &options); !s.ok()) return BadSpec(s);
  if (absl::Status s = ReadLimit(args, &*spec); !s.ok()) return BadSpec(s);
  if (absl::Status s = ReadReplayFlags(args, &options); !s.ok()) return BadSpec(s);
  ProgressLine progress(tty, args.flags.count("--quiet") > 0);
  options.on_log = MakeLogger(format, level, &progress);
  options.on_progress = [&progress](const Progress& p) { progress.Update(p); };
  Metrics metrics;
  options.metrics = &metrics;
  MetricsOutputs outputs(&metrics, &progress, spec->name);
  options.on_ready = [&outputs](bool ready) { outputs.SetReady(ready); };
  if (absl::Status s = outputs.Start(args); !s.ok()) return BadSpec(s);

  auto backfiller = Backfiller::Create(*spec, {}, options);
  if (!backfiller.ok()) return BadSpec(backfiller.status());
  outputs.Serve(backfiller->get());
  std::thread(WatchSignals, ResumeCommand(args)).detach();
  g_running.store(backfiller->get());
  RunResult r = (*backfiller)->Run();
  g_running.store(nullptr);
  outputs.Stop();
  outputs.Serve(nullptr);
  progress.Finish();
  return Summarize(args, r);
}

}  // namespace recovery::cli
