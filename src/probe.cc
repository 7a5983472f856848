// The probe (include/recovery/probe.h): reads sample shards and a narrow
// sub-window of each through the job's source and mapping, within a budget
// of requests, asks the destination what it would take, and turns what it
// saw into verdicts (engine/probe_checks.h). Read-only throughout.
#include "recovery/probe.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/probe_checks.h"
#include "engine/retry.h"
#include "recovery/job_state.h"
#include "simdjson.h"
#include "spec/components.h"
#include "spec/registry.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr size_t kMaxDestinationSample = 2000;  // mapped records asked of the destination

// What the probe lends the source: counts every request against the budget
// and stops the source once it is spent; keeps latencies and quota headers.
class ProbeContext : public ShardContext {
 public:
  explicit ProbeContext(int max_requests) : max_(max_requests) {}

  bool Sleep(absl::Duration d) const override {
    if (Stopping()) return false;
    absl::SleepFor(d);
    return true;
  }
  bool Stopping() const override { return requests_.load() >= max_; }
  void ObserveRequest(absl::Duration latency, int http_status) const override {
    ++requests_;
    absl::MutexLock lock(&mu_);
    if (http_status > 0) latencies_ms_.push_back(absl::ToDoubleMilliseconds(latency));
    if (http_status == 429) ++throttled_;
  }
  void SeeQuotaHeader(std::string_view name, std::string_view value) const override {
    absl::MutexLock lock(&mu_);
    quota_[std::string(name)] = std::string(value);
  }

  int requests() const { return requests_.load(); }
  int answered() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(latencies_ms_.size());
  }
  void Fill(ProbeReport* report, int* throttled) const {
    absl::MutexLock lock(&mu_);
    std::vector<double> l = latencies_ms_;
    std::sort(l.begin(), l.end());
    auto at = [&](double q) {
      return l.empty() ? -1 : l[std::min(l.size() - 1, static_cast<size_t>(q * l.size()))];
    };
    report->latency_p50_ms = at(0.5);
    report->latency_p90_ms = at(0.9);
    report->latency_p99_ms = at(0.99);
    for (const auto& [name, value] : quota_) report->quota_headers.push_back(StrCat(name, ": ", value));
    *throttled = throttled_;
  }

 private:
  const int max_;
  mutable std::atomic<int> requests_{0};
  mutable absl::Mutex mu_;
  mutable std::vector<double> latencies_ms_ ABSL_GUARDED_BY(mu_);
  mutable std::map<std::string, std::string> quota_ ABSL_GUARDED_BY(mu_);
  mutable int throttled_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts the null or absent fields of a mapped payload (a JSON object).
void CountNulls(const Record& record, FieldNulls* fields) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(record.payload.data(), record.payload.size()).get(object)) return;
  ++fields->seen;
  for (auto [name, value] : object) {
    std::string field(name);
    uint64_t& n = fields->nulls[field];
    if (value.is_null()) {
      ++n;
      fields->example.emplace(field, std::string(record.key));
    }
  }
}

struct Reading {
  const JobSpec& spec;
  const Components& c;
  const PagingClaims* claims;
  ProbeContext& context;
  int max_pages;
};

// One raw record through the mapping, for `shard`.
ProbedRecord Look(const Reading& in, const Shard& shard, const RawRecord& raw, int page, RecordBatch* mapped,
                  FieldNulls* fields) {
  ProbedRecord rec;
  rec.page = page;
  if (in.claims != nullptr) {
    rec.sort_time = in.claims->SortTimeOf(raw);
    rec.sort_id = in.claims->SortIdOf(raw);
  }
  std::string reason;
  RecordBatch one;
  const MapOutcome o =
      raw.error.empty() ? in.c.mapper->Map(raw, shard, &one, &reason) : MapOutcome::kRejected;
  if (!raw.error.empty()) reason = std::string(raw.error);
  if (o == MapOutcome::kEmitted) {
    const Record& r = one.back();
    rec.key = std::string(r.key);
    rec.event_time = r.event_time;
    const bool inside =
        r.event_time == kUnknownEventTime || (r.event_time >= shard.start && r.event_time < shard.end);
    rec.outcome = inside ? RecordOutcome::kDelivered : RecordOutcome::kOutOfWindow;
    if (inside && mapped != nullptr) {
      mapped->Add(r.key, r.event_time, r.payload);
      if (fields != nullptr) CountNulls(r, fields);
    }
    return rec;
  }
  if (o == MapOutcome::kDropped) {
    rec.outcome = RecordOutcome::kDropped;
    return rec;
  }
  rec.event_time = in.c.mapper->EventTimeOf(raw);
  const bool outside =
      rec.event_time != kUnknownEventTime && (rec.event_time < shard.start || rec.event_time >= shard.end);
  rec.outcome = outside ? RecordOutcome::kOutOfWindow : RecordOutcome::kDeadLettered;
  rec.reason = reason;
  rec.excerpt = std::string(raw.data.substr(0, 80));
  return rec;
}

