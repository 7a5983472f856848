// The operator's report, drawn: one HTML page with its style inline and no
// script, so that it opens from a mail attachment or a ticket, shows the
// same everywhere and prints. A Content-Security-Policy forbids every
// request, so that a page edited later cannot quietly load anything either.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "json/json_writer.h"
#include "recovery/report.h"
#include "recovery/version.h"
#include "report_html_parts.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using page::Html;
using page::Number;
using page::OtherOutcomesTable;
using page::ReadReconciled;
using page::Reconciled;
using page::ReconcileSection;
using page::RunsSection;
using page::ShortBucket;

constexpr int64_t kHour = 3600, kDay = 86400;
constexpr int64_t kMaxHeatmapDays = 62;  // past that, one cell per shard

std::string Day(int64_t unix) { return FormatRfc3339(absl::FromUnixSeconds(unix)).substr(0, 10); }
std::string HourOf(int64_t unix) { return FormatRfc3339(absl::FromUnixSeconds(unix)).substr(11, 5); }

constexpr char kStyle[] = R"css(
:root{--ok:#1a7f37;--bad:#b42318;--wait:#9a9a9a;--ink:#1f2328;--line:#d0d7de;--l1:#c6e6cf;--l2:#7fc794;--l3:#3a9e5c;--l4:#1a6b37}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:24px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta{color:#57606a;margin:0}
.verdict{padding:10px 14px;border-radius:6px;border:1px solid var(--line)}
.verdict.complete{background:#e9f6ec;border-color:var(--ok)}.verdict.incomplete{background:#fdeceb;border-color:var(--bad)}
.totals{display:flex;flex-wrap:wrap;gap:10px;margin:0}.totals div{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:130px}
.totals dt{color:#57606a;font-size:12px}.totals dd{margin:0;font-size:20px;font-variant-numeric:tabular-nums}
.heatmap{display:grid;gap:2px;align-items:center;font-size:11px;margin:8px 0}
.cell{display:block;height:16px;border-radius:2px;border:1px solid transparent;box-sizing:border-box}
.cell.outside{background:transparent;border-color:#eee}.cell.none{background:#f6f8fa;border-color:var(--line)}
.cell.pending{background:repeating-linear-gradient(45deg,#e3e3e3 0 3px,#fff 3px 6px);border-color:var(--wait)}
.cell.failed{background:var(--bad)}
.cell.l1{background:var(--l1)}.cell.l2{background:var(--l2)}.cell.l3{background:var(--l3)}.cell.l4{background:var(--l4)}
.cell.pending.l1,.cell.pending.l2,.cell.pending.l3,.cell.pending.l4{background:repeating-linear-gradient(45deg,var(--l3) 0 3px,#fff 3px 6px);border-color:var(--l3)}
.cell.letters{border:2px solid var(--bad)}
.cell.short{outline:2px dashed #8250df;outline-offset:-1px}
.cell.present{box-shadow:inset 0 -5px 0 #0969da}
svg.rate{display:block;width:100%;height:110px;background:#f6f8fa;border:1px solid var(--line);margin:8px 0}
svg.rate rect{fill:var(--l3)}svg.rate line.start{stroke:var(--ok);stroke-width:1.5}svg.rate line.died{stroke:var(--bad);stroke-width:2}
td.bar{width:30%;min-width:120px}.run{display:block;height:10px;border-radius:2px}.run.ended{background:var(--l3)}.run.died{background:var(--bad)}
td.t{white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:14px;align-items:center;font-size:12px;margin:6px 0}
.legend .cell{display:inline-block;width:16px;vertical-align:middle;margin-right:4px}
.shardgrid{display:flex;flex-wrap:wrap;gap:2px}.shardgrid .cell{width:16px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600;padding:4px 0}
.hours td{text-align:right;min-width:2.2em}
code,.example{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}.example{word-break:break-all}
.state-done{color:var(--ok)}.state-failed{color:var(--bad)}.state-pending,.state-running{color:#57606a}
footer{margin-top:32px;color:#57606a;font-size:12px}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,.heatmap{break-inside:avoid}.cell{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
)css";

// The numbers the page is about, summed once.
struct Sums {
  JobSummary summary;
  // Per hour of event time, every shard: the records the destination has
  // thanks to the job (delivered or found already present), and the other
  // outcomes.
  std::map<int64_t, uint64_t> hours;
  std::map<int64_t, HourOutcomes> other;
  uint64_t busiest = 0;  // the most records in one hour
  Reconciled reconciled;
};

HourOutcomes OtherIn(const Sums& t, int64_t hour) {
  const auto it = t.other.find(hour);
  return it == t.other.end() ? HourOutcomes{} : it->second;
}

// Whether [hour, hour + 1h) overlaps a bucket the last reconcile found short.
bool HourIsShort(const Sums& t, int64_t hour) {
  for (const ShortBucket& b : t.reconciled.short_buckets) {
    if (b.from < hour + kHour && b.to > hour) return true;
  }
  return false;
}

Sums Sum(const ReportData& d) {
  Sums t;
  t.reconciled = ReadReconciled(d.reconcile_json);
  t.summary = Summarize(d.shards);
  for (const ShardReport& r : d.shards) {
    for (const auto& [hour, n] : r.checkpoint.coverage) t.hours[hour] += n;
    for (const auto& [hour, o] : r.checkpoint.hour_outcomes) t.other[hour] += o;
  }
  for (const auto& [hour, n] : t.hours) t.busiest = std::max(t.busiest, n);
  return t;
}

void VerdictSection(const ReportData& d, const Sums& t, std::string* out) {
  const JobSummary& s = t.summary;
  std::vector<std::string> open;
  if (s.plan_shards_not_done > 0)
    open.push_back(StrCat(s.plan_shards_not_done, " of the plan's shards are not done"));
  if (s.replays_not_done > 0)
    open.push_back(StrCat(s.replays_not_done, " replays of the dead letters are not done"));
  if (s.dead_letters > 0) open.push_back(StrCat(Number(s.dead_letters), " dead letters are not settled"));
  for (const ShardReport& r : d.shards) {
    if (r.state == ShardState::kFailed)
      open.push_back(StrCat("shard ", r.shard.id, " failed: ", r.checkpoint.last_error));
  }
  const bool closed = ReportComplete(d);
  StrAppend(out, "<section id=\"verdict\" class=\"verdict ", closed ? "complete" : "incomplete",
            "\" data-complete=\"", closed ? "true" : "false", "\"><h2>Verdict</h2><p><strong>");
  if (closed) {
    StrAppend(out, "Complete: every shard of the window is done and no dead letter is left.</strong></p>");
  } else {
    StrAppend(out, "Not complete.</strong> What is left:</p><ul>");
    for (const std::string& o : open) StrAppend(out, "<li>", Html(o), "</li>");
    StrAppend(out, "</ul>");
  }
  // The destination's own count can disagree with the job's (the live feed
  // writes there too): said beside the verdict, not folded into it.
  if (t.reconciled.read && !t.reconciled.short_buckets.empty()) {
    StrAppend(out, "<p>The last reconcile (", Html(t.reconciled.saved_at), ") found ",
              t.reconciled.short_buckets.size(),
              " buckets where the destination holds fewer records than the "
              "vendor: see <a href=\"#reconcile\">Reconcile</a>.</p>");
  }
  StrAppend(out, "</section>\n");
}

void TotalsSection(const Sums& t, std::string* out) {
  const JobSummary& s = t.summary;
  const std::pair<const char*, uint64_t> items[] = {
      {"records_delivered", s.records_delivered},
      {"records_already_present", s.plan.records_already_present},
      {"dead_letters", s.dead_letters},
      {"dead_letters_settled", s.dead_letters_settled},
      {"records_out_of_window", s.plan.records_out_of_window},
      {"pages", s.plan.pages + s.replayed.pages},
      {"shards_done", s.shards_done},
      {"shards", s.shards},
  };
  const std::map<std::string_view, const char*> label = {{"records_delivered", "Delivered"},
                                                         {"records_already_present", "Already present"},
                                                         {"dead_letters", "Dead letters left"},
                                                         {"dead_letters_settled", "Dead letters settled"},
                                                         {"records_out_of_window", "Out of window"},
                                                         {"pages", "Pages"},
                                                         {"shards_done", "Shards done"},
                                                         {"shards", "Shards"}};
  StrAppend(out, "<section id=\"totals\"><h2>Totals</h2><dl class=\"totals\">");
  for (const auto& [key, n] : items) {
    StrAppend(out, "<div data-total=\"", key, "\" data-value=\"", n, "\"><dt>", label.at(key), "</dt><dd>",
              Number(n), "</dd></div>");
  }
  StrAppend(out, "</dl></section>\n");
}

// Follow mode has no end: the page draws the window up to when it was made.
absl::Time DrawnEnd(const ReportData& d) {
  if (d.end != absl::InfiniteFuture()) return d.end;
  return std::max(d.made, d.start + absl::Hours(1));
}

// The state of the shards covering [hour, hour + 1h): the worst of them.
std::string_view HourState(const ReportData& d, int64_t hour) {
  bool covered = false, pending = false, failed = false;
  const absl::Time from = absl::FromUnixSeconds(hour), to = from + absl::Hours(1);
  for (const ShardReport& r : d.shards) {
    if (r.shard.start >= to || r.shard.end <= from) continue;
    covered = true;
    failed |= r.state == ShardState::kFailed;
    pending |= r.state != ShardState::kDone;
  }
  return !covered ? "outside" : failed ? "failed" : pending ? "pending" : "done";
}

// Shards that hold dead letters not yet settled.
std::set<std::string> ShardsWithLetters(const ReportData& d) {
  std::set<std::string> out;
  for (const LetterGroup& g : d.letters) out.insert(g.shards.begin(), g.shards.end());
  return out;
}

// Whether the hour holds dead letters not yet settled: those of a shard
// that has some, in the hours their event times fell in; every hour of the
// shard when none of its letters has a known hour (a record that is not
// JSON, say, or state written before the hours were kept).
bool HourHasLetters(const ReportData& d, const std::set<std::string>& with_letters, int64_t hour) {
  const absl::Time from = absl::FromUnixSeconds(hour), to = from + absl::Hours(1);
  for (const ShardReport& r : d.shards) {
    if (r.shard.start >= to || r.shard.end <= from || with_letters.count(r.shard.id) == 0) continue;
    const auto& hours = r.checkpoint.hour_outcomes;
    const bool dated =
        std::any_of(hours.begin(), hours.end(), [](const auto& h) { return h.second.dead_letters > 0; });
    const auto it = hours.find(hour);
    if (!dated || (it != hours.end() && it->second.dead_letters > 0)) return true;
  }
  return false;
}

std::string Level(uint64_t n, uint64_t busiest) {  // l1..l4, quarters of the busiest hour
  if (busiest == 0) return "l1";
  return StrCat("l", std::min<uint64_t>(4, 1 + (4 * (n - 1)) / busiest));
}

void Legend(std::string* out) {
  StrAppend(
      out,
      "<div class=\"legend\" aria-hidden=\"true\">"
      "<span><span class=\"cell l1\"></span><span class=\"cell l2\"></span><span class=\"cell l3\"></span>"
      "<span class=\"cell l4\"></span> records recovered: delivered, or found already in the destination "
      "(darker: more)</span>"
      "<span><span class=\"cell l2 present\"></span> some were already in the destination</span>"
      "<span><span class=\"cell none\"></span> done, nothing delivered</span>"
      "<span><span class=\"cell pending l3\"></span> delivered so far, not done</span>"
      "<span><span class=\"cell pending\"></span> not yet done</span>"
      "<span><span class=\"cell failed\"></span> failed</span>"
      "<span><span class=\"cell l2 letters\"></span> has dead letters (in its shard, when their time is "
      "unknown)</span>"
      "<span><span class=\"cell l2 short\"></span> short per the last reconcile</span>"
      "<span><span class=\"cell outside\"></span> outside the window</span></div>");
}

// The window as days × hours; the same numbers in a table below.
void Heatmap(const ReportData& d, const Sums& t, int64_t first_day, int64_t days, std::string* out) {
  const std::set<std::string> with_letters = ShardsWithLetters(d);
  const int64_t start = absl::ToUnixSeconds(d.start), end = absl::ToUnixSeconds(DrawnEnd(d));
  std::string grid, table;
  StrAppend(&grid,
            "<div class=\"heatmap\" style=\"grid-template-columns:7em repeat(24,1fr)\" role=\"img\" "
            "aria-label=\"Records delivered per hour; the table below has the numbers\"><span></span>");
  for (int h = 0; h < 24; ++h) StrAppend(&grid, "<span>", h % 3 == 0 ? StrCat(h) : "", "</span>");
  StrAppend(&table,
            "<table class=\"hours\" id=\"hours\"><caption>Records delivered per hour of event time (UTC)"
            "</caption><thead><tr><th scope=\"col\">Day</th>");
  for (int h = 0; h < 24; ++h) StrAppend(&table, "<th scope=\"col\">", h, "</th>");
  StrAppend(&table, "<th scope=\"col\">Total</th></tr></thead><tbody>");
  for (int64_t day = first_day; day < first_day + days * kDay; day += kDay) {
    StrAppend(&grid, "<span>", Day(day), "</span>");
    StrAppend(&table, "<tr><th scope=\"row\">", Day(day), "</th>");
    uint64_t day_total = 0;
    for (int64_t hour = day; hour < day + kDay; hour += kHour) {
      const bool inside = hour + kHour > start && hour < end;
      const auto it = t.hours.find(hour);
      const uint64_t recovered = it == t.hours.end() ? 0 : it->second;
      const HourOutcomes other = OtherIn(t, hour);
      const uint64_t n = recovered - std::min(recovered, other.already_present);  // delivered
      day_total += n;
      std::string_view state = inside ? HourState(d, hour) : "outside";
      std::string cls(state);
      if (state == "done") cls = recovered > 0 ? Level(recovered, t.busiest) : "none";
      if (state == "pending" && recovered > 0) cls = "pending " + Level(recovered, t.busiest);
      if (inside && other.already_present > 0) cls += " present";
      const bool letters = inside && HourHasLetters(d, with_letters, hour);
      if (letters) cls += " letters";
      const bool short_hour = inside && HourIsShort(t, hour);
      if (short_hour) cls += " short";
      StrAppend(
          &grid, "<span class=\"cell ", cls, "\" data-hour=\"", hour, "\" data-records=\"", n,
          "\" data-present=\"", other.already_present, "\" data-dead=\"", other.dead_letters, "\" title=\"",
          Day(hour), " ", HourOf(hour), " UTC: ", Number(n), " delivered",
          other.already_present > 0 ? StrCat(", ", Number(other.already_present), " already present") : "",
          other.dead_letters > 0 ? StrCat(", ", Number(other.dead_letters), " dead-lettered") : "",
          state == "pending"  ? ", not done yet"
          : state == "failed" ? ", failed"
                              : "",
          letters && other.dead_letters == 0 ? ", dead letters in its shard" : "",
          short_hour ? ", short per the last reconcile" : "", "\"></span>");
      StrAppend(&table, "<td>", inside ? Number(n) : "", "</td>");
    }
    StrAppend(&table, "<td class=\"n\">", Number(day_total), "</td></tr>");
  }
  StrAppend(&grid, "</div>");
  StrAppend(&table, "</tbody></table>");
  StrAppend(out, grid, table);
}

// Windows too long for days × hours: one cell per shard.
void ShardGrid(const ReportData& d, std::string* out) {
  const std::set<std::string> with_letters = ShardsWithLetters(d);
  StrAppend(out,
            "<div class=\"shardgrid\" role=\"img\" aria-label=\"One cell per shard; the shard table has "
            "the numbers\">");
  for (const ShardReport& r : d.shards) {
    const uint64_t n = r.checkpoint.counters.records_delivered;
    std::string cls = r.state == ShardState::kDone     ? (n > 0 ? "l3" : "none")
                      : r.state == ShardState::kFailed ? "failed"
                                                       : "pending";
    if (with_letters.count(r.shard.id) > 0) cls += " letters";
    StrAppend(out, "<span class=\"cell ", cls, "\" data-records=\"", n, "\" title=\"", Html(r.shard.id), ": ",
              Number(n), " delivered, ", ShardStateName(r.state), "\"></span>");
  }
  StrAppend(out, "</div>");
}

void WindowSection(const ReportData& d, const Sums& t, std::string* out) {
  StrAppend(out, "<section id=\"window\"><h2>The window, hour by hour</h2>");
  Legend(out);
  const int64_t start = absl::ToUnixSeconds(d.start), end = absl::ToUnixSeconds(DrawnEnd(d));
  const int64_t first_day = start - ((start % kDay) + kDay) % kDay;
  const int64_t days = (end - first_day + kDay - 1) / kDay;
  if (days >= 1 && days <= kMaxHeatmapDays) {
    Heatmap(d, t, first_day, days, out);
  } else {
    StrAppend(out, "<p>The window spans ", days, " days: one cell per shard.</p>");
    ShardGrid(d, out);
  }
  uint64_t dated_letters = 0;
  for (const auto& [hour, o] : t.other) dated_letters += o.dead_letters;
  const uint64_t letters = t.summary.plan.dead_letters + t.summary.replayed.dead_letters;
  OtherOutcomesTable(t.other, letters - std::min(letters, dated_letters), out);
  StrAppend(out, "</section>\n");
}

void ShardTable(const ReportData& d, std::string* out) {
  StrAppend(out,
            "<section id=\"shards\"><h2>Shards</h2><table><thead><tr><th>Shard</th><th>Start</th><th>End</th>"
            "<th>State</th><th class=\"n\">Delivered</th><th class=\"n\">Already present</th>"
            "<th class=\"n\">Dead letters</th><th class=\"n\">Out of window</th><th class=\"n\">Pages</th>"
            "<th>Last error or warning</th></tr></thead><tbody>");
  for (const ShardReport& r : d.shards) {
    const ShardCounters& c = r.checkpoint.counters;
    const std::string state(ShardStateName(r.state));
    StrAppend(out, "<tr data-shard=\"", Html(r.shard.id), "\" data-state=\"", state,
              "\" data-records-delivered=\"", c.records_delivered, "\"><td class=\"t\"><code>",
              Html(r.shard.id), "</code></td><td class=\"t\">", FormatRfc3339(r.shard.start),
              "</td><td class=\"t\">", IsOpenEnded(r.shard) ? "(follow)" : FormatRfc3339(r.shard.end),
              "</td><td class=\"state-", state, "\">", state, "</td><td class=\"n\">",
              Number(c.records_delivered), "</td><td class=\"n\">", Number(c.records_already_present),
              "</td><td class=\"n\">", Number(c.dead_letters), "</td><td class=\"n\">",
              Number(c.records_out_of_window), "</td><td class=\"n\">", Number(c.pages), "</td><td>",
              Html(!r.checkpoint.last_error.empty() ? r.checkpoint.last_error : r.checkpoint.warning),
              "</td></tr>");
  }
  StrAppend(out, "</tbody></table></section>\n");
}

// The shards operators edited by hand (`recovery state set`, `state skip`):
// one row per edit, oldest first per shard. Absent when nobody edited any.
void EditTable(const ReportData& d, std::string* out) {
  std::string rows;
  size_t count = 0;
  for (const ShardReport& r : d.shards) {
    for (const std::string& line : r.checkpoint.edits) {
      const EditRecord e = ReadEdit(line);
      ++count;
      StrAppend(&rows, "<tr data-shard=\"", Html(r.shard.id), "\" data-action=\"", Html(e.action),
                "\"><td class=\"t\"><code>", Html(r.shard.id), "</code></td><td>", Html(e.action),
                "</td><td class=\"t\">", Html(e.at), "</td><td>", Html(e.by), "</td><td>", Html(e.from_state),
                " <code>", Html(e.from_cursor), "</code></td><td>", Html(e.to_state), " <code>",
                Html(e.to_cursor), "</code></td><td>", Html(e.reason), "</td></tr>");
    }
  }
  if (count == 0) return;
  StrAppend(out, "<section id=\"edits\" data-edits=\"", count,
            "\"><h2>Edited by hand</h2><table><thead><tr><th>Shard</th><th>Edit</th><th>When</th><th>By</th>"
            "<th>From</th><th>To</th><th>Why</th></tr></thead><tbody>",
            rows, "</tbody></table></section>\n");
}

void LetterTable(const ReportData& d, const Sums& t, std::string* out) {
  StrAppend(out, "<section id=\"dead-letters\" data-letters=\"", d.letters_total,
            "\"><h2>Dead letters not yet settled</h2>");
  if (t.summary.dead_letters_purged > 0) {  // no longer listed: nothing left to replay
    StrAppend(out, "<p data-purged=\"", t.summary.dead_letters_purged, "\">",
              Number(t.summary.dead_letters_purged),
              " more had their raw records removed by a retention purge and cannot be replayed.</p>");
  }
  if (!d.letters_error.empty()) {
    StrAppend(out, "<p>The dead letters could not be read: ", Html(d.letters_error), "</p></section>\n");
    return;
  }
  if (d.letters.empty()) {
    StrAppend(out, "<p>None.</p></section>\n");
    return;
  }
  StrAppend(
      out, "<p>", Number(d.letters_total), " in ", d.letters.size(),
      " groups by reason. <code>recovery replay</code> delivers them again once the cause is fixed.</p>"
      "<table><thead><tr><th>Reason</th><th class=\"n\">Letters</th><th>Shards</th><th>An example (secret "
      "fields masked)</th></tr></thead><tbody>");
  for (const LetterGroup& g : d.letters) {
    std::string shards = Join(
        std::vector<std::string>(g.shards.begin(), g.shards.begin() + std::min<size_t>(3, g.shards.size())),
        ", ");
    if (g.shards.size() > 3) shards += StrCat(" and ", g.shards.size() - 3, " more");
    StrAppend(out, "<tr data-reason-count=\"", g.count, "\"><td>", Html(g.reason), "</td><td class=\"n\">",
              Number(g.count), "</td><td>", Html(shards), "</td><td class=\"example\">", Html(g.example),
              "</td></tr>");
  }
  StrAppend(out, "</tbody></table></section>\n");
}

// A saved probe report: its verdict and each check's.
void ProbeSection(const ReportData& d, std::string* out) {
  if (d.probe_json.empty()) return;
  StrAppend(out, "<section id=\"probe\"><h2>Probe</h2>");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view verdict;
  simdjson::dom::array checks;
  if (parser.parse(d.probe_json).get(root) != simdjson::SUCCESS ||
      root["verdict"].get_string().get(verdict) != simdjson::SUCCESS ||
      root["checks"].get_array().get(checks) != simdjson::SUCCESS) {
    StrAppend(
        out,
        "<p>The probe report given is not one <code>recovery probe --save</code> wrote.</p></section>\n");
    return;
  }
  StrAppend(
      out, "<p>Verdict: <strong data-probe-verdict=\"", Html(verdict), "\">", Html(verdict),
      "</strong></p><table><thead><tr><th>Assumption</th><th>Verdict</th><th>Finding</th><th>Fix</th></tr>"
      "</thead><tbody>");
  for (simdjson::dom::element c : checks) {
    auto text = [&c](const char* key) {
      std::string_view v;
      return c[key].get_string().get(v) == simdjson::SUCCESS ? Html(v) : std::string();
    };
    StrAppend(out, "<tr><td>", text("title"), "</td><td>", text("verdict"), "</td><td>", text("finding"),
              "</td><td>", text("fix"), "</td></tr>");
  }
  StrAppend(out, "</tbody></table></section>\n");
}

}  // namespace

bool ReportComplete(const ReportData& data) {
  const JobSummary s = Summarize(data.shards);
  return s.complete() && s.dead_letters == 0;
}

std::string ReportHtml(const ReportData& d) {
  const Sums t = Sum(d);
  std::string out;
  StrAppend(
      &out,
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Recovery report: ",
      Html(d.job), "</title><style>", kStyle, "</style></head>\n<body><header><h1>Recovery of <code>",
      Html(d.job), "</code></h1><p class=\"meta\">Window ", FormatRfc3339(d.start), " to ",
      d.end == absl::InfiniteFuture() ? std::string("(follow mode, no end)") : FormatRfc3339(d.end),
      " · made ", FormatRfc3339(d.made), "</p></header>\n");
  const JobSummary& s = t.summary;
  StrAppend(&out, "<main id=\"report\" data-job=\"", Html(d.job), "\" data-records-delivered=\"",
            s.records_delivered, "\" data-dead-letters=\"", s.dead_letters, "\" data-shards=\"", s.shards,
            "\" data-shards-done=\"", s.shards_done, "\" data-complete=\"",
            ReportComplete(d) ? "true" : "false", "\">\n");
  VerdictSection(d, t, &out);
  TotalsSection(t, &out);
  WindowSection(d, t, &out);
  ShardTable(d, &out);
  EditTable(d, &out);
  LetterTable(d, t, &out);
  ReconcileSection(t.reconciled, &out);
  RunsSection(d.runs, &out);
  ProbeSection(d, &out);
  StrAppend(&out, "</main>\n<footer>Made by recovery ", RECOVERY_VERSION_STRING,
            " from the job's checkpoints and dead letters.</footer></body></html>\n");
  return out;
}

}  // namespace recovery
