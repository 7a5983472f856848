#include "testing/simulated_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "simdjson.h"
#include "testing/loopback_server.h"
#include "testing/test_util.h"
#include "util/time_format.h"

namespace recovery {
namespace testing {
namespace {

std::string SmallRecord(int64_t i, absl::Time t) {
  return absl::StrFormat(R"({"id":"txn-%08d","created_at":"%s","amount":{"value":%d.%02d,"currency":"EUR"},)"
                         R"("customer":{"loyalty_number":"LN%010d"},"status":"settled"})",
                         i, FormatRfc3339(t), 5 + i % 300, i % 100, i);
}

int64_t Param(const httplib::Request& req, const char* name, int64_t fallback) {
  int64_t v;
  if (req.has_param(name) && absl::SimpleAtoi(req.get_param_value(name), &v)) return v;
  return fallback;
}

absl::Time TimeParam(const httplib::Request& req, const char* name, absl::Time fallback) {
  if (!req.has_param(name)) return fallback;
  std::optional<absl::Time> t = ParseRfc3339(req.get_param_value(name));
  return t ? *t : fallback;
}

// Cursors are opaque to clients; here they are the index of the next record
// and, when cursors expire, the time they were issued (unix milliseconds).
std::string EncodeCursor(int64_t index, int64_t issued_ms = 0) {
  return issued_ms > 0 ? absl::StrCat("c", index * 7 + 3, "t", issued_ms) : absl::StrCat("c", index * 7 + 3);
}
int64_t DecodeCursor(const std::string& c) {
  int64_t v = 0;
  if (c.size() < 2 || !absl::SimpleAtoi(c.substr(1, c.find('t') - 1), &v)) return 0;
  return (v - 3) / 7;
}
int64_t CursorIssuedMs(const std::string& c) {
  int64_t ms = 0;
  const size_t t = c.find('t');
  return t != std::string::npos && absl::SimpleAtoi(c.substr(t + 1), &ms) ? ms : 0;
}

}  // namespace

SimulatedApi::SimulatedApi(SimulatedApiOptions options) : options_(std::move(options)) {
  {
    absl::MutexLock lock(&mu_);
    Build(0, options_.records, options_.start,
          (options_.end - options_.start) / std::max<int64_t>(1, options_.records));
  }
  server_ = std::make_unique<httplib::Server>();
  const int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_tcp_nodelay(true);  // else Nagle + delayed ACK add ~40 ms to kept-alive responses
  for (const char* style : {"page", "offset", "cursor", "cursor-header", "link", "next-url", "keyset"}) {
    std::string s = style;
    server_->Get(absl::StrCat("/v1/", s),
                 [this, s](const httplib::Request& req, httplib::Response& res) { Handle(s, &req, &res); });
  }
  // GraphQL: POST {"query": ..., "variables": {"from", "to", "first", "after"}}, served as
  // the cursor style with those as its parameters.
  server_->Post("/v1/graphql", [this](const httplib::Request& req, httplib::Response& res) {
    httplib::Request asked = req;
    simdjson::dom::parser parser;
    simdjson::dom::element vars;
    if (parser.parse(req.body).get(vars) == simdjson::SUCCESS &&
        vars["variables"].get(vars) == simdjson::SUCCESS) {
      std::string_view text;
      int64_t n = 0;
      if (vars["from"].get_string().get(text) == simdjson::SUCCESS)
        asked.params.emplace("from", std::string(text));
      if (vars["to"].get_string().get(text) == simdjson::SUCCESS)
        asked.params.emplace("to", std::string(text));
      if (vars["after"].get_string().get(text) == simdjson::SUCCESS)
        asked.params.emplace("cursor", std::string(text));
      if (vars["first"].get_int64().get(n) == simdjson::SUCCESS)
        asked.params.emplace("limit", std::to_string(n));
    }
    Handle("graphql", &asked, &res);
  });
  port_ = StartLoopbackServer(*server_, &thread_, "simulated API");
}

SimulatedApi::~SimulatedApi() {
  server_->stop();
  thread_.join();
}

std::string SimulatedApi::base_url() const { return absl::StrCat("http://127.0.0.1:", port_); }

void SimulatedApi::Build(int64_t first, int64_t n, absl::Time t0, absl::Duration spacing) {
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = first + k;
    const int64_t group = k / std::max(1, options_.same_time_group) * std::max(1, options_.same_time_group);
    // Microsecond precision, as RFC 3339 in the records carries.
    const absl::Time t = absl::FromUnixMicros(absl::ToUnixMicros(t0 + spacing * group));
    Rec r{t, absl::StrFormat("txn-%08d", i),
          options_.small_records ? SmallRecord(i, t) : TransactionJson(i, t)};
    if (options_.bad_every > 0 && i % options_.bad_every == options_.bad_every - 1) {
      r.json = absl::StrFormat(R"({"id":"txn-%08d","created_at":"%s","amount":{"value":"12,30"}})", i,
                               FormatRfc3339(t));
    }
    if (options_.bad_time_every > 0 && i % options_.bad_time_every == options_.bad_time_every - 1) {
      r.json = absl::StrFormat(R"({"id":"txn-%08d","created_at":"not a time","amount":{"value":1}})", i);
    }
    records_.push_back(std::move(r));
  }
}

void SimulatedApi::Script(std::vector<Fault> faults) {
  absl::MutexLock lock(&mu_);
  for (Fault& f : faults) script_.push_back(std::move(f));
}

void SimulatedApi::Append(int64_t n, absl::Duration spacing) {
  absl::MutexLock lock(&mu_);
  const absl::Time last = records_.empty() ? options_.start : records_.back().time;
  Build(static_cast<int64_t>(records_.size()), n, last + spacing, spacing);
}

std::vector<RequestRecord> SimulatedApi::requests() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

int64_t SimulatedApi::record_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(records_.size());
}

