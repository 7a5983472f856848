// Adaptive concurrency (http/adaptive_limiter.h) on a clock the test gives:
// each rule alone, then the limiter against simulated servers in virtual
// time (a quota it is not told, one it is told through headers, and one with
// no quota whose latency grows past its capacity). Nothing sleeps and
// nothing depends on the machine's speed.
#include "http/adaptive_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/backfiller.h"
#include "recovery/metrics.h"
#include "testing/simulated_api.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

AdaptiveAnswer Ok(absl::Duration latency = absl::Milliseconds(20)) {
  AdaptiveAnswer a;
  a.status = 200;
  a.latency = latency;
  return a;
}

AdaptiveAnswer Status(int status) {
  AdaptiveAnswer a = Ok();
  a.status = status;
  return a;
}

TEST(AdaptiveLimiterTest, StartsWithOneInFlightAndDoublesPerRoundTripUntilTheFirstPushBack) {
  AdaptiveLimiter l(16);
  absl::Time t = kStart;
  EXPECT_EQ(l.TryStart(t), absl::ZeroDuration());
  EXPECT_GT(l.TryStart(t), absl::ZeroDuration());  // one in flight: the second waits
  t += absl::Milliseconds(20);
  l.Finish(kStart, t, Ok());
  EXPECT_EQ(l.limit(), 2);
  for (int round = 0; round < 3; ++round) {  // 2 -> 4 -> 8 -> 16
    const int n = static_cast<int>(l.limit());
    for (int i = 0; i < n; ++i) ASSERT_EQ(l.TryStart(t), absl::ZeroDuration());
    const absl::Time sent = t;
    t += absl::Milliseconds(20);
    for (int i = 0; i < n; ++i) l.Finish(sent, t, Ok());
  }
  EXPECT_EQ(l.limit(), 16);  // and never past the job's concurrency
  EXPECT_EQ(l.rate(), 0);    // no quota seen: unbounded
}

TEST(AdaptiveLimiterTest, A429CutsTheLimitAndTheRateOnceForEveryRequestSentBeforeIt) {
  AdaptiveLimiter l(16);
  absl::Time t = kStart;
  // 100 requests, one every 10 ms, then 8 at once.
  for (int i = 0; i < 100; ++i) {
    t += absl::Milliseconds(10);
    ASSERT_EQ(l.TryStart(t), absl::ZeroDuration());
    l.Finish(t, t + absl::Milliseconds(1), Ok());
  }
  for (int i = 0; i < 8; ++i) ASSERT_EQ(l.TryStart(t), absl::ZeroDuration());
  const double before = l.limit();
  const absl::Time sent = t;
  t += absl::Milliseconds(20);
  l.Finish(sent, t, Status(429));
  EXPECT_DOUBLE_EQ(l.limit(), before * 0.75);
  EXPECT_NEAR(l.rate(), 107 * 0.85, 2);  // under what was being sent (about 107 in the last second)
  // The other answers to requests sent before the cut do not cut again.
  for (int i = 0; i < 7; ++i) l.Finish(sent, t, Status(429));
  EXPECT_DOUBLE_EQ(l.limit(), before * 0.75);
  // A 503 sent after it does.
  ASSERT_EQ(l.TryStart(t + absl::Seconds(1)), absl::ZeroDuration());
  l.Finish(t + absl::Seconds(1), t + absl::Seconds(1), Status(503));
  EXPECT_LT(l.limit(), before * 0.75);
}

TEST(AdaptiveLimiterTest, QuotaHeadersSpreadWhatRemainsAndPauseEveryoneWhenNothingDoes) {
  AdaptiveLimiter l(16);
  AdaptiveAnswer a = Ok();
  a.quota_remaining = 10;
  a.quota_reset = absl::Seconds(2);
  ASSERT_EQ(l.TryStart(kStart), absl::ZeroDuration());
  l.Finish(kStart, kStart, a);
  EXPECT_DOUBLE_EQ(l.rate(), 5);  // 10 left over 2 s
  a.quota_remaining = 0;
  a.quota_reset = absl::Seconds(3);
  ASSERT_EQ(l.TryStart(kStart + absl::Seconds(1)), absl::ZeroDuration());
  l.Finish(kStart, kStart + absl::Seconds(1), a);
  EXPECT_EQ(l.TryStart(kStart + absl::Seconds(2)), absl::Seconds(2));  // until the reset
  EXPECT_EQ(l.TryStart(kStart + absl::Seconds(4)), absl::ZeroDuration());
}

TEST(AdaptiveLimiterTest, ALatencyWellAboveItsFloorCutsTheLimitAndNotTheRate) {
  AdaptiveLimiter l(64);
  absl::Time t = kStart;
  for (int i = 0; i < 6; ++i) {  // slow start to 32 at a 20 ms floor
    const int n = static_cast<int>(l.limit());
    for (int k = 0; k < n; ++k) ASSERT_EQ(l.TryStart(t), absl::ZeroDuration());
    const absl::Time sent = t;
    t += absl::Milliseconds(20);
    for (int k = 0; k < n; ++k) l.Finish(sent, t, Ok());
  }
  const double before = l.limit();
  for (int i = 0; i < 30; ++i) {  // the server starts queueing: 200 ms
    ASSERT_EQ(l.TryStart(t), absl::ZeroDuration());
    const absl::Time sent = t;
    t += absl::Milliseconds(200);
    l.Finish(sent, t, Ok(absl::Milliseconds(200)));
  }
  EXPECT_LT(l.limit(), before);
  EXPECT_EQ(l.rate(), 0);
}

