// The HTTP sink against a loopback endpoint that records every request:
// one record per request and batches, idempotency keys, 409 as already
// present, 503 with Retry-After, 401 stopping the job, 413 splitting a batch,
// per-item results, the presence check, TLS with a test CA, secrets kept out
// of logs and dead letters, and SIGKILLs mid-batch with the command-line tool.
#include "recovery/http_sink.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "testing/cli_runner.h"
#include "testing/receiver.h"
#include "testing/test_util.h"
#include "testing/token_server.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Receiver;
using testing::ReceiverOptions;
using testing::T;
using testing::TempDir;

// `n` records r0.. spread over 2026-11-14, one per line.
void WriteInput(const TempDir& dir, int n) {
  std::string lines;
  for (int i = 0; i < n; ++i) {
    const absl::Time t = T("2026-11-14T00:00:00Z") + absl::Hours(24) * i / n;
    lines += StrCat(R"({"id":"r)", i, R"(","amount":)", i, R"(,"ts":")", FormatRfc3339(t), "\"}\n");
  }
  testing::WriteFile(dir.File("in.jsonl"), lines);
}

std::string Job(const TempDir& dir, const std::string& sink, const std::string& extra = "") {
  return StrCat(R"({"name":"webhook","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
    "shard_duration":"6h","concurrency":2,
    "retry":{"max_attempts":8,"initial_backoff":"1ms","max_backoff":"5ms"},)",
                extra, R"("source":{"type":"jsonl_file","path":")", dir.File("in.jsonl"),
                R"(","batch_size":10},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true},{"name":"amount","from":"/amount"}],
              "key":{"from":"/id"},"event_time":{"from":"/ts"}},
    "sink":)",
                sink, R"(,
    "checkpoint":{"type":"file","dir":")",
                dir.File("state"), R"("},
    "dead_letters":{"type":"file","path":")",
                dir.File("dead.jsonl"), R"("}})");
}

struct Ran {
  RunResult result;
  std::string log;  // every log event's message and fields
};

Ran RunJob(const std::string& job) {
  Ran ran;
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(job);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return ran;
  BackfillerOptions options;
  options.on_log = [&ran](const LogEvent& e) { ran.log += StrCat(e.message, " ", e.fields_json, "\n"); };
  absl::StatusOr<std::unique_ptr<Backfiller>> b = Backfiller::Create(*spec, {}, options);
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok()) {
    ran.result.status = b.status();
    return ran;
  }
  ran.result = (*b)->Run();
  return ran;
}

std::string SinkSpec(const Receiver& receiver, const std::string& more = "") {
  return StrCat(R"({"type":"http","url":")", receiver.url("/events"), "\"", more, "}");
}

TEST(HttpSinkTest, OneRecordPerRequestCarriesItsKeyAndTheRecordItself) {
  TempDir dir;
  WriteInput(dir, 40);
  Receiver receiver({});
  Ran ran = RunJob(Job(dir, SinkSpec(receiver)));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.outcome, RunOutcome::kDone);
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 40u);
  EXPECT_EQ(receiver.requests(), 40);
  const std::map<std::string, int> processed = receiver.processed();
  EXPECT_EQ(processed.size(), 40u);
  for (const auto& [key, times] : processed) EXPECT_EQ(times, 1) << key;
  for (const testing::Arrival& a : receiver.arrivals()) EXPECT_FALSE(a.redelivered) << a.key;
  const std::string transcript = receiver.transcript();
  EXPECT_THAT(transcript, HasSubstr("Idempotency-Key: r7\n"));
  EXPECT_THAT(transcript, HasSubstr(R"({"id":"r7","amount":"7"})"));  // the mapped record, no envelope
}

