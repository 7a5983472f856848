// auth.type "oauth2" against a loopback token endpoint whose access tokens
// live one second or two, over runs of several seconds with several shards:
// renewal ahead of expiry, one renewal for every shard, a token the API
// revokes, a refused grant, rotated refresh tokens written back and spent by
// one process at a time, and what a client killed between a refresh and its
// write-back leaves behind.
#include <stdlib.h>

#include <set>
#include <thread>
#include <tuple>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/metrics.h"
#include "testing/cli_runner.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "testing/token_server.h"
#include "util/strings.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SimulatedApi;
using testing::SimulatedApiOptions;
using testing::T;
using testing::TokenServer;
using testing::TokenServerOptions;

constexpr char kClientSecret[] = "client-s3cret-value";

// 1,200 records over four days; every answer takes 50 ms, so each of the four
// shards takes at least 30 pages x 50 ms, however fast the machine: longer
// than a token of one second lives.
SimulatedApiOptions Api(TokenServer& tokens) {
  SimulatedApiOptions o;
  o.start = T("2026-11-14T00:00:00Z");
  o.end = T("2026-11-18T00:00:00Z");
  o.records = 1200;
  o.small_records = true;
  o.latency = absl::Milliseconds(50);
  o.authorize = tokens.Authorizer();
  return o;
}

std::string ClientCredentials(const TokenServer& tokens) {
  return StrCat(R"({"type":"oauth2","token_url":")", tokens.url(),
                R"(","client_id":"recovery-test-client","client_secret_env":"RECOVERY_TEST_CLIENT_SECRET",
                   "scope":"transactions:read"})");
}

std::string RefreshToken(const TokenServer& tokens, const std::string& file) {
  return StrCat(R"({"type":"oauth2","grant":"refresh_token","token_url":")", tokens.url(),
                R"(","refresh_token_file":")", file, R"("})");
}

// `rest`: the job's last sections; a memory checkpoint store when empty.
std::string Job(const SimulatedApi& api, const std::string& auth, const std::string& rest = "") {
  return StrCat(R"({"name":"oauth2","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-18T00:00:00Z"},
      "shard_duration":"1d","concurrency":4,
      "retry":{"initial_backoff":"1ms","max_backoff":"50ms","max_attempts":8},
      "source":{"type":"http","url":")",
                api.base_url(), R"(/v1/cursor","query":{"from":"{start}","to":"{end}","limit":"{limit}",
        "cursor":"{cursor}"},"auth":)",
                auth, R"(,"records":"/data","page_size":10,"timeout":"5s",
        "pagination":{"type":"cursor","from":"/next_cursor"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                "key":{"from":"/id"},"event_time":{"from":"/created_at"}},)",
                rest.empty() ? R"("checkpoint":{"type":"memory"})" : rest, "}");
}

struct Outcome {
  RunResult result;
  std::multiset<std::string> keys;
  std::string metrics;
  std::string logs;
  absl::Duration elapsed;
};

Outcome RunJob(const std::string& job) {
  Outcome out;
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return out;
  auto keys = std::make_shared<std::multiset<std::string>>();
  auto mu = std::make_shared<absl::Mutex>();
  Components c;
  c.sink = NewCallbackSink([keys, mu](const Shard&, absl::Span<const Record> batch) {
    absl::MutexLock lock(mu.get());
    for (const Record& r : batch) keys->insert(std::string(r.key));
    return absl::OkStatus();
  });
  Metrics metrics;
  BackfillerOptions options;
  options.metrics = &metrics;
  auto logs = std::make_shared<std::string>();
  options.on_log = [logs, mu](const LogEvent& e) {
    absl::MutexLock lock(mu.get());
    *logs += StrCat(e.message, " ", e.fields_json, "\n");
  };
  auto b = Backfiller::Create(*spec, std::move(c), options);
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok()) return out;
  const absl::Time start = absl::Now();
  out.result = (*b)->Run();
  out.elapsed = absl::Now() - start;
  out.keys = *keys;
  out.metrics = metrics.RenderPrometheus();
  out.logs = *logs;
  return out;
}

