// The SQS source and sink against moto_server (a real SQS emulator started
// here on a free loopback port) and, for faults moto cannot make, against the
// in-memory fake.
#include "aws/sqs.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "aws/aws.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/metrics.h"
#include "simdjson.h"
#include "testing/fake_sqs.h"
#include "testing/loopback_server.h"
#include "testing/moto.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using testing::FakeSqs;
using ::testing::HasSubstr;
using testing::MotoServer;
using ::testing::Not;
using testing::ReadLines;
using testing::Shell;
using testing::SqsAdmin;
using testing::SqsMessage;
using testing::TempDir;
using testing::WriteFile;

constexpr char kMapper[] = R"({"type":"json","fields":[{"name":"id","from":"/id","required":true},
                                {"name":"group","from":"/group"},{"name":"type","from":"/type"},
                                {"name":"amount","from":"/amount","type":"double"},{"name":"blob","from":"/blob"}],
                               "key":{"from":"/id"},"event_time":{"from":"/ts"}})";

std::string Body(int i, const char* ts = "2026-11-14T01:00:00Z") {
  return "{\"id\":\"m" + std::to_string(i) + "\",\"ts\":\"" + ts + "\"}";
}

std::vector<std::string> Bodies(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Body(i));
  return out;
}

// The "id" of each JSON line.
std::vector<std::string> Ids(const std::vector<std::string>& lines) {
  std::vector<std::string> ids;
  simdjson::dom::parser parser;
  for (const std::string& l : lines) {
    std::string_view id;
    simdjson::dom::element root;
    if (parser.parse(l).get(root) != simdjson::SUCCESS) {
      ids.push_back("<unparseable>");
      continue;
    }
    simdjson::dom::element data = root;
    if (root["data"].get(data) != simdjson::SUCCESS) data = root;
    ids.push_back(data["id"].get_string().get(id) == simdjson::SUCCESS ? std::string(id) : "<no id>");
  }
  return ids;
}

std::set<std::string> Expected(int n) {
  std::set<std::string> s;
  for (int i = 0; i < n; ++i) s.insert("m" + std::to_string(i));
  return s;
}

struct Delivered {
  std::string key;
  bool maybe_redelivered;
};

class SqsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("AWS_ACCESS_KEY_ID", "test", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    moto_ = new MotoServer();
  }
  static void TearDownTestSuite() {
    delete moto_;
    moto_ = nullptr;
  }
  void SetUp() override {
    ASSERT_FALSE(moto_->endpoint().empty()) << moto_->error();
    admin_ = std::make_unique<SqsAdmin>(moto_->endpoint());
  }

  // A new queue with a name unique to this test.
  std::string Queue(std::string suffix = "", std::map<std::string, std::string> attributes = {}) {
    static int n = 0;
    std::string name = "q" + std::to_string(++n) + suffix;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".fifo") == 0) attributes["FifoQueue"] = "true";
    absl::StatusOr<std::string> url = admin_->CreateQueue(name, attributes);
    EXPECT_TRUE(url.ok()) << url.status();
    return url.value_or("");
  }

  // A source section for `url` with fast draining; `extra` adds keys.
  // One receiver unless `extra` says otherwise: moto can hand one message to
  // two concurrent long polls (see below), which would flag it redelivered.
  std::string Source(const std::string& url, const std::string& extra = "") {
    const bool own_timeout = extra.find("visibility_timeout") != std::string::npos;
    const bool own_receivers = extra.find("receivers") != std::string::npos;
    return R"({"type":"sqs","queue_url":")" + url + R"(","endpoint":")" + moto_->endpoint() +
           R"(","wait_time":"1s","drain_after_empty_receives":2)" +
           (own_timeout ? "" : R"(,"visibility_timeout":"5s")") + (own_receivers ? "" : R"(,"receivers":1)") +
           (extra.empty() ? "" : "," + extra) + "}";
  }

  std::string Job(const std::string& source, const std::string& sink, const std::string& window = "") {
    return R"({"name":"sqs-test","window":)" +
           (window.empty() ? R"({"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"})" : window) +
           R"(,"source":)" + source + R"(,"mapper":)" + kMapper + (sink.empty() ? "" : R"(,"sink":)" + sink) +
           R"(,"checkpoint":{"type":"file","dir":")" + dir_.File("state") +
           R"("},"dead_letters":{"type":"file","path":")" + dir_.File("dead.jsonl") +
           R"(","fsync":false},"retry":{"initial_backoff":"10ms","max_backoff":"100ms","max_attempts":5}})";
  }

  RunResult Run(const std::string& job, std::unique_ptr<Sink> sink = nullptr) {
    absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return {};
    Components c;
    c.sink = std::move(sink);
    BackfillerOptions options;
    options.metrics = &metrics_;
    auto b = Backfiller::Create(*std::move(spec), std::move(c), std::move(options));
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) return {};
    return (*b)->Run();
  }

  // A sink recording keys and flags, calling `during` inside each write.
  std::unique_ptr<Sink> Recording(std::function<void(absl::Span<const Record>)> during = nullptr) {
    return NewCallbackSink([this, during](const Shard&, absl::Span<const Record> records) {
      if (during) during(records);
      absl::MutexLock lock(&mu_);
      for (const Record& r : records) delivered_.push_back({std::string(r.key), r.maybe_redelivered});
      return absl::OkStatus();
    });
  }

  std::multiset<std::string> DeliveredKeys() {
    absl::MutexLock lock(&mu_);
    std::multiset<std::string> keys;
    for (const Delivered& d : delivered_) keys.insert(d.key);
    return keys;
  }

  int64_t Count(const std::string& url, const char* which) {
    absl::StatusOr<std::map<std::string, int64_t>> c = admin_->Counts(url);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? (*c)[which] : -1;
  }

  static MotoServer* moto_;
  Metrics metrics_;
  std::unique_ptr<SqsAdmin> admin_;
  TempDir dir_;
  absl::Mutex mu_;
  std::vector<Delivered> delivered_;
};

MotoServer* SqsTest::moto_ = nullptr;

// One receiver: moto checks a message's visibility outside its lock, so two
// concurrent long polls can both be handed the same message (a moto race, not
// an SQS behaviour). Parallel receivers are proven against the fake below
// (SqsFakeTest.ParallelReceiversDrainEveryMessageOnce).
TEST_F(SqsTest, DrainsEveryMessageOnceDeletingOnlyAfterTheSinkAcknowledged) {
  const std::string url = Queue();
  ASSERT_TRUE(admin_->Send(url, Bodies(30)).ok());
  std::vector<int64_t> still_in_queue;
  RunResult r = Run(Job(Source(url, R"("receivers":1,"max_page_records":7)"), ""),
                    Recording([&](absl::Span<const Record> records) {
                      // While the sink holds a batch, its messages are in the queue, invisible.
                      still_in_queue.push_back(Count(url, "ApproximateNumberOfMessagesNotVisible") -
                                               static_cast<int64_t>(records.size()));
                    }));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.complete);
  std::multiset<std::string> keys = DeliveredKeys();
  EXPECT_EQ(keys.size(), 30u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), Expected(30));
  for (int64_t extra : still_in_queue) EXPECT_GE(extra, 0);
  EXPECT_EQ(Count(url, "ApproximateNumberOfMessages"), 0);
  EXPECT_EQ(Count(url, "ApproximateNumberOfMessagesNotVisible"), 0);
  for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered) << d.key;
  const std::string metrics = metrics_.RenderPrometheus();
  EXPECT_THAT(metrics, HasSubstr(R"(recovery_source_events_total{job="sqs-test",event="sqs_deleted"} 30)"));
  EXPECT_THAT(metrics, HasSubstr(R"(recovery_records_delivered_total{job="sqs-test"} 30)"));
}

