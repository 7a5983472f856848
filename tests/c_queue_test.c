/* The version 2 source and the dead-letter plug-in from plain C: a queue-like
 * source that acknowledges a message only in `commit`, run through SIGKILLs.
 *
 * The queue lives in files of a directory, so it outlives a killed run:
 *   queue.txt     one message per line, "<id> <json>"
 *   acks.log      ids acknowledged (appended and fsync'ed in commit)
 *   received.log  ids handed out (appended at fetch): a message handed out
 *                 by an earlier run and never acknowledged comes back
 *                 flagged maybe_redelivered, as from SQS after its
 *                 visibility timeout
 *   out.txt       the sink: "<key> <maybe_redelivered>" per record, fsync'ed
 *   dead.txt      the dead-letter plug-in: "<source id> <reason>", fsync'ed
 *   violation     written by commit if it is told to acknowledge a record the
 *                 sink never got (in this run or, durably, in an earlier one:
 *                 the crash-loop breaker, which these kills can set off,
 *                 does not write again a piece an earlier run delivered)
 *
 *   c_queue_test             the test: kills runs, then checks the files
 *   c_queue_test child DIR   one run of the job (what the test kills)
 *
 * Also, in-process: the setters that fail a fetch instead of losing data, a
 * reported total and progress, and bad vtables. Prints "N passed, N failed". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "c_check.h"
#include "recovery/c.h"

enum { kMessages = 1200, kPage = 25, kKills = 12 };
/* Every 97th message has no "id": the mapping rejects it into the dead letters. */
static int is_bad(int i) { return i % 97 == 50; }

static void append_synced(const char* dir, const char* file, const char* text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) abort();
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len || fdatasync(fd) != 0) abort();
  close(fd);
}

