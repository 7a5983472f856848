// The probe's verdicts (probe_checks.h). Each looks at what the probe read
// and says ok, warn, broken or not checked, with the evidence and the fix.
#include "engine/probe_checks.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr size_t kMaxEvidence = 5;

ProbeCheck Start(std::string id, std::string title) {
  ProbeCheck c;
  c.id = std::move(id);
  c.title = std::move(title);
  return c;
}

ProbeCheck With(ProbeCheck c, Verdict verdict, std::string finding, std::string fix = "") {
  c.verdict = verdict;
  c.finding = std::move(finding);
  c.fix = std::move(fix);
  return c;
}

void AddEvidence(ProbeCheck* c, std::string line) {
  if (c->evidence.size() < kMaxEvidence) c->evidence.push_back(std::move(line));
}

bool IsSub(const ProbedRange& r) { return r.parent >= 0; }

// How a record is named in evidence: its key, else its first bytes.
std::string Name(const ProbedRecord& r) {
  return r.key.empty() ? StrCat("record ", r.excerpt) : StrCat("key \"", r.key, "\"");
}

std::string RangeName(const ProbedRange& r) {
  return StrCat(IsSub(r) ? "sub-window " : "shard ", r.sample.shard, " [", FormatRfc3339(r.shard.start), ", ",
                FormatRfc3339(r.shard.end), ")");
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "0%";
  const double p = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  return p >= 1 || p == 0 ? StrCat(std::lround(p), "%") : absl::StrFormat("%.2f%%", p);
}

}  // namespace

uint64_t CountBetween(const ProbedRange& r, absl::Time from, absl::Time to) {
  uint64_t n = 0;
  for (const ProbedRecord& rec : r.records) {
    n += rec.outcome == RecordOutcome::kDelivered && rec.event_time >= from && rec.event_time < to;
  }
  return n;
}

ProbeCheck CheckAnswers(const ProbeSeen& seen) {
  ProbeCheck c = Start("answers", "every answer of the API can be read, after the job's retries");
  int failed = 0;
  for (const ProbedRange& r : seen.ranges) {
    if (r.sample.stopped.rfind("error: ", 0) != 0) continue;
    ++failed;
    AddEvidence(&c, StrCat(RangeName(r), " after ", r.pages.size(), " pages: ", r.sample.stopped.substr(7)));
  }
  if (seen.ranges.empty()) return With(c, Verdict::kNotChecked, "no range was read");
  if (failed > 0) {
    return With(
        c, Verdict::kBroken,
        StrCat(failed, " of ", seen.ranges.size(), " ranges stopped on an answer that could not be used"),
        "the evidence gives the answer's status and first bytes: fix the source section (records, "
        "pagination, auth), or raise the retry policy for an API that fails now and then");
  }
  return With(c, Verdict::kOk, StrCat("all ", seen.ranges.size(), " ranges read without an error"));
}

