// The HTTP source end to end against the simulated API on loopback: every
// pagination style, ties on page boundaries, faults, limits and secrets.
#include <stdlib.h>

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "testing/fakes.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

using testing::Fault;
using ::testing::HasSubstr;
using testing::SimulatedApi;
using testing::SimulatedApiOptions;
using testing::T;

constexpr char kSecret[] = "s3cr3t-token-value";

SimulatedApiOptions Api(int64_t records = 300) {
  SimulatedApiOptions o;
  o.start = T("2026-11-14T00:00:00Z");
  o.end = T("2026-11-18T00:00:00Z");
  o.records = records;
  o.small_records = true;
  o.bearer_token = kSecret;
  return o;
}

struct Outcome {
  RunResult result;
  std::multiset<std::string> keys;
  std::vector<std::string> logs;
};

class HttpSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("RECOVERY_TEST_TOKEN", kSecret, 1); }

  // A 4-day window in 1-day shards over `api`, paged as `pagination` says.
  std::string Job(const SimulatedApi& api, const std::string& style, const std::string& pagination,
                  const std::string& extra = "") {
    return StrCat(R"({"name":"http-)", style,
                  R"(","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-18T00:00:00Z"},
      "shard_duration":"1d","concurrency":4,
      "retry":{"initial_backoff":"1ms","max_backoff":"20ms","max_attempts":6},
      "source":{"type":"http","url":")",
                  api.base_url(), "/v1/", style, R"(",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","page":"{page}","offset":"{offset}",
                 "cursor":"{cursor}","after_time":"{after_time}","after_id":"{after_id}"},
        "auth":{"type":"bearer","token_env":"RECOVERY_TEST_TOKEN"},
        "records":"/data","page_size":10,"timeout":"2s","pagination":)",
                  pagination, extra, R"(},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":{"type":"memory"}})");
  }

  // `store` (borrowed, may be null) outlives the run so a test can read it.
  Outcome Run(const std::string& job, CheckpointStore* store = nullptr) {
    auto spec = JobSpec::Parse(job);
    EXPECT_TRUE(spec.ok()) << spec.status();
    Outcome out;
    auto keys = std::make_shared<std::multiset<std::string>>();
    Components c;
    c.sink = NewCallbackSink([keys](const Shard&, absl::Span<const Record> batch) {
      for (const Record& r : batch) keys->insert(std::string(r.key));
      return absl::OkStatus();
    });
    if (store) c.checkpoints = std::make_unique<testing::SharedStore>(store);
    BackfillerOptions options;
    auto logs = std::make_shared<std::vector<std::string>>();
    options.on_log = [logs](const LogEvent& e) {
      logs->push_back(StrCat(LogLevelName(e.level), " ", e.message, " ", e.fields_json));
    };
    auto b = Backfiller::Create(*spec, std::move(c), options);
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) return out;
    out.result = (*b)->Run();
    out.keys = *keys;
    out.logs = *logs;
    return out;
  }

  static void ExpectExactlyOnce(const Outcome& o, const SimulatedApi& api) {
    ASSERT_TRUE(o.result.status.ok()) << o.result.status;
    EXPECT_TRUE(o.result.complete);
    std::vector<std::string> ids = api.Ids(T("2026-11-14T00:00:00Z"), T("2026-11-18T00:00:00Z"));
    EXPECT_EQ(o.keys.size(), ids.size());
    EXPECT_EQ(std::set<std::string>(o.keys.begin(), o.keys.end()),
              std::set<std::string>(ids.begin(), ids.end()));
  }
};

