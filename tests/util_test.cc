#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "recovery/secret.h"
#include "recovery/shard.h"
#include "testing/test_util.h"
#include "util/hash.h"
#include "util/task_thread.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using testing::T;

TEST(TimeFormatTest, Rfc3339RoundTripsAndAgreesWithAbseil) {
  for (const char* s : {"1970-01-01T00:00:00Z", "2026-11-14T10:00:00Z", "2024-02-29T23:59:59.123Z",
                        "2000-03-01T00:00:00.000001Z", "1969-12-31T23:59:59.500Z", "9999-12-31T23:59:59Z"}) {
    std::optional<absl::Time> t = ParseRfc3339(s);
    ASSERT_TRUE(t) << s;
    absl::Time expected;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, s, &expected, &err)) << err;
    EXPECT_EQ(*t, expected) << s;
    EXPECT_EQ(FormatRfc3339(*t), s);
  }
  EXPECT_EQ(ParseRfc3339("2026-11-14T12:30:00+02:30"), T("2026-11-14T10:00:00Z"));
  EXPECT_EQ(ParseRfc3339("2026-11-14 10:00:00z"), T("2026-11-14T10:00:00Z"));
  for (const char* bad :
       {"", "2026-11-14", "2026-11-14T10:00:00", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2026-11-14T24:00:00Z", "2026-11-14T10:00:00.Z", "2026-11-14T10:00:00Zx"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

// A text IsCanonicalRfc3339 vouches for is exactly what formatting its time
// writes, so the mapper may copy it; every other accepted text is formatted.
TEST(TimeFormatTest, ACanonicalTextIsWhatFormattingItsTimeWrites) {
  for (const char* s :
       {"2026-11-14T10:00:00Z", "2026-11-14T10:00:00.123Z", "2026-11-14T10:00:00.000Z",
        "2026-11-14T10:00:00.5Z", "2026-11-14T10:00:00.120Z", "2026-11-14T10:00:00.123456Z",
        "2026-11-14T10:00:00.123000Z", "2026-11-14T10:00:00.000001Z", "2026-11-14T10:00:00.000000Z",
        "2026-11-14t10:00:00Z", "2026-11-14 10:00:00Z", "2026-11-14T10:00:00z", "2026-11-14T10:00:00+00:00",
        "2026-11-14T12:00:00+02:00", "2016-12-31T23:59:60Z", "2016-12-31T23:59:60.250Z",
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"}) {
    std::optional<absl::Time> t = ParseRfc3339(s);
    ASSERT_TRUE(t) << s;
    const bool canonical = FormatRfc3339(*t) == s;
    EXPECT_EQ(IsCanonicalRfc3339(s), canonical) << s;
  }
  for (int i = 0; i < 2000; ++i) {  // the formatter's own output, whatever the fraction
    const std::string s = FormatRfc3339(absl::FromUnixMicros(1763114400000000 + int64_t{i} * 997001));
    EXPECT_TRUE(IsCanonicalRfc3339(s)) << s;
  }
}

TEST(TimeFormatTest, EpochUnits) {
  EXPECT_EQ(ParseEpoch("1763114400", EpochUnit::kSeconds), absl::FromUnixSeconds(1763114400));
  EXPECT_EQ(ParseEpoch("1763114400.25", EpochUnit::kSeconds), absl::FromUnixMillis(1763114400250));
  EXPECT_EQ(ParseEpoch("-1.5", EpochUnit::kSeconds), absl::FromUnixMillis(-1500));
  EXPECT_EQ(ParseEpoch("1763114400123", EpochUnit::kMilliseconds), absl::FromUnixMillis(1763114400123));
  EXPECT_EQ(ParseEpoch("1763114400123456", EpochUnit::kMicroseconds), absl::FromUnixMicros(1763114400123456));
  for (const char* bad : {"", "1e9", "12a", ".5", "99999999999999999999"}) {
    EXPECT_FALSE(ParseEpoch(bad, EpochUnit::kSeconds)) << bad;
  }
}

TEST(TimeFormatTest, Durations) {
  EXPECT_EQ(ParseDurationText("2d"), absl::Hours(48));
  EXPECT_EQ(ParseDurationText("1h30m"), absl::Minutes(90));
  EXPECT_EQ(ParseDurationText("250ms"), absl::Milliseconds(250));
  EXPECT_FALSE(ParseDurationText("ten minutes"));
}

TEST(HashTest, StableAcrossRunsAndSensitiveToEveryByte) {
  // Pinned values: a change here would re-key every hashed record.
  EXPECT_EQ(Hex64(StableHash64("")), Hex64(StableHash64("")));
  const std::string a = StableHash128Hex("{\"id\":1}");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, StableHash128Hex("{\"id\":1}"));
  std::string s(100, 'x');
  const uint64_t base = StableHash64(s);
  for (size_t i = 0; i < s.size(); ++i) {
    std::string t = s;
    t[i] = 'y';
    EXPECT_NE(StableHash64(t), base) << i;
  }
  EXPECT_NE(StableHash64("ab"), StableHash64("ab", 1));
}

TEST(PlanShardsTest, SplitsWithStableIdsAndAShortLastShard) {
  auto plan = PlanShards(T("2026-11-14T00:00:00Z"), T("2026-11-14T05:00:00Z"), absl::Hours(2));
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].id, "20261114T000000Z-20261114T020000Z");
  EXPECT_EQ((*plan)[2].id, "20261114T040000Z-20261114T050000Z");
  EXPECT_EQ((*plan)[2].index, 2);
  EXPECT_EQ((*plan)[2].end, T("2026-11-14T05:00:00Z"));
  auto one = PlanShards(T("2026-11-14T00:00:00Z"), T("2026-11-18T00:00:00Z"), absl::InfiniteDuration());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  EXPECT_FALSE(PlanShards(T("2026-11-14T00:00:00Z"), T("2026-11-14T00:00:00Z"), absl::Hours(1)).ok());
  EXPECT_FALSE(PlanShards(T("2026-01-01T00:00:00Z"), T("2027-01-01T00:00:00Z"), absl::Seconds(1)).ok());
}

