// The HTTP sink: a page's records go to the endpoint as requests of one
// record or of a batch, run on the sink's pool of clients (max_in_flight
// across the job), and each answer is routed by its status. Records whose
// request must be sent again make the whole Write() fail retryably; what the
// others became is remembered per shard, so the engine's retry sends only
// what is still owed.
#include "http/http_sink.h"

#include <map>
#include <optional>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "http/http_answer.h"
#include "http/http_auth.h"
#include "http/http_sink_bodies.h"
#include "http/rate_limiter.h"
#include "http/request_pool.h"
#include "http/request_template.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr size_t kEnvelopeBytes = 120;  // an envelope's bytes besides its key and record
constexpr size_t kLookupKeys = 1000;    // keys per batch lookup

std::set<long> SetOf(const std::vector<int>& codes) { return std::set<long>(codes.begin(), codes.end()); }

// The failures of the requests of one call, gathered from the pool's threads.
class Failures {
 public:
  void Add(absl::Status s) {
    absl::MutexLock lock(&mu_);
    if (!IsTransient(s)) {
      if (fatal_.ok()) fatal_ = std::move(s);
      return;
    }
    if (std::optional<absl::Duration> wait = GetRetryAfter(s)) wait_ = std::max(wait_, *wait);
    if (transient_.ok()) transient_ = std::move(s);
  }
  // The fatal failure, else the first transient one with the longest wait
  // any asked for, else OK.
  absl::Status Result() {
    absl::MutexLock lock(&mu_);
    if (!fatal_.ok() || transient_.ok()) return fatal_;
    absl::Status s = transient_;
    if (wait_ > absl::ZeroDuration()) SetRetryAfter(s, wait_);
    return s;
  }

 private:
  absl::Mutex mu_;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_), transient_ ABSL_GUARDED_BY(mu_);
  absl::Duration wait_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

// One Write(): the records, what became of each, and how the requests failed.
struct Delivery {
  const WriteRequest& request;
  absl::Span<const Record> records;
  std::vector<SinkFate> fates;
  std::vector<std::string> reasons;
  Failures failures;
};

class HttpSink : public Sink, public PresenceCheck {
 public:
  HttpSink(HttpSinkOptions options, HttpCredentials credentials, Redactor redactor, HttpClientOptions client)
      : o_(std::move(options)),
        credentials_(std::move(credentials)),
        statuses_{SetOf(o_.present_statuses), SetOf(o_.retry_statuses), SetOf(o_.stop_statuses)},
        limiter_(o_.rate_limit.requests_per_second > 0
                     ? std::make_unique<RateLimiter>(o_.rate_limit.requests_per_second,
                                                     o_.rate_limit.burst > 0
                                                         ? o_.rate_limit.burst
                                                         : std::max(1.0, o_.rate_limit.requests_per_second),
                                                     o_.rate_limit.max_wait, absl::Now())
                     : nullptr),
        pool_(o_.max_in_flight, std::move(client), credentials_, std::move(redactor), limiter_.get()),
        content_type_(std::none_of(o_.headers.begin(), o_.headers.end(), [](const auto& h) {
          return absl::AsciiStrToLower(h.first) == "content-type";
        })) {}

  absl::Status Write(const WriteRequest& request, WriteResult* result) override;
  PresenceCheck* presence() override { return o_.presence.url.empty() ? nullptr : this; }
  absl::Status Check(const Shard& shard, absl::Span<const Record> records, PresenceAnswer* answer) override;
  bool answers_by_key() const override { return true; }  // the lookup sends keys alone

 private:
  bool batched() const { return o_.max_batch_records > 1; }
  std::vector<std::vector<size_t>> Chunks(const Delivery& d) const;
  HttpRequest RequestFor(const Delivery& d, const std::vector<size_t>& indexes) const;
  void Send(PoolClient& client, Delivery& d, const std::vector<size_t>& indexes);
  void Route(PoolClient& client, Delivery& d, const std::vector<size_t>& indexes, const HttpRequest& req,
             const HttpResponse& resp);
  // What an earlier, failed Write() of this shard settled, taken out.
  void TakeSettled(Delivery& d);
  void KeepSettled(const Delivery& d);
  absl::Status LookupEach(absl::Span<const Record> records, PresenceAnswer* answer);
  absl::Status LookupBatch(absl::Span<const Record> records, PresenceAnswer* answer);

