// Secrets never leave the process's memory; TLS is verified; paths are never
// handed to a shell; a full disk stops the job cleanly. Each test drives the
// real `recovery` binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "checkpoint/checkpoint_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/checkpoint_store.h"
#include "testing/cli_runner.h"
#include "testing/fake_sqs.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

using testing::CliOptions;
using testing::CliResult;
using ::testing::HasSubstr;
using testing::RunCli;
using testing::TempDir;
using testing::WriteFile;

constexpr char kToken[] = "sk_live_4f9aTOKENc2e71d0";                // bearer token
constexpr char kQueryKey[] = "qk_9d2cQUERYKEY/+=81aa";               // API key in the query string
constexpr char kAwsSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxAWSSECRET";  // AWS secret access key
constexpr char kAwsToken[] = "FwoGZXIvYXdzSESSIONTOKEN/xyz==";       // AWS session token

// Every file under `dir`, concatenated with its name.
std::string EveryFile(const std::string& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    all += "== " + e.path().string() + "\n" + testing::ReadFileOrEmpty(e.path().string());
  }
  return all;
}

// Where `secret` (raw, URL-encoded or base64 in basic auth) shows in `text`.
std::string Leak(const std::string& text, const std::string& secret) {
  for (const std::string& form : {secret, UrlEncode(secret)}) {
    const size_t at = text.find(form);
    if (at != std::string::npos) {
      return "\"" + form + "\" in: " + text.substr(at < 300 ? 0 : at - 300, 600);
    }
  }
  return "";
}

std::string Mapper(bool strict) {
  // `strict` rejects every record (no such field): the dead letters get written too.
  return strict ? R"({"type":"json","fields":[{"name":"id","from":"/no_such_field","required":true}]})"
                : R"({"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},
                     "event_time":{"from":"/created_at"}})";
}

TEST(SecurityTest, NoSecretAppearsInAnyLogCheckpointDeadLetterMetricsFileOrError) {
  testing::SimulatedApiOptions o;
  o.start = testing::T("2026-11-14T00:00:00Z");
  o.end = testing::T("2026-11-16T00:00:00Z");
  o.records = 400;
  o.small_records = true;
  o.bearer_token = kToken;
  testing::SimulatedApi bearer_api(o);
  o.bearer_token.clear();
  testing::SimulatedApi query_api(o);
  testing::FakeSqs sqs("secret-queue");
  for (int i = 0; i < 30; ++i) {
    sqs.Send(StrCat(R"({"id":"m)", i, R"(","created_at":"2026-11-14T01:00:00Z"})"));
  }
  TempDir dir;
  const std::vector<std::string> env = {StrCat("SEC_TOKEN=", kToken),
                                        StrCat("SEC_QUERY_KEY=", kQueryKey),
                                        "AWS_ACCESS_KEY_ID=AKIATESTKEY",
                                        StrCat("AWS_SECRET_ACCESS_KEY=", kAwsSecret),
                                        StrCat("AWS_SESSION_TOKEN=", kAwsToken),
                                        "AWS_REGION=us-east-1"};
  auto job = [&](const std::string& name, const std::string& source, bool strict) {
    const std::string path = dir.File(name + ".json");
    WriteFile(path, StrCat(R"({"name":")", name,
                           R"(","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-16T00:00:00Z"},
      "shard_duration":"1d","concurrency":2,"error_budget":{"max_fraction":1},
      "retry":{"initial_backoff":"1ms","max_backoff":"10ms","max_attempts":3},
      "source":)",
                           source, R"(,"mapper":)", Mapper(strict), R"(,
      "sink":{"type":"jsonl_file","path":")",
                           name, R"(.out.jsonl","format":"envelope"},
      "checkpoint":{"type":"file","dir":"state"},"dead_letters":{"type":"file","path":")",
                           name, R"(.dead.jsonl"}})"));
    return path;
  };
  const std::vector<std::string> jobs = {
      job("bearer", StrCat(R"({"type":"http","url":")", bearer_api.base_url(), R"(/v1/link",
                "query":{"from":"{start}","to":"{end}","limit":"{limit}"},
                "auth":{"type":"bearer","token_cmd":["printenv","SEC_TOKEN"]},"records":"/data","page_size":50,
                "pagination":{"type":"link"}})"),
          false),
      job("query", StrCat(R"({"type":"http","url":")", query_api.base_url(), R"(/v1/next-url",
                "query":{"from":"{start}","to":"{end}","limit":"{limit}"},
                "auth":{"type":"query","name":"api_key","value_env":"SEC_QUERY_KEY"},"records":"/data",
                "page_size":50,"pagination":{"type":"next_url","from":"/links/next"}})"),
          true),
      job("sqs",
          StrCat(R"({"type":"sqs","queue_url":")", sqs.queue_url(), R"(","endpoint":")", sqs.endpoint(),
                 R"(","wait_time":"0s","drain_after_empty_receives":1})"),
          false),
  };
  // Faults put URLs and bodies into errors and retry logs.
  bearer_api.Script({testing::Fault{testing::Fault::k500}, testing::Fault{testing::Fault::k429, 0},
                     testing::Fault{testing::Fault::kReset}, testing::Fault{testing::Fault::k401}});
  query_api.Script({testing::Fault{testing::Fault::k500}, testing::Fault{testing::Fault::kInvalidJson},
                    testing::Fault{testing::Fault::k401}});
  sqs.Throttle(2);

  std::string everything;
  CliOptions options;
  options.env = env;
  options.working_dir = dir.path();
  auto cli = [&](std::vector<std::string> args) {
    CliResult r = RunCli(RECOVERY_CLI, args, options);
    everything += StrCat("\n$ recovery ", Join(args, " "), " -> ", r.exit_code, "\n", r.out, r.err);
    return r;
  };
  for (const std::string& j : jobs) {
    cli({"validate", j});
    cli({"plan", j});
    cli({"run", j, "--log-format", "json", "--log-level", "debug", "--metrics-file", j + ".prom"});
    cli({"status", j});
    cli({"run", j, "--log-level", "debug", "--metrics-file", j + ".prom"});  // after the 401, to the end
    cli({"verify", j});
    cli({"status", j});
    cli({"run", j, "--dry-run", "--log-level", "debug"});
  }
  everything += EveryFile(dir.path());
  // The runs did happen, and failed where the faults said.
  EXPECT_THAT(everything, HasSubstr("HTTP 401"));
  EXPECT_THAT(everything, HasSubstr("\"maybe_redelivered\""));  // the bearer job's sink output
  EXPECT_THAT(everything, HasSubstr("required but missing"));   // the query job's dead letters
  EXPECT_THAT(everything, HasSubstr("recovery_records_delivered_total"));
  EXPECT_THAT(everything, HasSubstr("m29"));  // the SQS job delivered
  for (const char* secret : {kToken, kQueryKey, kAwsSecret, kAwsToken}) {
    EXPECT_EQ(Leak(everything, secret), "") << secret;
  }
  // And the proof the scan can see a secret where one is.
  EXPECT_NE(Leak(everything + kQueryKey, kQueryKey), "");
}