/* ids found in a file whose lines start "<id> ", as counts per message number */
static void count_ids(const char* dir, const char* file, int* counts, int* flagged) {
  char path[512], line[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  memset(counts, 0, sizeof(int) * kMessages);
  if (flagged) memset(flagged, 0, sizeof(int) * kMessages);
  FILE* f = fopen(path, "r");
  if (f == NULL) return;
  while (fgets(line, sizeof line, f)) {
    int n, flag = 0;
    if (sscanf(line, "m%d %d", &n, &flag) >= 1 && n >= 0 && n < kMessages) {
      ++counts[n];
      if (flagged && flag) ++flagged[n];
    }
  }
  fclose(f);
}

/* ---- the queue source ---- */
typedef struct {
  const char* dir;
  int acked[kMessages];           /* acknowledged, by any run */
  int received_before[kMessages]; /* handed out by an earlier run */
  int handed[kMessages];          /* handed out by this run (invisible until acknowledged) */
  int page[kPage];                /* the messages of the page last handed out */
  int page_count;
  int written[kMessages]; /* in out.txt: reached the sink in this run or an earlier one */
} Queue;

static int queue_fetch(void* ud, const char* shard_id, int64_t start_us, int64_t end_us, const char* cursor,
                       size_t cursor_len, recovery_page_t* page, recovery_error_t* error) {
  Queue* q = (Queue*)ud;
  (void)shard_id, (void)end_us, (void)error;
  q->page_count = 0;
  char received[kPage * 16] = "";
  for (int i = 0; i < kMessages && q->page_count < kPage; ++i) {
    if (q->acked[i] || q->handed[i]) continue;
    char raw[256], id[32];
    int64_t t = start_us + (int64_t)i * 60 * 1000000; /* a minute apart */
    int n = is_bad(i) ? snprintf(raw, sizeof raw, "{\"t\":%lld,\"amount\":\"%d.25\"}", (long long)t, i)
                      : snprintf(raw, sizeof raw, "{\"id\":\"m%d\",\"t\":%lld,\"amount\":\"%d.25\"}", i,
                                 (long long)t, i);
    int k = snprintf(id, sizeof id, "m%d", i);
    recovery_page_add_v2(page, raw, (size_t)n, id, (size_t)k, (uint8_t)q->received_before[i]);
    q->handed[i] = 1;
    q->page[q->page_count++] = i;
    snprintf(received + strlen(received), sizeof received - strlen(received), "m%d\n", i);
  }
  if (q->page_count > 0) append_synced(q->dir, "received.log", received);
  int remaining = 0;
  for (int i = 0; i < kMessages; ++i) remaining += !q->acked[i] && !q->handed[i];
  int done = kMessages - remaining;
  recovery_page_set_progress(page, (double)done / kMessages);
  char next[32];
  long counter = cursor_len > 0 ? atol(cursor + 1) : 0;
  int k = snprintf(next, sizeof next, "p%ld", counter + 1);
  recovery_page_set_next_cursor(page, next, (size_t)k);
  recovery_page_set_exhausted(page, remaining == 0);
  return RECOVERY_OK;
}

static int queue_commit(void* ud, const char* shard_id, const char* cursor, size_t cursor_len,
                        const char* next_cursor, size_t next_cursor_len, const uint8_t* outcomes,
                        size_t count, recovery_error_t* error) {
  Queue* q = (Queue*)ud;
  (void)shard_id, (void)cursor, (void)cursor_len, (void)next_cursor, (void)next_cursor_len;
  if ((int)count != q->page_count) {
    recovery_error_set(error, "outcomes do not match the page", 30);
    return RECOVERY_INTERNAL;
  }
  char acks[kPage * 16] = "";
  for (size_t i = 0; i < count; ++i) {
    int m = q->page[i];
    if (outcomes[i] == RECOVERY_OUTCOME_DELIVERED && !q->written[m])
      append_synced(q->dir, "violation", "x\n");
    if (outcomes[i] == RECOVERY_OUTCOME_DEAD_LETTERED && !is_bad(m))
      append_synced(q->dir, "violation", "d\n");
    snprintf(acks + strlen(acks), sizeof acks - strlen(acks), "m%d\n", m);
    q->acked[m] = 1;
  }
  if (count > 0) append_synced(q->dir, "acks.log", acks);
  return RECOVERY_OK;
}

/* ---- the sink: appends "<key> <flag>" and fsyncs ---- */
static int out_write(void* ud, const char* shard_id, const recovery_record_t* records, size_t count,
                     recovery_error_t* error) {
  Queue* q = (Queue*)ud;
  (void)shard_id, (void)error;
  char* text = malloc(count * 48 + 1);
  text[0] = 0;
  size_t len = 0;
  for (size_t i = 0; i < count; ++i) {
    int m = -1;
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int)records[i].key_len, records[i].key);
    if (sscanf(key, "m%d", &m) == 1 && m >= 0 && m < kMessages) q->written[m] = 1;
    len += (size_t)sprintf(text + len, "%s %d\n", key, records[i].maybe_redelivered);
  }
  append_synced(q->dir, "out.txt", text);
  free(text);
  return RECOVERY_OK;
}

/* ---- the dead-letter plug-in ---- */
typedef struct {
  const char* dir;
  char pending[64 * 1024];
  int added, flushes;
} Dead;

static int dead_add(void* ud, const recovery_dead_letter_t* letter, recovery_error_t* error) {
  Dead* d = (Dead*)ud;
  (void)error;
  size_t used = strlen(d->pending);
  snprintf(d->pending + used, sizeof d->pending - used, "%.*s %.*s\n", (int)letter->source_id_len,
           letter->source_id, (int)letter->reason_len, letter->reason);
  ++d->added;
  return RECOVERY_OK;
}

static int dead_flush(void* ud, recovery_error_t* error) {
  Dead* d = (Dead*)ud;
  (void)error;
  if (d->pending[0] != 0) append_synced(d->dir, "dead.txt", d->pending);
  d->pending[0] = 0;
  ++d->flushes;
  return RECOVERY_OK;
}

/* isolate_after_crashes 0: these kills land a few milliseconds after a batch
 * reaches the sink, a dozen runs in a row, often while the handler still
 * fsyncs inside the sink's write, which the crash-loop breaker cannot tell
 * from a record that kills the process (kills just after the write are told
 * apart: crash_test's KillsJustAfterTheSinkNeverConvictAHealthyRecord); the
 * breaker has a test of its own (python/tests/test_crash_loop.py). */