// A queue keeps messages for its MessageRetentionPeriod: a window that starts
// earlier may have lost its oldest part from the queue, and the run says so
// (a warning naming that part, and a metric); a window the queue still
// covers gets no warning.
TEST_F(SqsTest, AWindowOlderThanTheQueueKeepsMessagesIsWarnedAboutWithItsExpiredPart) {
  for (const bool short_retention : {true, false}) {
    const std::string url =
        short_retention ? Queue("", {{"MessageRetentionPeriod", "60"}}) : Queue();  // 60 s, or SQS's 4 days
    const absl::Time start = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 3600);
    const std::string window = StrCat(R"({"start":")", FormatRfc3339(start), R"(","end":")",
                                      FormatRfc3339(start + absl::Hours(2)), R"("})");
    absl::StatusOr<JobSpec> spec = JobSpec::Parse(Job(Source(url), "", window));
    ASSERT_TRUE(spec.ok()) << spec.status();
    std::vector<std::string> warnings;
    BackfillerOptions options;
    options.metrics = &metrics_;
    options.on_log = [&](const LogEvent& e) {
      if (e.level == LogLevel::kWarning) warnings.push_back(StrCat(e.message, " ", e.fields_json));
    };
    Components c;
    c.sink = Recording();
    auto b = Backfiller::Create(*std::move(spec), std::move(c), std::move(options));
    ASSERT_TRUE(b.ok()) << b.status();
    RunResult r = (*b)->Run();
    ASSERT_TRUE(r.status.ok()) << r.status;
    std::string all;
    for (const std::string& w : warnings) StrAppend(&all, w, "\n");
    if (short_retention) {
      EXPECT_THAT(all, HasSubstr(StrCat("the queue keeps messages for 1m: the part of the window from ",
                                        FormatRfc3339(start), " to ")));
      EXPECT_THAT(all, HasSubstr("\"retention_s\":60"));
      // Kept in the shard's checkpoint for `recovery status`.
      absl::StatusOr<std::vector<ShardReport>> status = (*b)->Status();
      ASSERT_TRUE(status.ok()) << status.status();
      EXPECT_THAT(status->at(0).checkpoint.warning, HasSubstr("the queue keeps messages for 1m"));
      EXPECT_THAT(
          metrics_.RenderPrometheus(),
          HasSubstr(R"(recovery_source_events_total{job="sqs-test",event="sqs_window_beyond_retention"} 1)"));
    } else {
      EXPECT_THAT(all, ::testing::Not(HasSubstr("queue keeps messages"))) << all;
      EXPECT_EQ((*b)->Status()->at(0).checkpoint.warning, "");
    }
    std::filesystem::remove_all(dir_.File("state"));
  }
}

TEST_F(SqsTest, AMessageWhoseVisibilityLapsedComesBackAndIsFlaggedRedelivered) {
  const std::string url = Queue();
  ASSERT_TRUE(admin_->Send(url, Bodies(8)).ok());
  // Another consumer took three and died without deleting them.
  absl::StatusOr<std::vector<SqsMessage>> taken = admin_->Receive(url, 3, 1);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 3u);
  std::set<std::string> taken_ids;
  for (const SqsMessage& m : *taken) taken_ids.insert(Ids({m.body})[0]);
  absl::SleepFor(absl::Milliseconds(1200));
  RunResult r = Run(Job(Source(url), ""), Recording());
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(delivered_.size(), 8u);
  for (const Delivered& d : delivered_) EXPECT_EQ(d.maybe_redelivered, taken_ids.count(d.key) > 0) << d.key;
}

