"""Sends a recovery job's plan to the Celery workers, one task per shard that
is not done yet, and shows progress until every shard is done.

    python3 fanout.py JOB.json [--interval SECONDS] [--timeout SECONDS]

Progress comes from the job's checkpoint store (PostgreSQL), so it is the
truth whichever worker runs what: shards done, running (and on which
worker), records delivered. Exit status 0 when every shard is done, 1 when a
task failed for good, 3 on timeout. Running it again sends only what is left.

A worker that dies (SIGKILL, OOM, a lost host) leaves its shard's lease to
expire; a clean stop releases it. So a shard whose lease is on record but
expired, and that is not done, was abandoned: its task is sent again (once per
lease), and the next worker resumes the shard from its checkpoint. The broker
would redeliver the dead worker's task too (acks_late), but only after its
visibility timeout, and Redis checks for those rarely.
"""
import argparse
import os
import sys
import time

import celery

from recovery_tasks import recovery, run_shard


def summary(status):
    shards = status["shards"]
    done = sum(s["state"] == "done" for s in shards)
    running = [s for s in shards if s["state"] != "done" and s.get("lease", {}).get("live")]
    records = sum(s["records_delivered"] for s in shards)
    dead = sum(s["dead_letters"] for s in shards)
    owners = sorted({s["lease"]["owner"] for s in running})
    return done, len(shards), f"{done}/{len(shards)} shards done, {len(running)} running " \
                               f"({', '.join(owners) or '-'}), {records} records delivered, {dead} dead letters"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")
    args = parser.parse_args()
    with open(args.job) as f:
        spec = f.read()
    base_dir = os.path.dirname(os.path.abspath(args.job))
    with recovery.Job(spec, base_dir=base_dir) as job:
        status = job.status()
        todo = [s["id"] for s in status["shards"] if s["state"] != "done"]
        print(f"job {status['job']}: {len(status['shards'])} shards, sending {len(todo)}", flush=True)
        result = celery.group(run_shard.s(spec, shard, base_dir) for shard in todo).apply_async()
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
                              f"{lease['expires']}); sending it again", flush=True)
                        result.results.append(run_shard.delay(spec, s["id"], base_dir))
            done, total, line = summary(status)
            if line != last:
                print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)
                last = line
            if done == total:
                return 0
            if any(r.failed() for r in result.results):
                for r in result.results:
                    if r.failed():
                        print(f"a task failed for good: {r.result!r}", file=sys.stderr)
                return 1
            if args.timeout and time.monotonic() - started > args.timeout:
                print("timed out; the tasks go on, run fanout.py again to watch", file=sys.stderr)
                return 3
            time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
