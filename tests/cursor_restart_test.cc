// Cursors that expire (source.pagination.expired): a shard whose cursor the
// API refuses reads again from its beginning and delivers only what it had
// not delivered before, in the middle of a run and on resuming one, against
// the simulated API on loopback.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/checkpoint_store.h"
#include "recovery/status.h"
#include "testing/fakes.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/key_hash_file.h"
#include "util/strings.h"

namespace recovery {
namespace {

using testing::Fault;
using ::testing::HasSubstr;
using testing::SimulatedApi;
using testing::SimulatedApiOptions;
using testing::T;

SimulatedApiOptions Api(int64_t records) {
  SimulatedApiOptions o;
  o.start = T("2026-11-14T00:00:00Z");
  o.end = T("2026-11-16T00:00:00Z");
  o.records = records;
  o.small_records = true;
  return o;
}

// A 2-day window over `style` (two 1-day shards unless `sharding` says
// otherwise), `page_size` records a page, checkpoints in `state` (a
// directory; "" for memory).
std::string Job(const SimulatedApi& api, const std::string& style, const std::string& pagination,
                const std::string& state, int page_size = 10,
                const std::string& sharding = R"("shard_duration":"1d","concurrency":2)") {
  const std::string url =
      style == "graphql" ? api.base_url() + "/v1/graphql" : api.base_url() + "/v1/" + style;
  const std::string request =
      style == "graphql"
          ? R"("method":"POST","body":{"query":"q","variables":{"from":"{start}","to":"{end}","first":"{limit}","after":"{cursor}"}},"records":"/data/transactions/nodes",)"
          : R"("query":{"from":"{start}","to":"{end}","limit":"{limit}","cursor":"{cursor}"},"records":"/data",)";
  return StrCat(R"({"name":"expiring-)", style,
                R"(","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-16T00:00:00Z"},
      )",
                sharding, R"(,
      "retry":{"initial_backoff":"1ms","max_backoff":"20ms","max_attempts":6},
      "source":{"type":"http","url":")",
                url, R"(",)", request, R"("page_size":)", page_size, R"(,"timeout":"5s","pagination":)",
                pagination, R"(},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":)",
                state.empty() ? std::string(R"({"type":"memory"})")
                              : StrCat(R"({"type":"file","dir":")", state, R"("})"),
                "}");
}

struct Delivery {
  std::string key;
  bool flagged;
};

struct Outcome {
  RunResult result;
  std::vector<Delivery> deliveries;
  std::vector<std::string> logs;
};

// Runs `job`; `on_batch` (may be empty) is called with each batch's number
// before the sink takes it. `store`: the checkpoint store (else the job's).
Outcome RunJob(const std::string& job, const std::function<void(int)>& on_batch = nullptr,
               int64_t max_records = 0, std::unique_ptr<CheckpointStore> store = nullptr) {
  auto spec = JobSpec::Parse(job);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (max_records > 0) spec->max_records = max_records;
  Outcome out;
  auto deliveries = std::make_shared<std::vector<Delivery>>();
  auto batches = std::make_shared<int>(0);
  Components c;
  c.checkpoints = std::move(store);
  c.sink = NewCallbackSink([deliveries, batches, on_batch](const Shard&, absl::Span<const Record> batch) {
    if (on_batch) on_batch(++*batches);
    for (const Record& r : batch) deliveries->push_back({std::string(r.key), r.maybe_redelivered});
    return absl::OkStatus();
  });
  BackfillerOptions options;
  auto logs = std::make_shared<std::vector<std::string>>();
  options.on_log = [logs](const LogEvent& e) { logs->push_back(StrCat(e.message, " ", e.fields_json)); };
  auto b = Backfiller::Create(*spec, std::move(c), options);
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok()) return out;
  out.result = (*b)->Run();
  out.deliveries = *deliveries;
  out.logs = *logs;
  return out;
}

