// Checking the HTTP source's options, and resolving them into the config its
// readers use.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "http/http_config.h"
#include "http/http_source.h"
#include "util/strings.h"

namespace recovery {
namespace {

using Paging = HttpPaging;

const std::vector<std::string_view> kPlaceholders = {"start",  "end",   "cursor",     "page",
                                                     "offset", "limit", "after_time", "after_id"};

// Checks that every {placeholder} in `text` is known.
void CheckTemplate(std::string_view text, const std::string& path, FieldErrors* errors) {
  size_t pos = 0;
  while ((pos = text.find('{', pos)) != std::string_view::npos) {
    const size_t close = text.find('}', pos);
    if (close == std::string_view::npos) return;
    std::string_view name = text.substr(pos + 1, close - pos - 1);
    if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) == kPlaceholders.end()) {
      errors->Add(path,
                  StrCat("unknown placeholder {", name, "} (known: {", Join(kPlaceholders, "}, {"), "})"));
    }
    pos = close + 1;
  }
}

void CheckPagination(const HttpPagination& p, std::string_view path, FieldErrors* errors) {
  const std::string at = JoinPath(path, "pagination");
  switch (p.type) {
    case Paging::kPage:
      if (p.first_page < 0 || p.first_page > 1) errors->Add(JoinPath(at, "first"), "must be 0 or 1");
      break;
    case Paging::kCursor:
    case Paging::kNextUrl:
      CheckRequired(p.cursor_from, JoinPath(at, "from"), errors);
      CheckPointer(p.cursor_from, JoinPath(at, "from"), errors);
      break;
    case Paging::kCursorHeader:
      CheckRequired(p.cursor_header, JoinPath(at, "header"), errors);
      break;
    case Paging::kKeyset:
      CheckRequired(p.keyset_time, JoinPath(at, "time"), errors);
      CheckRequired(p.keyset_id, JoinPath(at, "id"), errors);
      CheckPointer(p.keyset_time, JoinPath(at, "time"), errors);
      CheckPointer(p.keyset_id, JoinPath(at, "id"), errors);
      break;
    case Paging::kGraphql:
      CheckRequired(p.cursor_from, JoinPath(at, "cursor"), errors);
      CheckRequired(p.has_next_from, JoinPath(at, "has_next"), errors);
      CheckPointer(p.cursor_from, JoinPath(at, "cursor"), errors);
      CheckPointer(p.has_next_from, JoinPath(at, "has_next"), errors);
      break;
    case Paging::kOffset:
    case Paging::kLink:
      break;
  }
  if (p.expired_statuses.empty()) {
    if (!p.expired_body.empty())
      errors->Add(JoinPath(at, "expired.statuses"), "is required with expired.body_contains");
    return;
  }
  if (p.type == Paging::kPage || p.type == Paging::kOffset || p.type == Paging::kKeyset) {
    errors->Add(JoinPath(at, "expired"),
                "applies to cursors the server names (cursor, cursor_header, next_url, link, graphql); "
                "a page number, an offset or a keyset does not expire");
  }
  for (int code : p.expired_statuses) {
    if (code < 400 || code > 599) {
      errors->Add(JoinPath(at, "expired.statuses"),
                  StrCat("expected error statuses (400 to 599), got ", code));
      break;
    }
  }
}

void CheckLimits(const HttpSourceOptions& o, std::string_view path, FieldErrors* errors) {
  if (o.page_size < 1 || o.page_size > 100000)
    errors->Add(JoinPath(path, "page_size"), "must be 1 to 100000");
  if (o.timeout < absl::Milliseconds(1)) errors->Add(JoinPath(path, "timeout"), "must be at least 1ms");
  if (o.connect_timeout < absl::Milliseconds(1)) {
    errors->Add(JoinPath(path, "connect_timeout"), "must be at least 1ms");
  }
  if (o.max_response_bytes < 1024 || o.max_response_bytes > (int64_t{1} << 32)) {
    errors->Add(JoinPath(path, "max_response_bytes"), "must be 1024 to 4294967296");
  }
  if (o.max_redirects < 0 || o.max_redirects > 50)
    errors->Add(JoinPath(path, "max_redirects"), "must be 0 to 50");
  for (int code : o.retry_statuses) {
    if (code < 100 || code > 599) {
      errors->Add(JoinPath(path, "retry_statuses"), StrCat("expected HTTP status codes, got ", code));
      break;
    }
  }
  const HttpRateLimit& rl = o.rate_limit;
  if (rl.requests_per_second != 0 && (rl.requests_per_second < 0.001 || rl.requests_per_second > 1e6)) {
    errors->Add(JoinPath(path, "rate_limit.requests_per_second"), "must be 0.001 to 1000000");
  }
  if (rl.burst != 0 && (rl.burst < 1 || rl.burst > 1e6)) {
    errors->Add(JoinPath(path, "rate_limit.burst"), "must be 1 to 1000000");
  }
  if (rl.max_wait < absl::ZeroDuration())
    errors->Add(JoinPath(path, "rate_limit.max_wait"), "must not be negative");
  if (o.adaptive_max_in_flight < 0 || o.adaptive_max_in_flight > 1024)
    errors->Add(JoinPath(path, "adaptive_max_in_flight"), "must be 0 (off) to 1024");
}

}  // namespace

