// The seam with a live feed: skip_already_present, window.overlap, and the
// JSON-lines sink's presence check, against in-memory destinations and real
// files. (With PostgreSQL, the command-line tool and SIGKILL: seam_test.cc.)
#include <map>
#include <set>

#include "checkpoint/checkpoint_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/job_state.h"
#include "recovery/metrics.h"
#include "simdjson.h"
#include "testing/fakes.h"
#include "testing/test_util.h"
#include "util/status_macros.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using testing::DayTimes;
using testing::FakeSource;
using ::testing::HasSubstr;
using testing::SharedStore;
using testing::T;
using testing::TempDir;

constexpr char kMapper[] = R"({"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                               "key":{"from":"/id"},"event_time":{"from":"/ts"}})";
constexpr int kRecords = 1000;

JobSpec Spec() {
  JobSpec spec;
  spec.name = "seam-job";
  spec.start = T("2026-11-14T00:00:00Z");
  spec.end = T("2026-11-15T00:00:00Z");
  spec.shard_duration = absl::Hours(6);
  spec.concurrency = 3;
  spec.retry.initial_backoff = absl::Milliseconds(1);
  spec.retry.max_backoff = absl::Milliseconds(5);
  spec.retry.max_attempts = 4;
  spec.skip_already_present = true;
  return spec;
}

// What a live feed left in the destination: the first and last 100 records
// and every third one between.
std::set<std::string> LiveFeedKeys() {
  std::set<std::string> keys;
  for (int i = 0; i < kRecords; ++i) {
    if (i < 100 || i >= kRecords - 100 || i % 3 == 0) keys.insert("r" + std::to_string(i));
  }
  return keys;
}

// A destination keyed like a table with a unique key: a write adds keys, the
// presence check reads them. Hooks let a test fail either.
class Destination {
 public:
  explicit Destination(std::set<std::string> held) : held_(std::move(held)) {}

  std::unique_ptr<recovery::Sink> NewSink(std::function<absl::Status(int)> after_write = nullptr,
                                          std::function<absl::Status(int)> before_check = nullptr,
                                          std::vector<std::string> extra_keys = {}) {
    return NewCallbackSink(
        [this, after_write](const Shard&, absl::Span<const Record> records) {
          absl::MutexLock lock(&mu_);
          for (const Record& r : records) {
            ++writes_[std::string(r.key)];
            held_.insert(std::string(r.key));
          }
          return after_write ? after_write(++batches_) : absl::OkStatus();
        },
        /*serialize=*/true,
        [this, before_check, extra_keys](
            const Shard&, absl::Span<const Record> records) -> absl::StatusOr<std::vector<std::string>> {
          absl::MutexLock lock(&mu_);
          if (before_check) RECOVERY_RETURN_IF_ERROR(before_check(++checks_));
          std::vector<std::string> present = extra_keys;
          for (const Record& r : records) {
            if (held_.count(std::string(r.key)) > 0) present.emplace_back(r.key);
          }
          return present;
        });
  }

  std::set<std::string> held() {
    absl::MutexLock lock(&mu_);
    return held_;
  }
  std::map<std::string, int> writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> writes_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
  int checks_ ABSL_GUARDED_BY(mu_) = 0;
};

class PresenceTest : public ::testing::Test {
 protected:
  RunResult Run(std::unique_ptr<Sink> sink, JobSpec spec = Spec(), BackfillerOptions options = {}) {
    Components c;
    c.source = std::make_unique<FakeSource>(DayTimes(kRecords), 10);
    c.mapper = *NewJsonMapper(kMapper);
    c.sink = std::move(sink);
    c.checkpoints = std::unique_ptr<CheckpointStore>(new SharedStore(store_.get()));
    c.dead_letters = NewMemoryDeadLetterStore(&dead_);
    auto b = Backfiller::Create(std::move(spec), std::move(c), std::move(options));
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) return {};
    return (*b)->Run();
  }

  std::unique_ptr<CheckpointStore> store_ = NewMemoryCheckpointStore();
  std::vector<StoredDeadLetter> dead_;
};