// A server in virtual time, and `clients` shards sending through one limiter
// (each waits Retry-After, 1 s, after a 429, as the engine's retry does).
struct Server {
  // At `now`, the status of a request that arrives, and the quota headers to send.
  std::function<int(absl::Time now, AdaptiveAnswer* headers)> answer;
  // The latency of a request, with `in_flight` requests at the server.
  std::function<absl::Duration(int in_flight)> latency;
};

struct Tally {
  int ok = 0, throttled = 0;
};

Tally Simulate(AdaptiveLimiter& l, Server& server, int clients, absl::Duration length,
               absl::Duration warmup) {
  struct Event {
    absl::Time at;
    int client;
    bool answer;
    absl::Time sent;
    AdaptiveAnswer a;
    bool operator>(const Event& o) const { return at > o.at; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  for (int c = 0; c < clients; ++c) events.push({kStart, c, false, kStart, {}});
  Tally tally;
  int in_flight = 0;
  const absl::Time end = kStart + length;
  while (!events.empty() && events.top().at < end) {
    Event e = events.top();
    events.pop();
    if (!e.answer) {
      const absl::Duration wait = l.TryStart(e.at);
      if (wait > absl::ZeroDuration()) {
        events.push({e.at + wait, e.client, false, e.at, {}});
        continue;
      }
      AdaptiveAnswer a;
      a.status = server.answer(e.at, &a);
      a.latency = server.latency(++in_flight);
      events.push({e.at + a.latency, e.client, true, e.at, a});
      continue;
    }
    --in_flight;
    l.Finish(e.sent, e.at, e.a);
    if (e.at >= kStart + warmup) (e.a.status == 429 ? tally.throttled : tally.ok)++;
    events.push(
        {e.at + (e.a.status == 429 ? absl::Seconds(1) : absl::ZeroDuration()), e.client, false, e.at, {}});
  }
  return tally;
}

// 40 requests a second, in bursts of up to 40, answered 429 beyond.
Server TokenBucket(double rate, bool headers_in_windows) {
  auto tokens = std::make_shared<double>(rate);
  auto last = std::make_shared<absl::Time>(kStart);
  auto window = std::make_shared<int64_t>(-1);
  auto used = std::make_shared<int>(0);
  Server s;
  s.answer = [=](absl::Time now, AdaptiveAnswer* a) {
    if (headers_in_windows) {  // a fixed one-second window, announced
      const int64_t w = absl::ToUnixMillis(now) / 1000;
      if (w != *window) *window = w, *used = 0;
      const bool ok = *used < rate;
      *used += ok;
      a->quota_remaining = rate - *used;
      a->quota_reset = absl::FromUnixMillis((w + 1) * 1000) - now;
      return ok ? 200 : 429;
    }
    *tokens = std::min(rate, *tokens + absl::ToDoubleSeconds(now - *last) * rate);
    *last = now;
    if (*tokens < 1) return 429;
    *tokens -= 1;
    return 200;
  };
  s.latency = [](int) { return absl::Milliseconds(20); };
  return s;
}

// At least 90 % of a 40 requests/s quota, at most 3 % of requests refused,
// over `length` less `warmup`.
void ExpectCloseUnderTheQuota(bool announced, absl::Duration length, absl::Duration warmup) {
  AdaptiveLimiter l(16);
  Server server = TokenBucket(40, announced);
  const Tally t = Simulate(l, server, 16, length, warmup);
  const double per_second = t.ok / absl::ToDoubleSeconds(length - warmup);
  const double throttled = static_cast<double>(t.throttled) / (t.ok + t.throttled);
  std::printf("%s quota 40/s: %.1f/s (%.1f%%), %.2f%% answered 429\n",
              announced ? "announced" : "unannounced", per_second, per_second / 40 * 100, throttled * 100);
  EXPECT_GE(per_second, 0.9 * 40);
  EXPECT_LE(throttled, 0.03);
}

TEST(AdaptiveLimiterTest, FindsAnUnannouncedQuotaAndStaysJustUnderIt) {
  ExpectCloseUnderTheQuota(/*announced=*/false, absl::Seconds(300), absl::Seconds(30));
}

TEST(AdaptiveLimiterTest, FollowsAnAnnouncedQuotaWithoutBeingRefused) {
  ExpectCloseUnderTheQuota(/*announced=*/true, absl::Seconds(120), absl::Seconds(10));
}

TEST(AdaptiveLimiterTest, WithoutAQuotaKeepsAsManyInFlightAsTheServerServesWell) {
  // 8 workers at 20 ms: beyond 8 in flight, requests queue.
  Server server;
  server.answer = [](absl::Time, AdaptiveAnswer*) { return 200; };
  server.latency = [](int in_flight) { return absl::Milliseconds(20) * std::max(1.0, in_flight / 8.0); };
  double best_fixed = 0;
  for (int fixed : {1, 2, 4, 8, 16, 32}) {
    // A fixed concurrency: a limiter already at `fixed` that nothing cuts
    // (its own latency rule aside, it is the same closed loop).
    Server s = server;
    int in_flight = 0;
    double served = 0;
    absl::Time t = kStart;
    // Closed loop of `fixed` clients: each round trip serves `fixed` requests.
    for (int round = 0; round < 1000; ++round) {
      in_flight = fixed;
      const absl::Duration rtt = s.latency(in_flight);
      t += rtt;
      served += fixed;
    }
    best_fixed = std::max(best_fixed, served / absl::ToDoubleSeconds(t - kStart));
  }
  AdaptiveLimiter l(32);
  const Tally t = Simulate(l, server, 32, absl::Seconds(60), absl::Seconds(10));
  const double per_second = t.ok / 50.0;
  std::printf("no quota: %.0f/s adaptive, %.0f/s best fixed (%.1f%%), limit %.1f\n", per_second, best_fixed,
              per_second / best_fixed * 100, l.limit());
  EXPECT_GE(per_second, 0.9 * best_fixed);
  EXPECT_EQ(t.throttled, 0);
}

// The job end to end against the simulated API with an unannounced quota of
// 40 requests a second: concurrency {"max": 8} starts with one request in
// flight, meets the quota, and every record arrives once; the limits are
// metrics. (How close it runs to the quota is the benchmark's, not a test's.)
TEST(AdaptiveConcurrencyTest, AJobUnderAnUnannouncedQuotaDeliversEveryRecordOnceAndReportsItsLimits) {
  for (bool headers : {false, true}) {
    SCOPED_TRACE(headers ? "announced" : "unannounced");
    testing::SimulatedApiOptions options;
    options.start = testing::T("2026-11-14T00:00:00Z");
    options.end = testing::T("2026-11-15T00:00:00Z");
    options.records = 1600;
    options.small_records = true;
    options.quota_per_second = 40;
    options.quota_headers = headers;
    testing::SimulatedApi api(options);
    auto spec = JobSpec::Parse(StrCat(R"({"name":"adaptive",
      "window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
      "shard_duration":"3h","concurrency":{"max":8},
      "retry":{"initial_backoff":"10ms","max_backoff":"1s","max_attempts":50},
      "source":{"type":"http","url":")",
                                      api.base_url(), R"(/v1/keyset",
        "query":{"from":"{start}","to":"{end}","limit":"{limit}","after_time":"{after_time}","after_id":"{after_id}"},
        "records":"/data","page_size":20,
        "pagination":{"type":"keyset","time":"/created_at","id":"/id"}},
      "mapper":{"type":"json","fields":[{"name":"id","from":"/id","required":true}],
                "key":{"from":"/id"},"event_time":{"from":"/created_at"}},
      "checkpoint":{"type":"memory"}})"));
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_TRUE(spec->adaptive_concurrency);
    EXPECT_EQ(spec->concurrency, 8);
    auto keys = std::make_shared<std::multiset<std::string>>();
    Components c;
    c.sink = NewCallbackSink([keys](const Shard&, absl::Span<const Record> batch) {
      for (const Record& r : batch) keys->insert(std::string(r.key));
      return absl::OkStatus();
    });
    Metrics metrics;
    BackfillerOptions o;
    o.metrics = &metrics;
    double limit_seen = 0;  // in the progress the CLI's progress line shows
    o.on_progress = [&limit_seen](const Progress& p) {
      limit_seen = std::max(limit_seen, p.concurrency_limit);
    };
    auto b = Backfiller::Create(*spec, std::move(c), o);
    ASSERT_TRUE(b.ok()) << b.status();
    const RunResult r = (*b)->Run();
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(keys->size(), 1600u);
    EXPECT_EQ(std::set<std::string>(keys->begin(), keys->end()).size(), 1600u);
    const std::string text = metrics.RenderPrometheus();
    EXPECT_THAT(text, ::testing::HasSubstr("recovery_concurrency_limit{job=\"adaptive\"}"));
    EXPECT_THAT(text, ::testing::HasSubstr("recovery_request_rate_limit{job=\"adaptive\"}"));
    EXPECT_GE(limit_seen, 1);
    EXPECT_LE(limit_seen, 8);
  }
}

TEST(AdaptiveConcurrencyTest, TheSpecTakesANumberOrAMaximum) {
  const std::string base =
      R"({"name":"a","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},"concurrency":)";
  auto plain = JobSpec::Parse(base + "4}");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->adaptive_concurrency);
  EXPECT_EQ(plain->concurrency, 4);
  auto bad = JobSpec::Parse(base + R"({"max":0}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("concurrency.max"));
  auto typo = JobSpec::Parse(base + R"({"maximum":4}})");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), ::testing::HasSubstr("maximum"));
}

}  // namespace
}  // namespace recovery