std::map<std::string, int> Count(const std::vector<Delivery>& deliveries) {
  std::map<std::string, int> n;
  for (const Delivery& d : deliveries) ++n[d.key];
  return n;
}

int Restarts(const std::vector<std::string>& logs) {
  int n = 0;
  for (const std::string& line : logs) n += line.find("refused its cursor as expired") != std::string::npos;
  return n;
}

TEST(CursorRestartTest,
     EveryServerNamedStyleRestartsAShardWhoseCursorExpiresMidRunAndDeliversEachRecordOnce) {
  const std::map<std::string, std::string> styles = {
      {"cursor", R"({"type":"cursor","from":"/next_cursor")"},
      {"cursor-header", R"({"type":"cursor_header","header":"X-Next-Cursor")"},
      {"next-url", R"({"type":"next_url","from":"/links/next")"},
      {"link", R"({"type":"link")"},
      {"graphql",
       R"({"type":"graphql","cursor":"/data/transactions/pageInfo/endCursor","has_next":"/data/transactions/pageInfo/hasNextPage")"},
  };
  for (const auto& [style, pagination] : styles) {
    SCOPED_TRACE(style);
    SimulatedApi api(Api(200));
    // The API expires a cursor when the sink takes the 4th and the 9th
    // batches: the next request that carries one is refused.
    const Outcome o =
        RunJob(Job(api, style,
                   pagination + R"(,"expired":{"statuses":[400],"body_contains":"cursor_expired"}})", ""),
               [&api](int batch) {
                 if (batch == 4 || batch == 9) api.Script({Fault{Fault::kCursorExpired}});
               });
    ASSERT_TRUE(o.result.status.ok()) << o.result.status;
    EXPECT_TRUE(o.result.complete);
    const std::map<std::string, int> n = Count(o.deliveries);
    const std::vector<std::string> ids = api.Ids(T("2026-11-14T00:00:00Z"), T("2026-11-16T00:00:00Z"));
    EXPECT_EQ(n.size(), ids.size());
    for (const auto& [key, times] : n) EXPECT_EQ(times, 1) << key;
    for (const Delivery& d : o.deliveries) EXPECT_FALSE(d.flagged) << d.key;
    EXPECT_EQ(Restarts(o.logs), 2);
    EXPECT_EQ(o.result.progress.records_this_run, ids.size());
  }
}

TEST(CursorRestartTest, ACursorSavedBeforeAPauseLongerThanItsLifeRestartsTheShardOnResume) {
  SimulatedApiOptions options = Api(200);
  options.cursor_lifetime = absl::Milliseconds(300);
  SimulatedApi api(options);
  testing::TempDir dir;
  const std::string job =
      Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})",
          dir.File("state"));
  const Outcome first = RunJob(job, nullptr, /*max_records=*/60);  // stops after a few pages of each shard
  ASSERT_TRUE(first.result.status.ok()) << first.result.status;
  ASSERT_FALSE(first.result.complete);
  absl::SleepFor(absl::Milliseconds(400));  // the saved cursors are dead now
  const Outcome second = RunJob(job);
  ASSERT_TRUE(second.result.status.ok()) << second.result.status;
  EXPECT_TRUE(second.result.complete);
  EXPECT_GE(Restarts(second.logs), 1);

  std::vector<Delivery> all = first.deliveries;
  all.insert(all.end(), second.deliveries.begin(), second.deliveries.end());
  const std::map<std::string, int> n = Count(all);
  EXPECT_EQ(n.size(), 200u);
  for (const auto& [key, times] : n) EXPECT_EQ(times, 1) << key;
}

