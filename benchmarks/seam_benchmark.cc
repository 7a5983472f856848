// What the presence check (skip_already_present) costs: the same job into a
// PostgreSQL table (a throwaway cluster on loopback) through the HTTP source
// (a loopback API with 20 ms per request, 100 records per page), once without
// the check and once with it into an empty table, then with it into a table
// that already holds 60 % of the records. Records/s, the ratio to the run
// without the check, and presence queries per page. One run, one machine.
//
//   seam_benchmark [--quick]
#include <cstdio>
#include <cstring>
#include <string>

#include "recovery/backfiller.h"
#include "recovery/postgres.h"
#include "testing/postgres.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr int kConcurrency = 8;
constexpr int kPage = 100;

// Counts presence checks on the way to the real sink.
class CountingSink : public SinkWrapper, public PresenceCheck {
 public:
  explicit CountingSink(std::unique_ptr<Sink> inner) : SinkWrapper(std::move(inner)) {}
  PresenceCheck* presence() override { return target()->presence() != nullptr ? this : nullptr; }
  absl::Status Check(const Shard& s, absl::Span<const Record> r, PresenceAnswer* a) override {
    ++checks;
    return target()->presence()->Check(s, r, a);
  }
  absl::Status OpenForReading() override { return target()->presence()->OpenForReading(); }
  std::atomic<int64_t> checks{0};
};

struct Result {
  double seconds = 0;
  RunResult run;
  int64_t checks = 0;
};

Result RunOnce(const testing::PostgresServer& pg, const testing::SimulatedApi& api, const std::string& table,
               bool check) {
  absl::StatusOr<JobSpec> parsed = JobSpec::Parse(StrCat(
      R"({"name":"x","window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z"},
      "source":{"type":"http","url":")",
      api.base_url(), R"(/v1/keyset","query":{"from":"{start}","to":"{end}","limit":"{limit}",
        "after_time":"{after_time}","after_id":"{after_id}"},"records":"/data","page_size":)",
      kPage, R"(,"pagination":{"type":"keyset","time":"/created_at","id":"/id"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},
        {"name":"amount","from":"/amount/value","type":"decimal"}],"key":{"from":"/id"},
        "event_time":{"from":"/created_at"}}})"));
  if (!parsed.ok()) std::abort();
  JobSpec spec = *std::move(parsed);
  spec.name = StrCat("bench-", table);
  spec.shard_duration = (spec.end - spec.start) / kConcurrency;
  spec.concurrency = kConcurrency;
  spec.skip_already_present = check;
  PostgresSinkOptions o;
  o.dsn = pg.dsn();
  o.table = table;
  o.columns = {{"id", "/id"}, {"amount", "/amount"}, {"occurred_at", "$event_time"}};
  o.conflict_columns = {"id"};
  auto sink = std::make_unique<CountingSink>(*NewPostgresSink(o));
  CountingSink* counting = sink.get();
  Components c;
  c.sink = std::move(sink);
  c.checkpoints = NewMemoryCheckpointStore();
  c.dead_letters = NewMemoryDeadLetterStore();  // the spec names none: keep nothing on disk
  auto b = Backfiller::Create(spec, std::move(c), {});
  if (!b.ok()) {
    std::fprintf(stderr, "%s\n", std::string(b.status().message()).c_str());
    std::abort();
  }
  const absl::Time t0 = absl::Now();
  Result r;
  r.run = (*b)->Run();
  r.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  r.checks = counting->checks.load();
  if (!r.run.status.ok()) {
    std::fprintf(stderr, "%s\n", r.run.status.ToString().c_str());
    std::abort();
  }
  return r;
}

int Main(bool quick) {
  auto server = testing::PostgresServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  testing::PostgresServer& pg = **server;
  testing::SimulatedApiOptions ao;
  ao.start = testing::T("2026-11-01T00:00:00Z");
  ao.end = testing::T("2026-11-02T00:00:00Z");
  ao.records = quick ? 8000 : 40000;
  ao.small_records = true;
  ao.latency = absl::Milliseconds(20);
  ao.max_page_size = kPage;
  testing::SimulatedApi api(ao);
  const std::vector<std::string> ids = api.Ids(ao.start, ao.end);
  auto table = [&](const std::string& name, double held) {
    if (!pg.Exec(StrCat("CREATE TABLE ", name,
                        " (id text PRIMARY KEY, amount numeric(12,2), occurred_at timestamptz)"))
             .ok()) {
      std::abort();
    }
    std::string values;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (static_cast<double>(i % 100) < held * 100)
        StrAppend(&values, values.empty() ? "" : ",", "('", ids[i], "')");
    }
    if (!values.empty() && !pg.Exec(StrCat("INSERT INTO ", name, " (id) VALUES ", values)).ok()) std::abort();
    return name;
  };
  const double pages = static_cast<double>(ids.size()) / kPage;
  const double bound = kConcurrency / 0.020 * kPage;
  std::printf("%zu records, %d shards, %d records per page, 20 ms per request: bound %.0f records/s\n",
              ids.size(), kConcurrency, kPage, bound);
  std::printf("%-34s %12s %10s %10s %16s\n", "run", "records/s", "vs plain", "of bound", "checks per page");
  const Result plain = RunOnce(pg, api, table("plain", 0), false);
  const double base = static_cast<double>(ids.size()) / plain.seconds;
  auto row = [&](const char* name, const Result& r) {
    const double rate = static_cast<double>(ids.size()) / r.seconds;  // records handled, delivered or skipped
    std::printf("%-34s %12.0f %9.2fx %9.1f%% %16.2f\n", name, rate, rate / base, 100 * rate / bound,
                r.checks / pages);
  };
  row("no presence check", plain);
  row("presence check, empty table", RunOnce(pg, api, table("checked", 0), true));
  const Result warm = RunOnce(pg, api, table("prefilled", 0.6), true);
  row("presence check, 60 % present", warm);
  std::printf("(60 %% run: %llu delivered, %llu already present)\n",
              static_cast<unsigned long long>(warm.run.progress.totals.records_delivered),
              static_cast<unsigned long long>(warm.run.progress.totals.records_already_present));
  return 0;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc > 1 && std::strcmp(argv[1], "--quick") == 0); }