TEST_F(SqsTest, HeartbeatsKeepASlowBatchInvisibleToOtherConsumers) {
  for (bool heartbeat : {true, false}) {
    SCOPED_TRACE(heartbeat ? "with heartbeat" : "without heartbeat");
    delivered_.clear();
    std::filesystem::remove_all(dir_.File("state"));
    const std::string url = Queue();
    ASSERT_TRUE(admin_->Send(url, Bodies(3)).ok());
    std::atomic<int> stolen{0};
    std::atomic<bool> sink_busy{false};
    std::thread rival;
    // One message per page and two waiting: the receiver then stops, so only
    // heartbeats can keep the three invisible while the sink takes 5 s (> 2 x
    // the visibility timeout) over the first.
    RunResult r =
        Run(Job(Source(url, std::string(R"("visibility_timeout":"2s","receivers":1,"max_messages":1,)"
                                        R"("max_page_records":1,"heartbeat":)") +
                                (heartbeat ? "true" : "false")),
                ""),
            Recording([&](absl::Span<const Record>) {
              if (sink_busy.exchange(true)) return;
              rival = std::thread([&] {  // a live consumer polling meanwhile
                SqsAdmin other(moto_->endpoint());
                // Once our receiver holds all three (it takes them at once).
                absl::SleepFor(absl::Milliseconds(800));
                const absl::Time end = absl::Now() + absl::Milliseconds(3700);
                while (absl::Now() < end) {
                  auto got = other.Receive(url, 10, 30, 1);
                  if (got.ok()) stolen += static_cast<int>(got->size());
                }
              });
              absl::SleepFor(absl::Seconds(5));
            }));
    if (rival.joinable()) rival.join();
    if (heartbeat) {
      ASSERT_TRUE(r.status.ok()) << r.status;
      EXPECT_EQ(stolen.load(), 0);
      EXPECT_EQ(DeliveredKeys(), std::multiset<std::string>({"m0", "m1", "m2"}));
      EXPECT_EQ(
          Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible"), 0);
      for (const Delivered& d : delivered_) EXPECT_FALSE(d.maybe_redelivered) << d.key;
    } else {
      EXPECT_GT(stolen.load(), 0);  // the control: without heartbeats the rival gets them
    }
  }
}

TEST_F(SqsTest, PoisonMessagesGoToDeadLettersWithTheirIdAndAreDeletedOrReleased) {
  for (const char* on_poison : {"delete", "release"}) {
    SCOPED_TRACE(on_poison);
    delivered_.clear();
    std::remove(dir_.File("dead.jsonl").c_str());
    std::filesystem::remove_all(dir_.File("state"));
    const std::string url = Queue();
    // One message that failed three times before: received with a zero visibility timeout.
    ASSERT_TRUE(admin_->Send(url, {Body(0)}).ok());
    std::string poison_id;
    for (int i = 0; i < 3; ++i) {
      auto got = admin_->Receive(url, 1, 0);
      ASSERT_TRUE(got.ok() && got->size() == 1);
      poison_id = (*got)[0].id;
    }
    ASSERT_TRUE(admin_->Send(url, {Body(1), R"({"ts":"2026-11-14T01:00:00Z","no":"id"})", Body(3)}).ok());
    RunResult r =
        Run(Job(Source(url, std::string(R"("max_receive_count":2,"on_poison":")") + on_poison + "\""), ""),
            Recording());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(DeliveredKeys(), std::multiset<std::string>({"m1", "m3"}));
    std::vector<std::string> dead = ReadLines(dir_.File("dead.jsonl"));
    ASSERT_EQ(dead.size(), 2u);
    const std::string all = dead[0] + dead[1];
    EXPECT_THAT(all, HasSubstr("\"source_id\":\"" + poison_id + "\""));
    EXPECT_THAT(all, HasSubstr("poison message: received 4 times, more than max_receive_count 2"));
    EXPECT_THAT(all, HasSubstr(R"(\"id\":\"m0\")"));  // the body, for replay
    EXPECT_THAT(all, HasSubstr("key (/id): expected a string or number, got nothing (missing)"));
    const int64_t left =
        Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible");
    EXPECT_EQ(left, std::string(on_poison) == "delete" ? 0 : 2);
  }
}

TEST_F(SqsTest, MessagesOutsideTheWindowAreReleasedOrDeletedAsConfigured) {
  // By the mapped event time.
  for (const char* outside : {"release", "delete"}) {
    SCOPED_TRACE(outside);
    delivered_.clear();
    std::filesystem::remove_all(dir_.File("state"));
    const std::string url = Queue();
    ASSERT_TRUE(
        admin_
            ->Send(url, {Body(0), Body(1, "2026-11-20T00:00:00Z"), Body(2), Body(3, "2026-11-01T00:00:00Z")})
            .ok());
    RunResult r =
        Run(Job(Source(url, std::string(R"("outside_window":")") + outside + "\""), ""), Recording());
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(DeliveredKeys(), std::multiset<std::string>({"m0", "m2"}));
    EXPECT_EQ(r.progress.totals.records_out_of_window, 2u);
    EXPECT_EQ(Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible"),
              std::string(outside) == "release" ? 2 : 0);
  }
  // By SentTimestamp: everything was sent now, after this window.
  delivered_.clear();
  std::filesystem::remove_all(dir_.File("state"));
  const std::string url = Queue();
  ASSERT_TRUE(admin_->Send(url, Bodies(3)).ok());
  RunResult r = Run(Job(Source(url, R"("window":"sent_timestamp")"), ""), Recording());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(r.progress.totals.records_fetched, 0u);  // never handed to the engine
  // Left for others (one may still be held by a long poll cut short at the end).
  EXPECT_EQ(Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible"),
            3);
}

TEST_F(SqsTest, FifoOrderWithinEachGroupIsKeptThroughTheSink) {
  const std::string url = Queue(".fifo");
  std::map<std::string, std::vector<std::string>> by_group;
  for (int round = 0; round < 8; ++round) {
    for (const char* g : {"A", "B", "C"}) {
      const int i = static_cast<int>(by_group[g].size());
      std::string id = std::string(g) + std::to_string(i);
      by_group[g].push_back(id);
      ASSERT_TRUE(admin_->Send(url, {R"({"id":")" + id + R"(","ts":"2026-11-14T01:00:00Z"})"}, g, id).ok());
    }
  }
  // One receiver: moto checks a FIFO group's lock without serializing
  // concurrent receives (with 4 receivers under load it handed out B1 while
  // B0 went to another receiver), which real SQS does not do. Our side of the
  // contract is to deliver in the order received: pages of 4 from receives of 3.
  RunResult r =
      Run(Job(Source(url, R"("receivers":1,"max_messages":3,"max_page_records":4)"), ""), Recording());
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::map<std::string, std::vector<std::string>> seen;
  std::string order;
  for (const Delivered& d : delivered_) {
    seen[d.key.substr(0, 1)].push_back(d.key);
    order += d.key + (d.maybe_redelivered ? "* " : " ");
  }
  EXPECT_EQ(seen, by_group) << "delivered (* = maybe redelivered): " << order;
}

TEST_F(SqsTest, SinkSplitsBatchesByCountAndSizeAndDeadLettersARecordOverTheLimit) {
  const std::string url = Queue();
  const std::string big(400 * 1024, 'x');
  std::string lines;
  for (int i = 0; i < 25; ++i) {
    std::string blob = (i % 8 == 1) ? big : "small";    // 4 records of 400 KiB: at most 2 fit a batch
    if (i == 24) blob = std::string(1100 * 1024, 'y');  // over the 1 MiB message limit
    lines += R"({"id":"m)" + std::to_string(i) +
             R"(","ts":"2026-11-14T01:00:00Z","type":"payment","amount":)" + std::to_string(i) +
             R"(.5,"blob":")" + blob + "\"}\n";
  }
  WriteFile(dir_.File("export.jsonl"), lines);
  const std::string sink = R"({"type":"sqs","queue_url":")" + url + R"(","endpoint":")" + moto_->endpoint() +
                           R"(","attributes":{"type":"/type","amount":"/amount"}})";
  RunResult r = Run(
      Job(R"({"type":"jsonl_file","path":")" + dir_.File("export.jsonl") + R"(","batch_size":25})", sink));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.records_delivered, 24u);
  EXPECT_EQ(r.progress.totals.dead_letters, 1u);
  std::vector<std::string> dead = ReadLines(dir_.File("dead.jsonl"));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_THAT(dead[0], HasSubstr("rejected by the sink: message of "));
  EXPECT_THAT(dead[0], HasSubstr("exceeds the SQS limit of 1048576 bytes"));
  absl::StatusOr<std::vector<SqsMessage>> got = admin_->Drain(url);
  ASSERT_TRUE(got.ok()) << got.status();
  std::vector<std::string> bodies;
  for (const SqsMessage& m : *got) bodies.push_back(m.body);
  std::vector<std::string> ids = Ids(bodies);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 24u);
  EXPECT_EQ(ids.size(), 24u);
  ASSERT_FALSE(got->empty());
  EXPECT_THAT((*got)[0].message_attributes_json,
              HasSubstr(R"("type":{"StringValue":"payment","DataType":"String"})"));
  EXPECT_THAT((*got)[0].message_attributes_json, HasSubstr(R"("DataType":"Number")")) << (*got)[0].body;
}

