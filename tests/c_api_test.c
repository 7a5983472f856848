/* Exercises every entry point of the C ABI from plain C (compiled as C, not
 * C++). Prints "N passed, N failed" and exits non-zero on a failure. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "c_check.h"
#include "recovery/c.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- a sink that counts, optionally fails or blocks ---- */
typedef struct {
  atomic_int records, flagged, destroyed, calls;
  int fail_code;              /* returned when non-zero */
  atomic_int block;           /* while 1, write() waits */
  atomic_int blocked_in;      /* set once write() is waiting */
  recovery_job_t* cancel_job; /* cancelled after the first batch when set */
} Sink;

static int sink_write(void* ud, const char* shard_id, const recovery_record_t* records, size_t count,
                      recovery_error_t* error) {
  Sink* s = (Sink*)ud;
  (void)shard_id;
  atomic_fetch_add(&s->calls, 1);
  while (atomic_load(&s->block)) {
    atomic_store(&s->blocked_in, 1);
    sleep_ms(5);
  }
  if (s->fail_code != 0) {
    const char* msg = "downstream rejected the batch";
    recovery_error_set(error, msg, strlen(msg));
    return s->fail_code;
  }
  for (size_t i = 0; i < count; ++i) {
    if (records[i].key_len == 0 || records[i].data_len == 0) return RECOVERY_INTERNAL;
    if (records[i].maybe_redelivered) atomic_fetch_add(&s->flagged, 1);
  }
  atomic_fetch_add(&s->records, (int)count);
  if (s->cancel_job != NULL) recovery_job_cancel(s->cancel_job);
  return RECOVERY_OK;
}

static void sink_destroy(void* ud) { atomic_fetch_add(&((Sink*)ud)->destroyed, 1); }

static recovery_sink_vtable_t sink_vtable(Sink* s) {
  recovery_sink_vtable_t v;
  v.version = RECOVERY_SINK_VTABLE_VERSION;
  v.user_data = s;
  v.write = sink_write;
  v.destroy = sink_destroy;
  return v;
}

/* ---- a version 2 sink: a destination that already holds every even record,
 * refuses record 11, and whose presence check also names a key nobody asked
 * about ---- */
typedef struct {
  atomic_int written, checks, destroyed;
  atomic_int unknown_provenance; /* writes whose job or run id was not what the job's */
} SinkV2;

static int record_number(const recovery_record_t* r) {
  const char* dash = memrchr(r->key, '-', r->key_len);
  return dash == NULL ? -1 : atoi(dash + 1);
}

static int sink_v2_write(void* ud, const char* shard_id, const recovery_record_t* records, size_t count,
                         recovery_sink_result_t* result, recovery_error_t* error) {
  SinkV2* s = (SinkV2*)ud;
  (void)shard_id;
  (void)error;
  /* Provenance: the job's name, and its run id ("20261114T000000Z-1a2b3c4d"). */
  if (strcmp(recovery_sink_result_job(result), "c-api-seam") != 0 ||
      strlen(recovery_sink_result_run_id(result)) < 8)
    atomic_fetch_add(&s->unknown_provenance, 1);
  for (size_t i = 0; i < count; ++i) {
    if (record_number(&records[i]) % 2 == 0) return RECOVERY_INTERNAL; /* it was there already */
    if (record_number(&records[i]) == 11) recovery_sink_result_reject(result, i, "eleven is refused", 17);
  }
  atomic_fetch_add(&s->written, (int)count);
  return RECOVERY_OK;
}

static int sink_v2_present(void* ud, const char* shard_id, const recovery_record_t* records, size_t count,
                           recovery_presence_t* presence, recovery_error_t* error) {
  SinkV2* s = (SinkV2*)ud;
  (void)shard_id;
  (void)error;
  atomic_fetch_add(&s->checks, 1);
  for (size_t i = 0; i < count; ++i) {
    if (record_number(&records[i]) % 2 == 0)
      recovery_presence_add(presence, records[i].key, records[i].key_len);
  }
  recovery_presence_add(presence, "nobody-asked", 12);
  recovery_presence_add(NULL, "x", 1); /* ignored */
  return RECOVERY_OK;
}

