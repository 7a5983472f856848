#include "cli/cli.h"

#include <cstdio>

#include "util/strings.h"

namespace recovery::cli {

const char kUsage[] = R"(recovery — recover a gap of missing data, exactly once and resumably

usage: recovery <command> JOB.json [flags]

commands:
  run        run the job, or resume it from its checkpoints
               --dry-run              fetch and map, write nothing
               --shard ID[,ID...]     run only these shards (ids as `plan` lists them), e.g.
                                      one per task of a task queue
               --shard I/N            run only the I-th of N slices of the plan (I from 1),
                                      so N hosts or processes can split the job
               --concurrency N        shards at once (overrides the spec)
               --limit N              a canary: deliver at most N records in all (across
                                      shards; overrides the spec's max_records), then stop
                                      resumably (exit 3); the next run goes on from the
                                      record after the last one delivered
               --log-format text|json (default text)
               --log-level L          debug, info, warning, error (default: warning on a
                                      terminal, where a progress line shows; info otherwise)
               --quiet                no progress line or status lines
               --metrics-file PATH    Prometheus metrics, rewritten atomically every 5 s
                                      (for node_exporter's textfile collector)
               --metrics-listen H:P   serve them at http://H:P/metrics (e.g. 127.0.0.1:9464)
  replay     deliver the job's dead letters again, mapped with the job's current mapping,
             with the same checkpoints and exactly-once rules as a run; each letter is
             marked with what became of it, and one that fails again stays with its new
             reason; resumes where a cut-short replay stopped (the run flags apply)
               --reason TEXT          only letters whose reason contains TEXT
               --since TIME           only letters rejected at or after TIME (RFC 3339)
  validate   check the job spec and print every error with its JSON path
  plan       list the shards, their windows and what is already done
  status     per shard: state, records, pages, cursor, last error; how to resume
               --json                 the same as JSON, with a summary (what the C ABI's
                                      recovery_job_status_json and Python's Job.status() give)
  verify     coverage report: delivered records per time bucket across the window,
             empty and thin buckets flagged, totals compared with what the source
             reported; exits 1 on a hole
               --bucket D             bucket width, whole hours (default 1h)
               --thin F               flag buckets under F x the median (default 0.1)
  reconcile  per time bucket, what the vendor holds next to what the destination holds
             (counted in the destination, where the live feed writes too); exits 0 when
             the destination holds at least the vendor's count in every bucket, 1 when
             a bucket is short, 2 when the sink cannot count
               --bucket D             bucket width, whole seconds: 3600, 1h, 15m (default 1h)
               --json                 the table as JSON
               --write-plan PATH      a job file that recovers only the short buckets
               --trust-total          take the source's reported total of a bucket
                                      instead of paging it
               --keys                 list the keys the destination lacks in each short
                                      bucket of at most 1000 vendor records (paged again,
                                      asked of the sink's presence check)
               --keys-limit N         that many records instead of 1000
               --concurrency N        buckets read at once (default: the job's)
  probe      check every assumption the job makes against the real API and the real
             destination before the first write: the window filter, the order, the page
             size, the last page, the reported total, unique keys, the mapping, the
             destination's columns and what it already holds, the vendor's pace; reads
             only (no write, checkpoint, dead letter or lease); exits 0 when nothing is
             broken, 1 when something is, 2 when it could not run
               --samples N            shards spread over the window besides the first and
                                      the last (default 6)
               --pages P              pages read per sample at most (default 5)
               --max-requests R       requests to the source in all (default 100)
               --json                 the report as JSON
               --save PATH            also write the JSON report to PATH
               --quiet                no progress lines
  report     the job's picture as one self-contained HTML page (no script, nothing fetched;
             it prints): the verdict, the totals, the window as days x hours coloured by
             what was delivered and what is not done yet, the shards, the dead letters
             grouped by reason with an example each (secret fields masked)
               -o PATH                where to write it (required)
               --probe PATH           also show a probe report saved with probe --save
  find       what became of records, by key: delivered (by which shard and run, when),
             found already present, dead-lettered (why), out of the window, or never seen;
             answered from the job's key log ("key_log": true) and its dead letters, and
             whether the destination holds each key (when the sink's presence check can
             tell by key alone: JSON lines, HTTP, PostgreSQL deduplicating on $key)
               KEY...                 the keys, after the job file
               --json                 the answers as JSON
               --no-destination       do not ask the destination
  state set  move a shard to a position an operator names (the vendor re-sent what came
             before it, or the API can never return a record there), kept as an audit
             line (who, when, from, to, why) that status shows; refused while the job
             runs or the shard is leased
               --shard ID             the shard (required)
               --position P           a page number (page), an offset (offset), TIME,ID of
                                      the record to start after (keyset), a byte offset at a
                                      line's start (jsonl_file); other styles' cursors are
                                      tokens only the server names
               --reason TEXT          why (required)
  state skip mark a shard done without reading it, with the same audit line
               --shard ID, --reason TEXT
  purge      remove what a retention policy says must go; refused while the job runs
               --dead-letters         the raw records of the dead letters (their place, reason,
                                      key and event time stay; a purged letter cannot be
                                      replayed, and status counts them)
               --older-than D         only letters rejected at least D ago (30d, 12h)
               --state                every checkpoint of the job instead (a later run starts
                                      over)
               --yes                  required: nothing is asked
  reset      forget checkpoints so the next run starts over
               --shard ID             only this shard
               --yes                  do not ask for confirmation

exit codes: 0 done, 1 failed, 2 bad usage or job spec, 3 interrupted (resumable),
            4 paused by the source's quota (resumable)
)";

bool ParseArgs(int argc, char** argv, Args* args, std::string* error) {
  static const std::map<std::string, bool> kTakesValue = {
      {"--dry-run", false},       {"--concurrency", true}, {"--log-format", true},
      {"--log-level", true},      {"--quiet", false},      {"--shard", true},
      {"--yes", false},           {"--help", false},       {"--metrics-file", true},
      {"--metrics-listen", true}, {"--bucket", true},      {"--thin", true},
      {"--json", false},          {"--write-plan", true},  {"--trust-total", false},
      {"--reason", true},         {"--since", true},       {"--keys", false},
      {"--keys-limit", true},     {"--samples", true},     {"--pages", true},
      {"--max-requests", true},   {"--save", true},        {"-o", true},
      {"--probe", true},          {"--limit", true},       {"--position", true},
      {"--dead-letters", false},  {"--older-than", true},  {"--state", false},
      {"--no-destination", false}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 || a.rfind("-o", 0) == 0) {  // -o: report's output
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
    } else if (args->command == "state" && args->job_path.empty() && (a == "set" || a == "skip")) {
      args->command = StrCat("state ", a);
    } else if (args->job_path.empty()) {
      args->job_path = a;
    } else if (args->command == "find") {
      args->keys.push_back(a);
    } else {
      *error = StrCat("unexpected argument \"", a, "\"");
      return false;
    }
  }
  return true;
}

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

// The resumable ends that are not a pause read as "interrupted", as the exit code says.
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

int BadSpec(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", std::string(ToStd(s.message())).c_str());
  return kExitUsage;
}

std::string Shell(const std::string& s) {
  if (s.find_first_of(" '\"$`\\") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ResumeCommand(const Args& args) {
  if (args.command == "replay") {
    std::string command = StrCat("recovery replay ", Shell(args.job_path));
    for (const char* flag : {"--reason", "--since"}) {
      if (auto it = args.flags.find(flag); it != args.flags.end())
        StrAppend(&command, " ", flag, " ", Shell(it->second));
    }
    return command;
  }
  auto slice = args.flags.find("--shard");
  return StrCat("recovery run ", Shell(args.job_path),
                slice != args.flags.end() && args.command == "run" ? StrCat(" --shard ", slice->second) : "");
}

absl::StatusOr<std::unique_ptr<JobState>> OpenState(const Args& args) {
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(args.job_path);
  if (!spec.ok()) return spec.status();
  return JobState::Open(*spec);
}

}  // namespace recovery::cli
