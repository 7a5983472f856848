// A fixed number of HTTP clients, each on a thread of its own, that run the
// tasks handed to them: how the HTTP sink keeps a bounded number of requests
// in flight across every shard of a job, whatever the number of shards.
#ifndef RECOVERY_HTTP_REQUEST_POOL_H_
#define RECOVERY_HTTP_REQUEST_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "http/http_auth.h"
#include "http/http_client.h"
#include "http/rate_limiter.h"
#include "util/redact.h"

namespace recovery {

// A worker's own client, and what it needs to send a request.
struct PoolClient {
  PoolClient(const HttpClientOptions& options, const HttpCredentials& credentials, const Redactor& redactor)
      : client(options), redactor(redactor), authorizer(credentials) {}
  HttpClient client;
  Redactor redactor;  // the job's secrets and the tokens this client has seen
  RequestAuthorizer authorizer;
};

// Thread-safe.
class RequestPool {
 public:
  using Task = std::function<void(PoolClient&)>;

  // `size` clients (threads started on first use); `limiter` (may be null)
  // spaces every request. The credentials and the limiter outlive the pool.
  RequestPool(int size, HttpClientOptions options, const HttpCredentials& credentials, Redactor redactor,
              RateLimiter* limiter);
  ~RequestPool();
  RequestPool(const RequestPool&) = delete;
  RequestPool& operator=(const RequestPool&) = delete;

  // Runs every task on the pool's clients, at most `size` at once across
  // every caller, and returns once all have run.
  void RunAll(std::vector<Task> tasks);

  // Sends `request` on `client`: waits for the rate limit, puts the
  // credentials on, and asks again at once (twice at most) when a 401 is met
  // by a fresh token or command secret. OK with any HTTP status in
  // `response`; a transport failure, a quota wait over the limit (paused) or
  // credentials that cannot be had otherwise.
  absl::Status Send(PoolClient& client, const HttpRequest& request, HttpResponse* response);

 private:
  struct Group;
  struct Queued {
    Task task;
    std::shared_ptr<Group> group;
  };
  void Work();

  const int size_;
  const HttpClientOptions options_;
  const HttpCredentials& credentials_;
  const Redactor redactor_;
  RateLimiter* const limiter_;
  absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recovery

#endif  // RECOVERY_HTTP_REQUEST_POOL_H_