// Reads `r->shard` page by page, up to the page limit, the budget or its
// end; the mapped records inside it go to `mapped`. An error is kept in
// r->sample.stopped and returned.
absl::Status ReadRange(const Reading& in, ProbedRange* r, RecordBatch* mapped, FieldNulls* fields) {
  ProbeSample& s = r->sample;
  const int before = in.context.requests();
  const RetryEnv env = SystemRetryEnv([&](absl::Duration d) { return in.context.Sleep(d); });
  absl::Status status;
  absl::StatusOr<std::unique_ptr<ShardReader>> reader = in.c.source->Open(r->shard, "", in.context);
  status = reader.status();
  Page page;
  while (status.ok() && s.pages < in.max_pages && !s.exhausted) {
    if (in.context.Stopping()) {
      s.stopped = "budget";
      break;
    }
    page.Clear();
    status = RetryWithBackoff(in.spec.retry, "fetch page", env, [&] { return (*reader)->Next(&page); });
    if (!status.ok()) break;
    ProbedPage p;
    p.records = static_cast<int64_t>(page.records.size());
    p.exhausted = page.exhausted;
    p.reported_total = page.reported_total;
    r->pages.push_back(p);
    if (s.pages == 0) s.reported_total = page.reported_total;
    for (const RawRecord& raw : page.records.records()) {
      ProbedRecord rec = Look(in, r->shard, raw, s.pages, mapped, fields);
      s.in_window += rec.outcome == RecordOutcome::kDelivered;
      s.outside += rec.outcome == RecordOutcome::kOutOfWindow;
      s.rejected += rec.outcome == RecordOutcome::kDeadLettered;
      r->records.push_back(std::move(rec));
    }
    s.records += page.records.size();
    ++s.pages;
    s.exhausted = page.exhausted;
  }
  if (reader.ok()) reader->reset();  // ends a prefetch before its request is counted
  s.requests = in.context.requests() - before;
  if (!status.ok()) {
    s.stopped = in.context.Stopping() ? "budget" : StrCat("error: ", status.message());
    return in.context.Stopping() ? absl::OkStatus() : status;
  }
  if (s.stopped.empty()) s.stopped = s.exhausted ? "end" : "pages";
  return absl::OkStatus();
}

// The narrow sub-window read after sample `main` to cross-check its
// counts: its last eighth when the sample was read to its end, else the
// part its sorted records covered, else its first eighth.
std::optional<Shard> SubWindow(const ProbedRange& main, bool sorted) {
  const absl::Time s = main.shard.start, e = main.shard.end;
  if (e == absl::InfiniteFuture()) return std::nullopt;
  absl::Time from = s, to = s + (e - s) / 8;
  if (main.sample.exhausted) {
    from = e - (e - s) / 8;
    to = e;
  } else if (sorted) {
    absl::Time last = absl::InfinitePast();
    for (const ProbedRecord& r : main.records) {
      if (r.sort_time) last = std::max(last, *r.sort_time);
    }
    if (last > s && last < e) to = s + (last - s) / 2;
  }
  from = absl::FromUnixSeconds(absl::ToUnixSeconds(from + absl::Seconds(1) - absl::Nanoseconds(1)));
  to = absl::FromUnixSeconds(absl::ToUnixSeconds(to));
  if (to - from < absl::Seconds(1)) return std::nullopt;
  Shard sub = main.shard;
  sub.id = StrCat(main.shard.id, "/sub");
  sub.start = from;
  sub.end = to;
  return sub;
}

// The first and last shard and `samples` spread between them.
std::vector<Shard> PickSamples(const std::vector<Shard>& plan, int samples) {
  std::vector<Shard> closed;
  for (const Shard& s : plan) {
    if (!IsOpenEnded(s)) closed.push_back(s);
  }
  std::set<size_t> picked;
  if (closed.empty()) return {};
  const size_t n = closed.size();
  picked.insert(0);
  for (int i = 1; i <= samples; ++i) picked.insert(static_cast<size_t>(i) * (n - 1) / (samples + 1));
  picked.insert(n - 1);
  std::vector<Shard> out;
  out.reserve(picked.size());
  for (size_t i : picked) out.push_back(closed[i]);
  return out;
}

