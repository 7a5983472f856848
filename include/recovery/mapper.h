// Mappers turn one raw record into one mapped record, drop it, or reject it
// with a reason (the record then goes to dead letters).
#ifndef RECOVERY_MAPPER_H_
#define RECOVERY_MAPPER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "recovery/export.h"
#include "recovery/record.h"
#include "recovery/shard.h"
#include "recovery/source.h"

namespace recovery {

enum class MapOutcome {
  kEmitted,   // one record was appended to the output batch
  kDropped,   // deliberately skipped (a filter); counted, not dead-lettered
  kRejected,  // unusable; `reason` says why and the raw record is dead-lettered
};

// Thread-safe: Map() is called concurrently for different shards.
class RECOVERY_EXPORT Mapper {
 public:
  Mapper() = default;
  Mapper(const Mapper&) = delete;
  Mapper& operator=(const Mapper&) = delete;
  virtual ~Mapper() = default;

  // Maps `raw` for `shard`. On kEmitted appends exactly one record to `out`;
  // on kRejected sets `*reason`. The engine drops emitted records whose event
  // time lies outside the shard (unless it is kUnknownEventTime).
  virtual MapOutcome Map(const RawRecord& raw, const Shard& shard, RecordBatch* out,
                         std::string* reason) const = 0;

  // The event time of `raw` when it can be read, else kUnknownEventTime. The
  // engine asks only about records Map() rejected, to tell a record of
  // another shard (which an API that ignores its window filter returned) from
  // a bad record of this one. Default: unknown.
  virtual absl::Time EventTimeOf(const RawRecord& raw) const { return kUnknownEventTime; }

  // The key of `raw` when it can be read, else empty. The engine asks only
  // about records Map() rejected, so that their dead letters (and the key
  // log) name them. Default: unknown.
  virtual std::string KeyOf(const RawRecord& raw) const { return {}; }
};

// The declarative JSON mapper, configured by the job spec's "mapper" section
// as JSON text (docs/job-spec.md). InvalidArgument naming the JSON path on a
// bad config. The same mapper with typed options: recovery/json_mapper.h.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Mapper>> NewJsonMapper(std::string_view config_json);

}  // namespace recovery

#endif  // RECOVERY_MAPPER_H_
