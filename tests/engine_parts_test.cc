// The engine's parts on their own: retry with a fake clock, the pure page
// mapper, counters derived from outcomes, the error budget, progress.
#include <vector>

#include "engine/accounting.h"
#include "engine/page_mapper.h"
#include "engine/retry.h"
#include "engine/sink_marks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/status.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::T;

// A clock that moves only when the retry sleeps, and randomness that always
// picks the top of the range, so every wait is the backoff ceiling.
struct FakeClock {
  absl::Time now = T("2026-11-14T00:00:00Z");
  std::vector<absl::Duration> waits;
  RetryEnv Env() {
    RetryEnv env;
    env.now = [this] { return now; };
    env.sleep = [this](absl::Duration d) {
      waits.push_back(d);
      now += d;
      return true;
    };
    env.uniform = [](int64_t bound) { return bound - 1; };
    return env;
  }
};

RetryPolicy Policy() {
  RetryPolicy p;
  p.initial_backoff = absl::Seconds(1);
  p.max_backoff = absl::Seconds(5);
  p.max_attempts = 6;
  p.max_elapsed = absl::Minutes(1);
  return p;
}

TEST(RetryTest, BacksOffExponentiallyUpToTheCapThenGivesUpNamingTheOperation) {
  FakeClock clock;
  int calls = 0;
  absl::Status s = RetryWithBackoff(Policy(), "fetch page", clock.Env(), [&] {
    ++calls;
    return absl::UnavailableError("503");
  });
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("fetch page: gave up after 6 attempts"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("503"));
  const absl::Duration us = absl::Microseconds(1);
  EXPECT_THAT(clock.waits, ElementsAre(absl::Seconds(1) - us, absl::Seconds(2) - us, absl::Seconds(4) - us,
                                       absl::Seconds(5) - us, absl::Seconds(5) - us));
}