static const char* kSpec =
    "{\"name\":\"c-queue\",\"window\":{\"start\":\"2026-11-14T00:00:00Z\",\"end\":\"2026-11-15T00:00:00Z\"},"
    "\"concurrency\":1,\"error_budget\":{\"max_fraction\":1},\"isolate_after_crashes\":0,"
    "\"mapper\":{\"type\":\"json\",\"fields\":[{\"name\":\"id\",\"from\":\"/id\",\"required\":true},"
    "{\"name\":\"amount\",\"from\":\"/amount\",\"type\":\"decimal\"}],\"key\":{\"from\":\"/id\"},"
    "\"event_time\":{\"from\":\"/t\",\"format\":\"epoch_us\"}},"
    "\"checkpoint\":{\"type\":\"file\",\"dir\":\"state\"}}";

/* One run of the job over the queue in `dir`; the process's exit code. */
static int run_child(const char* dir) {
  static Queue q;
  static Dead d;
  q.dir = d.dir = dir;
  int counts[kMessages];
  count_ids(dir, "acks.log", counts, NULL);
  for (int i = 0; i < kMessages; ++i) q.acked[i] = counts[i] > 0;
  count_ids(dir, "received.log", counts, NULL);
  for (int i = 0; i < kMessages; ++i) q.received_before[i] = counts[i] > 0;
  count_ids(dir, "out.txt", counts, NULL);
  for (int i = 0; i < kMessages; ++i) q.written[i] = counts[i] > 0;
  recovery_job_t* job = NULL;
  char* err = NULL;
  if (recovery_job_create(kSpec, strlen(kSpec), dir, &job, &err) != RECOVERY_OK) {
    fprintf(stderr, "create: %s\n", err);
    return 2;
  }
  recovery_source_vtable_v2_t src = {RECOVERY_SOURCE_VTABLE_VERSION_2, &q, queue_fetch, NULL, queue_commit};
  recovery_sink_vtable_t sink = {RECOVERY_SINK_VTABLE_VERSION, &q, out_write, NULL};
  recovery_dead_letter_vtable_t dead = {RECOVERY_DEAD_LETTER_VTABLE_VERSION, &d, dead_add, dead_flush, NULL};
  if (recovery_job_set_source_v2(job, &src, &err) != RECOVERY_OK ||
      recovery_job_set_sink(job, &sink, &err) != RECOVERY_OK ||
      recovery_job_set_dead_letters(job, &dead, &err) != RECOVERY_OK) {
    fprintf(stderr, "install: %s\n", err);
    return 2;
  }
  int code = recovery_job_run(job, &err);
  if (code != RECOVERY_OK) fprintf(stderr, "run: %s\n", err);
  recovery_free(err);
  recovery_job_destroy(job);
  return code == RECOVERY_OK ? 0 : 1;
}

static long file_size(const char* dir, const char* file) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static int file_exists(const char* dir, const char* file) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return access(path, F_OK) == 0;
}

