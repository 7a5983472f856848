#include "report_html_parts.h"

#include <algorithm>
#include <cmath>
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

namespace {

// Records per minute across the runs, in at most kRateBuckets equal slices
// of [first, last): each stretch between two of a run's notes (its start,
// its minutely progress, its end) spreads its records evenly over its time.
constexpr int kRateBuckets = 240;

struct RateSeries {
  std::vector<double> records;  // per bucket
  double bucket_minutes = 0;
  uint64_t total = 0;  // every run's last word on its records
  double peak = 0;     // records per minute in the busiest bucket
};

RateSeries RatesOf(const std::vector<RunLogEntry>& runs, absl::Time first, absl::Time last) {
  RateSeries r;
  const double span = absl::ToDoubleSeconds(last - first);
  const int buckets = static_cast<int>(std::clamp(std::ceil(span / 60), 1.0, double{kRateBuckets}));
  r.records.assign(buckets, 0);
  r.bucket_minutes = span / 60 / buckets;
  auto spread = [&](absl::Time from, absl::Time to, double n) {
    const double a = absl::ToDoubleSeconds(from - first) / span * buckets;
    const double b = absl::ToDoubleSeconds(to - first) / span * buckets;
    if (b <= a) {  // no time between the notes: all in one bucket
      r.records[std::clamp(static_cast<int>(a), 0, buckets - 1)] += n;
      return;
    }
    for (int i = std::max(0, static_cast<int>(a)); i < buckets && i < b; ++i) {
      r.records[i] += n * (std::min<double>(b, i + 1) - std::max<double>(a, i)) / (b - a);
    }
  };
  for (const RunLogEntry& run : runs) {
    absl::Time at = run.started;
    uint64_t so_far = 0;
    std::vector<std::pair<absl::Time, uint64_t>> notes = run.progress;
    if (run.ended) notes.emplace_back(*run.ended, run.records);
    for (const auto& [t, n] : notes) {
      if (n < so_far || t < at) continue;  // out of order: a clock stepped back
      spread(at, t, static_cast<double>(n - so_far));
      at = t;
      so_far = n;
    }
    r.total += so_far;
  }
  for (double n : r.records) r.peak = std::max(r.peak, n / r.bucket_minutes);
  return r;
}

// An SVG of the records per minute, with each run's start marked, and the
// last note of each run that died.
void RateChart(const std::vector<RunLogEntry>& runs, absl::Time first, absl::Time last, std::string* out) {
  const RateSeries r = RatesOf(runs, first, last);
  const double span = absl::ToDoubleSeconds(last - first);
  const double width = 1000.0 / static_cast<double>(r.records.size());
  StrAppend(out,
            "<svg id=\"rate\" class=\"rate\" viewBox=\"0 0 1000 100\" preserveAspectRatio=\"none\" "
            "role=\"img\" data-records=\"",
            r.total, "\" data-peak=\"", absl::StrFormat("%.1f", r.peak),
            "\" aria-label=\"Records delivered per minute across the runs; at most ",
            absl::StrFormat("%.1f", r.peak), " a minute\">");
  for (size_t i = 0; i < r.records.size(); ++i) {
    const double rate = r.records[i] / r.bucket_minutes;
    if (rate <= 0) continue;
    const double h = r.peak > 0 ? 96 * rate / r.peak : 0;
    StrAppend(out, "<rect x=\"", absl::StrFormat("%.2f", width * static_cast<double>(i)), "\" y=\"",
              absl::StrFormat("%.2f", 100 - h), "\" width=\"", absl::StrFormat("%.2f", width), "\" height=\"",
              absl::StrFormat("%.2f", h), "\"><title>",
              FormatRfc3339(first + absl::Seconds(span * static_cast<double>(i) / r.records.size())), ": ",
              absl::StrFormat("%.1f", rate), " records a minute</title></rect>");
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLogEntry& run = runs[i];
    auto mark = [&](absl::Time t, std::string_view cls) {
      const double x = 1000 * absl::ToDoubleSeconds(t - first) / span;
      StrAppend(out, "<line class=\"", cls, "\" x1=\"", absl::StrFormat("%.2f", x), "\" x2=\"",
                absl::StrFormat("%.2f", x), "\" y1=\"0\" y2=\"100\" vector-effect=\"non-scaling-stroke\"/>");
    };
    mark(run.started, "start");
    if (!run.ended && i + 1 < runs.size())
      mark(run.progress.empty() ? run.started : run.progress.back().first, "died");
  }
  StrAppend(out, "</svg>");
}

}  // namespace

void RunsSection(const std::vector<RunLogEntry>& runs, std::string* out) {
  if (runs.empty()) return;
  const absl::Time first = runs.front().started;
  absl::Time last = first + absl::Seconds(1);
  // A run with no end reached at least its last note.
  auto end_of = [](const RunLogEntry& r) {
    return r.ended.value_or(r.progress.empty() ? r.started : r.progress.back().first);
  };
  for (const RunLogEntry& r : runs) last = std::max(last, end_of(r));
  const double span = absl::ToDoubleSeconds(last - first);
  size_t died = 0;
  std::string rows;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLogEntry& r = runs[i];
    const bool ended = r.ended.has_value(), later = i + 1 < runs.size();
    const std::string outcome = ended ? r.outcome : later ? "died" : "running, or died";
    died += !ended && later;
    const absl::Time end = end_of(r);
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
            ".</p>");
  RateChart(runs, first, last, out);
  StrAppend(out,
            "<p class=\"meta\">Records delivered per minute (green lines: a run started; red: the last word "
            "of a run that died).</p><table><thead><tr><th>Run</th><th>Started</th><th>Ended</th>"
            "<th class=\"n\">Records</th><th>Outcome</th><th>When</th></tr></thead><tbody>",
            rows, "</tbody></table></section>\n");
}

void OtherOutcomesTable(const std::map<int64_t, HourOutcomes>& other, uint64_t letters_without_hour,
                        std::string* out) {
  std::map<std::string, HourOutcomes> days;  // "YYYY-MM-DD" sorts as the days do
  for (const auto& [hour, o] : other) days[FormatRfc3339(absl::FromUnixSeconds(hour)).substr(0, 10)] += o;
  StrAppend(out, "<div id=\"other-outcomes\" data-days=\"", days.size(), "\" data-letters-without-hour=\"",
            letters_without_hour, "\">");
  if (!days.empty()) {
    StrAppend(out,
              "<table><caption>Records not delivered, per day of event time (UTC)</caption><thead><tr>"
              "<th scope=\"col\">Day</th><th scope=\"col\" class=\"n\">Already present</th>"
              "<th scope=\"col\" class=\"n\">Dead-lettered</th><th scope=\"col\" class=\"n\">Outside the "
              "window</th></tr></thead><tbody>");
    for (const auto& [day, o] : days) {
      StrAppend(out, "<tr data-day=\"", day, "\" data-present=\"", o.already_present, "\" data-dead=\"",
                o.dead_letters, "\" data-outside=\"", o.out_of_window, "\"><th scope=\"row\">", day,
                "</th><td class=\"n\">", Number(o.already_present), "</td><td class=\"n\">",
                Number(o.dead_letters), "</td><td class=\"n\">", Number(o.out_of_window), "</td></tr>");
    }
    StrAppend(out, "</tbody></table>");
  }
  if (letters_without_hour > 0) {
    StrAppend(out, "<p>", Number(letters_without_hour),
              " dead letters have no known event time (unreadable records, or counted before the "
              "checkpoints kept hours): they are in the totals and the shard table only.</p>");
  }
  StrAppend(out, "</div>");
}

}  // namespace recovery::page
