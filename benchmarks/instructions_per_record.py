#!/usr/bin/env python3
"""Instructions per record of a whole recovery, counted by callgrind.

The `recovery` CLI runs a JSON-lines export of ~830-byte transactions (the
mapper benchmark's shape) through the JSON mapper (11 fields, a timestamp, a
decimal, an int64, a constant; key and event time) into the null sink, with
file checkpoints and 100 records a page, twice: 20,000 and 60,000 records.
The difference divided by 40,000 is the cost of a record with start-up left
out. Given a second CLI (e.g. built from an earlier commit), it runs the same
jobs with it and prints both and their ratio.

    benchmarks/instructions_per_record.py BUILD/recovery [BASELINE/recovery]

Needs valgrind. Takes about ten seconds per binary.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

SIZES = (20000, 60000)
MAPPING = {"type": "json", "fields": [
    {"name": "transaction_id", "from": "/id", "required": True},
    {"name": "occurred_at", "from": "/created_at", "type": "timestamp", "required": True},
    {"name": "amount", "from": "/amount/value", "type": "decimal", "required": True},
    {"name": "currency", "from": "/amount/currency", "default": "EUR"},
    {"name": "customer_id", "from": "/customer/id"},
    {"name": "loyalty_number", "from": "/customer/loyalty_number"},
    {"name": "merchant", "from": "/merchant/name"},
    {"name": "points", "from": "/points/earned", "type": "int64", "default": 0},
    {"name": "first_sku", "from": "/items/0/sku"},
    {"name": "channel", "from": "/channel"},
    {"name": "source", "const": "gap-recovery"}],
    "key": {"from": "/id"}, "event_time": {"from": "/created_at"}}


def transaction(i, start):
    ts = (start + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": "txn-%08d" % i, "type": "purchase", "status": "settled", "created_at": ts, "updated_at": ts,
        "amount": {"value": float("%d.%02d" % (10 + i % 490, i % 100)), "currency": ("EUR", "GBP", "USD")[i % 3]},
        "points": {"earned": i % 300, "multiplier": 1.5, "tier": "gold"},
        "customer": {"id": "cust-%06d" % (i % 100000), "email": "customer%d@example.com" % i,
                     "loyalty_number": "LN%010d" % i,
                     "address": {"line1": "%d High Street" % (i % 200), "city": "London",
                                 "postcode": "SW1A %dAA" % (i % 9), "country": "GB"}},
        "merchant": {"id": "m-%04d" % (i % 5000),
                     "name": ("Café Rouge", "Tesco Express", "Shell Station 42", 'Boots "Pharmacy"')[i % 4],
                     "category": "grocery", "location": {"lat": 51.5, "lon": -0.12}},
        "items": [{"sku": "SKU-%05d" % (i % 50000), "qty": 1 + i % 5, "unit_price": 3.99, "tags": ["food", "fresh"]},
                  {"sku": "SKU-%05d" % ((i + 7) % 50000), "qty": 1, "unit_price": 12.5, "tags": ["household"]}],
        "channel": "pos", "terminal": "T-%03d" % (i % 100),
        "metadata": {"batch": "b-%d" % (i // 100), "source": "vendor-feed", "version": 3,
                     "notes": "line one\nline two \u00e9", "flags": [True, False, None]}}


def write_jobs(directory):
    start = datetime.datetime(2026, 11, 14, tzinfo=datetime.timezone.utc)
    jobs = {}
    for n in SIZES:
        with open(os.path.join(directory, "in%d.jsonl" % n), "w") as f:
            for i in range(n):
                f.write(json.dumps(transaction(i, start), ensure_ascii=False, separators=(",", ":")) + "\n")
        job = {"name": "ipr%d" % n, "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-15T00:00:00Z"},
               "shard_duration": "1d", "concurrency": 1,
               "source": {"type": "jsonl_file", "path": "in%d.jsonl" % n, "batch_size": 100},
               "mapper": MAPPING, "sink": {"type": "null"}, "checkpoint": {"type": "file", "dir": "state"}}
        jobs[n] = os.path.join(directory, "job%d.json" % n)
        with open(jobs[n], "w") as f:
            json.dump(job, f)
    return jobs


def instructions(cli, job, directory):
    out = os.path.join(directory, "callgrind.out")
    subprocess.run(["rm", "-rf", os.path.join(directory, "state")], check=True)
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, cli, "run", job],
                       cwd=directory, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s" % (cli, r.stderr[-2000:]))
    m = re.search(r"Collected : (\d+)", r.stderr)
    if not m:
        sys.exit("no callgrind total in:\n" + r.stderr[-2000:])
    return int(m.group(1))


def per_record(cli, jobs, directory):
    small, large = (instructions(cli, jobs[n], directory) for n in SIZES)
    return (large - small) / (SIZES[1] - SIZES[0])


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    clis = [os.path.abspath(p) for p in sys.argv[1:]]
    with tempfile.TemporaryDirectory() as directory:
        jobs = write_jobs(directory)
        figures = [per_record(cli, jobs, directory) for cli in clis]
    print("%-60s %16s" % ("recovery CLI", "instr. a record"))
    for cli, figure in zip(clis, figures):
        print("%-60s %16.0f" % (cli[-60:], figure))
    if len(figures) == 2:
        print("ratio (first / second): %.3f" % (figures[0] / figures[1]))


if __name__ == "__main__":
    main()
