// Checking the HTTP sink's options.
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "http/http_auth.h"
#include "http/http_sink.h"
#include "simdjson.h"
#include "util/strings.h"

namespace recovery {
namespace {

bool IsHttpUrl(std::string_view url) { return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0; }

bool IsIdentifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Checks that every {placeholder} in `text` is one of `known`. Braces around
// anything but a name (a GraphQL selection set, "{ ok }") are the text's own.
void CheckPlaceholders(std::string_view text, const std::vector<std::string_view>& known,
                       const std::string& path, FieldErrors* errors) {
  size_t pos = 0;
  while ((pos = text.find('{', pos)) != std::string_view::npos) {
    const size_t close = text.find('}', pos);
    if (close == std::string_view::npos) return;
    const std::string_view name = text.substr(pos + 1, close - pos - 1);
    if (name.find('{') != std::string_view::npos) {  // an inner brace opens: look from there
      pos += 1;
      continue;
    }
    if (IsIdentifier(name) && std::find(known.begin(), known.end(), name) == known.end()) {
      errors->Add(path, StrCat("unknown placeholder {", name, "} (known here: {", Join(known, "}, {"), "})"));
    }
    pos = close + 1;
  }
}

void CheckStatuses(const std::vector<int>& codes, int low, const std::string& path, FieldErrors* errors) {
  for (int code : codes) {
    if (code < low || code > 599) {
      errors->Add(path, StrCat("expected HTTP statuses from ", low, " to 599, got ", code));
      return;
    }
  }
}

// No status may mean two things.
void CheckOverlaps(const HttpSinkOptions& o, std::string_view path, FieldErrors* errors) {
  const std::pair<const char*, const std::vector<int>*> lists[] = {{"present_statuses", &o.present_statuses},
                                                                   {"retry_statuses", &o.retry_statuses},
                                                                   {"stop_statuses", &o.stop_statuses}};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      for (int code : *lists[i].second) {
        if (std::count(lists[j].second->begin(), lists[j].second->end(), code) > 0) {
          errors->Add(JoinPath(path, lists[j].first),
                      StrCat(code, " is also in ", lists[i].first, ": an answer cannot mean both"));
        }
      }
    }
  }
}

void CheckBody(const HttpSinkOptions& o, bool batched, std::string_view path, FieldErrors* errors) {
  const std::string at = JoinPath(path, "body");
  if (o.body != HttpSinkBody::kTemplate) {
    if (!o.body_template.empty()) errors->Add(at, "a template is given but the body is not a template");
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (o.body_template.empty() || parser.parse(o.body_template).get(root) != simdjson::SUCCESS) {
    errors->Add(at, "a template must be a JSON object or array");
    return;
  }
  static const std::vector<std::string_view> kOne = {"record", "key",   "event_time", "redelivered",
                                                     "job",    "shard", "run_id",     "recovered_at"};
  static const std::vector<std::string_view> kBatch = {"records", "envelopes", "keys",        "job",
                                                       "shard",   "run_id",    "recovered_at"};
  // Only the placeholders inside strings count; braces elsewhere are JSON's own.
  std::string strings;
  std::function<void(simdjson::dom::element)> walk = [&](simdjson::dom::element e) {
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) strings.append(s).push_back(' ');
    simdjson::dom::object object;
    if (e.get_object().get(object) == simdjson::SUCCESS) {
      for (auto field : object) {
        strings.append(field.key).push_back(' ');
        walk(field.value);
      }
    }
    simdjson::dom::array array;
    if (e.get_array().get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element v : array) walk(v);
    }
  };
  walk(root);
  CheckPlaceholders(strings, batched ? kBatch : kOne, at, errors);
}

void CheckPresence(const HttpSinkPresence& p, std::string_view path, FieldErrors* errors) {
  if (p.url.empty()) return;
  const std::string at = JoinPath(path, "presence");
  if (!IsHttpUrl(p.url)) errors->Add(JoinPath(at, "url"), "must start with http:// or https://");
  CheckPointer(p.present_from, JoinPath(at, "present_from"), errors);
  if (p.present_from.empty()) {
    if (p.method != "GET" && p.method != "HEAD")
      errors->Add(JoinPath(at, "method"), "a lookup per record is GET or HEAD");
    if (p.url.find("{key}") == std::string::npos)
      errors->Add(JoinPath(at, "url"),
                  "a lookup per record needs {key} in the URL (or present_from, for a batch "
                  "lookup)");
    CheckPlaceholders(p.url, {"key"}, JoinPath(at, "url"), errors);
  } else {
    if (p.method != "POST") errors->Add(JoinPath(at, "method"), "a batch lookup (present_from) is a POST");
    CheckPlaceholders(p.url, {}, JoinPath(at, "url"), errors);
  }
  CheckStatuses(p.present_statuses, 100, JoinPath(at, "present_statuses"), errors);
  CheckStatuses(p.absent_statuses, 100, JoinPath(at, "absent_statuses"), errors);
}

