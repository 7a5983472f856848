// Reconcile (include/recovery/reconcile.h): the vendor's records per bucket
// through the job's source and mapping, the destination's through its sink.
#include "recovery/reconcile.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "engine/page_mapper.h"
#include "engine/retry.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "spec/components.h"
#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// What a reconcile lends the source: plain sleeps, never stopping.
class Context : public ShardContext {
 public:
  bool Sleep(absl::Duration d) const override {
    absl::SleepFor(d);
    return true;
  }
  bool Stopping() const override { return false; }
};

Shard ShardOf(const ReconcileBucket& bucket) {
  Shard shard;
  shard.start = bucket.start;
  shard.end = bucket.end;
  shard.id = StrCat(FormatCompactUtc(shard.start), "-", FormatCompactUtc(shard.end));
  return shard;
}

// Pages `bucket` to its end, counting the records that map into it; with
// `kept`, keeping them too.
absl::Status CountVendor(const JobSpec& spec, Source& source, const Mapper& mapper, bool trust_total,
                         ReconcileBucket* bucket, RecordBatch* kept = nullptr) {
  const Shard shard = ShardOf(*bucket);
  Context context;
  const RetryEnv env = SystemRetryEnv([](absl::Duration d) {
    absl::SleepFor(d);
    return true;
  });
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<ShardReader> reader, source.Open(shard, "", context));
  Page page;
  MappedPage mapped;
  RejectClaims claims;
  bucket->vendor_method = "paged";
  for (int pages = 0;; ++pages) {
    page.Clear();
    absl::Status s = RetryWithBackoff(spec.retry, "fetch page", env, [&] { return reader->Next(&page); });
    if (!s.ok()) {
      return absl::Status(
          s.code(), StrCat("bucket ", FormatRfc3339(bucket->start), ": reading the source: ", s.message()));
    }
    if (pages == 0 && page.reported_total >= 0) {
      bucket->reported_total = page.reported_total;
      if (trust_total && kept == nullptr) {
        bucket->vendor = static_cast<uint64_t>(page.reported_total);
        bucket->vendor_method = "reported total";
        return absl::OkStatus();
      }
    }
    MapPage(mapper, shard, JobWindow(), page.records, /*owns_rejects=*/true, &claims, &mapped);
    for (RecordOutcome o : mapped.outcomes) {
      bucket->vendor += o == RecordOutcome::kDelivered;
      bucket->unusable += o == RecordOutcome::kDeadLettered;
    }
    if (kept != nullptr) {
      for (const Record& r : mapped.batch.records()) kept->Add(r.key, r.event_time, r.payload);
    }
    if (page.exhausted) return absl::OkStatus();
  }
}

// The keys of `bucket` the destination lacks: the bucket paged again, its
// records asked of the sink.
absl::Status ListMissingKeys(const JobSpec& spec, const Components& c, ReconcileBucket* bucket) {
  ReconcileBucket again = *bucket;
  again.vendor = again.unusable = 0;
  RecordBatch records;
  RECOVERY_RETURN_IF_ERROR(CountVendor(spec, *c.source, *c.mapper, false, &again, &records));
  PresenceAnswer answer;
  answer.present.assign(records.size(), false);
  absl::Status s = c.sink->presence()->Check(ShardOf(*bucket), records.records(), &answer);
  if (!s.ok()) {
    return absl::Status(s.code(), StrCat("bucket ", FormatRfc3339(bucket->start),
                                         ": asking the destination "
                                         "which records it holds: ",
                                         s.message()));
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (i >= answer.present.size() || !answer.present[i])
      bucket->missing_keys.emplace_back(records.records()[i].key);
  }
  bucket->keys_listed = true;
  return absl::OkStatus();
}

// Builds what the spec names and the caller did not give, and refuses at
// once what reconcile cannot do with them.
absl::Status ResolveAndCheck(const JobSpec& spec, const ReconcileOptions& options, Components* components) {
  RECOVERY_RETURN_IF_ERROR(
      ResolveComponents(spec, {.checkpoints = false, .dead_letters = false}, components));
  if (components->source->plans_one_shard()) {
    return absl::FailedPreconditionError(
        "reconcile: the source is a queue, which cannot be asked what a time bucket held; reconcile "
        "against the vendor's API instead");
  }
  if (options.keys_limit > 0 && components->sink->presence() == nullptr) {
    return SinkLacks(absl::StatusCode::kFailedPrecondition, spec, "reconcile --keys",
                     "tell which records it holds", &SinkType::presence);
  }
  if (components->sink->counter() == nullptr) {
    return SinkLacks(absl::StatusCode::kFailedPrecondition, spec, "reconcile",
                     "count its records by event time", &SinkType::counts);
  }

  return absl::OkStatus();
}

