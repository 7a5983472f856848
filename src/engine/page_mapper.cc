#include "engine/page_mapper.h"

#include <algorithm>

#include "recovery/checkpoint.h"
#include "util/hash.h"
#include "util/strings.h"

namespace recovery {

void MappedPage::Clear(size_t raw_records) {
  batch.Clear();
  origin.clear();
  outcomes.assign(raw_records, RecordOutcome::kDelivered);
  dead.clear();
  written = WriteResult();
  max_event_time = absl::InfinitePast();
  other_shards = 0;
  present_event_times.clear();
  outside_job_times.clear();
  key_hashes.assign(hash_keys ? raw_records : 0, 0);
  sorted_end = absl::InfinitePast();
  sorted_end_keys.clear();
  out_of_order = false;
}

bool RejectClaims::Claim(std::string_view raw) {
  const std::pair<uint64_t, uint64_t> hash{StableHash64(raw, 0), StableHash64(raw, 1)};
  absl::MutexLock lock(&mu_);
  return claimed_.insert(hash).second;
}

size_t RejectClaims::size() const {
  absl::MutexLock lock(&mu_);
  return claimed_.size();
}

namespace {

// Whether this shard dead-letters a record the mapper rejected, whose event
// time is `t` (kUnknownEventTime when it cannot be read).
bool OwnsReject(const Shard& shard, const RawRecord& raw, absl::Time t, bool owns_rejects,
                RejectClaims* claims) {
  if (t != kUnknownEventTime) return t >= shard.start && t < shard.end;  // outside: another shard's
  if (!owns_rejects) return false;
  return claims == nullptr || claims->Claim(raw.data);
}

// Whether `t`, outside the job's window, is within a day of it: the records
// whose hours the checkpoint keeps (MappedPage::outside_job_times). An API
// that ignores its filter may return years: those are counted, not kept by
// the hour.
bool NearJob(const JobWindow& job, absl::Time t) {
  return t >= job.start - absl::Hours(24) && t < job.end + absl::Hours(24);
}

}  // namespace

void MapPage(const Mapper& mapper, const Shard& shard, const JobWindow& job, const RawBatch& records,
             bool owns_rejects, RejectClaims* claims, MappedPage* out) {
  out->Clear(records.size());
  thread_local std::string reason;              // reused: no allocation per record
  auto outside = [&](size_t i, absl::Time t) {  // t unknown: a reject another shard owns
    out->outcomes[i] = RecordOutcome::kOutOfWindow;
    const bool other_shard = t == kUnknownEventTime || (t >= job.start && t < job.end);
    out->other_shards += other_shard;
    if (!other_shard && NearJob(job, t)) out->outside_job_times.push_back(t);
    // The key log tells of a record where its own shard read it.
    if (other_shard && out->hash_keys) out->key_hashes[i] = 0;
  };
  auto reject = [&](size_t i, const RawRecord& raw, std::string why) {
    const absl::Time t = raw.error.empty() ? mapper.EventTimeOf(raw) : kUnknownEventTime;
    if (OwnsReject(shard, raw, t, owns_rejects, claims)) {
      std::string key = raw.error.empty() ? mapper.KeyOf(raw) : std::string();
      if (out->hash_keys && !key.empty()) out->key_hashes[i] = StableKeyHash(key);
      out->dead.push_back({i, raw.data, std::move(why), raw.id, std::move(key), t});
      out->outcomes[i] = RecordOutcome::kDeadLettered;
    } else {
      outside(i, t);
    }
  };
  const auto& raw_records = records.records();
  for (size_t i = 0; i < raw_records.size(); ++i) {
    const RawRecord& raw = raw_records[i];
    if (!raw.error.empty()) {
      reject(i, raw, std::string(raw.error));
      continue;
    }
    reason.clear();
    switch (mapper.Map(raw, shard, &out->batch, &reason)) {
      case MapOutcome::kEmitted: {
        const absl::Time t = out->batch.back().event_time;
        if (out->hash_keys) out->key_hashes[i] = StableKeyHash(out->batch.back().key);
        if (t != kUnknownEventTime && (t < shard.start || t >= shard.end)) {
          out->batch.PopBack();
          outside(i, t);
        } else {
          if (t != kUnknownEventTime) out->max_event_time = std::max(out->max_event_time, t);
          out->origin.push_back(static_cast<uint32_t>(i));
        }
        break;
      }
      case MapOutcome::kDropped:
        out->outcomes[i] = RecordOutcome::kDropped;
        if (out->hash_keys) {  // a mapper that filters may still read the key
          const std::string key = mapper.KeyOf(raw);
          if (!key.empty()) out->key_hashes[i] = StableKeyHash(key);
        }
        break;
      case MapOutcome::kRejected:
        reject(i, raw, reason.empty() ? "rejected by the mapper" : reason);
        break;
    }
  }
}

void KeepFirstMapped(const Mapper& mapper, const JobWindow& job, const RawBatch& records, size_t n,
                     MappedPage* out) {
  if (n >= out->outcomes.size()) return;
  while (!out->origin.empty() && out->origin.back() >= n) {
    out->batch.PopBack();
    out->origin.pop_back();
  }
  out->outcomes.resize(n);
  if (out->hash_keys) out->key_hashes.resize(n);
  out->dead.erase(std::remove_if(out->dead.begin(), out->dead.end(),
                                 [n](const PendingDeadLetter& d) { return d.index >= n; }),
                  out->dead.end());
  // Counted again for what is kept, as MapPage counted them.
  out->other_shards = 0;
  out->outside_job_times.clear();
  for (size_t i = 0; i < n; ++i) {
    if (out->outcomes[i] != RecordOutcome::kOutOfWindow) continue;
    const RawRecord& raw = records.records()[i];
    const absl::Time t = raw.error.empty() ? mapper.EventTimeOf(raw) : kUnknownEventTime;
    const bool other_shard = t == kUnknownEventTime || (t >= job.start && t < job.end);
    out->other_shards += other_shard;
    if (!other_shard && NearJob(job, t)) out->outside_job_times.push_back(t);
  }
  out->max_event_time = absl::InfinitePast();
  for (const Record& r : out->batch.records()) {
    if (r.event_time != kUnknownEventTime) out->max_event_time = std::max(out->max_event_time, r.event_time);
  }
}

absl::Status ApplyWriteResult(const RawBatch& records, MappedPage* page) {
  const WriteResult& written = page->written;
  const size_t n = page->origin.size();
  std::vector<bool> named(written.rejected.size() + written.already_present.size() > 0 ? n : 0, false);
  auto name = [&](size_t index, std::string_view what) -> absl::StatusOr<uint32_t> {
    if (index >= n)
      return absl::InternalError(StrCat("the sink ", what, " record ", index, " of a batch of ", n));
    if (named[index]) {
      return absl::InternalError(
          StrCat("the sink said twice what became of record ", index, " of a batch of ", n));
    }
    named[index] = true;
    return page->origin[index];
  };
  for (const SinkRejection& r : written.rejected) {
    absl::StatusOr<uint32_t> i = name(r.index, "rejected");
    if (!i.ok()) return i.status();
    const RawRecord& raw = records.records()[*i];
    page->outcomes[*i] = RecordOutcome::kDeadLettered;
    const Record& record = page->batch.records()[r.index];
    page->dead.push_back({*i, raw.data, StrCat("rejected by the sink: ", r.reason), raw.id,
                          std::string(record.key), record.event_time});
  }
  for (size_t index : written.already_present) {
    absl::StatusOr<uint32_t> i = name(index, "said it already held");
    if (!i.ok()) return i.status();
    page->outcomes[*i] = RecordOutcome::kAlreadyPresent;
    page->present_event_times.push_back(page->batch.records()[index].event_time);
  }
  return absl::OkStatus();
}

}  // namespace recovery
