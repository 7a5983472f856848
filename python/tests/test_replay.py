"""Job.replay(): dead letters delivered again once the mapping is fixed, each
exactly once, and only those a filter names."""
import datetime
import json
import os
import subprocess
import tempfile
import unittest

import recovery


def job_spec(decimal_comma):
    amount = {"name": "amount", "from": "/amount", "type": "decimal", "required": True}
    if decimal_comma:
        amount["decimal_comma"] = True
    return {
        "name": "py-replay",
        "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-15T00:00:00Z"},
        "shard_duration": "12h",
        "error_budget": {"max_fraction": 1},
        "source": {"type": "jsonl_file", "path": "export.jsonl", "batch_size": 10},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True}, amount],
                   "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
        "sink": {"type": "jsonl_file", "path": "out.jsonl"},
        "checkpoint": {"type": "file", "dir": "state"},
        "dead_letters": {"type": "file", "path": "dead.jsonl"},
    }


class ReplayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = self.tmp.name
        with open(os.path.join(self.path, "export.jsonl"), "w") as f:
            for i in range(40):
                amount = "12,30" if i % 5 == 0 else f"{i}.00"
                f.write(json.dumps({"id": f"t{i}", "ts": f"2025-11-14T{i % 24:02d}:00:00Z", "amount": amount}) + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def delivered(self):
        with open(os.path.join(self.path, "out.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_replay_delivers_the_fixed_letters_once(self):
        with recovery.Job(job_spec(False), base_dir=self.path) as job:
            job.run()
        self.assertEqual(len(self.delivered()), 32)

        with recovery.Job(job_spec(True), base_dir=self.path) as job:
            # Letters rejected from tomorrow on: none.
            job.replay(since=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1))
            self.assertEqual(len(self.delivered()), 32)
            # Letters whose reason does not mention the comma: none.
            job.replay(reason="no such reason")
            self.assertEqual(len(self.delivered()), 32)
            job.replay(reason='got "12,30"')
            out = self.delivered()
            self.assertEqual(len(out), 40)
            self.assertEqual(len({r["id"] for r in out}), 40)
            self.assertEqual({r["amount"] for r in out if int(r["id"][1:]) % 5 == 0}, {"12.30"})
            # Settled letters are not taken again.
            job.replay()
            self.assertEqual(len(self.delivered()), 40)
            shards = {s["id"]: s for s in job.status()["shards"]}
            self.assertEqual(shards["replay-3"]["records_delivered"], 8)
            self.assertEqual(shards["replay-4"]["records_delivered"], 0)
            # After a replay, run() runs the plan again (already done).
            job.run()
            self.assertEqual(len(self.delivered()), 40)

    def test_every_front_end_shows_the_same_numbers(self):
        # One letter the fixed mapping still refuses: after the replay, 8 are
        # settled and 1 is left.
        with open(os.path.join(self.path, "export.jsonl"), "a") as f:
            f.write(json.dumps({"id": "t40", "ts": "2025-11-14T05:30:00Z", "amount": "n/a"}) + "\n")
        with recovery.Job(job_spec(False), base_dir=self.path) as job:
            job.run()
        with recovery.Job(job_spec(True), base_dir=self.path) as job:
            job.replay()
            status = job.status()  # through the C ABI
        expected = {"shards": 3, "shards_done": 3, "records_delivered": 40, "dead_letters": 1,
                    "dead_letters_settled": 8}
        self.assertEqual({k: status["summary"][k] for k in expected}, expected)

        job_path = os.path.join(self.path, "job.json")
        with open(job_path, "w") as f:
            json.dump(job_spec(True), f)
        cli = os.environ["RECOVERY_CLI"]
        as_json = json.loads(subprocess.run([cli, "status", job_path, "--json"], check=True, capture_output=True,
                                            text=True).stdout)
        self.assertEqual(as_json["summary"], status["summary"])
        table = subprocess.run([cli, "status", job_path], check=True, capture_output=True, text=True).stdout
        self.assertIn("total: 40 records delivered, 1 dead letters, 3 of 3 shards done", table)

        from recovery.celery import summary  # needs Debian's python3-celery
        done, total, line = summary(status)
        self.assertEqual((done, total), (3, 3))
        self.assertIn("40 records delivered, 1 dead letters", line)

    def test_bad_arguments_are_named(self):
        with recovery.Job(job_spec(True), base_dir=self.path) as job:
            with self.assertRaisesRegex(ValueError, "aware datetime"):
                job.replay(since=datetime.datetime(2025, 11, 14))
            job.set_dry_run(True)
            with self.assertRaisesRegex(recovery.RecoveryError, "not with dry_run"):
                job.replay()


if __name__ == "__main__":
    unittest.main()
