// The delivery contract, proved against in-memory fakes and real files.
#include "recovery/backfiller.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "testing/fakes.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using testing::DayTimes;
using testing::Delivered;
using testing::FakeSource;
using ::testing::HasSubstr;
using testing::RecordingSink;
using testing::SharedStore;
using testing::T;

constexpr char kMapper[] = R"({"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                               "key":{"from":"/id"},"event_time":{"from":"/ts"}})";

JobSpec Spec() {
  JobSpec spec;
  spec.name = "test-job";
  spec.start = T("2026-11-14T00:00:00Z");
  spec.end = T("2026-11-15T00:00:00Z");
  spec.shard_duration = absl::Hours(6);
  spec.concurrency = 3;
  spec.retry.initial_backoff = absl::Milliseconds(1);
  spec.retry.max_backoff = absl::Milliseconds(5);
  spec.retry.max_attempts = 4;
  spec.error_budget.max_fraction = 1;
  return spec;
}

class BackfillerTest : public ::testing::Test {
 protected:
  // Runs the job once with the shared checkpoint store and dead letters, or
  // with `checkpoints` and `dead_letters` when given.
  RunResult Run(JobSpec spec, std::unique_ptr<recovery::Source> source, std::unique_ptr<Sink> sink,
                BackfillerOptions options = {}, std::unique_ptr<CheckpointStore> checkpoints = nullptr,
                std::unique_ptr<DeadLetterStore> dead_letters = nullptr) {
    Components c;
    c.source = std::move(source);
    c.mapper = *NewJsonMapper(kMapper);
    c.sink = std::move(sink);
    c.checkpoints = checkpoints ? std::move(checkpoints)
                                : std::unique_ptr<CheckpointStore>(new SharedStore(store_.get()));
    c.dead_letters = dead_letters ? std::move(dead_letters) : NewMemoryDeadLetterStore(&dead_);
    auto b = Backfiller::Create(std::move(spec), std::move(c), std::move(options));
    EXPECT_TRUE(b.ok()) << b.status();
    backfiller_ = *std::move(b);
    return backfiller_->Run();
  }

  std::unique_ptr<recovery::Source> Records(int n, int page_size = 10) {
    return std::make_unique<FakeSource>(DayTimes(n), page_size);
  }

  std::unique_ptr<CheckpointStore> store_ = NewMemoryCheckpointStore();
  std::vector<StoredDeadLetter> dead_;
  std::vector<Delivered> delivered_;
  std::unique_ptr<Backfiller> backfiller_;
};

std::multiset<std::string> Keys(const std::vector<Delivered>& d) {
  std::multiset<std::string> keys;
  for (const Delivered& x : d) keys.insert(x.key);
  return keys;
}

std::set<std::string> UniqueKeys(const std::vector<Delivered>& d) {
  std::multiset<std::string> keys = Keys(d);
  return std::set<std::string>(keys.begin(), keys.end());
}

std::set<std::string> AllKeys(int n) {
  std::set<std::string> keys;
  for (int i = 0; i < n; ++i) keys.insert("r" + std::to_string(i));
  return keys;
}

TEST_F(BackfillerTest, DeliversEveryRecordOnceAcrossConcurrentShards) {
  std::vector<Progress> progress;
  BackfillerOptions options;
  options.on_progress = [&](const Progress& p) { progress.push_back(p); };
  RunResult r = Run(Spec(), Records(1000), std::make_unique<RecordingSink>(&delivered_), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.complete);
  std::multiset<std::string> keys = Keys(delivered_);
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), AllKeys(1000));
  for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered);
  EXPECT_EQ(r.progress.totals.records_delivered, 1000u);
  EXPECT_EQ(r.progress.totals.pages, 100u + 0u);
  EXPECT_EQ(r.progress.shards_done, 4);
  EXPECT_DOUBLE_EQ(r.progress.window_fraction, 1.0);
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back().window_fraction, 1.0);
  for (const ShardReport& s : r.shards) EXPECT_EQ(s.state, ShardState::kDone);
}

TEST_F(BackfillerTest, CheckpointMovesPastABatchOnlyAfterTheSinkAcknowledgedIt) {
  CheckpointStore* store = store_.get();
  std::vector<std::string> violations;
  auto sink =
      std::make_unique<RecordingSink>(&delivered_, [&](const Shard& shard, const RecordBatch& batch, int) {
        // While the batch is being delivered the checkpoint still points at its start, marked in flight.
        auto ck = store->Load("test-job", shard.id);
        if (!ck.ok() || !ck->has_value() || !(*ck)->in_flight) violations.push_back("not in flight");
        const std::string first = std::string(batch.records()[0].key);
        (void)first;
        return absl::OkStatus();
      });
  RunResult r = Run(Spec(), Records(200), std::move(sink));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(violations.empty()) << violations.size();
  for (const ShardReport& s : r.shards) EXPECT_FALSE(s.checkpoint.in_flight);
}

// Counts the saves that reach the store.
class SaveCounter : public CheckpointStoreWrapper {
 public:
  explicit SaveCounter(CheckpointStore* target) : CheckpointStoreWrapper(target) {}
  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& checkpoint) override {
    saves_.fetch_add(1);
    return CheckpointStoreWrapper::Save(job, shard_id, checkpoint);
  }
  int saves() const { return saves_.load(); }

 private:
  std::atomic<int> saves_{0};
};

// One shard of 50 records, 10 a page.
JobSpec OneShard() {
  JobSpec spec = Spec();
  spec.shard_duration = absl::Hours(24);
  spec.concurrency = 1;
  return spec;
}

