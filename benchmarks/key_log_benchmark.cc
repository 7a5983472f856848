// What the key log (JobSpec::key_log) costs: a job of one shard reading a
// JSON-lines export of 1,000,000 small records into the null sink, with file
// checkpoints, run with the key log off and on, interleaved, 5 times each, in
// one process. The export and the null sink leave the engine's own work as the
// whole cost, so the ratio is the key log's worst case; against a real API
// or destination it is a smaller share. Prints records/s, the ratio to the
// run without, and the log's bytes per record.
//
//   key_log_benchmark [--quick]
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "recovery/backfiller.h"
#include "testing/test_util.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// `records` records evenly over 2026-11-01, in event-time order.
void WriteExport(const std::string& path, int records) {
  std::string text;
  const absl::Time start = testing::T("2026-11-01T00:00:00Z");
  for (int i = 0; i < records; ++i) {
    const absl::Time t = start + absl::Hours(24) * i / records;
    StrAppend(&text, R"({"id":"ord-)", i, R"(","created_at":")", FormatRfc3339(t), R"(","amount":)", i % 997,
              "}\n");
  }
  testing::WriteFile(path, text);
}

// Bytes under `dir`/keys (the key logs of every shard).
uint64_t KeyLogBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const std::string& name : ListDir(dir + "/keys")) {
    struct stat st {};
    if (name[0] != '.' && stat((dir + "/keys/" + name).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

struct Result {
  double records_per_second = 0;
  uint64_t records = 0;
  uint64_t key_log_bytes = 0;
};

Result RunOnce(const testing::TempDir& dir, int run, bool key_log) {
  const std::string name = StrCat("bench-", run, key_log ? "-log" : "-nolog");
  absl::StatusOr<JobSpec> parsed = JobSpec::Parse(StrCat(
      R"({"name":")", name, R"(","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "key_log":)",
      key_log ? "true" : "false", R"(,
      "source":{"type":"jsonl_file","path":")",
      dir.File("in.jsonl"), R"("},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"},{"name":"amount","from":"/amount"}],
        "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "sink":{"type":"null"},"checkpoint":{"type":"file","dir":")",
      dir.File("state"), R"("}})"));
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
    std::abort();
  }
  auto b = Backfiller::Create(*parsed, Components(), {});
  if (!b.ok()) {
    std::fprintf(stderr, "%s\n", std::string(b.status().message()).c_str());
    std::abort();
  }
  const absl::Time t0 = absl::Now();
  RunResult r = (*b)->Run();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!r.status.ok()) {
    std::fprintf(stderr, "%s\n", r.status.ToString().c_str());
    std::abort();
  }
  Result out;
  out.records = r.progress.records_this_run;
  out.records_per_second = static_cast<double>(out.records) / seconds;
  out.key_log_bytes = KeyLogBytes(dir.File("state/" + name));
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(bool quick) {
  const int records = quick ? 100000 : 1000000;
  const int runs = quick ? 3 : 5;
  testing::TempDir dir;
  WriteExport(dir.File("in.jsonl"), records);
  std::vector<double> without, with;
  Result last_with;
  for (int i = 0; i < runs; ++i) {  // interleaved: the machine's mood is shared
    without.push_back(RunOnce(dir, i, false).records_per_second);
    last_with = RunOnce(dir, i, true);
    with.push_back(last_with.records_per_second);
  }
  const double base = Median(without), logged = Median(with);
  std::printf(
      "key log: %d records, one shard, JSON-lines export to the null sink, file checkpoints; median of %d\n",
      records, runs);
  std::printf("%-10s %12s %8s %14s\n", "key_log", "records/s", "ratio", "bytes/record");
  std::printf("%-10s %12.0f %8.2f %14s\n", "off", base, 1.0, "-");
  std::printf("%-10s %12.0f %8.2f %14.1f\n", "on", logged, logged / base,
              static_cast<double>(last_with.key_log_bytes) / static_cast<double>(last_with.records));
  return 0;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc > 1 && std::strcmp(argv[1], "--quick") == 0); }