TEST_F(SqsTest, FifoSinkGroupsByAFieldAndSqsDropsARedeliveredBatch) {
  const std::string url = Queue(".fifo");
  std::string lines;
  for (int i = 0; i < 12; ++i) {
    lines += R"({"id":"m)" + std::to_string(i) + R"(","ts":"2026-11-14T01:00:00Z","group":"g)" +
             std::to_string(i % 3) + "\"}\n";
  }
  WriteFile(dir_.File("export.jsonl"), lines);
  const std::string job = Job(R"({"type":"jsonl_file","path":")" + dir_.File("export.jsonl") + R"("})",
                              R"({"type":"sqs","queue_url":")" + url + R"(","endpoint":")" +
                                  moto_->endpoint() + R"(","message_group_id_from":"/group"})");
  ASSERT_TRUE(Run(job).status.ok());
  std::filesystem::remove_all(dir_.File("state"));  // a crash that lost every checkpoint: all sent again
  std::remove(dir_.File("dead.jsonl").c_str());
  ASSERT_TRUE(Run(job).status.ok());
  absl::StatusOr<std::vector<SqsMessage>> got = admin_->Drain(url);
  ASSERT_TRUE(got.ok()) << got.status();
  std::map<std::string, std::vector<std::string>> by_group;
  for (const SqsMessage& m : *got) {
    std::string_view group;
    simdjson::dom::parser parser;
    ASSERT_EQ(parser.parse(m.attributes_json).get_object()["MessageGroupId"].get_string().get(group),
              simdjson::SUCCESS)
        << m.attributes_json;
    by_group[std::string(group)].push_back(Ids({m.body})[0]);
  }
  EXPECT_EQ(got->size(), 12u);  // deduplicated by SQS on the record keys
  EXPECT_EQ(by_group["g0"], (std::vector<std::string>{"m0", "m3", "m6", "m9"}));
}

// Run 1 commits a page and "crashes" before the delete; run 2 must delete
// those messages on sight rather than deliver them again.
class NoDeleteSource : public recovery::Source {
 public:
  explicit NoDeleteSource(std::unique_ptr<recovery::Source> inner) : inner_(std::move(inner)) {}
  bool plans_one_shard() const override { return true; }
  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    absl::StatusOr<std::unique_ptr<ShardReader>> r = inner_->Open(shard, cursor, context);
    if (!r.ok()) return r.status();
    return std::unique_ptr<ShardReader>(new Reader(*std::move(r)));
  }

 private:
  class Reader : public ShardReader {
   public:
    explicit Reader(std::unique_ptr<ShardReader> inner) : inner_(std::move(inner)) {}
    absl::Status Next(Page* page) override { return inner_->Next(page); }
    absl::Status Commit(const Page&, absl::Span<const RecordOutcome>) override {
      return absl::AbortedError("killed between the checkpoint and the delete");
    }

   private:
    std::unique_ptr<ShardReader> inner_;
  };
  std::unique_ptr<recovery::Source> inner_;
};

TEST_F(SqsTest, MessagesCheckpointedButNotDeletedBeforeACrashAreNotDeliveredTwice) {
  const std::string url = Queue();
  ASSERT_TRUE(admin_->Send(url, Bodies(6)).ok());
  const std::string job = Job(Source(url, R"("max_page_records":10)"),
                              R"({"type":"jsonl_file","path":")" + dir_.File("out.jsonl") + "\"}");
  {
    absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
    ASSERT_TRUE(spec.ok());
    Components c;
    c.source = std::make_unique<NoDeleteSource>(*testing::SourceOf(*spec));
    auto b = Backfiller::Create(*spec, std::move(c), {});
    ASSERT_TRUE(b.ok()) << b.status();
    RunResult r = (*b)->Run();
    EXPECT_THAT(std::string(r.status.message()), HasSubstr("killed between the checkpoint and the delete"));
  }
  const size_t first = ReadLines(dir_.File("out.jsonl")).size();
  EXPECT_GT(first, 0u);
  RunResult r = Run(job);
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<std::string> ids = Ids(ReadLines(dir_.File("out.jsonl")));
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), Expected(6));
  EXPECT_EQ(Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible"),
            0);
}

TEST_F(SqsTest, SigkillMidBatchThenRerunDeliversEverythingExactlyOnce) {
  const std::string url = Queue();
  constexpr int kMessages = 90;  // moto slows down with depth: keep it under ~100
  ASSERT_TRUE(admin_->Send(url, Bodies(kMessages)).ok());
  const std::string job_path = dir_.File("job.json");
  // No poison limit: kills soon after each batch make a message's receive
  // count climb, and this test is about exactly once, not about poison.
  WriteFile(
      job_path,
      Job(Source(url,
                 R"("visibility_timeout":"2s","max_page_records":4,"receivers":2,"max_receive_count":0)"),
          R"({"type":"jsonl_file","path":")" + dir_.File("out.jsonl") + "\"}"));
  std::mt19937 rng(7);
  int kills = 0, kills_mid_batch = 0;
  const char* profile = std::getenv("RECOVERY_TORTURE");
  const int kKills = profile != nullptr && std::string(profile) == "long" ? 50 : 10;
  auto store = *NewFileCheckpointStore(dir_.File("state"));
  for (int run = 0; run < kKills + 8; ++run) {
    const int64_t out_before = testing::FileSize(dir_.File("out.jsonl"));
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      execl(RECOVERY_CLI, RECOVERY_CLI, "run", job_path.c_str(), nullptr);
      _exit(127);
    }
    // Once a batch of this run reached the sink, a random moment later.
    if (run < kKills) {
      testing::KillAfterProgress(pid, dir_.File("out.jsonl"), out_before,
                                 std::uniform_int_distribution<int>(0, 15)(rng));
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      // In flight: a batch was being delivered, or messages were received and not yet deleted.
      auto ck = store->Load("sqs-test", "20261114T000000Z-20261115T000000Z");
      ASSERT_TRUE(ck.ok()) << ck.status();
      kills_mid_batch +=
          (ck->has_value() && (*ck)->in_flight) || Count(url, "ApproximateNumberOfMessagesNotVisible") > 0;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) break;
  }
  EXPECT_GE(kills, kKills - 2);  // a run may finish before its kill
  EXPECT_GT(kills_mid_batch, 0) << "no kill caught messages in flight: the test tested nothing";
  std::vector<std::string> ids = Ids(ReadLines(dir_.File("out.jsonl")));
  std::multiset<std::string> counted(ids.begin(), ids.end());
  int duplicates = 0;
  for (const std::string& id : Expected(kMessages)) duplicates += counted.count(id) > 1;
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), Expected(kMessages));
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(Count(url, "ApproximateNumberOfMessages") + Count(url, "ApproximateNumberOfMessagesNotVisible"),
            0);
  std::printf("sqs: kills=%d (mid-batch %d) records=%d lost=%d duplicates=%d\n", kills, kills_mid_batch,
              kMessages, kMessages - static_cast<int>(std::set<std::string>(ids.begin(), ids.end()).size()),
              duplicates);
}

// ---- signatures, against a moto that checks them --------------------------------

