// The shared token bucket on a clock the test gives: how long each request is
// told to wait, with no sleeping and no dependence on the machine's speed.
#include "http/rate_limiter.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/status.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// The wait reserved, to the nanosecond (the bucket counts in doubles).
double WaitMs(absl::StatusOr<absl::Duration> wait) {
  EXPECT_TRUE(wait.ok()) << wait.status();
  return wait.ok() ? absl::ToDoubleMilliseconds(*wait) : -1;
}

TEST(RateLimiterTest, RequestsAtOnceAreSpacedByTheRateAfterTheBurst) {
  RateLimiter limiter(50, 1, absl::Minutes(1), kStart);
  // Ten callers arriving at the same instant leave at 0, 20, 40, ... ms.
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(WaitMs(limiter.Reserve(kStart)), 20.0 * i, 1e-6) << i;
  }
}

TEST(RateLimiterTest, ABurstLeavesAtOnceAndTheBucketRefillsWithTime) {
  RateLimiter limiter(10, 3, absl::Minutes(1), kStart);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(WaitMs(limiter.Reserve(kStart)), 0) << i;
  EXPECT_NEAR(WaitMs(limiter.Reserve(kStart)), 100, 1e-6);
  // A second later the bucket is full again (never more than the burst).
  const absl::Time later = kStart + absl::Seconds(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(WaitMs(limiter.Reserve(later)), 0) << i;
  EXPECT_NEAR(WaitMs(limiter.Reserve(later)), 100, 1e-6);
}

TEST(RateLimiterTest, AClockThatStepsBackGrantsNothing) {
  RateLimiter limiter(10, 1, absl::Minutes(1), kStart);
  EXPECT_EQ(WaitMs(limiter.Reserve(kStart)), 0);
  EXPECT_NEAR(WaitMs(limiter.Reserve(kStart - absl::Seconds(5))), 100, 1e-6);
}

TEST(RateLimiterTest, AWaitOverMaxWaitPausesAndTakesNoToken) {
  RateLimiter limiter(1, 1, absl::Seconds(2), kStart);
  EXPECT_EQ(WaitMs(limiter.Reserve(kStart)), 0);
  EXPECT_NEAR(WaitMs(limiter.Reserve(kStart)), 1000, 1e-6);
  EXPECT_NEAR(WaitMs(limiter.Reserve(kStart)), 2000, 1e-6);
  absl::StatusOr<absl::Duration> refused = limiter.Reserve(kStart);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsPaused(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("over rate_limit.max_wait (2s)"));
  // The refusal took no token: a second later the next request waits 2 s, not 3.
  EXPECT_NEAR(WaitMs(limiter.Reserve(kStart + absl::Seconds(1))), 2000, 1e-6);
}

TEST(RateLimiterTest, NoRateMeansNoWait) {
  RateLimiter limiter(0, 1, absl::Seconds(1), kStart);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(WaitMs(limiter.Reserve(kStart)), 0);
}

}  // namespace
}  // namespace recovery
