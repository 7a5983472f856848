"""Celery tasks that run a recovery job's shards across workers.

Each task runs one shard of a job through the ctypes bindings
(examples/python/recovery.py). The job's checkpoints live in PostgreSQL
("checkpoint": {"type": "postgres", ...}), so any worker on any host can run
any shard: the library leases the shard to the worker while it runs, renews
the lease, and fences out a worker that lost it. A task that is retried, or
redelivered after its worker died, resumes from the shard's checkpoint.

    celery -A recovery_tasks worker -P solo -c 1      # as many as you like
    python3 fanout.py job.json                       # send the plan, watch it

Settings come from the environment:
    RECOVERY_CELERY_BROKER       broker and result backend (default redis://127.0.0.1:6379/0)
    RECOVERY_CELERY_VISIBILITY   seconds before Redis hands an unacknowledged task
                                 (its worker died) to another worker (default 3600)
    RECOVERY_CELERY_RETRY_DELAY  seconds between retries of a shard another
                                 worker holds, or that failed transiently (default 10)
"""
import json
import logging
import os
import pathlib
import socket
import sys

from celery import Celery

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
import recovery  # noqa: E402

BROKER = os.environ.get("RECOVERY_CELERY_BROKER", "redis://127.0.0.1:6379/0")
RETRY_DELAY = float(os.environ.get("RECOVERY_CELERY_RETRY_DELAY", "10"))

app = Celery("recovery_tasks", broker=BROKER, backend=BROKER)
app.conf.update(
    task_acks_late=True,  # a task is acknowledged when it ends, so a dead worker's task is redelivered
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # a worker holds only the task it runs
    broker_transport_options={"visibility_timeout": int(os.environ.get("RECOVERY_CELERY_VISIBILITY", "3600"))},
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)

log = logging.getLogger("recovery")
_LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]

# Worth another try later: another worker holds the shard (LEASED), took it
# over (ABORTED), the run was interrupted or paused, or a transient fault
# outlasted the job's retry policy.
_RETRY = {recovery.LEASED, recovery.ABORTED, recovery.CANCELLED, recovery.PAUSED, recovery.INCOMPLETE,
          recovery.UNAVAILABLE, recovery.DEADLINE_EXCEEDED}


@app.task(bind=True, max_retries=None, name="recovery.run_shard")
def run_shard(self, job_spec, shard_id, base_dir=None):
    """Runs (or resumes) one shard of `job_spec` (the job file's JSON text)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with recovery.Job(job_spec, base_dir=base_dir) as job:
        job.add_shard(shard_id)
        job.on_log(lambda level, message, fields: log.log(_LEVELS[level], "%s %s", message, json.dumps(fields)))
        try:
            job.run()
        except recovery.RecoveryError as e:
            if e.code in _RETRY:
                log.warning("shard %s on %s: %s; retrying in %ss", shard_id, worker, e, RETRY_DELAY)
                raise self.retry(exc=e, countdown=RETRY_DELAY)
            raise
        stats = job.stats()
    return {"shard": shard_id, "worker": worker, "records_this_run": stats.records_this_run,
            "records_delivered": stats.records_delivered, "dead_letters": stats.dead_letters}
