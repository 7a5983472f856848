"""recovery.celery end to end: two workers run a job's
shards with checkpoints in PostgreSQL and a Redis broker; one worker is
killed with SIGKILL in the middle of a shard; after its lease expires the
other worker resumes that shard from its checkpoint, and the table holds every
record exactly once. RECOVERY_TEST_KEEP=DIR keeps the workers' logs there.
Needs Debian's python3-celery, python3-redis,
redis-server and postgresql; run by ctest with /usr/bin/python3."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from servers import FixtureApi, PostgresCluster, RedisServer

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))  # holds the package
RECORDS = 1200
SHARDS = 4


def job_spec(api_url, dsn, lease="3s"):
    return {
        "name": "celery-gap",
        "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
        "shard_duration": "6h",
        "retry": {"initial_backoff": "50ms", "max_backoff": "1s"},
        "source": {"type": "http", "url": f"{api_url}/v1/keyset",
                   "query": {"from": "{start}", "to": "{end}", "limit": "{limit}",
                             "after_time": "{after_time}", "after_id": "{after_id}"},
                   "records": "/data", "page_size": 10,
                   "pagination": {"type": "keyset", "time": "/created_at", "id": "/id"}},
        "mapper": {"type": "json", "fields": [{"name": "transaction_id", "from": "/id", "required": True},
                                              {"name": "amount", "from": "/amount/value", "type": "decimal"}],
                   "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
        "sink": {"type": "postgres", "dsn": dsn, "table": "transactions",
                 "columns": {"transaction_id": "/transaction_id", "amount": "/amount", "occurred_at": "$event_time",
                             "recovery_key": "$key"},
                 "conflict_columns": ["transaction_id"]},
        "checkpoint": {"type": "postgres", "dsn": dsn, "lease": lease},
    }


class CeleryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="celery-test-", dir=os.environ.get("RECOVERY_TEST_KEEP"))
        self.addCleanup(self.tmp.cleanup)
        self.pg = self.enter(PostgresCluster())
        self.redis = self.enter(RedisServer())
        # 300 records per shard, 30 pages of 10, 40 ms each: a shard takes over a second.
        self.api = self.enter(FixtureApi(RECORDS, latency_ms=40))
        self.pg.sql("CREATE TABLE transactions (transaction_id text PRIMARY KEY, amount numeric NOT NULL, "
                    "occurred_at timestamptz NOT NULL, recovery_key text NOT NULL)")
        self.job_path = os.path.join(self.tmp.name, "job.json")
        with open(self.job_path, "w") as f:
            json.dump(job_spec(self.api.url, self.pg.dsn), f)
        self.env = dict(os.environ, RECOVERY_CELERY_BROKER=self.redis.url, RECOVERY_CELERY_VISIBILITY="4",
                        RECOVERY_CELERY_RETRY_DELAY="1", PYTHONUNBUFFERED="1",
                        PYTHONPATH=os.pathsep.join(filter(None, [PYTHON_DIR, os.environ.get("PYTHONPATH")])))
        self.workers = {}

    def enter(self, cm):
        value = cm.__enter__()
        self.addCleanup(cm.__exit__, None, None, None)
        return value

    def start_worker(self, name):
        log = open(os.path.join(self.tmp.name, f"{name}.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "recovery.celery", "worker", "-P", "prefork", "-c", "1",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=self.tmp.name, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers[name] = proc

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.addCleanup(stop)
        return proc

    def worker_log(self, name):
        with open(os.path.join(self.tmp.name, f"{name}.log")) as f:
            return f.read()

    def shards(self):
        if self.pg.sql("SELECT to_regclass('recovery_checkpoints') IS NULL") == "t":
            return []  # created by the first worker to start a shard
        rows = self.pg.sql("SELECT shard, state, coalesce(lease_owner, ''), records_delivered, fencing_token "
                           "FROM recovery_checkpoints WHERE job = 'celery-gap' ORDER BY shard")
        return [r.split("|") for r in rows.splitlines()] if rows else []

    def test_a_killed_worker_s_shard_is_finished_by_the_other_exactly_once(self):
        self.kill_a_worker_mid_shard([])

    def test_with_one_run_job_task_per_worker_too(self):
        # Each worker's task claims shards until none is left. The dead
        # worker's shard is finished from its checkpoint by worker B either
        # way: by B's own run_job claiming the expired lease, or by a task the
        # fan-out sends once it sees the lease expired. Which comes first
        # depends on the machine's timing, so the test asserts neither.
        out = self.kill_a_worker_mid_shard(["--tasks", "2"])
        self.assertIn("sending 2 run_job tasks", out)

    def kill_a_worker_mid_shard(self, fanout_flags):
        a = self.start_worker("worker-a")
        b = self.start_worker("worker-b")
        fanout = subprocess.Popen([sys.executable, "-m", "recovery.celery", "fanout", self.job_path, "--interval",
                                   "0.5", "--timeout", "150"] + fanout_flags, cwd=self.tmp.name, env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: fanout.poll() is None and fanout.kill())

        # Kill worker A (its whole process group) once it is part-way
        # through a shard it holds. The API is frozen (SIGSTOP) while the
        # shards are looked at and A is killed, so that no shard moves on
        # between the look and the kill however slow the machine is: A waits
        # on its next page, and what it had fetched is committed within the
        # short settle below.
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            os.kill(self.api.proc.pid, signal.SIGSTOP)
            try:
                time.sleep(0.2)
                # Only its claims: A also logs the shards it skipped because B holds them.
                claimed_by_a = "\n".join(line for line in self.worker_log("worker-a").splitlines()
                                         if "shard claimed" in line)
                for shard, state, owner, delivered, _ in self.shards():
                    # Not at its very end either, where the page that proves
                    # it exhausted may already be fetched.
                    if owner and shard in claimed_by_a and state != "done" and 0 < int(delivered) < RECORDS // SHARDS:
                        victim = shard
                if victim is not None:
                    os.killpg(a.pid, signal.SIGKILL)
                    a.wait()
            finally:
                os.kill(self.api.proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        self.assertIsNotNone(victim, f"worker A never got part-way through a shard: {self.shards()}")
        killed_at = {s[0]: s for s in self.shards()}[victim]
        self.assertNotEqual(killed_at[1], "done")

        out, _ = fanout.communicate(timeout=180)
        self.assertEqual(fanout.returncode, 0, out)
        self.assertIn(f"{SHARDS}/{SHARDS} shards done", out)

        # Every record exactly once, and the ids are the API's.
        total, distinct = self.pg.sql("SELECT count(*), count(DISTINCT transaction_id) FROM transactions").split("|")
        self.assertEqual((int(total), int(distinct)), (RECORDS, RECORDS))
        self.assertEqual(self.pg.sql("SELECT min(transaction_id) || ' ' || max(transaction_id) FROM transactions"),
                         f"txn-00000000 txn-{RECORDS - 1:08d}")
        self.assertEqual(self.pg.sql("SELECT count(*) FROM transactions WHERE transaction_id <> recovery_key"), "0")

        # The victim shard: taken over (a newer fencing token), resumed by B
        # from A's checkpoint rather than restarted, and counted once.
        final = {s[0]: s for s in self.shards()}
        self.assertEqual([s[1] for s in final.values()], ["done"] * SHARDS)
        self.assertGreaterEqual(int(final[victim][4]), 2)
        self.assertEqual(int(final[victim][3]), RECORDS // SHARDS)
        claims = [line for line in self.worker_log("worker-b").splitlines()
                  if "shard claimed" in line and victim in line]
        self.assertTrue(claims, self.worker_log("worker-b")[-3000:])
        resumed = json.loads(claims[-1].split("shard claimed ", 1)[1])
        self.assertNotEqual(resumed["cursor"], "", "worker B restarted the shard instead of resuming it")
        self.assertEqual(b.poll(), None)
        return out


if __name__ == "__main__":
    unittest.main()