TEST_F(PresenceTest, OnlyWhatTheDestinationLacksIsDeliveredAndTheRestCountsAsAlreadyPresent) {
  const std::set<std::string> live = LiveFeedKeys();
  Destination dest(live);
  Metrics metrics;
  std::vector<std::string> page_logs;
  BackfillerOptions options;
  options.metrics = &metrics;
  options.on_log = [&](const LogEvent& e) {
    if (e.message == "page committed") page_logs.emplace_back(e.fields_json);
  };
  RunResult r = Run(dest.NewSink(), Spec(), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(dest.held().size(), static_cast<size_t>(kRecords));
  for (const auto& [key, n] : dest.writes()) {
    EXPECT_EQ(n, 1) << key;
    EXPECT_EQ(live.count(key), 0u) << key << " was delivered though the destination held it";
  }
  EXPECT_EQ(dest.writes().size(), kRecords - live.size());
  EXPECT_EQ(r.progress.totals.records_delivered, kRecords - live.size());
  EXPECT_EQ(r.progress.totals.records_already_present, live.size());
  EXPECT_EQ(r.progress.totals.records_fetched, static_cast<uint64_t>(kRecords));
  EXPECT_THAT(
      metrics.RenderPrometheus(),
      HasSubstr("recovery_records_already_present_total{job=\"seam-job\"} " + std::to_string(live.size())));
  ASSERT_FALSE(page_logs.empty());
  EXPECT_THAT(page_logs.front(), HasSubstr("\"already_present\":"));
  uint64_t stored = 0, per_hour = 0;
  for (const ShardReport& s : r.shards) {
    stored += s.checkpoint.counters.records_already_present;
    EXPECT_TRUE(s.checkpoint.in_flight_keys.empty());
    // Each in the hour of its event time, inside its shard.
    for (const auto& [hour, o] : s.checkpoint.hour_outcomes) {
      per_hour += o.already_present;
      EXPECT_GT(absl::FromUnixSeconds(hour + 3600), s.shard.start) << s.shard.id;
      EXPECT_LT(absl::FromUnixSeconds(hour), s.shard.end) << s.shard.id;
    }
  }
  EXPECT_EQ(stored, live.size());
  EXPECT_EQ(per_hour, live.size());
}

// A crash between the sink's write and the checkpoint: on resume the sink
// holds that batch, and it must count as delivered by the job (it was),
// not as found in the destination.
TEST_F(PresenceTest, ABatchWrittenBeforeACrashCountsAsDeliveredNotAsAlreadyPresent) {
  const std::set<std::string> live = LiveFeedKeys();
  Destination dest(live);
  JobSpec spec = Spec();
  spec.concurrency = 1;
  RunResult first = Run(dest.NewSink([](int batch) {
    return batch == 5 ? absl::DataLossError("the process died after this write") : absl::OkStatus();
  }),
                        spec);
  EXPECT_FALSE(first.status.ok());
  bool had_keys_in_flight = false;
  for (const ShardReport& s : first.shards) {
    had_keys_in_flight |= s.checkpoint.in_flight && !s.checkpoint.in_flight_keys.empty();
  }
  EXPECT_TRUE(had_keys_in_flight) << "the failed batch left no in-flight keys: the test tests nothing";

  RunResult second = Run(dest.NewSink(), spec);
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(dest.held().size(), static_cast<size_t>(kRecords));
  for (const auto& [key, n] : dest.writes()) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(second.progress.totals.records_delivered, kRecords - live.size());
  EXPECT_EQ(second.progress.totals.records_already_present, live.size());
}

TEST_F(PresenceTest, ATransientPresenceFailureIsRetriedAndAPermanentOneStopsTheShardWithItsCheckpoint) {
  Destination flaky(LiveFeedKeys());
  RunResult r = Run(flaky.NewSink(nullptr, [](int check) {
    return check == 2 ? absl::UnavailableError("database restarting") : absl::OkStatus();
  }));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.retries, 1u);
  EXPECT_EQ(r.progress.totals.records_already_present, LiveFeedKeys().size());

  store_ = NewMemoryCheckpointStore();
  Destination refusing(LiveFeedKeys());
  JobSpec spec = Spec();
  spec.concurrency = 1;
  r = Run(refusing.NewSink(nullptr,
                           [](int check) {
                             return check == 3 ? absl::PermissionDeniedError("no SELECT on the table")
                                               : absl::OkStatus();
                           }),
          spec);
  ASSERT_FALSE(r.status.ok());
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("check presence in the sink"));
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("no SELECT on the table"));
  const ShardReport& failed = r.shards.front();
  EXPECT_EQ(failed.state, ShardState::kFailed);
  EXPECT_EQ(failed.checkpoint.cursor, "20");  // two pages done; the third is not in flight
  EXPECT_FALSE(failed.checkpoint.in_flight);
  EXPECT_THAT(failed.checkpoint.last_error, HasSubstr("no SELECT"));
  // Fixed, the run resumes at the third page.
  r = Run(refusing.NewSink(), spec);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(refusing.held().size(), static_cast<size_t>(kRecords));
  for (const auto& [key, n] : refusing.writes()) EXPECT_EQ(n, 1) << key;
}