static void test_through_sigkills(const char* self) {
  char dir[] = "/tmp/recovery-c-queue-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  srand(20261130);
  int kills = 0, runs = 0;
  for (; runs < 200; ++runs) {
    const long before = file_size(dir, "out.txt");
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      execl(self, self, "child", dir, (char*)NULL);
      _exit(127);
    }
    int status = 0, exited = 0;
    if (kills < kKills) {
      /* Once a batch of this run reached the sink, a random moment later. */
      for (int waited = 0; waited < 20000 && !exited; ++waited) {
        if (file_size(dir, "out.txt") > before) break;
        exited = waitpid(pid, &status, WNOHANG) == pid;
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
      }
      struct timespec ts = {0, (long)(rand() % 4000) * 1000L};
      nanosleep(&ts, NULL);
      kill(pid, SIGKILL);
    }
    if (!exited) waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      continue;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    break; /* the job is done */
  }
  int out[kMessages], flagged[kMessages], acked[kMessages], dead[kMessages];
  count_ids(dir, "out.txt", out, flagged);
  count_ids(dir, "acks.log", acked, NULL);
  count_ids(dir, "dead.txt", dead, NULL);
  int lost = 0, unflagged_twice = 0, unacked = 0, dead_wrong = 0, twice = 0;
  for (int i = 0; i < kMessages; ++i) {
    if (is_bad(i)) {
      dead_wrong += dead[i] == 0 || out[i] != 0;
    } else {
      lost += out[i] == 0;
      twice += out[i] > 1;
      unflagged_twice += out[i] > 1 && flagged[i] < out[i] - 1; /* every copy after the first is flagged */
      dead_wrong += dead[i] != 0;
    }
    unacked += acked[i] == 0;
  }
  printf("c queue: %d runs, %d kills, lost %d, delivered twice %d (unflagged %d), unacknowledged %d\n",
         runs + 1, kills, lost, twice, unflagged_twice, unacked);
  CHECK(kills >= kKills - 2); /* a run may finish before its kill */
  CHECK(lost == 0);
  CHECK(unflagged_twice == 0);
  CHECK(unacked == 0);
  CHECK(dead_wrong == 0);
  CHECK(!file_exists(dir, "violation")); /* nothing acknowledged before the sink had it */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- in-process: setters that fail the fetch, totals, bad vtables ---- */
static int oversized_fetch(void* ud, const char* shard_id, int64_t start_us, int64_t end_us,
                           const char* cursor, size_t cursor_len, recovery_page_t* page,
                           recovery_error_t* error) {
  (void)ud, (void)shard_id, (void)end_us, (void)cursor, (void)cursor_len, (void)error;
  char raw[64];
  int n = snprintf(raw, sizeof raw, "{\"id\":\"a\",\"t\":%lld}", (long long)start_us);
  recovery_page_add_v2(page, raw, (size_t)n, "a", 1, 0);
  /* A length no record has: refused before a byte is read, and the fetch fails. */
  recovery_page_add(page, raw, RECOVERY_MAX_RECORD_BYTES + 1);
  recovery_page_set_next_cursor(page, "1", 1);
  recovery_page_set_exhausted(page, 1);
  return RECOVERY_OK;
}

static int totals_fetch(void* ud, const char* shard_id, int64_t start_us, int64_t end_us, const char* cursor,
                        size_t cursor_len, recovery_page_t* page, recovery_error_t* error) {
  (void)ud, (void)shard_id, (void)end_us, (void)error;
  int from = cursor_len > 0 ? atoi(cursor) : 0;
  for (int i = from; i < from + 10; ++i) {
    char raw[64];
    int n = snprintf(raw, sizeof raw, "{\"id\":\"r%d\",\"t\":%lld}", i, (long long)start_us + i);
    recovery_page_add(page, raw, (size_t)n);
  }
  char next[16];
  int k = snprintf(next, sizeof next, "%d", from + 10);
  recovery_page_set_next_cursor(page, next, (size_t)k);
  recovery_page_set_total(page, 30);
  recovery_page_set_progress(page, (from + 10) / 30.0);
  recovery_page_set_exhausted(page, from + 10 == 30);
  return RECOVERY_OK;
}

static int undefined_code_fetch(void* ud, const char* shard_id, int64_t start_us, int64_t end_us,
                                const char* cursor, size_t cursor_len, recovery_page_t* page,
                                recovery_error_t* error) {
  (void)ud, (void)shard_id, (void)start_us, (void)end_us, (void)cursor, (void)cursor_len, (void)page;
  (void)error;
  return 4242;
}

static int null_write(void* ud, const char* shard_id, const recovery_record_t* records, size_t count,
                      recovery_error_t* error) {
  (void)ud, (void)shard_id, (void)records, (void)count, (void)error;
  return RECOVERY_OK;
}

/* A destination that holds 25 of the 30 records of totals_fetch, all in the first bucket. */
static int count_25(void* ud, int64_t start_us, int64_t width_us, size_t buckets, uint64_t* counts,
                    recovery_error_t* error) {
  (void)ud, (void)start_us, (void)width_us, (void)error;
  if (buckets > 0) counts[0] = 25;
  return RECOVERY_OK;
}

static int destroyed = 0;
static void count_destroy(void* ud) {
  (void)ud;
  ++destroyed;
}