static void sink_v2_destroy(void* ud) { atomic_fetch_add(&((SinkV2*)ud)->destroyed, 1); }

/* ---- an in-memory checkpoint store ---- */
#define MAX_CKPT 16
typedef struct {
  char key[MAX_CKPT][256];
  char* data[MAX_CKPT];
  size_t len[MAX_CKPT];
  int n, saves, destroyed;
} Store;

static int store_find(Store* s, const char* job, const char* shard) {
  char key[256];
  snprintf(key, sizeof key, "%s/%s", job, shard);
  for (int i = 0; i < s->n; ++i) {
    if (strcmp(s->key[i], key) == 0) return i;
  }
  return -1;
}
static int store_load(void* ud, const char* job, const char* shard, recovery_bytes_t* out,
                      recovery_error_t* e) {
  (void)e;
  Store* s = (Store*)ud;
  int i = store_find(s, job, shard);
  if (i < 0 || s->data[i] == NULL) return RECOVERY_NOT_FOUND;
  recovery_bytes_set(out, s->data[i], s->len[i]);
  return RECOVERY_OK;
}
static int store_save(void* ud, const char* job, const char* shard, const char* data, size_t len,
                      recovery_error_t* e) {
  (void)e;
  Store* s = (Store*)ud;
  int i = store_find(s, job, shard);
  if (i < 0) {
    i = s->n++;
    snprintf(s->key[i], sizeof s->key[i], "%s/%s", job, shard);
  }
  free(s->data[i]);
  s->data[i] = malloc(len);
  memcpy(s->data[i], data, len);
  s->len[i] = len;
  ++s->saves;
  return RECOVERY_OK;
}
static int store_remove(void* ud, const char* job, const char* shard, recovery_error_t* e) {
  (void)e;
  Store* s = (Store*)ud;
  int i = store_find(s, job, shard);
  if (i < 0) return RECOVERY_NOT_FOUND;
  free(s->data[i]);
  s->data[i] = NULL;
  return RECOVERY_OK;
}
static void store_destroy(void* ud) {
  Store* s = (Store*)ud;
  for (int i = 0; i < s->n; ++i) free(s->data[i]);
  s->destroyed++;
}

/* ---- a source of 250 synthetic records per shard, 100 per page ---- */
static int source_fetch(void* ud, const char* shard_id, int64_t start_us, int64_t end_us, const char* cursor,
                        size_t cursor_len, recovery_page_t* page, recovery_error_t* error) {
  (void)ud;
  (void)shard_id;
  (void)error;
  int offset = cursor_len > 0 ? atoi(cursor) : 0;
  int end = offset + 100 < 250 ? offset + 100 : 250;
  for (int i = offset; i < end; ++i) {
    char raw[128];
    int64_t t = start_us + (end_us - start_us) * i / 250;
    int n = snprintf(raw, sizeof raw, "{\"n\":%d,\"t\":%lld}", i, (long long)t);
    recovery_page_add(page, raw, (size_t)n);
  }
  char next[16];
  int n = snprintf(next, sizeof next, "%d", end);
  recovery_page_set_next_cursor(page, next, (size_t)n);
  recovery_page_set_exhausted(page, end == 250);
  return RECOVERY_OK;
}

/* ---- a mapper: drops every 10th record, rejects number 7, emits the rest ---- */
static int mapper_map(void* ud, const char* shard_id, const char* raw, size_t raw_len,
                      recovery_map_output_t* out, recovery_error_t* error) {
  (void)ud;
  char buf[128], key[64];
  if (raw_len >= sizeof buf) return RECOVERY_MAP_REJECT;
  memcpy(buf, raw, raw_len);
  buf[raw_len] = 0;
  int n = 0;
  long long t = 0;
  if (sscanf(buf, "{\"n\":%d,\"t\":%lld}", &n, &t) != 2) return RECOVERY_MAP_REJECT;
  if (n == 7) {
    recovery_error_set(error, "seven is unlucky", 16);
    return RECOVERY_MAP_REJECT;
  }
  if (n % 10 == 9) return RECOVERY_MAP_DROP;
  int k = snprintf(key, sizeof key, "%s-%d", shard_id, n);
  recovery_map_output_set(out, key, (size_t)k, (int64_t)t, buf, raw_len);
  return RECOVERY_MAP_EMIT;
}