// The vendor's count of every bucket: buckets read concurrently, each to its end.
absl::Status CountVendorBuckets(const JobSpec& spec, const Components& components,
                                const ReconcileOptions& options, std::vector<ReconcileBucket>* buckets) {
  const int workers =
      std::max(1, std::min<int>(options.concurrency > 0 ? options.concurrency : spec.concurrency,
                                static_cast<int>(buckets->size())));
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status failure;
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < buckets->size(); i = next++) {
        absl::Status s = CountVendor(spec, *components.source, *components.mapper,
                                     options.trust_reported_total, &(*buckets)[i]);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (failure.ok()) failure = s;
          next = buckets->size();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return failure;
}

// Adds the destination's counts (`held`, one per bucket) and totals up,
// with a note for each bucket whose paging disagreed with its reported total
// or held records the mapping rejects.
void Tally(const std::vector<uint64_t>& held, ReconcileReport* report) {
  for (size_t i = 0; i < report->buckets.size(); ++i) {
    ReconcileBucket& b = report->buckets[i];
    b.destination = held[i];
    report->vendor += b.vendor;
    report->destination += b.destination;
    report->short_buckets += b.short_of_vendor();
    if (b.reported_total >= 0 && b.vendor_method == "paged" &&
        static_cast<uint64_t>(b.reported_total) != b.vendor + b.unusable) {
      report->notes.push_back(StrCat("bucket ", FormatRfc3339(b.start), ": the source reported ",
                                     b.reported_total, " records but paged ", b.vendor + b.unusable,
                                     " in the bucket"));
    }
    if (b.unusable > 0) {
      report->notes.push_back(StrCat("bucket ", FormatRfc3339(b.start), ": ", b.unusable,
                                     " records the mapping rejects (dead letters, not counted as missing)"));
    }
  }
}

}  // namespace

absl::StatusOr<ReconcileReport> Reconcile(const JobSpec& spec, Components components,
                                          const ReconcileOptions& options) {
  if (options.bucket <= absl::ZeroDuration() || options.bucket % absl::Seconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        StrCat("bucket: ", absl::FormatDuration(options.bucket), " is not a whole number of seconds"));
  }
  if (spec.follow)
    return absl::InvalidArgumentError("reconcile needs a window with an end (not follow mode)");
  RECOVERY_RETURN_IF_ERROR(ResolveAndCheck(spec, options, &components));

  // Buckets of the full width, aligned to it (UTC), across the window
  // (overlap included). The first and last may reach past the window: both
  // sides are counted over the whole bucket, so they stay comparable.
  ReconcileReport report;
  const int64_t width = absl::ToInt64Seconds(options.bucket);
  const int64_t start = absl::ToUnixSeconds(spec.start);
  const absl::Time first = absl::FromUnixSeconds(start - ((start % width) + width) % width);
  constexpr int64_t kMaxBuckets = 100000;  // each is read from the source on its own
  if ((spec.end - first) / options.bucket > kMaxBuckets) {
    return absl::InvalidArgumentError(StrCat("bucket: ", absl::FormatDuration(options.bucket),
                                             " splits the window into more than ", kMaxBuckets,
                                             " buckets; use wider ones"));
  }
  for (absl::Time t = first; t < spec.end; t += options.bucket) {
    ReconcileBucket b;
    b.start = t;
    b.end = t + options.bucket;
    report.buckets.push_back(b);
  }
  // The destination: one count for every bucket.
  RECOVERY_ASSIGN_OR_RETURN(std::vector<uint64_t> held, components.sink->counter()->CountByEventTime(
                                                            first, options.bucket, report.buckets.size()));
  RECOVERY_RETURN_IF_ERROR(CountVendorBuckets(spec, components, options, &report.buckets));
  Tally(held, &report);
  if (options.keys_limit == 0 || report.complete()) return report;
  RECOVERY_RETURN_IF_ERROR(components.sink->presence()->OpenForReading());
  for (ReconcileBucket& b : report.buckets) {
    if (!b.short_of_vendor()) continue;
    if (b.vendor > options.keys_limit) {
      report.notes.push_back(StrCat("bucket ", FormatRfc3339(b.start), ": ", b.vendor,
                                    " vendor records, over the keys limit (", options.keys_limit,
                                    "): its missing keys are not listed"));
      continue;
    }
    RECOVERY_RETURN_IF_ERROR(ListMissingKeys(spec, components, &b));
  }
  return report;
}