static recovery_job_t* job_with(const char* dir, recovery_source_vtable_v2_t* src) {
  recovery_job_t* job = NULL;
  CHECK(recovery_job_create(kSpec, strlen(kSpec), dir, &job, NULL) == RECOVERY_OK);
  recovery_sink_vtable_t sink = {RECOVERY_SINK_VTABLE_VERSION, NULL, null_write, NULL};
  CHECK(recovery_job_set_sink(job, &sink, NULL) == RECOVERY_OK);
  CHECK(recovery_job_set_source_v2(job, src, NULL) == RECOVERY_OK);
  return job;
}

static void test_in_process(void) {
  char dir[] = "/tmp/recovery-c-queue-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char* err = NULL;

  /* A record the setter cannot store fails the fetch; the cursor stays. */
  recovery_source_vtable_v2_t oversized = {RECOVERY_SOURCE_VTABLE_VERSION_2, NULL, oversized_fetch, NULL,
                                           NULL};
  recovery_job_t* job = job_with(dir, &oversized);
  CHECK(recovery_job_run(job, &err) == RECOVERY_RESOURCE_EXHAUSTED);
  CHECK(err != NULL && strstr(err, "recovery_page_add") != NULL && strstr(err, "over the limit") != NULL);
  recovery_free(err);
  err = NULL;
  char* status = NULL;
  size_t status_len = 0;
  CHECK(recovery_job_status_json(job, &status, &status_len, NULL) == RECOVERY_OK);
  CHECK(status != NULL && strstr(status, "\"cursor\":\"\"") != NULL && strstr(status, "\"pages\":0") != NULL);
  recovery_free(status);
  recovery_job_destroy(job);

  /* A reported total and progress, with no commit callback. */
  char dir2[] = "/tmp/recovery-c-queue-XXXXXX";
  CHECK(mkdtemp(dir2) != NULL);
  recovery_source_vtable_v2_t totals = {RECOVERY_SOURCE_VTABLE_VERSION_2, NULL, totals_fetch, NULL, NULL};
  job = job_with(dir2, &totals);
  CHECK(recovery_job_run(job, &err) == RECOVERY_OK);
  recovery_progress_t p;
  CHECK(recovery_job_stats(job, &p) == RECOVERY_OK && p.records_delivered == 30 && p.window_fraction == 1.0);
  recovery_job_destroy(job);

  /* Reconcile through a version 3 sink's count. */
  char dir4[] = "/tmp/recovery-c-queue-XXXXXX";
  CHECK(mkdtemp(dir4) != NULL);
  CHECK(recovery_job_create(kSpec, strlen(kSpec), dir4, &job, NULL) == RECOVERY_OK);
  CHECK(recovery_job_set_source_v2(job, &totals, NULL) == RECOVERY_OK);
  recovery_sink_vtable_v3_t counting = {
      RECOVERY_SINK_VTABLE_VERSION_3, NULL, null_write, NULL, NULL, NULL, count_25};
  CHECK(recovery_job_set_sink_v3(job, &counting, NULL) == RECOVERY_OK);
  char* report = NULL;
  size_t report_len = 0;
  CHECK(recovery_job_reconcile_json(job, 86400LL * 1000000, 0, &report, &report_len, &err) == RECOVERY_OK);
  CHECK(report != NULL && strstr(report, "\"vendor\":30,\"destination\":25,\"short_buckets\":1") != NULL);
  CHECK(report != NULL && strstr(report, "\"status\":\"SHORT\"") != NULL && strlen(report) == report_len);
  recovery_free(report);
  CHECK(recovery_job_reconcile_json(job, 1500, 0, &report, NULL, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "not a whole number of seconds") != NULL);
  recovery_free(err);
  err = NULL;
  recovery_sink_vtable_v3_t no_count = {
      RECOVERY_SINK_VTABLE_VERSION_3, NULL, null_write, NULL, NULL, NULL, NULL};
  CHECK(recovery_job_set_sink_v3(job, &no_count, NULL) == RECOVERY_OK);
  CHECK(recovery_job_reconcile_json(job, 3600LL * 1000000, 0, &report, NULL, &err) ==
        RECOVERY_FAILED_PRECONDITION);
  CHECK(err != NULL && strstr(err, "cannot count its records by event time") != NULL);
  recovery_free(err);
  err = NULL;
  CHECK(recovery_job_reconcile_json(NULL, 1, 0, &report, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);

  /* The probe through C plug-ins: a JSON report, the source read within its budget, nothing written. */
  CHECK(recovery_job_probe_json(job, 1, 2, 20, &report, &report_len, &err) == RECOVERY_OK);
  CHECK(report != NULL && strstr(report, "\"id\":\"window_filter\"") != NULL && strlen(report) == report_len);
  CHECK(report != NULL && strstr(report, "\"id\":\"mapping\",") != NULL);
  CHECK(report != NULL && strstr(report, "\"max_requests\":20") != NULL);
  recovery_free(report);
  CHECK(recovery_job_probe_json(job, 1, 0, -5, &report, NULL, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "max_requests: expected 1 to 100000, got -5") != NULL);
  recovery_free(err);
  err = NULL;
  CHECK(recovery_job_probe_json(NULL, 1, 1, 1, &report, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_probe_json(job, 1, 1, 1, NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  recovery_job_destroy(job);

  /* A callback's code that is no status code is named as such. */
  char dir3[] = "/tmp/recovery-c-queue-XXXXXX";
  CHECK(mkdtemp(dir3) != NULL);
  recovery_source_vtable_v2_t undefined = {RECOVERY_SOURCE_VTABLE_VERSION_2, NULL, undefined_code_fetch, NULL,
                                           NULL};
  job = job_with(dir3, &undefined);
  CHECK(recovery_job_run(job, &err) != RECOVERY_OK);
  CHECK(err != NULL && strstr(err, "source fetch callback returned 4242, not a status code") != NULL);
  recovery_free(err);
  err = NULL;

  /* Bad vtables: each error names the call and what is wrong; destroy runs once. */
  destroyed = 0;
  recovery_source_vtable_v2_t no_fetch = {RECOVERY_SOURCE_VTABLE_VERSION_2, NULL, NULL, count_destroy, NULL};
  CHECK(recovery_job_set_source_v2(job, &no_fetch, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "recovery_job_set_source_v2: the vtable's `fetch` is NULL") != NULL);
  recovery_free(err);
  err = NULL;
  recovery_source_vtable_v2_t v1_number = {RECOVERY_SOURCE_VTABLE_VERSION, NULL, totals_fetch, count_destroy,
                                           NULL};
  CHECK(recovery_job_set_source_v2(job, &v1_number, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "vtable version 1 is not supported") != NULL);
  recovery_free(err);
  err = NULL;
  recovery_dead_letter_vtable_t no_add = {RECOVERY_DEAD_LETTER_VTABLE_VERSION, NULL, NULL, NULL,
                                          count_destroy};
  CHECK(recovery_job_set_dead_letters(job, &no_add, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "recovery_job_set_dead_letters: the vtable's `add` is NULL") != NULL);
  recovery_free(err);
  err = NULL;
  recovery_dead_letter_vtable_t future = {7, NULL, dead_add, NULL, count_destroy};
  CHECK(recovery_job_set_dead_letters(job, &future, &err) == RECOVERY_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(err, "vtable version 7") != NULL);
  recovery_free(err);
  CHECK(destroyed == 4);
  CHECK(recovery_job_set_dead_letters(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  CHECK(recovery_job_set_source_v2(NULL, NULL, NULL) == RECOVERY_INVALID_ARGUMENT);
  recovery_page_add_v2(NULL, "x", 1, "i", 1, 0);
  recovery_page_set_total(NULL, 1);
  recovery_page_set_progress(NULL, 0.5);
  recovery_job_destroy(job);

  char cmd[2048];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s' '%s'", dir, dir2, dir3, dir4);
  if (system(cmd) != 0) fprintf(stderr, "could not remove the test directories\n");
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "child") == 0) return run_child(argv[2]);
  test_in_process();
  (void)argc;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;
  test_through_sigkills(self);
  return C_CHECK_SUMMARY();
}
