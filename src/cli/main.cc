// The `recovery` command-line tool: one JSON job file, one command.
//
//   recovery run JOB.json [--dry-run] [--concurrency N] [--log-format text|json]
//                         [--log-level debug|info|warning|error] [--quiet]
//   recovery validate JOB.json
//   recovery plan JOB.json
//   recovery status JOB.json
//   recovery reset JOB.json [--shard ID] [--yes]
//
// Exit codes: 0 done · 1 failed · 2 bad usage or job spec · 3 interrupted
// (resumable) · 4 paused by the source's quota (resumable).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cli/metrics_server.h"
#include "json/json_writer.h"
#include "recovery/backfiller.h"
#include "recovery/metrics.h"
#include "recovery/status.h"
#include "recovery/version.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr int kExitDone = 0, kExitFailed = 1, kExitUsage = 2, kExitInterrupted = 3, kExitPaused = 4;

// The exit code of a run that ended so.
int ExitCode(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::kDone:
      return kExitDone;
    case RunOutcome::kIncomplete:
    case RunOutcome::kInterrupted:
    case RunOutcome::kLeased:
      return kExitInterrupted;
    case RunOutcome::kPaused:
      return kExitPaused;
    case RunOutcome::kLeaseLost:
    case RunOutcome::kFailed:
      return kExitFailed;
  }
  return kExitFailed;
}

// The summary line's first word: the resumable ends that are not a pause
// read as "interrupted", as the exit code says.
const char* OutcomeLabel(RunOutcome outcome) {
  switch (ExitCode(outcome)) {
    case kExitDone:
      return "done";
    case kExitPaused:
      return "paused";
    case kExitInterrupted:
      return "interrupted";
    default:
      return "failed";
  }
}

constexpr char kUsage[] = R"(recovery — recover a gap of missing data, exactly once and resumably

usage: recovery <command> JOB.json [flags]

commands:
  run        run the job, or resume it from its checkpoints
               --dry-run              fetch and map, write nothing
               --shard ID[,ID...]     run only these shards (ids as `plan` lists them), e.g.
                                      one per task of a task queue
               --shard I/N            run only the I-th of N slices of the plan (I from 1),
                                      so N hosts or processes can split the job
               --concurrency N        shards at once (overrides the spec)
               --log-format text|json (default text)
               --log-level L          debug, info, warning, error (default: warning on a
                                      terminal, where a progress line shows; info otherwise)
               --quiet                no progress line or status lines
               --metrics-file PATH    Prometheus metrics, rewritten atomically every 5 s
                                      (for node_exporter's textfile collector)
               --metrics-listen H:P   serve them at http://H:P/metrics (e.g. 127.0.0.1:9464)
  validate   check the job spec and print every error with its JSON path
  plan       list the shards, their windows and what is already done
  status     per shard: state, records, pages, cursor, last error; how to resume
  verify     coverage report: delivered records per time bucket across the window,
             empty and thin buckets flagged, totals compared with what the source
             reported; exits 1 on a hole
               --bucket D             bucket width, whole hours (default 1h)
               --thin F               flag buckets under F x the median (default 0.1)
  reset      forget checkpoints so the next run starts over
               --shard ID             only this shard
               --yes                  do not ask for confirmation

exit codes: 0 done, 1 failed, 2 bad usage or job spec, 3 interrupted (resumable),
            4 paused by the source's quota (resumable)
)";

struct Args {
  std::string command;
  std::string job_path;
  std::map<std::string, std::string> flags;  // "--concurrency" -> "4"; switches -> ""
};

bool ParseArgs(int argc, char** argv, Args* args, std::string* error) {
  static const std::map<std::string, bool> kTakesValue = {
      {"--dry-run", false},     {"--concurrency", true},    {"--log-format", true}, {"--log-level", true},
      {"--quiet", false},       {"--shard", true},          {"--yes", false},       {"--help", false},
      {"--metrics-file", true}, {"--metrics-listen", true}, {"--bucket", true},     {"--thin", true}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      std::string value;
      const size_t eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
      auto known = kTakesValue.find(a);
      if (known == kTakesValue.end()) {
        *error = StrCat("unknown flag ", a);
        return false;
      }
      if (known->second && eq == std::string::npos) {
        if (i + 1 >= argc) {
          *error = StrCat(a, " needs a value");
          return false;
        }
        value = argv[++i];
      }
      args->flags[a] = value;
    } else if (args->command.empty()) {
      args->command = a;
    } else if (args->job_path.empty()) {
      args->job_path = a;
    } else {
      *error = StrCat("unexpected argument \"", a, "\"");
      return false;
    }
  }
  return true;
}

