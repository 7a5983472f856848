#include "postgres/schema.h"

#include "absl/strings/numbers.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Serializes schema creation across workers starting at once.
constexpr int64_t kSchemaLockKey = 0x7265636f76657279;  // "recovery"
constexpr int kSchemaVersion = kPostgresSchemaVersion;

// What later releases added beside schema version 1 without changing it, so
// that older workers sharing the database keep working (they never read it).
absl::Status AddTablesOfLaterReleases(pg::Connection& c, const PostgresTables& t) {
  // What replays made of dead letters.
  RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", t.letter_marks, R"( (
    job text NOT NULL,
    shard text NOT NULL,
    cursor text NOT NULL,
    record_index integer NOT NULL,
    replay text NOT NULL,
    outcome text NOT NULL,
    reason text,
    marked_at timestamptz NOT NULL,
    PRIMARY KEY (job, shard, cursor, record_index, replay)))")));
  // A letter's key and event time, kept even without its raw record
  // (dead_letters.keep_raw, purge).
  RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("ALTER TABLE IF EXISTS ", t.dead_letters,
                                        " ADD COLUMN IF NOT EXISTS record_key text, ADD COLUMN IF NOT EXISTS "
                                        "event_time timestamptz")));
  // The delivered-keys logs (only a worker that knows them runs a job
  // whose cursors may expire with these checkpoints).
  RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", t.delivered_keys, R"( (
    job text NOT NULL,
    shard text NOT NULL,
    at bigint NOT NULL,
    fencing_token bigint NOT NULL,
    hashes bytea NOT NULL,
    PRIMARY KEY (job, shard, at)))")));
  return absl::OkStatus();
}

}  // namespace

PostgresTables::PostgresTables(std::string_view schema)
    : checkpoints(StrCat(pg::QuoteIdent(schema), ".recovery_checkpoints")),
      dead_letters(StrCat(pg::QuoteIdent(schema), ".recovery_dead_letters")),
      letter_marks(StrCat(pg::QuoteIdent(schema), ".recovery_dead_letter_marks")),
      delivered_keys(StrCat(pg::QuoteIdent(schema), ".recovery_delivered_keys")),
      meta(StrCat(pg::QuoteIdent(schema), ".recovery_meta")) {}

absl::Status EnsurePostgresSchema(pg::Connection& c, const PostgresTables& t, std::string_view describe) {
  RECOVERY_RETURN_IF_ERROR(c.Run("BEGIN"));
  absl::Status s = [&]() -> absl::Status {
    RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("SELECT pg_advisory_xact_lock(", kSchemaLockKey, ")")));
    RECOVERY_RETURN_IF_ERROR(
        c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", t.meta, " (key text PRIMARY KEY, value text NOT NULL)")));
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c.Exec(StrCat("SELECT value FROM ", t.meta,
                                                          " WHERE key = 'checkpoint_schema_version'")));
    int version = 0;
    if (r.rows() > 0 && !absl::SimpleAtoi(ToAbsl(r.Get(0, 0)), &version)) {
      return absl::DataLossError(StrCat(describe, ": ", t.meta, ".checkpoint_schema_version is \"",
                                        r.Get(0, 0), "\", not a number"));
    }
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(StrCat(describe, ": the checkpoint tables have schema version ",
                                                  version, ", newer than this library's (", kSchemaVersion,
                                                  "): upgrade recovery"));
    }
    RECOVERY_RETURN_IF_ERROR(AddTablesOfLaterReleases(c, t));
    if (version == kSchemaVersion) return absl::OkStatus();
    RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", t.checkpoints, R"( (
      job text NOT NULL,
      shard text NOT NULL,
      checkpoint text,
      state text NOT NULL DEFAULT 'pending',
      records_delivered bigint NOT NULL DEFAULT 0,
      progress double precision NOT NULL DEFAULT 0,
      lease_owner text,
      lease_expires timestamptz,
      fencing_token bigint NOT NULL DEFAULT 0,
      updated timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (job, shard)))")));
    RECOVERY_RETURN_IF_ERROR(c.Run(StrCat("CREATE TABLE IF NOT EXISTS ", t.dead_letters, R"( (
      job text NOT NULL,
      shard text NOT NULL,
      cursor text NOT NULL,
      record_index integer NOT NULL,
      reason text NOT NULL,
      raw bytea NOT NULL,
      source_id text,
      rejected_at timestamptz NOT NULL,
      record_key text,
      event_time timestamptz,
      PRIMARY KEY (job, shard, cursor, record_index)))")));
    return c.Run(StrCat("INSERT INTO ", t.meta, " VALUES ('checkpoint_schema_version', '", kSchemaVersion,
                        "') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"));
  }();
  if (!s.ok()) {
    (void)c.Run("ROLLBACK");
    return absl::Status(s.code(), StrCat("creating the checkpoint tables: ", s.message()));
  }
  return c.Run("COMMIT");
}

}  // namespace recovery
