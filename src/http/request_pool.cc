#include "http/request_pool.h"

#include <utility>

#include "absl/time/clock.h"

namespace recovery {

// The tasks of one RunAll() call.
struct RequestPool::Group {
  absl::Mutex mu;
  size_t left ABSL_GUARDED_BY(mu) = 0;
};

RequestPool::RequestPool(int size, HttpClientOptions options, const HttpCredentials& credentials,
                         Redactor redactor, RateLimiter* limiter)
    : size_(size),
      options_(std::move(options)),
      credentials_(credentials),
      redactor_(std::move(redactor)),
      limiter_(limiter) {}

RequestPool::~RequestPool() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads = std::move(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void RequestPool::RunAll(std::vector<Task> tasks) {
  if (tasks.empty()) return;
  auto group = std::make_shared<Group>();
  {
    absl::MutexLock lock(&group->mu);
    group->left = tasks.size();
  }
  {
    absl::MutexLock lock(&mu_);
    while (threads_.size() < static_cast<size_t>(size_)) threads_.emplace_back([this] { Work(); });
    for (Task& task : tasks) queue_.push_back({std::move(task), group});
  }
  Group& g = *group;
  absl::MutexLock lock(&g.mu);
  auto done = [&g]() ABSL_SHARED_LOCKS_REQUIRED(g.mu) { return g.left == 0; };
  g.mu.Await(absl::Condition(&done));
}

void RequestPool::Work() {
  PoolClient client(options_, credentials_, redactor_);
  while (true) {
    Queued next;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing is left
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    next.task(client);
    absl::MutexLock lock(&next.group->mu);
    --next.group->left;
  }
}

absl::Status RequestPool::Send(PoolClient& client, const HttpRequest& request, HttpResponse* response) {
  for (int attempt = 0;; ++attempt) {
    if (limiter_ != nullptr) {
      absl::StatusOr<absl::Duration> wait = limiter_->Reserve(absl::Now());
      if (!wait.ok()) return wait.status();
      absl::SleepFor(*wait);
    }
    HttpRequest authorized = request;
    bool renewed = false;
    if (absl::Status s = client.authorizer.Apply(&authorized, &client.redactor, &renewed); !s.ok()) return s;
    *response = HttpResponse();
    absl::Status s = client.client.Perform(authorized, response, client.redactor);
    if (!s.ok()) return s;
    absl::Status again = client.authorizer.Answered(authorized, response->status, client.redactor);
    if (again.ok() || attempt >= 2) return absl::OkStatus();  // the caller classifies the status
  }
}

}  // namespace recovery