// The last run stopped with a batch in flight (the sink failed it, but may
// hold it); the cursor expired before the next run: that batch's records come
// again flagged as possible redeliveries, everything delivered before is
// skipped, the rest comes once.
TEST(CursorRestartTest, TheBatchInFlightAtARestartComesAgainFlaggedAndTheRestOnce) {
  SimulatedApi api(Api(100));
  testing::TempDir dir;
  const std::string job =
      Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})",
          dir.File("state"), 10, R"("shard_duration":"2d","concurrency":1)");
  auto spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<std::string> first;
  {
    Components c;
    int batches = 0;
    c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> batch) -> absl::Status {
      for (const Record& r : batch) first.push_back(std::string(r.key));
      if (++batches == 4) return absl::InternalError("the destination fell over after taking the batch");
      return absl::OkStatus();
    });
    auto b = Backfiller::Create(*spec, std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    const RunResult r = (*b)->Run();
    ASSERT_FALSE(r.status.ok());
  }
  ASSERT_EQ(first.size(), 40u);
  const std::set<std::string> in_flight(first.begin() + 30, first.end());
  api.Script({Fault{Fault::kCursorExpired}});  // the saved cursor is refused
  const Outcome second = RunJob(job);
  ASSERT_TRUE(second.result.status.ok()) << second.result.status;
  EXPECT_TRUE(second.result.complete);
  EXPECT_EQ(Restarts(second.logs), 1);
  std::map<std::string, int> n = Count(second.deliveries);
  for (const Delivery& d : second.deliveries) {
    EXPECT_EQ(d.flagged, in_flight.count(d.key) == 1) << d.key;
    EXPECT_EQ(n[d.key], 1) << d.key;
  }
  for (const std::string& k : first) ++n[k];
  EXPECT_EQ(n.size(), 100u);
  for (const auto& [key, times] : n) EXPECT_EQ(times, in_flight.count(key) ? 2 : 1) << key;
  EXPECT_EQ(second.result.progress.records_this_run, 70u);  // the 30 delivered before are not counted again
}

TEST(CursorRestartTest, CursorsThatExpireFasterThanTheShardGetsBackStopTheShardInsteadOfLooping) {
  SimulatedApiOptions options = Api(200);
  options.cursor_lifetime = absl::Milliseconds(1);
  options.latency = absl::Milliseconds(5);  // every cursor is dead by the time it is used
  SimulatedApi api(options);
  const Outcome o = RunJob(
      Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})", ""));
  ASSERT_FALSE(o.result.status.ok());
  EXPECT_THAT(o.result.status.message(), HasSubstr("restarting again would loop"));
  EXPECT_THAT(o.result.status.message(), HasSubstr("cursor_expired"));
  // Each shard delivered its first page once, however often it restarted.
  const std::map<std::string, int> n = Count(o.deliveries);
  for (const auto& [key, times] : n) EXPECT_EQ(times, 1) << key;
  EXPECT_EQ(n.size(), 20u);
}

TEST(CursorRestartTest, AJobThatCannotRestartExactlyIsRefusedAndOptionsAreChecked) {
  SimulatedApi api(Api(10));
  const std::string expired = R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})";
  // A store that keeps no delivered keys, and no presence check.
  {
    auto spec = JobSpec::Parse(Job(api, "cursor", expired, ""));
    ASSERT_TRUE(spec.ok()) << spec.status();
    Components c;
    c.sink = NewNullSink();
    class Forgetful : public CheckpointStoreWrapper {
     public:
      Forgetful() : CheckpointStoreWrapper(NewMemoryCheckpointStore()) {}
      DeliveredKeys* delivered_keys() override { return nullptr; }
    };
    c.checkpoints = std::make_unique<Forgetful>();
    auto b = Backfiller::Create(*spec, std::move(c));
    ASSERT_FALSE(b.ok());
    EXPECT_THAT(b.status().message(), HasSubstr("source.pagination.expired"));
    EXPECT_THAT(b.status().message(), HasSubstr("keeps no delivered keys"));
  }
  const std::map<std::string, std::string> bad = {
      {R"({"type":"page","expired":{"statuses":[400]}})",
       "a page number, an offset or a keyset does not expire"},
      {R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[429]}})", "also in retry_statuses"},
      {R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[302]}})", "expected error statuses"},
      {R"({"type":"cursor","from":"/next_cursor","expired":{"body_contains":"x"}})", "statuses"},
  };
  for (const auto& [pagination, message] : bad) {
    SCOPED_TRACE(pagination);
    auto spec = JobSpec::Parse(
        Job(api, pagination.find("page") != std::string::npos ? "page" : "cursor", pagination, ""));
    absl::Status st = spec.status();
    if (spec.ok()) {
      Components c;
      c.sink = NewNullSink();
      st = Backfiller::Create(*spec, std::move(c)).status();
    }
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr(message));
  }
}