// With a sink that cannot roll back, a page waits for one durable save of its
// own: the in-flight mark of the next page carries the commit of the one
// before (PageCommitter::SaveTrailing).
TEST_F(BackfillerTest, EachPageSavesOnceTheNextMarkCarryingTheCommitBeforeIt) {
  auto counter = std::make_unique<SaveCounter>(store_.get());
  SaveCounter* saves = counter.get();
  CheckpointStore* store = store_.get();
  std::vector<std::string> durable_at_write;  // the saved cursor each batch found
  auto sink = std::make_unique<RecordingSink>(&delivered_, [&](const Shard& shard, const RecordBatch&, int) {
    auto ck = store->Load("test-job", shard.id);
    durable_at_write.push_back(ck.ok() && ck->has_value() && (*ck)->in_flight ? (*ck)->cursor
                                                                              : "not in flight");
    return absl::OkStatus();
  });
  RunResult r = Run(OneShard(), Records(50), std::move(sink), {}, std::move(counter));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(50));
  EXPECT_EQ(durable_at_write, std::vector<std::string>({"", "10", "20", "30", "40"}));
  // Five marks and the commit that finishes the shard; two saves a page would be eleven.
  EXPECT_EQ(saves->saves(), 6);
  auto ck = store_->Load("test-job", r.shards[0].shard.id);
  ASSERT_TRUE(ck.ok() && ck->has_value());
  EXPECT_EQ((*ck)->state, ShardState::kDone);
}

// A run that stops before its shard is done (here the record limit) saves the
// commit that was trailing: the next run does not take the last page for one
// in flight.
TEST_F(BackfillerTest, ARunThatStopsEarlySavesTheCommitThatWasTrailing) {
  JobSpec spec = OneShard();
  spec.max_records = 25;
  RunResult r = Run(spec, Records(50), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(delivered_.size(), 25u);
  auto ck = store_->Load("test-job", r.shards[0].shard.id);
  ASSERT_TRUE(ck.ok() && ck->has_value());
  EXPECT_FALSE((*ck)->in_flight);
  EXPECT_EQ((*ck)->counters.records_delivered, 25u);
  EXPECT_EQ((*ck)->page_taken, 5u);
}

// A fetch that failed may take long to succeed: the commit that was trailing
// is saved before it is tried again.
TEST_F(BackfillerTest, AFailedFetchSavesTheTrailingCommitBeforeItIsTriedAgain) {
  CheckpointStore* store = store_.get();
  std::vector<std::string> durable_at_fetch;  // "cursor" or "cursor in flight", at fetches 3 and 4
  auto source = std::make_unique<FakeSource>(DayTimes(50), 10);
  source->set_fetch_hook([&](const Shard& shard, int n) {
    if (n == 3 || n == 4) {
      auto ck = store->Load("test-job", shard.id);
      EXPECT_TRUE(ck.ok() && ck->has_value());
      if (ck.ok() && ck->has_value())
        durable_at_fetch.push_back((*ck)->cursor + ((*ck)->in_flight ? " in flight" : ""));
    }
    return n == 3 ? absl::UnavailableError("503 from vendor") : absl::OkStatus();
  });
  RunResult r = Run(OneShard(), std::move(source), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(50));
  // The first try found the second page's mark; the second, the second page committed.
  EXPECT_EQ(durable_at_fetch, std::vector<std::string>({"10 in flight", "20"}));
}

// A source that acknowledges in Commit() (a queue, a lease) finds the page's
// checkpoint saved by then: its commit does not trail.
TEST_F(BackfillerTest, ASourceThatAcknowledgesInCommitFindsThePageSavedFirst) {
  class Acknowledging : public SourceWrapper {
   public:
    Acknowledging(std::unique_ptr<Source> target, CheckpointStore* store, std::vector<std::string>* seen)
        : SourceWrapper(std::move(target)), store_(store), seen_(seen) {}
    bool commit_needs_saved_checkpoint() const override { return true; }
    absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                      const ShardContext& context) override {
      absl::StatusOr<std::unique_ptr<ShardReader>> inner = SourceWrapper::Open(shard, cursor, context);
      if (!inner.ok()) return inner.status();
      return std::unique_ptr<ShardReader>(new Reader(*std::move(inner), shard, this));
    }

   private:
    class Reader : public ShardReader {
     public:
      Reader(std::unique_ptr<ShardReader> inner, Shard shard, Acknowledging* source)
          : inner_(std::move(inner)), shard_(std::move(shard)), source_(source) {}
      absl::Status Next(Page* page) override { return inner_->Next(page); }
      absl::Status Commit(const Page& page, absl::Span<const RecordOutcome>) override {
        auto ck = source_->store_->Load("test-job", shard_.id);
        const bool saved =
            ck.ok() && ck->has_value() && !(*ck)->in_flight && (*ck)->cursor == page.next_cursor;
        source_->seen_->push_back(saved ? page.next_cursor : "not saved at " + page.next_cursor);
        return absl::OkStatus();
      }

     private:
      std::unique_ptr<ShardReader> inner_;
      Shard shard_;
      Acknowledging* source_;
    };
    CheckpointStore* store_;
    std::vector<std::string>* seen_;
  };
  std::vector<std::string> seen;
  RunResult r = Run(OneShard(), std::make_unique<Acknowledging>(Records(50), store_.get(), &seen),
                    std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(50));
  EXPECT_EQ(seen, std::vector<std::string>({"10", "20", "30", "40", "50"}));
}

// A dead-letter file is one shared token, so the pages that write letters
// commit one at a time; the sinks of the other pages are written
// concurrently all the same.
TEST_F(BackfillerTest, ADeadLetterFileDoesNotSerializeTheSinkOfPagesWithoutLetters) {
  testing::TempDir dir;
  absl::Mutex mu;
  int waiting = 0, waited = 0;
  bool overlapped = false;
  auto sink = std::make_unique<RecordingSink>(&delivered_, [&](const Shard&, const RecordBatch&, int) {
    absl::MutexLock lock(&mu);
    if (waited == 2) return absl::OkStatus();  // the first two writes wait for each other; the rest go on
    ++waited;
    // Two shards in the sink at once, unless their writes are serialized (then this waits in vain).
    if (++waiting == 2) overlapped = true;
    mu.AwaitWithTimeout(absl::Condition(&overlapped), absl::Seconds(30));
    --waiting;
    return absl::OkStatus();
  });
  auto source = std::make_unique<FakeSource>(DayTimes(200), 10);
  source->set_bad_record(15, "not json");  // shard 0 writes a letter
  RunResult r = Run(Spec(), std::move(source), std::move(sink), {}, nullptr,
                    *NewFileDeadLetterStore(dir.File("dead.jsonl")));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(overlapped);
  std::set<std::string> expected = AllKeys(200);
  expected.erase("r15");
  EXPECT_EQ(Keys(delivered_), std::multiset<std::string>(expected.begin(), expected.end()));
  EXPECT_EQ(testing::ReadLines(dir.File("dead.jsonl")).size(), 1u);
}