ProbeCheck CheckWindowFilter(const ProbeSeen& seen) {
  ProbeCheck c = Start("window_filter", "the API returns only records inside the window asked for");
  if (!seen.partitions_by_shard) {
    return With(c, Verdict::kOk,
                "every shard reads the same records (a file); the engine keeps each in the shard its time "
                "belongs to");
  }
  uint64_t timed = 0, outside = 0, far = 0, early = 0, late = 0;
  const ProbedRecord* example = nullptr;
  const ProbedRange* example_range = nullptr;
  for (const ProbedRange& r : seen.ranges) {
    for (const ProbedRecord& rec : r.records) {
      if (rec.event_time == kUnknownEventTime) continue;
      ++timed;
      if (rec.event_time >= r.shard.start && rec.event_time < r.shard.end) continue;
      ++outside;
      const bool before = rec.event_time < r.shard.start;
      const absl::Duration by = before ? r.shard.start - rec.event_time : rec.event_time - r.shard.end;
      if (by <= absl::Seconds(1)) continue;  // an inclusive bound
      ++far;
      (before ? early : late) += 1;
      if (example == nullptr) {
        example = &rec;
        example_range = &r;
      }
    }
  }
  if (timed == 0) return With(c, Verdict::kNotChecked, "no record's event time could be read");
  if (seen.has_claims && !seen.facts.filters_by_window) {
    if (outside == 0) return With(c, Verdict::kOk, StrCat("all ", timed, " records were inside their shard"));
    return With(c, Verdict::kWarn,
                StrCat("the requests carry no window, so every shard pages the API's whole history: ",
                       outside, " of ", timed, " records came back outside their shard"),
                StrCat("put {start} and {end} in ", seen.facts.section,
                       ".query (or its url or body), so each shard asks only for its own window"));
  }
  if (far > 0) {
    AddEvidence(&c, StrCat(Name(*example), " at ", FormatRfc3339(example->event_time), " came back for ",
                           RangeName(*example_range)));
    AddEvidence(&c, StrCat(early, " before the window's start, ", late, " after its end"));
    std::string fix;
    if (early == 0) {
      fix = StrCat("the API ignores the window's end ({end}): set ", seen.facts.section,
                   ".sorted_by to the time it sorts by, so a record past a shard's end ends the shard, "
                   "or check the end parameter's name in the vendor's documentation");
    } else if (late == 0) {
      fix = "the API ignores the window's start ({start}): check the start parameter's name";
    } else {
      fix = StrCat("the API ignores the window filter: check the parameter names in ", seen.facts.section,
                   ".query against the vendor's documentation; until then every shard pages everything");
    }
    return With(c, Verdict::kBroken,
                StrCat(far, " of ", timed, " records (", Percent(far, timed),
                       ") came back outside the window asked for"),
                fix);
  }
  if (outside > 0) {
    return With(c, Verdict::kWarn,
                StrCat(outside,
                       " records at a window's very edge came back for the neighbouring shard: the API's "
                       "bounds are inclusive; the engine keeps each in the shard its time belongs to"));
  }
  return With(c, Verdict::kOk, StrCat("all ", timed, " records with a readable time were inside the window"));
}

// How the records of every range compare with the one before them.
struct OrderSeen {
  uint64_t compared = 0, inversions = 0, unreadable = 0, boundary_ties = 0;
  uint64_t event_ordered = 0, event_compared = 0;  // by event time, whatever the claims
};

OrderSeen CompareNeighbours(const ProbeSeen& seen, ProbeCheck* c) {
  const PagingFacts& f = seen.facts;
  OrderSeen o;
  for (const ProbedRange& r : seen.ranges) {
    const ProbedRecord* prev = nullptr;
    const ProbedRecord* prev_event = nullptr;
    for (const ProbedRecord& rec : r.records) {
      if (rec.event_time != kUnknownEventTime) {
        if (prev_event != nullptr) {
          ++o.event_compared;
          o.event_ordered += prev_event->event_time <= rec.event_time;
        }
        prev_event = &rec;
      }
      if (!f.sorted) continue;
      if (!rec.sort_time) {
        ++o.unreadable;
        continue;
      }
      if (prev != nullptr) {
        ++o.compared;
        const bool tie = *prev->sort_time == *rec.sort_time;
        o.boundary_ties += tie && prev->page != rec.page;
        if (*rec.sort_time < *prev->sort_time || (f.keyset && tie && rec.sort_id <= prev->sort_id)) {
          if (o.inversions++ == 0) {
            AddEvidence(c, StrCat(Name(rec), " (", FormatRfc3339(*rec.sort_time),
                                  f.keyset ? StrCat(", id ", rec.sort_id) : "", ") came after ", Name(*prev),
                                  " (", FormatRfc3339(*prev->sort_time),
                                  f.keyset ? StrCat(", id ", prev->sort_id) : "", ") in ", RangeName(r)));
          }
        }
      }
      prev = &rec;
    }
  }
  return o;
}

