/* The C ABI of recovery: run a data-gap recovery in-process from C, or from
 * anything that can call C (the Python package in python/ uses ctypes).
 *
 * Conventions (they never change once shipped):
 *  - Opaque handles, recovery_<object>_<verb> names; every create has a
 *    destroy, and destroy accepts NULL.
 *  - Fallible calls return an int status code (RECOVERY_OK = 0) and take an
 *    optional trailing `char** errptr`: when not NULL and the call fails, it
 *    receives a malloc'd message, freed with recovery_free().
 *  - Bytes are (const char*, size_t); booleans are uint8_t; times are int64_t
 *    microseconds since the Unix epoch. No varargs.
 *  - Plug-ins (source, mapper, sink, checkpoint store) are versioned vtables
 *    with user_data first; `destroy(user_data)` runs exactly once, even when
 *    installing the plug-in fails. Callbacks return a status code and may
 *    describe a failure with recovery_error_set().
 *  - Every entry point is safe to call with NULL handles (it returns
 *    RECOVERY_INVALID_ARGUMENT) and never lets a C++ exception escape.
 */
#ifndef RECOVERY_C_H_
#define RECOVERY_C_H_

#include <stddef.h>
#include <stdint.h>

#include "recovery/version.h" /* RECOVERY_VERSION_NUMBER, to compare with recovery_version_number() */

#if defined(_WIN32)
#define RECOVERY_C_EXPORT
#else
#define RECOVERY_C_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version (recovery/version.h), under the names this header
 * first shipped with. */
#define RECOVERY_C_VERSION_MAJOR RECOVERY_VERSION_MAJOR
#define RECOVERY_C_VERSION_MINOR RECOVERY_VERSION_MINOR
#define RECOVERY_C_VERSION_PATCH RECOVERY_VERSION_PATCH

/* Status codes. 0-16 match abseil's status codes. */
#define RECOVERY_OK 0
#define RECOVERY_CANCELLED 1
#define RECOVERY_UNKNOWN 2
#define RECOVERY_INVALID_ARGUMENT 3
#define RECOVERY_DEADLINE_EXCEEDED 4
#define RECOVERY_NOT_FOUND 5
#define RECOVERY_ALREADY_EXISTS 6
#define RECOVERY_PERMISSION_DENIED 7
#define RECOVERY_RESOURCE_EXHAUSTED 8
#define RECOVERY_FAILED_PRECONDITION 9
#define RECOVERY_ABORTED 10
#define RECOVERY_OUT_OF_RANGE 11
#define RECOVERY_UNIMPLEMENTED 12
#define RECOVERY_INTERNAL 13
#define RECOVERY_UNAVAILABLE 14 /* transient: a callback returning it is retried */
#define RECOVERY_DATA_LOSS 15
#define RECOVERY_UNAUTHENTICATED 16
#define RECOVERY_PAUSED 100     /* the source's quota ran out; run again later to resume */
#define RECOVERY_INCOMPLETE 101 /* the run stopped at max_records; run again to continue */
#define RECOVERY_LEASED 102     /* a shard to run is leased by another worker; run again later */

/* "0.1.0" */
RECOVERY_C_EXPORT const char* recovery_version(void);
/* The library's RECOVERY_VERSION_NUMBER (major * 10000 + minor * 100 +
 * patch), to compare with the header a caller was built against. */
RECOVERY_C_EXPORT uint32_t recovery_version_number(void);
/* 1 when a recovery_job_run code means "run again, with nothing fixed, to
 * continue" (RECOVERY_CANCELLED, RECOVERY_PAUSED, RECOVERY_INCOMPLETE,
 * RECOVERY_LEASED), else 0. The engine decides it; callers need no table. */
RECOVERY_C_EXPORT uint8_t recovery_code_resumable(int code);
/* "OK", "INVALID_ARGUMENT", ...; "UNRECOGNIZED" for other numbers. Static storage. */
RECOVERY_C_EXPORT const char* recovery_status_name(int code);
/* Frees a message returned through an errptr. Accepts NULL. */
RECOVERY_C_EXPORT void recovery_free(void* p);

/* ---- Callback helpers ---------------------------------------------------- */

/* Lets a callback say why it failed. Valid only during the callback. */
typedef struct recovery_error_t recovery_error_t;
RECOVERY_C_EXPORT void recovery_error_set(recovery_error_t* error, const char* message, size_t message_len);

/* ---- Sink ---------------------------------------------------------------- */