static int progress_calls = 0;
static void on_progress(void* ud, const recovery_progress_t* p) {
  (void)ud;
  if (p->window_fraction >= 0 && p->window_fraction <= 1) ++progress_calls;
}
static int log_lines = 0;
static void on_log(void* ud, int level, const char* msg, size_t msg_len, const char* fields,
                   size_t fields_len) {
  (void)ud;
  (void)msg;
  if (level >= RECOVERY_LOG_DEBUG && msg_len > 0 && fields_len > 1 && fields[0] == '{') ++log_lines;
}

static const char* kSpec =
    "{\"name\":\"c-api\",\"window\":{\"start\":\"2026-11-14T00:00:00Z\",\"end\":\"2026-11-16T00:00:00Z\"},"
    "\"shard_duration\":\"1d\",\"concurrency\":2,\"error_budget\":{\"max_fraction\":1},"
    "\"retry\":{\"initial_backoff\":\"1ms\",\"max_backoff\":\"2ms\",\"max_attempts\":2}}";

static recovery_job_t* make_job(const char* dir, Sink* sink, Store* store) {
  recovery_job_t* job = NULL;
  char* err = NULL;
  CHECK(recovery_job_create(kSpec, strlen(kSpec), dir, &job, &err) == RECOVERY_OK);
  CHECK(err == NULL);
  recovery_sink_vtable_t sv = sink_vtable(sink);
  CHECK(recovery_job_set_sink(job, &sv, NULL) == RECOVERY_OK);
  recovery_source_vtable_t src = {RECOVERY_SOURCE_VTABLE_VERSION, NULL, source_fetch, NULL};
  CHECK(recovery_job_set_source(job, &src, NULL) == RECOVERY_OK);
  recovery_mapper_vtable_t mv = {RECOVERY_MAPPER_VTABLE_VERSION, NULL, mapper_map, NULL};
  CHECK(recovery_job_set_mapper(job, &mv, NULL) == RECOVERY_OK);
  recovery_checkpoint_store_vtable_t cv = {
      RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION, store, store_load, store_save, store_remove, store_destroy};
  CHECK(recovery_job_set_checkpoint_store(job, &cv, NULL) == RECOVERY_OK);
  return job;
}

/* 2 shards x 250 records: 25 dropped and 1 rejected per shard. */
#define EXPECTED_PER_RUN (2 * (250 - 25 - 1))