// A shared sink that defers its sync to commit groups (as the fsync'ed
// JSON-lines file does) over a store that cannot save several checkpoints as
// one (the PostgreSQL store): no groups, so each batch is synced before a
// checkpoint vouches for it.
TEST_F(BackfillerTest, ASinkThatDefersItsSyncIsSyncedBeforeACheckpointOutsideAGroupVouchesForIt) {
  class DeferringSink : public Sink {
   public:
    absl::Status Write(const WriteRequest& request, WriteResult* result) override {
      absl::MutexLock lock(&mu_);
      written_ += request.batch.size();
      result->commit_token = std::to_string(written_);
      return absl::OkStatus();
    }
    absl::Status Sync() override {
      absl::MutexLock lock(&mu_);
      synced_ = written_;
      return absl::OkStatus();
    }
    SinkTraits traits() const override {
      SinkTraits t;
      t.serialize_commits = true;
      t.defers_sync = true;
      t.rolls_back_uncommitted = true;
      return t;
    }
    uint64_t synced() {
      absl::MutexLock lock(&mu_);
      return synced_;
    }

   private:
    absl::Mutex mu_;
    uint64_t written_ = 0, synced_ = 0;
  };
  class OneAtATime : public CheckpointStoreWrapper {
   public:
    OneAtATime(CheckpointStore* target, DeferringSink* sink) : CheckpointStoreWrapper(target), sink_(sink) {}
    bool saves_atomically() const override { return false; }
    absl::Status Save(std::string_view job, std::string_view shard_id,
                      const Checkpoint& checkpoint) override {
      uint64_t token = 0;
      if (absl::SimpleAtoi(checkpoint.sink_token, &token) && token > sink_->synced()) unsynced_.fetch_add(1);
      saves_.fetch_add(1);
      return CheckpointStoreWrapper::Save(job, shard_id, checkpoint);
    }
    int unsynced() const { return unsynced_.load(); }
    int saves() const { return saves_.load(); }

   private:
    DeferringSink* sink_;
    std::atomic<int> unsynced_{0}, saves_{0};
  };
  auto sink = std::make_unique<DeferringSink>();
  auto store = std::make_unique<OneAtATime>(store_.get(), sink.get());
  OneAtATime* saved = store.get();
  RunResult r = Run(Spec(), Records(200), std::move(sink), {}, std::move(store));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_delivered, 200u);
  EXPECT_GE(saved->saves(), 20);
  EXPECT_EQ(saved->unsynced(), 0) << "checkpoints saved vouching for a sink's unsynced bytes";
}

TEST_F(BackfillerTest, TheBatchInFlightAtAFailureIsRedeliveredFlaggedAndNoOtherRecordIs) {
  JobSpec spec = Spec();
  spec.concurrency = 1;
  // Run 1: the third write fails permanently after the batch was marked in flight.
  auto failing = std::make_unique<RecordingSink>(&delivered_, [](const Shard&, const RecordBatch&, int n) {
    return n == 3 ? absl::InternalError("sink crashed") : absl::OkStatus();
  });
  RunResult first = Run(spec, Records(400), std::move(failing));
  EXPECT_EQ(first.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(first.status.message()),
              HasSubstr("shard 20261114T000000Z-20261114T060000Z stopped at cursor \"20\""));
  EXPECT_EQ(delivered_.size(), 20u + 300u);  // the other shards went on
  ASSERT_TRUE(first.shards[0].checkpoint.in_flight);
  EXPECT_EQ(first.shards[0].state, ShardState::kFailed);

  // Run 2 resumes: exactly the failed batch (records 20..29 of shard 0) carries the flag.
  delivered_.clear();
  RunResult second = Run(spec, Records(400), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(second.status.ok()) << second.status;
  std::set<std::string> flagged;
  for (const Delivered& d : delivered_) {
    if (d.maybe_redelivered) flagged.insert(d.key);
  }
  std::set<std::string> expected;
  for (int i = 20; i < 30; ++i) expected.insert("r" + std::to_string(i));
  EXPECT_EQ(flagged, expected);
  EXPECT_EQ(delivered_.size(), 80u);
}

// A sink that drops on resume whatever no checkpoint vouches for (the
// JSON-lines file) never receives a batch twice, so the engine spares the
// in-flight mark: no flag after a failure.
TEST_F(BackfillerTest, ASinkThatRollsBackUncommittedWritesIsNotMarkedInFlight) {
  class RollingBackSink : public RecordingSink {
   public:
    using RecordingSink::RecordingSink;
    SinkTraits traits() const override {
      SinkTraits t;
      t.rolls_back_uncommitted = true;
      return t;
    }
  };
  CheckpointStore* store = store_.get();
  JobSpec spec = Spec();
  spec.concurrency = 1;
  std::vector<std::string> marked, unsaved;
  RunResult first =
      Run(spec, Records(400),
          std::make_unique<RollingBackSink>(&delivered_, [&](const Shard& shard, const RecordBatch&, int n) {
            auto ck = store->Load("test-job", shard.id);
            // Saved, though, before the first write: only a job that has a
            // checkpoint rolls its sink back when it resumes.
            if (!ck.ok() || !ck->has_value()) unsaved.push_back(shard.id);
            if (ck.ok() && ck->has_value() && (*ck)->in_flight) marked.push_back(shard.id);
            return n == 3 ? absl::InternalError("sink crashed") : absl::OkStatus();
          }));
  EXPECT_EQ(first.status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(marked.empty()) << marked.front();
  EXPECT_TRUE(unsaved.empty()) << unsaved.front();
  EXPECT_FALSE(first.shards[0].checkpoint.in_flight);
  EXPECT_EQ(first.shards[0].checkpoint.cursor, "20");

  delivered_.clear();
  RunResult second = Run(spec, Records(400), std::make_unique<RollingBackSink>(&delivered_));
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(delivered_.size(), 80u);  // the failed batch and the rest of shard 0
  for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered) << d.key;
}

TEST_F(BackfillerTest, TransientFaultsAreRetriedHonouringRetryAfter) {
  auto source = std::make_unique<FakeSource>(DayTimes(100), 10);
  source->set_fetch_hook([](const Shard& shard, int n) {
    if (shard.index == 1 && n <= 2) {
      absl::Status s = absl::UnavailableError("503 from vendor");
      SetRetryAfter(s, absl::Milliseconds(30));
      return s;
    }
    return absl::OkStatus();
  });
  auto sink = std::make_unique<RecordingSink>(&delivered_, [&](const Shard&, const RecordBatch&, int n) {
    return n == 2 ? absl::DeadlineExceededError("sink timeout") : absl::OkStatus();  // n counts under a lock
  });
  std::vector<double> waits;
  BackfillerOptions options;
  options.on_log = [&](const LogEvent& e) {
    if (e.message != "transient failure, retrying") return;
    simdjson::dom::parser p;
    double wait = p.parse(std::string(e.fields_json))["retry_in_s"].get_double().value();
    waits.push_back(wait);
  };
  RunResult r = Run(Spec(), std::move(source), std::move(sink), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.retries, 3u);
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(100));
  ASSERT_EQ(waits.size(), 3u);
  int honoured = 0;
  for (double w : waits) honoured += w >= 0.030;
  EXPECT_GE(honoured, 2);
  // The batch retried after the sink timeout is flagged: the failed attempt may have landed.
  int flagged = 0;
  for (const Delivered& d : delivered_) flagged += d.maybe_redelivered;
  EXPECT_EQ(flagged, 10);
}

