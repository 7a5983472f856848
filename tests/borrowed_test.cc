// A borrowed component behaves exactly as the one it borrows: every optional
// capability (leasing, planning one shard, the presence check) survives the
// lending. And every public wrapper forwards every virtual method of its
// interface, read from the headers, so a method added to an interface
// without its forwarder fails here.
#include "borrowed.h"

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/job_state.h"
#include "testing/fakes.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using testing::FakeSource;
using testing::T;

JobSpec DaySpec() { return testing::DaySpec("borrowed"); }

// A memory store that claims to be shared: it leases shards and counts claims.
class LeasingStore : public CheckpointStore, public ShardLeasing {
 public:
  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view j, std::string_view s) override {
    return inner_->Load(j, s);
  }
  absl::Status Save(std::string_view j, std::string_view s, const Checkpoint& c) override {
    return inner_->Save(j, s, c);
  }
  absl::Status Delete(std::string_view j, std::string_view s) override { return inner_->Delete(j, s); }
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view, std::string_view) override {
    return absl::FailedPreconditionError("a leasing store is never locked whole");
  }
  ShardLeasing* leasing() override { return this; }
  absl::StatusOr<std::unique_ptr<ShardLease>> ClaimShard(std::string_view j, std::string_view s) override {
    ++claims;
    return std::unique_ptr<ShardLease>(new Lease(this, std::string(j), std::string(s)));
  }
  absl::StatusOr<std::vector<LeaseInfo>> Leases(std::string_view) override {
    LeaseInfo info;
    info.shard_id = "20261114T000000Z-20261114T060000Z";
    info.owner = "elsewhere";
    return std::vector<LeaseInfo>{info};
  }
  std::atomic<int> claims{0};

 private:
  class Lease : public ShardLease {
   public:
    Lease(LeasingStore* store, std::string job, std::string shard)
        : store_(store), job_(std::move(job)), shard_(std::move(shard)) {}
    absl::Status Save(const Checkpoint& c) override { return store_->Save(job_, shard_, c); }
    absl::Status Check() const override { return absl::OkStatus(); }
    int64_t fencing_token() const override { return 1; }

   private:
    LeasingStore* store_;
    std::string job_, shard_;
  };
  std::unique_ptr<CheckpointStore> inner_ = NewMemoryCheckpointStore();
};

class QueueSource : public FakeSource {
 public:
  using FakeSource::FakeSource;
  bool plans_one_shard() const override { return true; }
  bool partitions_by_shard() const override { return false; }
};

TEST(BorrowedTest, ABorrowedLeasingStoreStillLeases) {
  LeasingStore store;
  BorrowedCheckpointStore borrowed(&store);
  EXPECT_EQ(borrowed.leasing(), &store);
  Components c;
  c.source = std::make_unique<FakeSource>(std::vector<absl::Time>{T("2026-11-14T01:00:00Z")}, 10);
  c.mapper =
      *NewJsonMapper(R"({"type":"json","fields":[{"name":"id","from":"/id"}],"event_time":{"from":"/ts"}})");
  c.sink = NewNullSink();
  c.checkpoints = std::make_unique<BorrowedCheckpointStore>(&store);
  c.dead_letters = NewMemoryDeadLetterStore();
  auto b = Backfiller::Create(DaySpec(), std::move(c));
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  EXPECT_TRUE(r.status.ok()) << r.status;  // no job lock was taken: the store refuses one
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(store.claims.load(), 4);  // one claim per shard, through the borrowed store

  auto state = JobState::Open(DaySpec(), std::make_unique<BorrowedCheckpointStore>(&store), false);
  ASSERT_TRUE(state.ok()) << state.status();
  auto reports = (*state)->Status();
  ASSERT_TRUE(reports.ok());
  ASSERT_TRUE((*reports)[0].lease.has_value());  // the leases, read through the borrowed store
  EXPECT_EQ((*reports)[0].lease->owner, "elsewhere");
}

TEST(BorrowedTest, ABorrowedQueueSourceIsStillPlannedAsOneShard) {
  QueueSource source(std::vector<absl::Time>{T("2026-11-14T01:00:00Z")}, 10);
  BorrowedSource borrowed(&source);
  EXPECT_TRUE(borrowed.plans_one_shard());
  EXPECT_FALSE(borrowed.partitions_by_shard());
  Components c;
  c.source = std::make_unique<BorrowedSource>(&source);
  c.mapper = *NewJsonMapper(R"({"type":"json","fields":[{"name":"id","from":"/id"}]})");
  c.sink = NewNullSink();
  c.checkpoints = NewMemoryCheckpointStore();
  c.dead_letters = NewMemoryDeadLetterStore();
  auto b = Backfiller::Create(DaySpec(), std::move(c));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->plan().size(), 1u);
}

