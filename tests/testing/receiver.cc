#include "testing/receiver.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "simdjson.h"
#include "testing/loopback_server.h"

namespace recovery {
namespace testing {
namespace {

namespace dom = simdjson::dom;

std::string KeyOf(dom::element record) {
  std::string_view key;
  if (record["key"].get_string().get(key) == simdjson::SUCCESS) return std::string(key);
  if (record["id"].get_string().get(key) == simdjson::SUCCESS) return std::string(key);
  return "";
}

bool FlagOf(dom::element record) {
  bool flag = false;
  return record["maybe_redelivered"].get_bool().get(flag) == simdjson::SUCCESS && flag;
}

}  // namespace

Receiver::Receiver(ReceiverOptions options) : options_(std::move(options)) {
  held_ = options_.held;
  if (options_.cert_file.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    server_ = std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(), options_.key_file.c_str());
  }
  if (options_.threads > 0) {
    const int threads = options_.threads;
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  }
  server_->Post("/events", [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
  server_->Get(R"(/records/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    absl::MutexLock lock(&mu_);
    ++requests_;
    res.status = held_.count(req.matches[1]) > 0 ? 200 : 404;
  });
  server_->Post("/lookup", [this](const httplib::Request& req, httplib::Response& res) {
    dom::parser parser;
    dom::array keys;
    if (parser.parse(req.body).at_pointer("/keys").get_array().get(keys) != simdjson::SUCCESS) {
      res.status = 400;
      return;
    }
    std::string body = R"({"present":[)";
    absl::MutexLock lock(&mu_);
    ++requests_;
    bool first = true;
    for (dom::element k : keys) {
      std::string_view key;
      if (k.get_string().get(key) != simdjson::SUCCESS || held_.count(std::string(key)) == 0) continue;
      absl::StrAppend(&body, first ? "" : ",", "\"", std::string(key), "\"");
      first = false;
    }
    res.set_content(body + "]}", "application/json");
  });
  port_ = StartLoopbackServer(*server_, &thread_, "receiver");
}

Receiver::~Receiver() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string Receiver::url(const std::string& path) const {
  return absl::StrCat(options_.cert_file.empty() ? "http" : "https", "://127.0.0.1:", port_, path);
}

int Receiver::Take(const std::string& key, bool redelivered) {
  if (options_.refuse.count(key) > 0) return 422;
  const bool fresh = held_.insert(key).second;
  const bool process = fresh || !options_.dedupe;
  arrivals_.push_back({key, redelivered, process});
  if (process) ++processed_[key];
  return process ? 200 : options_.duplicate_status;
}

void Receiver::Events(const httplib::Request& req, httplib::Response& res) {
  if (options_.delay > absl::ZeroDuration()) absl::SleepFor(options_.delay);
  absl::MutexLock lock(&mu_);
  const int n = ++requests_;
  for (const auto& [name, value] : req.headers) absl::StrAppend(&transcript_, name, ": ", value, "\n");
  absl::StrAppend(&transcript_, req.body, "\n\n");
  const std::string authorization = req.get_header_value("Authorization");
  if ((!options_.authorization.empty() && authorization != options_.authorization) ||
      (options_.authorize && !options_.authorize(authorization))) {
    res.status = 401;
    return;
  }
  if (n <= options_.fail_first) {
    res.status = options_.fail_status;
    if (!options_.retry_after.empty()) res.set_header("Retry-After", options_.retry_after);
    return;
  }
  if (options_.max_body_bytes > 0 && req.body.size() > options_.max_body_bytes) {
    res.status = 413;
    return;
  }
  dom::parser parser;
  dom::element body;
  if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
    res.status = 400;
    res.set_content("not JSON", "text/plain");
    return;
  }
  dom::array batch;
  if (body.get_array().get(batch) != simdjson::SUCCESS) {  // one record
    const std::string header = req.get_header_value("Idempotency-Key");
    const std::string key = header.empty() ? KeyOf(body) : header;
    res.status = Take(key, req.get_header_value("X-Recovery-Redelivery") == "true" || FlagOf(body));
    if (res.status == 422) {
      const std::string echo =
          options_.echo_authorization
              ? absl::StrCat(R"(,"you_sent":")", req.get_header_value("Authorization"), "\"")
              : "";
      res.set_content(absl::StrCat(R"({"error":"record )", key, R"( is invalid")", echo, "}"),
                      "application/json");
    }
    return;
  }
  if (!options_.results) {  // a batch is taken whole or refused whole
    for (dom::element e : batch) {
      if (options_.refuse.count(KeyOf(e)) > 0) {
        res.status = 422;
        res.set_content(absl::StrCat(R"({"error":"record )", KeyOf(e), R"( is invalid"})"),
                        "application/json");
        return;
      }
    }
  }
  std::string results = R"({"results":[)";
  bool first = true;
  for (dom::element e : batch) {
    const std::string key = KeyOf(e);
    const int status = Take(key, FlagOf(e));
    absl::StrAppend(&results, first ? "" : ",", R"({"key":")", key, R"(","status":)", status,
                    status == 422 ? R"(,"error":"invalid record"})" : "}");
    first = false;
  }
  if (options_.results) res.set_content(results + "]}", "application/json");
}

std::vector<Arrival> Receiver::arrivals() const {
  absl::MutexLock lock(&mu_);
  return arrivals_;
}

std::map<std::string, int> Receiver::processed() const {
  absl::MutexLock lock(&mu_);
  return processed_;
}

int Receiver::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

std::string Receiver::transcript() const {
  absl::MutexLock lock(&mu_);
  return transcript_;
}

}  // namespace testing
}  // namespace recovery