void ExpectEveryRecordOnce(const Outcome& o, const SimulatedApi& api) {
  ASSERT_TRUE(o.result.status.ok()) << o.result.status;
  std::vector<std::string> ids = api.Ids(T("2026-11-14T00:00:00Z"), T("2026-11-18T00:00:00Z"));
  EXPECT_EQ(o.keys.size(), ids.size());
  EXPECT_EQ(std::set<std::string>(o.keys.begin(), o.keys.end()),
            std::set<std::string>(ids.begin(), ids.end()));
}

class OAuth2Test : public ::testing::Test {
 protected:
  void SetUp() override { setenv("RECOVERY_TEST_CLIENT_SECRET", kClientSecret, 1); }
  testing::TempDir dir_;
};

TEST_F(OAuth2Test, TokensThatExpireMidRunAreRenewedAheadOnceForEveryShard) {
  TokenServerOptions t;
  t.lifetime = absl::Seconds(1);  // renewed half a second before it expires
  TokenServer tokens(t);
  SimulatedApi api(Api(tokens));
  Outcome o = RunJob(Job(api, ClientCredentials(tokens)));
  ExpectEveryRecordOnce(o, api);
  // The run outlives several tokens, and every shard shares each one: at
  // most one renewal per half second of the run (four shards renewing on
  // their own would take four), however slow the machine made it.
  const int issued = tokens.tokens_issued();
  EXPECT_GE(issued, 2) << "the run took " << o.elapsed;
  EXPECT_LE(issued, 2 + static_cast<int>(o.elapsed / absl::Milliseconds(500)))
      << "the run took " << o.elapsed;
  EXPECT_THAT(o.metrics, HasSubstr(StrCat(R"(recovery_auth_refreshes_total{job="oauth2"} )", issued)));
  EXPECT_EQ(tokens.refused(), 0);
  EXPECT_THAT(o.logs, Not(HasSubstr(kClientSecret)));
  EXPECT_THAT(o.logs, Not(HasSubstr("at-1-")));  // no access token in the logs either
}

TEST_F(OAuth2Test, ATokenTheApiRevokesIsReplacedAndTheRunCarriesOn) {
  TokenServerOptions t;
  t.lifetime = absl::Seconds(3600);  // only a refusal renews it
  TokenServer tokens(t);
  SimulatedApiOptions a = Api(tokens);
  SimulatedApi api(a);
  std::thread revoker([&] {
    while (api.requests().size() < 20) absl::SleepFor(absl::Milliseconds(5));
    tokens.RevokeAll();
  });
  Outcome o = RunJob(Job(api, ClientCredentials(tokens)));
  revoker.join();
  ExpectEveryRecordOnce(o, api);
  EXPECT_EQ(tokens.tokens_issued(), 2);  // four shards saw the 401; one renewal served them all
  int refused = 0;
  for (const testing::RequestRecord& r : api.requests()) refused += r.status == 401;
  EXPECT_GE(refused, 1);
}

TEST_F(OAuth2Test, ARefusedGrantFailsTheJobNamingTheEndpointAndTheErrorButNoSecret) {
  setenv("RECOVERY_TEST_CLIENT_SECRET", "not-the-client-secret", 1);
  TokenServer tokens({});
  SimulatedApi api(Api(tokens));
  Outcome o = RunJob(Job(api, ClientCredentials(tokens)));
  ASSERT_FALSE(o.result.status.ok());
  const std::string message(o.result.status.message());
  EXPECT_THAT(message, HasSubstr(tokens.url()));
  EXPECT_THAT(message, HasSubstr("invalid_client"));
  EXPECT_THAT(message, HasSubstr("client recovery-test-client"));
  EXPECT_THAT(message, Not(HasSubstr("not-the-client-secret")));
  EXPECT_THAT(o.logs, Not(HasSubstr("not-the-client-secret")));
  // Asked once, and once more with the secret read anew; then never again,
  // whichever shard asked.
  EXPECT_EQ(tokens.requests(), 2);
  EXPECT_TRUE(api.requests().empty());
}