TEST(HttpSinkTest, ABodyTemplateCarriesTheRecordAndItsProvenance) {
  TempDir dir;
  WriteInput(dir, 4);
  Receiver receiver({});
  Ran ran =
      RunJob(Job(dir, SinkSpec(receiver, R"x(,"body":{"event":"{record}","id":"{key}","at":"{event_time}",
      "again":"{redelivered}","source":"recovery {job}/{shard}","run":"{run_id}","recovered_at":"{recovered_at}"})x")));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(receiver.processed().size(), 4u);
  const std::string transcript = receiver.transcript();
  EXPECT_THAT(
      transcript,
      HasSubstr(R"({"event":{"id":"r2","amount":"2"},"id":"r2","at":"2026-11-14T12:00:00Z",)"
                R"("again":false,"source":"recovery webhook/20261114T120000Z-20261114T180000Z","run":")"));
  EXPECT_THAT(transcript, Not(HasSubstr(R"("run":"")")));
  EXPECT_THAT(transcript, HasSubstr(R"(","recovered_at":"20)"));

  // A GraphQL mutation: the braces of its query are its own, not placeholders.
  HttpSinkOptions graphql;
  graphql.url = receiver.url("/graphql");
  graphql.body = HttpSinkBody::kTemplate;
  graphql.body_template =
      R"({"query":"mutation Ingest($e: JSON!) { ingest(event: $e) { ok } }","variables":{"e":"{record}"}})";
  EXPECT_TRUE(NewHttpSink(graphql).ok()) << NewHttpSink(graphql).status();
  graphql.body_template = R"({"query":"mutation { ingest }","variables":{"e":"{recrod}"}})";
  EXPECT_THAT(NewHttpSink(graphql).status().message(), HasSubstr("unknown placeholder {recrod}"));
}

TEST(HttpSinkTest, AConflictCountsAsAlreadyPresent) {
  TempDir dir;
  WriteInput(dir, 30);
  ReceiverOptions o;
  o.duplicate_status = 409;
  for (int i = 0; i < 10; ++i) o.held.insert(StrCat("r", i));
  Receiver receiver(o);
  Ran ran = RunJob(Job(dir, SinkSpec(receiver)));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 20u);
  EXPECT_EQ(ran.result.progress.totals.records_already_present, 10u);
  EXPECT_EQ(ran.result.progress.totals.dead_letters, 0u);
}

TEST(HttpSinkTest, ABusyEndpointIsAskedAgainAfterTheWaitItNames) {
  ReceiverOptions o;
  o.fail_first = 1;
  o.retry_after = "7";
  Receiver receiver(o);
  HttpSinkOptions options;
  options.url = receiver.url("/events");
  absl::StatusOr<std::unique_ptr<Sink>> sink = NewHttpSink(options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  RecordBatch batch;
  batch.Add("k1", T("2026-11-14T01:00:00Z"), R"({"id":"k1"})");
  const Shard shard{"s0", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")};
  WriteResult result;
  absl::Status first = (*sink)->Write({shard, batch, nullptr, "job", "run"}, &result);
  EXPECT_TRUE(IsTransient(first)) << first;
  EXPECT_THAT(first.message(), HasSubstr("HTTP 503"));
  ASSERT_TRUE(GetRetryAfter(first).has_value());
  EXPECT_EQ(*GetRetryAfter(first), absl::Seconds(7));
  batch.MarkRedelivered();  // as the engine does
  EXPECT_TRUE((*sink)->Write({shard, batch, nullptr, "job", "run"}, &result).ok());
  ASSERT_EQ(receiver.arrivals().size(), 1u);
  EXPECT_TRUE(receiver.arrivals()[0].redelivered);  // sent again, and says so
}

TEST(HttpSinkTest, ServerErrorsAreRetriedThroughTheJobAndNothingIsLost) {
  TempDir dir;
  WriteInput(dir, 30);
  ReceiverOptions o;
  o.fail_first = 5;
  o.fail_status = 503;
  o.retry_after = "0";
  Receiver receiver(o);
  Ran ran = RunJob(Job(dir, SinkSpec(receiver)));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 30u);
  EXPECT_GE(ran.result.progress.totals.retries, 1u);
  EXPECT_EQ(receiver.processed().size(), 30u);
}

TEST(HttpSinkTest, RefusedCredentialsStopTheJobResumablyWithoutDeadLetters) {
  TempDir dir;
  WriteInput(dir, 30);
  ReceiverOptions o;
  o.authorization = "Bearer right-token-1234";
  Receiver receiver(o);
  const std::string auth = R"(,"auth":{"type":"bearer","token_env":"RECOVERY_TEST_SINK_TOKEN"})";
  setenv("RECOVERY_TEST_SINK_TOKEN", "wrong-token-5678", 1);
  Ran wrong = RunJob(Job(dir, SinkSpec(receiver, auth)));
  EXPECT_EQ(wrong.result.outcome, RunOutcome::kPaused) << wrong.result.status;
  EXPECT_TRUE(IsPaused(wrong.result.status));
  EXPECT_THAT(wrong.result.status.message(), HasSubstr("HTTP 401"));
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.File("dead.jsonl")), "");
  EXPECT_THAT(wrong.log, Not(HasSubstr("wrong-token-5678")));
  setenv("RECOVERY_TEST_SINK_TOKEN", "right-token-1234", 1);
  Ran right = RunJob(Job(dir, SinkSpec(receiver, auth)));
  unsetenv("RECOVERY_TEST_SINK_TOKEN");
  ASSERT_TRUE(right.result.status.ok()) << right.result.status;
  EXPECT_EQ(right.result.progress.totals.records_delivered, 30u);
  EXPECT_EQ(receiver.processed().size(), 30u);
}