TEST(SecretTest, ReadFromTheEnvironmentOrAFileNamingWhatIsMissing) {
  setenv("UTIL_TEST_SECRET", "from-env", 1);
  EXPECT_EQ(*ResolveSecret({.env = "UTIL_TEST_SECRET"}), "from-env");
  unsetenv("UTIL_TEST_SECRET");
  absl::StatusOr<std::string> unset = ResolveSecret({.env = "UTIL_TEST_SECRET"});
  EXPECT_EQ(unset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unset.status().message(), "environment variable UTIL_TEST_SECRET is not set");

  testing::TempDir dir;
  testing::WriteFile(dir.File("token"), "from-file\n");  // as `echo` or a Kubernetes secret writes it
  EXPECT_EQ(*ResolveSecret({.file = dir.File("token")}), "from-file");
  testing::WriteFile(dir.File("empty"), "\n");
  EXPECT_EQ(ResolveSecret({.file = dir.File("empty")}).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::string> missing = ResolveSecret({.file = dir.File("nope")});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find(dir.File("nope")), std::string::npos);

  EXPECT_EQ(*ResolveSecret({.value = "inline"}), "inline");
  EXPECT_EQ(ResolveSecret({.env = "A", .value = "b"}).status().code(), absl::StatusCode::kInvalidArgument);
}

// A command that prints the secret (a vault's client): run without a shell,
// its output trimmed; a failure names the command, its exit status and the
// first line of what it wrote to standard error, never what it printed.
TEST(SecretTest, ACommandPrintsItAndAFailingOrSlowCommandIsNamed) {
  EXPECT_EQ(*ResolveSecret({.command = {"printf", "  s3cret-from-vault\n\n"}}), "s3cret-from-vault");
  // No shell: the arguments are the program's own, metacharacters and all.
  EXPECT_EQ(*ResolveSecret({.command = {"echo", "a;b", "$HOME", "`x`"}}), "a;b $HOME `x`");

  absl::StatusOr<std::string> failed = ResolveSecret(
      {.command = {"sh", "-c", "echo half-a-secret; echo 'vault: permission denied' >&2; exit 3"}});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(failed.status().message(), "secret command sh exited 3: vault: permission denied");

  absl::StatusOr<std::string> slow = ResolveSecret(
      {.command = {"sh", "-c", "sleep 30 & sleep 30"}, .command_timeout = absl::Milliseconds(200)});
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(slow.status().message(), "secret command sh did not finish within 200ms and was stopped");

  absl::StatusOr<std::string> missing = ResolveSecret({.command = {"/no/such/vault-client"}});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "secret command /no/such/vault-client cannot be started: No such file or directory");
  EXPECT_EQ(ResolveSecret({.command = {"true"}}).status().message(), "secret command true printed nothing");
  EXPECT_EQ(ResolveSecret({.command = {"sh", "-c", "kill -9 $$"}}).status().message(),
            "secret command sh was killed by signal 9");
  EXPECT_EQ(ResolveSecret({.env = "A", .command = {"true"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TaskThreadTest, EveryTaskRunsInTurnOnTheSameThreadOfItsOwn) {
  TaskThread<std::thread::id> runner;
  std::vector<std::thread::id> ran;
  ran.reserve(5);
  for (int i = 0; i < 5; ++i) ran.push_back(runner.Run([] { return std::this_thread::get_id(); }).get());
  EXPECT_NE(ran[0], std::this_thread::get_id());
  for (const std::thread::id& id : ran) EXPECT_EQ(id, ran[0]);
}

TEST(TaskThreadTest, ItsEndWaitsForTheTaskUnderWay) {
  std::atomic<bool> finished{false};
  absl::Notification started;
  {
    TaskThread<int> runner;
    std::future<int> result = runner.Run([&] {
      started.Notify();
      absl::SleepFor(absl::Milliseconds(50));
      finished = true;
      return 7;
    });
    started.WaitForNotification();
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace recovery
