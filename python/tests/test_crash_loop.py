"""The crash-loop breaker: a sink handler that kills the process on one record
(os.abort(), as a segfault in an integration's code would), run under a loop
that restarts the process as systemd would. The job completes; that record is
in the dead letters with the reason; every other record is delivered, and
every repeat of one is flagged maybe_redelivered."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

RECORDS = 200
POISON = "t137"
PAGE = 50

CHILD = textwrap.dedent("""
    import os, sys
    import recovery

    DIR, POISON = sys.argv[1], sys.argv[2]

    def write(shard, records):
        with open(os.path.join(DIR, "out.txt"), "a") as f:
            for r in records:
                if r.key == POISON:
                    f.flush()
                    os.fsync(f.fileno())
                    os.abort()  # the handler takes the whole process down
                f.write(f"{r.key} {int(r.maybe_redelivered)}\\n")
            f.flush()
            os.fsync(f.fileno())

    with recovery.Job(open(os.path.join(DIR, "job.json")).read(), base_dir=DIR) as job:
        job.set_sink(write)
        job.run()
""")


def job_spec():
    return {
        "name": "crash-loop",
        "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-15T00:00:00Z"},
        "shard_duration": "6h",
        "concurrency": 2,
        "error_budget": {"max_fraction": 1},
        "source": {"type": "jsonl_file", "path": "export.jsonl", "batch_size": PAGE},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True}],
                   "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
        "checkpoint": {"type": "file", "dir": "state"},
        "dead_letters": {"type": "file", "path": "dead.jsonl"},
    }


class CrashLoopTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        with open(os.path.join(self.dir, "export.jsonl"), "w") as f:
            for i in range(RECORDS):
                minute = i * 24 * 60 // RECORDS
                f.write(json.dumps({"id": f"t{i:03d}", "ts": f"2026-11-14T{minute // 60:02d}:{minute % 60:02d}:00Z"})
                        + "\n")

    def run_until_done(self, spec, limit, poison=POISON):
        with open(os.path.join(self.dir, "job.json"), "w") as f:
            json.dump(spec, f)
        with open(os.path.join(self.dir, "child.py"), "w") as f:
            f.write(CHILD)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [os.path.abspath(os.path.join(os.path.dirname(__file__), "..")), os.environ.get("PYTHONPATH")])))
        deaths = 0
        for _ in range(limit):  # the supervisor: restart until the job ends
            r = subprocess.run([sys.executable, os.path.join(self.dir, "child.py"), self.dir, poison], env=env,
                               capture_output=True, text=True)
            if r.returncode == 0:
                return deaths
            self.assertEqual(r.returncode, -signal.SIGABRT, r.stderr[-2000:])
            deaths += 1
        self.fail(f"still crash-looping after {limit} runs")

    def check_isolated(self, poison, deaths):
        # Two deaths with the whole page, about log2(50) halvings, and two
        # deaths of the record alone.
        self.assertGreaterEqual(deaths, 3)
        self.assertLessEqual(deaths, 2 + 6 + 2)
        with open(os.path.join(self.dir, "dead.jsonl")) as f:
            letters = [json.loads(line) for line in f]
        self.assertEqual([json.loads(l["raw"])["id"] for l in letters], [poison])
        self.assertRegex(letters[0]["reason"], r"^crashed the process \d+ times$")
        seen = {}
        with open(os.path.join(self.dir, "out.txt")) as f:
            for line in f:
                key, redelivered = line.split()
                if key in seen:
                    self.assertEqual(redelivered, "1", f"{key} came again unflagged")
                seen[key] = seen.get(key, 0) + 1
        self.assertEqual(set(seen), {f"t{i:03d}" for i in range(RECORDS)} - {poison})
        # Records outside the page that kills the process came once, but for
        # a batch the other shard had in its sink when the process died (the
        # shards' sinks run at once): that one came again, flagged (above),
        # once per death at most.
        poisoned_page = int(poison[1:]) // PAGE
        self.assertTrue(all(n <= 1 + deaths for k, n in seen.items() if int(k[1:]) // PAGE != poisoned_page
                            and int(k[1:]) // PAGE != poisoned_page + 1), seen)
        again = sum(n - 1 for k, n in seen.items() if int(k[1:]) // PAGE not in (poisoned_page, poisoned_page + 1))
        self.assertLessEqual(again, deaths * PAGE, seen)

    def test_the_record_that_kills_the_process_is_dead_lettered_and_the_rest_delivered(self):
        self.check_isolated(POISON, self.run_until_done(job_spec(), limit=30))

    def test_a_record_of_a_shards_first_page_is_isolated_too(self):
        # The shard has committed nothing yet when its first batch kills the
        # process: the breaker once saw such a shard as never started.
        self.check_isolated("t003", self.run_until_done(job_spec(), limit=30, poison="t003"))

    def test_without_the_breaker_the_job_never_gets_past_the_record(self):
        spec = job_spec()
        spec["isolate_after_crashes"] = 0
        with self.assertRaises(AssertionError):
            self.run_until_done(spec, limit=6)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "dead.jsonl")) and
                         os.path.getsize(os.path.join(self.dir, "dead.jsonl")) > 0)


if __name__ == "__main__":
    unittest.main()