TEST(HttpSinkTest, ABatchTooLargeIsSplitAndARecordTooLargeAloneIsDeadLettered) {
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    const std::string pad(i == 13 ? 2000 : 10, 'x');
    lines +=
        StrCat(R"({"id":"r)", i, R"(","amount":")", pad, R"(","ts":"2026-11-14T0)", i % 6, ":00:00Z\"}\n");
  }
  testing::WriteFile(dir.File("in.jsonl"), lines);
  ReceiverOptions o;
  o.max_body_bytes = 600;  // about four envelopes
  Receiver receiver(o);
  Ran ran = RunJob(Job(dir, SinkSpec(receiver, R"(,"batch":{"max_records":10})")));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 19u);
  EXPECT_EQ(ran.result.progress.totals.dead_letters, 1u);
  EXPECT_EQ(receiver.processed().size(), 19u);
  const std::string letters = testing::ReadFileOrEmpty(dir.File("dead.jsonl"));
  EXPECT_THAT(letters, HasSubstr("r13"));
  EXPECT_THAT(letters, HasSubstr("HTTP 413"));
}

TEST(HttpSinkTest, PerItemResultsDeadLetterOnlyTheBadRecordOnce) {
  TempDir dir;
  WriteInput(dir, 50);
  ReceiverOptions o;
  o.results = true;
  o.refuse = {"r7"};
  Receiver receiver(o);
  Ran ran =
      RunJob(Job(dir, SinkSpec(receiver, R"(,"batch":{"max_records":25},"results":{"from":"/results"})")));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 49u);
  EXPECT_EQ(ran.result.progress.totals.dead_letters, 1u);
  const std::vector<std::string> letters = testing::ReadLines(dir.File("dead.jsonl"));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_THAT(letters[0], HasSubstr("r7"));
  EXPECT_THAT(letters[0], HasSubstr("status 422: invalid record"));
  for (const testing::Arrival& a : receiver.arrivals()) EXPECT_FALSE(a.redelivered) << a.key;
  // Batches carry each record's key in its envelope.
  EXPECT_THAT(receiver.transcript(), HasSubstr(R"({"key":"r3","event_time":")"));
}