void CheckHttpSourceOptions(const HttpSourceOptions& o, std::string_view path, FieldErrors* errors) {
  if (o.method != "GET" && o.method != "POST" && o.method != "PUT" && o.method != "PATCH") {
    errors->Add(JoinPath(path, "method"), StrCat("expected GET, POST, PUT or PATCH, got \"", o.method, "\""));
  }
  CheckRequired(o.url, JoinPath(path, "url"), errors);
  CheckTemplate(o.url, JoinPath(path, "url"), errors);
  if (!o.url.empty() && o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0) {
    errors->Add(JoinPath(path, "url"), StrCat("must start with http:// or https://, got \"", o.url, "\""));
  }
  for (const auto& [name, value] : o.query)
    CheckTemplate(value, JoinPath(path, StrCat("query.", name)), errors);
  for (const auto& [name, value] : o.headers) {
    CheckTemplate(value, JoinPath(path, StrCat("headers.", name)), errors);
  }
  if (!o.body_is_json) CheckTemplate(o.body, JoinPath(path, "body"), errors);  // JSON: braces of a query too
  CheckPointer(o.records, JoinPath(path, "records"), errors);
  CheckPagination(o.pagination, path, errors);
  for (int code : o.pagination.expired_statuses) {
    if (std::find(o.retry_statuses.begin(), o.retry_statuses.end(), code) != o.retry_statuses.end()) {
      errors->Add(JoinPath(path, "pagination.expired.statuses"),
                  StrCat(code,
                         " is also in retry_statuses: an answer cannot mean both \"retry\" and "
                         "\"the cursor expired\""));
      break;
    }
  }
  if (!o.sorted_by.empty() && o.pagination.type == Paging::kKeyset) {
    errors->Add(JoinPath(path, "sorted_by"), "keyset pagination is sorted by its own time");
  }
  CheckPointer(o.sorted_by, JoinPath(path, "sorted_by.from"), errors);
  if (!o.total_header.empty() && !o.total_from.empty()) {
    errors->Add(JoinPath(path, "total"), "needs exactly one of \"header\" or \"from\" (a JSON pointer)");
  }
  CheckPointer(o.total_from, JoinPath(path, "total.from"), errors);
  CheckHttpAuth(o.auth, path, errors);
  CheckLimits(o, path, errors);
}
std::optional<HttpConfig> ResolveHttpConfig(const HttpSourceOptions& o, std::string_view path,
                                            FieldErrors* errors) {
  HttpConfig c;
  c.method = o.method;
  c.url = o.url;
  c.query = o.query;
  for (const auto& [name, value] : o.headers) c.headers.push_back({name, value, false});
  c.body = o.body;
  c.body_is_json = o.body_is_json;
  if (o.body_is_json && std::none_of(c.headers.begin(), c.headers.end(), [](const HttpHeader& h) {
        return absl::AsciiStrToLower(h.name) == "content-type";
      })) {
    c.headers.push_back({"Content-Type", "application/json", false});
  }
  c.time_format = o.time_format;
  c.records_pointer = o.records;
  c.page_size = o.page_size;
  c.pagination = o.pagination;
  // Keyset data is sorted by its own time: it says how far the shard is covered.
  const bool keyset = o.pagination.type == Paging::kKeyset;
  c.sorted_pointer = keyset ? o.pagination.keyset_time : o.sorted_by;
  c.sorted_format = keyset ? o.pagination.keyset_time_format : o.sorted_by_format;
  c.total_header = o.total_header;
  c.total_pointer = o.total_from;
  c.retry_statuses = std::set<long>(o.retry_statuses.begin(), o.retry_statuses.end());
  c.client.timeout = o.timeout;
  c.client.connect_timeout = o.connect_timeout;
  c.client.max_response_bytes = static_cast<size_t>(o.max_response_bytes);
  c.client.max_redirects = o.max_redirects;
  c.client.verify_tls = o.verify_tls;
  c.client.ca_file = o.ca_file;
  c.rate = o.rate_limit.requests_per_second;
  c.burst = o.rate_limit.burst > 0 ? o.rate_limit.burst : std::max(1.0, c.rate);
  c.max_wait = o.rate_limit.max_wait;
  c.reset_header = o.rate_limit.reset_header;
  c.adaptive_max_in_flight = o.adaptive_max_in_flight;
  if (!o.verify_tls) {
    c.warnings.push_back(StrCat(JoinPath(path, "tls.verify"),
                                " is false: TLS certificates are not checked, so anyone on "
                                "the path can read the credentials and forge the data"));
  }
  if (!ResolveHttpAuth(o.auth, c.client, path, errors, &c.credentials, &c.redactor, &c.warnings))
    return std::nullopt;
  return c;
}

}  // namespace recovery
