"""Month-scale scale-out benchmark: a 30-day gap planned as 720 one-hour
shards, run as Celery tasks by 1, 2, 4 and 8 worker processes against the
simulated API on loopback with a fixed latency per request; checkpoints,
leases and the destination table in PostgreSQL, Redis as the broker, all
started by the benchmark. Prints records/s, the ratio to one worker, and the
share of the latency bound reached.

    /usr/bin/python3 benchmarks/celery_month_scale.py [BUILD_DIR] [--per-shard] [--workers 1,2,4,8]
    /usr/bin/python3 benchmarks/celery_month_scale.py [BUILD_DIR] --kill

--kill runs the month on four workers and kills one of them (SIGKILL to its
process group) twice, starting a fresh worker after each kill; it checks the
table holds every record exactly once and reports how long each shard the
dead worker held took to be taken over (its lease, 10 s, plus the fan-out's
notice and the next claim).

The bound: every request the run made (the pages of every shard, from the
checkpoints) at the full concurrency of all workers,
    pages x latency / (workers x concurrency per worker),
and the records over that time. Each worker process runs one task,
recovery.run_job, that claims shards until none is left (fanout --tasks N);
with --per-shard the fan-out sends one recovery.run_shard per shard instead,
which is what the Celery settings cost per task shows up in.
The time is from sending the tasks to the last shard done, as the fan-out
sees it (it polls every 0.1 s).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))  # servers.py
from servers import FixtureApi, PostgresCluster, RedisServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import celery_scaling  # noqa: E402  (its job: the same source, mapping, sink and checkpoints)

START, END = "2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z"  # 720 hours
RECORDS = 144_000  # 200 an hour on average
PAGE = celery_scaling.PAGE
LATENCY_MS = 100
CONCURRENCY = 4  # shards at once in each worker process
# The API serves 96 connections at once (a kept-alive connection holds one of
# its threads), more than the 32 of eight workers: the server is not the limit.


def job(api_url, dsn, name):
    """The scale-out benchmark's job (same source, mapping, sink and
    checkpoints) over the month, in one-hour shards."""
    spec = celery_scaling.job(api_url, dsn, name)
    spec.update(window={"start": START, "end": END}, shard_duration="1h", concurrency=CONCURRENCY)
    return spec


def run(n, env, tmp, api, pg, per_shard):
    workers = start_workers(n, env, tmp, f"month{n}")
    try:
        time.sleep(3)  # the workers connect to the broker
        pg.sql("TRUNCATE transactions")
        path = os.path.join(tmp, f"job{n}.json")
        name = f"month-{n}-workers{'-per-shard' if per_shard else ''}"
        with open(path, "w") as f:
            json.dump(job(api.url, pg.dsn, name), f)
        command = [sys.executable, "-m", "recovery.celery", "fanout", path, "--interval", "0.1", "--timeout", "1800"]
        if not per_shard:
            command += ["--tasks", str(n)]
        start = time.monotonic()
        out = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - start
        if out.returncode != 0:
            raise RuntimeError(out.stdout + out.stderr)
        count = int(pg.sql("SELECT count(DISTINCT transaction_id) FROM transactions"))
        if count != RECORDS:
            raise RuntimeError(f"{count} records in the table, expected {RECORDS}")
        sys.path.insert(0, os.path.join(ROOT, "python"))
        import recovery  # noqa: E402 (after RECOVERY_C_LIBRARY is set)
        with recovery.Job(json.dumps(job(api.url, pg.dsn, name)), base_dir=tmp) as j:
            status = j.status()
        pages = sum(s["pages"] for s in status["shards"])
        t0 = time.monotonic()
        with recovery.Job(json.dumps(job(api.url, pg.dsn, name)), base_dir=tmp) as j:
            j.status()
        status_seconds = time.monotonic() - t0
        return elapsed, pages, len(status["shards"]), status_seconds
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait()


def start_workers(n, env, tmp, tag):
    workers = []
    for i in range(n):
        log = open(os.path.join(tmp, f"{tag}-{i}.log"), "w")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "recovery.celery", "worker", "-P", "prefork", "-c", "1",
             "-n", f"{tag}-{i}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return workers


def leases(pg, name):
    """shard -> (state, lease owner or '', lease live)"""
    if pg.sql("SELECT to_regclass('recovery_checkpoints') IS NULL") == "t":
        return {}  # created by the first worker to claim a shard
    rows = pg.sql("SELECT shard, state, coalesce(lease_owner, ''), coalesce(lease_expires > now(), false) "
                  f"FROM recovery_checkpoints WHERE job = '{name}'")
    out = {}
    for row in rows.splitlines():
        shard, state, owner, live = row.split("|")
        out[shard] = (state, owner, live == "t")
    return out


def kill_run(env, tmp, api, pg):
    """Four workers; one killed twice mid-month. Returns the takeover times."""
    workers = start_workers(4, env, tmp, "kill")
    try:
        time.sleep(3)
        pg.sql("TRUNCATE transactions")
        name = "month-kill"
        path = os.path.join(tmp, "job-kill.json")
        with open(path, "w") as f:
            json.dump(job(api.url, pg.dsn, name), f)
        fanout = subprocess.Popen([sys.executable, "-m", "recovery.celery", "fanout", path, "--interval", "0.5",
                                   "--timeout", "1800", "--tasks", "4"], cwd=tmp, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = time.monotonic()
        takeovers = []
        for kill, at_done in enumerate([180, 450]):  # shards done when each kill lands
            while sum(s == "done" for s, _, _ in leases(pg, name).values()) < at_done:
                time.sleep(0.2)
            victim = workers[kill]
            pids = set(subprocess.run(["pgrep", "-g", str(victim.pid)], capture_output=True,
                                      text=True).stdout.split())
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            killed_at = time.monotonic()
            held = {shard: owner for shard, (state, owner, live) in leases(pg, name).items()
                    if state != "done" and owner and owner.split(":")[1] in pids}
            workers.append(start_workers(1, env, tmp, f"fresh{kill}")[0])
            pending = dict(held)
            while pending:
                now = leases(pg, name)
                for shard in list(pending):
                    state, owner, _ = now[shard]
                    if owner != pending[shard] or state == "done":
                        takeovers.append(time.monotonic() - killed_at)
                        del pending[shard]
                time.sleep(0.1)
            print(f"kill {kill + 1}: at {killed_at - started:.1f}s, {len(held)} shards held by the dead "
                  f"worker, taken over after {', '.join(f'{t:.1f}s' for t in takeovers[-len(held):]) or '-'}",
                  flush=True)
        out, _ = fanout.communicate(timeout=1800)
        if fanout.returncode != 0:
            raise RuntimeError(out)
        total, distinct = pg.sql("SELECT count(*), count(DISTINCT transaction_id) FROM transactions").split("|")
        if (int(total), int(distinct)) != (RECORDS, RECORDS):
            raise RuntimeError(f"{total} rows, {distinct} distinct, expected {RECORDS} each")
        print(f"done in {time.monotonic() - started:.1f}s: {total} rows, every record once", flush=True)
        return takeovers
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    parser.add_argument("--per-shard", action="store_true", help="one run_shard task per shard")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--kill", action="store_true", help="kill one of four workers twice")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("RECOVERY_C_LIBRARY", os.path.join(build, "librecovery_c.so"))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(ROOT, "python"),
                                                             os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("RECOVERY_FIXTURE_API", os.path.join(build, "tests", "testing", "recovery_fixture_api"))
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as pg, RedisServer() as redis, \
            FixtureApi(RECORDS, latency_ms=LATENCY_MS, start=START, end=END, threads=96) as api:
        pg.sql("CREATE TABLE transactions (transaction_id text PRIMARY KEY, amount numeric, occurred_at timestamptz)")
        env = dict(os.environ, RECOVERY_CELERY_BROKER=redis.url, RECOVERY_CELERY_RETRY_DELAY="1")
        if args.kill:
            kill_run(env, tmp, api, pg)
            return
        print(f"{RECORDS} records over 30 days as 720 one-hour shards, pages of {PAGE}, {LATENCY_MS} ms per "
              f"request, {CONCURRENCY} shards at once per worker process; tasks: "
              f"{'one per shard (run_shard)' if args.per_shard else 'one run_job per worker'}")
        print(f"{'workers':>7} {'seconds':>8} {'records/s':>10} {'vs 1 worker':>12} {'bound rec/s':>12} "
              f"{'of the bound':>13} {'status (720 shards)':>20}")
        base = None
        for n in [int(w) for w in args.workers.split(",")]:
            elapsed, pages, shards, status_seconds = run(n, env, tmp, api, pg, args.per_shard)
            rate = RECORDS / elapsed
            base = base or rate
            bound_seconds = pages * LATENCY_MS / 1000 / (n * CONCURRENCY)
            bound = RECORDS / bound_seconds
            print(f"{n:>7} {elapsed:>8.2f} {rate:>10,.0f} {rate / base:>11.2f}x {bound:>12,.0f} "
                  f"{rate / bound:>12.0%} {status_seconds * 1000:>17.0f} ms", flush=True)


if __name__ == "__main__":
    main()