TEST_F(BackfillerTest, RunningOutOfRetriesStopsTheShardWithItsCheckpointIntact) {
  auto source = std::make_unique<FakeSource>(DayTimes(100), 10);
  source->set_fetch_hook([](const Shard& shard, int n) {
    return shard.index == 2 && n >= 2 ? absl::UnavailableError("connection reset") : absl::OkStatus();
  });
  RunResult r = Run(Spec(), std::move(source), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(
      std::string(r.status.message()),
      HasSubstr("shard 20261114T120000Z-20261114T180000Z stopped at cursor \"10\": fetch page: fetch page: "
                "gave up after 4 attempts"));
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.shards[2].state, ShardState::kFailed);
  EXPECT_EQ(r.shards[2].checkpoint.cursor, "10");
  EXPECT_EQ(r.shards[3].state, ShardState::kDone);  // the other shards went on

  // A re-run resumes only what is left.
  RunResult again = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(Keys(delivered_).size(), 100u);
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(100));
}

TEST_F(BackfillerTest, PermanentErrorsFailFastWithoutRetrying) {
  auto source = std::make_unique<FakeSource>(DayTimes(100), 10);
  int calls = 0;
  source->set_fetch_hook([&](const Shard& shard, int) {
    if (shard.index != 0) return absl::OkStatus();
    ++calls;
    return absl::InvalidArgumentError("HTTP 401 for GET https://api/tx: bad token");
  });
  RunResult r = Run(Spec(), std::move(source), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.progress.totals.retries, 0u);
}