TEST(RetryTest, HonoursRetryAfterAndMaxElapsedAndStopsAtPermanentErrors) {
  FakeClock clock;
  int calls = 0;
  absl::Status s = RetryWithBackoff(Policy(), "x", clock.Env(), [&] {
    absl::Status busy = absl::UnavailableError("429");
    SetRetryAfter(busy, absl::Seconds(40));
    return ++calls == 1 ? busy : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok());
  EXPECT_THAT(clock.waits, ElementsAre(absl::Seconds(40)));  // longer than the backoff

  FakeClock slow;  // a wait that would pass max_elapsed gives up instead
  s = RetryWithBackoff(Policy(), "x", slow.Env(), [&] {
    absl::Status busy = absl::UnavailableError("429");
    SetRetryAfter(busy, absl::Minutes(2));
    return busy;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(slow.waits.empty());

  calls = 0;
  s = RetryWithBackoff(Policy(), "x", clock.Env(), [&] {
    ++calls;
    return absl::PermissionDeniedError("403");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);

  RetryEnv stopping = clock.Env();
  stopping.sleep = [](absl::Duration) { return false; };
  s = RetryWithBackoff(Policy(), "x", stopping, [] { return absl::UnavailableError("503"); });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
}

class EmitIdMapper : public Mapper {
 public:
  // {"t":"<time>"} in window or out; "drop" dropped; anything else rejected.
  MapOutcome Map(const RawRecord& raw, const Shard&, RecordBatch* out, std::string* reason) const override {
    if (raw.data == "drop") return MapOutcome::kDropped;
    if (raw.data.rfind("t=", 0) != 0) {
      *reason = "no time";
      return MapOutcome::kRejected;
    }
    out->Add(raw.data, T(std::string(raw.data.substr(2)).c_str()), raw.data, false);
    return MapOutcome::kEmitted;
  }
  // "bad@<time>": rejected by Map, but its time can be read.
  absl::Time EventTimeOf(const RawRecord& raw) const override {
    if (raw.data.rfind("bad@", 0) != 0) return kUnknownEventTime;
    return T(std::string(raw.data.substr(4)).c_str());
  }
};

TEST(PageMapperTest, GivesEveryRawRecordOneOutcomeAndCountsFollowFromThem) {
  Shard shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-14T01:00:00Z")};
  Page page;
  page.records.Add("t=2026-11-14T00:10:00Z");
  page.records.Add("t=2026-11-14T05:00:00Z");  // outside the shard
  page.records.Add("drop");
  page.records.Add("garbage");
  page.records.AddError("xx", "line too long");
  page.records.Add("t=2026-11-14T00:50:00Z");
  page.bytes = 99;
  EmitIdMapper mapper;
  MappedPage mapped;
  const JobWindow job{T("2026-11-14T00:00:00Z"), T("2026-11-14T03:00:00Z")};  // 05:00 is outside it too
  MapPage(mapper, shard, job, page.records, /*owns_rejects=*/true, /*claims=*/nullptr, &mapped);
  EXPECT_THAT(mapped.outcomes, ElementsAre(RecordOutcome::kDelivered, RecordOutcome::kOutOfWindow,
                                           RecordOutcome::kDropped, RecordOutcome::kDeadLettered,
                                           RecordOutcome::kDeadLettered, RecordOutcome::kDelivered));
  EXPECT_THAT(mapped.origin, ElementsAre(0u, 5u));
  ASSERT_EQ(mapped.dead.size(), 2u);
  EXPECT_EQ(mapped.dead[0].reason, "no time");
  EXPECT_EQ(mapped.dead[1].reason, "line too long");
  EXPECT_EQ(mapped.max_event_time, T("2026-11-14T00:50:00Z"));

  // The sink refuses the second delivered record: it becomes a dead letter.
  mapped.written.rejected.push_back({1, "too big"});
  ASSERT_TRUE(ApplyWriteResult(page.records, &mapped).ok());
  ShardCounters c = PageCounters(page, mapped, /*dry_run=*/false);
  EXPECT_EQ(c.records_fetched, 6u);
  EXPECT_EQ(c.records_delivered, 1u);
  EXPECT_EQ(c.dead_letters, 3u);
  EXPECT_EQ(c.records_dropped, 1u);
  EXPECT_EQ(c.records_out_of_window, 1u);
  EXPECT_EQ(c.records_of_other_shards, 0u);
  EXPECT_EQ(c.pages, 1u);
  EXPECT_EQ(c.bytes, 99u);
  EXPECT_EQ(PageCounters(page, mapped, /*dry_run=*/true).records_delivered, 0u);
  std::map<int64_t, uint64_t> coverage;
  AddCoverage(mapped, &coverage);
  EXPECT_EQ(coverage.size(), 1u);  // only the record the sink took
  // Per hour: the refused record (00:50) and the bad one with no time are
  // dead letters, but only the one whose time is known has an hour; 05:00
  // is outside the job's window.
  std::map<int64_t, HourOutcomes> hours;
  AddHourOutcomes(mapped, &hours);
  const int64_t midnight = absl::ToUnixSeconds(T("2026-11-14T00:00:00Z"));
  EXPECT_THAT(hours, ElementsAre(std::pair(midnight, HourOutcomes{.dead_letters = 1}),
                                 std::pair(midnight + 5 * 3600, HourOutcomes{.out_of_window = 1})));
  mapped.written.rejected = {{7, "no such record"}};
  EXPECT_EQ(ApplyWriteResult(page.records, &mapped).code(), absl::StatusCode::kInternal);

  // A shard that does not own unmappable records counts them out of window,
  // as another shard's.
  MapPage(mapper, shard, job, page.records, /*owns_rejects=*/false, /*claims=*/nullptr, &mapped);
  EXPECT_TRUE(mapped.dead.empty());
  EXPECT_EQ(mapped.outcomes[3], RecordOutcome::kOutOfWindow);
  EXPECT_EQ(mapped.other_shards, 2u);  // "garbage" and "xx"; 05:00 is outside the job
}

// Out-of-window records keep their hours only within a day of the job's
// window: an API that ignores its filter and returns years of records must
// not grow every checkpoint by an entry per hour of them.
TEST(PageMapperTest, OnlyRecordsNearTheJobsWindowKeepTheirHours) {
  Shard shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-14T01:00:00Z")};
  Page page;
  page.records.Add("t=2026-11-13T02:30:00Z");  // 22 h before the job: kept by the hour
  page.records.Add("t=2026-11-15T01:59:00Z");  // 23 h after it: kept
  page.records.Add("t=2026-11-12T00:00:00Z");  // two days before: counted only
  page.records.Add("t=2019-06-01T00:00:00Z");  // years before: counted only
  EmitIdMapper mapper;
  MappedPage mapped;
  MapPage(mapper, shard, {shard.start, T("2026-11-14T03:00:00Z")}, page.records, true, nullptr, &mapped);
  EXPECT_EQ(PageCounters(page, mapped, false).records_out_of_window, 4u);
  std::map<int64_t, HourOutcomes> hours;
  AddHourOutcomes(mapped, &hours);
  EXPECT_THAT(
      hours,
      ElementsAre(
          std::pair(absl::ToUnixSeconds(T("2026-11-13T02:00:00Z")), HourOutcomes{.out_of_window = 1}),
          std::pair(absl::ToUnixSeconds(T("2026-11-15T01:00:00Z")), HourOutcomes{.out_of_window = 1})));
}

// An API that ignores the window hands every shard the same bad records.
TEST(PageMapperTest, ABadRecordIsDeadLetteredOnceByItsOwnShardOrByTheFirstClaimant) {
  Shard first{"a", 0, T("2026-11-14T00:00:00Z"), T("2026-11-14T01:00:00Z")};
  Shard second{"b", 1, T("2026-11-14T01:00:00Z"), T("2026-11-14T02:00:00Z")};
  Page page;
  page.records.Add("bad@2026-11-14T00:30:00Z");  // unmappable, but its time says: shard a
  page.records.Add("bad@2026-11-14T01:30:00Z");  // shard b
  page.records.Add("garbage");                   // no time at all: whoever claims it first
  EmitIdMapper mapper;
  RejectClaims claims;
  MappedPage a, b;
  const JobWindow job{first.start, second.end};
  MapPage(mapper, first, job, page.records, true, &claims, &a);
  MapPage(mapper, second, job, page.records, true, &claims, &b);
  EXPECT_THAT(a.outcomes, ElementsAre(RecordOutcome::kDeadLettered, RecordOutcome::kOutOfWindow,
                                      RecordOutcome::kDeadLettered));
  EXPECT_THAT(b.outcomes, ElementsAre(RecordOutcome::kOutOfWindow, RecordOutcome::kDeadLettered,
                                      RecordOutcome::kOutOfWindow));
  EXPECT_EQ(claims.size(), 1u);
  EXPECT_EQ(a.other_shards, 1u);  // b's bad record
  EXPECT_EQ(b.other_shards, 2u);  // a's, and the one a claimed
  MapPage(mapper, first, job, page.records, true, &claims,
          &a);  // a later page, or a rerun, of the same shard
  EXPECT_EQ(a.outcomes[2], RecordOutcome::kOutOfWindow);
}

TEST(SinkMarksTest, TellsWhereEachShardLastWasWithItsBatchAndKnowsNothingOfOthers) {
  testing::TempDir dir;
  const absl::Time t1 = absl::FromUnixMicros(1'796'579'867'897'314);
  const absl::Time t2 = t1 + absl::Microseconds(1);
  {
    std::unique_ptr<SinkMarks> marks = SinkMarks::OpenIn(dir.path(), "job");
    ASSERT_NE(marks, nullptr);
    EXPECT_EQ(marks->Last(0, t1), SinkMarks::Where::kUnknown);  // no mark yet
    marks->Enter(0, t1);
    marks->Enter(5, t2);
    marks->Leave(5, t2);
  }
  // A later process of the job (the marks outlive the one that wrote them).
  std::unique_ptr<SinkMarks> marks = SinkMarks::OpenIn(dir.path(), "job");
  ASSERT_NE(marks, nullptr);
  EXPECT_EQ(marks->Last(0, t1), SinkMarks::Where::kInSink);
  EXPECT_EQ(marks->Last(5, t2), SinkMarks::Where::kOutside);
  // A mark speaks only for the batch it was made for, and only its shard's.
  EXPECT_EQ(marks->Last(5, t1), SinkMarks::Where::kUnknown);
  EXPECT_EQ(marks->Last(3, t1), SinkMarks::Where::kUnknown);
  EXPECT_EQ(marks->Last(9, t1), SinkMarks::Where::kUnknown);  // past the end of the file
  EXPECT_EQ(marks->Last(-1, t1), SinkMarks::Where::kUnknown);
  // Another job's marks are its own.
  std::unique_ptr<SinkMarks> other = SinkMarks::OpenIn(dir.path(), "other job");
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->path(), marks->path());
  EXPECT_EQ(other->Last(0, t1), SinkMarks::Where::kUnknown);
  // Where no file can be made, there are no marks (and the breaker counts
  // every death, as it did without them).
  EXPECT_EQ(SinkMarks::OpenIn(dir.File("missing"), "job"), nullptr);
}

TEST(AccountingTest, BudgetAndProgress) {
  ErrorBudget budget;
  budget.max_count = 2;
  ShardCounters totals;
  totals.dead_letters = 2;
  EXPECT_FALSE(BudgetSpent(budget, totals).has_value());
  totals.dead_letters = 3;
  EXPECT_THAT(*BudgetSpent(budget, totals), HasSubstr("exceed error_budget.max_count (2)"));
  budget.max_count = -1;
  budget.max_fraction = 0.01;
  budget.min_records = 1000;
  totals.records_fetched = 999;
  EXPECT_FALSE(BudgetSpent(budget, totals).has_value());  // too few records to judge
  totals.records_fetched = 1000;
  EXPECT_FALSE(BudgetSpent(budget, totals).has_value());  // 0.3 %
  totals.dead_letters = 11;
  ASSERT_TRUE(BudgetSpent(budget, totals).has_value());
  EXPECT_THAT(*BudgetSpent(budget, totals), HasSubstr("(1.10 %) exceed error_budget.max_fraction (1.00 %)"));

  std::vector<Shard> plan = *PlanShards(T("2026-11-14T00:00:00Z"), T("2026-11-14T04:00:00Z"), absl::Hours(1));
  ProgressTracker tracker(plan, T("2026-11-14T00:00:00Z"), T("2026-11-14T04:00:00Z"));
  Checkpoint done;
  done.state = ShardState::kDone;
  done.counters.records_delivered = 10;
  tracker.Start({&done, nullptr, nullptr, nullptr}, T("2026-11-14T10:00:00Z"));
  Checkpoint half;
  half.state = ShardState::kRunning;
  half.progress = 0.5;
  ShardCounters page;
  page.records_delivered = 5;
  tracker.AddPage(1, page, half, 5);
  Progress p = tracker.Snapshot(T("2026-11-14T10:00:10Z"));
  EXPECT_EQ(p.totals.records_delivered, 15u);
  EXPECT_EQ(p.records_this_run, 5u);
  EXPECT_EQ(p.shards_done, 1);
  EXPECT_EQ(p.shards_running, 1);
  EXPECT_DOUBLE_EQ(p.window_fraction, 0.375);
  EXPECT_DOUBLE_EQ(p.records_per_second, 0.5);
  EXPECT_EQ(p.eta, absl::Seconds(50));  // 0.125 of the window in 10 s, 0.625 to go
}

}  // namespace
}  // namespace recovery