// The run's size and duration from the samples.
void Estimate(const JobSpec& spec, const ProbeSeen& seen, size_t shards, ProbeReport* report) {
  double sum = 0;
  int64_t page = seen.has_claims ? seen.facts.page_size : 0;
  int counted = 0;
  for (const ProbedRange& r : seen.ranges) {
    if (r.parent >= 0 || r.pages.empty()) continue;
    for (const ProbedPage& p : r.pages) page = std::max(page, p.records);
    double n = static_cast<double>(r.sample.records);
    if (!r.sample.exhausted && r.sample.reported_total >= 0) {
      n = static_cast<double>(r.sample.reported_total);
    } else if (!r.sample.exhausted && seen.facts.sorted) {
      absl::Time last = absl::InfinitePast();
      for (const ProbedRecord& rec : r.records) {
        if (rec.sort_time) last = std::max(last, *rec.sort_time);
      }
      const double covered = absl::FDivDuration(last - r.shard.start, r.shard.end - r.shard.start);
      if (covered > 0.01 && covered < 1) {
        n /= covered;
      } else {
        report->estimate_is_minimum = true;
      }
    } else if (!r.sample.exhausted) {
      report->estimate_is_minimum = true;  // nothing says how much of the shard is left
    }
    sum += n;
    ++counted;
  }
  if (counted == 0 || page <= 0) return;
  const double per_shard = sum / counted;
  report->estimated_records = static_cast<int64_t>(per_shard * static_cast<double>(shards));
  report->estimated_requests = static_cast<int64_t>((std::ceil(per_shard / static_cast<double>(page)) + 1) *
                                                    static_cast<double>(shards));
  if (report->latency_p50_ms > 0) {
    double seconds = static_cast<double>(report->estimated_requests) * report->latency_p50_ms / 1000 /
                     std::max(1, spec.concurrency);
    if (seen.facts.requests_per_second > 0) {
      seconds =
          std::max(seconds, static_cast<double>(report->estimated_requests) / seen.facts.requests_per_second);
    }
    report->estimated_seconds = seconds;
  }
}

// "under a second", "40s", "2h13m": an estimate, to the second at most.
std::string RoughDuration(double seconds) {
  if (seconds < 1) return "under a second";
  return absl::FormatDuration(absl::Seconds(std::llround(seconds)));
}

ProbeCheck CheckPace(const ProbeReport& report, int throttled, int requests) {
  ProbeCheck c;
  c.id = "pace";
  c.title = "the vendor's pace and what the whole run will take";
  if (report.latency_p50_ms < 0) {
    c.verdict = Verdict::kNotChecked;
    c.finding = "no request was answered";
    return c;
  }
  c.evidence.push_back(absl::StrFormat("latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms over %d requests",
                                       report.latency_p50_ms, report.latency_p90_ms, report.latency_p99_ms,
                                       requests));
  for (const std::string& h : report.quota_headers) c.evidence.push_back(StrCat("quota header ", h));
  if (report.estimated_requests >= 0) {
    c.evidence.push_back(
        StrCat("the whole run: ", report.estimate_is_minimum ? "at least " : "about ",
               report.estimated_records, " records in ", report.estimated_requests, " requests",
               report.estimated_seconds >= 0
                   ? StrCat(", ", RoughDuration(report.estimated_seconds), " at the job's concurrency")
                   : ""));
  }
  if (throttled > 0) {
    c.verdict = Verdict::kWarn;
    c.finding = StrCat("the API answered 429 (too many requests) ", throttled, " times to the probe alone");
    c.fix = "lower source.rate_limit, or let the job learn the quota: \"concurrency\": {\"max\": N}";
    return c;
  }
  c.verdict = Verdict::kOk;
  c.finding = "no request was throttled";
  return c;
}

absl::Status CheckOptions(const ProbeOptions& o) {
  std::vector<std::string> errors;
  if (o.samples < 0 || o.samples > 1000)
    errors.push_back(StrCat("samples: expected 0 to 1000, got ", o.samples));
  if (o.pages < 1 || o.pages > 1000) errors.push_back(StrCat("pages: expected 1 to 1000, got ", o.pages));
  if (o.max_requests < 1 || o.max_requests > 100000)
    errors.push_back(StrCat("max_requests: expected 1 to 100000, got ", o.max_requests));
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(ToAbsl(Join(errors, "; ")));
}