int main(void) {
  char dir[] = "/tmp/recovery-c-test-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);

  /* Basics. */
  CHECK(strcmp(recovery_version(), "0.1.0") == 0);
  CHECK(recovery_version_number() == RECOVERY_VERSION_NUMBER);
  CHECK(recovery_code_resumable(RECOVERY_CANCELLED) && recovery_code_resumable(RECOVERY_PAUSED) &&
        recovery_code_resumable(RECOVERY_INCOMPLETE) && recovery_code_resumable(RECOVERY_LEASED));
  CHECK(!recovery_code_resumable(RECOVERY_OK) && !recovery_code_resumable(RECOVERY_ABORTED) &&
        !recovery_code_resumable(RECOVERY_INVALID_ARGUMENT) && !recovery_code_resumable(12345));
  CHECK(strcmp(recovery_status_name(RECOVERY_INVALID_ARGUMENT), "INVALID_ARGUMENT") == 0);
  CHECK(strcmp(recovery_status_name(RECOVERY_PAUSED), "PAUSED") == 0);
  CHECK(strcmp(recovery_status_name(12345), "UNRECOGNIZED") == 0);
  recovery_free(NULL);
  recovery_job_destroy(NULL);

  /* NULL handles and arguments never crash. */
  char* err = NULL;
  recovery_job_t* job = NULL;
  CHECK(recovery_job_create(NULL, 0, NULL, &job, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "spec_json is NULL") != NULL);
  recovery_free(err);
  err = NULL;
  CHECK(recovery_job_create("{}", 2, NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_run(NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_start(NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_wait(NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_wait_for(NULL, 0, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_cancel(NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_stats(NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_log_callback(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_progress_callback(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_dry_run(NULL, 1) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_sink(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_mapper(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_source(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_checkpoint_store(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_add_shard(NULL, "s", 1, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_replay(NULL, 1, NULL, 0, INT64_MIN, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_status_json(NULL, NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_probe_json(NULL, 0, 0, 0, NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(strcmp(recovery_status_name(RECOVERY_LEASED), "LEASED") == 0);
  recovery_error_set(NULL, "x", 1);
  recovery_map_output_set(NULL, "k", 1, 0, "d", 1);
  recovery_page_add(NULL, "x", 1);
  recovery_page_set_next_cursor(NULL, "x", 1);
  recovery_page_set_exhausted(NULL, 1);
  recovery_bytes_set(NULL, "x", 1);

  /* A bad spec names the path. */
  const char* bad =
      "{\"name\":\"x\",\"window\":{\"start\":\"2026-11-14\",\"end\":\"2026-11-16T00:00:00Z\"},\"concurency\":"
      "2}";
  CHECK(recovery_job_create(bad, strlen(bad), NULL, &job, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(job == NULL);
  CHECK(err != NULL && strstr(err, "window.start") != NULL &&
        strstr(err, "did you mean \"concurrency\"") != NULL);
  recovery_free(err);
  err = NULL;
  CHECK(recovery_job_create_from_file("/nonexistent/job.json", &job, &err) == RECOVERY_NOT_FOUND);
  recovery_free(err);
  err = NULL;

  /* destroy() runs exactly once, even when installing a plug-in fails. */
  Sink rejected = {0};
  recovery_sink_vtable_t v = sink_vtable(&rejected);
  v.version = 99;
  CHECK(recovery_job_create(kSpec, strlen(kSpec), dir, &job, NULL) == RECOVERY_OK);
  CHECK(recovery_job_set_sink(job, &v, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "version 99") != NULL);
  recovery_free(err);
  err = NULL;
  CHECK(atomic_load(&rejected.destroyed) == 1);
  v.version = RECOVERY_SINK_VTABLE_VERSION;
  CHECK(recovery_job_set_sink(NULL, &v, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(atomic_load(&rejected.destroyed) == 2);
  recovery_job_destroy(job);

  /* A full run with every plug-in from C, logs and progress. */
  Sink sink = {0};
  Store store = {0};
  job = make_job(dir, &sink, &store);
  CHECK(recovery_job_set_log_callback(job, on_log, NULL) == RECOVERY_OK);
  CHECK(recovery_job_set_progress_callback(job, on_progress, NULL) == RECOVERY_OK);
  CHECK(recovery_job_run(job, &err) == RECOVERY_OK);
  CHECK(err == NULL);
  CHECK(atomic_load(&sink.records) == EXPECTED_PER_RUN);
  CHECK(atomic_load(&sink.flagged) == 0);
  CHECK(progress_calls >= 6);
  CHECK(log_lines >= 6);
  recovery_progress_t stats;
  CHECK(recovery_job_stats(job, &stats) == RECOVERY_OK);
  CHECK(stats.records_delivered == EXPECTED_PER_RUN);
  CHECK(stats.dead_letters == 2);
  CHECK(stats.records_dropped == 50);
  CHECK(stats.shards_done == 2 && stats.window_fraction == 1.0);
  CHECK(store.saves >= 6);
  /* Running again: everything is done, nothing is delivered twice. */
  CHECK(recovery_job_run(job, NULL) == RECOVERY_OK);
  CHECK(atomic_load(&sink.records) == EXPECTED_PER_RUN);
  recovery_job_destroy(job);
  CHECK(atomic_load(&sink.destroyed) == 1);
  CHECK(store.destroyed == 1);

  /* A failing sink is reported with its message; the run stops. */
  Sink failing = {0};
  failing.fail_code = RECOVERY_PERMISSION_DENIED;
  Store store2 = {0};
  char dir2[512];
  snprintf(dir2, sizeof dir2, "%s/failing", dir);
  job = make_job(dir2, &failing, &store2);
  CHECK(recovery_job_run(job, &err) == RECOVERY_PERMISSION_DENIED);
  CHECK(err != NULL && strstr(err, "downstream rejected the batch") != NULL);
  recovery_free(err);
  err = NULL;
  recovery_job_destroy(job);

  /* start, cancel from the sink, wait; then a new run resumes. */
  Sink resumable = {0};
  Store store3 = {0};
  char dir3[512];
  snprintf(dir3, sizeof dir3, "%s/resumable", dir);
  job = make_job(dir3, &resumable, &store3);
  resumable.cancel_job = job;
  CHECK(recovery_job_start(job, NULL) == RECOVERY_OK);
  CHECK(recovery_job_start(job, NULL) == RECOVERY_FAILED_PRECONDITION);
  CHECK(recovery_job_wait(job, &err) == RECOVERY_CANCELLED);
  recovery_free(err);
  err = NULL;
  const int first = atomic_load(&resumable.records);
  CHECK(first > 0 && first < EXPECTED_PER_RUN);
  resumable.cancel_job = NULL;
  CHECK(recovery_job_run(job, NULL) == RECOVERY_OK);
  CHECK(atomic_load(&resumable.records) == EXPECTED_PER_RUN);
  recovery_job_destroy(job);

  /* A callback that hangs: wait_for gives control back, cancel, release. */
  Sink hanging = {0};
  atomic_store(&hanging.block, 1);
  Store store4 = {0};
  char dir4[512];
  snprintf(dir4, sizeof dir4, "%s/hanging", dir);
  job = make_job(dir4, &hanging, &store4);
  CHECK(recovery_job_start(job, NULL) == RECOVERY_OK);
  while (!atomic_load(&hanging.blocked_in)) sleep_ms(2);
  CHECK(recovery_job_wait_for(job, 20000, &err) == RECOVERY_DEADLINE_EXCEEDED);
  recovery_free(err);
  err = NULL;
  CHECK(recovery_job_cancel(job) == RECOVERY_OK);
  atomic_store(&hanging.block, 0);
  CHECK(recovery_job_wait(job, NULL) == RECOVERY_CANCELLED);
  recovery_job_destroy(job);

  /* Dry run: nothing delivered. */
  Sink dry = {0};
  Store store5 = {0};
  job = make_job(dir, &dry, &store5);
  CHECK(recovery_job_set_dry_run(job, 1) == RECOVERY_OK);
  CHECK(recovery_job_run(job, NULL) == RECOVERY_OK);
  CHECK(atomic_load(&dry.records) == 0);
  CHECK(recovery_job_stats(job, &stats) == RECOVERY_OK && stats.records_this_run == 500);
  recovery_job_destroy(job);

  /* Version 2 sink: only what the destination lacks is written, a record can
   * be refused alone, and the counts say so. */
  {
    static const char* kSeamSpec =
        "{\"name\":\"c-api-seam\",\"window\":{\"start\":\"2026-11-14T00:00:00Z\",\"end\":\"2026-11-16T00:00:"
        "00Z\"},"
        "\"shard_duration\":\"1d\",\"concurrency\":2,\"error_budget\":{\"max_fraction\":1},"
        "\"skip_already_present\":true,"
        "\"retry\":{\"initial_backoff\":\"1ms\",\"max_backoff\":\"2ms\",\"max_attempts\":2}}";
    SinkV2 seam = {0};
    Store store6 = {0};
    char dir6[512];
    snprintf(dir6, sizeof dir6, "%s/seam", dir);
    CHECK(recovery_job_create(kSeamSpec, strlen(kSeamSpec), dir6, &job, NULL) == RECOVERY_OK);
    recovery_sink_vtable_v2_t v2 = {
        RECOVERY_SINK_VTABLE_VERSION_2, &seam, NULL, sink_v2_destroy, sink_v2_write, sink_v2_present};
    CHECK(recovery_job_set_sink_v2(job, &v2, NULL) == RECOVERY_OK);
    recovery_source_vtable_t src = {RECOVERY_SOURCE_VTABLE_VERSION, NULL, source_fetch, NULL};
    CHECK(recovery_job_set_source(job, &src, NULL) == RECOVERY_OK);
    recovery_mapper_vtable_t mv = {RECOVERY_MAPPER_VTABLE_VERSION, NULL, mapper_map, NULL};
    CHECK(recovery_job_set_mapper(job, &mv, NULL) == RECOVERY_OK);
    recovery_checkpoint_store_vtable_t cv = {RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION,
                                             &store6,
                                             store_load,
                                             store_save,
                                             store_remove,
                                             store_destroy};
    CHECK(recovery_job_set_checkpoint_store(job, &cv, NULL) == RECOVERY_OK);
    CHECK(recovery_job_run(job, &err) == RECOVERY_OK);
    if (err != NULL) fprintf(stderr, "%s\n", err);
    recovery_free(err);
    err = NULL;
    /* Per shard: 224 emitted, 125 of them even (held already), 99 written, one of which is refused. */
    CHECK(atomic_load(&seam.written) == 2 * 99);
    CHECK(atomic_load(&seam.checks) > 0);
    CHECK(atomic_load(&seam.unknown_provenance) == 0);
    CHECK(recovery_job_stats(job, &stats) == RECOVERY_OK && stats.records_delivered == 2 * 98 &&
          stats.dead_letters == 2 * 2);
    recovery_progress_ext_t ext = {sizeof ext, 0, 0};
    CHECK(recovery_job_stats_ext(job, &ext) == RECOVERY_OK && ext.records_already_present == 2 * 125);
    recovery_progress_ext_t small = {4, 0, 77}; /* an older, smaller struct: nothing past it is written */
    CHECK(recovery_job_stats_ext(job, &small) == RECOVERY_INVALID_ARGUMENT &&
          small.records_already_present == 77);
    char* json = NULL;
    size_t json_len = 0;
    CHECK(recovery_job_status_json(job, &json, &json_len, NULL) == RECOVERY_OK);
    CHECK(json != NULL && strstr(json, "\"records_already_present\":125") != NULL);
    recovery_free(json);
    recovery_job_destroy(job);
    CHECK(atomic_load(&seam.destroyed) == 1);

    /* A version 1 sink cannot answer: the run says so. */
    Sink plain = {0};
    Store store7 = {0};
    job = NULL;
    CHECK(recovery_job_create(kSeamSpec, strlen(kSeamSpec), dir6, &job, NULL) == RECOVERY_OK);
    recovery_sink_vtable_t sv = sink_vtable(&plain);
    CHECK(recovery_job_set_sink(job, &sv, NULL) == RECOVERY_OK);
    CHECK(recovery_job_set_source(job, &src, NULL) == RECOVERY_OK);
    CHECK(recovery_job_set_mapper(job, &mv, NULL) == RECOVERY_OK);
    recovery_checkpoint_store_vtable_t cv7 = {RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION,
                                              &store7,
                                              store_load,
                                              store_save,
                                              store_remove,
                                              store_destroy};
    CHECK(recovery_job_set_checkpoint_store(job, &cv7, NULL) == RECOVERY_OK);
    CHECK(recovery_job_run(job, &err) == RECOVERY_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "skip_already_present") != NULL);
    recovery_free(err);
    err = NULL;
    recovery_job_destroy(job);

    /* Bad calls. */
    CHECK(recovery_job_set_sink_v2(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
    CHECK(recovery_job_stats_ext(NULL, &ext) == RECOVERY_INVALID_ARGUMENT);
    job = NULL;
    CHECK(recovery_job_create(kSpec, strlen(kSpec), dir, &job, NULL) == RECOVERY_OK);
    SinkV2 wrong = {0};
    recovery_sink_vtable_v2_t v1_number = {
        RECOVERY_SINK_VTABLE_VERSION, &wrong, NULL, sink_v2_destroy, sink_v2_write, NULL};
    CHECK(recovery_job_set_sink_v2(job, &v1_number, &err) == RECOVERY_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "version 1") != NULL);
    CHECK(atomic_load(&wrong.destroyed) == 1);
    recovery_free(err);
    err = NULL;
    recovery_sink_result_reject(NULL, 0, "x", 1);
    CHECK(strcmp(recovery_sink_result_run_id(NULL), "") == 0 &&
          strcmp(recovery_sink_result_job(NULL), "") == 0);
    recovery_job_destroy(job);
  }

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return C_CHECK_SUMMARY();
}