ProbeCheck CheckOrder(const ProbeSeen& seen) {
  ProbeCheck c = Start("order", "records come in the order the paging relies on");
  if (!seen.has_claims) return With(c, Verdict::kNotChecked, "the source states no order to check");
  const PagingFacts& f = seen.facts;
  const auto [compared, inversions, unreadable, boundary_ties, event_ordered, event_compared] =
      CompareNeighbours(seen, &c);
  if (!f.sorted) {
    if (event_compared > 0 && event_ordered == event_compared) {
      return With(
          c, Verdict::kOk,
          StrCat("no order is assumed; the ", event_compared + 1, " records came in event-time order anyway"),
          StrCat("optional: set ", f.section,
                 ".sorted_by to the field the event time comes from, for exact progress and shards "
                 "that end at their first record past the end"));
    }
    return With(c, Verdict::kOk, "no order is assumed (no sorted_by, no keyset), so none is needed");
  }
  const std::string by = StrCat(f.keyset ? "keyset order (time, id) at " : "sorted_by ", f.sorted_by);
  if (compared == 0 && unreadable > 0) {
    return With(c, Verdict::kBroken,
                StrCat(by, " could not be read as a time in any of ", unreadable, " records"),
                StrCat("check ", f.section, f.keyset ? ".pagination.keyset_time" : ".sorted_by",
                       " and its format against a record"));
  }
  if (compared == 0) return With(c, Verdict::kNotChecked, "too few records to compare");
  if (boundary_ties > 0) {
    AddEvidence(&c, StrCat(boundary_ties, " ties on the sort time across a page boundary",
                           f.keyset ? ", ordered by id as keyset needs" : ""));
  }
  if (inversions > 0) {
    return With(
        c, Verdict::kBroken,
        StrCat(inversions, " of ", compared, " records came earlier than the one before them by ", by),
        f.keyset ? "the API does not sort by (keyset_time, keyset_id): use cursor, page or offset paging"
                 : StrCat("remove ", f.section,
                          ".sorted_by: the API does not return records in that order, and a sorted "
                          "shard ends at its first record past the shard's end"));
  }
  if (unreadable > 0) AddEvidence(&c, StrCat(unreadable, " records had no readable sort time"));
  return With(c, Verdict::kOk, StrCat(compared + 1, " records in ascending ", by));
}

// At least how many records range `i` holds by what else the probe saw
// (its reported total, its sub-window against what paging it returned), or
// 0 when nothing says it holds more than it paged.
int64_t KnownToHold(const ProbeSeen& seen, size_t i) {
  const ProbedRange& r = seen.ranges[i];
  const auto paged = static_cast<int64_t>(r.records.size());
  int64_t more = r.sample.reported_total > paged ? r.sample.reported_total : 0;
  for (const ProbedRange& sub : seen.ranges) {
    if (sub.parent != static_cast<int>(i) || !r.sample.exhausted) continue;
    const uint64_t had = CountBetween(r, sub.shard.start, sub.shard.end);
    if (sub.sample.in_window > had)
      more = std::max(more, paged + static_cast<int64_t>(sub.sample.in_window - had));
  }
  return more;
}