TEST_F(BackfillerTest, UnmappableRecordsGoToDeadLettersUntilTheBudgetIsSpent) {
  auto source = std::make_unique<FakeSource>(DayTimes(100), 10);
  source->set_bad_record(3, R"({"ts":"2026-11-14T00:43:12Z"})");
  source->set_bad_record(4, "garbage");
  JobSpec spec = Spec();
  spec.error_budget.max_count = 5;
  RunResult r = Run(spec, std::move(source), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(delivered_.size(), 98u);
  ASSERT_EQ(dead_.size(), 2u);
  EXPECT_EQ(dead_[0].reason, "key (/id): expected a string or number, got nothing (missing)");
  EXPECT_EQ(dead_[0].raw, R"({"ts":"2026-11-14T00:43:12Z"})");
  EXPECT_EQ(dead_[0].cursor, "");
  EXPECT_EQ(dead_[0].index, 3u);
  EXPECT_THAT(dead_[1].reason, HasSubstr("invalid JSON"));
  EXPECT_EQ(r.progress.totals.dead_letters, 2u);

  auto worse = std::make_unique<FakeSource>(DayTimes(100), 10);
  // Distinct records: identical bytes with no readable time are one record,
  // dead-lettered once per job (an API that ignores its window repeats them).
  for (int i = 0; i < 10; ++i) worse->set_bad_record(i * 10, "{\"bad\":" + std::to_string(i) + "}");
  store_ = NewMemoryCheckpointStore();
  dead_.clear();
  RunResult failed = Run(spec, std::move(worse), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(failed.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(failed.status.message()), HasSubstr("exceed error_budget.max_count (5)"));
  EXPECT_FALSE(failed.complete);
}

TEST_F(BackfillerTest, BudgetFractionIsJudgedAfterMinRecords) {
  auto source = std::make_unique<FakeSource>(DayTimes(100), 10);
  source->set_bad_record(0, "{}");
  JobSpec spec = Spec();
  spec.concurrency = 1;
  spec.error_budget.max_fraction = 0.05;
  spec.error_budget.min_records = 50;
  RunResult r = Run(spec, std::move(source), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_TRUE(r.status.ok()) << r.status;  // 1 % once 50 were seen

  auto bad = std::make_unique<FakeSource>(DayTimes(100), 10);
  for (int i = 0; i < 100; i += 10)
    bad->set_bad_record(i, "{\"bad\":" + std::to_string(i) + "}");  // distinct records
  store_ = NewMemoryCheckpointStore();
  r = Run(spec, std::move(bad), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("exceed error_budget.max_fraction (5.00 %)"));
}

TEST_F(BackfillerTest, RecordsOutsideTheShardAreDroppedAndCounted) {
  std::vector<absl::Time> times = DayTimes(40);
  auto source = std::make_unique<FakeSource>(times, 10);
  JobSpec spec = Spec();
  spec.start = T("2026-11-14T06:00:00Z");  // the first shard's records lie before the window
  spec.end = T("2026-11-14T18:00:00Z");
  RunResult r = Run(spec, std::move(source), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(delivered_.size(), 20u);
}

// A queue-like source: one page of fixed messages with ids, every outcome it
// is told at commit remembered.
class QueueSource : public recovery::Source, public QueueDescription {
 public:
  explicit QueueSource(std::vector<std::string> bodies) : bodies_(std::move(bodies)) {}
  bool plans_one_shard() const override { return true; }
  QueueDescription* queue_description() override { return this; }  // a receive is never fetched again
  absl::StatusOr<QueueFacts> Describe() override { return QueueFacts(); }
  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view,
                                                    const ShardContext&) override {
    shards.push_back(shard);
    return std::unique_ptr<ShardReader>(new Reader(this));
  }
  std::vector<Shard> shards;
  std::vector<RecordOutcome> outcomes;

 private:
  class Reader : public ShardReader {
   public:
    explicit Reader(QueueSource* q) : q_(q) {}
    absl::Status Next(Page* page) override {
      for (size_t i = 0; i < q_->bodies_.size(); ++i) {
        if (q_->bodies_[i] == "poison") {
          page->records.AddError("poison", "received 9 times", "m" + std::to_string(i));
        } else {
          page->records.Add(q_->bodies_[i], false, "m" + std::to_string(i));
        }
      }
      page->exhausted = true;
      return absl::OkStatus();
    }
    absl::Status Commit(const Page&, absl::Span<const RecordOutcome> outcomes) override {
      q_->outcomes.assign(outcomes.begin(), outcomes.end());
      return absl::OkStatus();
    }

   private:
    QueueSource* q_;
  };
  std::vector<std::string> bodies_;
};

// Rejects the record whose key is "r2", as a destination's size limit would,
// and (with `conflict`) says it already held "r5", as an endpoint answering
// 409 would.
class RejectingSink : public Sink {
 public:
  explicit RejectingSink(std::vector<Delivered>* out, bool conflict = false)
      : out_(out), conflict_(conflict) {}
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    const RecordBatch& batch = request.batch;
    for (size_t i = 0; i < batch.size(); ++i) {
      const Record& r = batch.records()[i];
      if (r.key == "r2") {
        result->rejected.push_back({i, "over the 1 MiB limit"});
      } else if (r.key == "r5" && conflict_) {
        result->already_present.push_back(i);
      } else {
        out_->push_back({request.shard.id, std::string(r.key), r.maybe_redelivered});
      }
    }
    return absl::OkStatus();
  }

 private:
  std::vector<Delivered>* out_;
  const bool conflict_;
};

TEST_F(BackfillerTest, AQueueIsOneShardAndLearnsEveryRecordsOutcomeIncludingSinkRejections) {
  auto queue = std::make_unique<QueueSource>(std::vector<std::string>{
      R"({"id":"r0","ts":"2026-11-14T01:00:00Z"})",  // delivered
      R"({"id":"r1","ts":"2026-11-20T01:00:00Z"})",  // outside the window
      R"({"id":"r2","ts":"2026-11-14T02:00:00Z"})",  // rejected by the sink
      "poison",                                      // the source's own verdict
      R"({"ts":"2026-11-14T03:00:00Z"})",            // unmappable: no id
      R"({"id":"r5","ts":"2026-11-14T04:00:00Z"})",  // delivered
  });
  QueueSource* q = queue.get();
  RunResult r = Run(Spec(), std::move(queue), std::make_unique<RejectingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(q->shards.size(), 1u);
  EXPECT_EQ(q->shards[0].start, T("2026-11-14T00:00:00Z"));
  EXPECT_EQ(q->shards[0].end, T("2026-11-15T00:00:00Z"));
  EXPECT_EQ(Keys(delivered_), (std::multiset<std::string>{"r0", "r5"}));
  using O = RecordOutcome;
  EXPECT_THAT(q->outcomes, ::testing::ElementsAre(O::kDelivered, O::kOutOfWindow, O::kDeadLettered,
                                                  O::kDeadLettered, O::kDeadLettered, O::kDelivered));
  ASSERT_EQ(dead_.size(), 3u);
  EXPECT_EQ(dead_[0].source_id, "m3");
  EXPECT_EQ(dead_[0].reason, "received 9 times");
  EXPECT_EQ(dead_[1].source_id, "m4");
  EXPECT_EQ(dead_[2].source_id, "m2");
  EXPECT_EQ(dead_[2].reason, "rejected by the sink: over the 1 MiB limit");
  EXPECT_EQ(dead_[2].raw, R"({"id":"r2","ts":"2026-11-14T02:00:00Z"})");
  EXPECT_EQ(r.progress.totals.records_delivered, 2u);
  EXPECT_EQ(r.progress.totals.dead_letters, 3u);
  EXPECT_EQ(r.progress.totals.records_out_of_window, 1u);

  // Following a queue keeps one open-ended shard.
  JobSpec follow = Spec();
  follow.follow = true;
  Components c;
  c.source = std::make_unique<QueueSource>(std::vector<std::string>{});
  c.mapper = *NewJsonMapper(kMapper);
  c.sink = NewNullSink();
  c.checkpoints = NewMemoryCheckpointStore();
  auto b = Backfiller::Create(follow, std::move(c), {});
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ((*b)->plan().size(), 1u);
  EXPECT_EQ((*b)->plan()[0].id, "20261114T000000Z-open");
  EXPECT_TRUE(IsOpenEnded((*b)->plan()[0]));
}

TEST_F(BackfillerTest, ARecordTheSinkSaysItAlreadyHeldCountsAsAlreadyPresent) {
  auto queue = std::make_unique<QueueSource>(std::vector<std::string>{
      R"({"id":"r0","ts":"2026-11-14T01:00:00Z"})",  // delivered
      R"({"id":"r2","ts":"2026-11-14T02:00:00Z"})",  // rejected by the sink
      R"({"id":"r5","ts":"2026-11-14T04:00:00Z"})",  // the destination had it
  });
  QueueSource* q = queue.get();
  RunResult r =
      Run(Spec(), std::move(queue), std::make_unique<RejectingSink>(&delivered_, /*conflict=*/true));
  ASSERT_TRUE(r.status.ok()) << r.status;
  using O = RecordOutcome;
  EXPECT_THAT(q->outcomes, ::testing::ElementsAre(O::kDelivered, O::kDeadLettered, O::kAlreadyPresent));
  EXPECT_EQ(Keys(delivered_), (std::multiset<std::string>{"r0"}));
  EXPECT_EQ(r.progress.totals.records_delivered, 1u);
  EXPECT_EQ(r.progress.totals.records_already_present, 1u);
  EXPECT_EQ(r.progress.totals.dead_letters, 1u);
}

// Every ability a job needs is asked of its components once, when the job is
// created, and a missing one is named there rather than failing a shard later.
TEST_F(BackfillerTest, AJobNeedingAnAbilityItsComponentsLackIsRefusedAtCreate) {
  auto make = [&](bool presence_needed, bool replay) {
    Components c;
    c.source = Records(10);
    c.mapper = *NewJsonMapper(kMapper);
    c.sink = std::make_unique<RecordingSink>(&delivered_);  // no presence check
    c.checkpoints = NewMemoryCheckpointStore();
    c.dead_letters = NewMemoryDeadLetterStore();  // keeps no list: cannot read its letters back
    JobSpec spec = Spec();
    spec.skip_already_present = presence_needed;
    BackfillerOptions options;
    if (replay) options.replay = ReplayOptions();
    return Backfiller::Create(spec, std::move(c), options).status();
  };
  absl::Status presence = make(true, false);
  EXPECT_EQ(presence.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(presence.message()),
              HasSubstr("skip_already_present: the sink given in code cannot tell which"));
  absl::Status replay = make(false, true);
  EXPECT_EQ(replay.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(replay.message()),
              HasSubstr("replay: the dead-letter store cannot list and mark its letters"));
  EXPECT_TRUE(make(false, false).ok());
}

// A sink that names a record it was not given, or one twice, is a bug in the
// sink: the shard stops with its checkpoint where it was.
TEST_F(BackfillerTest, ASinkThatMisreportsItsRecordsStopsTheShard) {
  class Confused : public Sink {
   public:
    explicit Confused(bool twice) : twice_(twice) {}
    absl::Status Write(const WriteRequest& request, WriteResult* result) override {
      if (twice_) {
        result->rejected.push_back({0, "bad"});
        result->already_present.push_back(0);
      } else {
        result->already_present.push_back(request.batch.size());
      }
      return absl::OkStatus();
    }

   private:
    const bool twice_;
  };
  for (bool twice : {false, true}) {
    SCOPED_TRACE(twice ? "twice" : "out of range");
    store_ = NewMemoryCheckpointStore();
    RunResult r = Run(Spec(), Records(5), std::make_unique<Confused>(twice));
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal) << r.status;
    EXPECT_THAT(
        std::string(r.status.message()),
        ::testing::HasSubstr(twice ? "said twice what became of record 0" : "said it already held record"));
    EXPECT_EQ(r.progress.totals.records_delivered, 0u);
  }
}

TEST_F(BackfillerTest, CancelStopsAfterTheCurrentBatchAndARerunResumes) {
  Backfiller** self = new Backfiller*(nullptr);
  std::atomic<int> writes{0};
  auto sink = std::make_unique<RecordingSink>(&delivered_, [&](const Shard&, const RecordBatch&, int) {
    if (++writes == 3) (*self)->Cancel();
    return absl::OkStatus();
  });
  Components c;
  c.source = Records(200);
  c.mapper = *NewJsonMapper(kMapper);
  c.sink = std::move(sink);
  c.checkpoints = std::unique_ptr<CheckpointStore>(new SharedStore(store_.get()));
  c.dead_letters = NewMemoryDeadLetterStore();
  JobSpec spec = Spec();
  spec.concurrency = 1;
  auto b = *Backfiller::Create(spec, std::move(c));
  *self = b.get();
  RunResult r = b->Run();
  delete self;
  EXPECT_EQ(r.status.code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(delivered_.size(), 30u);  // the batch being delivered at Cancel() committed

  RunResult rest = Run(spec, Records(200), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(rest.status.ok());
  EXPECT_EQ(Keys(delivered_).size(), 200u);
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(200));
}

// max_records is exact: the page where the limit falls is cut there, and
// the next run takes up at the record after the last one delivered, with
// nothing repeated or flagged; a bad record after the cut is dead-lettered
// once, under its place in the whole page.
TEST_F(BackfillerTest, MaxRecordsStopsAtExactlyThatManyAndTheNextRunGoesOnFromThere) {
  JobSpec spec = Spec();  // 4 shards, 3 at once
  spec.max_records = 7;
  auto source = [] {
    auto s = std::make_unique<FakeSource>(DayTimes(200), 10);
    s->set_bad_record(15, "not json");  // shard 0, the second page's sixth record
    return s;
  };
  int runs = 0;
  for (bool complete = false; !complete && runs < 40; ++runs) {
    const size_t before = delivered_.size();
    RunResult r = Run(spec, source(), std::make_unique<RecordingSink>(&delivered_));
    ASSERT_TRUE(r.status.ok()) << r.status;
    complete = r.complete;
    if (!complete) EXPECT_EQ(r.outcome, RunOutcome::kIncomplete);
    if (!complete) EXPECT_EQ(delivered_.size() - before, 7u) << "run " << runs;
  }
  EXPECT_EQ(runs, 29);  // 199 good records: 28 runs of 7, then 3
  std::set<std::string> expected = AllKeys(200);
  expected.erase("r15");
  EXPECT_EQ(Keys(delivered_), std::multiset<std::string>(expected.begin(), expected.end()));
  for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered) << d.key;
  ASSERT_EQ(dead_.size(), 1u);
  EXPECT_EQ(dead_[0].cursor, "10");
  EXPECT_EQ(dead_[0].index, 5u);
}

// A page cut by the limit that comes back changed (the API edited a record
// the cut took) is delivered whole, every record of it flagged.
TEST_F(BackfillerTest, APageCutByTheLimitThatComesBackChangedGoesWholeAndFlagged) {
  JobSpec spec = Spec();
  spec.concurrency = 1;
  spec.max_records = 4;
  RunResult r = Run(spec, Records(40), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(Keys(delivered_), (std::multiset<std::string>{"r0", "r1", "r2", "r3"}));
  auto changed = std::make_unique<FakeSource>(DayTimes(40), 10);
  changed->set_bad_record(
      0, absl::StrCat(R"({"id":"r0","ts":")", FormatRfc3339(DayTimes(40)[0]), R"(","edited":1})"));
  spec.max_records = 0;
  delivered_.clear();
  r = Run(spec, std::move(changed), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(40));
  EXPECT_EQ(delivered_.size(), 40u);
  const std::string cut_shard = backfiller_->plan()[0].id;
  for (const Delivered& d : delivered_) EXPECT_EQ(d.maybe_redelivered, d.shard == cut_shard) << d.key;
}

// A cut page whose records were not all delivered (one refused, one already
// present) gives the rest of its allowance back, and the shard still stops
// at the cut: its reader has moved past the page the checkpoint keeps, so the
// records after the cut wait for the next run rather than being skipped.
TEST_F(BackfillerTest, ACutPageThatDeliveredFewerThanItWasGrantedStillStopsItsShardAtTheCut) {
  JobSpec spec = Spec();
  spec.concurrency = 1;
  spec.max_records = 4;
  int runs = 0;
  for (bool complete = false; !complete && runs < 30; ++runs) {
    RunResult r = Run(spec, Records(40), std::make_unique<RejectingSink>(&delivered_, /*conflict=*/true));
    ASSERT_TRUE(r.status.ok()) << r.status;
    complete = r.complete;
  }
  std::set<std::string> expected = AllKeys(40);
  expected.erase("r2");  // refused: a dead letter
  expected.erase("r5");  // the destination held it already
  EXPECT_EQ(Keys(delivered_), std::multiset<std::string>(expected.begin(), expected.end()));
  for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered) << d.key;
  ASSERT_EQ(dead_.size(), 1u);
  EXPECT_EQ(dead_[0].index, 2u);
}

// A queue's receive is not fetched again: the records after the cut are not
// confirmed, so the queue hands them out again later.
TEST_F(BackfillerTest, ARecordLimitConfirmsToAQueueOnlyWhatItTook) {
  auto queue = std::make_unique<QueueSource>(std::vector<std::string>{
      R"({"id":"q0","ts":"2026-11-14T01:00:00Z"})", R"({"id":"q1","ts":"2026-11-14T02:00:00Z"})",
      R"({"id":"q2","ts":"2026-11-14T03:00:00Z"})", R"({"id":"q3","ts":"2026-11-14T04:00:00Z"})"});
  QueueSource* q = queue.get();
  JobSpec spec = Spec();
  spec.max_records = 2;
  RunResult r = Run(spec, std::move(queue), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.outcome, RunOutcome::kIncomplete);
  EXPECT_EQ(Keys(delivered_), (std::multiset<std::string>{"q0", "q1"}));
  EXPECT_EQ(q->outcomes.size(), 2u);  // q2 and q3 stay in the queue
  for (const Shard& s : backfiller_->plan()) {
    absl::StatusOr<std::optional<Checkpoint>> ck = store_->Load("test-job", s.id);
    ASSERT_TRUE(ck.ok() && ck->has_value());
    EXPECT_EQ((*ck)->page_taken, 0u);  // nothing to drop from the next receive
  }
}

TEST_F(BackfillerTest, DryRunMapsEverythingAndWritesNothing) {
  BackfillerOptions options;
  options.dry_run = true;
  RunResult r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.records_this_run, 100u);
  EXPECT_TRUE(delivered_.empty());
  for (const Shard& s : backfiller_->plan()) EXPECT_FALSE((*store_->Load("test-job", s.id)).has_value());
}

// A dry run tells a queue nothing: it would delete the messages it only read.
TEST_F(BackfillerTest, ADryRunConfirmsNothingToTheSource) {
  auto queue = std::make_unique<QueueSource>(std::vector<std::string>{
      R"({"id":"r0","ts":"2026-11-14T01:00:00Z"})", R"({"id":"r1","ts":"2026-11-14T02:00:00Z"})"});
  QueueSource* q = queue.get();
  BackfillerOptions options;
  options.dry_run = true;
  RunResult r = Run(Spec(), std::move(queue), std::make_unique<RecordingSink>(&delivered_), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.records_this_run, 2u);
  EXPECT_TRUE(q->outcomes.empty());
  EXPECT_TRUE(delivered_.empty());
}

TEST_F(BackfillerTest, StatusAndReset) {
  RunResult r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_));
  ASSERT_TRUE(r.complete);
  auto status = backfiller_->Status();
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->size(), 4u);
  EXPECT_EQ((*status)[0].state, ShardState::kDone);
  EXPECT_EQ((*status)[0].checkpoint.counters.records_delivered, 25u);

  EXPECT_EQ(backfiller_->Reset("no-such-shard").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(backfiller_->Reset((*status)[1].shard.id).ok());
  delivered_.clear();
  r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(delivered_.size(), 25u);  // only the reset shard ran again
  ASSERT_TRUE(backfiller_->Reset().ok());
  delivered_.clear();
  r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(delivered_.size(), 100u);
}

