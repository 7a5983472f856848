"""Scale-out benchmark: records/s of one recovery job run as Celery tasks by
1, 2 and 4 worker processes, against the simulated API on loopback with a
fixed latency per request, checkpoints in PostgreSQL and the records upserted
into a PostgreSQL table. Prints a table with each rate as a ratio to one
worker, measured in the same run.

    /usr/bin/python3 benchmarks/celery_scaling.py [BUILD_DIR]   (default build)

Needs what the Celery test needs (postgresql, redis-server, python3-celery).
The time is from sending the plan to the last shard done, as the fan-out
command sees it (it polls every 0.1 s).
"""
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

RECORDS = 16000
SHARDS = 8
PAGE = 50
LATENCY_MS = 25
WORKERS = [1, 2, 4]


def job(api_url, dsn, name):
    return {
        "name": name,
        "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
        "shard_duration": "3h",
        "source": {"type": "http", "url": f"{api_url}/v1/keyset",
                   "query": {"from": "{start}", "to": "{end}", "limit": "{limit}",
                             "after_time": "{after_time}", "after_id": "{after_id}"},
                   "records": "/data", "page_size": PAGE,
                   "pagination": {"type": "keyset", "time": "/created_at", "id": "/id"}},
        "mapper": {"type": "json", "fields": [{"name": "transaction_id", "from": "/id", "required": True},
                                              {"name": "amount", "from": "/amount/value", "type": "decimal"}],
                   "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
        "sink": {"type": "postgres", "dsn": dsn, "table": "transactions",
                 "columns": {"transaction_id": "/transaction_id", "amount": "/amount", "occurred_at": "$event_time"},
                 "conflict_columns": ["transaction_id"]},
        "checkpoint": {"type": "postgres", "dsn": dsn, "lease": "10s"},
    }


def run(n, env, tmp, api, pg):
    workers = []
    for i in range(n):
        log = open(os.path.join(tmp, f"w{n}-{i}.log"), "w")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "recovery.celery", "worker", "-P", "prefork", "-c", "1",
             "-n", f"bench{n}-{i}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
    try:
        time.sleep(3)  # the workers connect to the broker
        pg.sql("TRUNCATE transactions")
        path = os.path.join(tmp, f"job{n}.json")
        with open(path, "w") as f:
            json.dump(job(api.url, pg.dsn, f"bench-{n}-workers"), f)
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "recovery.celery", "fanout", path, "--interval", "0.1",
                              "--timeout", "600"], cwd=tmp, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - start
        if out.returncode != 0:
            raise RuntimeError(out.stdout + out.stderr)
        count = int(pg.sql("SELECT count(DISTINCT transaction_id) FROM transactions"))
        if count != RECORDS:
            raise RuntimeError(f"{count} records in the table, expected {RECORDS}")
        return elapsed
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait()


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    os.environ.setdefault("RECOVERY_C_LIBRARY", os.path.join(build, "librecovery_c.so"))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(ROOT, "python"),
                                                             os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("RECOVERY_FIXTURE_API", os.path.join(build, "tests", "testing", "recovery_fixture_api"))
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as pg, RedisServer() as redis, \
            FixtureApi(RECORDS, latency_ms=LATENCY_MS) as api:
        pg.sql("CREATE TABLE transactions (transaction_id text PRIMARY KEY, amount numeric, occurred_at timestamptz)")
        env = dict(os.environ, RECOVERY_CELERY_BROKER=redis.url, RECOVERY_CELERY_RETRY_DELAY="1")
        pages = RECORDS // SHARDS // PAGE + 1  # the last page of a shard says it is the last
        print(f"{RECORDS} records, {SHARDS} shards of {RECORDS // SHARDS}, pages of {PAGE}, "
              f"{LATENCY_MS} ms per request ({pages} requests per shard)")
        print(f"{'workers':>7} {'seconds':>8} {'records/s':>10} {'vs 1 worker':>12} {'of the latency bound':>21}")
        base = None
        for n in WORKERS:
            elapsed = run(n, env, tmp, api, pg)
            rate = RECORDS / elapsed
            base = base or rate
            bound = -(-SHARDS // n) * pages * LATENCY_MS / 1000  # shards one after another per worker
            print(f"{n:>7} {elapsed:>8.2f} {rate:>10,.0f} {rate / base:>11.2f}x {bound / elapsed:>20.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