ProbeCheck CheckPageSize(const ProbeSeen& seen) {
  ProbeCheck c = Start("page_size", "the API honours the page size asked for");
  if (!seen.has_claims || seen.facts.page_size <= 0) {
    return With(c, Verdict::kNotChecked, "the requests ask for no page size ({limit} is in no template)");
  }
  const int64_t asked = seen.facts.page_size;
  int64_t biggest = 0, cap = 0, full = 0, full_followed = 0, short_followed = 0;
  const ProbedRange* cut = nullptr;
  int64_t cut_records = 0, cut_more = 0;
  for (size_t i = 0; i < seen.ranges.size(); ++i) {
    const ProbedRange& r = seen.ranges[i];
    for (size_t p = 0; p < r.pages.size(); ++p) {
      const ProbedPage& page = r.pages[p];
      const bool last = page.exhausted;
      biggest = std::max(biggest, page.records);
      full += page.records == asked;
      const bool more_followed = p + 1 < r.pages.size() && r.pages[p + 1].records > 0;
      full_followed += more_followed && page.records >= asked;
      if (more_followed && page.records > 0 && page.records < asked) {
        cap = std::max(cap, page.records);
        ++short_followed;
      }
      if (last && seen.facts.short_page_ends && page.records > 0 && page.records < asked && cut == nullptr) {
        const int64_t more = KnownToHold(seen, i);
        if (more > 0) {
          cut = &r;
          cut_records = page.records;
          cut_more = more;
        }
      }
    }
  }
  if (cut != nullptr) {
    AddEvidence(&c, StrCat("a page of ", cut_records, " records (", asked, " asked for) ended ",
                           RangeName(*cut), ", which holds at least ", cut_more));
    return With(
        c, Verdict::kBroken,
        StrCat("the API returns pages of ", cut_records, " records when asked for ", asked,
               ", and short_page_ends takes a short page for the last one"),
        StrCat("set ", seen.facts.section, ".page_size to ", cut_records, ", or short_page_ends to false"));
  }
  if (biggest > asked) {
    return With(c, Verdict::kWarn,
                StrCat("pages of up to ", biggest, " records came back for a page size of ", asked,
                       ": the API ignores {limit}"),
                StrCat("set ", seen.facts.section, ".page_size to ", biggest,
                       " so the estimate and progress count the pages the API really sends"));
  }
  if (cap > 0 && full_followed > 0) {  // full pages too: the API drops records after paging, say
    AddEvidence(&c,
                StrCat(short_followed, " pages held fewer than ", asked, " records though more followed"));
  } else if (cap > 0) {
    return With(c, Verdict::kWarn,
                StrCat("the API caps pages at ", cap, " records (", asked,
                       " asked for); paging goes on past short pages, so nothing is lost"),
                StrCat("set ", seen.facts.section, ".page_size to ", cap));
  }
  if (full == 0)
    return With(c, Verdict::kNotChecked, "no page was full: every sample fitted in one short page");
  return With(c, Verdict::kOk, StrCat(full, " full pages of ", asked, " records"));
}

ProbeCheck CheckLastPage(const ProbeSeen& seen) {
  ProbeCheck c = Start("last_page", "paging goes on until the shard's records are all read");
  if (seen.has_claims)
    AddEvidence(&c, StrCat("the paging style takes ", seen.facts.last_page_signal, " for the last"));
  int compared = 0, ended = 0, mains = 0;
  for (const ProbedRange& sub : seen.ranges) {
    if (!IsSub(sub)) {
      ++mains;
      ended += sub.sample.exhausted;
      continue;
    }
    const ProbedRange& main = seen.ranges[sub.parent];
    const uint64_t had = CountBetween(main, sub.shard.start, sub.shard.end);
    const bool main_covers = main.sample.exhausted || (seen.facts.sorted && !main.records.empty());
    if (!main_covers && sub.sample.in_window <= had) continue;
    if (!sub.sample.exhausted && sub.sample.in_window <= had) continue;
    ++compared;
    if (sub.sample.in_window > had) {
      AddEvidence(
          &c, StrCat(RangeName(main), " ended after ", main.pages.size(), " pages and ", main.records.size(),
                     " records, yet its sub-window [", FormatRfc3339(sub.shard.start), ", ",
                     FormatRfc3339(sub.shard.end), ") alone holds ", sub.sample.in_window,
                     " records, of which paging the shard returned ", had));
      return With(
          c, Verdict::kBroken,
          "paging stopped before the end of a shard while the API holds more records in it",
          seen.has_claims && seen.facts.short_page_ends
              ? StrCat("set ", seen.facts.section, ".pagination.short_page_ends to false")
              : StrCat("the API signals the last page early: use a narrower shard_duration (each shard "
                       "then fits in what the API pages), or another paging style"));
    }
  }
  AddEvidence(&c, StrCat(ended, " of ", mains, " samples reached their end within the pages read"));
  if (compared == 0) {
    return With(c, Verdict::kNotChecked,
                "no sample was read to its end (and none is sorted) to compare with its sub-window",
                "raise --pages, or set a narrower shard_duration");
  }
  return With(c, Verdict::kOk,
              StrCat(compared, " sub-windows hold no record that paging their shard missed"));
}