TEST_F(BackfillerTest, ASecondRunOfTheSameJobIsRefusedWhileTheFirstHoldsTheLock) {
  auto lock = store_->Lock("test-job", "");
  ASSERT_TRUE(lock.ok());
  RunResult r = Run(Spec(), Records(10), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(delivered_.empty());
}

TEST_F(BackfillerTest, SlicesSplitThePlanAndHoldTheirOwnLocks) {
  BackfillerOptions first;
  first.slice = 1;
  first.slices = 2;
  auto held = store_->Lock("test-job", "slice-2-of-2");  // another process runs slice 2
  ASSERT_TRUE(held.ok());
  RunResult r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_), first);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.complete);  // the slice is done
  EXPECT_EQ(delivered_.size(), 50u);
  EXPECT_EQ(r.shards[0].state, ShardState::kDone);
  EXPECT_EQ(r.shards[1].state, ShardState::kPending);
  held->reset();
  BackfillerOptions second = first;
  second.slice = 2;
  r = Run(Spec(), Records(100), std::make_unique<RecordingSink>(&delivered_), second);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(UniqueKeys(delivered_), AllKeys(100));
  EXPECT_EQ(delivered_.size(), 100u);
  BackfillerOptions bad;
  bad.slice = 3;
  bad.slices = 2;
  EXPECT_FALSE(Backfiller::Create(Spec(), {}, bad).ok());
}