std::vector<std::string> SimulatedApi::BadIds() const {
  std::vector<std::string> ids;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < records_.size(); ++i) {
    const bool bad_amount = options_.bad_every > 0 && i % options_.bad_every == options_.bad_every - 1;
    const bool bad_time =
        options_.bad_time_every > 0 && i % options_.bad_time_every == options_.bad_time_every - 1;
    if (bad_amount || bad_time) ids.push_back(records_[i].id);
  }
  return ids;
}

std::vector<std::string> SimulatedApi::Ids(absl::Time from, absl::Time to) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const Rec& r : records_) {
    if (r.time >= from && r.time < to) ids.push_back(r.id);
  }
  return ids;
}

void SimulatedApi::Handle(const std::string& style, const void* request, void* response) {
  const auto& req = *static_cast<const httplib::Request*>(request);
  auto& res = *static_cast<httplib::Response*>(response);
  struct Serving {  // a place among the max_concurrent, held to the end of the answer's making
    SimulatedApi* api;
    explicit Serving(SimulatedApi* a) : api(a) {
      if (api->options_.max_concurrent <= 0) return;
      absl::MutexLock lock(&api->serving_mu_);
      api->serving_mu_.Await(absl::Condition(
          +[](SimulatedApi* s)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->serving_ < s->options_.max_concurrent; },
          api));
      ++api->serving_;
    }
    ~Serving() {
      if (api->options_.max_concurrent <= 0) return;
      absl::MutexLock lock(&api->serving_mu_);
      --api->serving_;
    }
  } serving(this);
  if (options_.latency > absl::ZeroDuration()) absl::SleepFor(options_.latency);
  RequestRecord logged{absl::Now(), req.path, "", req.get_header_value("Authorization"), 200};
  for (const auto& [k, v] : req.params)
    absl::StrAppend(&logged.query, logged.query.empty() ? "" : "&", k, "=", v);
  auto finish = [&](int status) {
    logged.status = status;
    absl::MutexLock lock(&mu_);
    log_.push_back(logged);
  };

  std::string cursor = req.has_param("cursor") ? req.get_param_value("cursor") : "";
  if (style == "cursor-header" && cursor.empty()) cursor = req.get_header_value("X-Cursor");
  std::optional<Fault> fault;
  {
    absl::MutexLock lock(&mu_);
    // An expiry waits for a request that carries a cursor (another shard's
    // first request may come first).
    if (!script_.empty() && !(script_.front().kind == Fault::kCursorExpired && cursor.empty())) {
      fault = script_.front();
      script_.pop_front();
    } else if (options_.p500 + options_.p429 + options_.p_reset + options_.p_truncate + options_.p_stall >
               0) {
      rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
      double u = static_cast<double>(rng_ >> 11) / static_cast<double>(1ULL << 53);
      if ((u -= options_.p500) < 0) {
        fault = Fault{Fault::k500};
      } else if ((u -= options_.p429) < 0) {
        fault = Fault{Fault::k429, options_.retry_after_seconds};
      } else if ((u -= options_.p_reset) < 0) {
        fault = Fault{Fault::kReset};
      } else if ((u -= options_.p_truncate) < 0) {
        fault = Fault{Fault::kTruncate};
      } else if ((u -= options_.p_stall) < 0) {
        fault = Fault{Fault::kStall, 0, options_.stall};
      }
    }
  }
  if (options_.quota_per_second > 0) {
    const double q = options_.quota_per_second;
    const absl::Time now = absl::Now();
    bool allowed;
    {
      absl::MutexLock lock(&mu_);
      if (options_.quota_headers) {
        const int64_t window = absl::ToUnixMillis(now) / 1000;
        if (window != quota_window_) quota_window_ = window, quota_used_ = 0;
        allowed = quota_used_ < q;
        quota_used_ += allowed;
        res.set_header("RateLimit-Limit", absl::StrCat(static_cast<int64_t>(q)));
        res.set_header("RateLimit-Remaining",
                       absl::StrCat(std::max<int64_t>(0, static_cast<int64_t>(q) - quota_used_)));
        res.set_header(
            "RateLimit-Reset",
            absl::StrFormat("%.3f", absl::ToDoubleSeconds(absl::FromUnixMillis((window + 1) * 1000) - now)));
      } else {
        if (quota_tokens_ < 0) quota_tokens_ = q, quota_last_ = now;
        quota_tokens_ = std::min(q, quota_tokens_ + absl::ToDoubleSeconds(now - quota_last_) * q);
        quota_last_ = now;
        allowed = quota_tokens_ >= 1;
        if (allowed) quota_tokens_ -= 1;
      }
    }
    if (!allowed) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"error":"rate limited"})", "application/json");
      return finish(429);
    }
  }
  if ((!options_.bearer_token.empty() &&
       req.get_header_value("Authorization") != "Bearer " + options_.bearer_token) ||
      (options_.authorize &&
       !options_.authorize(options_.authorize_query.empty()
                               ? req.get_header_value("Authorization")
                               : "Query " + req.get_param_value(options_.authorize_query)))) {
    res.status = 401;
    res.set_content(R"({"error":"unauthorized"})", "application/json");
    return finish(401);
  }
  if (fault) {
    switch (fault->kind) {
      case Fault::k500:
        res.status = 500;
        res.set_content(R"({"error":"internal"})", "application/json");
        return finish(500);
      case Fault::k429:
        res.status = 429;
        res.set_header("Retry-After", std::to_string(fault->retry_after_seconds));
        res.set_content(R"({"error":"slow down"})", "application/json");
        return finish(429);
      case Fault::k401:
        res.status = 401;
        res.set_content(R"({"error":"token expired"})", "application/json");
        return finish(401);
      case Fault::kReset:
      case Fault::kTruncate: {
        // Promise 4 KB, send a part, then drop the connection.
        const bool reset = fault->kind == Fault::kReset;
        res.set_content_provider(4096, "application/json",
                                 [reset](size_t offset, size_t, httplib::DataSink& sink) {
                                   if (offset == 0) sink.write(R"({"data":[{"id":"part)", reset ? 10 : 20);
                                   return false;
                                 });
        return finish(200);
      }
      case Fault::kInvalidJson:
        res.set_content(R"({"data":[{"id":"x",]})", "application/json");
        return finish(200);
      case Fault::kStall:
        absl::SleepFor(fault->stall);
        break;
      case Fault::kRedirect:
        res.set_redirect(fault->location + req.path + "?" + logged.query, 302);
        return finish(302);
      case Fault::kHuge:
        res.set_content(std::string(fault->bytes, ' ') + R"({"data":[]})", "application/json");
        return finish(200);
      case Fault::kGraphqlThrottled:
        res.set_content(
            R"({"data":null,"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]})",
            "application/json");
        return finish(200);
      case Fault::kGraphqlError:
        res.set_content(
            R"({"data":null,"errors":[{"message":"Field 'amount' doesn't exist on type 'Order'"}]})",
            "application/json");
        return finish(200);
      default:
        break;
    }
  }
  if (!cursor.empty() &&
      ((fault && fault->kind == Fault::kCursorExpired) ||
       (options_.cursor_lifetime > absl::ZeroDuration() && CursorIssuedMs(cursor) > 0 &&
        absl::Now() - absl::FromUnixMillis(CursorIssuedMs(cursor)) > options_.cursor_lifetime))) {
    res.status = options_.expired_status;
    res.set_content(R"({"error":{"code":"cursor_expired","message":"This cursor has expired; list again"}})",
                    "application/json");
    return finish(options_.expired_status);
  }
  const int64_t issued_ms =
      options_.cursor_lifetime > absl::ZeroDuration() ? absl::ToUnixMillis(absl::Now()) : 0;
  auto encode = [issued_ms](int64_t index) { return EncodeCursor(index, issued_ms); };

  const absl::Time from = TimeParam(req, "from", absl::InfinitePast());
  const absl::Time to =
      options_.ignore_to ? absl::InfiniteFuture() : TimeParam(req, "to", absl::InfiniteFuture());
  const int64_t limit = std::min<int64_t>(Param(req, "limit", 100), options_.max_page_size);
  absl::MutexLock lock(&mu_);
  auto first_at = [&](absl::Time t) {
    return std::lower_bound(records_.begin(), records_.end(), t,
                            [](const Rec& r, absl::Time x) { return r.time < x; }) -
           records_.begin();
  };
  const int64_t lo = options_.ignore_window ? 0 : first_at(from);
  int64_t hi = options_.ignore_window ? static_cast<int64_t>(records_.size()) : first_at(to);
  const int64_t total = hi - lo;
  if (options_.stop_after_pages > 0) hi = std::min(hi, lo + options_.stop_after_pages * limit);
  int64_t begin = lo;  // index of the first record served
  if (style == "page") {
    begin = lo + (Param(req, "page", 1) - 1) * limit;
  } else if (style == "offset") {
    begin = lo + Param(req, "offset", 0);
  } else if (style == "keyset") {
    if (req.has_param("after_time")) {
      const absl::Time at = TimeParam(req, "after_time", absl::InfinitePast());
      const std::string aid = req.get_param_value("after_id");
      begin = std::upper_bound(records_.begin() + lo, records_.begin() + hi, std::make_pair(at, aid),
                               [](const std::pair<absl::Time, std::string>& k, const Rec& r) {
                                 return k.first < r.time || (k.first == r.time && k.second < r.id);
                               }) -
              records_.begin();
    }
  } else if (req.has_param("cursor")) {
    begin = DecodeCursor(req.get_param_value("cursor"));
  } else if (style == "cursor-header" && req.has_header("X-Cursor")) {
    begin = DecodeCursor(req.get_header_value("X-Cursor"));
  }
  begin = std::clamp(begin, lo, hi);
  if (options_.repeat_last && begin > lo && style != "keyset") --begin;
  const int64_t end = std::min(hi, begin + limit);
  std::string body = "{\"data\":[";
  for (int64_t i = begin; i < end; ++i) {
    if (i > begin) body.push_back(',');
    const int64_t swapped = lo + ((i - lo) ^ 1);
    body += records_[options_.unsorted && swapped < hi ? swapped : i].json;
  }
  body += "]";
  const bool more = end < hi;
  int64_t next_index = end;
  if (fault && fault->kind == Fault::kRepeatCursor) next_index = begin;
  if (style == "graphql") {  // a connection: nodes and pageInfo (the last one sends its cursor too)
    body =
        absl::StrCat(R"({"data":{"transactions":{"nodes":)", body.substr(8), R"(,"pageInfo":{"endCursor":")",
                     encode(next_index), R"(","hasNextPage":)", more ? "true" : "false", "}}}}");
    res.set_content(body, options_.compress ? "application/json" : "application/json; charset=utf-8");
    logged.status = 200;
    log_.push_back(logged);
    return;
  }
  const std::string window =
      absl::StrCat("&from=", req.get_param_value("from"), "&to=", req.get_param_value("to"));
  if (style == "cursor" && more) absl::StrAppend(&body, ",\"next_cursor\":\"", encode(next_index), "\"");
  if (style == "next-url" && more) {
    absl::StrAppend(&body, ",\"links\":{\"next\":\"/v1/next-url?cursor=", encode(next_index),
                    "&limit=", limit, window, "\"}");
  }
  if (style == "cursor-header" && more) res.set_header("X-Next-Cursor", encode(next_index));
  if (style == "link" && more) {
    res.set_header("Link",
                   absl::StrCat("<", base_url(), "/v1/link?cursor=", encode(next_index), "&limit=", limit,
                                window, ">; rel=\"next\", <", base_url(), "/v1/link>; rel=\"first\""));
  }
  const int64_t reported = fault && fault->kind == Fault::kWrongTotal
                               ? total + 5
                               : std::max<int64_t>(0, total - options_.total_understated);
  absl::StrAppend(&body, ",\"total\":", reported, "}");
  res.set_header("X-Total-Count", std::to_string(reported));
  // httplib compresses only an exact "application/json".
  res.set_content(body, options_.compress ? "application/json" : "application/json; charset=utf-8");
  logged.status = 200;
  log_.push_back(logged);
}

}  // namespace testing
}  // namespace recovery