TEST_F(OAuth2Test, ARotatedRefreshTokenIsWrittenBackAndNeverSpentTwice) {
  TokenServerOptions t;
  t.lifetime = absl::Seconds(1);
  t.refresh_token = "rt-initial-value";
  t.rotate = true;
  t.strict = true;  // a spent refresh token is refused at once
  TokenServer tokens(t);
  SimulatedApi api(Api(tokens));
  const std::string file = dir_.File("refresh_token");
  testing::WriteFile(file, "rt-initial-value\n");
  Outcome o = RunJob(Job(api, RefreshToken(tokens, file)));
  ExpectEveryRecordOnce(o, api);
  EXPECT_GE(tokens.tokens_issued(), 2);
  EXPECT_EQ(tokens.refused(), 0);
  EXPECT_EQ(testing::ReadFileOrEmpty(file), tokens.refresh_token() + "\n");
  EXPECT_THAT(o.logs, Not(HasSubstr("rt-")));
}

// Two processes of one job (slices 1/2 and 2/2) on one host, one refresh
// token file, a server that refuses a spent refresh token: they take turns.
TEST_F(OAuth2Test, TwoProcessesOfOneJobShareARotatingRefreshToken) {
  TokenServerOptions t;
  t.lifetime = absl::Seconds(1);
  t.refresh_token = "rt-initial-value";
  t.rotate = true;
  t.strict = true;
  TokenServer tokens(t);
  SimulatedApi api(Api(tokens));
  const std::string file = dir_.File("refresh_token");
  testing::WriteFile(file, "rt-initial-value\n");
  const std::string job_path = dir_.File("job.json");
  testing::WriteFile(job_path, Job(api, RefreshToken(tokens, file),
                                   StrCat(R"("sink":{"type":"null"},"checkpoint":{"type":"file","dir":")",
                                          dir_.path(), R"("})")));
  std::vector<testing::CliResult> results(2);
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      results[i] = testing::RunCli(RECOVERY_CLI, {"run", job_path, "--shard", StrCat(i + 1, "/2")});
    });
  }
  for (std::thread& w : workers) w.join();
  for (const testing::CliResult& r : results) EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tokens.refused(), 0);
  EXPECT_GE(tokens.tokens_issued(), 2);
  EXPECT_EQ(testing::ReadFileOrEmpty(file), tokens.refresh_token() + "\n");
}

// A client killed after the token endpoint rotated the refresh token and
// before it saved the new one leaves the old one in the file.
TEST_F(OAuth2Test, AKillBetweenARefreshAndItsWriteBackIsSurvivedWhereTheServerAllowsIt) {
  for (bool strict : {false, true}) {
    SCOPED_TRACE(strict ? "strict" : "grace");
    TokenServerOptions t;
    t.lifetime = absl::Seconds(1);
    t.refresh_token = "rt-initial-value";
    t.rotate = true;
    t.strict = strict;
    TokenServer tokens(t);
    SimulatedApi api(Api(tokens));
    const std::string file = dir_.File(StrCat("refresh_token_", strict));
    testing::WriteFile(file, "rt-initial-value\n");
    tokens.RefreshAndForget();
    Outcome o = RunJob(Job(api, RefreshToken(tokens, file)));
    if (!strict) {  // the old token is good until the new one is first used
      ExpectEveryRecordOnce(o, api);
      EXPECT_EQ(testing::ReadFileOrEmpty(file), tokens.refresh_token() + "\n");
      continue;
    }
    ASSERT_FALSE(o.result.status.ok());
    const std::string message(o.result.status.message());
    EXPECT_THAT(message, HasSubstr("invalid_grant"));
    EXPECT_THAT(message, HasSubstr(StrCat("the refresh token in ", file)));
    EXPECT_THAT(message, Not(HasSubstr("rt-initial-value")));
    EXPECT_TRUE(api.requests().empty());
    EXPECT_TRUE(o.keys.empty());
  }
}