TEST_F(HttpSourceTest, EveryPaginationStyleDeliversEveryRecordOnce) {
  const std::map<std::string, std::string> styles = {
      {"page", R"({"type":"page","first":1})"},
      {"offset", R"({"type":"offset"})"},
      {"cursor", R"({"type":"cursor","from":"/next_cursor"})"},
      {"cursor-header", R"({"type":"cursor_header","header":"X-Next-Cursor"})"},
      {"link", R"({"type":"link"})"},
      {"next-url", R"({"type":"next_url","from":"/links/next"})"},
      {"keyset", R"({"type":"keyset","time":"/created_at","id":"/id"})"},
  };
  for (const auto& [style, pagination] : styles) {
    SCOPED_TRACE(style);
    SimulatedApi api(Api(257));
    Outcome o = Run(Job(api, style, pagination, R"(,"total":{"header":"X-Total-Count"})"));
    ExpectExactlyOnce(o, api);
    for (const ShardReport& s : o.result.shards) EXPECT_EQ(s.total_mismatch, "") << style;
  }
}

// A GraphQL connection: the query and its variables in a JSON body (the
// cursor null on the first page), the end cursor and has-next flag from the
// answer, and errors inside a 200 answer: throttling retried, others fatal.
TEST_F(HttpSourceTest, AGraphqlConnectionIsPagedAndItsErrorsAreReadFromA200) {
  auto job = [](const SimulatedApi& api) {
    return StrCat(R"({"name":"graphql","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-18T00:00:00Z"},
      "shard_duration":"1d","concurrency":4,
      "retry":{"initial_backoff":"1ms","max_backoff":"20ms","max_attempts":6},
      "source":{"type":"http","method":"POST","url":")",
                  api.base_url(), R"(/v1/graphql",
        "body":{"query":"query($first:Int!,$after:String){transactions(first:$first,after:$after){nodes{id} pageInfo{endCursor hasNextPage}}}",
                "variables":{"from":"{start}","to":"{end}","first":"{limit}","after":"{cursor}"}},
        "auth":{"type":"bearer","token_env":"RECOVERY_TEST_TOKEN"},
        "records":"/data/transactions/nodes","page_size":10,"timeout":"2s",
        "pagination":{"type":"graphql","cursor":"/data/transactions/pageInfo/endCursor",
                      "has_next":"/data/transactions/pageInfo/hasNextPage"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":{"type":"memory"}})");
  };
  {
    SimulatedApi api(Api(257));
    api.Script({Fault{Fault::kGraphqlThrottled}, Fault{Fault::kGraphqlThrottled}});
    Outcome o = Run(job(api));
    ExpectExactlyOnce(o, api);
    int retried = 0;  // each throttled answer was asked again
    for (const std::string& line : o.logs) retried += line.find("(throttled: retried)") != std::string::npos;
    EXPECT_EQ(retried, 2);
  }
  {
    SimulatedApi api(Api(257));
    api.Script({Fault{Fault::kGraphqlError}});
    Outcome o = Run(job(api));
    ASSERT_FALSE(o.result.status.ok());
    EXPECT_THAT(std::string(o.result.status.message()),
                HasSubstr("answered GraphQL errors: Field 'amount' doesn't exist on type 'Order'"));
  }
}

TEST_F(HttpSourceTest, CompressedResponsesAreDecoded) {
  SimulatedApiOptions options = Api(120);
  options.compress = true;
  SimulatedApi api(options);
  ExpectExactlyOnce(Run(Job(api, "offset", R"({"type":"offset"})")), api);
}

TEST_F(HttpSourceTest, TiesOnTheBoundaryTimestampAreNeitherLostNorDuplicated) {
  SimulatedApiOptions options = Api(400);
  options.same_time_group = 7;  // pages of 10 cut through groups of equal timestamps
  SimulatedApi api(options);
  ExpectExactlyOnce(Run(Job(api, "keyset", R"({"type":"keyset","time":"/created_at","id":"/id"})")), api);
}

TEST_F(HttpSourceTest, AShortPageAloneNeverEndsAShard) {
  SimulatedApiOptions options = Api(300);
  options.max_page_size = 4;  // the server quietly returns 4 when asked for 10
  SimulatedApi api(options);
  ExpectExactlyOnce(Run(Job(api, "page", R"({"type":"page"})")), api);
  SimulatedApi api2(options);
  ExpectExactlyOnce(Run(Job(api2, "offset", R"({"type":"offset"})")), api2);
}

TEST_F(HttpSourceTest, TransientFaultsAreRetriedAndRetryAfterIsHonoured) {
  SimulatedApi api(Api(200));
  api.Script({Fault{Fault::k500}, Fault{Fault::k429, 1}, Fault{Fault::kReset}, Fault{Fault::kTruncate},
              Fault{Fault::kInvalidJson}, Fault{Fault::kStall, 0, absl::Seconds(3)}});
  std::string job = Job(api, "page", R"({"type":"page"})");
  job.replace(job.find("\"max_attempts\":6"), 16, "\"max_attempts\":10");
  job.replace(job.find("\"concurrency\":4"), 15, "\"concurrency\":1");
  Outcome o = Run(job);
  ExpectExactlyOnce(o, api);
  EXPECT_GE(o.result.progress.totals.retries, 6u);
  // No request left before the Retry-After of the 429 had passed.
  std::vector<testing::RequestRecord> requests = api.requests();
  for (size_t i = 0; i + 1 < requests.size(); ++i) {
    if (requests[i].status == 429) EXPECT_GE(requests[i + 1].time - requests[i].time, absl::Seconds(1));
  }
  int timeouts = 0;
  for (const std::string& l : o.logs) timeouts += l.find("DEADLINE_EXCEEDED") != std::string::npos;
  EXPECT_GE(timeouts, 1);
}

TEST_F(HttpSourceTest, CredentialsAreNotForwardedToAnotherOrigin) {
  SimulatedApi api(Api(50));
  SimulatedApiOptions other_options = Api(50);
  other_options.bearer_token = "";  // the other host answers anyone
  SimulatedApi other(other_options);
  api.Script({Fault{Fault::kRedirect, 0, {}, other.base_url()}});
  std::string job = Job(api, "page", R"({"type":"page"})");
  job.replace(job.find("\"concurrency\":4"), 15, "\"concurrency\":1");
  Outcome o = Run(job);
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  ASSERT_FALSE(other.requests().empty());
  for (const testing::RequestRecord& r : other.requests()) EXPECT_EQ(r.authorization, "") << r.path;
  for (const testing::RequestRecord& r : api.requests())
    EXPECT_EQ(r.authorization, StrCat("Bearer ", kSecret));
}

TEST_F(HttpSourceTest, ResponsesOverTheSizeCapFailTheShardClearly) {
  SimulatedApi api(Api(50));
  api.Script({Fault{Fault::kHuge, 0, {}, "", 200000}});
  std::string job = Job(api, "page", R"({"type":"page"})", R"(,"max_response_bytes":100000)");
  job.replace(job.find("\"concurrency\":4"), 15, "\"concurrency\":1");
  Outcome o = Run(job);
  EXPECT_EQ(o.result.status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(o.result.status.message()),
              HasSubstr("response exceeds max_response_bytes (100000)"));
  EXPECT_EQ(o.result.shards[0].state, ShardState::kFailed);
  EXPECT_EQ(o.result.shards[1].state, ShardState::kDone);
}

TEST_F(HttpSourceTest, AFailedCursorPageIsAskedForAgainWithTheSameCursor) {
  SimulatedApi api(Api(100));
  std::vector<Fault> faults;
  for (int i = 0; i < 6; ++i) faults.push_back(Fault{i % 2 ? Fault::kReset : Fault::k500});
  api.Script(faults);
  std::string job = Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor"})");
  job.replace(job.find("\"max_attempts\":6"), 16, "\"max_attempts\":9");
  ExpectExactlyOnce(Run(job), api);
}

TEST_F(HttpSourceTest, ServerRepeatingTheRequestedCursorIsDetected) {
  SimulatedApi api(Api(100));
  // Request 1 (no cursor) is normal; request 2 answers with its own cursor again.
  api.Script({Fault{Fault::kStall, 0, absl::ZeroDuration()}, Fault{Fault::kRepeatCursor}});
  std::string job = Job(api, "cursor", R"({"type":"cursor","from":"/next_cursor"})");
  job.replace(job.find("\"concurrency\":4"), 15, "\"concurrency\":1");
  Outcome o = Run(job);
  EXPECT_EQ(o.result.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(o.result.status.message()), HasSubstr("would loop"));
}

TEST_F(HttpSourceTest, PermanentErrorsFailAtOnceNamingStatusUrlAndBodyButNeverTheSecret) {
  SimulatedApi api(Api(50));
  api.Script({Fault{Fault::k401}});
  std::string job = Job(api, "page", R"({"type":"page"})", "");
  job.replace(job.find("\"concurrency\":4"), 15, "\"concurrency\":1");
  Outcome o = Run(job);
  EXPECT_EQ(o.result.status.code(), absl::StatusCode::kUnauthenticated);
  const std::string message(o.result.status.message());
  EXPECT_THAT(message, HasSubstr("returned HTTP 401"));
  EXPECT_THAT(message, HasSubstr(api.base_url() + "/v1/page?"));
  EXPECT_THAT(message, HasSubstr("token expired"));
  EXPECT_EQ(o.result.progress.totals.retries, 0u);
  for (const std::string& l : o.logs) EXPECT_EQ(l.find(kSecret), std::string::npos) << l;
  EXPECT_EQ(message.find(kSecret), std::string::npos);
}

TEST_F(HttpSourceTest, QueryParameterSecretsAreRedactedEverywhere) {
  SimulatedApiOptions options = Api(40);
  options.bearer_token = "";
  SimulatedApi api(options);
  api.Script({Fault{Fault::k500}});
  std::string job = Job(api, "link", R"({"type":"link"})");
  job.replace(job.find(R"("auth":{"type":"bearer","token_env":"RECOVERY_TEST_TOKEN"})"),
              strlen(R"("auth":{"type":"bearer","token_env":"RECOVERY_TEST_TOKEN"})"),
              R"("auth":{"type":"query","name":"api_key","value":"inline-secret-key"})");
  std::unique_ptr<CheckpointStore> store = NewMemoryCheckpointStore();
  CheckpointStore* raw = store.get();
  Outcome o = Run(job, raw);
  ExpectExactlyOnce(o, api);
  bool warned = false;
  for (const std::string& l : o.logs) {
    EXPECT_EQ(l.find("inline-secret-key"), std::string::npos) << l;
    warned |= l.find("holds a secret inline") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  for (const ShardReport& s : o.result.shards) {
    auto ck = raw->Load("http-link", s.shard.id);
    ASSERT_TRUE(ck.ok() && ck->has_value());
    EXPECT_EQ((*ck)->cursor.find("inline-secret-key"), std::string::npos) << (*ck)->cursor;
  }
  for (const testing::RequestRecord& r : api.requests())
    EXPECT_THAT(r.query, HasSubstr("api_key=inline-secret-key"));
}

TEST_F(HttpSourceTest, ATotalThatDisagreesWithWhatWasFetchedIsReported) {
  SimulatedApi api(Api(100));
  std::vector<Fault> lies(200, Fault{Fault::kWrongTotal});
  api.Script(lies);
  Outcome o = Run(Job(api, "offset", R"({"type":"offset"})", R"(,"total":{"from":"/total"})"));
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  int mismatches = 0;
  for (const ShardReport& s : o.result.shards)
    mismatches += s.total_mismatch.find("the source reported") != std::string::npos;
  EXPECT_EQ(mismatches, 4);
}

TEST_F(HttpSourceTest, AQuotaResetBeyondMaxWaitPausesTheJobResumably) {
  SimulatedApi api(Api(100));
  api.Script({Fault{Fault::k429, 7200}});
  std::string job =
      Job(api, "page", R"({"type":"page"})", R"(,"rate_limit":{"requests_per_second":1000,"max_wait":"1m"})");
  Outcome o = Run(job);
  EXPECT_EQ(o.result.outcome, RunOutcome::kPaused);
  EXPECT_TRUE(IsPaused(o.result.status));
  EXPECT_THAT(std::string(o.result.status.message()), HasSubstr("paused"));
  EXPECT_FALSE(o.result.complete);
  for (const ShardReport& s : o.result.shards) EXPECT_NE(s.state, ShardState::kFailed);
}

TEST_F(HttpSourceTest, TheSharedRateLimitSpacesRequests) {
  SimulatedApi api(Api(60));
  std::string job =
      Job(api, "page", R"({"type":"page"})", R"(,"rate_limit":{"requests_per_second":50,"burst":1})");
  // Measured on the client, around the whole run: the bucket is full (one
  // token) when the job is created, so the N-th request cannot leave before
  // (N-1)/50 s later, however the machine schedules the threads. (Arrival
  // times at the server would not do: a first request handled late makes the
  // span look short.) The bucket's own arithmetic is tested on a given clock
  // in RateLimiterTest.
  const absl::Time before = absl::Now();
  Outcome o = Run(job);
  const absl::Duration took = absl::Now() - before;
  ExpectExactlyOnce(o, api);
  const size_t n = api.requests().size();
  ASSERT_GE(n, 10u);
  EXPECT_GE(took, absl::Seconds((n - 1) / 50.0) - absl::Milliseconds(1));
}

TEST_F(HttpSourceTest, FollowModePollsForRecordsThatArriveLater) {
  SimulatedApiOptions options = Api(100);
  options.end = T("2026-11-14T00:00:00Z") + absl::Minutes(100);
  SimulatedApi api(options);
  std::string job =
      StrCat(R"({"name":"follow","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-14T00:30:00Z",
      "follow":true,"poll_interval":"20ms"},"shard_duration":"1h","concurrency":2,
      "source":{"type":"http","url":")",
             api.base_url(), R"(/v1/keyset",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","after_time":"{after_time}","after_id":"{after_id}"},
        "auth":{"type":"bearer","token_env":"RECOVERY_TEST_TOKEN"},"records":"/data","page_size":10,
        "pagination":{"type":"keyset","time":"/created_at","id":"/id"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":{"type":"memory"}})");
  auto spec = *JobSpec::Parse(job);
  auto keys = std::make_shared<std::multiset<std::string>>();
  Backfiller* self = nullptr;
  Components c;
  c.sink = NewCallbackSink([&, keys](const Shard&, absl::Span<const Record> batch) {
    for (const Record& r : batch) keys->insert(std::string(r.key));
    if (keys->size() == 100) api.Append(25, absl::Minutes(1));  // new records arrive after catching up
    if (keys->size() == 125) self->Cancel();
    return absl::OkStatus();
  });
  auto b = *Backfiller::Create(spec, std::move(c));
  self = b.get();
  RunResult r = b->Run();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(keys->size(), 125u);
  EXPECT_EQ(std::set<std::string>(keys->begin(), keys->end()).size(), 125u);
  ASSERT_EQ(r.shards.size(), 2u);
  // The gap's shard delivered its 30 records before the new ones came; whether
  // it also committed its last, empty page before the cancel is a race.
  EXPECT_NE(r.shards[0].state, ShardState::kFailed);
  EXPECT_EQ(r.shards[1].shard.id, "20261114T003000Z-open");
}

// An API that ignores the window's end (json-server has no `_lt`) hands every
// shard every record after its start. Each bad record is dead-lettered once:
// by its own shard when its time can be read, else by the first shard to see
// it; every good one is delivered once; each shard says once that it saw
// records of other shards.
TEST_F(HttpSourceTest, AnApiThatIgnoresTheWindowsEndDeadLettersEachBadRecordOnce) {
  SimulatedApiOptions o = Api(400);
  o.ignore_to = true;
  o.bad_every = 37;       // an amount the mapping cannot read, at a readable time
  o.bad_time_every = 53;  // a time nobody can read
  SimulatedApi api(o);
  testing::TempDir dir;
  std::string job = Job(api, "offset", R"({"type":"offset"})");
  job.replace(job.find(R"("fields":[{"name":"id","from":"/id","required":true}])"),
              strlen(R"("fields":[{"name":"id","from":"/id","required":true}])"),
              R"("fields":[{"name":"id","from":"/id","required":true},
                           {"name":"amount","from":"/amount/value","type":"decimal","required":true}])");
  job.replace(job.find(R"("checkpoint":{"type":"memory"})"), strlen(R"("checkpoint":{"type":"memory"})"),
              StrCat(R"("checkpoint":{"type":"file","dir":")", dir.File("state"), R"("},
                     "error_budget":{"max_fraction":1})"));
  // Several runs, each stopped by max_records: a later run must not dead-letter
  // again what an earlier one did.
  job.replace(job.find(R"("concurrency":4,)"), strlen(R"("concurrency":4,)"),
              R"("concurrency":4,"max_records":120,)");
  std::multiset<std::string> delivered;
  int warnings = 0, runs = 0;
  for (bool complete = false; !complete && runs < 20; ++runs) {
    Outcome out = Run(job);
    ASSERT_TRUE(out.result.status.ok()) << out.result.status;
    complete = out.result.complete;
    delivered.insert(out.keys.begin(), out.keys.end());
    for (const std::string& l : out.logs)
      warnings += l.find("outside the shard's window") != std::string::npos;
  }
  EXPECT_GT(runs, 2);
  const std::vector<std::string> bad = api.BadIds();
  std::multiset<std::string> good_expected;
  for (const std::string& id : api.Ids(T("2026-11-14T00:00:00Z"), T("2026-11-18T00:00:00Z"))) {
    if (std::find(bad.begin(), bad.end(), id) == bad.end()) good_expected.insert(id);
  }
  EXPECT_EQ(delivered, good_expected);
  EXPECT_GE(warnings, 3);  // every shard but the last sees later shards' records, once a run
  std::multiset<std::string> dead;
  simdjson::dom::parser parser;
  for (const std::string& line : testing::ReadLines(dir.File("state/http-offset/dead_letters.jsonl"))) {
    std::string_view raw = parser.parse(line)["raw"].get_string().value();
    dead.insert(std::string(parser.parse(std::string(raw))["id"].get_string().value()));
  }
  EXPECT_EQ(dead, std::multiset<std::string>(bad.begin(), bad.end()));
}

TEST_F(HttpSourceTest, ConfigErrorsNameTheirPaths) {
  std::vector<std::string> errors =
      ValidateJobSpec(R"({"name":"x","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "source":{"type":"http","url":"ftp://x/{strat}","records":"data","pagination":{"type":"pages"},
              "auth":{"type":"bearer","token_env":"RECOVERY_NO_SUCH_VAR"},"query":{"n":1},"page_size":"100"}})");
  EXPECT_THAT(
      errors,
      ::testing::IsSupersetOf(
          {HasSubstr("source.url: unknown placeholder {strat}"),
           HasSubstr("source.url: must start with http:// or https://"),
           HasSubstr("source.query.n: expected string, got 1"),
           HasSubstr("source.records: \"data\" is not a JSON pointer"),
           HasSubstr("source.page_size: expected integer, got \"100\""),
           HasSubstr("source.pagination.type: expected one of \"page\""),
           HasSubstr("source.auth.token_env: environment variable RECOVERY_NO_SUCH_VAR is not set")}));
}

}  // namespace
}  // namespace recovery
