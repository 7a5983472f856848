// The tables of the PostgreSQL checkpoint store and dead letters, named
// once: the stores create and use them, and the sink's fence (with its
// checkpoints in the same database) reads the checkpoint table.
//
//   <schema>.recovery_checkpoints  one row per (job, shard): the encoded
//       checkpoint (EncodeCheckpoint, checksummed; NULL until saved), copies
//       of its state, records_delivered, progress and updated for SQL
//       dashboards, and lease_owner, lease_expires, fencing_token: who runs
//       the shard. The database's clock decides expiry, so workers' clocks
//       need not agree.
//   <schema>.recovery_dead_letters  one row per (job, shard, cursor, index).
//   <schema>.recovery_dead_letter_marks  what replays made of each letter.
//   <schema>.recovery_delivered_keys  the delivered-keys logs
//       (CheckpointStore::delivered_keys): one row per appended run of key
//       hashes (job, shard, the entry it starts at), 8 bytes a hash, with the
//       fencing token of the lease that wrote it.
//   <schema>.recovery_meta  checkpoint_schema_version.
#ifndef RECOVERY_POSTGRES_SCHEMA_H_
#define RECOVERY_POSTGRES_SCHEMA_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "postgres/pg.h"

namespace recovery {

// The version written to recovery_meta; a newer one is refused, naming both.
inline constexpr int kPostgresSchemaVersion = 1;

// The quoted, schema-qualified table names.
struct PostgresTables {
  explicit PostgresTables(std::string_view schema);
  std::string checkpoints, dead_letters, letter_marks, delivered_keys, meta;
};

// Creates what is missing, in one transaction under an advisory lock, so
// workers starting at once do not race; FailedPrecondition when the database
// holds a newer schema version than this library. `describe` names the
// database in errors (never its password).
absl::Status EnsurePostgresSchema(pg::Connection& c, const PostgresTables& t, std::string_view describe);

}  // namespace recovery

#endif  // RECOVERY_POSTGRES_SCHEMA_H_
