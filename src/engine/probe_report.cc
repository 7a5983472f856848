// The probe's report as JSON (for machines, the C ABI and Python) and as
// text (for a terminal). Both show the same checks in the same order.
#include <string>

#include "absl/strings/str_format.h"
#include "json/json_writer.h"
#include "recovery/probe.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

void AppendStrings(const std::vector<std::string>& items, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonStringLossy(items[i], out);
  }
  out->push_back(']');
}

std::string CheckJson(const ProbeCheck& c) {
  std::string out, evidence;
  AppendStrings(c.evidence, &evidence);
  JsonObjectWriter w(&out);
  w.Str("id", c.id).Str("title", c.title).Str("verdict", VerdictName(c.verdict)).Str("finding", c.finding);
  w.Raw("evidence", evidence);
  if (!c.fix.empty()) w.Str("fix", c.fix);
  w.Close();
  return out;
}

std::string SampleJson(const ProbeSample& s) {
  std::string out;
  JsonObjectWriter w(&out);
  w.Str("shard", s.shard)
      .Str("role", s.role)
      .Time("start", s.start)
      .Time("end", s.end)
      .Int("pages", s.pages)
      .Int("requests", s.requests)
      .Uint("records", s.records)
      .Uint("in_window", s.in_window)
      .Uint("outside", s.outside)
      .Uint("rejected", s.rejected)
      .Bool("exhausted", s.exhausted)
      .Str("stopped", s.stopped);
  if (s.reported_total >= 0) w.Int("reported_total", s.reported_total);
  w.Close();
  return out;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kWarn:
      return "warn";
    case Verdict::kBroken:
      return "broken";
    case Verdict::kNotChecked:
      return "not checked";
  }
  return "not checked";
}

std::string ProbeReportJson(const ProbeReport& r) {
  std::string checks = "[", samples = "[", quota, notes;
  for (size_t i = 0; i < r.checks.size(); ++i) StrAppend(&checks, i > 0 ? "," : "", CheckJson(r.checks[i]));
  checks += "]";
  for (size_t i = 0; i < r.samples.size(); ++i)
    StrAppend(&samples, i > 0 ? "," : "", SampleJson(r.samples[i]));
  samples += "]";
  AppendStrings(r.quota_headers, &quota);
  AppendStrings(r.notes, &notes);
  std::string pace;
  JsonObjectWriter p(&pace);
  if (r.latency_p50_ms >= 0) {
    p.Double("latency_p50_ms", r.latency_p50_ms)
        .Double("latency_p90_ms", r.latency_p90_ms)
        .Double("latency_p99_ms", r.latency_p99_ms);
  }
  p.Raw("quota_headers", quota);
  if (r.estimated_records >= 0) {
    p.Int("estimated_records", r.estimated_records)
        .Int("estimated_requests", r.estimated_requests)
        .Bool("estimate_is_minimum", r.estimate_is_minimum);
  }
  if (r.estimated_seconds >= 0) p.Double("estimated_seconds", r.estimated_seconds);
  p.Close();
  std::string out;
  JsonObjectWriter w(&out);
  w.Str("job", r.job)
      .Str("verdict", VerdictName(r.worst()))
      .Int("exit_code", r.exit_code())
      .Int("requests", r.requests)
      .Int("max_requests", r.max_requests)
      .Bool("cut_short", r.cut_short)
      .Raw("checks", checks)
      .Raw("samples", samples)
      .Raw("pace", pace)
      .Raw("notes", notes);
  w.Close();
  return out;
}

std::string ProbeReportText(const ProbeReport& r) {
  std::string out = StrCat("probe of job ", r.job, ": ", r.requests, " requests of ", r.max_requests, ", ",
                           r.samples.size(), " ranges read\n\n");
  for (const ProbeCheck& c : r.checks) {
    StrAppend(&out, absl::StrFormat("%-12s", VerdictName(c.verdict)), c.title, "\n");
    if (!c.finding.empty()) StrAppend(&out, "            ", c.finding, "\n");
    for (const std::string& e : c.evidence) StrAppend(&out, "            - ", e, "\n");
    if (!c.fix.empty()) StrAppend(&out, "            fix: ", c.fix, "\n");
  }
  if (!r.samples.empty()) {
    StrAppend(&out, "\n",
              absl::StrFormat("%-44s %-10s %5s %8s %8s %7s  %s\n", "range", "role", "pages", "records",
                              "inside", "outside", "stopped"));
    for (const ProbeSample& s : r.samples) {
      StrAppend(&out, absl::StrFormat("%-44s %-10s %5d %8d %8d %7d  %s\n", s.shard, s.role, s.pages,
                                      s.records, s.in_window, s.outside, s.stopped));
    }
  }
  for (const std::string& n : r.notes) StrAppend(&out, "\nnote: ", n, "\n");
  StrAppend(&out, "\nverdict: ", VerdictName(r.worst()), "\n");
  return out;
}

}  // namespace recovery
