// Pages records out of a vendor's REST API. One reader per shard, each with
// its own connection; the rate limit is shared by all of a job's shards.
#include "http/http_source.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "http/adaptive_limiter.h"
#include "http/http_answer.h"
#include "http/http_client.h"
#include "http/http_config.h"
#include "http/paginator.h"
#include "http/paging_claims.h"
#include "http/rate_limiter.h"
#include "http/request_template.h"
#include "json/json_writer.h"
#include "recovery/secret.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/file.h"
#include "util/redact.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/task_thread.h"
#include "util/time_format.h"

namespace recovery {
namespace {

namespace od = simdjson::ondemand;

using Paging = HttpPaging;
using TimeFormat = HttpTimeFormat;
using Config = HttpConfig;

// HttpConfig (http/http_config.h) is what the readers use.

std::string RenderTime(absl::Time t, TimeFormat f) {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return "";
  switch (f) {
    case TimeFormat::kRfc3339:
      return FormatRfc3339(t);
    case TimeFormat::kEpochSeconds:
      return StrCat(absl::ToUnixSeconds(t));
    case TimeFormat::kEpochMillis:
      return StrCat(absl::ToUnixMillis(t));
  }
  return "";
}

std::optional<absl::Time> ParseTime(std::string_view text, TimeFormat f) {
  switch (f) {
    case TimeFormat::kRfc3339:
      return ParseRfc3339(text);
    case TimeFormat::kEpochSeconds:
      return ParseEpoch(text, EpochUnit::kSeconds);
    case TimeFormat::kEpochMillis:
      return ParseEpoch(text, EpochUnit::kMilliseconds);
  }
  return std::nullopt;
}

using Position = PagePosition;

class HttpSource;
class ParsedPage;

// One request and its answer; made on the reader's thread, or ahead of time on
// its prefetch thread.
struct Fetched {
  absl::Status status;
  HttpRequest request;
  HttpResponse response;
};

class HttpReader : public ShardReader {
 public:
  HttpReader(HttpSource* source, const Config& config, const Paginator& paginator, const Shard& shard,
             Position position, const ShardContext& context)
      : source_(source),
        config_(config),
        paginator_(paginator),
        shard_(shard),
        position_(std::move(position)),
        context_(context),
        client_(config.client),
        redactor_(config.redactor),
        authorizer_(config.credentials) {}
  ~HttpReader() override {
    if (prefetch_.valid()) {  // do not wait out a slow server: abort the request
      client_.Abort();
      prefetch_.wait();
    }
  }

  absl::Status Next(Page* page) override;

 private:
  friend absl::Status recovery::ParseHttpPageForTesting(
      Source&, const Shard&, std::string_view, const std::vector<std::pair<std::string, std::string>>&,
      Page*);
  // Rate limit, request, transport and HTTP status. Touches only the client,
  // the OAuth2 token's state and immutable state, so it may run on the
  // prefetch thread (never while the reader's thread uses redactor_).
  Fetched Fetch(const Position& position);
  // The credentials on the request; false (with f->status) when none can be
  // had (no OAuth2 token, a command that failed).
  bool Authorize(Fetched* f);
  HttpRequest BuildRequest(const Position& position) const;
  absl::Status ParsePage(const HttpRequest& request, HttpResponse& response, Page* page, Position* next);
  absl::Status ReadRecords(od::document& doc, const std::string& where, const HttpResponse& response,
                           Page* page, int64_t* count, std::string_view* last);
  absl::Status Unusable(const std::string& where, const HttpResponse& response, std::string_view why);
  // A cursor the server names again would loop forever.
  absl::Status CheckLoop(const std::string& where, const Position& next, bool exhausted);
  void ReadTotal(ParsedPage& facts, Page* page) const;
  void ReadSortedProgress(ParsedPage& facts, Page* page) const;
  std::string Excerpt(const HttpResponse& response) const { return AnswerExcerpt(response, redactor_); }

