// validate, plan, status and reset: they read the job file and the
// checkpoints, never the vendor's secrets.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/time/clock.h"
#include "cli/cli.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery::cli {
namespace {

std::string Ellipsis(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

// One line per edit an operator made by hand, oldest first per shard.
void PrintEdits(const std::vector<ShardReport>& reports) {
  for (const ShardReport& r : reports) {
    for (const std::string& line : r.checkpoint.edits) {
      const EditRecord e = ReadEdit(line);
      std::printf("edited: shard %s: %s by %s at %s: from %s \"%s\" to %s \"%s\": %s\n", r.shard.id.c_str(),
                  e.action.c_str(), e.by.c_str(), e.at.c_str(), e.from_state.c_str(),
                  Ellipsis(e.from_cursor, 80).c_str(), e.to_state.c_str(), Ellipsis(e.to_cursor, 80).c_str(),
                  e.reason.c_str());
    }
  }
}

// Who is making an edit: the login name and the host.
std::string Operator() {
  const char* user = std::getenv("SUDO_USER");
  if (user == nullptr) {
    const passwd* pw = getpwuid(geteuid());
    user = pw != nullptr ? pw->pw_name : std::getenv("USER");
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return StrCat(user != nullptr ? user : "unknown", "@", host);
}

// What the table does not show: records skipped and why, warnings, restarts.
void PrintNotes(const std::vector<ShardReport>& reports, const JobSummary& s, bool partitions_by_shard) {
  // Records outside the job's window, and (from a source whose shards should
  // each read only their own) records of other shards: signs of an API that
  // ignores its window filter. An export read whole by every shard has the
  // second by design.
  const uint64_t other = std::min(s.plan.records_of_other_shards, s.plan.records_out_of_window);
  if (s.plan.records_out_of_window > other) {
    std::printf(
        "out of window: %llu records outside the job's window were skipped (an API that ignores its "
        "window filter returns such records; sorted_by ends a shard at its window's end)\n",
        static_cast<unsigned long long>(s.plan.records_out_of_window - other));
  }
  if (other > 0 && partitions_by_shard) {
    std::printf(
        "other shards: %llu records a shard read belonged to another shard's window and were left to it "
        "(the API probably ignores the window filter; each record is still delivered once, by its own "
        "shard)\n",
        static_cast<unsigned long long>(other));
  }
  for (const ShardReport& r : reports) {
    if (!r.checkpoint.warning.empty())
      std::printf("warning: shard %s: %s\n", r.shard.id.c_str(), r.checkpoint.warning.c_str());
    if (r.checkpoint.cursor_restarts > 0 && r.checkpoint.read_from != absl::InfinitePast()) {
      std::printf(
          "cursor restarts: shard %s restarted %u time(s) after the source refused its cursor as expired; "
          "it reads from %s, where its records (sorted by time) had got to at the last restart (records it "
          "had delivered were not delivered again)\n",
          r.shard.id.c_str(), r.checkpoint.cursor_restarts, FormatRfc3339(r.checkpoint.read_from).c_str());
    } else if (r.checkpoint.cursor_restarts > 0) {
      std::printf(
          "cursor restarts: shard %s read again from its beginning %u time(s) after the source "
          "refused its cursor as expired (records it had delivered were not delivered again)\n",
          r.shard.id.c_str(), r.checkpoint.cursor_restarts);
    }
  }
  PrintEdits(reports);
  if (s.dead_letters_purged > 0) {
    std::printf(
        "purged: %llu dead letters had their raw records removed by a retention purge; they cannot be "
        "replayed\n",
        static_cast<unsigned long long>(s.dead_letters_purged));
  }
  if (s.plan.records_already_present > 0) {
    std::printf("already present: %llu records the sink already held were not delivered again\n",
                static_cast<unsigned long long>(s.plan.records_already_present));
  }
}

}  // namespace

int ValidateCommand(const Args& args) {
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

int PlanCommand(const Args& args) {
  auto b = OpenState(args);
  if (!b.ok()) return BadSpec(b.status());
  auto reports = (*b)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  if (absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path); spec.ok()) {
    if (spec->overlap > absl::ZeroDuration()) {
      std::printf("window: %s to %s, widened by an overlap of %s on each side to %s to %s\n",
                  FormatRfc3339(spec->start + spec->overlap).c_str(),
                  FormatRfc3339(spec->end - spec->overlap).c_str(),
                  absl::FormatDuration(spec->overlap).c_str(), FormatRfc3339(spec->start).c_str(),
                  FormatRfc3339(spec->end).c_str());
    }
    if (spec->skip_already_present) {
      std::printf(
          "skip_already_present: each page is checked against the sink; what it holds is not "
          "delivered again\n");
    }
  }
  std::printf("%-36s %-22s %-22s %-8s %12s\n", "SHARD", "START", "END", "STATE", "RECORDS");
  for (const ShardReport& r : *reports) {
    std::printf("%-36s %-22s %-22s %-8s %12llu\n", r.shard.id.c_str(), FormatRfc3339(r.shard.start).c_str(),
                IsOpenEnded(r.shard) ? "(follow)" : FormatRfc3339(r.shard.end).c_str(),
                std::string(ShardStateName(r.state)).c_str(),
                static_cast<unsigned long long>(r.checkpoint.counters.records_delivered));
  }
  return kExitDone;
}

int StatusCommand(const Args& args) {
  auto b = OpenState(args);
  if (!b.ok()) return BadSpec(b.status());
  auto reports = (*b)->Status();
  if (!reports.ok()) return BadSpec(reports.status());
  if (args.flags.count("--json")) {
    std::printf("%s\n", StatusJson((*b)->job(), *reports).c_str());
    return kExitDone;
  }
  const JobSummary s = Summarize(*reports);
  std::printf("%-36s %-8s %10s %7s %7s  %s\n", "SHARD", "STATE", "RECORDS", "PAGES", "DEAD",
              "CURSOR / LAST ERROR");
  for (const ShardReport& r : *reports) {
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
              static_cast<unsigned long long>(s.records_delivered),
              static_cast<unsigned long long>(s.dead_letters), s.shards_done, s.shards);
  if (s.replayed.pages > 0) {
    std::printf(
        "replayed: %llu dead letters settled by replays (%llu delivered), %llu tries that failed again\n",
        static_cast<unsigned long long>(s.dead_letters_settled),
        static_cast<unsigned long long>(s.replayed.records_delivered),
        static_cast<unsigned long long>(s.replayed.dead_letters));
  }
  PrintNotes(*reports, s, (*b)->source_partitions_by_shard());
  if (s.plan_shards_not_done > 0) std::printf("to resume: %s\n", ResumeCommand(args).c_str());
  if (s.replays_not_done > 0)
    std::printf("to finish the replay: recovery replay %s\n", Shell(args.job_path).c_str());
  return kExitDone;
}

int ResetCommand(const Args& args) {
  auto b = OpenState(args);
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

int PurgeCommand(const Args& args) {
  const bool letters = args.flags.count("--dead-letters") > 0, state = args.flags.count("--state") > 0;
  if (letters == state) {
    std::fprintf(stderr, "purge needs --dead-letters [--older-than D] or --state\n");
    return kExitUsage;
  }
  absl::Duration older = absl::ZeroDuration();
  if (auto it = args.flags.find("--older-than"); it != args.flags.end()) {
    std::optional<absl::Duration> d = ParseDurationText(it->second);
    if (!d || *d < absl::ZeroDuration() || state) {
      std::fprintf(stderr,
                   "--older-than: expected a duration such as 30d or 12h with --dead-letters, got \"%s\"\n",
                   it->second.c_str());
      return kExitUsage;
    }
    older = *d;
  }
  if (!args.flags.count("--yes")) {
    std::fprintf(stderr, "purge removes data for good: confirm with --yes\n");
    return kExitUsage;
  }
  auto b = OpenState(args);
  if (!b.ok()) return BadSpec(b.status());
  if (state) {  // every checkpoint of the job: the next run starts over
    absl::Status s = (*b)->Reset();
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(ToStd(s.message())).c_str());
      return kExitFailed;
    }
    std::fprintf(stderr, "purged the checkpoints of every shard of %s\n", (*b)->job().c_str());
    return kExitDone;
  }
  absl::StatusOr<uint64_t> n = (*b)->PurgeDeadLetters(absl::Now() - older);
  if (!n.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ToStd(n.status().message())).c_str());
    return kExitFailed;
  }
  std::printf("purged the raw records of %llu dead letters\n", static_cast<unsigned long long>(*n));
  return kExitDone;
}

int StateEditCommand(const Args& args) {
  const bool set = args.command == "state set";
  auto shard = args.flags.find("--shard");
  auto reason = args.flags.find("--reason");
  auto position = args.flags.find("--position");
  if (shard == args.flags.end() || reason == args.flags.end() || reason->second.empty() ||
      set != (position != args.flags.end())) {
    std::fprintf(stderr, "%s\n",
                 set ? "state set needs --shard ID, --position P and --reason TEXT"
                     : "state skip needs --shard ID and --reason TEXT (and no --position)");
    return kExitUsage;
  }
  auto b = OpenState(args);
  if (!b.ok()) return BadSpec(b.status());
  ShardEdit edit;
  edit.shard_id = shard->second;
  if (set) edit.position = position->second;
  edit.reason = reason->second;
  edit.by = Operator();
  absl::StatusOr<std::string> audit = (*b)->EditShard(edit);
  if (!audit.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ToStd(audit.status().message())).c_str());
    const absl::StatusCode code = audit.status().code();
    return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ? kExitUsage
                                                                                             : kExitFailed;
  }
  std::printf("%s\n", audit->c_str());
  return kExitDone;
}

}  // namespace recovery::cli