  const HttpSinkOptions o_;
  const HttpCredentials credentials_;
  const SinkStatuses statuses_;
  std::unique_ptr<RateLimiter> limiter_;
  RequestPool pool_;
  const bool content_type_;  // add Content-Type: application/json
  absl::Mutex settled_mu_;
  // Per shard: the fates of records a failed Write() settled, by key.
  std::map<std::string, std::unordered_map<std::string, std::pair<SinkFate, std::string>>> settled_
      ABSL_GUARDED_BY(settled_mu_);
};

// What to say of an answer: the request, its status and the start of its body.
std::string Answer(const PoolClient& client, const HttpRequest& req, const HttpResponse& resp) {
  return StrCat(req.method, " ", client.redactor.Redact(req.url), " returned HTTP ", resp.status,
                "; body starts ", AnswerExcerpt(resp, client.redactor));
}

// A transient failure that waits for what the answer's Retry-After asks.
absl::Status Retryable(const std::string& message, const HttpResponse& resp) {
  absl::Status s = absl::UnavailableError(ToAbsl(message));
  if (const std::string* after = resp.Header("retry-after")) {
    if (std::optional<absl::Duration> wait = ParseRetryAfter(*after)) SetRetryAfter(s, *wait);
  }
  return s;
}

// The failure a status that is none of the routed ones means: a 3xx left
// unfollowed or a 5xx not retried fails the shard, resumable.
absl::Status Unroutable(const std::string& answer) {
  return absl::FailedPreconditionError(
      ToAbsl(StrCat("sink: ", answer,
                    " (neither retried, nor a refusal of the records: the shard stops, and a "
                    "re-run resumes it)")));
}

absl::Status Stopped(const std::string& answer) {
  return PausedError(
      StrCat("sink: ", answer,
             " (every record would be refused: check the sink's URL and credentials; the job stopped "
             "with its checkpoints intact and a re-run resumes it)"));
}

// A request that got no answer: as it is when it is worth asking again or
// pauses the job, else named as `what`'s.
absl::Status Unanswered(const absl::Status& s, std::string_view what) {
  return IsTransient(s) || IsPaused(s) ? s : absl::Status(s.code(), ToAbsl(StrCat(what, ": ", s.message())));
}

// A presence lookup answered with a status it does not expect (`what` names
// the request and answer): asked again, stopping the job, or failing the shard.
absl::Status LookupRefused(const SinkStatuses& statuses, const std::string& what, const HttpResponse& resp) {
  if (statuses.retry.count(resp.status) > 0) return Retryable(what, resp);
  if (statuses.stop.count(resp.status) > 0) return Stopped(what);
  return absl::FailedPreconditionError(ToAbsl(StrCat(what, " (not an answer the presence check expects)")));
}

absl::Status HttpSink::Write(const WriteRequest& request, WriteResult* result) {
  Delivery d{request, request.batch.records(), {}, {}, {}};
  d.fates.assign(d.records.size(), SinkFate::kPending);
  d.reasons.resize(d.records.size());
  TakeSettled(d);
  std::vector<RequestPool::Task> tasks;
  for (std::vector<size_t>& chunk : Chunks(d)) {
    tasks.push_back([this, &d, chunk = std::move(chunk)](PoolClient& client) { Send(client, d, chunk); });
  }
  pool_.RunAll(std::move(tasks));
  absl::Status failed = d.failures.Result();
  if (!failed.ok()) {
    KeepSettled(d);
    return failed;
  }
  for (size_t i = 0; i < d.fates.size(); ++i) {
    if (d.fates[i] == SinkFate::kPresent) result->already_present.push_back(i);
    if (d.fates[i] == SinkFate::kRejected) result->rejected.push_back({i, std::move(d.reasons[i])});
  }
  return absl::OkStatus();
}

