// The PostgreSQL sink's two ways of writing a batch, side by side: multi-row
// INSERTs with text parameters, and COPY into a temporary table followed by
// one INSERT … SELECT … ON CONFLICT (PostgresSinkOptions::copy_min_rows).
// Batches of 50 to 5,000 rows into an empty table (a throwaway cluster on
// loopback), then the same batches again (every row a conflict). Rows/s,
// the median of three alternating runs each, and COPY's ratio to INSERT.
//
//   postgres_sink_benchmark [--quick]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "recovery/postgres.h"
#include "testing/postgres.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

std::vector<RecordBatch> Batches(int64_t rows, int64_t per_batch) {
  std::vector<RecordBatch> batches;
  const absl::Time t0 = testing::T("2026-11-01T00:00:00Z");
  for (int64_t i = 0; i < rows; ++i) {
    if (i % per_batch == 0) batches.emplace_back();
    batches.back().Add(
        StrCat("k", i), t0 + absl::Seconds(i),
        StrCat(R"({"id":"txn-)", i, R"(","amount":")", i % 1000, R"(.25","note":"paid\tin full"})"));
  }
  return batches;
}

// Seconds to write every batch, one after another.
double WriteAll(const testing::PostgresServer& pg, const std::vector<RecordBatch>& batches,
                int copy_min_rows) {
  PostgresSinkOptions o;
  o.dsn = pg.dsn();
  o.table = "payments";
  o.columns = {{"id", "/id"}, {"amount", "/amount"}, {"note", "/note"}, {"occurred_at", "$event_time"}};
  o.conflict_columns = {"id"};
  o.copy_min_rows = copy_min_rows;
  auto sink = NewPostgresSink(o);
  if (!sink.ok() || !(*sink)->Open({}).ok()) std::abort();
  Shard shard{"s", 0, testing::T("2026-11-01T00:00:00Z"), testing::T("2026-12-01T00:00:00Z")};
  const absl::Time start = absl::Now();
  for (const RecordBatch& b : batches) {
    WriteResult result;
    absl::Status written = (*sink)->Write(WriteRequest{shard, b}, &result);
    if (!written.ok() || !result.rejected.empty()) {
      std::fprintf(stderr, "%s\n", written.ToString().c_str());
      std::abort();
    }
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

int Main(bool quick) {
  auto server = testing::PostgresServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  testing::PostgresServer& pg = **server;
  const int64_t rows = quick ? 20000 : 100000;
  std::printf("%lld rows of 4 columns, one connection, fsync off\n", static_cast<long long>(rows));
  std::printf("%-10s %-10s %14s %14s %10s\n", "batch", "table", "INSERT rows/s", "COPY rows/s",
              "COPY/INSERT");
  for (int64_t per_batch : {50, 200, 1000, 5000}) {
    const std::vector<RecordBatch> batches = Batches(rows, per_batch);
    for (const bool conflicts : {false, true}) {
      std::vector<double> insert, copy;
      for (int run = 0; run < 3; ++run) {
        for (const int way : {0, 1}) {
          if (!pg.Exec("DROP TABLE IF EXISTS payments; CREATE TABLE payments (id text PRIMARY KEY, amount "
                       "numeric(12,2), note text, occurred_at timestamptz)")
                   .ok()) {
            std::abort();
          }
          if (conflicts) (void)WriteAll(pg, batches, 0);  // every row already there
          (way == 0 ? insert : copy).push_back(static_cast<double>(rows) / WriteAll(pg, batches, way));
        }
      }
      std::sort(insert.begin(), insert.end());
      std::sort(copy.begin(), copy.end());
      std::printf("%-10lld %-10s %14.0f %14.0f %9.2fx\n", static_cast<long long>(per_batch),
                  conflicts ? "full" : "empty", insert[1], copy[1], copy[1] / insert[1]);
    }
  }
  return 0;
}

}  // namespace
}  // namespace recovery

int main(int argc, char** argv) { return recovery::Main(argc > 1 && std::strcmp(argv[1], "--quick") == 0); }
