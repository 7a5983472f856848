"""The job API of the Python package against the real library (found through
RECOVERY_C_LIBRARY, which ctest sets)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import recovery

START = 1763078400  # 2025-11-14T00:00:00Z


def write_export(path, n, bad=()):
    with open(path, "w") as f:
        for i in range(n):
            if i in bad:
                f.write('{"id": "broken", "ts": "not a time"}\n')
                continue
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + i * 86400 * 2 // n))
            f.write(json.dumps({"id": f"t{i}", "ts": ts, "amount": {"value": "12.30"}}) + "\n")


def spec(name, concurrency=2, batch_size=50, with_mapper=True):
    s = {
        "name": name,
        "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-16T00:00:00Z"},
        "shard_duration": "1d",
        "concurrency": concurrency,
        "error_budget": {"max_fraction": 1},
        "source": {"type": "jsonl_file", "path": "export.jsonl", "batch_size": batch_size},
        "checkpoint": {"type": "file", "dir": "state"},
    }
    if with_mapper:
        s["mapper"] = {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True},
                                                  {"name": "amount", "from": "/amount/value", "type": "decimal"}],
                       "key": {"from": "/id"}, "event_time": {"from": "/ts"}}
    return s


class Collector:
    """A sink that remembers keys."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []
        self.flagged = []

    def __call__(self, shard_id, records):
        with self.lock:
            for r in records:
                self.keys.append(r.key)
                if r.maybe_redelivered:
                    self.flagged.append(r.key)


class Interrupting(Collector):
    """A sink that, at its third batch, calls `interrupt` on another thread and
    holds its batches until the job was cancelled (`job.cancel` wrapped by
    watch()): the run is cut short however fast or slow the machine is."""

    def __init__(self, interrupt):
        super().__init__()
        self.interrupt = interrupt
        self.cancelled = threading.Event()
        self.batches = 0

    def watch(self, job):
        cancel = job.cancel

        def cancel_and_say():
            cancel()
            self.cancelled.set()

        job.cancel = cancel_and_say
        return job

    def __call__(self, shard_id, records):
        super().__call__(shard_id, records)
        with self.lock:
            self.batches += 1
            third = self.batches == 3
        if third:
            threading.Thread(target=self.interrupt).start()
        if self.batches >= 3:
            self.cancelled.wait(60)


class RecoveryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = self.dir.name
        write_export(os.path.join(self.path, "export.jsonl"), 500, bad={13, 377})

    def tearDown(self):
        self.dir.cleanup()

    def test_version_and_status_names(self):
        self.assertEqual(recovery.version(), "0.1.0")
        self.assertEqual(recovery.status_name(3), "INVALID_ARGUMENT")
        self.assertEqual(recovery.status_name(100), "PAUSED")

    def test_bad_spec_raises_with_the_json_path(self):
        with self.assertRaises(recovery.RecoveryError) as cm:
            recovery.Job({"name": "x", "window": {"start": "2025-11-14", "end": "2025-11-16T00:00:00Z"}})
        self.assertEqual(cm.exception.status_name, "INVALID_ARGUMENT")
        self.assertIn("window.start", cm.exception.message)
        with self.assertRaises(recovery.RecoveryError) as cm:
            recovery.Job.from_file(os.path.join(self.path, "missing.json"))
        self.assertEqual(cm.exception.status_name, "NOT_FOUND")

    def test_a_sink_can_ask_for_each_batchs_provenance(self):
        seen = []

        def write(shard_id, records, provenance):
            seen.append((shard_id, len(records), provenance))

        before_us = time.time_ns() // 1000
        with recovery.Job(spec("py-provenance"), base_dir=self.path) as job:
            job.set_sink(write, with_provenance=True)
            job.run()
        self.assertTrue(seen)
        run_ids = {p.run_id for _, _, p in seen}
        self.assertEqual(len(run_ids), 1, run_ids)  # one run
        self.assertRegex(run_ids.pop(), r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
        for shard_id, _, provenance in seen:
            self.assertEqual(provenance.job, "py-provenance")
            self.assertEqual(provenance.shard_id, shard_id)
            self.assertGreaterEqual(provenance.recovered_at_us, before_us)
        self.assertEqual(sum(n for _, n, _ in seen), 498)

    def test_recovers_into_a_python_callable_with_progress_and_logs(self):
        sink, progress, logs = Collector(), [], []
        with recovery.Job(spec("py-run"), base_dir=self.path) as job:
            job.set_sink(sink)
            job.on_progress(progress.append)
            job.on_log(lambda level, message, fields: logs.append((level, message, fields)))
            job.run()
            stats = job.stats()
        self.assertEqual(sorted(sink.keys), sorted(f"t{i}" for i in range(500) if i not in (13, 377)))
        self.assertEqual(sink.flagged, [])
        self.assertEqual(stats.records_delivered, 498)
        self.assertEqual(stats.dead_letters, 2)
        self.assertAlmostEqual(progress[-1].window_fraction, 1.0)
        pages = [f for level, message, f in logs if message == "page committed"]
        self.assertTrue(pages and "resume" in pages[0] and "shard" in pages[0])

    def test_runs_chosen_shards_and_reports_status(self):
        sink = Collector()
        with recovery.Job(spec("py-shards"), base_dir=self.path) as job:
            before = job.status()
            self.assertEqual(before["job"], "py-shards")
            ids = [s["id"] for s in before["shards"]]
            self.assertEqual(ids, ["20251114T000000Z-20251115T000000Z", "20251115T000000Z-20251116T000000Z"])
            self.assertEqual({s["state"] for s in before["shards"]}, {"pending"})
            job.set_sink(sink)
            job.add_shard(ids[1])
            job.run()
            after = {s["id"]: s for s in job.status()["shards"]}
        self.assertEqual(after[ids[0]]["state"], "pending")
        self.assertEqual(after[ids[1]]["state"], "done")
        self.assertEqual(after[ids[1]]["records_delivered"], len(sink.keys))
        self.assertEqual(after[ids[1]]["progress"], 1.0)
        self.assertTrue(all(int(k[1:]) >= 250 for k in sink.keys))
        with recovery.Job(spec("py-shards"), base_dir=self.path) as job:
            job.set_sink(sink)
            job.add_shard("20251114T000000Z-nope")
            with self.assertRaises(recovery.RecoveryError) as e:
                job.run()
        self.assertEqual(e.exception.status_name, "INVALID_ARGUMENT")
        self.assertIn('shard "20251114T000000Z-nope" is not in the plan', e.exception.message)

    def test_status_needs_no_secret_and_no_request(self):
        # An HTTP job whose token variable is unset and whose API does not exist:
        # status reads the spec and the checkpoints only.
        s = spec("py-secretless")
        s["source"] = {"type": "http", "url": "http://127.0.0.1:9/v1/x", "records": "/data",
                       "pagination": {"type": "offset"},
                       "auth": {"type": "bearer", "token_env": "PY_RECOVERY_UNSET_TOKEN"}}
        os.environ.pop("PY_RECOVERY_UNSET_TOKEN", None)
        with recovery.Job(s, base_dir=self.path) as job:
            status = job.status()
            self.assertEqual([x["state"] for x in status["shards"]], ["pending", "pending"])
            with self.assertRaises(recovery.RecoveryError) as e:
                job.run()  # running does need it, and says which variable
        self.assertIn("PY_RECOVERY_UNSET_TOKEN is not set", e.exception.message)
        self.assertFalse(e.exception.resumable)

    def test_a_python_mapper(self):
        def mapper(shard_id, raw):
            record = json.loads(raw)
            if record["id"] == "broken":
                raise ValueError("no usable timestamp")
            if record["id"].endswith("7"):
                return None  # drop
            t = time.strptime(record["ts"], "%Y-%m-%dT%H:%M:%SZ")
            return record["id"], int(time.mktime(t) - time.timezone) * 1000000, {"txn": record["id"]}

        sink = Collector()
        with recovery.Job(spec("py-mapper", with_mapper=False), base_dir=self.path) as job:
            job.set_mapper(mapper)
            job.set_sink(sink)
            job.run()
            stats = job.stats()
        expected = [f"t{i}" for i in range(500) if i not in (13, 377) and not str(i).endswith("7")]
        self.assertEqual(sorted(sink.keys), sorted(expected))
        self.assertEqual(stats.dead_letters, 2)
        with open(os.path.join(self.path, "state", "py-mapper", "dead_letters.jsonl")) as f:
            reasons = [json.loads(line)["reason"] for line in f]
        self.assertEqual(len(reasons), 2)
        for reason in reasons:  # the exception, and where it was raised
            self.assertRegex(reason, r"^ValueError: no usable timestamp \(at test_job\.py:\d+ in mapper\)$")

    def test_a_raising_sink_fails_the_batch_and_a_rerun_redelivers_it_flagged(self):
        calls = {"n": 0}

        def flaky(shard_id, records):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("integration database is down")

        with recovery.Job(spec("py-fail", concurrency=1), base_dir=self.path) as job:
            job.set_sink(flaky)
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.run()
        self.assertEqual(cm.exception.status_name, "INTERNAL")
        self.assertIn("RuntimeError: integration database is down", cm.exception.message)

        sink = Collector()
        with recovery.Job(spec("py-fail", concurrency=1), base_dir=self.path) as job:
            job.set_sink(sink)
            job.run()
        self.assertEqual(len(sink.flagged), 50)  # exactly the batch that failed
        self.assertTrue(set(sink.flagged) <= set(sink.keys))

    def test_cancel_from_another_thread_then_resume_exactly_once(self):
        with recovery.Job(spec("py-cancel", batch_size=10), base_dir=self.path) as job:
            first = Interrupting(lambda: job.cancel())
            first.watch(job).set_sink(first)
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.run()
        self.assertEqual(cm.exception.status_name, "CANCELLED")
        self.assertTrue(cm.exception.resumable)
        second = Collector()
        with recovery.Job(spec("py-cancel", batch_size=10), base_dir=self.path) as job:
            job.set_sink(second)
            job.run()
        everything = first.keys + second.keys
        self.assertEqual(len(everything), 498)
        self.assertEqual(len(set(everything)), 498)

    def test_keyboard_interrupt_stops_after_the_current_batch(self):
        with recovery.Job(spec("py-sigint", batch_size=10), base_dir=self.path) as job:
            sink = Interrupting(lambda: os.kill(os.getpid(), signal.SIGINT))
            sink.watch(job).set_sink(sink)
            with self.assertRaises(KeyboardInterrupt):
                job.run()
        delivered = len(sink.keys)
        self.assertGreater(delivered, 0)
        self.assertLess(delivered, 498)
        with recovery.Job(spec("py-sigint", batch_size=10), base_dir=self.path) as job:
            job.set_sink(sink)
            job.run()
        self.assertEqual(len(sink.keys), 498)
        self.assertEqual(len(set(sink.keys)), 498)

    def test_closed_jobs_refuse_calls(self):
        job = recovery.Job(spec("py-closed"), base_dir=self.path)
        job.close()
        job.close()
        with self.assertRaises(recovery.RecoveryError):
            job.run()



class ExampleTest(unittest.TestCase):
    def test_the_python_example_runs(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        with tempfile.TemporaryDirectory() as d:
            run = subprocess.run([sys.executable, os.path.join(root, "examples", "python", "recover_into_handler.py"),
                                  d], capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertRegex(run.stdout, r"recovered \d+ transactions for \d+ loyalty accounts")


if __name__ == "__main__":
    unittest.main()
