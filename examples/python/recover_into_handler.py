#!/usr/bin/env python3
"""Recover a gap from a vendor's JSON-lines export into an existing Python
handler, the way an integration service would inject recovered records where
live ones arrive.

    python3 examples/python/recover_into_handler.py [WORK_DIR]

Needs the library built (./scripts/test.sh or the demo builds it) or
$RECOVERY_C_LIBRARY pointing at librecovery_c.so.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import recovery  # noqa: E402  (installed: cmake --install, or pip install a wheel; else the repository's)


class LoyaltyIntegration:
    """Stands in for the service's existing handler of live queue messages."""

    def __init__(self):
        self.points = {}
        self.seen = set()

    def handle_transaction(self, tx, idempotency_key, maybe_duplicate):
        if maybe_duplicate and idempotency_key in self.seen:
            return  # a redelivery after a crash: already applied
        self.seen.add(idempotency_key)
        self.points[tx["loyalty_number"]] = self.points.get(tx["loyalty_number"], 0) + tx["points"]


def write_export(path, start, days):
    with open(path, "w") as f:
        for i in range(days * 24 * 60):  # one transaction a minute
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * 60))
            f.write(json.dumps({"id": f"txn-{i:07d}", "created_at": ts, "customer": {"loyalty_number": f"LN{i % 97:04d}"},
                                "points": {"earned": i % 13}, "amount": {"value": f"{i % 90}.{i % 100:02d}"}}) + "\n")


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="recovery-python-")
    os.makedirs(work, exist_ok=True)
    write_export(os.path.join(work, "vendor-export.jsonl"), 1763078400, days=2)
    spec = {
        "name": "python-handler-demo",
        "window": {"start": "2025-11-14T00:00:00Z", "end": "2025-11-16T00:00:00Z"},
        "shard_duration": "12h", "concurrency": 4,
        "source": {"type": "jsonl_file", "path": "vendor-export.jsonl", "batch_size": 200},
        "mapper": {"type": "json", "fields": [
            {"name": "transaction_id", "from": "/id", "required": True},
            {"name": "loyalty_number", "from": "/customer/loyalty_number", "required": True},
            {"name": "points", "from": "/points/earned", "type": "int64", "default": 0},
            {"name": "amount", "from": "/amount/value", "type": "decimal"}],
            "key": {"from": "/id"}, "event_time": {"from": "/created_at"}},
        "checkpoint": {"type": "file", "dir": "state"},
    }
    integration = LoyaltyIntegration()

    def inject(shard_id, records):
        for r in records:
            integration.handle_transaction(json.loads(r.data), r.key, r.maybe_redelivered)

    with recovery.Job(spec, base_dir=work) as job:
        job.set_sink(inject)
        job.on_progress(lambda p: print(f"\r{p.window_fraction:6.1%}  {p.records_delivered} records", end=""))
        job.run()  # Ctrl-C stops after the current batch; running again resumes
    print(f"\nrecovered {len(integration.seen)} transactions for {len(integration.points)} loyalty accounts "
          f"(state and checkpoints in {work})")


if __name__ == "__main__":
    main()
