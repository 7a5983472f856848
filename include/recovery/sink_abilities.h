// What a sink may be able to do besides writing: tell which records the
// destination already holds, and count them by event time. A sink offers
// each through an accessor (Sink::presence(), Sink::counter()) that returns
// null when it cannot.
#ifndef RECOVERY_SINK_ABILITIES_H_
#define RECOVERY_SINK_ABILITIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/export.h"
#include "recovery/record.h"
#include "recovery/shard.h"

namespace recovery {

// A sink's answer to "which of these records do you already hold?".
struct PresenceAnswer {
  std::vector<bool> present;  // one per record asked about; all false on entry
  // Keys the destination named that were not asked about: ignored (the
  // engine logs the first once per job).
  std::vector<std::string> unasked;
};

// The presence check behind the job's skip_already_present and reconcile
// --keys: which records of a page the destination already holds, by the same
// identity it deduplicates on. Owned by its sink (Sink::presence()).
class RECOVERY_EXPORT PresenceCheck {
 public:
  virtual ~PresenceCheck() = default;
  // Answers for one page, ideally in one round trip. Called after the sink's
  // Open() (or OpenForReading()), possibly concurrently for different shards.
  // An error is retried like a failed Write() when transient (Unavailable, …)
  // and stops the shard, its checkpoint intact, when not.
  virtual absl::Status Check(const Shard& shard, absl::Span<const Record> records,
                             PresenceAnswer* answer) = 0;
  // Instead of the sink's Open(), for reconcile --keys: prepares Check()
  // while writing nothing and leaving the destination as it is (the
  // PostgreSQL sink reads its table's columns). No Write() follows.
  virtual absl::Status OpenForReading() { return absl::OkStatus(); }
  // True when Check() reads nothing of a record but its key, so that records
  // carrying a key alone get a true answer: `recovery find` then asks the
  // destination about keys. False (the default) when it needs more of the
  // record (a PostgreSQL table whose conflict columns come from its fields).
  virtual bool answers_by_key() const { return false; }
};

// For reconcile (include/recovery/reconcile.h): how many records the
// destination holds per time bucket, by the event time it keeps with each.
// Owned by its sink (Sink::counter()).
class RECOVERY_EXPORT DestinationCounter {
 public:
  virtual ~DestinationCounter() = default;
  // `buckets` consecutive buckets of `width` from `start`. Reads only; called
  // without the sink's Open(), and must leave the destination as it is.
  virtual absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                                 size_t buckets) = 0;
};

// A record the destination will never accept (over its size limit, against a
// constraint). It goes to dead letters with `reason`; the rest of its batch
// counts as delivered.
struct SinkRejection {
  size_t index = 0;  // into the batch
  std::string reason;
};

// For `recovery probe`: would the destination take the mapped records, and
// does its shape match the sink's options? Reads only (the destination's
// catalog), never writes. Owned by its sink (Sink::shape_check()).
class RECOVERY_EXPORT ShapeCheck {
 public:
  virtual ~ShapeCheck() = default;
  // Reads the destination's shape and checks the sink's options against it
  // (PostgreSQL: the table, its columns and their types, the unique index
  // on the conflict columns); InvalidArgument naming every mismatch. Called
  // instead of the sink's Open(); writes nothing.
  virtual absl::Status Inspect() = 0;
  // After Inspect(): one entry per record the destination would refuse
  // (`index` into `records`), saying why (a value its column cannot hold, an
  // empty value for a NOT NULL column). Writes nothing.
  virtual absl::Status Refusals(absl::Span<const Record> records, std::vector<SinkRejection>* refused) = 0;
};

}  // namespace recovery

#endif  // RECOVERY_SINK_ABILITIES_H_