// ---- records sorted by time (sorted_by): a restart reads from where they had got to

// `job` with records said to come sorted by created_at.
std::string Sorted(std::string job) {
  const std::string records = R"("records":"/data",)";
  const size_t at = job.find(records);
  EXPECT_NE(at, std::string::npos);
  job.insert(at + records.size(), R"("sorted_by":{"from":"/created_at"},)");
  return job;
}

// A store that keeps no delivered keys, over a memory store the test keeps
// across runs.
class Forgetful : public CheckpointStoreWrapper {
 public:
  explicit Forgetful(CheckpointStore* kept) : CheckpointStoreWrapper(kept) {}
  DeliveredKeys* delivered_keys() override { return nullptr; }
};

// The value of the query parameter `name` in `query`, URL-decoded enough
// for a time (":" only).
std::string QueryValue(const std::string& query, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    if (absl::StartsWith(part, name + "=")) {
      return absl::StrReplaceAll(part.substr(name.size() + 1), {{"%3A", ":"}, {"%3a", ":"}});
    }
  }
  return "";
}

// Requests without a cursor: each shard's first, and each restart's.
std::vector<std::string> FromsWithoutCursor(const SimulatedApi& api) {
  std::vector<std::string> out;
  for (const testing::RequestRecord& r : api.requests()) {
    if (r.path == "/v1/cursor" && QueryValue(r.query, "cursor").empty())
      out.push_back(QueryValue(r.query, "from"));
  }
  return out;
}

void ExpectEachOnce(const std::vector<Delivery>& deliveries, const SimulatedApi& api) {
  const std::map<std::string, int> n = Count(deliveries);
  EXPECT_EQ(n.size(), api.Ids(T("2026-11-14T00:00:00Z"), T("2026-11-16T00:00:00Z")).size());
  for (const auto& [key, times] : n) EXPECT_EQ(times, 1) << key;
}

TEST(CursorRestartTest, ASortedShardRestartsFromWhereItsRecordsHadGotToAndDeliversEachRecordOnce) {
  SimulatedApiOptions options = Api(200);
  options.same_time_group = 3;  // records at one time straddle page boundaries
  SimulatedApi api(options);
  const Outcome o = RunJob(
      Sorted(Job(
          api, "cursor",
          R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400],"body_contains":"cursor_expired"}})",
          "")),
      [&api](int batch) {
        if (batch == 4 || batch == 9) api.Script({Fault{Fault::kCursorExpired}});
      });
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  EXPECT_TRUE(o.result.complete);
  ExpectEachOnce(o.deliveries, api);
  EXPECT_EQ(Restarts(o.logs), 2);
  EXPECT_EQ(o.result.progress.records_this_run, 200u);
  // Two shards' first requests from their starts, two restarts from inside.
  const std::vector<std::string> froms = FromsWithoutCursor(api);
  ASSERT_EQ(froms.size(), 4u);
  int inside = 0;
  for (const std::string& from : froms) {
    inside += from != "2026-11-14T00:00:00Z" && from != "2026-11-15T00:00:00Z";
  }
  EXPECT_EQ(inside, 2) << absl::StrJoin(froms, " ");
  EXPECT_THAT(absl::StrJoin(o.logs, "\n"), HasSubstr("where its records (sorted by time) had got to"));
}

