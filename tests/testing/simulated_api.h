// A simulated third-party transactions API on a loopback port (cpp-httplib),
// for tests, the demo and the benchmark. Records are sorted by (created_at, id)
// and every pagination style is served under /v1/<style>:
//   page       ?page=&limit=&from=&to=            {"data":[...],"total":N} + X-Total-Count
//   offset     ?offset=&limit=&from=&to=          likewise
//   cursor     ?cursor=&limit=&from=&to=          {"data":[...],"next_cursor":"..."}
//   cursor-header                                  X-Next-Cursor header
//   link                                           Link: <...>; rel="next"
//   next-url                                       {"data":[...],"links":{"next":"/v1/next-url?..."}}
//   keyset     ?after_time=&after_id=&limit=&from=&to=
//   graphql    POST /v1/graphql {"variables":{"from","to","first","after"}}
//              {"data":{"transactions":{"nodes":[...],"pageInfo":{"endCursor","hasNextPage"}}}}
// `from`/`to` are RFC 3339; records in [from, to) are served.
#ifndef RECOVERY_TESTS_TESTING_SIMULATED_API_H_
#define RECOVERY_TESTS_TESTING_SIMULATED_API_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace recovery {
namespace testing {

struct SimulatedApiOptions {
  absl::Time start;
  absl::Time end;
  int64_t records = 1000;                         // spread evenly over [start, end)
  int same_time_group = 1;                        // this many consecutive records share a timestamp
  int max_page_size = 1000;                       // the server caps `limit` silently, as real APIs do
  absl::Duration latency = absl::ZeroDuration();  // added to every response
  std::string bearer_token;                       // when set, required on every request
  // When set, every request's Authorization header must please it (an OAuth2
  // token server's Authorizer()); else 401.
  std::function<bool(std::string_view authorization)> authorize;
  // With `authorize`: the query parameter it judges instead, handed to it as
  // "Query <value>" (an API key in the URL).
  std::string authorize_query;
  // Random faults (the demo): probability per request, deterministic seed.
  double p500 = 0;
  double p429 = 0;
  int retry_after_seconds = 1;
  double p_reset = 0;     // the connection drops mid-body
  double p_truncate = 0;  // the body ends early
  double p_stall = 0;     // the answer comes `stall` late
  absl::Duration stall = absl::Milliseconds(300);
  // Every record whose index % bad_every == bad_every - 1 has an amount the
  // mapper cannot read ("12,30"): deliberately bad, for dead letters. 0: none.
  int bad_every = 0;
  // Every record whose index % bad_time_every == bad_time_every - 1 has a
  // created_at nobody can read ("not a time"); it is still served in its place. 0: none.
  int bad_time_every = 0;
  // Serve every record from `from` on, whatever `to` says: an API whose end
  // filter is missing or ignored (json-server has no `_lt`).
  bool ignore_to = false;
  // Report this many fewer records in "total" and X-Total-Count than the
  // window holds: an API that lies about totals.
  int64_t total_understated = 0;
  // Misbehaviours, one at a time, for the probe's tests:
  bool ignore_window = false;  // serve every record, whatever `from` and `to` say
  bool unsorted = false;       // swap each pair of neighbouring records in the listing
  int stop_after_pages = 0;    // say "no more" after this many pages of a window (0: never); totals stay true
  bool repeat_last = false;  // every page after a window's first starts with the previous page's last record
  int threads = 16;
  bool small_records = false;  // ~200-byte records instead of ~1 KB
  // Compress responses (brotli or gzip, as the client accepts). Off by
  // default: the server's compression costs more CPU than everything else.
  bool compress = false;
  // Cursors (every server-named style) live this long, then are answered
  // expired_status with {"error":{"code":"cursor_expired",...}}, as payments
  // and analytics APIs do. 0: they never expire.
  absl::Duration cursor_lifetime = absl::ZeroDuration();
  int expired_status = 400;
  // A quota on every request (0: none): a token bucket of this many a second
  // (bursts of as many) answered 429 with Retry-After: 1 beyond it, told to
  // nobody; or, with quota_headers, a fixed one-second window announced in
  // RateLimit-Limit, -Remaining and -Reset on every answer.
  double quota_per_second = 0;
  bool quota_headers = false;
  // Requests served at once (latency included); the rest queue. 0: as many
  // as the server has threads.
  int max_concurrent = 0;
};

struct Fault {
  enum Kind {
    k500,
    k429,
    kReset,
    kTruncate,
    kInvalidJson,
    kStall,
    kRedirect,
    kHuge,
    kRepeatCursor,
    kWrongTotal,
    k401,
    kGraphqlThrottled,  // 200 with GraphQL "errors" saying THROTTLED
    kGraphqlError,      // 200 with a GraphQL error that is not throttling
    kCursorExpired,     // the next request that carries a cursor is answered as if it had expired
  };
  Kind kind;
  int retry_after_seconds = 0;  // k429
  absl::Duration stall;         // kStall
  std::string location;         // kRedirect
  size_t bytes = 0;             // kHuge
};

struct RequestRecord {
  absl::Time time;
  std::string path;
  std::string query;
  std::string authorization;
  int status = 0;
};

class SimulatedApi {
 public:
  explicit SimulatedApi(SimulatedApiOptions options);
  ~SimulatedApi();  // stops the server
  SimulatedApi(const SimulatedApi&) = delete;
  SimulatedApi& operator=(const SimulatedApi&) = delete;

  std::string base_url() const;  // http://127.0.0.1:<port>
  int port() const { return port_; }

  // The next requests fail as scripted, in order.
  void Script(std::vector<Fault> faults);
  // Appends `n` records after the current last one, `spacing` apart (follow mode).
  void Append(int64_t n, absl::Duration spacing);
  std::vector<RequestRecord> requests() const;
  int64_t record_count() const;
  // The ids of the deliberately bad records (bad_every and bad_time_every).
  std::vector<std::string> BadIds() const;
  // The ids of every record in [from, to).
  std::vector<std::string> Ids(absl::Time from, absl::Time to) const;

 private:
  struct Rec {
    absl::Time time;
    std::string id;
    std::string json;
  };
  void Handle(const std::string& style, const void* request, void* response);
  void Build(int64_t first, int64_t n, absl::Time t0, absl::Duration spacing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SimulatedApiOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<Rec> records_ ABSL_GUARDED_BY(mu_);
  std::deque<Fault> script_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestRecord> log_ ABSL_GUARDED_BY(mu_);
  uint64_t rng_ ABSL_GUARDED_BY(mu_) = 42;
  absl::Mutex serving_mu_;
  int serving_ ABSL_GUARDED_BY(serving_mu_) = 0;
  double quota_tokens_ ABSL_GUARDED_BY(mu_) = -1;  // -1: the bucket is full
  absl::Time quota_last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t quota_window_ ABSL_GUARDED_BY(mu_) = -1;
  int quota_used_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_SIMULATED_API_H_