std::vector<std::vector<size_t>> HttpSink::Chunks(const Delivery& d) const {
  std::vector<std::vector<size_t>> chunks;
  size_t bytes = 0;
  for (size_t i = 0; i < d.records.size(); ++i) {
    if (d.fates[i] != SinkFate::kPending) continue;
    const size_t size = d.records[i].payload.size() + d.records[i].key.size() + kEnvelopeBytes;
    if (chunks.empty() || !batched() || chunks.back().size() >= static_cast<size_t>(o_.max_batch_records) ||
        bytes + size > static_cast<size_t>(o_.max_batch_bytes)) {
      chunks.emplace_back();
      bytes = 0;
    }
    chunks.back().push_back(i);
    bytes += size;
  }
  return chunks;
}

HttpRequest HttpSink::RequestFor(const Delivery& d, const std::vector<size_t>& indexes) const {
  const Record& first = d.records[indexes[0]];
  HttpRequest req;
  req.method = o_.method;
  TemplateValues values = {{"job", UrlEncode(d.request.job)}, {"shard", UrlEncode(d.request.shard.id)}};
  if (!batched()) values["key"] = UrlEncode(first.key);
  req.url = RenderTemplate(o_.url, values);
  for (const auto& [name, value] : o_.headers) req.headers.push_back({name, value, false});
  if (content_type_) req.headers.push_back({"Content-Type", "application/json", false});
  if (!batched() && !o_.idempotency_header.empty())
    req.headers.push_back({o_.idempotency_header, std::string(first.key), false});
  const bool redelivered =
      std::any_of(indexes.begin(), indexes.end(), [&](size_t i) { return d.records[i].maybe_redelivered; });
  if (redelivered && !o_.redelivery_header.empty())
    req.headers.push_back({o_.redelivery_header, "true", false});
  req.body = SinkRequestBody(o_.body, o_.body_template, batched(), d.records, indexes,
                             {d.request.job, d.request.shard.id, d.request.run_id});
  return req;
}

void HttpSink::Send(PoolClient& client, Delivery& d, const std::vector<size_t>& indexes) {
  const HttpRequest req = RequestFor(d, indexes);
  HttpResponse resp;
  if (absl::Status s = pool_.Send(client, req, &resp); !s.ok()) {
    for (size_t i : indexes) d.fates[i] = SinkFate::kRetry;
    d.failures.Add(Unanswered(s, "sink"));
    return;
  }
  Route(client, d, indexes, req, resp);
}

void HttpSink::Route(PoolClient& client, Delivery& d, const std::vector<size_t>& indexes,
                     const HttpRequest& req, const HttpResponse& resp) {
  auto all = [&](SinkFate fate, const std::string& reason) {
    for (size_t i : indexes) {
      d.fates[i] = fate;
      d.reasons[i] = reason;
    }
  };
  const long status = resp.status;
  if (status >= 200 && status < 300) {
    if (o_.results.from.empty()) return all(SinkFate::kDelivered, "");
    absl::Status read =
        ReadItemResults(resp.body, o_.results, statuses_, d.records, indexes, &d.fates, &d.reasons);
    if (!read.ok()) {
      all(SinkFate::kRetry, "");
      return d.failures.Add(
          absl::UnavailableError(ToAbsl(StrCat("sink: ", Answer(client, req, resp), ": ", read.message()))));
    }
    for (size_t i : indexes) {
      if (d.fates[i] != SinkFate::kRetry) continue;
      const std::string why = d.reasons[i].empty() ? "its result named no record of it" : d.reasons[i];
      d.failures.Add(Retryable(StrCat("sink: ", Answer(client, req, resp), ": record ", d.records[i].key,
                                      " is to be sent again: ", why),
                               resp));
      break;
    }
    return;
  }
  if (statuses_.present.count(status) > 0) return all(SinkFate::kPresent, "");
  if (statuses_.retry.count(status) > 0) {
    all(SinkFate::kRetry, "");
    return d.failures.Add(Retryable(StrCat("sink: ", Answer(client, req, resp)), resp));
  }
  if (statuses_.stop.count(status) > 0) {
    all(SinkFate::kRetry, "");
    return d.failures.Add(Stopped(Answer(client, req, resp)));
  }
  // Too large, or refused: each half on its own, until a refused record
  // stands alone, so that one bad record does not cost its neighbours.
  if (status >= 400 && status < 500 && indexes.size() > 1) {
    const size_t half = indexes.size() / 2;
    Send(client, d, std::vector<size_t>(indexes.begin(), indexes.begin() + static_cast<ptrdiff_t>(half)));
    Send(client, d, std::vector<size_t>(indexes.begin() + static_cast<ptrdiff_t>(half), indexes.end()));
    return;
  }
  if (status >= 400 && status < 500)
    return all(SinkFate::kRejected, StrCat("sink: ", Answer(client, req, resp)));
  all(SinkFate::kRetry, "");
  d.failures.Add(Unroutable(Answer(client, req, resp)));
}