TEST(HttpSinkTest, ABatchRefusedWholeIsHalvedUntilTheBadRecordStandsAlone) {
  TempDir dir;
  WriteInput(dir, 50);
  ReceiverOptions o;
  o.refuse = {"r7", "r31"};  // the endpoint refuses a batch holding either, and says which
  Receiver receiver(o);
  Ran ran = RunJob(Job(dir, SinkSpec(receiver, R"(,"batch":{"max_records":25})")));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 48u);
  EXPECT_EQ(receiver.processed().size(), 48u);
  const std::vector<std::string> letters = testing::ReadLines(dir.File("dead.jsonl"));
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_THAT(letters[0] + letters[1], HasSubstr("record r7 is invalid"));
  EXPECT_THAT(letters[0] + letters[1], HasSubstr("record r31 is invalid"));
  for (const auto& [key, times] : receiver.processed()) EXPECT_EQ(times, 1) << key;
}

TEST(HttpSinkTest, OtherClientErrorsAreDeadLetteredWithTheStatusAndTheAnswer) {
  TempDir dir;
  WriteInput(dir, 20);
  ReceiverOptions o;
  o.refuse = {"r3", "r11"};
  Receiver receiver(o);
  Ran ran = RunJob(Job(dir, SinkSpec(receiver)));
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 18u);
  const std::string letters = testing::ReadFileOrEmpty(dir.File("dead.jsonl"));
  EXPECT_EQ(testing::ReadLines(dir.File("dead.jsonl")).size(), 2u);
  EXPECT_THAT(letters, HasSubstr("HTTP 422"));
  EXPECT_THAT(letters, HasSubstr("record r11 is invalid"));
}

TEST(HttpSinkTest, ThePresenceCheckSkipsWhatTheEndpointHolds) {
  for (const bool batch_lookup : {false, true}) {
    SCOPED_TRACE(batch_lookup ? "batch lookup" : "lookup per record");
    TempDir dir;
    WriteInput(dir, 40);
    ReceiverOptions o;
    for (int i = 0; i < 40; i += 3) o.held.insert(StrCat("r", i));
    Receiver receiver(o);
    const std::string presence =
        batch_lookup
            ? StrCat(R"(,"presence":{"url":")", receiver.url("/lookup"), R"(","present_from":"/present"})")
            : StrCat(R"(,"presence":{"url":")", receiver.url("/records/{key}"), R"("})");
    Ran ran = RunJob(Job(dir, SinkSpec(receiver, presence), R"("skip_already_present":true,)"));
    ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
    EXPECT_EQ(ran.result.progress.totals.records_already_present, 14u);
    EXPECT_EQ(ran.result.progress.totals.records_delivered, 26u);
    EXPECT_EQ(receiver.arrivals().size(), 26u);  // the held ones were never sent
  }
}

TEST(HttpSinkTest, TlsIsVerifiedAgainstTheGivenCa) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  ASSERT_TRUE(testing::MakeLoopbackCertificate(cert, key)) << "openssl (Debian package openssl) is needed";
  WriteInput(dir, 10);
  ReceiverOptions o;
  o.cert_file = cert;
  o.key_file = key;
  Receiver receiver(o);
  Ran untrusted = RunJob(Job(dir, SinkSpec(receiver)));
  EXPECT_FALSE(untrusted.result.status.ok());
  EXPECT_THAT(untrusted.result.status.message(), HasSubstr("certificate"));
  EXPECT_EQ(receiver.processed().size(), 0u);
  Ran trusted = RunJob(Job(dir, SinkSpec(receiver, StrCat(R"(,"tls":{"ca_file":")", cert, R"("})"))));
  ASSERT_TRUE(trusted.result.status.ok()) << trusted.result.status;
  EXPECT_EQ(receiver.processed().size(), 10u);
}

