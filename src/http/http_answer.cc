#include "http/http_answer.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/strings.h"

namespace recovery {
namespace {

// A reset header holds seconds to wait, or (if it looks like one) an epoch time.
std::optional<absl::Duration> ParseReset(const std::string& value) {
  double v;
  if (!absl::SimpleAtod(value, &v) || v < 0) return std::nullopt;
  if (v > 1e9)
    return std::max(absl::ZeroDuration(), absl::FromUnixSeconds(static_cast<int64_t>(v)) - absl::Now());
  return absl::Seconds(v);
}

// Whether `response`, to a request from `asked`, says the cursor expired.
bool CursorExpired(const HttpPagination& p, const PagePosition& asked, const HttpResponse& response) {
  if (p.expired_statuses.empty() || !asked.started || asked.token.empty()) return false;
  if (std::find(p.expired_statuses.begin(), p.expired_statuses.end(), response.status) ==
      p.expired_statuses.end()) {
    return false;
  }
  return p.expired_body.empty() ||
         absl::AsciiStrToLower(response.body).find(absl::AsciiStrToLower(p.expired_body)) !=
             std::string::npos;
}

std::optional<double> NumberHeader(const HttpResponse& response, std::string_view a, std::string_view b) {
  const std::string* h = response.Header(a);
  if (h == nullptr) h = response.Header(b);
  double v;
  if (h == nullptr || !absl::SimpleAtod(*h, &v) || v < 0) return std::nullopt;
  return v;
}

}  // namespace

AdaptiveAnswer ReadAdaptiveAnswer(const absl::Status& transport, const HttpResponse& response,
                                  absl::Duration latency) {
  AdaptiveAnswer a;
  a.status = transport.ok() ? static_cast<int>(response.status) : 0;
  a.latency = latency;
  if (!transport.ok()) return a;
  a.quota_remaining = NumberHeader(response, "ratelimit-remaining", "x-ratelimit-remaining");
  if (const std::string* h = response.Header("ratelimit-reset")) {
    a.quota_reset = ParseReset(*h);
  } else if (const std::string* x = response.Header("x-ratelimit-reset")) {
    a.quota_reset = ParseReset(*x);
  }
  return a;
}

std::string AnswerExcerpt(const HttpResponse& response, const Redactor& redactor) {
  std::string body = redactor.Redact(std::string_view(response.body).substr(0, 512));
  std::string out;
  AppendJsonStringLossy(body, &out);
  return out;
}

absl::Status ClassifyAnswer(const HttpConfig& config, const HttpRequest& request,
                            const HttpResponse& response, const PagePosition& asked,
                            const Redactor& redactor) {
  const long status = response.status;
  if (status >= 200 && status < 300) return absl::OkStatus();
  const std::string what = StrCat(request.method, " ", redactor.Redact(request.url), " returned HTTP ",
                                  status, "; body starts ", AnswerExcerpt(response, redactor));
  if (CursorExpired(config.pagination, asked, response)) {
    return CursorExpiredError(StrCat(what, "; source.pagination.expired says the cursor is no longer valid"));
  }
  if (config.retry_statuses.count(status)) {
    std::optional<absl::Duration> wait;
    if (const std::string* h = response.Header("retry-after")) wait = ParseRetryAfter(*h);
    if (!config.reset_header.empty()) {
      if (const std::string* h = response.Header(config.reset_header)) {
        std::optional<absl::Duration> reset = ParseReset(*h);
        if (reset && (!wait || *reset > *wait)) wait = reset;
      }
    }
    if (status == 429 && wait && *wait > config.max_wait) {
      return PausedError(StrCat(what, "; the quota resets in ", absl::FormatDuration(*wait),
                                ", over rate_limit.max_wait (", absl::FormatDuration(config.max_wait),
                                "); paused, run again later to resume"));
    }
    absl::Status s = absl::UnavailableError(ToAbsl(what));
    if (wait) SetRetryAfter(s, *wait);
    return s;
  }
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(ToAbsl(what));
    case 401:
      return absl::UnauthenticatedError(ToAbsl(StrCat(what, "; check source.auth")));
    case 403:
      return absl::PermissionDeniedError(ToAbsl(StrCat(what, "; check source.auth")));
    case 404:
      return absl::NotFoundError(ToAbsl(what));
    default:
      return absl::FailedPreconditionError(ToAbsl(what));
  }
}

absl::Status GraphqlErrors(std::string_view body, const std::string& where, const HttpResponse& response,
                           const Redactor& redactor) {
  // Read from a parse of its own: the page's On-Demand document must not be
  // walked before its records (an error met while skipping a malformed value
  // would leave it unusable). A body that is not JSON is reported by the
  // records' reading.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array errors;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
      root["errors"].get_array().get(errors) != simdjson::SUCCESS) {
    return absl::OkStatus();
  }
  std::vector<std::string> messages;
  bool throttled = false;
  for (simdjson::dom::element e : errors) {
    std::string_view message, code;
    if (e["message"].get_string().get(message) != simdjson::SUCCESS) message = "(no message)";
    if (e.at_pointer("/extensions/code").get_string().get(code) != simdjson::SUCCESS) code = {};
    messages.emplace_back(message.substr(0, 200));
    const std::string lower = absl::AsciiStrToLower(StrCat(code, " ", message));
    throttled |=
        lower.find("throttl") != std::string::npos || lower.find("rate_limit") != std::string::npos ||
        lower.find("rate limit") != std::string::npos || lower.find("too_many_requests") != std::string::npos;
  }
  if (messages.empty()) return absl::OkStatus();  // "errors": []
  const std::string what = StrCat(where, " answered GraphQL errors: ", redactor.Redact(Join(messages, "; ")));
  if (!throttled) return absl::FailedPreconditionError(ToAbsl(what));
  absl::Status s = absl::UnavailableError(ToAbsl(StrCat(what, " (throttled: retried)")));
  if (const std::string* h = response.Header("retry-after")) {
    if (std::optional<absl::Duration> wait = ParseRetryAfter(*h)) SetRetryAfter(s, *wait);
  }
  return s;
}

}  // namespace recovery
