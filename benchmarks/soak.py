#!/usr/bin/env python3
"""A soak of follow mode: memory, file descriptors, threads and database
connections of a long-running `recovery run`, each sampled every 10 s.

The simulated API (recovery_fixture_api) serves two hours of records and then
keeps adding records at --rate a second, stamped as they arrive, as a live
feed does. The job recovers the first hour as a gap and follows the rest, with
PostgreSQL checkpoints (10 s leases) and a PostgreSQL sink, polling every
2 s. After --kill-at minutes the process is killed with SIGKILL and started
again once its leases have expired. The
feed stops a minute before --minutes; once the table holds every record the
API has, the second process is stopped with SIGTERM.

It prints one row per sample and, for each process, the growth of each figure
over its last 15 minutes (or, for a shorter life, from two minutes after its
start), which should stay under 5 %. It then checks that every record the API
holds is in the table exactly once. Not part of CI: it takes --minutes.

    benchmarks/soak.py [BUILD_DIR] [--minutes 32] [--kill-at 10] [--rate 20]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
from servers import FixtureApi, PostgresCluster  # noqa: E402


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def proc_figures(pid):
    """(resident MiB, threads, open descriptors) of a live process."""
    rss_kib = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss_kib / 1024.0, threads, len(os.listdir(f"/proc/{pid}/fd"))


def connections(pg):
    """Client connections the server counts, but the one asking."""
    return int(pg.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                      "AND pid <> pg_backend_pid()"))


def api_total(url, start):
    """How many records the API holds from `start` on (its X-Total-Count)."""
    q = f"{url}/v1/keyset?from={start}&to=2100-01-01T00:00:00Z&limit=1"
    with urllib.request.urlopen(q, timeout=30) as r:
        return int(r.headers["X-Total-Count"])


def job_file(tmp, api, pg, start, gap_end):
    job = {
        "name": "soak",
        "window": {"start": start, "end": gap_end, "follow": True, "poll_interval": "2s"},
        "shard_duration": "15m", "concurrency": 4,
        "source": {"type": "http", "url": api.url + "/v1/keyset",
                   "query": {"from": "{start}", "to": "{end}", "limit": "{limit}", "after_time": "{after_time}",
                             "after_id": "{after_id}"},
                   "records": "/data", "page_size": 100,
                   "pagination": {"type": "keyset", "time": "/created_at", "id": "/id"}},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True}],
                   "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
        "sink": {"type": "postgres", "dsn": pg.dsn, "table": "soak_events", "conflict_columns": ["id"],
                 "columns": {"id": "/id", "created_at": "$event_time"}},
        "checkpoint": {"type": "postgres", "dsn": pg.dsn, "lease": "10s"},
    }
    path = os.path.join(tmp, "job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    return path


def growth(rows, life_start, what):
    """Growth of column `what` over the process's last 15 minutes (or from 2
    minutes after its start, for a shorter life), in percent."""
    end = rows[-1]["t"]
    since = max(life_start + 120, end - 900)
    window = [r for r in rows if r["t"] >= since]
    if len(window) < 2:
        return float("nan")
    first = min(r[what] for r in window[: max(1, len(window) // 10)])  # the low of the first tenth
    last = max(r[what] for r in window[-max(1, len(window) // 10):])
    return 100.0 * (last - first) / first if first else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default=os.path.join(ROOT, "build", "tests"))
    parser.add_argument("--minutes", type=float, default=32)
    parser.add_argument("--kill-at", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="records a second the feed adds")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    cli = os.path.join(build, "recovery")
    os.environ.setdefault("RECOVERY_FIXTURE_API", os.path.join(build, "tests", "testing", "recovery_fixture_api"))
    now = time.time()
    start, gap_end, served_end = rfc3339(now - 7200), rfc3339(now - 3600), rfc3339(now)
    total_s = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as pg, \
            FixtureApi(7200, start=start, end=served_end, threads=32, append_per_second=args.rate,
                       append_seconds=int(total_s - 60)) as api:
        pg.sql("CREATE TABLE soak_events (id text PRIMARY KEY, created_at timestamptz NOT NULL)")
        job = job_file(tmp, api, pg, start, gap_end)
        log = open(os.path.join(tmp, "run.log"), "w")

        def launch():
            return subprocess.Popen([cli, "run", job, "--quiet"], stdout=log, stderr=log)

        print(f"follow mode for {args.minutes:.0f} min: 2 h of records, then {args.rate:g} a second; "
              f"PostgreSQL checkpoints and sink; SIGKILL at {args.kill_at:g} min")
        print(f"{'min':>6} {'proc':>4} {'rss MiB':>8} {'threads':>7} {'fds':>5} {'db conns':>8} {'rows':>8}")
        began = time.monotonic()
        proc, number, life_start, killed = launch(), 1, 0.0, False
        rows, lives = [], {1: []}
        expected = None
        while True:
            time.sleep(args.sample)
            t = time.monotonic() - began
            if proc.poll() is not None:
                print(f"process {number} exited with {proc.returncode}; see the log below")
                break
            rss, threads, fds = proc_figures(proc.pid)
            row = {"t": t, "proc": number, "rss": rss, "threads": threads, "fds": fds, "conns": connections(pg),
                   "rows": int(pg.sql("SELECT count(*) FROM soak_events"))}
            rows.append(row)
            lives[number].append(row)
            print(f"{t / 60:6.1f} {number:>4} {rss:8.1f} {threads:7d} {fds:5d} {row['conns']:8d} {row['rows']:8d}",
                  flush=True)
            if not killed and t >= args.kill_at * 60:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
                time.sleep(12)  # the dead process's shard leases (10 s) expire
                proc, number, life_start = launch(), 2, time.monotonic() - began
                lives[2] = []
            if t >= total_s:
                expected = api_total(api.url, start)
                if row["rows"] >= expected or t >= total_s + 300:
                    break
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        log.close()
        print()
        print(f"{'proc':>4} {'samples':>7} {'rss growth':>11} {'threads':>8} {'fds':>8} {'db conns':>9}  (over its last "
              "15 min, or from 2 min after its start)")
        starts = {1: 0.0, 2: life_start}
        for n, life in lives.items():
            if not life:
                continue
            g = {w: growth(life, starts[n], w) for w in ("rss", "threads", "fds", "conns")}
            print(f"{n:>4} {len(life):7d} {g['rss']:10.1f}% {g['threads']:7.1f}% {g['fds']:7.1f}% {g['conns']:8.1f}%")
        distinct = int(pg.sql("SELECT count(DISTINCT id) FROM soak_events"))
        count = int(pg.sql("SELECT count(*) FROM soak_events"))
        expected = api_total(api.url, start) if expected is None else expected
        print(f"\nthe API holds {expected} records; the table holds {count} rows, {distinct} distinct: "
              f"{'every record once' if count == distinct == expected else 'NOT every record once'}")
        if count != expected:
            with open(os.path.join(tmp, "run.log")) as f:
                print(f.read()[-4000:])
        return 0 if count == distinct == expected else 1


if __name__ == "__main__":
    sys.exit(main())