void HttpSink::TakeSettled(Delivery& d) {
  absl::MutexLock lock(&settled_mu_);
  auto it = settled_.find(d.request.shard.id);
  if (it == settled_.end()) return;
  for (size_t i = 0; i < d.records.size(); ++i) {
    auto found = it->second.find(std::string(d.records[i].key));
    if (found == it->second.end()) continue;
    d.fates[i] = found->second.first;
    d.reasons[i] = found->second.second;
  }
  settled_.erase(it);
}

void HttpSink::KeepSettled(const Delivery& d) {
  absl::MutexLock lock(&settled_mu_);
  auto& kept = settled_[d.request.shard.id];
  for (size_t i = 0; i < d.records.size(); ++i) {
    const SinkFate fate = d.fates[i];
    if (fate == SinkFate::kDelivered || fate == SinkFate::kPresent || fate == SinkFate::kRejected)
      kept[std::string(d.records[i].key)] = {fate, d.reasons[i]};
  }
}

absl::Status HttpSink::Check(const Shard& /*shard*/, absl::Span<const Record> records,
                             PresenceAnswer* answer) {
  answer->present.assign(records.size(), false);
  return o_.presence.present_from.empty() ? LookupEach(records, answer) : LookupBatch(records, answer);
}

absl::Status HttpSink::LookupEach(absl::Span<const Record> records, PresenceAnswer* answer) {
  const std::set<long> present = SetOf(o_.presence.present_statuses),
                       absent = SetOf(o_.presence.absent_statuses);
  Failures failures;
  std::vector<char> held(records.size(), 0);
  std::vector<RequestPool::Task> tasks;
  for (size_t i = 0; i < records.size(); ++i) {
    tasks.push_back([&, i](PoolClient& client) {
      HttpRequest req;
      req.method = o_.presence.method;
      req.url = RenderTemplate(o_.presence.url, {{"key", UrlEncode(records[i].key)}});
      HttpResponse resp;
      if (absl::Status s = pool_.Send(client, req, &resp); !s.ok())
        return failures.Add(Unanswered(s, "sink presence check"));
      if (present.count(resp.status) > 0) {
        held[i] = 1;
      } else if (absent.count(resp.status) == 0) {
        failures.Add(
            LookupRefused(statuses_, StrCat("sink presence check: ", Answer(client, req, resp)), resp));
      }
    });
  }
  pool_.RunAll(std::move(tasks));
  RECOVERY_RETURN_IF_ERROR(failures.Result());
  for (size_t i = 0; i < records.size(); ++i) answer->present[i] = held[i] != 0;
  return absl::OkStatus();
}

