#include "http/http_sink_bodies.h"

#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "http/request_template.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

namespace dom = simdjson::dom;

// `[a,b,…]` of what `each` appends for every record of `indexes`.
template <typename F>
std::string JsonArray(absl::Span<const Record> records, absl::Span<const size_t> indexes, F each) {
  std::string out = "[";
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (i > 0) out.push_back(',');
    each(records[indexes[i]], &out);
  }
  out.push_back(']');
  return out;
}

std::string Template(const std::string& body_template, bool batched, absl::Span<const Record> records,
                     absl::Span<const size_t> indexes, const SinkBodyContext& context) {
  TemplateValues values = {{"job", std::string(context.job)},
                           {"shard", std::string(context.shard)},
                           {"run_id", std::string(context.run_id)},
                           {"recovered_at", FormatRfc3339(absl::Now())}};
  static const std::set<std::string_view> kNone;
  if (!batched) {
    const Record& r = records[indexes[0]];
    values["record"] = std::string(r.payload);
    values["key"] = std::string(r.key);
    std::string time;
    if (r.event_time != kUnknownEventTime) AppendRfc3339(r.event_time, &time);
    values["event_time"] = time;
    values["redelivered"] = r.maybe_redelivered ? "true" : "false";
    static const std::set<std::string_view> kRaw = {"record", "redelivered"};
    return RenderJsonTemplate(body_template, values, kNone, kRaw);
  }
  values["records"] =
      JsonArray(records, indexes, [](const Record& r, std::string* out) { out->append(r.payload); });
  values["envelopes"] = JsonArray(records, indexes, AppendEnvelope);
  values["keys"] = JsonArray(records, indexes,
                             [](const Record& r, std::string* out) { AppendJsonStringLossy(r.key, out); });
  static const std::set<std::string_view> kRaw = {"records", "envelopes", "keys"};
  return RenderJsonTemplate(body_template, values, kNone, kRaw);
}

// A result's text for a dead letter: a string as it is, anything else as
// JSON; at most 300 bytes.
std::string ErrorText(dom::element e) {
  std::string_view s;
  std::string text = e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : simdjson::minify(e);
  if (text.size() > 300) text = StrCat(text.substr(0, 300), "…");
  return text;
}

// One result's fate, from its status (a number or a boolean).
SinkFate FateOf(dom::element result, const HttpSinkResults& options, const SinkStatuses& statuses,
                std::string* reason) {
  dom::element status;
  if (result.at_pointer(options.status_from).get(status) != simdjson::SUCCESS) {
    *reason = StrCat("the endpoint's result names no status at ", options.status_from);
    return SinkFate::kRejected;
  }
  std::string error;
  dom::element e;
  if (!options.error_from.empty() && result.at_pointer(options.error_from).get(e) == simdjson::SUCCESS)
    error = ErrorText(e);
  bool ok = false;
  int64_t code = 0;
  if (status.get_bool().get(ok) == simdjson::SUCCESS) {
    if (ok) return SinkFate::kDelivered;
    *reason = StrCat("the endpoint refused it: ", error.empty() ? "no error given" : error);
    return SinkFate::kRejected;
  }
  std::string_view text;
  if (status.get_string().get(text) == simdjson::SUCCESS && absl::SimpleAtoi(ToAbsl(text), &code)) {
    // a status written as a string ("200")
  } else if (status.get_int64().get(code) != simdjson::SUCCESS) {
    *reason = StrCat("the endpoint's result has a status that is neither a number nor a boolean: ",
                     ErrorText(status));
    return SinkFate::kRejected;
  }
  if (code >= 200 && code < 300) return SinkFate::kDelivered;
  if (statuses.present.count(code) > 0) return SinkFate::kPresent;
  if (statuses.retry.count(code) > 0) {
    *reason = StrCat("its result asked for it again with status ", code);
    return SinkFate::kRetry;
  }
  *reason = StrCat("the endpoint refused it with status ", code, error.empty() ? "" : ": ", error);
  return SinkFate::kRejected;
}

}  // namespace

void AppendEnvelope(const Record& record, std::string* out) {
  out->append("{\"key\":");
  AppendJsonStringLossy(record.key, out);
  out->append(",\"event_time\":");
  if (record.event_time == kUnknownEventTime) {
    out->append("null");
  } else {
    out->push_back('"');
    AppendRfc3339(record.event_time, out);
    out->push_back('"');
  }
  out->append(record.maybe_redelivered ? ",\"maybe_redelivered\":true,\"data\":"
                                       : ",\"maybe_redelivered\":false,\"data\":");
  out->append(record.payload);
  out->push_back('}');
}

std::string SinkRequestBody(HttpSinkBody body, const std::string& body_template, bool batched,
                            absl::Span<const Record> records, absl::Span<const size_t> indexes,
                            const SinkBodyContext& context) {
  switch (body) {
    case HttpSinkBody::kTemplate:
      return Template(body_template, batched, records, indexes, context);
    case HttpSinkBody::kRecord:
      if (!batched) return std::string(records[indexes[0]].payload);
      return JsonArray(records, indexes, [](const Record& r, std::string* out) { out->append(r.payload); });
    case HttpSinkBody::kEnvelope:
    case HttpSinkBody::kDefault:
      if (batched) return JsonArray(records, indexes, AppendEnvelope);
      if (body == HttpSinkBody::kDefault) return std::string(records[indexes[0]].payload);
      std::string out;
      AppendEnvelope(records[indexes[0]], &out);
      return out;
  }
  return "";
}

absl::Status ReadItemResults(std::string_view body, const HttpSinkResults& results,
                             const SinkStatuses& statuses, absl::Span<const Record> records,
                             absl::Span<const size_t> indexes, std::vector<SinkFate>* fates,
                             std::vector<std::string>* reasons) {
  dom::parser parser;
  dom::element root;
  dom::array items;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
      root.at_pointer(results.from).get_array().get(items) != simdjson::SUCCESS) {
    return absl::UnavailableError(ToAbsl(
        StrCat("the answer holds no array of results at ", results.from, ": the records are sent again")));
  }
  std::unordered_map<std::string_view, std::vector<size_t>> by_key;
  if (!results.by_position) {
    for (size_t i : indexes) by_key[records[i].key].push_back(i);
  }
  for (size_t i : indexes) (*fates)[i] = SinkFate::kRetry;  // until a result names it
  size_t position = 0;
  for (dom::element item : items) {
    const size_t at = position++;
    std::vector<size_t> named;
    if (results.by_position) {
      if (at < indexes.size()) named.push_back(indexes[at]);
    } else {
      std::string_view key;
      dom::element k;
      if (item.at_pointer(results.key_from).get(k) != simdjson::SUCCESS) continue;
      std::string number;
      if (k.get_string().get(key) != simdjson::SUCCESS) {
        number = simdjson::minify(k);  // a numeric key, as the mapper wrote it
        key = number;
      }
      auto it = by_key.find(key);
      if (it != by_key.end()) named = it->second;
    }
    std::string reason;
    const SinkFate fate = FateOf(item, results, statuses, &reason);
    for (size_t i : named) {
      (*fates)[i] = fate;
      (*reasons)[i] = reason;
    }
  }
  return absl::OkStatus();
}

}  // namespace recovery
