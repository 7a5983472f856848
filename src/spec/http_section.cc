#include "spec/http_section.h"

#include "spec/secret_section.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

const std::vector<std::string_view> kPagingNames = {"page", "offset",   "cursor", "cursor_header",
                                                    "link", "next_url", "keyset", "graphql"};
const std::vector<std::string_view> kTimeFormats = {"rfc3339", "epoch_s", "epoch_ms"};

HttpTimeFormat TimeFormatAt(SpecObject& o, std::string_view key) {
  return static_cast<HttpTimeFormat>(o.Enum(key, false, kTimeFormats).value_or(0));
}

void ReadPagination(SpecObject& p, HttpPagination* out) {
  out->type = static_cast<HttpPaging>(p.Enum("type", true, kPagingNames).value_or(0));
  switch (out->type) {
    case HttpPaging::kPage:
      out->first_page = p.Int("first", false, 0, 1).value_or(1);
      out->short_page_ends = p.Bool("short_page_ends").value_or(false);
      break;
    case HttpPaging::kOffset:
      out->short_page_ends = p.Bool("short_page_ends").value_or(false);
      break;
    case HttpPaging::kCursor:
    case HttpPaging::kNextUrl:
      out->cursor_from = p.String("from", true).value_or("");
      break;
    case HttpPaging::kCursorHeader:
      out->cursor_header = p.String("header", true).value_or("");
      break;
    case HttpPaging::kLink:
      break;
    case HttpPaging::kGraphql:
      out->cursor_from = p.String("cursor", true).value_or("");
      out->has_next_from = p.String("has_next", true).value_or("");
      break;
    case HttpPaging::kKeyset:
      out->keyset_time = p.String("time", true).value_or("");
      out->keyset_id = p.String("id", true).value_or("");
      out->keyset_time_format = TimeFormatAt(p, "time_format");
      break;
  }
  if (auto expired = p.Object("expired")) {
    if (auto list = expired->Array("statuses", true)) {
      for (simdjson::dom::element e : *list) {
        int64_t code;
        if (e.get_int64().get(code) || code < 100 || code > 599) {
          expired->errors()->Add(expired->PathOf("statuses"),
                                 StrCat("expected HTTP status codes, got ", DescribeJson(e)));
          break;
        }
        out->expired_statuses.push_back(static_cast<int>(code));
      }
    }
    out->expired_body = expired->String("body_contains").value_or("");
    expired->Finish();
  }
  p.Finish();
}

void ReadOAuth2(SpecObject& auth, const JobSpec& spec, HttpOAuth2* out) {
  out->token_url = auth.String("token_url", true).value_or("");
  out->grant = static_cast<HttpOAuth2Grant>(
      auth.Enum("grant", false, {"client_credentials", "refresh_token"}).value_or(0));
  out->client_id = auth.String("client_id").value_or("");
  out->client_secret = ReadSecretSpec(auth, "client_secret", spec.base_dir);
  out->client_secret_basic = auth.Enum("client_auth", false, {"body", "basic"}).value_or(0) == 1;
  out->scope = auth.String("scope").value_or("");
  out->audience = auth.String("audience").value_or("");
  if (auto file = auth.String("refresh_token_file"))
    out->refresh_token_file = ResolvePath(spec.base_dir, *file);
  out->refresh_margin =
      auth.Duration("refresh_margin", false, absl::ZeroDuration()).value_or(out->refresh_margin);
}

}  // namespace

void ReadHttpAuth(SpecObject& auth, const JobSpec& spec, HttpAuth* out) {
  const int type = auth.Enum("type", true, {"bearer", "header", "basic", "query", "oauth2"}).value_or(-1);
  switch (type) {
    case 0:
      out->type = HttpAuthType::kBearer;
      out->secret = ReadSecretSpec(auth, "token", spec.base_dir);
      break;
    case 1:
      out->type = HttpAuthType::kHeader;
      out->name = auth.String("name", true).value_or("");
      out->secret = ReadSecretSpec(auth, "value", spec.base_dir);
      break;
    case 2:
      out->type = HttpAuthType::kBasic;
      out->username = auth.String("username", true).value_or("");
      out->secret = ReadSecretSpec(auth, "password", spec.base_dir);
      break;
    case 3:
      out->type = HttpAuthType::kQuery;
      out->name = auth.String("name", true).value_or("");
      out->secret = ReadSecretSpec(auth, "value", spec.base_dir);
      break;
    case 4:
      out->type = HttpAuthType::kOAuth2;
      ReadOAuth2(auth, spec, &out->oauth2);
      break;
    default:
      break;
  }
  auth.Finish();
}

std::optional<std::vector<int>> ReadHttpStatuses(SpecObject& o, std::string_view key) {
  auto list = o.Array(key);
  if (!list) return std::nullopt;
  std::vector<int> codes;
  for (simdjson::dom::element e : *list) {
    int64_t code;
    if (e.get_int64().get(code) || code < 100 || code > 599) {
      o.errors()->Add(o.PathOf(key), StrCat("expected HTTP status codes, got ", DescribeJson(e)));
      break;
    }
    codes.push_back(static_cast<int>(code));
  }
  return codes;
}

HttpSourceOptions ReadHttpSource(SpecObject& o, const JobSpec& spec) {
  HttpSourceOptions c;
  if (spec.adaptive_concurrency) c.adaptive_max_in_flight = spec.concurrency;
  c.method = o.String("method").value_or("GET");
  c.url = o.String("url", true).value_or("");
  c.query = o.StringMap("query");
  c.headers = o.StringMap("headers");
  // A string is sent as it is (placeholders pasted in); an object or array is
  // JSON, its placeholders rendered as JSON values.
  if (auto body = o.Value("body")) {
    std::string_view text;
    if (body->get_string().get(text) == simdjson::SUCCESS) {
      c.body = std::string(text);
    } else if (body->is_object() || body->is_array()) {
      c.body = simdjson::minify(*body);
      c.body_is_json = true;
    } else {
      o.errors()->Add(o.PathOf("body"), "expected a string (sent as it is) or a JSON object (a JSON body)");
    }
  }
  c.time_format = TimeFormatAt(o, "time_format");
  c.records = o.String("records").value_or("");
  c.page_size = o.Int("page_size", false, 1, 100000).value_or(c.page_size);
  if (auto p = o.Object("pagination", true)) {
    ReadPagination(*p, &c.pagination);
    if (spec.follow && c.pagination.type != HttpPaging::kOffset && c.pagination.type != HttpPaging::kKeyset) {
      o.errors()->Add(p->PathOf("type"),
                      "window.follow polls from where the data ended, which needs offset or keyset "
                      "pagination");
    }
  }
  if (auto sorted = o.Object("sorted_by")) {
    c.sorted_by = sorted->String("from", true).value_or("");
    c.sorted_by_format = TimeFormatAt(*sorted, "format");
    sorted->Finish();
  }
  if (auto total = o.Object("total")) {
    c.total_header = total->String("header").value_or("");
    c.total_from = total->String("from").value_or("");
    if (c.total_header.empty() && c.total_from.empty()) {
      o.errors()->Add(total->path(), "needs exactly one of \"header\" or \"from\" (a JSON pointer)");
    }
    total->Finish();
  }
  if (auto auth = o.Object("auth")) ReadHttpAuth(*auth, spec, &c.auth);
  ReadHttpClient(o, spec, &c);
  if (auto codes = ReadHttpStatuses(o, "retry_statuses")) c.retry_statuses = *std::move(codes);
  CheckHttpSourceOptions(c, o.path(), o.errors());
  return c;
}

}  // namespace recovery