absl::Status HttpSink::LookupBatch(absl::Span<const Record> records, PresenceAnswer* answer) {
  std::unordered_map<std::string_view, std::vector<size_t>> by_key;
  for (size_t i = 0; i < records.size(); ++i) by_key[records[i].key].push_back(i);
  Failures failures;
  std::vector<std::string> held;
  absl::Mutex held_mu;
  std::vector<RequestPool::Task> tasks;
  for (size_t from = 0; from < records.size(); from += kLookupKeys) {
    tasks.push_back([&, from](PoolClient& client) {
      HttpRequest req;
      req.method = "POST";
      req.url = o_.presence.url;
      req.headers.push_back({"Content-Type", "application/json", false});
      req.body = "{\"keys\":[";
      for (size_t i = from; i < std::min(records.size(), from + kLookupKeys); ++i) {
        if (i > from) req.body.push_back(',');
        AppendJsonStringLossy(records[i].key, &req.body);
      }
      req.body += "]}";
      HttpResponse resp;
      if (absl::Status s = pool_.Send(client, req, &resp); !s.ok())
        return failures.Add(Unanswered(s, "sink presence check"));
      const std::string what = StrCat("sink presence check: ", Answer(client, req, resp));
      if (resp.status < 200 || resp.status >= 300) return failures.Add(LookupRefused(statuses_, what, resp));
      simdjson::dom::parser parser;
      simdjson::dom::array keys;
      if (parser.parse(resp.body).at_pointer(o_.presence.present_from).get_array().get(keys) !=
          simdjson::SUCCESS) {
        return failures.Add(
            absl::UnavailableError(ToAbsl(StrCat(what, ": no array of keys at ", o_.presence.present_from))));
      }
      absl::MutexLock lock(&held_mu);
      for (simdjson::dom::element k : keys) {
        std::string_view key;
        held.push_back(k.get_string().get(key) == simdjson::SUCCESS ? std::string(key) : simdjson::minify(k));
      }
    });
  }
  pool_.RunAll(std::move(tasks));
  RECOVERY_RETURN_IF_ERROR(failures.Result());
  for (const std::string& key : held) {
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      answer->unasked.push_back(key);
      continue;
    }
    for (size_t i : it->second) answer->present[i] = true;
  }
  return absl::OkStatus();
}

// The options as the sink uses them: the default body resolved.
HttpSinkOptions Resolved(HttpSinkOptions o) {
  if (o.body == HttpSinkBody::kDefault && o.max_batch_records > 1) o.body = HttpSinkBody::kEnvelope;
  return o;
}

HttpClientOptions ClientOf(const HttpSinkOptions& o) {
  HttpClientOptions c;
  c.timeout = o.timeout;
  c.connect_timeout = o.connect_timeout;
  c.max_response_bytes = static_cast<size_t>(o.max_response_bytes);
  c.max_redirects = o.max_redirects;
  c.verify_tls = o.verify_tls;
  c.ca_file = o.ca_file;
  return c;
}

}  // namespace

std::unique_ptr<Sink> BuildHttpSink(const HttpSinkOptions& options, std::string_view path,
                                    FieldErrors* errors) {
  const size_t before = errors->size();
  CheckHttpSinkOptions(options, path, errors);
  if (errors->size() != before) return nullptr;
  HttpCredentials credentials;
  Redactor redactor;
  std::vector<std::string> warnings;  // the sink has no way to say them yet
  const HttpClientOptions client = ClientOf(options);
  if (!ResolveHttpAuth(options.auth, client, path, errors, &credentials, &redactor, &warnings))
    return nullptr;
  return std::make_unique<HttpSink>(Resolved(options), std::move(credentials), std::move(redactor), client);
}

absl::StatusOr<std::unique_ptr<Sink>> NewHttpSink(const HttpSinkOptions& options) {
  FieldErrors errors;
  CheckHttpSinkOptions(options, "", &errors);
  RECOVERY_RETURN_IF_ERROR(errors.ToStatus("http sink"));
  std::unique_ptr<Sink> sink = BuildHttpSink(options, "", &errors);
  if (sink == nullptr) return absl::NotFoundError(errors.list().front());  // the secret
  return sink;
}

}  // namespace recovery
