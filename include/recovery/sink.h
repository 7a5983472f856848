// Sinks receive batches of mapped records and acknowledge them durably.
#ifndef RECOVERY_SINK_H_
#define RECOVERY_SINK_H_

#include <functional>
#include <memory>
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

struct SinkOpenContext {
  // True when the job has run before (some shard has a checkpoint). A sink
  // must then roll back to what `committed_tokens` says was acknowledged.
  bool resuming = false;
  // The commit token stored in each shard checkpoint that has one.
  std::vector<std::string> committed_tokens;
};

// A record the destination will never accept (over its size limit, against a
// constraint). It goes to dead letters with `reason`; the rest of its batch
// counts as delivered.
struct SinkRejection {
  size_t index = 0;  // into the batch
  std::string reason;
};

// Write() may be called concurrently for different shards unless
// serialize_commits() is true, in which case the engine serializes Write() and
// the checkpoint save that follows it across all shards.
class RECOVERY_EXPORT Sink {
 public:
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  virtual ~Sink() = default;

  // Called once before the first Write().
  virtual absl::Status Open(const SinkOpenContext& context) { return absl::OkStatus(); }

  // Delivers `batch`. OK means every record is durably acknowledged, except
  // those the sink appended to `rejected` (empty on entry). Returns a commit
  // token describing the sink's state after this batch (empty when the sink
  // has none), stored in the shard's checkpoint with the cursor. On error the
  // sink should undo what it wrote, if it can; a retried batch carries
  // maybe_redelivered.
  virtual absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& batch,
                                            std::vector<SinkRejection>* rejected) = 0;

  // Called once after the last Write().
  virtual absl::Status Close() { return absl::OkStatus(); }

  // True when commit tokens describe the whole sink rather than one shard
  // (one shared file), so commits must not interleave.
  virtual bool serialize_commits() const { return false; }
};

enum class JsonlFormat {
  kPayload,   // one mapped payload per line
  kEnvelope,  // {"key":…,"event_time":…,"maybe_redelivered":…,"data":payload}
};

struct JsonlFileSinkOptions {
  std::string path;  // required
  JsonlFormat format = JsonlFormat::kPayload;
  // A fresh job refuses to append to a non-empty file unless this is set, in
  // which case the file is truncated.
  bool overwrite = false;
  bool fsync = true;  // fdatasync before acknowledging; off only for tests
};

// Exactly-once JSON-lines file: the commit token is the file's committed
// length; on resume the file is truncated to the largest committed length,
// removing any batch that was written but not checkpointed.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewJsonlFileSink(JsonlFileSinkOptions options);

using SinkCallback = std::function<absl::Status(const Shard&, absl::Span<const Record>)>;

// Calls `callback` for each batch; returning OK acknowledges it. When
// `serialize` is true (the default) calls never overlap, so the callback need
// not be thread-safe.
RECOVERY_EXPORT std::unique_ptr<Sink> NewCallbackSink(SinkCallback callback, bool serialize = true);

struct PostgresColumn {
  std::string name;  // the table's column
  // Where the value comes from: a JSON pointer into the mapped record
  // ("/amount"; missing or null is SQL NULL), or "$key" (the idempotency
  // key), "$event_time" (RFC 3339, NULL when unknown), "$record" (the whole
  // mapped record, for a json/jsonb column).
  std::string from;
};

enum class PostgresConflict {
  kNothing,  // ON CONFLICT DO NOTHING: the first delivery of a key wins
  kUpdate,   // ON CONFLICT DO UPDATE: the latest delivery of a key wins
};

struct PostgresSinkOptions {
  std::string dsn;    // libpq connection string, required; its password never appears in messages
  std::string table;  // "name" or "schema.name", required; must exist
  std::vector<PostgresColumn> columns;  // at least one
  // The columns of the unique index that identifies a record (the ON
  // CONFLICT target). Default: the column filled from "$key".
  std::vector<std::string> conflict_columns;
  PostgresConflict on_conflict = PostgresConflict::kNothing;
  int rows_per_statement = 1000;  // multi-row INSERTs of at most this many rows, 1 to 10000
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration statement_timeout = absl::Minutes(1);
};

// Upserts each batch into a table in one transaction (multi-row INSERT …
// ON CONFLICT on the idempotency key), so redelivery after a crash is
// harmless: exactly once at the table. Open() checks that the table, the
// columns and a unique index on the conflict columns exist, and each value's
// JSON type against its column's type. A row the database refuses (a
// constraint, bad input syntax, out of range) goes to dead letters with the
// database's message while the rest of its batch commits. Write() may be
// called concurrently.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewPostgresSink(PostgresSinkOptions options);

// Acknowledges and discards everything.
RECOVERY_EXPORT std::unique_ptr<Sink> NewNullSink();

}  // namespace recovery

#endif  // RECOVERY_SINK_H_
