#include "report_html_parts.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_format.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery::page {

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Number(uint64_t n) {  // 1234567 -> 1,234,567
  std::string digits = StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Reconciled ReadReconciled(const std::string& json) {
  Reconciled r;
  r.kept = !json.empty();
  simdjson::dom::parser parser;
  simdjson::dom::element root, rec;
  simdjson::dom::array buckets;
  std::string_view saved;
  if (!r.kept || parser.parse(json).get(root) != simdjson::SUCCESS ||
      root["saved_at"].get_string().get(saved) != simdjson::SUCCESS ||
      root["reconcile"].get(rec) != simdjson::SUCCESS ||
      rec["bucket_seconds"].get_int64().get(r.bucket_seconds) != simdjson::SUCCESS ||
      rec["vendor"].get_uint64().get(r.vendor) != simdjson::SUCCESS ||
      rec["destination"].get_uint64().get(r.destination) != simdjson::SUCCESS ||
      rec["buckets"].get_array().get(buckets) != simdjson::SUCCESS) {
    return r;
  }
  r.saved_at = std::string(saved);
  for (simdjson::dom::element b : buckets) {
    ++r.buckets;
    ShortBucket sb;
    std::string_view start, end, status;
    if (b["start"].get_string().get(start) != simdjson::SUCCESS ||
        b["end"].get_string().get(end) != simdjson::SUCCESS ||
        b["status"].get_string().get(status) != simdjson::SUCCESS ||
        b["vendor"].get_uint64().get(sb.vendor) != simdjson::SUCCESS ||
        b["destination"].get_uint64().get(sb.destination) != simdjson::SUCCESS) {
      return r;
    }
    if (status != "SHORT" && status != "MISSING") continue;
    const std::optional<absl::Time> from = ParseRfc3339(start), to = ParseRfc3339(end);
    if (!from || !to) return r;
    sb.start = std::string(start), sb.end = std::string(end), sb.status = std::string(status);
    sb.from = absl::ToUnixSeconds(*from), sb.to = absl::ToUnixSeconds(*to);
    r.short_buckets.push_back(std::move(sb));
  }
  r.read = true;
  return r;
}

// The last reconcile: when, the totals, and the buckets it found short.
void ReconcileSection(const Reconciled& r, std::string* out) {
  if (!r.kept) return;
  if (!r.read) {
    StrAppend(out,
              "<section id=\"reconcile\"><h2>Reconcile</h2><p>The saved reconcile result could not be "
              "read; run <code>recovery reconcile</code> again.</p></section>\n");
    return;
  }
  constexpr size_t kMaxRows = 200;
  StrAppend(out, "<section id=\"reconcile\" data-short-buckets=\"", r.short_buckets.size(),
            "\" data-buckets=\"", r.buckets, "\"><h2>Reconcile</h2><p>At ", Html(r.saved_at),
            ", in buckets of ", r.bucket_seconds, " s, the vendor counted ", Number(r.vendor),
            " records and the destination held ", Number(r.destination), ": ",
            r.short_buckets.empty() ? std::string("no bucket short.")
                                    : StrCat(r.short_buckets.size(), " of ", r.buckets, " buckets short."),
            "</p>");
  if (!r.short_buckets.empty()) {
    StrAppend(out,
              "<table><thead><tr><th>From</th><th>To</th><th class=\"n\">Vendor</th>"
              "<th class=\"n\">Destination</th><th>Status</th></tr></thead><tbody>");
    for (size_t i = 0; i < r.short_buckets.size() && i < kMaxRows; ++i) {
      const ShortBucket& b = r.short_buckets[i];
      StrAppend(out, "<tr data-short-from=\"", Html(b.start), "\"><td>", Html(b.start), "</td><td>",
                Html(b.end), "</td><td class=\"n\">", Number(b.vendor), "</td><td class=\"n\">",
                Number(b.destination), "</td><td>", Html(b.status), "</td></tr>");
    }
    StrAppend(out, "</tbody></table>");
    if (r.short_buckets.size() > kMaxRows) {
      StrAppend(out, "<p>And ", r.short_buckets.size() - kMaxRows,
                " more: <code>recovery reconcile --json</code> lists them all.</p>");
    }
  }
  StrAppend(out, "</section>\n");
}

void RunsSection(const std::vector<RunLogEntry>& runs, std::string* out) {
  if (runs.empty()) return;
  const absl::Time first = runs.front().started;
  absl::Time last = first + absl::Seconds(1);
  for (const RunLogEntry& r : runs) last = std::max(last, r.ended.value_or(r.started));
  const double span = absl::ToDoubleSeconds(last - first);
  size_t died = 0;
  std::string rows;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLogEntry& r = runs[i];
    const bool ended = r.ended.has_value(), later = i + 1 < runs.size();
    const std::string outcome = ended ? r.outcome : later ? "died" : "running, or died";
    died += !ended && later;
    const absl::Time end = r.ended.value_or(r.started);
    const double left = 100 * absl::ToDoubleSeconds(r.started - first) / span;
    const double width = std::max(0.5, 100 * absl::ToDoubleSeconds(end - r.started) / span);
    StrAppend(&rows, "<tr data-run=\"", Html(r.run_id), "\" data-outcome=\"", Html(outcome),
              "\" data-records=\"", r.records, "\"><td><code>", Html(r.run_id), "</code></td><td>",
              FormatRfc3339(r.started), "</td><td>", ended ? FormatRfc3339(end) : std::string("–"),
              "</td><td class=\"n\">", ended ? Number(r.records) : std::string("–"), "</td><td>",
              Html(outcome), "</td><td class=\"bar\"><span class=\"run ", ended ? "ended" : "died",
              "\" style=\"margin-left:", absl::StrFormat("%.2f", left),
              "%;width:", absl::StrFormat("%.2f", width), "%\"></span></td></tr>");
  }
  StrAppend(out, "<section id=\"runs\" data-runs=\"", runs.size(), "\" data-died=\"", died,
            "\"><h2>Runs</h2><p>", runs.size(), " runs on this host from ", FormatRfc3339(first), " to ",
            FormatRfc3339(last),
            died > 0 ? StrCat("; ", died,
                              " died before their end (a crash or a kill), "
                              "and the next resumed from the checkpoints")
                     : std::string(),
            ".</p><table><thead><tr><th>Run</th><th>Started</th><th>Ended</th><th class=\"n\">Records</th>"
            "<th>Outcome</th><th>When</th></tr></thead><tbody>",
            rows, "</tbody></table></section>\n");
}

}  // namespace recovery::page