TEST(HttpSinkTest, OAuth2TokensAreFetchedAndRenewedWhenTheEndpointRefusesThem) {
  testing::TokenServer tokens({});
  // Every token is refused from the 20th request on: the sink's next 401
  // fetches a new one and sends the request again.
  int asked = 0, issued_at_revoke = -1;  // under the receiver's lock
  ReceiverOptions o;
  o.authorize = [&, good = tokens.Authorizer()](std::string_view authorization) {
    if (++asked == 20) {
      tokens.RevokeAll();
      issued_at_revoke = tokens.tokens_issued();
    }
    return good(authorization);
  };
  Receiver receiver(o);
  setenv("RECOVERY_TEST_SINK_CLIENT_SECRET", "client-s3cret-value", 1);
  TempDir dir;
  WriteInput(dir, 200);
  Ran ran =
      RunJob(Job(dir, SinkSpec(receiver, StrCat(R"(,"auth":{"type":"oauth2","token_url":")", tokens.url(),
                                                R"(","client_id":"recovery-test-client",
      "client_secret_env":"RECOVERY_TEST_SINK_CLIENT_SECRET"})"))));
  unsetenv("RECOVERY_TEST_SINK_CLIENT_SECRET");
  ASSERT_TRUE(ran.result.status.ok()) << ran.result.status;
  EXPECT_EQ(ran.result.progress.totals.records_delivered, 200u);
  EXPECT_EQ(receiver.processed().size(), 200u);
  EXPECT_GE(issued_at_revoke, 1);
  EXPECT_GT(tokens.tokens_issued(), issued_at_revoke);
  EXPECT_THAT(ran.log, Not(HasSubstr("client-s3cret-value")));
}

TEST(HttpSinkTest, BadOptionsAreNamed) {
  HttpSinkOptions o;
  o.url = "ftp://example/{nope}";
  o.method = "GET";
  o.present_statuses = {409, 503};
  o.results.from = "/results";  // without batches
  o.max_in_flight = 0;
  absl::StatusOr<std::unique_ptr<Sink>> sink = NewHttpSink(o);
  ASSERT_FALSE(sink.ok());
  const std::string m(sink.status().message());
  EXPECT_THAT(m, HasSubstr("method: expected POST, PUT or PATCH"));
  EXPECT_THAT(m, HasSubstr("url: must start with http:// or https://"));
  EXPECT_THAT(m, HasSubstr("unknown placeholder {nope}"));
  EXPECT_THAT(m, HasSubstr("503 is also in present_statuses"));
  EXPECT_THAT(m, HasSubstr("per-item results need batches"));
  EXPECT_THAT(m, HasSubstr("max_in_flight: must be 1 to 256"));
  absl::StatusOr<JobSpec> spec =
      JobSpec::Parse(StrCat(R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z",
    "end":"2026-11-15T00:00:00Z"},"source":{"type":"jsonl_file","path":"in.jsonl"},
    "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"}},
    "skip_already_present":true,
    "sink":{"type":"http","url":"http://127.0.0.1:1/x","batch":{"max_record":5},"body":"raw"}})"));
  ASSERT_FALSE(spec.ok());
  const std::string s(spec.status().message());
  EXPECT_THAT(s, HasSubstr("sink.batch.max_record"));
  EXPECT_THAT(s, HasSubstr("sink.body: expected \"record\", \"envelope\" or a JSON template"));
  EXPECT_THAT(s, HasSubstr("set sink.presence.url"));
}

// ---- through the command-line tool ----