typedef struct {
  const char* key; /* idempotency key */
  size_t key_len;
  int64_t event_time_us; /* INT64_MIN when the mapping has no event time */
  const char* data;      /* the mapped record, compact JSON for built-in mappers */
  size_t data_len;
  uint8_t maybe_redelivered; /* 1 only for a batch that may have been delivered before */
} recovery_record_t;

#define RECOVERY_SINK_VTABLE_VERSION 1
typedef struct {
  uint32_t version; /* RECOVERY_SINK_VTABLE_VERSION */
  void* user_data;
  /* Delivers `count` records (borrowed for the call). Return RECOVERY_OK to
   * acknowledge the batch durably; RECOVERY_UNAVAILABLE to have it retried;
   * anything else stops the shard. Calls never overlap. */
  int (*write)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
               recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
} recovery_sink_vtable_t;

/* Version 2 of the sink: a write that may reject single records, and an
 * optional presence check for the job's "skip_already_present". Installed
 * with recovery_job_set_sink_v2; version 1 keeps working unchanged. */
typedef struct recovery_sink_result_t recovery_sink_result_t;
/* From `write`: record `index` of the batch will never be accepted; it goes
 * to dead letters with `reason` and the rest of the batch counts as
 * delivered (return RECOVERY_OK). An index out of range fails the batch. */
RECOVERY_C_EXPORT void recovery_sink_result_reject(recovery_sink_result_t* result, size_t index,
                                                   const char* reason, size_t reason_len);
/* From `write`: the batch's provenance, so that the destination can tell
 * recovered records from a live feed's: the job's name, and this run of it
 * (each run has its own id: a resumed job is a new run). NUL-terminated,
 * valid until `write` returns; "" for a NULL result. The shard is `write`'s
 * `shard_id`; the time of recovery is the call's. */
RECOVERY_C_EXPORT const char* recovery_sink_result_job(const recovery_sink_result_t* result);
RECOVERY_C_EXPORT const char* recovery_sink_result_run_id(const recovery_sink_result_t* result);
typedef struct recovery_presence_t recovery_presence_t;
/* From `present`: the destination already holds the record with this key.
 * A key that is not among the records asked about is ignored (and logged
 * once per job). */
RECOVERY_C_EXPORT void recovery_presence_add(recovery_presence_t* presence, const char* key, size_t key_len);

#define RECOVERY_SINK_VTABLE_VERSION_2 2
typedef struct {
  /* The version 1 fields, in their order. */
  uint32_t version; /* RECOVERY_SINK_VTABLE_VERSION_2 */
  void* user_data;
  /* As in version 1; used only when write_v2 is NULL. */
  int (*write)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
               recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
  /* New in version 2. One of write and write_v2 is required. */
  /* As write, plus `result` for recovery_sink_result_reject. */
  int (*write_v2)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                  recovery_sink_result_t* result, recovery_error_t* error);
  /* May be NULL. Which of `count` records does the destination already hold?
   * Call recovery_presence_add for each and return RECOVERY_OK;
   * RECOVERY_UNAVAILABLE to be asked again later; anything else stops the
   * shard with its checkpoint intact. Never overlaps a write or itself. */
  int (*present)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                 recovery_presence_t* presence, recovery_error_t* error);
} recovery_sink_vtable_v2_t;

/* Version 3 of the sink: version 2 and a count of what the destination
 * holds per time bucket, for reconcile (recovery_job_reconcile_json).
 * Installed with recovery_job_set_sink_v3. */
#define RECOVERY_SINK_VTABLE_VERSION_3 3
typedef struct {
  /* The version 2 fields, in their order. */
  uint32_t version; /* RECOVERY_SINK_VTABLE_VERSION_3 */
  void* user_data;
  int (*write)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
               recovery_error_t* error);
  void (*destroy)(void* user_data);
  int (*write_v2)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                  recovery_sink_result_t* result, recovery_error_t* error);
  int (*present)(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                 recovery_presence_t* presence, recovery_error_t* error);
  /* New in version 3; may be NULL. Sets counts[i] (zeroed on entry) to the
   * number of records the destination holds whose event time is in
   * [start_us + i * width_us, start_us + (i + 1) * width_us), for i < buckets.
   * Reads only; may be called without any write, and never overlaps a write. */
  int (*count)(void* user_data, int64_t start_us, int64_t width_us, size_t buckets, uint64_t* counts,
               recovery_error_t* error);
} recovery_sink_vtable_v3_t;

/* ---- Mapper -------------------------------------------------------------- */

