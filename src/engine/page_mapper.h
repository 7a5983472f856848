// One page on its way through the engine: what the mapper made of each raw
// record. No I/O; the only state it shares is RejectClaims, which is thread-safe.
#ifndef RECOVERY_ENGINE_PAGE_MAPPER_H_
#define RECOVERY_ENGINE_PAGE_MAPPER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recovery/mapper.h"
#include "recovery/record.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// A record bound for the dead letters, held until its page commits.
struct PendingDeadLetter {
  size_t index;          // of the raw record in its page
  std::string_view raw;  // into the page
  std::string reason;
  std::string_view source_id;  // into the page
  // When the mapping got that far: the record's key, and its event time.
  std::string key;
  absl::Time event_time = kUnknownEventTime;
};

struct MappedPage {
  RecordBatch batch;                    // the records to deliver
  std::vector<uint32_t> origin;         // batch record -> index of its raw record
  std::vector<RecordOutcome> outcomes;  // one per raw record; the sink's rejections update it
  std::vector<PendingDeadLetter> dead;
  WriteResult written;  // the sink's answer to the batch
  // Records out of the shard's window but inside the job's (JobWindow):
  // another shard's. Counted among the out-of-window ones too.
  uint64_t other_shards = 0;
  // The latest event time delivered in the shard's window, or InfinitePast.
  absl::Time max_event_time = absl::InfinitePast();
  // Event times of the records taken out of `batch` because the sink already
  // held them (skip_already_present): the destination has them, so coverage
  // counts them.
  std::vector<absl::Time> present_event_times;
  // Event times of the out-of-window records outside the job's window too
  // (not another shard's) but within a day of it, for the per-hour outcomes.
  std::vector<absl::Time> outside_job_times;
  // With hash_keys (set once, kept by Clear): each raw record's key hash
  // (StableKeyHash), 0 where its key could not be read; for the key log.
  bool hash_keys = false;
  std::vector<uint64_t> key_hashes;
  // With Engine::sorted_restarts (NoteSortedEnd): the sort time of the page's
  // last record, the key hashes of its records at that time, and whether the
  // page came out of order.
  absl::Time sorted_end = absl::InfinitePast();
  std::vector<uint64_t> sorted_end_keys;
  bool out_of_order = false;

  // Ready for a page of `raw_records`; keeps the buffers.
  void Clear(size_t raw_records);
};

// Which shard dead-letters a bad record whose event time cannot be read: the
// first to claim it, once per job, however many shards an API that ignores
// its window filter hands it to. Records are known by a hash of their bytes.
// Thread-safe.
class RejectClaims {
 public:
  // True the first time `raw` is claimed (or added).
  bool Claim(std::string_view raw);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> claimed_ ABSL_GUARDED_BY(mu_);  // 128-bit hashes
};

// Maps every record of `records` for `shard` into `out` (cleared first). An
// emitted record outside the shard's window is dropped as out of window; so is
// a rejected one whose event time the mapper can still read
// (Mapper::EventTimeOf) and that lies outside. A rejected record inside the
// window is a pending dead letter. One whose time cannot be read is a pending
// dead letter when `owns_rejects` and `claims` (may be null) gives it to this
// shard, else out of window: another shard owns it.
// `job` is the job's whole window: a record outside `shard` but inside `job`
// is another shard's (MappedPage::other_shards).
struct JobWindow {
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
};
void MapPage(const Mapper& mapper, const Shard& shard, const JobWindow& job, const RawBatch& records,
             bool owns_rejects, RejectClaims* claims, MappedPage* out);

// Keeps only what MapPage made of the first `n` raw records of `records`
// (the page cut of page_cut.h); `mapper` and `job` as MapPage had them.
void KeepFirstMapped(const Mapper& mapper, const JobWindow& job, const RawBatch& records, size_t n,
                     MappedPage* out);

// What the sink said of the batch's records (page->written): those it refused
// become dead letters with its reason, those it already held count as already
// present. InternalError when it named a record it was not given, or one twice.
absl::Status ApplyWriteResult(const RawBatch& records, MappedPage* page);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_PAGE_MAPPER_H_