std::string JsonField(const std::string& json, const char* pointer) {
  simdjson::dom::parser parser;
  std::string_view v;
  if (parser.parse(json).at_pointer(pointer).get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

TEST(SqsSignatureTest, ACorrectKeyPassesAWrongSecretOrAMissingTokenFailsClearly) {
  MotoServer moto({"INITIAL_NO_AUTH_ACTION_COUNT=3"});
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  const std::string aws =
      "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url " +
      moto.endpoint() + " --output json ";
  // The three unchecked calls make a user with a key allowed to use SQS.
  Shell(aws + "iam create-user --user-name tester");
  const std::string key_json = Shell(aws + "iam create-access-key --user-name tester");
  const std::string key = JsonField(key_json, "/AccessKey/AccessKeyId");
  const std::string secret = JsonField(key_json, "/AccessKey/SecretAccessKey");
  ASSERT_FALSE(key.empty()) << key_json;
  Shell(aws +
        "iam put-user-policy --user-name tester --policy-name all --policy-document "
        "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*"
        "\"}]}'");

  SqsAdmin good(moto.endpoint(), key, secret);
  absl::StatusOr<std::string> url = good.CreateQueue("signed");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(good.Send(*url, Bodies(2)).ok());

  SqsAdmin bad(moto.endpoint(), key, "not-the-secret-key-at-all");
  absl::StatusOr<std::vector<SqsMessage>> refused = bad.Receive(*url, 1, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("credentials from the test"));
  EXPECT_THAT(std::string(refused.status().message()), ::testing::Not(HasSubstr("not-the-secret-key")));

  // Temporary credentials (an assumed role) carry a session token.
  const std::string user = "AWS_ACCESS_KEY_ID=" + key + " AWS_SECRET_ACCESS_KEY=" + secret +
                           " AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url " + moto.endpoint() +
                           " --output json ";
  const std::string allow_all =
      "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"
      "]}'";
  Shell(user +
        "iam create-role --role-name recovery --assume-role-policy-document "
        "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},"
        "\"Action\":\"sts:AssumeRole\"}]}'");
  Shell(user + "iam put-role-policy --role-name recovery --policy-name all --policy-document " + allow_all);
  const std::string session = Shell(
      user + "sts assume-role --role-arn arn:aws:iam::123456789012:role/recovery --role-session-name test");
  const std::string tkey = JsonField(session, "/Credentials/AccessKeyId");
  const std::string tsecret = JsonField(session, "/Credentials/SecretAccessKey");
  const std::string token = JsonField(session, "/Credentials/SessionToken");
  ASSERT_FALSE(token.empty()) << session;
  SqsAdmin temporary(moto.endpoint(), tkey, tsecret, token);
  absl::StatusOr<std::vector<SqsMessage>> got = temporary.Receive(*url, 1, 0);
  EXPECT_TRUE(got.ok()) << got.status();
  SqsAdmin tokenless(moto.endpoint(), tkey, tsecret);
  absl::StatusOr<std::vector<SqsMessage>> no_token = tokenless.Receive(*url, 1, 0);
  ASSERT_FALSE(no_token.ok());
  EXPECT_THAT(std::string(no_token.status().message()), HasSubstr("InvalidClientTokenId"));
}

// ---- the fake against moto: the behaviours the scale tier relies on -------------

// One script of calls on a queue, written down as what an observer sees.
std::vector<std::string> QueueTranscript(SqsAdmin& admin, const std::string& url, bool fifo) {
  std::vector<std::string> out;
  auto receive = [&](int max, int visibility) {
    absl::StatusOr<std::vector<SqsMessage>> got = admin.Receive(url, max, visibility);
    if (!got.ok()) {
      out.push_back("receive failed: " + got.status().ToString());
      return std::vector<SqsMessage>{};
    }
    std::string line = "received";
    for (const SqsMessage& m : *got) {
      line += " " + m.body + "(" + JsonField(m.attributes_json, "/ApproximateReceiveCount") + ")";
    }
    out.push_back(line);
    return *got;
  };
  auto counts = [&] {
    absl::StatusOr<std::map<std::string, int64_t>> c = admin.Counts(url);
    out.push_back(c.ok() ? "visible " + std::to_string((*c)["ApproximateNumberOfMessages"]) + " in flight " +
                               std::to_string((*c)["ApproximateNumberOfMessagesNotVisible"])
                         : "counts failed");
  };
  auto batch = [&](const char* action, const std::vector<SqsMessage>& messages, const std::string& extra) {
    std::string body = "{\"QueueUrl\":\"" + url + "\",\"Entries\":[";
    for (size_t i = 0; i < messages.size(); ++i) {
      body += (i > 0 ? "," : "") + std::string("{\"Id\":\"") + std::to_string(i) + "\",\"ReceiptHandle\":\"" +
              messages[i].receipt + "\"" + extra + "}";
    }
    absl::StatusOr<std::string> r = admin.Call(action, body + "]}");
    out.push_back(std::string(action) +
                  (r.ok() && r->find("\"Failed\":[{") == std::string::npos ? " ok" : " failed"));
  };
  if (!fifo) {
    EXPECT_TRUE(admin.Send(url, {"s0", "s1", "s2"}).ok());
    const std::vector<SqsMessage> first = receive(2, 1);
    counts();
    const std::vector<SqsMessage> last = receive(10, 30);
    receive(10, 30);                           // nothing visible
    absl::SleepFor(absl::Milliseconds(1500));  // the first two come back, counted twice
    counts();
    const std::vector<SqsMessage> again = receive(10, 30);
    batch("DeleteMessageBatch", again, "");
    batch("DeleteMessageBatch", last, "");
    counts();
    return out;
  }
  EXPECT_TRUE(admin.Send(url, {"a0", "a1", "a2"}, "A", "a").ok());
  EXPECT_TRUE(admin.Send(url, {"b0", "b1"}, "B", "b").ok());
  const std::vector<SqsMessage> a0 = receive(1, 30);
  receive(10, 30);  // group A is locked while a0 is in flight: only B's
  receive(10, 30);  // both locked
  counts();
  EXPECT_TRUE(admin.Send(url, {"a0"}, "A", "a").ok());  // deduplicated: not enqueued again
  counts();
  batch("DeleteMessageBatch", a0, "");
  // One message of a group lapses at a time: moto 5.2.1 hands out a later
  // message of a group before an earlier one whose visibility lapsed with it.
  receive(1, 1);  // A's next
  absl::SleepFor(absl::Milliseconds(1500));
  receive(10, 30);  // back, then the rest of A in order
  counts();
  return out;
}

TEST_F(SqsTest, TheFakeBehavesAsMotoDoesOnVisibilityReceiveCountsAndFifoGroups) {
  for (const bool fifo : {false, true}) {
    SCOPED_TRACE(fifo ? "FIFO" : "standard");
    const std::string url = Queue(fifo ? ".fifo" : "");
    const std::vector<std::string> moto = QueueTranscript(*admin_, url, fifo);
    FakeSqs fake(fifo ? "transcript.fifo" : "transcript");
    SqsAdmin fake_admin(fake.endpoint());
    const std::vector<std::string> ours = QueueTranscript(fake_admin, fake.queue_url(), fifo);
    EXPECT_EQ(ours, moto);
    const std::vector<std::string> expected =
        fifo ? std::vector<std::string>{"received a0(1)",
                                        "received b0(1) b1(1)",
                                        "received",
                                        "visible 2 in flight 3",
                                        "visible 2 in flight 3",
                                        "DeleteMessageBatch ok",
                                        "received a1(1)",
                                        "received a1(2) a2(1)",
                                        "visible 0 in flight 4"}
             : std::vector<std::string>{"received s0(1) s1(1)",  "visible 1 in flight 2",
                                        "received s2(1)",        "received",
                                        "visible 2 in flight 1", "received s0(2) s1(2)",
                                        "DeleteMessageBatch ok", "DeleteMessageBatch ok",
                                        "visible 0 in flight 0"};
    EXPECT_EQ(ours, expected);
  }
}

// ---- faults moto cannot make, against the fake ----------------------------------

// Several receivers long-poll at once (the fake hands a message to one
// receive at a time, as SQS does): every message is delivered once, unflagged,
// and is still in the queue while the sink holds its batch.
TEST(SqsFakeTest, ParallelReceiversDrainEveryMessageOnce) {
  FakeSqs fake("parallel");
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  for (int i = 0; i < 300; ++i) fake.Send(Body(i));
  const std::string job =
      R"({"name":"parallel","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"sqs","queue_url":")" +
      fake.queue_url() + R"(","endpoint":")" + fake.endpoint() +
      R"(","region":"us-east-1","wait_time":"0s","drain_after_empty_receives":3,"receivers":6,
              "max_messages":10,"max_page_records":7},
    "mapper":)" +
      std::string(kMapper) + R"(,"checkpoint":{"type":"memory"},"retry":{"initial_backoff":"5ms"}})";
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::Mutex mu;
  std::multiset<std::string> keys;
  int flagged = 0, deleted_early = 0;
  Components c;
  c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> records) {
    absl::MutexLock lock(&mu);
    for (const Record& r : records) {
      keys.insert(std::string(r.key));
      flagged += r.maybe_redelivered;
    }
    for (const Record& r : records)
      deleted_early += !fake.Holds(Body(std::stoi(std::string(r.key).substr(1))));
    return absl::OkStatus();
  });
  auto b = Backfiller::Create(*spec, std::move(c), {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(keys.size(), 300u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), Expected(300));
  EXPECT_EQ(flagged, 0);
  EXPECT_EQ(deleted_early, 0);
  EXPECT_EQ(fake.size(), 0u);
}

