// Mapped records and the batches that carry them from the mapper to a sink.
#ifndef RECOVERY_RECORD_H_
#define RECOVERY_RECORD_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/export.h"

namespace recovery {

// Event time of a record whose mapping extracts none. Such records are never
// dropped by the window filter.
inline constexpr absl::Time kUnknownEventTime = absl::InfinitePast();

// One mapped record. The views point into the RecordBatch that holds it and
// stay valid until that batch is cleared or destroyed.
struct Record {
  std::string_view key;  // stable idempotency key; sinks may dedupe on it
  absl::Time event_time = kUnknownEventTime;
  std::string_view payload;  // the mapped record, compact JSON for built-ins
  // Set only on records of a batch that may have reached the sink before
  // (the batch in flight at a crash, or a batch retried after a sink error).
  bool maybe_redelivered = false;
};

namespace internal {

// Bump allocator whose blocks never move, so views into it stay valid while
// it grows. Clear() keeps the blocks: a reused arena allocates nothing.
class RECOVERY_EXPORT Arena {
 public:
  Arena() = default;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Copies `bytes` followed by `padding` readable (unspecified) bytes.
  std::string_view Copy(std::string_view bytes, size_t padding = 0);
  void Clear();
  size_t bytes_used() const { return used_total_; }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  std::vector<Block> blocks_;
  size_t current_ = 0;  // index of the block being filled
  size_t offset_ = 0;   // fill level of blocks_[current_]
  size_t used_total_ = 0;
};

}  // namespace internal

// A batch of mapped records that owns their bytes. Not thread-safe; the engine
// hands a batch to one sink call at a time.
class RECOVERY_EXPORT RecordBatch {
 public:
  RecordBatch() = default;
  RecordBatch(RecordBatch&&) noexcept = default;
  RecordBatch& operator=(RecordBatch&&) noexcept = default;

  // Copies key and payload into the batch.
  void Add(std::string_view key, absl::Time event_time, std::string_view payload,
           bool maybe_redelivered = false);
  // Removes the last record (its bytes stay allocated until Clear()).
  void PopBack() { records_.pop_back(); }
  // Sets maybe_redelivered on every record.
  void MarkRedelivered();
  // Empties the batch, keeping its memory for reuse.
  void Clear();

  absl::Span<const Record> records() const { return records_; }
  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const Record& back() const { return records_.back(); }
  // Bytes of keys and payloads held.
  size_t payload_bytes() const { return arena_.bytes_used(); }

 private:
  internal::Arena arena_;
  std::vector<Record> records_;
};

}  // namespace recovery

#endif  // RECOVERY_RECORD_H_
