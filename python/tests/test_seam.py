"""The seam with a live feed through the Python binding: a Python callback sink
with a presence callback, over an SQLite table that a live feed already filled
to about 60 %, recovered by a job killed with SIGKILL several times: half of
the runs kill themselves inside the sink callback right after a batch
committed to the table (before the job could checkpoint it), the others are
killed at a random moment.
At the end every record is in the table once, the live feed's rows are
untouched, and the job counts exactly what was there as already present and
exactly what was missing as delivered. Standard library only; run by ctest
with RECOVERY_C_LIBRARY and RECOVERY_FIXTURE_API set."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from servers import FixtureApi

RECORDS = 2400  # one every 36 s over 2026-11-01 (the fixture API's day)
KILLS = 6

# The run, as its own process so that it can be killed.
CHILD = textwrap.dedent("""
    import json, os, signal, sqlite3, sys
    sys.path.insert(0, os.environ["RECOVERY_PYTHON_DIR"])
    import recovery

    db = sqlite3.connect(sys.argv[2], check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")

    die_after = int(os.environ.get("DIE_AFTER_WRITE", "0"))
    writes = 0

    def write(shard, records):
        global writes
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO payments (key, data) VALUES (?, ?)",
                       [(r.key, r.data.decode()) for r in records])
        db.execute("COMMIT")
        writes += 1
        if writes == die_after:  # the batch is in the table; its checkpoint is not saved
            os.kill(os.getpid(), signal.SIGKILL)

    def present(shard, records):
        keys = [r.key for r in records]
        found = db.execute("SELECT key FROM payments WHERE key IN (%s)" % ",".join("?" * len(keys)), keys)
        return [row[0] for row in found] + ["a-key-nobody-asked-about"]

    with recovery.Job.from_file(sys.argv[1]) as job:
        job.set_sink(write, present)
        job.run()
        print(json.dumps(job.stats()._asdict()))
""")


def live_feed_indexes():
    """The feed stopped at 05:00 and resumed at 19:00 (records 500 and 1900);
    every third record got through in between."""
    return {i for i in range(RECORDS) if i < 500 or i >= 1900 or i % 3 == 0}


class SeamTest(unittest.TestCase):
    def test_a_python_sink_gets_only_what_it_lacked_through_sigkills(self):
        with FixtureApi(RECORDS, latency_ms=20) as api, tempfile.TemporaryDirectory() as d:
            db_path = os.path.join(d, "dest.sqlite")
            db = sqlite3.connect(db_path)
            db.execute("CREATE TABLE payments (key TEXT PRIMARY KEY, data TEXT, origin TEXT)")
            live = sorted(f"txn-{i:08d}" for i in live_feed_indexes())
            db.executemany("INSERT INTO payments VALUES (?, 'live', 'live')", [(k,) for k in live])
            db.commit()
            state = os.path.join(d, "state")
            job_path = os.path.join(d, "job.json")
            with open(job_path, "w") as f:
                json.dump({
                    "name": "py-seam",
                    "window": {"start": "2026-11-01T02:00:00Z", "end": "2026-11-01T22:00:00Z", "overlap": "2h"},
                    "shard_duration": "2h", "concurrency": 4, "skip_already_present": True,
                    "retry": {"initial_backoff": "10ms", "max_backoff": "100ms"},
                    "source": {"type": "http", "url": api.url + "/v1/keyset",
                               "query": {"from": "{start}", "to": "{end}", "limit": "{limit}",
                                         "after_time": "{after_time}", "after_id": "{after_id}"},
                               "records": "/data", "page_size": 20,
                               "pagination": {"type": "keyset", "time": "/created_at", "id": "/id"}},
                    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True}],
                               "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
                    "checkpoint": {"type": "file", "dir": state},
                }, f)
            child_path = os.path.join(d, "child.py")
            with open(child_path, "w") as f:
                f.write(CHILD)
            env = dict(os.environ, RECOVERY_PYTHON_DIR=os.path.join(os.path.dirname(__file__), ".."))

            rng = random.Random(29)
            kills = kills_after_write = 0
            stats = None
            for run in range(KILLS + 6):
                die_after = rng.randint(1, 6) if run < KILLS and run % 2 == 0 else 0
                proc = subprocess.Popen([sys.executable, child_path, job_path, db_path],
                                        env=dict(env, DIE_AFTER_WRITE=str(die_after)),
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                if run < KILLS and run % 2 == 1:
                    time.sleep(rng.uniform(0.05, 0.4))
                    proc.send_signal(signal.SIGKILL)
                out, _ = proc.communicate()
                if proc.returncode == -signal.SIGKILL:
                    kills += 1
                    kills_after_write += die_after > 0
                    continue
                self.assertEqual(proc.returncode, 0, f"run {run} failed")
                stats = json.loads(out.strip().splitlines()[-1])
                break
            print(f"seam (python sink): {RECORDS} records, {len(live)} held by the live feed, "
                  f"{kills} kills ({kills_after_write} right after a sink write)")
            self.assertIsNotNone(stats, "the job never finished")
            self.assertGreaterEqual(kills_after_write, KILLS // 2)

            dest = sqlite3.connect(db_path)
            keys = [k for (k,) in dest.execute("SELECT key FROM payments ORDER BY key")]
            self.assertEqual(keys, [f"txn-{i:08d}" for i in range(RECORDS)])
            self.assertEqual(dest.execute("SELECT count(*) FROM payments WHERE origin = 'live' AND data = 'live'")
                             .fetchone()[0], len(live), "a row the live feed wrote was changed")
            self.assertEqual(stats["records_already_present"], len(live))
            self.assertEqual(stats["records_delivered"], RECORDS - len(live))


if __name__ == "__main__":
    unittest.main()