TEST_F(PresenceTest, KeysThePresenceCheckWasNotAskedAboutAreIgnoredAndLoggedOnce) {
  Destination dest(LiveFeedKeys());
  int warnings = 0;
  BackfillerOptions options;
  options.on_log = [&](const LogEvent& e) {
    if (e.message.find("not asked about") != std::string::npos) {
      ++warnings;
      EXPECT_THAT(e.fields_json, HasSubstr("\"example\":\"not-in-this-page\""));
    }
  };
  RunResult r = Run(dest.NewSink(nullptr, nullptr, {"not-in-this-page"}), Spec(), options);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(warnings, 1);
  EXPECT_EQ(r.progress.totals.records_already_present, LiveFeedKeys().size());
  EXPECT_EQ(dest.held().size(), static_cast<size_t>(kRecords));
}

TEST_F(PresenceTest, ASinkThatCannotCheckIsRefusedNamingIt) {
  Components c;
  c.source = std::make_unique<FakeSource>(DayTimes(10), 10);
  c.mapper = *NewJsonMapper(kMapper);
  c.sink = NewCallbackSink([](const Shard&, absl::Span<const Record>) { return absl::OkStatus(); });
  c.checkpoints = NewMemoryCheckpointStore();
  auto b = Backfiller::Create(Spec(), std::move(c), {});
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("skip_already_present: the sink given in code"));

  const std::string job =
      R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "skip_already_present":true,"source":{"type":"jsonl_file","path":"in.jsonl"},"mapper":)" +
      std::string(kMapper) + R"(,"sink":)";
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job + R"({"type":"null"}})");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("skip_already_present: the null sink cannot tell which records it already holds"));
  spec = JobSpec::Parse(job + R"({"type":"jsonl_file","path":"out.jsonl"}})");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("set sink.format to \"envelope\""));
  spec =
      JobSpec::Parse(job + R"({"type":"jsonl_file","path":"out.jsonl","format":"envelope","append":true}})");
  EXPECT_TRUE(spec.ok()) << spec.status();
}

TEST_F(PresenceTest, TheOverlapWidensTheWindowOnBothSides) {
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(
      R"({"name":"j","window":{"start":"2026-11-14T04:00:00Z","end":"2026-11-14T20:00:00Z","overlap":"2h"},
          "shard_duration":"4h","source":{"type":"jsonl_file","path":"in.jsonl"},"mapper":)" +
      std::string(kMapper) + R"(,"sink":{"type":"null"}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->overlap, absl::Hours(2));
  EXPECT_EQ(spec->start, T("2026-11-14T02:00:00Z"));
  EXPECT_EQ(spec->end, T("2026-11-14T22:00:00Z"));
  absl::StatusOr<std::vector<Shard>> plan = PlanJob(*spec, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->front().start, T("2026-11-14T02:00:00Z"));
  EXPECT_EQ(plan->back().end, T("2026-11-14T22:00:00Z"));
  EXPECT_FALSE(JobSpec::Parse(R"({"name":"j","window":{"start":"2026-11-14T04:00:00Z",
      "end":"2026-11-14T20:00:00Z","overlap":"-1h"},"source":{"type":"jsonl_file","path":"in.jsonl"},"mapper":)" +
                              std::string(kMapper) + R"(,"sink":{"type":"null"}})")
                   .ok());
}