// Without delivered keys: the checkpoint's keys at the restart's time keep
// it exact, in the run that restarts and in a later one that resumes a
// restarted shard after a pause that killed its saved cursor.
TEST(CursorRestartTest, ASortedRestartIsExactWithoutDeliveredKeysAcrossRunsAndPauses) {
  SimulatedApiOptions options = Api(240);
  options.same_time_group = 4;
  options.cursor_lifetime = absl::Milliseconds(300);
  SimulatedApi api(options);
  const std::string job = Sorted(
      Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})", "", 7));
  std::unique_ptr<CheckpointStore> kept = NewMemoryCheckpointStore();
  const Outcome first = RunJob(
      job,
      [&api](int batch) {
        if (batch == 3) api.Script({Fault{Fault::kCursorExpired}});
      },
      /*max_records=*/90, std::make_unique<Forgetful>(kept.get()));
  ASSERT_TRUE(first.result.status.ok()) << first.result.status;
  ASSERT_FALSE(first.result.complete);
  // The scripted expiry, and, on a machine slow enough, cursors that died
  // between two pages.
  EXPECT_GE(Restarts(first.logs), 1);
  absl::SleepFor(absl::Milliseconds(400));  // the saved cursors are dead now
  const Outcome second = RunJob(job, nullptr, 0, std::make_unique<Forgetful>(kept.get()));
  ASSERT_TRUE(second.result.status.ok()) << second.result.status;
  EXPECT_TRUE(second.result.complete);
  EXPECT_GE(Restarts(second.logs), 1);
  // Every shard that restarted reads from where its records had got to
  // (the first run's restart is saved only if that shard committed a page
  // after it; the second run's, once the pause killed the saved cursors, is).
  int reading_later = 0;
  for (const ShardReport& s : second.result.shards) {
    auto ck = kept->Load("expiring-cursor", s.shard.id);
    ASSERT_TRUE(ck.ok()) << ck.status();
    ASSERT_TRUE(ck->has_value());
    if ((*ck)->cursor_restarts == 0) continue;
    EXPECT_GT((*ck)->read_from, s.shard.start) << s.shard.id;
    ++reading_later;
  }
  EXPECT_GE(reading_later, 1);
  std::vector<Delivery> all = first.deliveries;
  all.insert(all.end(), second.deliveries.begin(), second.deliveries.end());
  ExpectEachOnce(all, api);
  for (const Delivery& d : all) EXPECT_FALSE(d.flagged) << d.key;
}

// Cursors that die before the next page is asked for: read from the
// beginning every time, the shard would loop; read from where it got to, it
// moves on a page per restart and finishes.
TEST(CursorRestartTest, SortedShardsFinishEvenWhenEveryCursorDiesBeforeItIsUsed) {
  SimulatedApiOptions options = Api(120);
  options.cursor_lifetime = absl::Milliseconds(1);
  options.latency = absl::Milliseconds(5);
  SimulatedApi api(options);
  const Outcome o = RunJob(Sorted(
      Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})", "")));
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  EXPECT_TRUE(o.result.complete);
  ExpectEachOnce(o.deliveries, api);
  EXPECT_GE(Restarts(o.logs), 10);
}

// An API that ignores the window filter serves a restart from the window's
// beginning again: what is sorted before the restart's time is skipped.
TEST(CursorRestartTest, ASortedRestartAgainstAnApiThatIgnoresTheWindowSkipsWhatCameBefore) {
  SimulatedApiOptions options = Api(160);
  options.ignore_window = true;
  SimulatedApi api(options);
  std::unique_ptr<CheckpointStore> kept = NewMemoryCheckpointStore();
  const Outcome o = RunJob(
      Sorted(Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})", "",
                 10, R"("shard_duration":"2d","concurrency":1)")),
      [&api](int batch) {
        if (batch == 5 || batch == 11) api.Script({Fault{Fault::kCursorExpired}});
      },
      0, std::make_unique<Forgetful>(kept.get()));
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  EXPECT_TRUE(o.result.complete);
  ExpectEachOnce(o.deliveries, api);
  EXPECT_EQ(Restarts(o.logs), 2);
}