TEST_F(BackfillerTest, RunTwiceOnOneBackfillerIsAnError) {
  Run(Spec(), Records(10), std::make_unique<RecordingSink>(&delivered_));
  EXPECT_EQ(backfiller_->Run().status.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BackfillerTest, MissingComponentsAreNamed) {
  JobSpec spec = Spec();
  auto b = Backfiller::Create(spec);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "source: missing from the job spec and not given in code");
}

// End to end through real files: malformed lines, missing fields, wrong
// types, huge strings and invalid UTF-8 all end up as dead letters with
// reasons; every line is accounted for.
TEST(BadInputTest, EveryBadLineIsADeadLetterAndNothingIsLost) {
  testing::TempDir dir;
  std::string input;
  int good = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string ts = "2026-11-14T0" + std::to_string(i % 10) + ":00:00Z";
    switch (i % 6) {
      case 0:
        input += "{\"id\":\"ok" + std::to_string(i) + "\",\"ts\":\"" + ts + "\",\"n\":1}\n";
        ++good;
        break;
      case 1:
        input += "{\"id\":\"x" + std::to_string(i) + "\",\"ts\":\"" + ts + "\"\n";
        break;  // malformed
      case 2:
        input += "{\"ts\":\"" + ts + "\",\"n\":1}\n";
        break;  // missing id
      case 3:
        input += "{\"id\":\"y" + std::to_string(i) + "\",\"ts\":\"" + ts + "\",\"n\":\"many\"}\n";
        break;
      case 4:
        input += "{\"id\":\"z\xff\xfe" + std::to_string(i) + "\",\"ts\":\"" + ts + "\"}\n";
        break;
      case 5:
        input += "{\"id\":\"h" + std::to_string(i) + "\",\"ts\":\"" + ts + "\",\"big\":\"" +
                 std::string(200000, 'b') + "\"}\n";
        break;  // over the limit
    }
  }
  testing::WriteFile(dir.File("in.jsonl"), input);
  auto spec = JobSpec::Parse(
      R"({"name":"bad-input","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "shard_duration":"6h","concurrency":2,
    "source":{"type":"jsonl_file","path":"in.jsonl","batch_size":7,"max_record_bytes":100000},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},{"name":"n","from":"/n","type":"int64"}],
              "key":{"from":"/id"},"event_time":{"from":"/ts"}},
    "sink":{"type":"jsonl_file","path":"out.jsonl"},
    "checkpoint":{"type":"file","dir":"state"},
    "error_budget":{"max_fraction":1}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->base_dir = dir.path();
  auto b = Backfiller::Create(*spec);
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(static_cast<int>(testing::ReadLines(dir.File("out.jsonl")).size()), good);
  std::vector<std::string> dead = testing::ReadLines(dir.File("state/bad-input/dead_letters.jsonl"));
  EXPECT_EQ(static_cast<int>(dead.size()), 300 - good);
  std::map<std::string, int> reasons;
  simdjson::dom::parser parser;
  for (const std::string& line : dead) {
    std::string_view reason = parser.parse(line)["reason"].get_string().value();
    reasons[std::string(reason.substr(0, reason.find(':')))]++;
  }
  EXPECT_EQ(reasons["invalid JSON"], 50);
  EXPECT_EQ(reasons["key (/id)"], 50);
  EXPECT_EQ(reasons["field n (/n)"], 50);
  EXPECT_EQ(reasons["record is not valid UTF-8"], 50);
  EXPECT_EQ(std::count_if(dead.begin(), dead.end(),
                          [](const std::string& l) {
                            return l.find("bytes, over max_record_bytes (100000)") != std::string::npos;
                          }),
            50);
  EXPECT_EQ(r.progress.totals.dead_letters, static_cast<uint64_t>(300 - good));
}

}  // namespace
}  // namespace recovery
