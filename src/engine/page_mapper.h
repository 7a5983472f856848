// One page on its way through the engine: what the mapper made of each raw
// record. Pure: no I/O, no shared state.
#ifndef RECOVERY_ENGINE_PAGE_MAPPER_H_
#define RECOVERY_ENGINE_PAGE_MAPPER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "recovery/mapper.h"
#include "recovery/record.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// A record bound for the dead letters, held until its page commits.
struct PendingDeadLetter {
  size_t index;  // of the raw record in its page
  std::string_view raw;  // into the page
  std::string reason;
  std::string_view source_id;  // into the page
};

struct MappedPage {
  RecordBatch batch;                    // the records to deliver
  std::vector<uint32_t> origin;         // batch record -> index of its raw record
  std::vector<RecordOutcome> outcomes;  // one per raw record; the sink's rejections update it
  std::vector<PendingDeadLetter> dead;
  std::vector<SinkRejection> rejected;  // filled by the sink
  // The latest event time delivered in the shard's window, or InfinitePast.
  absl::Time max_event_time = absl::InfinitePast();

  // Ready for a page of `raw_records`; keeps the buffers.
  void Clear(size_t raw_records);
};

// Maps every record of `records` for `shard` into `out` (cleared first). An
// emitted record outside the shard's window is dropped as out of window. A
// record that cannot be mapped is a pending dead letter when `owns_rejects`,
// else out of window (see Source::partitions_by_shard: another shard owns it).
void MapPage(const Mapper& mapper, const Shard& shard, const RawBatch& records, bool owns_rejects,
             MappedPage* out);

// The sink refused these records of the batch: they become dead letters with
// the sink's reason. InternalError when the sink named a record it was not given.
absl::Status ApplySinkRejections(const RawBatch& records, MappedPage* page);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_PAGE_MAPPER_H_