// sorted_by that the API does not honour: the page out of order turns the
// restart by time off. With delivered keys the shard reads again from its
// beginning, exactly; without them it stops rather than guess.
TEST(CursorRestartTest, ASortedByTheApiBreaksFallsBackToDeliveredKeysOrStops) {
  SimulatedApiOptions options = Api(100);
  options.unsorted = true;
  const std::string expired = R"({"type":"cursor","from":"/next_cursor","expired":{"statuses":[400]}})";
  {
    SimulatedApi api(options);
    const Outcome o = RunJob(Sorted(Job(api, "cursor", expired, "")), [&api](int batch) {
      if (batch == 3) api.Script({Fault{Fault::kCursorExpired}});
    });
    ASSERT_TRUE(o.result.status.ok()) << o.result.status;
    ExpectEachOnce(o.deliveries, api);
    EXPECT_THAT(absl::StrJoin(o.logs, "\n"), HasSubstr("reading the shard again from its beginning"));
  }
  {
    SimulatedApi api(options);
    std::unique_ptr<CheckpointStore> kept = NewMemoryCheckpointStore();
    const Outcome o = RunJob(
        Sorted(Job(api, "cursor", expired, "")),
        [&api](int batch) {
          if (batch == 3) api.Script({Fault{Fault::kCursorExpired}});
        },
        0, std::make_unique<Forgetful>(kept.get()));
    ASSERT_FALSE(o.result.status.ok());
    EXPECT_THAT(o.result.status.message(), HasSubstr("a page came out of order"));
    EXPECT_THAT(o.result.status.message(), HasSubstr("cannot restart exactly"));
    // The refusal left the checkpoint as it was: the next run resumes at the
    // cursor it had (the API took it back), not at the shard's beginning.
    const Outcome again =
        RunJob(Sorted(Job(api, "cursor", expired, "")), nullptr, 0, std::make_unique<Forgetful>(kept.get()));
    ASSERT_TRUE(again.result.status.ok()) << again.result.status;
    std::vector<Delivery> all = o.deliveries;
    all.insert(all.end(), again.deliveries.begin(), again.deliveries.end());
    ExpectEachOnce(all, api);
  }
}

TEST(KeyHashFileTest, AppendsAtAnEntryCutsOffWhatACrashLeftAndRefusesWhatItCannotVouchFor) {
  testing::TempDir dir;
  const std::string path = dir.File("shard.keys");
  EXPECT_TRUE(ReadKeyHashes(path, 0).ok());  // nothing vouched for: no file needed
  EXPECT_EQ(ReadKeyHashes(path, 1).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(WriteKeyHashes(path, 0, {1, 2, 3}).ok());
  ASSERT_TRUE(WriteKeyHashes(path, 3, {4, 0xffffffffffffffffULL}).ok());
  EXPECT_EQ(*ReadKeyHashes(path, 5), (std::vector<uint64_t>{1, 2, 3, 4, 0xffffffffffffffffULL}));
  // A run that crashed after appending 4 and 5 but before its checkpoint
  // counted them: the next append writes over them.
  ASSERT_TRUE(WriteKeyHashes(path, 3, {7}).ok());
  EXPECT_EQ(*ReadKeyHashes(path, 4), (std::vector<uint64_t>{1, 2, 3, 7}));
  EXPECT_EQ(testing::FileSize(path), 8 + 4 * 8);
  absl::Status short_log = ReadKeyHashes(path, 5).status();
  EXPECT_EQ(short_log.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(short_log.message(), HasSubstr("holds 4 delivered keys, but the checkpoint vouches for 5"));
  EXPECT_EQ(WriteKeyHashes(path, 9, {1}).code(), absl::StatusCode::kDataLoss);
  testing::WriteFile(dir.File("other"), "not a log of keys");
  EXPECT_THAT(ReadKeyHashes(dir.File("other"), 1).status().message(),
              HasSubstr("not a file of delivered keys"));
}

}  // namespace
}  // namespace recovery