// The destination's refusals, one line per reason, with how many records
// it refused and one's key; the first five reasons.
std::vector<std::string> Grouped(const std::vector<SinkRejection>& refused, const RecordBatch& sample) {
  std::map<std::string, std::pair<uint64_t, std::string>> by_reason;
  std::vector<std::string> order, out;
  for (const SinkRejection& r : refused) {
    auto [it, fresh] = by_reason.try_emplace(r.reason);
    if (fresh) {
      order.push_back(r.reason);
      if (r.index < sample.size()) it->second.second = std::string(sample.records()[r.index].key);
    }
    ++it->second.first;
  }
  for (size_t i = 0; i < order.size() && i < 5; ++i) {
    const auto& [n, key] = by_reason[order[i]];
    out.push_back(StrCat(order[i], " (", n, n == 1 ? " record" : " records", ", e.g. key \"", key, "\")"));
  }
  return out;
}

// What the destination says of the sample's mapped records.
DestinationSeen AskDestination(const JobSpec& spec, const Components& c, const ProbeSeen& seen,
                               const std::vector<RecordBatch>& mapped) {
  DestinationSeen d;
  d.sink = spec.sink.present() ? spec.sink.type : "given in code";
  d.sinks_that_can = SinkTypesThat(&SinkType::shape);
  d.presence_wanted = spec.skip_already_present;
  ShapeCheck* shape = c.sink == nullptr ? nullptr : c.sink->shape_check();
  d.can_check_shape = shape != nullptr;
  if (shape != nullptr) {
    d.inspected = shape->Inspect();
    RecordBatch sample;
    for (const RecordBatch& b : mapped) {
      for (const Record& r : b.records()) {
        if (sample.size() < kMaxDestinationSample) sample.Add(r.key, r.event_time, r.payload);
      }
    }
    d.checked = sample.size();
    std::vector<SinkRejection> refused;
    if (d.inspected.ok()) d.inspected = shape->Refusals(sample.records(), &refused);
    d.refused = refused.size();
    d.refusals = Grouped(refused, sample);
  }
  PresenceCheck* presence = c.sink == nullptr ? nullptr : c.sink->presence();
  d.can_check_presence = presence != nullptr;
  if (presence == nullptr || !d.presence_wanted) return d;
  d.presence = presence->OpenForReading();
  for (size_t i = 0; i < seen.ranges.size() && d.presence.ok(); ++i) {
    if (seen.ranges[i].parent >= 0) continue;
    PresenceAnswer answer;
    answer.present.assign(mapped[i].size(), false);
    d.presence = presence->Check(seen.ranges[i].shard, mapped[i].records(), &answer);
    DestinationSeen::Share share{seen.ranges[i].sample.shard, mapped[i].size(), 0};
    for (bool p : answer.present) share.present += p;
    d.present.push_back(share);
  }
  return d;
}

// One probe's state: what it read so far and what it will report.
struct ProbeRun {
  ProbeRun(const JobSpec& spec, const Components& c, const ProbeOptions& options)
      : spec(spec), c(c), options(options), context(options.max_requests) {
    report.job = spec.name;
    report.max_requests = options.max_requests;
    seen.partitions_by_shard = c.source->partitions_by_shard();
    claims = c.source->paging_claims();
    seen.has_claims = claims != nullptr;
    if (claims != nullptr) seen.facts = claims->facts();
  }
  void Say(const std::string& line) const {
    if (options.progress) options.progress(line);
  }

  const JobSpec& spec;
  const Components& c;
  const ProbeOptions& options;
  const PagingClaims* claims = nullptr;
  ProbeContext context;
  ProbeSeen seen;
  std::vector<RecordBatch> mapped;  // per range of seen.ranges: its mapped records inside it
  ProbeReport report;
};

ProbedRange RangeOf(const Shard& shard, std::string role, int parent) {
  ProbedRange r;
  r.shard = shard;
  r.parent = parent;
  r.sample.shard = shard.id;
  r.sample.role = std::move(role);
  r.sample.start = shard.start;
  r.sample.end = shard.end;
  return r;
}