TEST(SqsFakeTest, FailedBatchEntriesAndThrottlingAreRetriedEntryByEntry) {
  FakeSqs fake("faulty");
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  for (int i = 0; i < 40; ++i) fake.Send(Body(i));
  TempDir dir;
  fake.Throttle(2);     // the first receives are throttled
  fake.FailEntries(3);  // then three delete/visibility entries fail inside 200 answers
  const std::string job =
      R"({"name":"fake","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"sqs","queue_url":")" +
      fake.queue_url() + R"(","endpoint":")" + fake.endpoint() +
      R"(","region":"us-east-1","wait_time":"0s","drain_after_empty_receives":2,"receivers":2},
    "mapper":)" +
      std::string(kMapper) + R"(,
    "sink":{"type":"sqs","queue_name":"faulty","endpoint":")" +
      fake.endpoint() + R"(","region":"us-east-1"},
    "checkpoint":{"type":"memory"},"retry":{"initial_backoff":"5ms","max_backoff":"50ms"}})";
  // The sink writes back into the same fake queue, so it would drain forever:
  // replace it with a recorder, and test the sink's own faults below.
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::multiset<std::string> keys;
  Components c;
  c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> records) {
    for (const Record& r : records) keys.insert(std::string(r.key));
    return absl::OkStatus();
  });
  auto b = Backfiller::Create(*spec, std::move(c), {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(keys.size(), 40u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), Expected(40));
  EXPECT_EQ(fake.size(), 0u);  // the failed deletes were retried until they held

  // The sink: failed entries (and only they) are sent again.
  FakeSqs target("target");
  TempDir dir2;
  std::string lines;
  for (int i = 0; i < 23; ++i) lines += Body(i) + "\n";
  WriteFile(dir2.File("in.jsonl"), lines);
  const std::string sink_job =
      R"({"name":"sink","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"jsonl_file","path":")" +
      dir2.File("in.jsonl") + R"("},"mapper":)" + std::string(kMapper) + R"(,
    "sink":{"type":"sqs","queue_name":"target","endpoint":")" +
      target.endpoint() + R"(","region":"us-east-1"},
    "checkpoint":{"type":"memory"},"retry":{"initial_backoff":"5ms","max_backoff":"50ms"}})";
  target.FailEntries(4);
  spec = JobSpec::Parse(sink_job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  b = Backfiller::Create(*spec, {}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<std::string> sent = target.sent();
  EXPECT_EQ(sent.size(), 23u);  // each once: the 4 failed entries were re-sent alone
  std::vector<std::string> ids = Ids(sent);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), Expected(23));
  EXPECT_GE(target.calls()["SendMessageBatch"], 4);

  // A whole SendMessageBatch refused after the first of three went through:
  // the engine retries the batch, and the sink sends only what SQS lacks.
  FakeSqs target2("target");
  const std::string job2 = std::string(sink_job).replace(sink_job.find(target.endpoint()),
                                                         target.endpoint().size(), target2.endpoint());
  target2.Throttle(1, /*after=*/2);  // GetQueueUrl, the first batch of 10, then a throttle
  spec = JobSpec::Parse(job2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  b = Backfiller::Create(*spec, {}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.progress.totals.retries, 1u);
  sent = target2.sent();
  ids = Ids(sent);
  EXPECT_EQ(sent.size(), 23u);  // not 33: the 10 sent before the throttle were skipped
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), Expected(23));
}