// auth.token_cmd: a command prints the token (a vault's client). The vault
// rotates it mid-run: the API refuses the old one, the command runs once more
// for every shard, and the run carries on. Were the new one refused too, the
// job fails on the 401 instead of running the command in a loop.
// The same holds for a secret sent as a query parameter (auth.type "query").
class CommandSecretTest : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(CommandSecretTest, ARotatedSecretIsFetchedAgainOnceAfterA401) {
  const bool fresh_refused_too = std::get<0>(GetParam());  // captured below: no structured binding
  const bool in_query = std::get<1>(GetParam());
  const std::string form = in_query ? "Query " : "Bearer ";
  testing::TempDir dir;
  testing::WriteFile(dir.File("generation"), "1\n");
  absl::Mutex mu;
  int answered = 0;
  std::string accepted = form + "tok-1";
  SimulatedApiOptions a;
  a.start = T("2026-11-14T00:00:00Z");
  a.end = T("2026-11-18T00:00:00Z");
  a.records = 1200;
  a.small_records = true;
  a.authorize = [&](std::string_view authorization) {
    absl::MutexLock lock(&mu);
    if (++answered == 20) {  // the vault rotates the token, and the old one dies
      testing::WriteFile(dir.File("generation"), "2\n");
      accepted = form + (fresh_refused_too ? "never" : "tok-2");
    }
    return authorization == accepted;
  };
  if (in_query) a.authorize_query = "api_key";
  SimulatedApi api(a);
  const std::string command = StrCat(R"x(["sh","-c","echo run >> ')x", dir.File("runs"),
                                     R"x('; echo tok-$(cat ')x", dir.File("generation"), R"x(')"])x");
  Outcome o =
      RunJob(Job(api, in_query ? StrCat(R"({"type":"query","name":"api_key","value_cmd":)", command, "}")
                               : StrCat(R"({"type":"bearer","token_cmd":)", command, "}")));
  const std::vector<std::string> runs = testing::ReadLines(dir.File("runs"));
  EXPECT_EQ(runs.size(), 2u) << "the command runs when the source is built, then once for every shard's 401";
  EXPECT_THAT(o.logs, Not(HasSubstr("tok-")));
  if (fresh_refused_too) {
    EXPECT_EQ(o.result.status.code(), absl::StatusCode::kUnauthenticated) << o.result.status;
    EXPECT_THAT(o.result.status.ToString(), Not(HasSubstr("tok-")));
    return;
  }
  ExpectEveryRecordOnce(o, api);
  EXPECT_THAT(o.metrics, HasSubstr("recovery_auth_refreshes_total{job=\"oauth2\"} 1"));
}

INSTANTIATE_TEST_SUITE_P(Rotation, CommandSecretTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<bool, bool>>& info) {
                           return StrCat(std::get<0>(info.param) ? "RefusedAgain" : "Accepted",
                                         std::get<1>(info.param) ? "InTheQuery" : "InAHeader");
                         });

TEST_F(OAuth2Test, ConfigErrorsNameTheirPaths) {
  const std::string base =
      R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "source":{"type":"http","url":"http://127.0.0.1:1/v1","records":"/data",
      "pagination":{"type":"page"},"auth":)";
  const std::string tail =
      R"(},"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]},"sink":{"type":"null"}})";
  struct Case {
    std::string auth, expected;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"type":"oauth2","client_id":"x","client_secret_env":"X"})",
            "source.auth.token_url: required"},
           {R"({"type":"oauth2","token_url":"ftp://x","client_id":"x","client_secret_env":"X"})",
            "source.auth.token_url: must start with http:// or https://"},
           {R"({"type":"oauth2","token_url":"http://x/t","client_secret_env":"X"})",
            "source.auth.client_id: required"},
           {R"({"type":"oauth2","token_url":"http://x/t","client_id":"x"})",
            "source.auth.client_secret_env: required"},
           {R"({"type":"oauth2","token_url":"http://x/t","grant":"refresh_token"})",
            "source.auth.refresh_token_file: required"},
           {R"({"type":"oauth2","token_url":"http://x/t","grant":"password"})", "source.auth.grant"},
           {R"({"type":"bearer","token_env":"X","token_cmd":["vault","read"]})",
            R"(source.auth.token: give one of "token", "token_env", "token_file" or "token_cmd")"},
           {R"({"type":"bearer","token_cmd":"vault read"})", "source.auth.token_cmd: expected array, got"},
           {R"({"type":"bearer","token_cmd":["vault",7]})",
            "source.auth.token_cmd: expected an array of strings"},
           {R"({"type":"bearer","token_cmd":[]})", "source.auth.token_cmd: expected the program"},
       }) {
    SCOPED_TRACE(c.auth);
    absl::StatusOr<JobSpec> spec = JobSpec::Parse(base + c.auth + tail);
    ASSERT_FALSE(spec.ok());
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(c.expected));
  }
}

}  // namespace
}  // namespace recovery