TEST(SecurityTest, TlsIsVerifiedAgainstTheSystemStoreUnlessACaFileIsGiven) {
  TempDir dir;
  const std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  ASSERT_TRUE(testing::MakeLoopbackCertificate(cert, key)) << "openssl (Debian package openssl) is needed";
  WriteFile(
      dir.File("page.json"),
      R"({"data":[{"id":"a","created_at":"2026-11-14T01:00:00Z"},{"id":"b","created_at":"2026-11-14T02:00:00Z"}]})");
  const int port = testing::FreeLoopbackPort();
  const pid_t server = fork();
  if (server == 0) {  // serves the files of `dir` over TLS with the self-signed certificate
    if (chdir(dir.path().c_str()) != 0) _exit(126);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execlp("openssl", "openssl", "s_server", "-quiet", "-accept", StrCat("127.0.0.1:", port).c_str(), "-cert",
           cert.c_str(), "-key", key.c_str(), "-WWW", nullptr);
    _exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } stop{server};
  ASSERT_TRUE(testing::WaitForLoopbackPort(port, absl::Seconds(10))) << "openssl s_server did not start";
  auto job = [&](const std::string& tls) {
    const std::string path = dir.File("job.json");
    WriteFile(path,
              StrCat(R"({"name":"tls","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "retry":{"max_attempts":2,"initial_backoff":"1ms"},
      "source":{"type":"http","url":"https://127.0.0.1:)",
                     port, R"(/page.json","records":"/data","pagination":{"type":"link"})", tls, R"(},
      "mapper":)",
                     Mapper(false), R"(,"sink":{"type":"jsonl_file","path":"out.jsonl","overwrite":true},
      "checkpoint":{"type":"memory"}})"));
    return path;
  };
  CliResult untrusted = RunCli(RECOVERY_CLI, {"run", job("")});
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_THAT(untrusted.err, HasSubstr("the server's certificate is not trusted: set source.tls.ca_file"));
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.File("out.jsonl")), "");

  CliResult trusted = RunCli(RECOVERY_CLI, {"run", job(StrCat(R"(,"tls":{"ca_file":")", cert, R"("})"))});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_EQ(testing::ReadLines(dir.File("out.jsonl")).size(), 2u);
}