TEST(HttpSinkCliTest, SecretsNeverReachTheOutputOrTheDeadLetters) {
  TempDir dir;
  WriteInput(dir, 20);
  ReceiverOptions o;
  o.refuse = {"r4", "r9"};
  o.echo_authorization = true;  // the refusals quote the token back
  Receiver receiver(o);
  const std::string secret = "sink-s3cret-token-value";
  testing::WriteFile(dir.File("job.json"),
                     Job(dir, SinkSpec(receiver, R"(,"auth":{"type":"bearer","token_env":"SINK_TOKEN"})")));
  testing::CliOptions options;
  options.env = {StrCat("SINK_TOKEN=", secret)};
  testing::CliResult r = testing::RunCli(RECOVERY_CLI, {"run", dir.File("job.json")}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(receiver.transcript(), HasSubstr(secret));  // it was sent, and echoed back
  const std::string letters = testing::ReadFileOrEmpty(dir.File("dead.jsonl"));
  EXPECT_EQ(testing::ReadLines(dir.File("dead.jsonl")).size(), 2u);
  EXPECT_THAT(letters, HasSubstr("<redacted>"));
  EXPECT_THAT(letters, Not(HasSubstr(secret)));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret)));
  testing::CliResult status = testing::RunCli(RECOVERY_CLI, {"status", dir.File("job.json")});
  EXPECT_THAT(status.out + status.err, Not(HasSubstr(secret)));
}

// Runs `recovery run` on `job` and SIGKILLs it once the endpoint has taken
// `after` more requests; returns true when the run ended by itself (done).
bool RunUntilKilled(const std::string& job, const Receiver& receiver, int after) {
  const int before = receiver.requests();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(RECOVERY_CLI, RECOVERY_CLI, "run", job.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (after >= 0 && receiver.requests() >= before + after) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return false;
    }
    absl::SleepFor(absl::Microseconds(200));
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  return true;
}

// Kills the tool mid-batch again and again until the job is done.
void RecoverThroughKills(const std::string& job, const Receiver& receiver) {
  std::mt19937 random(20261207);
  int kills = 0;
  while (kills < 12 && !RunUntilKilled(job, receiver, std::uniform_int_distribution<int>(3, 40)(random)))
    ++kills;
  if (kills == 12) EXPECT_TRUE(RunUntilKilled(job, receiver, -1));
  EXPECT_GE(kills, 3) << "the job ended before it could be killed often enough";
}

class HttpSinkKillTest : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(HttpSinkKillTest, SigkillsMidBatchLoseNothingAndFlagEveryRepeat) {
  const auto [batched, dedupe] = GetParam();
  TempDir dir;
  constexpr int kRecords = 1500;
  WriteInput(dir, kRecords);
  ReceiverOptions o;
  o.dedupe = dedupe;
  o.delay = absl::Milliseconds(2);
  Receiver receiver(o);
  // Kills from outside that land inside the sink's write look like crashes
  // to the crash-loop breaker, which would in time dead-letter a healthy
  // record kept alone in the sink: it is off here.
  testing::WriteFile(dir.File("job.json"),
                     Job(dir,
                         SinkSpec(receiver, batched ? R"(,"batch":{"max_records":4},"max_in_flight":2)"
                                                    : R"(,"max_in_flight":3)"),
                         R"("isolate_after_crashes":0,)"));
  RecoverThroughKills(dir.File("job.json"), receiver);
  const std::map<std::string, int> processed = receiver.processed();
  ASSERT_EQ(processed.size(), static_cast<size_t>(kRecords));  // nothing lost
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.File("dead.jsonl")), "");
  std::map<std::string, int> seen;
  int repeats = 0;
  for (const testing::Arrival& a : receiver.arrivals()) {
    if (seen[a.key]++ > 0) {
      ++repeats;
      EXPECT_TRUE(a.redelivered) << a.key << " came again unflagged";
    }
  }
  if (dedupe) {
    for (const auto& [key, times] : processed) EXPECT_EQ(times, 1) << key;  // exactly once at the endpoint
  }
  std::cout << "kills left " << repeats << " repeated arrivals of " << receiver.arrivals().size() << "\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, HttpSinkKillTest, ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<bool, bool>>& info) {
                           return StrCat(std::get<0>(info.param) ? "Batches" : "OneRecordPerRequest",
                                         std::get<1>(info.param) ? "Deduplicating" : "NotDeduplicating");
                         });

}  // namespace
}  // namespace recovery
