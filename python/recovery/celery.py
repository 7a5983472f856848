"""Celery tasks that run a recovery job's shards across workers, and the
fan-out that sends them.

The job's checkpoints live in PostgreSQL ("checkpoint": {"type": "postgres",
...}), so any worker on any host can run any shard: the library leases the
shard to the worker while it runs, renews the lease, and fences out a worker
that lost it. A task that is retried, or redelivered after its worker died,
resumes from the shard's checkpoint. Two kinds of task:

- recovery.run_job: runs every shard of the job the worker can claim, the
  job's `concurrency` at once, until none is left unclaimed. One per worker
  process is enough, and Celery's cost per task (seconds: a prefetch of one
  with late acknowledgement takes the next task only when the worker's event
  loop wakes) is paid once per worker instead of once per shard. Use it for
  plans of many small shards (a month of hourly shards).
- recovery.run_shard: runs one shard.

    celery -A recovery.celery worker -P prefork -c 1       # as many as you like
    python3 -m recovery.celery fanout job.json --tasks 8   # one run_job per worker process
    python3 -m recovery.celery fanout job.json             # one run_shard per shard

Settings come from the environment:
    RECOVERY_CELERY_BROKER       broker and result backend (default redis://127.0.0.1:6379/0)
    RECOVERY_CELERY_VISIBILITY   seconds before Redis hands an unacknowledged task
                                 (its worker died) to another worker (default 3600)
    RECOVERY_CELERY_RETRY_DELAY  seconds between retries of a shard another
                                 worker holds, or that failed transiently (default 10)

Needs Celery (Debian: python3-celery python3-redis); the rest of the package
does not.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from celery import Celery, group

from . import _job as recovery

BROKER = os.environ.get("RECOVERY_CELERY_BROKER", "redis://127.0.0.1:6379/0")
RETRY_DELAY = float(os.environ.get("RECOVERY_CELERY_RETRY_DELAY", "10"))

app = Celery("recovery.celery", broker=BROKER, backend=BROKER)
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
def run_shard(self, job_spec: str, shard_id: str, base_dir: Optional[str] = None) -> Dict[str, Any]:
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


@app.task(bind=True, max_retries=None, name="recovery.run_job")
def run_job(self, job_spec: str, base_dir: Optional[str] = None) -> Dict[str, Any]:
    """Runs every shard of `job_spec` this worker can claim until none is left
    unclaimed. Shards other workers hold are theirs: the task ends without
    them (the fan-out sends another task for a shard whose worker died)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with recovery.Job(job_spec, base_dir=base_dir) as job:
        job.on_log(lambda level, message, fields: log.log(_LEVELS[level], "%s %s", message, json.dumps(fields)))
        others = False
        try:
            job.run()
        except recovery.RecoveryError as e:
            if e.code == recovery.LEASED:
                others = True  # other workers hold the shards left
            elif e.code in _RETRY:
                log.warning("job on %s: %s; retrying in %ss", worker, e, RETRY_DELAY)
                raise self.retry(exc=e, countdown=RETRY_DELAY)
            else:
                raise
        stats = job.stats()
    return {"worker": worker, "records_this_run": stats.records_this_run,
            "records_delivered": stats.records_delivered, "dead_letters": stats.dead_letters,
            "others_hold_shards": others}


def summary(status: Dict[str, Any]) -> Tuple[int, int, str]:
    """(shards done, shards, a one-line description) of a job's status(). The
    numbers are the library's own summary, the ones `recovery status` prints."""
    s = status["summary"]
    running = [sh for sh in status["shards"] if sh["state"] != "done" and sh.get("lease", {}).get("live")]
    owners = sorted({sh["lease"]["owner"] for sh in running})
    return s["shards_done"], s["shards"], \
        f"{s['shards_done']}/{s['shards']} shards done, {len(running)} running ({', '.join(owners) or '-'}), " \
        f"{s['records_delivered']} records delivered, {s['dead_letters']} dead letters"


def fanout(job_path: str, interval: float = 2.0, timeout: float = 0, out=sys.stdout, tasks: int = 0) -> int:
    """Sends one task per shard of the job file that is not done (or, with
    `tasks`, that many run_job tasks, which claim shards until none is left),
    then reports progress from the checkpoint store until every shard is done.
    A shard whose lease expired without being released (its worker died) is
    sent again; the next worker resumes it. Returns 0 when every shard is
    done, 1 when a task failed for good, 3 on timeout. Running it again sends
    only what is left."""
    with open(job_path) as f:
        spec = f.read()
    base_dir = os.path.dirname(os.path.abspath(job_path))
    with recovery.Job(spec, base_dir=base_dir) as job:
        status = job.status()
        todo = [s["id"] for s in status["shards"] if s["state"] != "done"]
        if tasks > 0:
            print(f"job {status['job']}: {len(status['shards'])} shards, {len(todo)} to run, sending "
                  f"{min(tasks, len(todo))} run_job tasks", file=out, flush=True)
            result = group(run_job.s(spec, base_dir) for _ in range(min(tasks, len(todo)))).apply_async()
        else:
            print(f"job {status['job']}: {len(status['shards'])} shards, sending {len(todo)}", file=out, flush=True)
            result = group(run_shard.s(spec, shard, base_dir) for shard in todo).apply_async()
        results: List[Any] = list(result.results)
        started = time.monotonic()
        last = None
        resent = set()  # (shard, fencing token) of abandoned leases already handled
        while True:
            status = job.status()
            for s in status["shards"]:
                lease = s.get("lease")
                if s["state"] != "done" and lease and not lease["live"]:
                    if (s["id"], lease["fencing_token"]) not in resent:
                        resent.add((s["id"], lease["fencing_token"]))
                        print(f"shard {s['id']} was abandoned by {lease['owner']} (lease expired at "
                              f"{lease['expires']}); sending it again", file=out, flush=True)
                        resend = run_job.delay(spec, base_dir) if tasks > 0 else run_shard.delay(spec, s["id"], base_dir)
                        results.append(resend)
            done, total, line = summary(status)
            if line != last:
                print(f"[{time.monotonic() - started:6.1f}s] {line}", file=out, flush=True)
                last = line
            if done == total:
                return 0
            failed = [r for r in results if r.failed()]
            if failed:
                for r in failed:
                    print(f"a task failed for good: {r.result!r}", file=sys.stderr)
                return 1
            if timeout and time.monotonic() - started > timeout:
                print("timed out; the tasks go on, run the fan-out again to watch", file=sys.stderr)
                return 3
            time.sleep(interval)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m recovery.celery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    f = commands.add_parser("fanout", help="send a job's shards to the workers and watch them finish")
    f.add_argument("job")
    f.add_argument("--interval", type=float, default=2.0, help="seconds between progress reads")
    f.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")
    f.add_argument("--tasks", type=int, default=0,
                   help="send this many run_job tasks (one per worker process) instead of one task per shard")
    args = parser.parse_args(argv)
    if args.tasks < 0:
        parser.error("--tasks: expected 0 or more")
    return fanout(args.job, args.interval, args.timeout, tasks=args.tasks)


if __name__ == "__main__":
    sys.exit(main())
