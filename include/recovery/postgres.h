// The PostgreSQL built-ins: a sink that upserts into a table, a checkpoint
// store shared by workers on many hosts (leases and fencing tokens), and a
// dead-letter table. Each connects on first use, so creating one does no I/O.
#ifndef RECOVERY_POSTGRES_H_
#define RECOVERY_POSTGRES_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/export.h"
#include "recovery/sink.h"

namespace recovery {

struct PostgresColumn {
  std::string name;  // the table's column
  // Where the value comes from: a JSON pointer into the mapped record
  // ("/amount"; missing or null is SQL NULL), or "$key" (the idempotency
  // key), "$event_time" (RFC 3339, NULL when unknown), "$record" (the whole
  // mapped record, for a json/jsonb column); or the row's provenance, so
  // that recovered rows can be told from a live feed's: "$job" (the job's
  // name), "$run_id" (this run of it: a resumed job is a new run),
  // "$shard" (the shard's id), "$recovered_at" (when the batch was
  // written, RFC 3339). $run_id and $recovered_at cannot be conflict columns.
  std::string from;
};

enum class PostgresConflict {
  kNothing,  // ON CONFLICT DO NOTHING: the first delivery of a key wins
  kUpdate,   // ON CONFLICT DO UPDATE: the latest delivery of a key wins
  // ON CONFLICT DO UPDATE … WHERE the stored row's version is lower than the
  // incoming one (or NULL): a stale recovered copy never overwrites a newer
  // row the live feed wrote; equal versions leave the row alone.
  kNewer,
};

struct PostgresSinkOptions {
  std::string dsn;    // libpq connection string, required; its password never appears in messages
  std::string table;  // "name" or "schema.name", required; must exist
  std::vector<PostgresColumn> columns;  // at least one
  // The columns of the unique index that identifies a record (the ON
  // CONFLICT target). Default: the column filled from "$key".
  std::vector<std::string> conflict_columns;
  PostgresConflict on_conflict = PostgresConflict::kNothing;
  // With kNewer: the column holding each row's version, one of `columns`
  // (filled from a JSON pointer such as "/updated_at", or "$event_time"),
  // not a conflict column. Compared with <, so any ordered type works.
  std::string version_column;
  int rows_per_statement = 1000;  // multi-row INSERTs of at most this many rows, 1 to 10000
  // Batches of at least this many rows go through COPY into a temporary
  // table, then one INSERT … SELECT … ON CONFLICT, instead of multi-row
  // INSERTs; a row the database refuses then sends the batch down the INSERT
  // path, which isolates it into the dead letters. 0: never. COPY is the
  // faster from about 200 rows a batch (benchmarks/README.md).
  int copy_min_rows = 200;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration statement_timeout = absl::Minutes(1);
  // The schema of the PostgreSQL checkpoint store's tables when they are in
  // this sink's database (a job spec sets it when checkpoint.dsn is the
  // sink's dsn). A batch written under a lease (WriteRequest::fence) then first
  // locks the shard's checkpoint row in the same transaction and is refused
  // unless the lease's fencing token is still the newest, so a worker that
  // was taken over cannot land a batch after its successor started. Empty:
  // writes are not fenced.
  std::string fence_schema;
};

// Upserts each batch into a table in one transaction (multi-row INSERT …
// ON CONFLICT on the idempotency key), so redelivery after a crash is
// harmless: exactly once at the table. Offers the presence check: one
// SELECT per page joins the page's conflict-column values to the table
// through its unique index. Open() checks that the table, the
// columns and a unique index on the conflict columns exist, and each value's
// JSON type against its column's type. A row the database refuses (a
// constraint, bad input syntax, out of range) goes to dead letters with the
// database's message while the rest of its batch commits. Write() may be
// called concurrently.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewPostgresSink(PostgresSinkOptions options);

struct PostgresCheckpointOptions {
  // libpq connection string ("host=… dbname=…" or "postgresql://…"), required.
  // A password in it never appears in messages.
  std::string dsn;
  // Schema of the store's tables (recovery_meta, recovery_checkpoints); it
  // must exist. Default "public".
  std::string schema = "public";
  // A claimed shard is the claimer's until this long after its last renewal;
  // renewed every lease / 3. >= 1 s.
  absl::Duration lease = absl::Seconds(30);
  // Names this worker in leases; default "<hostname>:<pid>:<random>".
  std::string owner;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// Every job's checkpoints in one PostgreSQL table, shared by any number of
// workers on any number of hosts, with per-shard leases and fencing tokens
// (see ShardLease), and each shard's delivered keys in another
// (CheckpointStore::delivered_keys, written under the same fencing
// tokens). The tables are created on first use, under a versioned schema
// (recovery_meta.schema_version); a newer schema than this library knows is
// refused. Connects on first use, so creating it does no I/O.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<CheckpointStore>> NewPostgresCheckpointStore(
    PostgresCheckpointOptions options);

// Session advisory locks in the database of `options` (its dsn and
// connect_timeout), for HttpOAuth2::hosts_lock: each call opens a connection
// of its own, waits at most `wait` for the lock on the name, and holds it
// until the returned lock is destroyed (or the connection drops, as when the
// process dies). Unavailable, naming the database and the wait, when the
// database cannot be reached or another holder keeps the lock longer.
RECOVERY_EXPORT std::function<absl::StatusOr<std::unique_ptr<JobLock>>(std::string_view name)>
PostgresAdvisoryLocks(PostgresCheckpointOptions options, absl::Duration wait = absl::Minutes(2));

struct PostgresDeadLetterOptions {
  std::string dsn;                // libpq connection string, required; its password never appears in messages
  std::string schema = "public";  // of the table recovery_dead_letters; must exist
  absl::Duration connect_timeout = absl::Seconds(10);
  // False: a letter keeps its reason, place, key and event time, not the raw
  // record (stored empty), and cannot be replayed.
  bool keep_raw = true;
};

// Dead letters in the table recovery_dead_letters (created on first use,
// under the same versioned schema as the checkpoint store's tables), keyed by
// (job, shard, cursor, index) so a redelivered page adds its letters once.
// Shared by every worker; the default for jobs whose checkpoints are in
// PostgreSQL.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewPostgresDeadLetterStore(
    PostgresDeadLetterOptions options);

}  // namespace recovery

#endif  // RECOVERY_POSTGRES_H_