  HttpSource* source_;
  const Config& config_;
  const Paginator& paginator_;
  const Shard shard_;
  Position position_;
  const ShardContext& context_;
  HttpClient client_;
  // config_.redactor and, with OAuth2, every token seen so far.
  Redactor redactor_;
  RequestAuthorizer authorizer_;
  // The next page, requested on prefetcher_'s thread while the engine
  // commits the current one.
  std::future<Fetched> prefetch_;
  od::parser parser_;
  od::parser record_parser_;
  std::set<std::string> seen_tokens_;  // a cursor that comes back would loop forever
  // Runs the prefetches; last, so that it stops before what they use goes.
  TaskThread<Fetched> prefetcher_;
};

class HttpSource : public Source {
 public:
  explicit HttpSource(Config config)
      : config_(std::move(config)),
        paginator_(NewPaginator(config_.pagination, config_.page_size, config_.credentials.query_name,
                                &config_.redactor)),
        limiter_(config_.rate, config_.burst, config_.max_wait, absl::Now()),
        adaptive_(config_.adaptive_max_in_flight > 0
                      ? std::make_unique<AdaptiveLimiter>(config_.adaptive_max_in_flight)
                      : nullptr),
        claims_(NewHttpPagingClaims(config_)) {}

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    absl::StatusOr<Position> p = cursor.empty() ? paginator_->First() : paginator_->Decode(cursor);
    if (!p.ok()) {
      return absl::Status(p.status().code(),
                          StrCat("shard ", shard.id, ": cursor \"", config_.redactor.Redact(cursor), "\" ",
                                 p.status().message()));
    }
    return std::unique_ptr<ShardReader>(
        new HttpReader(this, config_, *paginator_, shard, *std::move(p), context));
  }

  std::vector<std::string> ConfigWarnings() const override { return config_.warnings; }
  bool cursors_may_expire() const override { return !config_.pagination.expired_statuses.empty(); }
  bool commit_needs_saved_checkpoint() const override { return false; }  // a reader commits nothing
  const PagingClaims* paging_claims() const override { return claims_.get(); }
  RateLimiter& limiter() { return limiter_; }
  AdaptiveLimiter* adaptive() { return adaptive_.get(); }
  std::atomic<uint64_t> invalid_json{0};

