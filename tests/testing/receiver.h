// An integration's HTTP endpoint on a loopback port (cpp-httplib), for the
// HTTP sink's tests and benchmark: it takes records one per request (POST
// /events, the key in Idempotency-Key or the record's "id") or in batches (a
// JSON array of envelopes), remembers every arrival, and "processes" each
// key once when it deduplicates, or every time when it does not. It can fail
// on purpose: the first requests with a status and a Retry-After, keys it
// refuses, bodies over a size, a missing credential. GET /records/KEY
// answers 200 or 404 for the presence check, POST /lookup a batch of keys.
#ifndef RECOVERY_TESTS_TESTING_RECEIVER_H_
#define RECOVERY_TESTS_TESTING_RECEIVER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace recovery {
namespace testing {

struct ReceiverOptions {
  // A key processed before is not processed again; its request is answered
  // `duplicate_status`.
  bool dedupe = true;
  int duplicate_status = 200;
  std::set<std::string> held;    // keys held before any request (a live feed's)
  std::set<std::string> refuse;  // answered 422, or a failed item in a batch's results
  int fail_first = 0;            // the first N requests are answered `fail_status`
  int fail_status = 503;
  std::string retry_after;    // with them, when not empty
  size_t max_body_bytes = 0;  // larger bodies are answered 413; 0: any
  std::string authorization;  // required Authorization header; empty: none
  // Or whether an Authorization header is good (an OAuth2 token server's).
  std::function<bool(std::string_view authorization)> authorize;
  bool results = false;             // a batch is answered {"results":[{"key","status","error"}]}
  std::string cert_file, key_file;  // serve HTTPS with these
  // A refusal's answer quotes the request's Authorization header back, as
  // careless endpoints do: a test that no secret reaches a dead letter.
  bool echo_authorization = false;
  absl::Duration delay = absl::ZeroDuration();  // before answering each POST /events
  int threads = 0;  // the server's threads (one per kept-alive connection); 0: cpp-httplib's default
};

struct Arrival {
  std::string key;
  bool redelivered = false;  // the redelivery header, or the envelope's flag
  bool processed = false;    // new to the endpoint (or it does not deduplicate)
};

class Receiver {
 public:
  explicit Receiver(ReceiverOptions options);
  ~Receiver();  // stops the server
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;  // http(s)://127.0.0.1:<port><path>

  std::vector<Arrival> arrivals() const;
  std::map<std::string, int> processed() const;  // times each key was processed
  int requests() const;
  // Every request as received: its headers and body, for a search for secrets.
  std::string transcript() const;

 private:
  void Events(const httplib::Request& req, httplib::Response& res);
  // One record; the status to answer for it.
  int Take(const std::string& key, bool redelivered) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ReceiverOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<Arrival> arrivals_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> processed_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::string transcript_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_RECEIVER_H_