TEST(PresenceCheckpointTest, NewFieldsRaiseTheFormatVersionOnlyWhenUsed) {
  Checkpoint plain;
  plain.cursor = "c";
  EXPECT_THAT(EncodeCheckpoint("j", "s", plain), HasSubstr("\"version\":1,"));
  Checkpoint seam = plain;
  seam.in_flight = true;
  seam.in_flight_keys = {StableKeyHash("a"), StableKeyHash("b"), 0, UINT64_MAX};
  seam.counters.records_already_present = 42;
  const std::string bytes = EncodeCheckpoint("j", "s", seam);
  EXPECT_THAT(bytes, HasSubstr("\"version\":2,"));
  absl::StatusOr<Checkpoint> back = DecodeCheckpoint(bytes, "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->in_flight_keys, seam.in_flight_keys);
  EXPECT_EQ(back->counters.records_already_present, 42u);
  EXPECT_NE(StableKeyHash("a"), StableKeyHash("b"));
  EXPECT_EQ(StableKeyHash("txn-1"), StableKeyHash(std::string("txn-1")));

  Checkpoint warned = plain;
  warned.warning = "the queue keeps messages for 1m";
  const std::string v3 = EncodeCheckpoint("j", "s", warned);
  EXPECT_THAT(v3, HasSubstr("\"version\":3,"));
  back = DecodeCheckpoint(v3, "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->warning, warned.warning);
}

// ---- the JSON-lines sink ---------------------------------------------------

std::string Envelope(const std::string& key, const std::string& data) {
  return "{\"key\":\"" + key + "\",\"event_time\":null,\"maybe_redelivered\":false,\"data\":" + data + "}\n";
}

TEST(JsonlPresenceTest, AppendsAfterALiveFeedsLinesAndAnswersFromItsKeys) {
  TempDir dir;
  const std::string path = dir.File("out.jsonl");
  std::string live;
  for (const std::string& k : LiveFeedKeys()) live += Envelope(k, R"({"live":true})");
  testing::WriteFile(path, live);
  std::string input;
  const std::vector<absl::Time> times = DayTimes(kRecords);
  for (int i = 0; i < kRecords; ++i) {
    input += "{\"id\":\"r" + std::to_string(i) + "\",\"ts\":\"" + FormatRfc3339(times[i]) + "\"}\n";
  }
  testing::WriteFile(dir.File("in.jsonl"), input);
  const std::string job =
      R"({"name":"jsonl-seam","window":{"start":"2026-11-14T02:00:00Z","end":"2026-11-14T22:00:00Z","overlap":"2h"},
      "skip_already_present":true,"source":{"type":"jsonl_file","path":"in.jsonl","batch_size":25},"mapper":)" +
      std::string(kMapper) +
      R"(,"sink":{"type":"jsonl_file","path":"out.jsonl","format":"envelope","append":true,
      "fsync":false},"checkpoint":{"type":"file","dir":"state"}})";
  testing::WriteFile(dir.File("job.json"), job);
  absl::StatusOr<JobSpec> spec = JobSpec::FromFile(dir.File("job.json"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto b = Backfiller::Create(*spec, {}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_already_present, LiveFeedKeys().size());
  EXPECT_EQ(r.progress.totals.records_delivered, kRecords - LiveFeedKeys().size());
  const std::string out = testing::ReadFileOrEmpty(path);
  EXPECT_EQ(out.substr(0, live.size()), live) << "the live feed's lines were changed";
  std::multiset<std::string> keys;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(path)) {
    std::string_view key;
    ASSERT_EQ(parser.parse(line)["key"].get_string().get(key), simdjson::SUCCESS) << line;
    keys.emplace(key);
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), static_cast<size_t>(kRecords));
}

TEST(JsonlPresenceTest, AResumeBeforeAnyCommitKeepsTheLinesThatWereThereAndDropsTheTornBatch) {
  TempDir dir;
  const std::string path = dir.File("out.jsonl");
  const std::string live = Envelope("a", "{}") + Envelope("b", "{}");
  testing::WriteFile(path, live);
  JsonlFileSinkOptions o;
  o.path = path;
  o.format = JsonlFormat::kEnvelope;
  o.append = true;
  o.fsync = false;
  {
    auto sink = *NewJsonlFileSink(o);
    ASSERT_TRUE(sink->Open({}).ok());
    EXPECT_NE(sink->presence(), nullptr);
  }
  // A batch half-written by a process that died before any checkpoint held a token.
  testing::WriteFile(path, live + "{\"key\":\"c\",\"eve");
  auto sink = *NewJsonlFileSink(o);
  SinkOpenContext resuming;
  resuming.resuming = true;
  ASSERT_TRUE(sink->Open(resuming).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(path), live);
  RecordBatch batch;
  batch.Add("a", kUnknownEventTime, "{}");
  batch.Add("c", kUnknownEventTime, "{}");
  PresenceAnswer answer;
  Shard shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")};
  ASSERT_TRUE(sink->presence()->Check(shard, batch.records(), &answer).ok());
  EXPECT_EQ(answer.present, std::vector<bool>({true, false}));
  std::vector<SinkRejection> rejected;
  ASSERT_TRUE(testing::WriteTo(*sink, shard, batch, &rejected).ok());
  answer = PresenceAnswer();
  ASSERT_TRUE(sink->presence()->Check(shard, batch.records(), &answer).ok());
  EXPECT_EQ(answer.present, std::vector<bool>({true, true}));  // the index follows the commits

  // Payload lines carry no key: no presence check, and a bounded index.
  o.format = JsonlFormat::kPayload;
  EXPECT_EQ((*NewJsonlFileSink(o))->presence(), nullptr);
  o.format = JsonlFormat::kEnvelope;
  o.max_indexed_keys = 1;
  auto small = *NewJsonlFileSink(o);
  ASSERT_TRUE(small->Open(resuming).ok());
  answer = PresenceAnswer();
  absl::Status s = small->presence()->Check(shard, batch.records(), &answer);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("max_indexed_keys"));
}

}  // namespace
}  // namespace recovery