ProbeCheck CheckTotal(const ProbeSeen& seen) {
  ProbeCheck c = Start("total", "the total the API reports matches what paging returns");
  int compared = 0, wrong = 0, reported = 0;
  for (const ProbedRange& r : seen.ranges) {
    if (r.pages.empty() || r.pages[0].reported_total < 0) continue;
    ++reported;
    const int64_t total = r.pages[0].reported_total;
    const auto paged = static_cast<int64_t>(r.records.size());
    if (!r.sample.exhausted && paged <= total) continue;
    ++compared;
    if (paged != total) {
      ++wrong;
      AddEvidence(&c, StrCat(RangeName(r), ": reported ", total, ", paging returned ",
                             r.sample.exhausted ? "" : "at least ", paged));
    }
  }
  if (reported == 0) {
    return With(c, Verdict::kNotChecked,
                seen.has_claims && !seen.facts.reports_total
                    ? "the spec reads no total (total_header, total_from)"
                    : "no page reported a total");
  }
  if (wrong > 0) {
    return With(
        c, Verdict::kBroken,
        StrCat(wrong, " of ", compared, " ranges paged a different number of records than the API reported"),
        StrCat("do not trust the API's total: remove ", seen.facts.section,
               ".total_header/total_from, and never reconcile with --trust-total"));
  }
  if (compared == 0)
    return With(c, Verdict::kNotChecked, "no range with a total was read to its end", "raise --pages");
  return With(c, Verdict::kOk, StrCat(compared, " ranges paged exactly the total reported"));
}

ProbeCheck CheckKeys(const ProbeSeen& seen) {
  ProbeCheck c = Start("keys", "keys are unique, across pages and across shards");
  uint64_t keys = 0, across_pages = 0, within_page = 0, across_shards = 0;
  std::map<std::string, size_t> shard_of;  // in-window keys of the samples -> range
  for (size_t i = 0; i < seen.ranges.size(); ++i) {
    const ProbedRange& r = seen.ranges[i];
    std::map<std::string, int> page_of;
    for (const ProbedRecord& rec : r.records) {
      if (rec.key.empty()) continue;
      ++keys;
      auto [it, fresh] = page_of.emplace(rec.key, rec.page);
      if (!fresh) {
        (it->second == rec.page ? within_page : across_pages) += 1;
        AddEvidence(&c, StrCat(Name(rec), " came back twice in ", RangeName(r),
                               it->second == rec.page
                                   ? StrCat(" on page ", rec.page + 1)
                                   : StrCat(" (pages ", it->second + 1, " and ", rec.page + 1, ")")));
      }
      if (IsSub(r) || rec.outcome != RecordOutcome::kDelivered || !fresh) continue;
      auto [at, first] = shard_of.emplace(rec.key, i);
      if (!first && at->second != i) {
        ++across_shards;
        AddEvidence(&c, StrCat(Name(rec), " is inside both ", RangeName(seen.ranges[at->second]), " and ",
                               RangeName(r)));
      }
    }
  }
  if (keys == 0) return With(c, Verdict::kNotChecked, "no record mapped to a key");
  if (across_pages + within_page > 0) {
    return With(
        c, Verdict::kBroken,
        StrCat(across_pages, " keys came back again on a later page and ", within_page,
               " twice on one page, of ", keys),
        "the API's pages overlap (records shift while paging, or the last page repeats): use cursor or "
        "keyset paging, or a stable sort; check mapper.key names a unique field");
  }
  if (across_shards > 0) {
    return With(c, Verdict::kBroken, StrCat(across_shards, " keys are inside two shards at once"),
                "mapper.key is not unique across time, or a record's event time differs between answers: key "
                "records by an id the vendor never reuses");
  }
  return With(c, Verdict::kOk, StrCat(keys, " keys, none repeated"));
}