 private:
  const Config config_;
  const std::unique_ptr<Paginator> paginator_;  // borrows config_.redactor
  RateLimiter limiter_;
  const std::unique_ptr<AdaptiveLimiter> adaptive_;  // concurrency: {"max": N}
  const std::unique_ptr<PagingClaims> claims_;       // borrows config_
};

HttpRequest HttpReader::BuildRequest(const Position& position_) const {
  const std::map<std::string_view, std::string> values = {
      {"start", RenderTime(shard_.start, config_.time_format)},
      {"end", RenderTime(shard_.end, config_.time_format)},
      {"cursor", position_.token},
      {"page", StrCat(position_.page)},
      {"offset", StrCat(position_.offset)},
      {"limit", StrCat(config_.page_size)},
      {"after_time", position_.after_time},
      {"after_id", position_.after_id}};
  HttpRequest request;
  request.method = config_.method;
  request.url = paginator_.RequestUrl(position_);  // the server's own next URL, as given
  if (request.url.empty()) {
    request.url = RenderTemplate(config_.url, values);
    for (const auto& [name, value] : config_.query) {
      std::string rendered = RenderTemplate(value, values);
      if (!rendered.empty()) request.url = AddQueryParam(request.url, name, rendered);  // empty: omitted
    }
  }
  for (const HttpHeader& h : config_.headers)
    request.headers.push_back({h.name, RenderTemplate(h.value, values), h.credential});
  if (config_.body_is_json) {
    const bool epoch = config_.time_format != HttpTimeFormat::kRfc3339;
    static const std::set<std::string_view> kCounts = {"limit", "page", "offset"};
    static const std::set<std::string_view> kCountsAndTimes = {"limit", "page", "offset", "start", "end"};
    request.body = RenderJsonTemplate(config_.body, values, epoch ? kCountsAndTimes : kCounts);
  } else {
    request.body = RenderTemplate(config_.body, values);
  }
  return request;
}

// Reads the string or number at `pointer` as text.
bool TextAt(od::document& doc, const std::string& pointer, std::string* out) {
  od::value v;
  if (doc.at_pointer(pointer).get(v)) return false;
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    *out = std::string(s);
    return true;
  }
  if (type == od::json_type::number) {
    std::string_view token = v.raw_json_token();
    while (!token.empty() &&
           (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    *out = std::string(token);
    return true;
  }
  return false;
}

// A parsed page as its paginator sees it. The last record is parsed only
// when asked about, once.
class ParsedPage : public PageFacts {
 public:
  ParsedPage(od::document& doc, const HttpResponse& response, int64_t count, std::string_view last,
             od::parser& record_parser)
      : doc_(doc), response_(response), count_(count), last_(last), record_parser_(record_parser) {}

  int64_t count() const override { return count_; }
  bool BodyText(const std::string& pointer, std::string* out) override { return TextAt(doc_, pointer, out); }
  bool BodyBool(const std::string& pointer, bool* out) override {
    return doc_.at_pointer(pointer).get_bool().get(*out) == simdjson::SUCCESS;
  }
  bool LastRecordText(const std::string& pointer, std::string* out) override {
    if (last_.empty()) return false;
    if (!parsed_) {
      simdjson::padded_string_view view(last_.data(), last_.size(), last_.size() + kRawRecordPadding);
      record_ok_ = record_parser_.iterate(view).get(record_) == simdjson::SUCCESS;
      parsed_ = true;
    }
    return record_ok_ && TextAt(record_, pointer, out);
  }
  const std::string* Header(std::string_view name) const override { return response_.Header(name); }
  const std::string& url() const override { return response_.url; }

 private:
  od::document& doc_;
  const HttpResponse& response_;
  const int64_t count_;
  const std::string_view last_;
  od::parser& record_parser_;
  bool parsed_ = false, record_ok_ = false;
  od::document record_;
};

absl::Status HttpReader::ReadRecords(od::document& doc, const std::string& where,
                                     const HttpResponse& response, Page* page, int64_t* count,
                                     std::string_view* last) {
  auto invalid = [&](simdjson::error_code err) {
    return Unusable(where, response, simdjson::error_message(err));
  };
  od::array array;
  simdjson::error_code err;
  if (config_.records_pointer.empty()) {
    err = doc.get_array().get(array);
  } else {
    od::value v;
    err = doc.at_pointer(config_.records_pointer).get(v);
    if (err == simdjson::NO_SUCH_FIELD || err == simdjson::INVALID_JSON_POINTER ||
        err == simdjson::INDEX_OUT_OF_BOUNDS) {
      return absl::FailedPreconditionError(
          ToAbsl(StrCat(where, ": no records at source.records \"", config_.records_pointer,
                        "\"; body starts ", Excerpt(response))));
    }
    if (!err) err = v.get_array().get(array);
  }
  if (err == simdjson::INCORRECT_TYPE) {
    return absl::FailedPreconditionError(
        ToAbsl(StrCat(where, ": source.records \"", config_.records_pointer,
                      "\" is not an array; body starts ", Excerpt(response))));
  }
  if (err) return invalid(err);
  for (auto element : array) {
    od::value v;
    if (auto e = element.get(v)) return invalid(e);
    od::json_type type;
    if (auto e = v.type().get(type)) return invalid(e);
    std::string_view raw;
    if (type == od::json_type::object) {
      od::object o;
      if (auto e = v.get_object().get(o); e || (e = o.raw_json().get(raw))) return invalid(e);
    } else if (type == od::json_type::array) {
      od::array a;
      if (auto e = v.get_array().get(a); e || (e = a.raw_json().get(raw))) return invalid(e);
    } else {
      raw = v.raw_json_token();
    }
    ++*count;
    page->records.Add(raw);
    *last = page->records.records().back().data;
  }
  return absl::OkStatus();
}

absl::Status HttpReader::Unusable(const std::string& where, const HttpResponse& response,
                                  std::string_view why) {
  source_->invalid_json.fetch_add(1);
  return absl::UnavailableError(ToAbsl(StrCat(where, ": HTTP ", response.status, " with an unusable body (",
                                              why, "); body starts ", Excerpt(response))));
}

absl::Status HttpReader::CheckLoop(const std::string& where, const Position& next, bool exhausted) {
  if (exhausted || !paginator_.server_names_next()) return absl::OkStatus();
  if (next.token == position_.token || next.token.empty()) {
    return absl::DataLossError(ToAbsl(StrCat(
        where,
        ": the server returned the cursor it was asked for as the next one; following it would loop")));
  }
  const std::string key = paginator_.Encode(next);
  if (!seen_tokens_.insert(key).second) {
    return absl::DataLossError(ToAbsl(StrCat(where, ": the server returned cursor \"", redactor_.Redact(key),
                                             "\" a second time; following it would loop")));
  }
  return absl::OkStatus();
}

// The source's total, from the header or the body, when it reports one.
void HttpReader::ReadTotal(ParsedPage& facts, Page* page) const {
  if (config_.total_pointer.empty() && config_.total_header.empty()) return;
  std::string total;
  if (!config_.total_header.empty()) {
    if (const std::string* h = facts.Header(config_.total_header)) total = *h;
  } else {
    facts.BodyText(config_.total_pointer, &total);
  }
  int64_t n;
  if (absl::SimpleAtoi(total, &n)) page->reported_total = n;
}

// Sorted data (keyset, or sorted_by): the last record says how far the shard
// is covered, and one past its end ends it.
void HttpReader::ReadSortedProgress(ParsedPage& facts, Page* page) const {
  std::string t;
  if (config_.sorted_pointer.empty() || !facts.LastRecordText(config_.sorted_pointer, &t)) return;
  std::optional<absl::Time> when = ParseTime(t, config_.sorted_format);
  if (!when || IsOpenEnded(shard_)) return;
  if (*when >= shard_.end) page->exhausted = true;  // sorted: nothing after this belongs to the shard
  page->progress = std::clamp(absl::FDivDuration(*when - shard_.start, shard_.end - shard_.start), 0.0, 1.0);
}

absl::Status HttpReader::ParsePage(const HttpRequest& request, HttpResponse& response, Page* page,
                                   Position* next) {
  const std::string where = StrCat(request.method, " ", redactor_.Redact(request.url));
  od::document doc;
  simdjson::padded_string_view view(response.body.data(), response.body.size(), response.body.capacity());
  if (auto err = parser_.iterate(view).get(doc))
    return Unusable(where, response, simdjson::error_message(err));
  if (config_.pagination.type == HttpPaging::kGraphql)
    RECOVERY_RETURN_IF_ERROR(GraphqlErrors(response.body, where, response, redactor_));
  int64_t count = 0;
  std::string_view last;
  RECOVERY_RETURN_IF_ERROR(ReadRecords(doc, where, response, page, &count, &last));

  ParsedPage facts(doc, response, count, last, record_parser_);
  *next = position_;
  next->started = true;
  bool exhausted = false;
  if (absl::Status s = paginator_.Advance(position_, facts, next, &exhausted); !s.ok()) {
    return absl::Status(s.code(), StrCat(where, ": ", s.message()));
  }
  RECOVERY_RETURN_IF_ERROR(CheckLoop(where, *next, exhausted));
  page->exhausted = exhausted;
  ReadTotal(facts, page);
  ReadSortedProgress(facts, page);
  page->bytes = response.body.size();
  return absl::OkStatus();
}

Fetched HttpReader::Fetch(const Position& position) {
  Fetched f;
  f.status = source_->limiter().Acquire(context_);
  if (!f.status.ok()) return f;
  f.request = BuildRequest(position);
  if (!Authorize(&f)) return f;
  AdaptiveLimiter* adaptive = source_->adaptive();
  absl::Time started = absl::Now();
  if (adaptive != nullptr) {
    absl::StatusOr<absl::Time> start = adaptive->Start(context_);
    if (!start.ok()) {
      f.status = start.status();
      return f;
    }
    started = *start;
  }
  f.status = client_.Perform(f.request, &f.response, redactor_);
  const absl::Time answered = absl::Now();
  context_.ObserveRequest(answered - started, f.status.ok() ? static_cast<int>(f.response.status) : 0);
  if (f.status.ok()) {
    for (const auto& [name, value] : f.response.headers) {
      if (name.find("ratelimit") != std::string::npos || name == "retry-after" ||
          (!config_.reset_header.empty() && absl::EqualsIgnoreCase(name, config_.reset_header))) {
        context_.SeeQuotaHeader(name, value);
      }
    }
  }
  if (adaptive != nullptr) {
    adaptive->Finish(started, answered, ReadAdaptiveAnswer(f.status, f.response, answered - started));
    context_.SetGauge(kConcurrencyLimitGauge, adaptive->limit());
    context_.SetGauge(kRequestRateLimitGauge, adaptive->rate());
  }
  if (f.status.ok()) {
    f.status = authorizer_.Answered(f.request, f.response.status, redactor_);
    if (!f.status.ok()) return f;
  }
  if (f.status.ok()) f.status = ClassifyAnswer(config_, f.request, f.response, position, redactor_);
  return f;
}

bool HttpReader::Authorize(Fetched* f) {
  bool renewed = false;
  f->status = authorizer_.Apply(&f->request, &redactor_, &renewed);
  if (renewed) context_.CountEvent(kAuthRefreshEvent, 1);
  return f->status.ok();
}

absl::Status HttpReader::Next(Page* page) {
  Fetched f = prefetch_.valid() ? prefetch_.get() : Fetch(position_);
  if (!f.status.ok()) return f.status;  // the position did not move: the engine's retry asks again
  Position next;
  if (absl::Status s = ParsePage(f.request, f.response, page, &next); !s.ok()) {
    page->Clear();
    return s;
  }
  position_ = std::move(next);
  page->next_cursor = paginator_.Encode(position_);
  // Pipeline: fetch the following page while the engine maps and commits this one.
  if (!page->exhausted && !context_.Stopping()) {
    prefetch_ = prefetcher_.Run([this, position = position_] { return Fetch(position); });
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<Source> BuildHttpSource(const HttpSourceOptions& options, std::string_view path,
                                        FieldErrors* errors) {
  const size_t before = errors->size();
  CheckHttpSourceOptions(options, path, errors);
  std::optional<Config> config = ResolveHttpConfig(options, path, errors);  // reports a missing secret too
  if (!config || errors->size() != before) return nullptr;
  return std::make_unique<HttpSource>(*std::move(config));
}

absl::StatusOr<std::unique_ptr<Source>> NewHttpSource(const HttpSourceOptions& options) {
  FieldErrors errors;
  CheckHttpSourceOptions(options, "", &errors);
  RECOVERY_RETURN_IF_ERROR(errors.ToStatus("http source"));
  std::optional<Config> config = ResolveHttpConfig(options, "", &errors);
  if (!config) return absl::NotFoundError(errors.list().front());  // the secret
  return std::unique_ptr<Source>(new HttpSource(*std::move(config)));
}

absl::Status ParseHttpPageForTesting(Source& source, const Shard& shard, std::string_view body,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     Page* page) {
  auto* http = dynamic_cast<HttpSource*>(&source);
  if (http == nullptr) return absl::InvalidArgumentError("not an http source");
  class Idle : public ShardContext {
   public:
    bool Sleep(absl::Duration) const override { return true; }
    bool Stopping() const override { return false; }
  };
  static const Idle idle;
  absl::StatusOr<std::unique_ptr<ShardReader>> opened = http->Open(shard, "", idle);
  if (!opened.ok()) return opened.status();
  auto* reader = static_cast<HttpReader*>(opened->get());
  HttpRequest request = reader->BuildRequest(reader->position_);
  HttpResponse response;
  response.status = 200;
  response.url = request.url;
  response.headers = headers;
  response.body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  response.body.assign(body.data(), body.size());
  Position next;
  RECOVERY_RETURN_IF_ERROR(reader->ParsePage(request, response, page, &next));
  page->next_cursor = reader->paginator_.Encode(next);
  return absl::OkStatus();
}

}  // namespace recovery
