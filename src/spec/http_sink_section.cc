#include "spec/http_sink_section.h"

#include "http/http_sink.h"
#include "spec/http_section.h"
#include "util/strings.h"

namespace recovery {
namespace {

void ReadBody(SpecObject& o, HttpSinkOptions* c) {
  auto body = o.Value("body");
  if (!body) return;
  std::string_view name;
  if (body->get_string().get(name) == simdjson::SUCCESS) {
    if (name == "record") {
      c->body = HttpSinkBody::kRecord;
    } else if (name == "envelope") {
      c->body = HttpSinkBody::kEnvelope;
    } else {
      o.errors()->Add(o.PathOf("body"),
                      StrCat("expected \"record\", \"envelope\" or a JSON template, got \"", name, "\""));
    }
  } else if (body->is_object() || body->is_array()) {
    c->body = HttpSinkBody::kTemplate;
    c->body_template = simdjson::minify(*body);
  } else {
    o.errors()->Add(o.PathOf("body"),
                    "expected \"record\", \"envelope\" or a JSON template (an object or array)");
  }
}

void ReadResults(SpecObject& r, HttpSinkResults* out) {
  out->from = r.String("from", true).value_or("");
  out->by_position = r.Enum("match", false, {"key", "position"}).value_or(0) == 1;
  out->key_from = r.String("key").value_or(out->key_from);
  out->status_from = r.String("status").value_or(out->status_from);
  out->error_from = r.String("error").value_or(out->error_from);
  r.Finish();
}

void ReadPresence(SpecObject& p, HttpSinkPresence* out) {
  out->url = p.String("url", true).value_or("");
  out->present_from = p.String("present_from").value_or("");
  out->method = p.String("method").value_or(out->present_from.empty() ? "GET" : "POST");
  if (auto codes = ReadHttpStatuses(p, "present_statuses")) out->present_statuses = *std::move(codes);
  if (auto codes = ReadHttpStatuses(p, "absent_statuses")) out->absent_statuses = *std::move(codes);
  p.Finish();
}

}  // namespace

HttpSinkOptions ReadHttpSink(SpecObject& o, const JobSpec& spec) {
  HttpSinkOptions c;
  c.method = o.String("method").value_or(c.method);
  c.url = o.String("url", true).value_or("");
  c.headers = o.StringMap("headers");
  ReadBody(o, &c);
  if (auto batch = o.Object("batch")) {
    c.max_batch_records = batch->Int("max_records", false, 1, 10000).value_or(100);
    c.max_batch_bytes = batch->Int("max_bytes", false, 1024, int64_t{256} << 20).value_or(c.max_batch_bytes);
    batch->Finish();
  }
  c.idempotency_header = o.String("idempotency_header").value_or(c.idempotency_header);
  c.redelivery_header = o.String("redelivery_header").value_or(c.redelivery_header);
  if (auto codes = ReadHttpStatuses(o, "present_statuses")) c.present_statuses = *std::move(codes);
  if (auto codes = ReadHttpStatuses(o, "retry_statuses")) c.retry_statuses = *std::move(codes);
  if (auto codes = ReadHttpStatuses(o, "stop_statuses")) c.stop_statuses = *std::move(codes);
  if (auto results = o.Object("results")) ReadResults(*results, &c.results);
  if (auto presence = o.Object("presence")) ReadPresence(*presence, &c.presence);
  if (auto auth = o.Object("auth")) ReadHttpAuth(*auth, spec, &c.auth);
  ReadHttpClient(o, spec, &c);
  c.max_in_flight = static_cast<int>(o.Int("max_in_flight", false, 1, 256).value_or(c.max_in_flight));
  if (spec.skip_already_present && c.presence.url.empty()) {
    o.errors()->Add("skip_already_present",
                    "the http sink answers it through its presence endpoint: set sink.presence.url");
  }
  CheckHttpSinkOptions(c, o.path(), o.errors());
  return c;
}

}  // namespace recovery