void CheckLimits(const HttpSinkOptions& o, std::string_view path, FieldErrors* errors) {
  if (o.max_batch_records < 1 || o.max_batch_records > 10000)
    errors->Add(JoinPath(path, "batch.max_records"), "must be 1 to 10000");
  if (o.max_batch_bytes < 1024 || o.max_batch_bytes > (int64_t{256} << 20))
    errors->Add(JoinPath(path, "batch.max_bytes"), "must be 1024 to 268435456");
  if (o.timeout < absl::Milliseconds(1)) errors->Add(JoinPath(path, "timeout"), "must be at least 1ms");
  if (o.connect_timeout < absl::Milliseconds(1))
    errors->Add(JoinPath(path, "connect_timeout"), "must be at least 1ms");
  if (o.max_response_bytes < 1024 || o.max_response_bytes > (int64_t{1} << 32))
    errors->Add(JoinPath(path, "max_response_bytes"), "must be 1024 to 4294967296");
  if (o.max_redirects < 0 || o.max_redirects > 50)
    errors->Add(JoinPath(path, "max_redirects"), "must be 0 to 50");
  if (o.max_in_flight < 1 || o.max_in_flight > 256)
    errors->Add(JoinPath(path, "max_in_flight"), "must be 1 to 256");
  const HttpRateLimit& rl = o.rate_limit;
  if (rl.requests_per_second != 0 && (rl.requests_per_second < 0.001 || rl.requests_per_second > 1e6))
    errors->Add(JoinPath(path, "rate_limit.requests_per_second"), "must be 0.001 to 1000000");
  if (rl.burst != 0 && (rl.burst < 1 || rl.burst > 1e6))
    errors->Add(JoinPath(path, "rate_limit.burst"), "must be 1 to 1000000");
  if (rl.max_wait < absl::ZeroDuration())
    errors->Add(JoinPath(path, "rate_limit.max_wait"), "must not be negative");
}

}  // namespace

void CheckHttpSinkOptions(const HttpSinkOptions& o, std::string_view path, FieldErrors* errors) {
  if (o.method != "POST" && o.method != "PUT" && o.method != "PATCH")
    errors->Add(JoinPath(path, "method"), StrCat("expected POST, PUT or PATCH, got \"", o.method, "\""));
  const bool batched = o.max_batch_records > 1;
  if (o.url.empty()) {
    errors->Add(JoinPath(path, "url"), "required but missing");
  } else if (!IsHttpUrl(o.url)) {
    errors->Add(JoinPath(path, "url"), StrCat("must start with http:// or https://, got \"", o.url, "\""));
  }
  CheckPlaceholders(o.url,
                    batched ? std::vector<std::string_view>{"job", "shard"}
                            : std::vector<std::string_view>{"job", "shard", "key"},
                    JoinPath(path, "url"), errors);
  CheckBody(o, batched, path, errors);
  CheckStatuses(o.present_statuses, 300, JoinPath(path, "present_statuses"), errors);
  CheckStatuses(o.retry_statuses, 300, JoinPath(path, "retry_statuses"), errors);
  CheckStatuses(o.stop_statuses, 300, JoinPath(path, "stop_statuses"), errors);
  for (const auto& [key, codes] : {std::make_pair("present_statuses", &o.present_statuses),
                                   std::make_pair("retry_statuses", &o.retry_statuses),
                                   std::make_pair("stop_statuses", &o.stop_statuses)}) {
    if (std::count(codes->begin(), codes->end(), 413) > 0)
      errors->Add(JoinPath(path, key),
                  "413 splits the batch (a record alone is dead-lettered); it cannot mean more");
  }
  if (!o.rate_limit.reset_header.empty()) {
    errors->Add(JoinPath(path, "rate_limit.reset_header"),
                "is read by the source; the sink waits as the endpoint's Retry-After asks");
  }
  CheckOverlaps(o, path, errors);
  if (!o.results.from.empty()) {
    if (!batched)
      errors->Add(JoinPath(path, "results"), "per-item results need batches (batch.max_records > 1)");
    CheckPointer(o.results.from, JoinPath(path, "results.from"), errors);
    if (!o.results.by_position) CheckPointer(o.results.key_from, JoinPath(path, "results.key"), errors);
    CheckPointer(o.results.status_from, JoinPath(path, "results.status"), errors);
    CheckPointer(o.results.error_from, JoinPath(path, "results.error"), errors);
    if (!o.results.by_position && o.body == HttpSinkBody::kRecord)
      errors->Add(JoinPath(path, "results.match"),
                  "a body of bare records carries no keys: match results by \"position\"");
  }
  CheckPresence(o.presence, path, errors);
  CheckHttpAuth(o.auth, path, errors);
  CheckLimits(o, path, errors);
}

}  // namespace recovery