absl::StatusOr<JobSpec> LoadSpec(const std::string& path) { return JobSpec::FromFile(path); }

int BadSpec(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", std::string(ToStd(s.message())).c_str());
  return kExitUsage;
}

std::string Shell(const std::string& s) {  // quoted for a copy-and-paste command line
  if (s.find_first_of(" '\"$`\\") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ResumeCommand(const Args& args) {
  auto slice = args.flags.find("--shard");
  return StrCat("recovery run ", Shell(args.job_path),
                slice != args.flags.end() && args.command == "run" ? StrCat(" --shard ", slice->second) : "");
}

// ---- run -----------------------------------------------------------------

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
    const std::string line = StrCat(absl::StrFormat("%5.1f%%", p.window_fraction * 100),
                                    " of the window  records ", p.totals.records_delivered, "  pages ",
                                    p.totals.pages, "  ", absl::StrFormat("%.0f", p.records_per_second),
                                    " rec/s  ETA ", eta, "  retries ", p.totals.retries, "  dead letters ",
                                    p.totals.dead_letters, "  shards ", p.shards_done, "/", p.shards_total);
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

int Run(const Args& args) {
  // Signals go to the watcher thread only: blocked before any thread exists,
  // so every thread started from here on inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  absl::StatusOr<JobSpec> spec = LoadSpec(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  const bool tty = isatty(STDERR_FILENO);
  const bool quiet = args.flags.count("--quiet") > 0;
  static const std::map<std::string, LogLevel> kLevels = {{"debug", LogLevel::kDebug},
                                                          {"info", LogLevel::kInfo},
                                                          {"warning", LogLevel::kWarning},
                                                          {"error", LogLevel::kError}};
  LogLevel level = tty && !quiet ? LogLevel::kWarning : LogLevel::kInfo;
  if (auto it = args.flags.find("--log-level"); it != args.flags.end()) {
    auto l = kLevels.find(it->second);
    if (l == kLevels.end())
      return BadSpec(absl::InvalidArgumentError("--log-level: expected debug, info, warning or error"));
    level = l->second;
  }
  std::string format = "text";
  if (auto it = args.flags.find("--log-format"); it != args.flags.end()) {
    if (it->second != "text" && it->second != "json") {
      return BadSpec(absl::InvalidArgumentError("--log-format: expected text or json"));
    }
    format = it->second;
  }
  BackfillerOptions options;
  options.dry_run = args.flags.count("--dry-run") > 0;
  if (auto it = args.flags.find("--concurrency"); it != args.flags.end()) {
    options.concurrency = std::atoi(it->second.c_str());
    if (options.concurrency < 1 || options.concurrency > 1024) {
      return BadSpec(absl::InvalidArgumentError("--concurrency: expected 1 to 1024"));
    }
  }
  if (auto it = args.flags.find("--shard");
      it != args.flags.end() && it->second.find('/') == std::string::npos) {
    options.shard_ids =
        absl::StrSplit(it->second, ',', absl::SkipEmpty());  // shard ids, as `plan` lists them
  } else if (it != args.flags.end()) {
    const size_t slash = it->second.find('/');
    const int slice = std::atoi(it->second.substr(0, slash).c_str());
    const int slices = slash == std::string::npos ? 0 : std::atoi(it->second.substr(slash + 1).c_str());
    if (slash == std::string::npos || slices < 1 || slice < 1 || slice > slices) {
      return BadSpec(absl::InvalidArgumentError(
          ToAbsl(StrCat("--shard: expected I/N with 1 <= I <= N, got \"", it->second, "\""))));
    }
    options.slice = slice;
    options.slices = slices;
  }
  ProgressLine progress(tty, quiet);
  options.on_log = MakeLogger(format, level, &progress);
  Metrics metrics;
  options.metrics = &metrics;
  std::unique_ptr<MetricsServer> server;
  if (auto it = args.flags.find("--metrics-listen"); it != args.flags.end()) {
    auto started = MetricsServer::Start(it->second, [&metrics] { return metrics.RenderPrometheus(); });
    if (!started.ok()) return BadSpec(started.status());
    server = *std::move(started);
    progress.Clear();
    std::fprintf(stderr, "metrics at http://%s/metrics\n",
                 StrCat(it->second.substr(0, it->second.rfind(':')), ":", server->port()).c_str());
  }
  const std::string metrics_file = args.flags.count("--metrics-file") ? args.flags.at("--metrics-file") : "";
  absl::Notification run_done;
  std::thread metrics_writer;
  auto write_metrics = [&] {
    if (metrics_file.empty()) return;
    absl::Status s = WriteFileAtomically(metrics_file, metrics.RenderPrometheus());
    if (!s.ok()) {
      progress.Clear();
      std::fprintf(stderr, "warning: %s\n", std::string(ToStd(s.message())).c_str());
    }
  };
  if (!metrics_file.empty()) {
    metrics_writer = std::thread([&] {
      while (!run_done.WaitForNotificationWithTimeout(absl::Seconds(5))) write_metrics();
    });
  }
  options.on_progress = [&progress](const Progress& p) { progress.Update(p); };

  auto backfiller = Backfiller::Create(*spec, {}, options);
  if (!backfiller.ok()) return BadSpec(backfiller.status());

  std::thread(WatchSignals, ResumeCommand(args)).detach();
  g_running.store(backfiller->get());
  RunResult r = (*backfiller)->Run();
  g_running.store(nullptr);
  run_done.Notify();
  if (metrics_writer.joinable()) metrics_writer.join();
  write_metrics();
  progress.Finish();

  const Progress& p = r.progress;
  std::fprintf(stderr,
               "%s: %llu records delivered this run (%llu in all), %llu dead letters, %d/%d shards done\n",
               OutcomeLabel(r.outcome),
               static_cast<unsigned long long>(p.records_this_run),
               static_cast<unsigned long long>(p.totals.records_delivered),
               static_cast<unsigned long long>(p.totals.dead_letters), p.shards_done, p.shards_total);
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

// ---- validate, plan, status, reset ---------------------------------------

int Validate(const Args& args) {
  absl::StatusOr<std::string> text = [&]() -> absl::StatusOr<std::string> {
    FILE* f = std::fopen(args.job_path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(ToAbsl(StrCat("cannot open ", args.job_path)));
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }();
  if (!text.ok()) return BadSpec(text.status());
  std::vector<std::string> errors = ValidateJobSpec(*text);
  if (errors.empty()) {
    std::printf("%s: valid\n", args.job_path.c_str());
    return kExitDone;
  }
  for (const std::string& e : errors) std::printf("%s: %s\n", args.job_path.c_str(), e.c_str());
  std::printf("%zu error%s\n", errors.size(), errors.size() == 1 ? "" : "s");
  return kExitUsage;
}

// The job's stored state: needs no secret and makes no request.
absl::StatusOr<std::unique_ptr<JobState>> Open(const Args& args) {
  absl::StatusOr<JobSpec> spec = LoadSpec(args.job_path);
  if (!spec.ok()) return spec.status();
  return JobState::Open(*spec);
}

std::string Ellipsis(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

int Plan(const Args& args) {
  auto b = Open(args);
  if (!b.ok()) return BadSpec(b.status());
  auto reports = (*b)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  std::printf("%-36s %-22s %-22s %-8s %12s\n", "SHARD", "START", "END", "STATE", "RECORDS");
  for (const ShardReport& r : *reports) {
    std::printf("%-36s %-22s %-22s %-8s %12llu\n", r.shard.id.c_str(), FormatRfc3339(r.shard.start).c_str(),
                IsOpenEnded(r.shard) ? "(follow)" : FormatRfc3339(r.shard.end).c_str(),
                std::string(ShardStateName(r.state)).c_str(),
                static_cast<unsigned long long>(r.checkpoint.counters.records_delivered));
  }
  return kExitDone;
}

int Status(const Args& args) {
  auto b = Open(args);
  if (!b.ok()) return BadSpec(b.status());
  auto reports = (*b)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  int not_done = 0;
  ShardCounters totals;
  std::printf("%-36s %-8s %10s %7s %7s  %s\n", "SHARD", "STATE", "RECORDS", "PAGES", "DEAD",
              "CURSOR / LAST ERROR");
  for (const ShardReport& r : *reports) {
    totals += r.checkpoint.counters;
    not_done += r.state != ShardState::kDone;
    std::string detail = r.checkpoint.last_error.empty()
                             ? (r.checkpoint.cursor.empty() ? "-" : Ellipsis(r.checkpoint.cursor, 80))
                             : Ellipsis(r.checkpoint.last_error, 160);
    if (r.lease && r.lease->live && r.state != ShardState::kDone) {
      detail = StrCat("leased by ", r.lease->owner, " until ", FormatRfc3339(r.lease->expires), " (token ",
                      r.lease->fencing_token, "); ", detail);
    }
    std::printf("%-36s %-8s %10llu %7llu %7llu  %s\n", r.shard.id.c_str(),
                std::string(ShardStateName(r.state)).c_str(),
                static_cast<unsigned long long>(r.checkpoint.counters.records_delivered),
                static_cast<unsigned long long>(r.checkpoint.counters.pages),
                static_cast<unsigned long long>(r.checkpoint.counters.dead_letters), detail.c_str());
  }
  std::printf("total: %llu records delivered, %llu dead letters, %zu of %zu shards done\n",
              static_cast<unsigned long long>(totals.records_delivered),
              static_cast<unsigned long long>(totals.dead_letters), reports->size() - not_done,
              reports->size());
  if (not_done > 0) std::printf("to resume: %s\n", ResumeCommand(args).c_str());
  return kExitDone;
}

int Verify(const Args& args) {
  auto b = Open(args);
  if (!b.ok()) return BadSpec(b.status());
  auto reports = (*b)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  absl::StatusOr<JobSpec> spec = LoadSpec(args.job_path);
  if (!spec.ok()) return BadSpec(spec.status());
  int64_t width = kCoverageBucketSeconds;
  if (auto it = args.flags.find("--bucket"); it != args.flags.end()) {
    std::optional<absl::Duration> d = ParseDurationText(it->second);
    width = d ? absl::ToInt64Seconds(*d) : 0;
    if (width <= 0 || width % kCoverageBucketSeconds != 0) {
      return BadSpec(absl::InvalidArgumentError("--bucket: expected whole hours such as 1h, 6h or 1d"));
    }
  }
  double thin = 0.1;
  if (auto it = args.flags.find("--thin"); it != args.flags.end()) {
    thin = std::atof(it->second.c_str());
    if (!(thin >= 0 && thin <= 1))
      return BadSpec(absl::InvalidArgumentError("--thin: expected a number in [0, 1]"));
  }

  std::map<int64_t, uint64_t> hours;
  int not_done = 0;
  std::vector<std::string> problems;
  for (const ShardReport& r : *reports) {
    for (const auto& [hour, count] : r.checkpoint.coverage) hours[hour] += count;
    if (r.state != ShardState::kDone && !IsOpenEnded(r.shard)) {
      ++not_done;
      problems.push_back(
          StrCat("shard ", r.shard.id, " is ", ShardStateName(r.state), ": its window is not covered yet"));
    }
    const int64_t reported = r.checkpoint.reported_total;
    if (reported >= 0 && static_cast<uint64_t>(reported) != r.checkpoint.counters.records_fetched) {
      problems.push_back(StrCat("shard ", r.shard.id, ": the source reported ", reported, " records, ",
                                r.checkpoint.counters.records_fetched, " were fetched"));
    }
  }
  // Buckets over the window (the gap part of a follow-mode window).
  const int64_t start = absl::ToUnixSeconds(spec->start);
  const int64_t end = absl::ToUnixSeconds(spec->end);
  const int64_t first = start - ((start % width) + width) % width;
  std::vector<std::pair<int64_t, uint64_t>> buckets;
  for (int64_t t = first; t < end; t += width) {
    uint64_t n = 0;
    for (auto it = hours.lower_bound(t); it != hours.end() && it->first < t + width; ++it) n += it->second;
    buckets.emplace_back(t, n);
  }
  std::vector<uint64_t> nonzero;
  for (const auto& [t, n] : buckets) {
    if (n > 0) nonzero.push_back(n);
  }
  std::sort(nonzero.begin(), nonzero.end());
  const double median = nonzero.empty() ? 0 : static_cast<double>(nonzero[nonzero.size() / 2]);
  int empty = 0, thin_count = 0;
  uint64_t total = 0;
  const bool all_rows = buckets.size() <= 200;
  std::printf("%-22s %10s\n", "BUCKET START", "RECORDS");
  for (const auto& [t, n] : buckets) {
    total += n;
    const char* flag = n == 0 ? "EMPTY" : static_cast<double>(n) < thin * median ? "thin" : "";
    empty += n == 0;
    thin_count += flag[0] == 't';
    if (all_rows || flag[0] != '\0') {
      std::printf("%-22s %10llu  %s\n", FormatRfc3339(absl::FromUnixSeconds(t)).c_str(),
                  static_cast<unsigned long long>(n), flag);
    }
  }
  std::printf(
      "%llu records in %zu buckets of %s (median %.0f); %d empty, %d thin (under %.0f%% of the median)\n",
      static_cast<unsigned long long>(total), buckets.size(),
      absl::FormatDuration(absl::Seconds(width)).c_str(), median, empty, thin_count, thin * 100);
  for (const std::string& p : problems) std::printf("problem: %s\n", p.c_str());
  if (empty > 0)
    std::printf("problem: %d empty bucket%s: a hole in the recovered data\n", empty, empty == 1 ? "" : "s");
  const bool ok = empty == 0 && problems.empty();
  std::printf("%s\n", ok ? "coverage OK" : "coverage NOT OK");
  if (not_done > 0) std::printf("to resume: %s\n", ResumeCommand(args).c_str());
  return ok ? kExitDone : kExitFailed;
}

int Reset(const Args& args) {
  auto b = Open(args);
  if (!b.ok()) return BadSpec(b.status());
  std::optional<std::string> shard;
  if (auto it = args.flags.find("--shard"); it != args.flags.end()) shard = it->second;
  if (!args.flags.count("--yes")) {
    if (!isatty(STDIN_FILENO)) {
      std::fprintf(stderr, "reset deletes checkpoints: confirm with --yes\n");
      return kExitUsage;
    }
    std::fprintf(stderr, "Forget the checkpoints of %s? The next run starts %s over. [y/N] ",
                 shard ? StrCat("shard ", *shard).c_str() : "every shard", shard ? "it" : "them");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "yes") {
      std::fprintf(stderr, "nothing reset\n");
      return kExitDone;
    }
  }
  absl::Status s = (*b)->Reset(shard);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ToStd(s.message())).c_str());
    return s.code() == absl::StatusCode::kNotFound ? kExitUsage : kExitFailed;
  }
  std::fprintf(stderr, "reset %s\n", shard ? shard->c_str() : "every shard");
  return kExitDone;
}

int Main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, &args, &error)) {
    std::fprintf(stderr, "recovery: %s\n\n%s", error.c_str(), kUsage);
    return kExitUsage;
  }
  if (args.flags.count("--help") || args.command == "help" || args.command.empty()) {
    std::printf("%s", kUsage);
    return args.command.empty() && !args.flags.count("--help") ? kExitUsage : kExitDone;
  }
  if (args.command == "version") {
    std::printf("recovery %s\n", RECOVERY_VERSION_STRING);
    return kExitDone;
  }
  if (args.job_path.empty()) {
    std::fprintf(stderr, "recovery %s: which job file?\n\n%s", args.command.c_str(), kUsage);
    return kExitUsage;
  }
  if (args.command == "run") return Run(args);
  if (args.command == "validate") return Validate(args);
  if (args.command == "plan") return Plan(args);
  if (args.command == "status") return Status(args);
  if (args.command == "reset") return Reset(args);
  if (args.command == "verify") return Verify(args);
  std::fprintf(stderr, "recovery: unknown command \"%s\"\n\n%s", args.command.c_str(), kUsage);
  return kExitUsage;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc, argv); }
