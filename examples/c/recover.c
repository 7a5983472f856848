/* A complete C program: run the recovery a job file describes, injecting the
 * recovered records through a callback sink (here: printing them, where an
 * integration would hand them to its live-record handler).
 *
 *   recover_c JOB.json
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "recovery/c.h"

static recovery_job_t* g_job = NULL;

static void on_signal(int sig) {
  (void)sig;
  if (g_job != NULL) recovery_job_cancel(g_job); /* stops after the current batch commits */
}

typedef struct {
  unsigned long delivered;
  unsigned long flagged;
} Counters;

static int inject(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                  recovery_error_t* error) {
  Counters* c = (Counters*)user_data;
  (void)shard_id;
  (void)error;
  for (size_t i = 0; i < count; ++i) {
    /* A real integration would check records[i].key against what it already
     * processed when records[i].maybe_redelivered is set. */
    printf("%.*s%s\n", (int)records[i].data_len, records[i].data,
           records[i].maybe_redelivered ? "  # possibly seen before" : "");
    if (records[i].maybe_redelivered) c->flagged++;
  }
  c->delivered += count;
  return RECOVERY_OK; /* acknowledges the batch: its checkpoint moves past it */
}

static void on_progress(void* user_data, const recovery_progress_t* p) {
  (void)user_data;
  fprintf(stderr, "\r%5.1f%% of the window, %llu records, %llu dead letters", p->window_fraction * 100,
          (unsigned long long)p->records_delivered, (unsigned long long)p->dead_letters);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s JOB.json\n", argv[0]);
    return 2;
  }
  char* err = NULL;
  if (recovery_job_create_from_file(argv[1], &g_job, &err) != RECOVERY_OK) {
    fprintf(stderr, "%s\n", err);
    recovery_free(err);
    return 2;
  }
  Counters counters = {0, 0};
  recovery_sink_vtable_t sink = {RECOVERY_SINK_VTABLE_VERSION, &counters, inject, NULL};
  if (recovery_job_set_sink(g_job, &sink, &err) != RECOVERY_OK) {
    fprintf(stderr, "%s\n", err);
    recovery_free(err);
    recovery_job_destroy(g_job);
    return 2;
  }
  recovery_job_set_progress_callback(g_job, on_progress, NULL);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  const int code = recovery_job_run(g_job, &err);
  fprintf(stderr, "\n%s: %lu records injected (%lu flagged as possible redeliveries)%s%s\n",
          recovery_status_name(code), counters.delivered, counters.flagged, err ? "; " : "", err ? err : "");
  recovery_free(err);
  recovery_job_destroy(g_job);
  return code == RECOVERY_OK ? 0 : 1;
}