// Reads sample `i` of `picked`, then its sub-window. The probe cannot run
// when the very first sample fails before the API answered anything at all
// (unreachable); an answer it cannot use is a finding (CheckAnswers).
absl::Status ReadSample(ProbeRun& run, const std::vector<Shard>& picked, size_t i) {
  const Reading in{run.spec, run.c, run.claims, run.context, run.options.pages};
  ProbedRange main = RangeOf(picked[i], i == 0 ? "first" : i + 1 == picked.size() ? "last" : "spread", -1);
  run.mapped.emplace_back();
  absl::Status s = ReadRange(in, &main, &run.mapped.back(), &run.seen.fields);
  if (!s.ok() && main.pages.empty() && i == 0 && run.context.answered() == 0) {
    return absl::Status(s.code(),
                        StrCat("probe: the first sample, shard ", main.shard.id, ": ", s.message()));
  }
  run.Say(StrCat("sample ", i + 1, "/", picked.size(), ": shard ", main.shard.id, ", ", main.sample.pages,
                 " pages, ", main.sample.records, " records (", main.sample.stopped, ")"));
  run.seen.ranges.push_back(std::move(main));
  std::optional<Shard> sub = SubWindow(run.seen.ranges.back(), run.seen.facts.sorted);
  if (!sub || run.context.Stopping()) return absl::OkStatus();
  ProbedRange narrow = RangeOf(*sub, "sub-window", static_cast<int>(run.seen.ranges.size()) - 1);
  run.mapped.emplace_back();  // not asked of the destination: its records are its sample's
  (void)ReadRange(in, &narrow, nullptr, nullptr);
  run.Say(StrCat("  its sub-window ", FormatRfc3339(sub->start), " to ", FormatRfc3339(sub->end), ": ",
                 narrow.sample.in_window, " records (", narrow.sample.stopped, ")"));
  run.seen.ranges.push_back(std::move(narrow));
  return absl::OkStatus();
}

// Reads the samples of a paged source until done or out of budget; the
// number of shards in the job's plan.
absl::StatusOr<size_t> ReadSamples(ProbeRun& run) {
  RECOVERY_ASSIGN_OR_RETURN(std::vector<Shard> plan, PlanJob(run.spec, false));
  const std::vector<Shard> picked = PickSamples(plan, run.options.samples);
  for (size_t i = 0; i < picked.size(); ++i) {
    if (run.context.Stopping()) {
      run.report.cut_short = true;
      run.report.notes.push_back(StrCat("the budget of ", run.options.max_requests,
                                        " requests ran out after ", i, " of ", picked.size(),
                                        " samples: raise --max-requests"));
      break;
    }
    RECOVERY_RETURN_IF_ERROR(ReadSample(run, picked, i));
  }
  return plan.size();
}

}  // namespace

absl::StatusOr<ProbeReport> Probe(const JobSpec& spec, Components c, const ProbeOptions& options) {
  RECOVERY_RETURN_IF_ERROR(CheckOptions(options));
  ResolveOptions resolve{.checkpoints = false, .dead_letters = false, .dry_run = !spec.sink.present()};
  RECOVERY_RETURN_IF_ERROR(ResolveComponents(spec, resolve, &c));
  ProbeRun run(spec, c, options);
  const bool queue = c.source->plans_one_shard();
  size_t shards = 0;
  if (queue) {
    run.report.notes.push_back(
        "the source is a queue: the probe does not receive from it, since any receive changes the queue "
        "(visibility, receive counts); it reads what the queue says of itself instead");
    if (QueueDescription* description = c.source->queue_description(); description != nullptr) {
      run.Say("asking the queue for its attributes");
      run.report.checks.push_back(CheckQueue(description->Describe(), spec.start, absl::Now()));
    }
  } else {
    RECOVERY_ASSIGN_OR_RETURN(shards, ReadSamples(run));
  }
  ProbeReport& report = run.report;
  int throttled = 0;
  run.context.Fill(&report, &throttled);
  report.requests = run.context.requests();
  Estimate(spec, run.seen, shards, &report);
  for (const ProbedRange& r : run.seen.ranges) report.samples.push_back(r.sample);
  using CheckFn = ProbeCheck (*)(const ProbeSeen&);
  for (CheckFn check : {CheckAnswers, CheckWindowFilter, CheckOrder, CheckPageSize, CheckLastPage, CheckTotal,
                        CheckKeys, CheckMapping}) {
    ProbeCheck result = check(run.seen);
    if (queue) {
      result.verdict = Verdict::kNotChecked;
      result.finding = "the source is a queue; the probe does not receive from it";
      result.evidence.clear();
      result.fix.clear();
    }
    report.checks.push_back(std::move(result));
  }
  run.Say("asking the destination");
  const DestinationSeen destination = AskDestination(spec, c, run.seen, run.mapped);
  report.checks.push_back(CheckDestination(destination));
  report.checks.push_back(CheckPresence(destination));
  report.checks.push_back(CheckPace(report, throttled, report.requests));
  return std::move(run.report);
}

Verdict ProbeReport::worst() const {
  Verdict w = Verdict::kOk;
  for (const ProbeCheck& c : checks) {
    if (c.verdict == Verdict::kBroken) return Verdict::kBroken;
    if (c.verdict == Verdict::kWarn) w = Verdict::kWarn;
  }
  return w;
}

}  // namespace recovery
