"""Plug-ins written in Python: a queue-like source that acknowledges only in
commit (run through SIGKILLs), a sink that rejects single records, a
dead-letter receiver, a checkpoint store, and callbacks that fail."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

import recovery

MESSAGES = 1000
PAGE = 20
KILLS = 8


def bad(i):
    return i % 53 == 7  # no "id": the mapping rejects it into the dead letters


# One run over a queue kept in files, so that it outlives a killed process:
# queue messages are numbered; acks.log holds the acknowledged ones (appended
# and fsync'ed in commit), received.log those handed out (a message handed out
# by an earlier run and never acknowledged comes back flagged, as from a queue
# after its visibility timeout). The sink appends to out.txt, the dead-letter
# receiver to dead.txt; commit writes `violation` if told to acknowledge a
# record the sink never got (in this run or, durably, in an earlier one: the
# crash-loop breaker, which these kills can set off, does not write again a
# piece an earlier run delivered).
CHILD = textwrap.dedent("""
    import json, os, sys
    import recovery

    MESSAGES, PAGE, DIR = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    START_US = 1763078400 * 1000000

    def bad(i):
        return i % 53 == 7

    def append(name, text):
        with open(os.path.join(DIR, name), "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def ids(name):
        try:
            with open(os.path.join(DIR, name)) as f:
                return {line.split()[0] for line in f if line.strip()}
        except FileNotFoundError:
            return set()

    class Queue:
        def __init__(self):
            self.acked, self.received_before = ids("acks.log"), ids("received.log")
            self.handed, self.page, self.written = set(), [], ids("out.txt")

        def fetch(self, shard, cursor):
            self.page = [i for i in range(MESSAGES) if f"m{i}" not in self.acked and f"m{i}" not in self.handed]
            self.page = self.page[:PAGE]
            records = []
            for i in self.page:
                body = {"t": START_US + i * 60000000, "amount": f"{i}.25"}
                if not bad(i):
                    body["id"] = f"m{i}"
                records.append(recovery.SourceRecord(json.dumps(body), id=f"m{i}",
                                                     maybe_redelivered=f"m{i}" in self.received_before))
                self.handed.add(f"m{i}")
            if self.page:
                append("received.log", "".join(f"m{i}\\n" for i in self.page))
            remaining = sum(1 for i in range(MESSAGES) if f"m{i}" not in self.acked and f"m{i}" not in self.handed)
            counter = int(cursor[1:]) if cursor else 0
            return recovery.Page(records, next_cursor=f"p{counter + 1}", exhausted=remaining == 0,
                                 progress=1 - remaining / MESSAGES)

        def commit(self, shard_id, cursor, next_cursor, outcomes):
            assert len(outcomes) == len(self.page), (outcomes, self.page)
            for i, outcome in zip(self.page, outcomes):
                if outcome == recovery.DELIVERED and f"m{i}" not in self.written:
                    append("violation", f"m{i} acknowledged before the sink had it\\n")
                if outcome == recovery.DEAD_LETTERED and not bad(i):
                    append("violation", f"m{i} dead-lettered\\n")
                self.acked.add(f"m{i}")
            append("acks.log", "".join(f"m{i}\\n" for i in self.page))

    queue = Queue()

    def write(shard_id, records):
        append("out.txt", "".join(f"{r.key} {int(r.maybe_redelivered)}\\n" for r in records))
        queue.written.update(r.key for r in records)

    class Dead:
        def __init__(self):
            self.pending = []

        def add(self, letter):
            self.pending.append(f"{letter.source_id} {letter.reason}\\n")

        def flush(self):
            if self.pending:
                append("dead.txt", "".join(self.pending))
            self.pending = []

    job = recovery.Job({
        "name": "py-queue",
        "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-15T00:00:00Z"},
        "concurrency": 1, "error_budget": {"max_fraction": 1},
        # The kills land just after batches reach the sink, many runs in a row:
        # the crash-loop breaker would take one for a record that kills the
        # process (test_crash_loop.py tests it).
        "isolate_after_crashes": 0,
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True},
                                              {"name": "amount", "from": "/amount", "type": "decimal"}],
                   "key": {"from": "/id"}, "event_time": {"from": "/t", "format": "epoch_us"}},
        "checkpoint": {"type": "file", "dir": "state"}}, base_dir=DIR)
    job.set_source(queue)
    job.set_sink(write)
    job.set_dead_letters(Dead())
    job.run()