TEST(BorrowedTest, ABorrowedSinkStillAnswersThePresenceCheck) {
  auto inner = NewCallbackSink([](const Shard&, absl::Span<const Record>) { return absl::OkStatus(); }, true,
                               [](const Shard&, absl::Span<const Record> records) {
                                 return std::vector<std::string>{std::string(records[0].key)};
                               });
  BorrowedSink borrowed(inner.get());
  ASSERT_NE(borrowed.presence(), nullptr);
  RecordBatch batch;
  batch.Add("a", kUnknownEventTime, "{}");
  batch.Add("b", kUnknownEventTime, "{}");
  PresenceAnswer answer;
  ASSERT_TRUE(borrowed.presence()
                  ->Check(Shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")},
                          batch.records(), &answer)
                  .ok());
  EXPECT_EQ(answer.present, std::vector<bool>({true, false}));
}

TEST(BorrowedTest, ABorrowedSinkStillCountsAndABorrowedDeadLetterStoreStillReceives) {
  class CountingSink : public Sink, public DestinationCounter {
   public:
    absl::Status Write(const WriteRequest&, WriteResult* result) override {
      result->commit_token = "7";
      return absl::OkStatus();
    }
    SinkTraits traits() const override {
      SinkTraits t;
      t.rolls_back_uncommitted = true;
      return t;
    }
    DestinationCounter* counter() override { return this; }
    absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time, absl::Duration,
                                                           size_t buckets) override {
      return std::vector<uint64_t>(buckets, 7);
    }
  } inner;
  BorrowedSink sink(&inner);
  EXPECT_TRUE(sink.traits().rolls_back_uncommitted);
  EXPECT_EQ(sink.presence(), nullptr);
  ASSERT_NE(sink.counter(), nullptr);
  auto counts = sink.counter()->CountByEventTime(T("2026-11-14T00:00:00Z"), absl::Hours(1), 3);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, std::vector<uint64_t>({7, 7, 7}));
  RecordBatch batch;
  const Shard shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")};
  WriteResult result;
  ASSERT_TRUE(sink.Write(WriteRequest{shard, batch}, &result).ok());
  EXPECT_EQ(result.commit_token, "7");

  std::vector<StoredDeadLetter> letters;
  std::unique_ptr<DeadLetterStore> store = NewMemoryDeadLetterStore(&letters);
  BorrowedDeadLetterStore borrowed(store.get());
  DeadLetter letter{"job", "shard", "cursor", 3, "bad amount", "{}", "m-1", T("2026-11-14T00:00:00Z")};
  ASSERT_TRUE(borrowed.Add(letter).ok());
  ASSERT_TRUE(borrowed.Flush().ok());
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "bad amount");
  EXPECT_EQ(letters[0].source_id, "m-1");
  // Replay: listed, marked, and no longer listed once settled.
  std::vector<ListedLetter> listed;
  ASSERT_TRUE(borrowed.readback()->ListLetters("job", "replay-1", "", 10, &listed).ok());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].raw, "{}");
  LetterMark mark{"job", listed[0].id, "replay-1", ReplayOutcome::kDelivered, "", T("2026-11-15T00:00:00Z")};
  ASSERT_TRUE(borrowed.readback()->Mark(mark).ok());
  EXPECT_EQ(letters[0].replayed, "delivered");
  listed.clear();
  ASSERT_TRUE(borrowed.readback()->ListLetters("job", "replay-2", "", 10, &listed).ok());
  EXPECT_TRUE(listed.empty());
}

// The body of `class RECOVERY_EXPORT <name> ...{ ... };` in `header`.
std::string ClassBody(const std::string& header, const std::string& name) {
  std::ifstream in(std::string(RECOVERY_SOURCE_DIR) + "/include/recovery/" + header);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  const size_t at = all.find("class RECOVERY_EXPORT " + name + " ");
  if (at == std::string::npos) return "";
  return all.substr(at, all.find("\n};", at) - at);
}

std::set<std::string> Names(const std::string& body, const std::regex& pattern) {
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), pattern); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  return names;
}

TEST(WrapperTest, EveryWrapperForwardsEveryVirtualMethodOfItsInterface) {
  const std::regex declared(R"(virtual\s+[^;{(~]*?\b(\w+)\s*\()");
  const std::regex forwarded(R"(\b(\w+)\s*\([^;{}]*\)\s*(?:const\s*)?override)");
  const struct {
    const char* header;
    const char* interface;
    const char* wrapper;
  } pairs[] = {{"sink.h", "Sink", "SinkWrapper"},
               {"source.h", "Source", "SourceWrapper"},
               {"checkpoint_store.h", "CheckpointStore", "CheckpointStoreWrapper"},
               {"dead_letter_store.h", "DeadLetterStore", "DeadLetterStoreWrapper"}};
  for (const auto& p : pairs) {
    SCOPED_TRACE(p.wrapper);
    const std::set<std::string> methods = Names(ClassBody(p.header, p.interface), declared);
    ASSERT_GE(methods.size(), 3u) << "could not read " << p.interface << " from " << p.header;
    EXPECT_EQ(Names(ClassBody(p.header, p.wrapper), forwarded), methods);
  }
  // The sink stays small: its optional abilities are interfaces of their own,
  // one accessor each (presence, counter, shape_check) besides the five
  // methods every sink has.
  EXPECT_LE(Names(ClassBody("sink.h", "Sink"), declared).size(), 8u);
}

}  // namespace
}  // namespace recovery