ProbeCheck CheckMapping(const ProbeSeen& seen) {
  ProbeCheck c = Start("mapping", "every record maps: its key, its event time and each field's type");
  uint64_t records = 0, rejected = 0, fatal = 0;
  std::map<std::string, std::pair<uint64_t, std::string>>
      by_cause;  // "field amount (/amount)" -> count, example
  for (const ProbedRange& r : seen.ranges) {
    if (IsSub(r)) continue;
    for (const ProbedRecord& rec : r.records) {
      ++records;
      if (rec.outcome != RecordOutcome::kDeadLettered) continue;
      ++rejected;
      const std::string cause = rec.reason.substr(0, rec.reason.find(':'));
      fatal += cause.rfind("event_time", 0) == 0 || cause.rfind("key", 0) == 0;
      auto& [n, example] = by_cause[cause];
      if (n++ == 0) example = StrCat(rec.reason, " — ", Name(rec));
    }
  }
  if (records == 0) return With(c, Verdict::kNotChecked, "no record came back");
  for (const auto& [cause, counted] : by_cause) {
    AddEvidence(&c, StrCat(cause, ": ", counted.first, " records, e.g. ", counted.second));
  }
  std::string empty_everywhere;
  for (const auto& [field, nulls] : seen.fields.nulls) {
    if (nulls == 0) continue;
    auto ex = seen.fields.example.find(field);
    AddEvidence(&c, StrCat("field ", field, ": null or absent in ", Percent(nulls, seen.fields.seen),
                           ex == seen.fields.example.end() ? "" : StrCat(", e.g. key \"", ex->second, "\"")));
    if (nulls == seen.fields.seen && seen.fields.seen >= 10 && empty_everywhere.empty())
      empty_everywhere = field;
  }
  if (fatal > 0) {
    return With(c, Verdict::kBroken,
                StrCat(fatal, " of ", records,
                       " records have no readable key or event time; they would go to the dead letters"),
                "check mapper.key and mapper.event_time (its pointer and format) against the records in the "
                "evidence");
  }
  if (rejected * 100 >= records && rejected > 0) {
    return With(c, Verdict::kBroken,
                StrCat(rejected, " of ", records, " records (", Percent(rejected, records), ") do not map"),
                "fix the fields named in the evidence: their pointer, type, or required flag");
  }
  if (rejected > 0) {
    return With(c, Verdict::kWarn,
                StrCat(rejected, " of ", records, " records (", Percent(rejected, records),
                       ") do not map: they would go to the dead letters"),
                "fix the fields named in the evidence, or replay the dead letters after the run");
  }
  if (!empty_everywhere.empty()) {
    return With(
        c, Verdict::kWarn,
        StrCat("all ", records, " records map, but field ", empty_everywhere, " is empty in every one"),
        StrCat("check mapper field ", empty_everywhere, "'s pointer against a record"));
  }
  return With(c, Verdict::kOk, StrCat("all ", records, " records map"));
}

ProbeCheck CheckDestination(const DestinationSeen& seen) {
  ProbeCheck c = Start("destination", "the destination takes the mapped records");
  if (!seen.can_check_shape) {
    return With(c, Verdict::kNotChecked,
                StrCat("the ", seen.sink, " sink cannot say without writing whether it would take a record",
                       seen.sinks_that_can.empty() ? "" : StrCat(" (", seen.sinks_that_can, " can)")));
  }
  if (!seen.inspected.ok()) {
    AddEvidence(&c, std::string(seen.inspected.message()));
    return With(c, Verdict::kBroken, "the destination does not match the sink's options",
                "change the sink section or the table as the evidence says");
  }
  if (seen.checked == 0) return With(c, Verdict::kNotChecked, "the samples gave no mapped record to check");
  for (const std::string& r : seen.refusals) AddEvidence(&c, r);
  if (seen.refused > 0) {
    return With(
        c, Verdict::kBroken,
        StrCat(seen.refused, " of ", seen.checked, " sample records would be refused by the destination"),
        "change the column's type, the mapping's type for that field, or drop NOT NULL, as the evidence "
        "says");
  }
  return With(c, Verdict::kOk, StrCat("all ", seen.checked, " sample records fit the destination"));
}