// Deletes that keep failing while the messages come back (their visibility
// lapses): each message has one delete queued at a time, sent with its newest
// receipt. Every delete entry beyond one per message is a failure or a
// receipt that went stale on the way; none repeats a delete already queued
// (a queue that grew by one delete per receive once starved the drain).
TEST(SqsFakeTest, AMessageReceivedAgainWhileItsDeleteFailsIsDeletedOnceWithItsNewestReceipt) {
  FakeSqs fake("comeback");
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) fake.Send(Body(i));
  fake.FailDeletesUntilReceived(3);
  const std::string job =
      R"({"name":"comeback","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"sqs","queue_url":")" +
      fake.queue_url() + R"(","endpoint":")" + fake.endpoint() +
      R"(","region":"us-east-1","wait_time":"0s","drain_after_empty_receives":2,"receivers":2,
              "visibility_timeout":"1s"},
    "mapper":)" +
      std::string(kMapper) + R"(,"checkpoint":{"type":"memory"},"retry":{"initial_backoff":"5ms"}})";
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::multiset<std::string> keys;
  Components c;
  c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> records) {
    for (const Record& r : records) keys.insert(std::string(r.key));
    return absl::OkStatus();
  });
  auto b = Backfiller::Create(*spec, std::move(c), {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult r = (*b)->Run();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), Expected(kCount));
  EXPECT_EQ(keys.size(),
            static_cast<size_t>(kCount));  // a message back after its commit is not delivered again
  EXPECT_EQ(fake.size(), 0u);
  const FakeSqs::Counts counts = fake.counts();
  EXPECT_GE(counts.max_receive_count, 3);
  EXPECT_GE(counts.failed_deletes, kCount);
  EXPECT_LE(counts.delete_entries, kCount + counts.failed_deletes + counts.stale_deletes)
      << "deleted " << counts.deleted << ", failed " << counts.failed_deletes << ", stale "
      << counts.stale_deletes;
}

TEST(SqsFakeTest, FollowModeKeepsReceivingUntilCancelled) {
  FakeSqs fake("live");
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  for (int i = 0; i < 10; ++i) fake.Send(Body(i));
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(
      R"({"name":"follow","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z",
          "follow":true,"poll_interval":"50ms"},
        "source":{"type":"sqs","queue_url":")" +
      fake.queue_url() + R"(","endpoint":")" + fake.endpoint() +
      R"(","region":"us-east-1","wait_time":"0s","drain_after_empty_receives":1},
        "mapper":)" +
      std::string(kMapper) + R"(,"checkpoint":{"type":"memory"}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::Mutex mu;
  std::multiset<std::string> keys;
  Components c;
  c.sink = NewCallbackSink([&](const Shard&, absl::Span<const Record> records) {
    absl::MutexLock lock(&mu);
    for (const Record& r : records) keys.insert(std::string(r.key));
    return absl::OkStatus();
  });
  auto b = Backfiller::Create(*spec, std::move(c), {});
  ASSERT_TRUE(b.ok()) << b.status();
  RunResult result;
  std::thread run([&] { result = (*b)->Run(); });
  auto wait_for = [&](size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&] { return keys.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  };
  EXPECT_TRUE(wait_for(10));
  for (int i = 10; i < 15; ++i) fake.Send(Body(i));  // the feed is live again
  EXPECT_TRUE(wait_for(15));
  (*b)->Cancel();
  run.join();
  EXPECT_EQ(result.status.code(), absl::StatusCode::kCancelled) << result.status;
  EXPECT_EQ(keys, [] {
    std::multiset<std::string> all;
    for (int i = 0; i < 15; ++i) all.insert("m" + std::to_string(i));
    return all;
  }());
  EXPECT_EQ(fake.size(), 0u);  // all deleted
}

// ---- configuration and protocol details, no server ------------------------------

// credential_process: a command prints temporary credentials as JSON (the
// AWS CLI's convention): named in the job spec, or a profile's, in the
// shared credentials file or the config file. Its output never reaches a
// message.
TEST(AwsConfigTest, CredentialsFromAProcessAreReadAsTheAwsCliWritesThem) {
  TempDir dir;
  const std::string script = dir.File("creds.sh");
  WriteFile(
      script,
      "#!/bin/sh\n"
      "echo '{\"Version\": 1, \"AccessKeyId\": \"PROCKEY'\"$1\"'\", \"SecretAccessKey\": \"proc-secret\", "
      "\"SessionToken\": \"proc-token\", \"Expiration\": \"2030-01-01T00:00:00Z\"}'\n");
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  std::map<std::string, std::string> env;
  GetEnv getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  AwsCredentialLookup lookup;
  lookup.process = {script, "-spec"};
  absl::StatusOr<AwsCredentials> c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "PROCKEY-spec");
  EXPECT_EQ(c->secret_access_key, "proc-secret");
  EXPECT_EQ(c->session_token, "proc-token");
  EXPECT_EQ(c->origin, "credentials.process");

  lookup.process = {"sh", "-c", "echo leaked-secret-output"};
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("printed no credentials of the credential_process form"));
  EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("leaked-secret-output")));
  lookup.process = {"false"};
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("credentials.process"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("exited 1"));

  // A profile's credential_process: in the credentials file, then in the config file.
  lookup.process.clear();
  WriteFile(dir.File("credentials"), StrCat("[ci]\ncredential_process = ", script, " \"-from file\"\n"));
  WriteFile(dir.File("config"),
            StrCat("[profile cfg]\nregion = eu-west-1\ncredential_process = ", script, " -config\n"));
  env["AWS_SHARED_CREDENTIALS_FILE"] = dir.File("credentials");
  env["AWS_CONFIG_FILE"] = dir.File("config");
  env["AWS_PROFILE"] = "ci";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "PROCKEY-from file");
  EXPECT_THAT(c->origin, HasSubstr("profile \"ci\" credential_process"));
  env["AWS_PROFILE"] = "cfg";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "PROCKEY-config");
  env["AWS_PROFILE"] = "nobody";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("profile \"nobody\" (no credential_process)"));

  // In the job spec.
  const std::string base =
      R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "source":{"type":"sqs","queue_url":"http://127.0.0.1:1/q","region":"us-east-1","credentials":)";
  const std::string tail =
      R"(},"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]},"sink":{"type":"null"}})";
  EXPECT_TRUE(
      JobSpec::Parse(base + R"({"process":["aws-vault","export","--format=json","prod"]})" + tail).ok());
  absl::StatusOr<JobSpec> both = JobSpec::Parse(
      base + R"({"process":["x"],"access_key_id_env":"A","secret_access_key_env":"B"})" + tail);
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(std::string(both.status().message()),
              HasSubstr("give a process or environment variables, not both"));
  absl::StatusOr<JobSpec> none = JobSpec::Parse(base + R"({"process":[]})" + tail);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("source.credentials.process: expected the program"));
}