TEST(SecurityTest, PathsInTheJobSpecAreNeverInterpretedByAShell) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), R"({"id":"a","created_at":"2026-11-14T01:00:00Z"})"
                                  "\n");
  const std::string nasty = "out $(touch PWNED1); `touch PWNED2` | touch PWNED3 && touch PWNED4 '\".jsonl";
  std::string escaped;
  for (char c : nasty) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  WriteFile(dir.File("job.json"),
            StrCat(R"({"name":"paths","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "source":{"type":"jsonl_file","path":"in.jsonl"},"mapper":)",
                   Mapper(false), R"(,"sink":{"type":"jsonl_file","path":")", escaped,
                   R"js("},"checkpoint":{"type":"file","dir":"state $(touch PWNED5)"}})js"));
  CliOptions options;
  options.working_dir = dir.path();
  CliResult r = RunCli(RECOVERY_CLI, {"run", dir.File("job.json")}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadLines(dir.File(nasty)).size(), 1u);  // the file has exactly that name
  EXPECT_TRUE(std::filesystem::is_directory(dir.File("state $(touch PWNED5)")));
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(std::filesystem::exists(dir.File(StrCat("PWNED", i)))) << i;
}

TEST(SecurityTest, AFullDiskStopsTheJobClearlyAndLeavesNoCorruptState) {
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 2000; ++i) {
    lines += StrCat(R"({"id":"r)", i, R"(","created_at":"2026-11-14T01:00:00Z","pad":")",
                    std::string(100, 'x'), "\"}\n");
  }
  WriteFile(dir.File("in.jsonl"), lines);
  WriteFile(dir.File("job.json"),
            StrCat(R"({"name":"full","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "retry":{"max_attempts":2,"initial_backoff":"1ms"},
      "source":{"type":"jsonl_file","path":"in.jsonl","batch_size":100},"mapper":)",
                   Mapper(false), R"(,"sink":{"type":"jsonl_file","path":"out.jsonl"},
      "checkpoint":{"type":"file","dir":"state"}})"));
  CliOptions full;
  full.working_dir = dir.path();
  full.max_file_bytes = 16 * 1024;  // the sink fills the "disk" after ~16 pages
  CliResult r = RunCli(RECOVERY_CLI, {"run", dir.File("job.json")}, full);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("out.jsonl"));
  EXPECT_THAT(r.err, HasSubstr("File too large"));
  // The checkpoints left behind are whole and readable.
  auto store = *NewFileCheckpointStore(dir.File("state"));
  absl::StatusOr<std::optional<Checkpoint>> ck = store->Load("full", "20261114T000000Z-20261115T000000Z");
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_TRUE(ck->has_value());
  // Space again: the job resumes and the output holds every record once.
  CliOptions roomy;
  roomy.working_dir = dir.path();
  CliResult again = RunCli(RECOVERY_CLI, {"run", dir.File("job.json")}, roomy);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  std::vector<std::string> out = testing::ReadLines(dir.File("out.jsonl"));
  EXPECT_EQ(out.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(out.begin(), out.end()).size(), 2000u);

  // The checkpoint itself cannot be written: the limit below the size of one,
  // and a sink that writes no file (the JSON-lines file would fail first).
  std::filesystem::remove_all(dir.File("state"));
  WriteFile(dir.File("null.json"),
            StrCat(R"({"name":"full","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "retry":{"max_attempts":2,"initial_backoff":"1ms"},
      "source":{"type":"jsonl_file","path":"in.jsonl","batch_size":100},"mapper":)",
                   Mapper(false), R"(,"sink":{"type":"null"},"checkpoint":{"type":"file","dir":"state"}})"));
  full.max_file_bytes = 200;
  r = RunCli(RECOVERY_CLI, {"run", dir.File("null.json")}, full);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("checkpoints.0.log: File too large"));  // the file it could not write
  // A partial group was cut back: the log reads, and a run with room finishes the job.
  ck = (*NewFileCheckpointStore(dir.File("state")))->Load("full", "20261114T000000Z-20261115T000000Z");
  EXPECT_TRUE(ck.ok()) << ck.status();
  again = RunCli(RECOVERY_CLI, {"run", dir.File("null.json")}, roomy);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  ck = (*NewFileCheckpointStore(dir.File("state")))->Load("full", "20261114T000000Z-20261115T000000Z");
  ASSERT_TRUE(ck.ok() && ck->has_value()) << ck.status();
  EXPECT_EQ((*ck)->state, ShardState::kDone);
  EXPECT_EQ((*ck)->counters.records_delivered, 2000u);
}

}  // namespace
}  // namespace recovery