ProbeCheck CheckPresence(const DestinationSeen& seen) {
  ProbeCheck c = Start("already_present", "the live feed's rows are recognised by the same key");
  if (!seen.presence_wanted && !seen.can_check_presence) {
    return With(c, Verdict::kNotChecked,
                "the job does not skip records already present, and the sink cannot tell");
  }
  if (!seen.can_check_presence) {
    return With(c, Verdict::kBroken,
                StrCat("skip_already_present is on, but the ", seen.sink,
                       " sink cannot tell which records it holds"));
  }
  if (!seen.presence.ok()) {
    AddEvidence(&c, std::string(seen.presence.message()));
    return With(c, Verdict::kBroken, "asking the destination which records it holds failed");
  }
  uint64_t asked = 0, present = 0;
  for (const DestinationSeen::Share& s : seen.present) {
    asked += s.asked;
    present += s.present;
    if (s.asked > 0) {
      AddEvidence(&c, StrCat("shard ", s.shard, ": ", s.present, " of ", s.asked, " already present, ",
                             s.asked - s.present, " to deliver"));
    }
  }
  if (asked == 0) return With(c, Verdict::kNotChecked, "the samples gave no mapped record to ask about");
  return With(
      c, Verdict::kOk,
      StrCat(present, " of ", asked, " sample records (", Percent(present, asked),
             ") are already in the destination", seen.presence_wanted ? "; they would be skipped" : ""));
}

ProbeCheck CheckQueue(const absl::StatusOr<QueueFacts>& facts, absl::Time start, absl::Time now) {
  ProbeCheck c = Start("queue", "the queue still holds the window, read without receiving");
  if (!facts.ok()) {
    AddEvidence(&c, std::string(facts.status().message()));
    return With(c, Verdict::kBroken, "the queue could not be asked for its attributes",
                "check source.queue_url (or queue_name), the region and the credentials");
  }
  const QueueFacts& f = *facts;
  AddEvidence(&c,
              StrCat(f.visible, " messages visible, ", f.in_flight, " in flight, ", f.delayed, " delayed"));
  AddEvidence(&c, f.redrive_policy.empty()
                      ? "no redrive policy: a message received too often stays in the queue"
                      : StrCat("redrive policy ", f.redrive_policy));
  if (f.retention > absl::ZeroDuration()) {
    AddEvidence(&c, StrCat("it keeps a message ", absl::FormatDuration(f.retention)));
    const absl::Time kept_since = now - f.retention;
    if (start < kept_since) {
      return With(
          c, Verdict::kBroken,
          StrCat("the window starts at ", FormatRfc3339(start), ", but the queue keeps messages only since ",
                 FormatRfc3339(kept_since), ": what was sent before then is gone from it"),
          "recover the part of the window before then from the vendor's API, and check the seam with "
          "skip_already_present");
    }
  }
  if (f.visible == 0 && f.in_flight <= 0 && f.delayed <= 0) {
    return With(c, Verdict::kWarn, "the queue holds no message: there is nothing to recover from it");
  }
  if (f.in_flight > 0) {
    return With(c, Verdict::kWarn,
                StrCat(f.in_flight,
                       " messages are in flight with another consumer: a recovery shares the queue "
                       "with it, and each message goes to one of the two"));
  }
  return With(c, Verdict::kOk,
              StrCat("the queue holds about ", f.visible, " messages and keeps the whole window"));
}

}  // namespace recovery