std::string SavedReconcilePath(const JobSpec& spec) { return StrCat(JobFilesDir(spec), "/reconcile.json"); }

absl::Status SaveReconcileReport(const JobSpec& spec, const ReconcileReport& report, absl::Duration bucket,
                                 absl::Time now) {
  RECOVERY_RETURN_IF_ERROR(MakeDirectories(JobFilesDir(spec)));
  std::string doc;
  JsonObjectWriter(&doc).Time("saved_at", now).Raw("reconcile", ReconcileReportJson(report, bucket)).Close();
  return WriteFileAtomically(SavedReconcilePath(spec), doc + "\n");
}

const char* ReconcileStatus(const ReconcileBucket& b) {
  if (b.short_of_vendor()) return b.destination == 0 ? "MISSING" : "SHORT";
  return b.destination > b.vendor ? "more" : "ok";
}

std::string ReconcileReportJson(const ReconcileReport& r, absl::Duration bucket) {
  std::string buckets = "[";
  for (const ReconcileBucket& b : r.buckets) {
    std::string row;
    JsonObjectWriter w(&row);
    w.Str("start", FormatRfc3339(b.start))
        .Str("end", FormatRfc3339(b.end))
        .Uint("vendor", b.vendor)
        .Str("vendor_method", b.vendor_method)
        .Uint("destination", b.destination)
        .Int("difference", b.difference())
        .Str("status", ReconcileStatus(b));
    if (b.reported_total >= 0) w.Int("reported_total", b.reported_total);
    if (b.unusable > 0) w.Uint("unusable", b.unusable);
    if (b.keys_listed) {
      std::string keys = "[";
      for (const std::string& k : b.missing_keys) {
        if (keys.size() > 1) keys.push_back(',');
        AppendJsonString(k, &keys);
      }
      keys.push_back(']');
      w.Raw("missing_keys", keys);
    }
    w.Close();
    StrAppend(&buckets, buckets.size() > 1 ? "," : "", row);
  }
  buckets += "]";
  std::string notes = "[";
  for (const std::string& n : r.notes) {
    StrAppend(&notes, notes.size() > 1 ? "," : "");
    AppendJsonString(n, &notes);
  }
  notes += "]";
  std::string out;
  JsonObjectWriter w(&out);
  w.Int("bucket_seconds", absl::ToInt64Seconds(bucket))
      .Uint("vendor", r.vendor)
      .Uint("destination", r.destination)
      .Int("short_buckets", r.short_buckets)
      .Bool("complete", r.complete())
      .Raw("buckets", buckets)
      .Raw("notes", notes)
      .Close();
  return out;
}

absl::StatusOr<std::string> PlanForShortBuckets(std::string_view spec_json, const ReconcileReport& report) {
  std::vector<const ReconcileBucket*> short_buckets;
  for (const ReconcileBucket& b : report.buckets) {
    if (b.short_of_vendor()) short_buckets.push_back(&b);
  }
  if (short_buckets.empty())
    return absl::FailedPreconditionError("no bucket is short: there is nothing to plan");
  simdjson::dom::parser parser;
  simdjson::dom::object top;
  if (parser.parse(spec_json.data(), spec_json.size()).get(top) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the job spec is not a JSON object");
  }
  // Everything as it was but the window, rewritten; contiguous short
  // buckets are merged into one part.
  std::string out;
  JsonObjectWriter w(&out);
  for (auto [key, value] : top) {
    if (key == "window") continue;
    w.Raw(key, simdjson::minify(value));
  }
  std::string window;
  JsonObjectWriter ww(&window);
  ww.Str("start", FormatRfc3339(short_buckets.front()->start))
      .Str("end", FormatRfc3339(short_buckets.back()->end));
  std::string only = "[";
  for (size_t i = 0; i < short_buckets.size();) {
    size_t j = i;
    while (j + 1 < short_buckets.size() && short_buckets[j + 1]->start == short_buckets[j]->end) ++j;
    std::string part;
    JsonObjectWriter pw(&part);
    pw.Str("start", FormatRfc3339(short_buckets[i]->start))
        .Str("end", FormatRfc3339(short_buckets[j]->end))
        .Close();
    StrAppend(&only, only.size() > 1 ? "," : "", part);
    i = j + 1;
  }
  only += "]";
  ww.Raw("only", only).Close();
  w.Raw("window", window).Close();
  return out;
}

}  // namespace recovery
