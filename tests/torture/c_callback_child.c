/* Crash torture through the C ABI: runs the job a file describes with a C
 * callback sink that appends "KEY FLAG" lines to OUT and fsyncs before it
 * acknowledges, as an integration's handler would. The test kills it with
 * SIGKILL at random moments; such a sink cannot roll back, so a record may
 * reach it twice, but only flagged (maybe_redelivered) the second time.
 *
 *   c_callback_child JOB.json OUT
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recovery/c.h"

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int inject(void* user_data, const char* shard_id, const recovery_record_t* records, size_t count,
                  recovery_error_t* error) {
  const int fd = *(const int*)user_data;
  (void)shard_id;
  char line[512];
  for (size_t i = 0; i < count; ++i) {
    const int n = snprintf(line, sizeof line, "%.*s %d\n", (int)records[i].key_len, records[i].key,
                           records[i].maybe_redelivered ? 1 : 0);
    if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) != 0) {
      recovery_error_set(error, "write failed", 12);
      return RECOVERY_UNAVAILABLE;
    }
  }
  if (fsync(fd) != 0) {
    recovery_error_set(error, "fsync failed", 12);
    return RECOVERY_UNAVAILABLE;
  }
  return RECOVERY_OK;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s JOB.json OUT\n", argv[0]);
    return 2;
  }
  int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) return 2;
  recovery_job_t* job = NULL;
  char* err = NULL;
  if (recovery_job_create_from_file(argv[1], &job, &err) != RECOVERY_OK) {
    fprintf(stderr, "%s\n", err);
    recovery_free(err);
    return 2;
  }
  recovery_sink_vtable_t sink = {RECOVERY_SINK_VTABLE_VERSION, &fd, inject, NULL};
  if (recovery_job_set_sink(job, &sink, &err) != RECOVERY_OK) {
    fprintf(stderr, "%s\n", err);
    recovery_free(err);
    return 2;
  }
  const int code = recovery_job_run(job, &err);
  if (code != RECOVERY_OK) fprintf(stderr, "%s: %s\n", recovery_status_name(code), err ? err : "");
  recovery_free(err);
  recovery_job_destroy(job);
  close(fd);
  return code == RECOVERY_OK ? 0 : 1;
}