""")


def count(path):
    counts, flagged = {}, {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts:
                    counts[parts[0]] = counts.get(parts[0], 0) + 1
                    if len(parts) > 1 and parts[1] == "1":
                        flagged[parts[0]] = flagged.get(parts[0], 0) + 1
    return counts, flagged


class QueueSourceTest(unittest.TestCase):
    def test_a_queue_acknowledging_only_in_commit_loses_nothing_through_sigkills(self):
        with tempfile.TemporaryDirectory() as d:
            child = os.path.join(d, "child.py")
            with open(child, "w") as f:
                f.write(CHILD)
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
            rng = random.Random(11)
            kills = runs = 0
            while runs < 100:
                runs += 1
                before = os.path.getsize(os.path.join(d, "out.txt")) if os.path.exists(
                    os.path.join(d, "out.txt")) else 0
                proc = subprocess.Popen([sys.executable, child, str(MESSAGES), str(PAGE), d], env=env,
                                        stderr=subprocess.PIPE, text=True)
                if kills < KILLS:
                    deadline = time.monotonic() + 30
                    while proc.poll() is None and time.monotonic() < deadline:
                        path = os.path.join(d, "out.txt")
                        if os.path.exists(path) and os.path.getsize(path) > before:
                            break
                        time.sleep(0.002)
                    time.sleep(rng.uniform(0, 0.004))
                    proc.send_signal(signal.SIGKILL)
                _, err = proc.communicate(timeout=60)
                if proc.returncode == -signal.SIGKILL:
                    kills += 1
                    continue
                self.assertEqual(proc.returncode, 0, err)
                break
            out, flagged = count(os.path.join(d, "out.txt"))
            acked, _ = count(os.path.join(d, "acks.log"))
            dead, _ = count(os.path.join(d, "dead.txt"))
            good = [f"m{i}" for i in range(MESSAGES) if not bad(i)]
            bad_ids = [f"m{i}" for i in range(MESSAGES) if bad(i)]
            self.assertGreaterEqual(kills, KILLS - 2)
            self.assertEqual([m for m in good if m not in out], [], "lost")
            self.assertEqual([m for m in good if out[m] > 1 and flagged.get(m, 0) < out[m] - 1], [],
                             "delivered again without the flag")
            self.assertEqual([m for m in bad_ids if m not in dead or m in out], [])
            self.assertEqual(len(acked), MESSAGES, "unacknowledged messages")
            self.assertFalse(os.path.exists(os.path.join(d, "violation")),
                             open(os.path.join(d, "violation")).read() if os.path.exists(
                                 os.path.join(d, "violation")) else "")
            print(f"python queue: {runs} runs, {kills} kills, "
                  f"{sum(1 for m in good if out[m] > 1)} delivered twice (all flagged)")


def records_source(n, per_page=10):
    """A plain fetch function: n records spread over the shard, per_page at a time."""
    def fetch(shard, cursor):
        start = int(cursor or b"0")
        end = min(n, start + per_page)
        records = [json.dumps({"id": f"r{i}", "t": shard.start_us + i * 1000000, "amount": f"{i}.50"})
                   for i in range(start, end)]
        return recovery.Page(records, next_cursor=str(end), exhausted=end == n, total=n)
    return fetch


SPEC = {
    "name": "py-plugins",
    "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-15T00:00:00Z"},
    "concurrency": 1, "error_budget": {"max_fraction": 1},
    "retry": {"initial_backoff": "1ms", "max_backoff": "2ms", "max_attempts": 2},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True},
                                          {"name": "amount", "from": "/amount", "type": "decimal"}],
               "key": {"from": "/id"}, "event_time": {"from": "/t", "format": "epoch_us"}},
    "checkpoint": {"type": "memory"},  # replaced by a DictStore where a test keeps them
}


class DictStore:
    """A checkpoint store in a dict (what a service would keep in its own database)."""

    def __init__(self):
        self.data, self.lock, self.saves = {}, threading.Lock(), 0

    def load(self, job, shard_id):
        with self.lock:
            return self.data.get((job, shard_id))

    def save(self, job, shard_id, data):
        with self.lock:
            self.data[(job, shard_id)] = bytes(data)
            self.saves += 1

    def remove(self, job, shard_id):
        with self.lock:
            self.data.pop((job, shard_id), None)


class PluginTest(unittest.TestCase):
    def test_a_sink_rejects_single_records_and_a_receiver_gets_each_letter_once(self):
        letters, delivered = [], []

        def write(shard_id, records):
            delivered.extend(r.key for r in records)
            return {i: "amount over the destination's limit" for i, r in enumerate(records) if r.key.endswith("7")}

        store = DictStore()

        def job_with_plugins():
            job = recovery.Job(SPEC)
            job.set_source(records_source(100))
            job.set_sink(write)
            job.set_dead_letters(letters.append)
            job.set_checkpoint_store(store)
            return job

        with job_with_plugins() as job:
            job.run()
            stats = job.stats()
        rejected = sorted(f"r{i}" for i in range(100) if str(i).endswith("7"))
        self.assertEqual(sorted(json.loads(l.raw)["id"] for l in letters), rejected)
        self.assertTrue(all(l.reason == "rejected by the sink: amount over the destination's limit" for l in letters))
        self.assertTrue(all(l.job == "py-plugins" and l.shard_id for l in letters))
        self.assertEqual(stats.records_delivered, 90)
        self.assertEqual(stats.dead_letters, 10)
        self.assertGreater(store.saves, 0)
        # The store holds the finished checkpoint: a second run has nothing to do.
        with job_with_plugins() as job:
            job.run()
            self.assertEqual(job.stats().records_this_run, 0)
            self.assertEqual(job.status()["shards"][0]["state"], "done")

    def test_a_callback_that_raises_fails_the_run_with_its_text_and_where(self):
        def fetch(shard, cursor):
            raise KeyError("the vendor's token expired")

        with recovery.Job(SPEC) as job:
            job.set_source(fetch)
            job.set_sink(lambda shard_id, records: None)
            job.set_checkpoint_store(DictStore())
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.run()
        self.assertRegex(cm.exception.message,
                         r"source fetch callback returned INTERNAL: KeyError: \"the vendor's token expired\" "
                         r"\(at test_plugins\.py:\d+ in fetch\)")
        self.assertFalse(cm.exception.resumable)

    def test_a_fetch_that_returns_no_page_and_a_failing_receiver_are_named(self):
        with recovery.Job(SPEC) as job:
            job.set_source(lambda shard, cursor: [b"{}"])
            job.set_sink(lambda shard_id, records: None)
            job.set_checkpoint_store(DictStore())
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.run()
        self.assertIn("fetch returned list, not a recovery.Page", cm.exception.message)

        def refuse(letter):
            raise OSError("dead-letter table is read-only")

        with recovery.Job(SPEC) as job:
            job.set_source(records_source(20))
            job.set_sink(lambda shard_id, records: {0: "no"})
            job.set_dead_letters(refuse)
            job.set_checkpoint_store(DictStore())
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.run()
        self.assertIn("dead letter add callback returned INTERNAL: OSError: dead-letter table is read-only",
                      cm.exception.message)

    def test_run_outcomes_are_exceptions_of_their_own(self):
        with self.assertRaises(recovery.InvalidJob):
            recovery.Job({"name": "x"})
        self.assertTrue(issubclass(recovery.Paused, recovery.RecoveryError))
        job = recovery.Job(SPEC)
        job.close()
        with self.assertRaises(recovery.InvalidJob):
            job.status()


class ReconcileTest(unittest.TestCase):
    def test_a_python_count_callback_makes_the_destination_reconcilable(self):
        held = {}  # key -> event time (us): a destination with holes

        def fetch(shard, cursor):  # 240 records a day, one every 6 minutes
            start = int(cursor or b"0")
            records = [json.dumps({"id": f"r{i}", "t": 1763078400000000 + i * 360000000})
                       for i in range(start, min(240, start + 50))]
            return recovery.Page([r for r in records if shard.start_us <= json.loads(r)["t"] < shard.end_us],
                                 next_cursor=str(start + 50), exhausted=start + 50 >= 240)

        def write(shard_id, records):
            for r in records:
                held[r.key] = r.event_time_us

        def count(start_us, width_us, buckets):
            counts = [0] * buckets
            for t in held.values():
                if start_us <= t < start_us + width_us * buckets:
                    counts[(t - start_us) // width_us] += 1
            return counts

        with recovery.Job(SPEC) as job:
            job.set_source(fetch)
            job.set_sink(write, count=count)
            job.set_checkpoint_store(DictStore())
            before = job.reconcile(bucket_seconds=6 * 3600)
            self.assertEqual((before["vendor"], before["destination"], before["short_buckets"]), (240, 0, 4))
            self.assertEqual([b["status"] for b in before["buckets"]], ["MISSING"] * 4)
            job.run()
            after = job.reconcile(bucket_seconds=6 * 3600)
        self.assertTrue(after["complete"], after)
        self.assertEqual((after["vendor"], after["destination"]), (240, 240))
        # A gap the live feed left: two hours gone, reconcile says which buckets.
        day = 1763078400000000  # 2025-11-14T00:00:00Z
        for key in [k for k, t in held.items() if day + 2 * 3600000000 <= t < day + 4 * 3600000000]:
            del held[key]
        with recovery.Job(SPEC) as job:
            job.set_source(fetch)
            job.set_sink(write, count=count)
            job.set_checkpoint_store(DictStore())
            gap = job.reconcile(bucket_seconds=3600)
        short = [b["start"] for b in gap["buckets"] if b["status"] != "ok"]
        self.assertEqual(short, ["2025-11-14T02:00:00Z", "2025-11-14T03:00:00Z"])
        self.assertEqual(gap["vendor"] - gap["destination"], 20)

    def test_a_sink_without_a_count_is_refused_by_name(self):
        with recovery.Job(SPEC) as job:
            job.set_source(records_source(10))
            job.set_sink(lambda shard_id, records: None)
            with self.assertRaises(recovery.RecoveryError) as cm:
                job.reconcile()
        self.assertIn("cannot count its records by event time", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