TEST(AwsConfigTest, CredentialsAreFoundInTheUsualOrderAndAMissingOneNamesWhereItLooked) {
  TempDir dir;
  WriteFile(dir.File("credentials"),
            "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = dsecret\n\n"
            "[prod]\naws_access_key_id=PRODKEY\naws_secret_access_key=psecret\n"
            "aws_session_token = ptoken\n");
  std::map<std::string, std::string> env;
  GetEnv getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  AwsCredentialLookup lookup;
  absl::StatusOr<AwsCredentials> c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("HOME is not set"));

  env["AWS_SHARED_CREDENTIALS_FILE"] = dir.File("credentials");
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "DEFAULTKEY");
  env["AWS_PROFILE"] = "prod";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "PRODKEY");
  EXPECT_EQ(c->session_token, "ptoken");
  EXPECT_THAT(c->origin, HasSubstr("profile \"prod\""));
  lookup.profile = "staging";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("no profile \"staging\""));

  env["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env["AWS_SECRET_ACCESS_KEY"] = "esecret";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ENVKEY");

  lookup.access_key_id_env = "JOB_KEY";
  lookup.secret_access_key_env = "JOB_SECRET";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("not set: JOB_KEY, JOB_SECRET"));
  env["JOB_KEY"] = "JOBKEY";
  env["JOB_SECRET"] = "jsecret";
  c = ResolveAwsCredentials(lookup, getenv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "JOBKEY");

  EXPECT_EQ(ResolveAwsRegion("eu-west-1", getenv).value_or(""), "eu-west-1");
  EXPECT_FALSE(ResolveAwsRegion("", getenv).ok());
  env["AWS_DEFAULT_REGION"] = "us-west-2";
  EXPECT_EQ(ResolveAwsRegion("", getenv).value_or(""), "us-west-2");
  env["AWS_REGION"] = "ap-south-1";
  EXPECT_EQ(ResolveAwsRegion("", getenv).value_or(""), "ap-south-1");
}

TEST(AwsConfigTest, ErrorsAreReadFromJsonXmlOrTheQueryErrorHeader) {
  AwsError e =
      ParseAwsError(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no such queue"})", nullptr);
  EXPECT_EQ(e.code, "QueueDoesNotExist");
  EXPECT_EQ(e.message, "no such queue");
  e = ParseAwsError(R"({"__type":"InvalidParameterValue","Message":"bad"})", nullptr);
  EXPECT_EQ(e.code, "InvalidParameterValue");
  EXPECT_EQ(e.message, "bad");
  e = ParseAwsError(
      "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The "
      "request signature we calculated does not match</Message></Error></ErrorResponse>",
      nullptr);
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  EXPECT_THAT(e.message, HasSubstr("does not match"));
  const std::string header = "AWS.SimpleQueueService.NonExistentQueue;Sender";
  e = ParseAwsError("", &header);
  EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
  e = ParseAwsError("<html>502 Bad Gateway</html>", nullptr);
  EXPECT_TRUE(e.code.empty());
  EXPECT_TRUE(IsAwsThrottling("ThrottlingException"));
  EXPECT_FALSE(IsAwsThrottling("QueueDoesNotExist"));
}

// A rotated key is picked up without a restart: AWS refuses the old one as
// expired, the client looks the credentials up again and retries once.
TEST(AwsConfigTest, RefusedCredentialsAreLookedUpAgainOnce) {
  httplib::Server server;
  std::atomic<int> requests{0};
  server.Post("/", [&](const httplib::Request& req, httplib::Response& res) {
    ++requests;
    if (req.get_header_value("Authorization").find("Credential=NEWKEY/") != std::string::npos) {
      res.set_content(R"({"QueueUrls":[]})", "application/x-amz-json-1.0");
      return;
    }
    res.status = 403;
    res.set_content(
        R"({"__type":"com.amazonaws.sqs#ExpiredToken","message":"The security token has expired"})",
        "application/x-amz-json-1.0");
  });
  std::thread thread;
  const int port = testing::StartLoopbackServer(server, &thread, "credentials server");
  absl::Cleanup stop_server = [&] {
    server.stop();
    thread.join();
  };
  std::map<std::string, std::string> env = {{"ROT_KEY", "OLDKEY"}, {"ROT_SECRET", "old-secret-value"}};
  GetEnv getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  AwsOptions options;
  options.region = "us-east-1";
  options.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/";
  options.access_key_id_env = "ROT_KEY";
  options.secret_access_key_env = "ROT_SECRET";
  FieldErrors errors;
  std::optional<AwsConfig> config = ResolveAwsConfig(options, "source", getenv, &errors);
  ASSERT_TRUE(config.has_value()) << errors.list()[0];
  auto client = std::make_unique<AwsJsonClient>(&*config);
  // The key has not changed yet: refused once, with no second try.
  absl::StatusOr<std::string> r = client->Call("ListQueues", "{}", absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(requests.load(), 1);
  EXPECT_EQ(std::string(r.status().message()).find("old-secret-value"), std::string::npos);
  // Rotated: the next refusal looks them up again and the retry goes through.
  env["ROT_KEY"] = "NEWKEY";
  env["ROT_SECRET"] = "new-secret-value";
  r = client->Call("ListQueues", "{}", absl::Seconds(10));
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(requests.load(), 3);
  auto other = std::make_unique<AwsJsonClient>(&*config);  // every client of the source shares the fresh key
  EXPECT_TRUE(other->Call("ListQueues", "{}", absl::Seconds(10)).ok());
  EXPECT_EQ(requests.load(), 4);
  client.reset();  // closes the kept-alive connections, so the server stops at once
  other.reset();
}

TEST(AwsConfigTest, BadSqsSectionsAreNamed) {
  setenv("AWS_ACCESS_KEY_ID", "test", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  auto errors = [](const std::string& source, const std::string& sink = R"({"type":"null"})") {
    std::vector<std::string> e = ValidateJobSpec(
        R"({"name":"x","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},"source":)" +
        source + R"(,"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]},"sink":)" + sink + "}");
    std::string all;
    for (const std::string& s : e) all += s + "\n";
    return all;
  };
  EXPECT_THAT(errors(R"({"type":"sqs","region":"us-east-1"})"),
              HasSubstr("source.queue_url: give exactly one of \"queue_url\" or \"queue_name\""));
  EXPECT_THAT(errors(R"({"type":"sqs","queue_name":"q.fifo","region":"us-east-1","on_poison":"release"})"),
              HasSubstr("source.on_poison: \"release\" would block a FIFO message group"));
  EXPECT_THAT(errors(R"({"type":"sqs","queue_name":"q","region":"us-east-1","wait_time":"30s"})"),
              HasSubstr("source.wait_time: at most 20s"));
  EXPECT_THAT(errors(R"({"type":"sqs","queue_name":"q","region":"us-east-1","recievers":4})"),
              HasSubstr("source.recievers: unknown key"));
  EXPECT_THAT(
      errors(R"({"type":"sqs","queue_name":"q","region":"us-east-1",
                         "credentials":{"access_key_id_env":"NOPE_KEY","secret_access_key_env":"NOPE_SECRET"}})"),
      HasSubstr("source.credentials: AWS credentials: the job spec names environment variables that are not "
                "set: NOPE_KEY, NOPE_SECRET"));
  EXPECT_THAT(errors(R"({"type":"jsonl_file","path":"x"})",
                     R"({"type":"sqs","queue_name":"q.fifo","region":"us-east-1"})"),
              HasSubstr("sink.message_group_id_from: a FIFO queue needs exactly one of"));
  EXPECT_THAT(errors(R"({"type":"jsonl_file","path":"x"})",
                     R"({"type":"sqs","queue_name":"q","region":"us-east-1","attributes":{"t":"type"}})"),
              HasSubstr("sink.attributes.t: expected a JSON pointer"));
}

}  // namespace
}  // namespace recovery