typedef struct recovery_map_output_t recovery_map_output_t;
/* The mapped record; call once from `map` before returning RECOVERY_MAP_EMIT. */
RECOVERY_C_EXPORT void recovery_map_output_set(recovery_map_output_t* out, const char* key, size_t key_len,
                                               int64_t event_time_us, const char* data, size_t data_len);

#define RECOVERY_MAP_EMIT 0
#define RECOVERY_MAP_DROP 1
#define RECOVERY_MAP_REJECT 2 /* the record goes to dead letters with the error's message */

#define RECOVERY_MAPPER_VTABLE_VERSION 1
typedef struct {
  uint32_t version; /* RECOVERY_MAPPER_VTABLE_VERSION */
  void* user_data;
  /* Maps one raw record; may be called from several threads at once. */
  int (*map)(void* user_data, const char* shard_id, const char* raw, size_t raw_len,
             recovery_map_output_t* out, recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
} recovery_mapper_vtable_t;

/* ---- Source -------------------------------------------------------------- */

typedef struct recovery_page_t recovery_page_t;
RECOVERY_C_EXPORT void recovery_page_add(recovery_page_t* page, const char* raw, size_t raw_len);
/* Where the page after this one starts (stored in the checkpoint). */
RECOVERY_C_EXPORT void recovery_page_set_next_cursor(recovery_page_t* page, const char* cursor,
                                                     size_t cursor_len);
/* Nothing follows this page in the shard. */
RECOVERY_C_EXPORT void recovery_page_set_exhausted(recovery_page_t* page, uint8_t exhausted);

#define RECOVERY_SOURCE_VTABLE_VERSION 1
typedef struct {
  uint32_t version; /* RECOVERY_SOURCE_VTABLE_VERSION */
  void* user_data;
  /* Fetches the page of shard [start_us, end_us) that starts at `cursor`
   * (empty: the shard's beginning). Called again with the same cursor after a
   * failure. May be called from several threads at once (different shards). */
  int (*fetch)(void* user_data, const char* shard_id, int64_t start_us, int64_t end_us, const char* cursor,
               size_t cursor_len, recovery_page_t* page, recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
} recovery_source_vtable_t;

/* Version 2 of the source: records that carry the source's own id and a
 * "maybe redelivered" flag, a reported total and progress, and `commit`, told
 * what became of each record once the page is safe, so that a queue-like
 * source (a Redis list, a vendor's acknowledge endpoint) acknowledges only
 * then. Installed with recovery_job_set_source_v2; version 1 keeps working.
 *
 * If a setter cannot store what it is given (out of memory, or a record over
 * RECOVERY_MAX_RECORD_BYTES) the fetch fails, with its page, and is retried
 * later from the same cursor: nothing is dropped while the cursor moves on.
 * This holds for the version 1 setters too. */
#define RECOVERY_MAX_RECORD_BYTES ((size_t)1 << 30)
/* recovery_page_add with the source's id for the record (empty: none; it is
 * carried into dead letters) and 1 when the record may have been delivered
 * before (a message received again). */
RECOVERY_C_EXPORT void recovery_page_add_v2(recovery_page_t* page, const char* raw, size_t raw_len,
                                            const char* id, size_t id_len, uint8_t maybe_redelivered);
/* How many records the source says the shard holds (checked once the shard is
 * exhausted; a mismatch is reported). */
RECOVERY_C_EXPORT void recovery_page_set_total(recovery_page_t* page, int64_t total);
/* The fraction of the shard covered once this page is done, 0..1. */
RECOVERY_C_EXPORT void recovery_page_set_progress(recovery_page_t* page, double fraction);

/* What became of a record, as `commit` is told (one per record added, in order). */
#define RECOVERY_OUTCOME_DELIVERED 0       /* the sink acknowledged it */
#define RECOVERY_OUTCOME_DEAD_LETTERED 1   /* unusable: in the dead letters with its reason */
#define RECOVERY_OUTCOME_DROPPED 2         /* the mapping dropped it on purpose */
#define RECOVERY_OUTCOME_OUT_OF_WINDOW 3   /* its event time is outside the shard */
#define RECOVERY_OUTCOME_ALREADY_PRESENT 4 /* the destination held it already */

#define RECOVERY_SOURCE_VTABLE_VERSION_2 2
typedef struct {
  /* The version 1 fields, in their order. */
  uint32_t version; /* RECOVERY_SOURCE_VTABLE_VERSION_2 */
  void* user_data;
  int (*fetch)(void* user_data, const char* shard_id, int64_t start_us, int64_t end_us, const char* cursor,
               size_t cursor_len, recovery_page_t* page, recovery_error_t* error); /* required */
  void (*destroy)(void* user_data);                                                /* may be NULL */
  /* New in version 2; may be NULL. Called once the page fetched at `cursor`
   * is safe: every record acknowledged by the sink or in the dead letters,
   * and the shard's checkpoint past it (at `next_cursor`). `outcomes[i]` is
   * the RECOVERY_OUTCOME_* of the i-th record added. Acknowledge here, never
   * earlier; a crash before commit returns leaves the page unacknowledged, so
   * a queue hands it out again: flag such records maybe_redelivered.
   * RECOVERY_UNAVAILABLE is retried; another code stops the shard (the page
   * stays committed). For one shard, fetch and commit alternate. */
  int (*commit)(void* user_data, const char* shard_id, const char* cursor, size_t cursor_len,
                const char* next_cursor, size_t next_cursor_len, const uint8_t* outcomes, size_t count,
                recovery_error_t* error);
} recovery_source_vtable_v2_t;

/* ---- Checkpoint store ----------------------------------------------------- */

typedef struct recovery_bytes_t recovery_bytes_t;
RECOVERY_C_EXPORT void recovery_bytes_set(recovery_bytes_t* out, const char* data, size_t len);

#define RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION 1
typedef struct {
  uint32_t version; /* RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION */
  void* user_data;
  /* Stores opaque bytes per (job, shard). `load` calls recovery_bytes_set and
   * returns RECOVERY_OK, or returns RECOVERY_NOT_FOUND; `save` must replace
   * atomically. Called from several threads at once. */
  int (*load)(void* user_data, const char* job, const char* shard_id, recovery_bytes_t* out,
              recovery_error_t* error);
  int (*save)(void* user_data, const char* job, const char* shard_id, const char* data, size_t len,
              recovery_error_t* error);
  int (*remove)(void* user_data, const char* job, const char* shard_id, recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
} recovery_checkpoint_store_vtable_t;

/* ---- Dead letters ---------------------------------------------------------- */

/* A record the job could not deliver, borrowed for the call. */
typedef struct {
  const char* job;
  const char* shard_id;
  const char* cursor; /* of the page the record came from */
  size_t cursor_len;
  uint64_t index; /* the record's position in that page */
  const char* reason;
  size_t reason_len;
  const char* raw; /* the raw record as the source returned it */
  size_t raw_len;
  const char* source_id; /* the source's id for it, or empty */
  size_t source_id_len;
  int64_t time_us; /* when it was rejected */
} recovery_dead_letter_t;

#define RECOVERY_DEAD_LETTER_VTABLE_VERSION 1
typedef struct {
  uint32_t version; /* RECOVERY_DEAD_LETTER_VTABLE_VERSION */
  void* user_data;
  /* Receives one letter (required). `flush` (may be NULL) then makes every
   * letter added so far durable; only after it returns RECOVERY_OK does the
   * shard's checkpoint move past their page, so a crash in between hands the
   * page's letters over again on the next run. RECOVERY_UNAVAILABLE is
   * retried; another code stops the shard. Calls never overlap. */
  int (*add)(void* user_data, const recovery_dead_letter_t* letter, recovery_error_t* error);
  int (*flush)(void* user_data, recovery_error_t* error);
  void (*destroy)(void* user_data); /* may be NULL */
} recovery_dead_letter_vtable_t;

/* ---- Observing ------------------------------------------------------------ */

#define RECOVERY_LOG_DEBUG 0
#define RECOVERY_LOG_INFO 1
#define RECOVERY_LOG_WARNING 2
#define RECOVERY_LOG_ERROR 3
/* `fields_json` is one JSON object: shard, cursor, counts, resume point. */
typedef void (*recovery_log_fn)(void* user_data, int level, const char* message, size_t message_len,
                                const char* fields_json, size_t fields_len);

typedef struct {
  uint64_t records_fetched, records_delivered, records_dropped, records_out_of_window;
  uint64_t dead_letters, pages, bytes, retries;
  uint64_t records_this_run;
  int32_t shards_total, shards_done, shards_failed, shards_running;
  double window_fraction;    /* 0..1 */
  double records_per_second; /* this run */
  int64_t elapsed_us;
  int64_t eta_us; /* -1 when unknown */
} recovery_progress_t;
typedef void (*recovery_progress_fn)(void* user_data, const recovery_progress_t* progress);

/* ---- Jobs ------------------------------------------------------------------ */

typedef struct recovery_job_t recovery_job_t;

/* A job from a JSON job spec (docs/job-spec.md). Relative paths in it resolve
 * against `base_dir` (NULL: the working directory). */
RECOVERY_C_EXPORT int recovery_job_create(const char* spec_json, size_t spec_len, const char* base_dir,
                                          recovery_job_t** job, char** errptr);
RECOVERY_C_EXPORT int recovery_job_create_from_file(const char* path, recovery_job_t** job, char** errptr);
/* Waits for a started run to finish first. Accepts NULL. */
RECOVERY_C_EXPORT void recovery_job_destroy(recovery_job_t* job);

/* Plug-ins replace the spec's section of the same name (which may then be
 * absent). Set before running; the vtable is copied. */
RECOVERY_C_EXPORT int recovery_job_set_sink(recovery_job_t* job, const recovery_sink_vtable_t* sink,
                                            char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_sink_v2(recovery_job_t* job, const recovery_sink_vtable_v2_t* sink,
                                               char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_mapper(recovery_job_t* job, const recovery_mapper_vtable_t* mapper,
                                              char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_source(recovery_job_t* job, const recovery_source_vtable_t* source,
                                              char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_checkpoint_store(recovery_job_t* job,
                                                        const recovery_checkpoint_store_vtable_t* store,
                                                        char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_source_v2(recovery_job_t* job,
                                                 const recovery_source_vtable_v2_t* source, char** errptr);
RECOVERY_C_EXPORT int recovery_job_set_sink_v3(recovery_job_t* job, const recovery_sink_vtable_v3_t* sink,
                                               char** errptr);
/* Dead letters go to the plug-in instead of the spec's "dead_letters". */
RECOVERY_C_EXPORT int recovery_job_set_dead_letters(recovery_job_t* job,
                                                    const recovery_dead_letter_vtable_t* dead_letters,
                                                    char** errptr);
/* Either may be NULL to remove it. Calls are serialized. */
RECOVERY_C_EXPORT int recovery_job_set_log_callback(recovery_job_t* job, recovery_log_fn fn, void* user_data);
RECOVERY_C_EXPORT int recovery_job_set_progress_callback(recovery_job_t* job, recovery_progress_fn fn,
                                                         void* user_data);
/* Fetch and map, write nothing. */
RECOVERY_C_EXPORT int recovery_job_set_dry_run(recovery_job_t* job, uint8_t dry_run);
/* Runs only the shards added (ids as recovery_job_status_json lists them),
 * e.g. one per task of a task queue; none added: every shard. An id not in
 * the plan fails the run with RECOVERY_INVALID_ARGUMENT. */
RECOVERY_C_EXPORT int recovery_job_add_shard(recovery_job_t* job, const char* shard_id, size_t shard_id_len,
                                             char** errptr);
/* The plan with each shard's stored state, as one JSON document (malloc'd,
 * NUL-terminated, freed with recovery_free):
 *   {"job":"…","shards":[{"id":"…","start":"…","end":"…","state":"done",
 *     "records_delivered":N,"dead_letters":N,"records_out_of_window":N,"pages":N,"progress":0.5,
 *     "cursor":"…","last_error":"…","warning":"…",
 *     "lease":{"owner":"…","expires":"…","fencing_token":N,"live":true}}]}
 * ("end" is null for the open shard of follow mode; "warning", the source's
 * last word of warning about the shard, only when it gave one; "lease" only
 * with a store that leases shards and has one on record). Reads the checkpoint
 * store; safe while a run is going. */
RECOVERY_C_EXPORT int recovery_job_status_json(recovery_job_t* job, char** json, size_t* json_len,
                                               char** errptr);

/* Reconcile: per time bucket of the window (`bucket_us` wide, a whole
 * number of seconds), the vendor's count (through the source and mapping)
 * next to the destination's (the sink's count), as one JSON document
 * (malloc'd, NUL-terminated, freed with recovery_free):
 *   {"bucket_seconds":N,"vendor":N,"destination":N,"short_buckets":N,"complete":true,
 *    "buckets":[{"start":"…","end":"…","vendor":N,"vendor_method":"paged","destination":N,
 *                "difference":N,"status":"ok|more|SHORT|MISSING","reported_total":N?,"unusable":N?}],
 *    "notes":["…"]}
 * With `trust_reported_total`, a bucket's total as the source reports it is
 * taken without paging the bucket. Writes nothing. RECOVERY_FAILED_PRECONDITION
 * when the sink cannot count (a version 3 sink without `count`, say). */
RECOVERY_C_EXPORT int recovery_job_reconcile_json(recovery_job_t* job, int64_t bucket_us,
                                                  uint8_t trust_reported_total, char** json, size_t* json_len,
                                                  char** errptr);

/* The probe (`recovery probe`, docs/probe.md): every assumption the job
 * makes about the vendor's API and the destination, checked against the
 * real ones within a budget of requests, as one JSON document (malloc'd,
 * NUL-terminated, freed with recovery_free), the same as `recovery probe
 * --json`:
 *   {"job":"…","verdict":"ok|warn|broken","exit_code":0|1,"requests":N,"max_requests":N,
 *    "cut_short":false,"checks":[{"id":"window_filter","title":"…","verdict":"ok|warn|broken|not checked",
 *                                "finding":"…","evidence":["…"],"fix":"…"?}],
 *    "samples":[{"shard":"…","role":"first|spread|last|sub-window",…}],
 *    "pace":{"latency_p50_ms":N,…},"notes":["…"]}
 * `samples` (0 to 1000), `pages` (1 to 1000) and `max_requests` (1 to
 * 100000) as the command's flags; 0 for `pages` or `max_requests` takes the
 * default (5 and 100), a negative `samples` its default (6). Reads only: no
 * write, checkpoint, dead letter or lease. A broken assumption is in the
 * report, not an error; an error means the probe could not run (a bad
 * option, the source unreachable). */
RECOVERY_C_EXPORT int recovery_job_probe_json(recovery_job_t* job, int32_t samples, int32_t pages,
                                              int32_t max_requests, char** json, size_t* json_len,
                                              char** errptr);

/* Makes the next runs replays of the job's dead letters (as `recovery
 * replay`; see docs/replay.md) while `enabled` is non-zero: each letter no
 * replay has settled is mapped again with the job's current mapping and
 * delivered under the same checkpoints and exactly-once rules as a run, and
 * marked with what became of it; one that fails again stays with its new
 * reason. `reason` (may be NULL) keeps only letters whose reason contains it;
 * `since_unix_us` only letters rejected at or after it (INT64_MIN: any).
 * Needs a dead-letter store that lists and marks letters (the file and
 * PostgreSQL stores); not with dry run or added shards. */
RECOVERY_C_EXPORT int recovery_job_set_replay(recovery_job_t* job, uint8_t enabled, const char* reason,
                                              size_t reason_len, int64_t since_unix_us, char** errptr);

/* Runs or resumes the job and blocks until it ends. RECOVERY_OK when every
 * shard is done; RECOVERY_CANCELLED, RECOVERY_PAUSED, RECOVERY_INCOMPLETE
 * and RECOVERY_LEASED are resumable by running again; RECOVERY_ABORTED means
 * another worker took a shard's lease over mid-run (the shard stopped
 * without writing; whoever holds it finishes it); other codes name the failure. */
RECOVERY_C_EXPORT int recovery_job_run(recovery_job_t* job, char** errptr);
/* Runs on a background thread; recovery_job_wait returns what run would. */
RECOVERY_C_EXPORT int recovery_job_start(recovery_job_t* job, char** errptr);
RECOVERY_C_EXPORT int recovery_job_wait(recovery_job_t* job, char** errptr);
/* Like wait, but gives up after `timeout_us` with RECOVERY_DEADLINE_EXCEEDED
 * (the run goes on): a caller whose callback hangs can still get control back. */
RECOVERY_C_EXPORT int recovery_job_wait_for(recovery_job_t* job, int64_t timeout_us, char** errptr);
/* Stops every shard after the batch it is delivering commits. Thread-safe,
 * callable from any thread (including callbacks) at any time. */
RECOVERY_C_EXPORT int recovery_job_cancel(recovery_job_t* job);
/* The latest progress (all zeros before the first page). */
RECOVERY_C_EXPORT int recovery_job_stats(recovery_job_t* job, recovery_progress_t* out);

/* Counters added after recovery_progress_t was shipped. The caller sets
 * `size` to sizeof(recovery_progress_ext_t) as its header declares it; the
 * library fills only the fields that fit, so both sides may be newer. */
typedef struct {
  uint32_t size;
  uint32_t reserved;                /* 0 */
  uint64_t records_already_present; /* the sink held them already (skip_already_present) */
} recovery_progress_ext_t;
RECOVERY_C_EXPORT int recovery_job_stats_ext(recovery_job_t* job, recovery_progress_ext_t* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RECOVERY_C_H_ */
