// The worked example of docs/extending.md, compiled and run: a custom sink
// that offers the presence check and the count per bucket, used by a run with
// skip_already_present and by reconcile. Keep the two in step.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/reconcile.h"
#include "testing/fakes.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using testing::DayTimes;
using testing::FakeSource;

// --- the example ---------------------------------------------------------
// A table in memory: key -> event time. Thread-safe, so Write() may run for
// several shards at once.
class TableSink : public Sink, public PresenceCheck, public DestinationCounter {
 public:
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < request.batch.size(); ++i) {
      const Record& r = request.batch.records()[i];
      // The destination deduplicates on the key: one it has is reported, not written twice.
      if (!rows_.emplace(std::string(r.key), r.event_time).second) result->already_present.push_back(i);
    }
    return absl::OkStatus();
  }

  // The abilities this sink has; a sink without one returns null.
  PresenceCheck* presence() override { return this; }
  DestinationCounter* counter() override { return this; }

  absl::Status Check(const Shard&, absl::Span<const Record> records, PresenceAnswer* answer) override {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < records.size(); ++i)
      answer->present[i] = rows_.count(std::string(records[i].key)) > 0;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                         size_t buckets) override {
    std::vector<uint64_t> counts(buckets, 0);
    absl::MutexLock lock(&mu_);
    for (const auto& [key, time] : rows_) {
      if (time < start) continue;
      const int64_t b = (time - start) / width;
      if (b < static_cast<int64_t>(buckets)) ++counts[b];
    }
    return counts;
  }

  // What the live feed wrote before the recovery ran.
  void Insert(std::string key, absl::Time time) {
    absl::MutexLock lock(&mu_);
    rows_.emplace(std::move(key), time);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, absl::Time> rows_ ABSL_GUARDED_BY(mu_);
};
// --- end of the example ------------------------------------------------------

JobSpec DaySpec() { return testing::DaySpec("custom-sink"); }

// A borrowing sink, so the test keeps the table across the run and reconcile.
Components With(TableSink* table, int records) {
  Components c;
  c.source = std::make_unique<FakeSource>(DayTimes(records), 10);
  c.mapper = *NewJsonMapper(testing::kFakeRecordMapper);
  c.sink = std::make_unique<SinkWrapper>(table);
  c.checkpoints = NewMemoryCheckpointStore();
  c.dead_letters = NewMemoryDeadLetterStore();
  return c;
}

TEST(CustomSinkTest, TheExampleSkipsWhatTheLiveFeedWroteAndReconcilesComplete) {
  const std::vector<absl::Time> times = DayTimes(240);
  TableSink table;
  for (int i = 0; i < 240; i += 4) table.Insert("r" + std::to_string(i), times[i]);  // a quarter came live

  ReconcileOptions options;
  options.bucket = absl::Hours(6);
  absl::StatusOr<ReconcileReport> before = Reconcile(DaySpec(), With(&table, 240), options);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->vendor, 240u);
  EXPECT_EQ(before->destination, 60u);
  EXPECT_FALSE(before->complete());

  JobSpec spec = DaySpec();
  spec.skip_already_present = true;
  auto b = Backfiller::Create(spec, With(&table, 240));
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_delivered, 180u);
  EXPECT_EQ(r.progress.totals.records_already_present, 60u);

  absl::StatusOr<ReconcileReport> after = Reconcile(DaySpec(), With(&table, 240), options);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->destination, 240u);
  EXPECT_TRUE(after->complete());
}

// Without skip_already_present the sink itself says which it had (as an
// endpoint answering 409 would): they count as already present, not delivered.
TEST(CustomSinkTest, RecordsTheSinkSaysItHadCountAsAlreadyPresent) {
  const std::vector<absl::Time> times = DayTimes(100);
  TableSink table;
  for (int i = 0; i < 100; i += 2) table.Insert("r" + std::to_string(i), times[i]);
  auto b = Backfiller::Create(DaySpec(), With(&table, 100));
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_delivered, 50u);
  EXPECT_EQ(r.progress.totals.records_already_present, 50u);
}

// A callback sink with provenance hands each batch the job, this run's id
// and when it was handed over; a second run of the job is a new run.
TEST(CustomSinkTest, ACallbackSinkWithProvenanceLearnsTheJobTheRunAndTheTime) {
  std::map<std::string, std::set<std::string>> runs_by_job;
  size_t records = 0;
  absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
  auto store = NewMemoryCheckpointStore();
  for (int run = 0; run < 2; ++run) {
    Components c;
    c.source = std::make_unique<FakeSource>(DayTimes(40), 10);
    c.mapper = *NewJsonMapper(testing::kFakeRecordMapper);
    c.sink =
        NewCallbackSinkWithProvenance([&](const Shard&, absl::Span<const Record> batch, const Provenance& p) {
          runs_by_job[std::string(p.job)].insert(std::string(p.run_id));
          records += batch.size();
          first = std::min(first, p.recovered_at);
          last = std::max(last, p.recovered_at);
          return absl::OkStatus();
        });
    c.checkpoints = std::make_unique<testing::SharedStore>(store.get());
    c.dead_letters = NewMemoryDeadLetterStore();
    JobSpec spec = DaySpec();
    spec.max_records = 20;  // the first run stops half way; the second finishes
    const absl::Time before = absl::Now();
    auto b = Backfiller::Create(spec, std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->Run().status.ok());
    EXPECT_GE(last, before);
  }
  EXPECT_EQ(records, 40u);
  ASSERT_EQ(runs_by_job.size(), 1u);
  EXPECT_EQ(runs_by_job.begin()->first, "custom-sink");
  EXPECT_EQ(runs_by_job.begin()->second.size(), 2u);  // one id per run
  EXPECT_FALSE(runs_by_job.begin()->second.begin()->empty());
  EXPECT_LE(first, last);
}

}  // namespace
}  // namespace recovery
