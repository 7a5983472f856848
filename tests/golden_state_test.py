#!/usr/bin/env python3
"""State written by a released version, resumed by this build: every record
exactly once, and the numbers `recovery status --json` gives agree. A newer
format than this build reads is refused with both versions named.

    golden_state_test.py CLI ROOT            the test
    golden_state_test.py CLI ROOT --write V  writes tests/golden/V/ with this
                                             build (once per release whose
                                             formats changed, or per format
                                             change between releases, as
                                             0.1.0-checkpoint-v7; keep every one)

Each tests/golden/<version>/ holds two snapshots of one job over the same
export (120 records, 6 with a decimal comma the first mapping refuses, 1 that
no mapping takes): "interrupted" (the first run stopped by max_records after
about 50) and "replayed" (run to the end, then its dead letters replayed with
the fixed mapping). Since max_records is exact, the interrupted snapshots
written from 0.1.0-checkpoint-v7 on stop inside a page (Checkpoint::page_taken)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

RECORDS = 120
COMMA = {i for i in range(RECORDS) if i % 20 == 3}  # 6 records: "12,30"
UNMAPPABLE = 77                                     # "n/a", refused by every mapping


def export_lines():
    for i in range(RECORDS):
        amount = "12,30" if i in COMMA else "n/a" if i == UNMAPPABLE else f"{i}.50"
        ts = f"2026-11-14T{(i * 12) // 60:02d}:{(i * 12) % 60:02d}:00Z"
        yield json.dumps({"id": f"t{i:03d}", "ts": ts, "amount": amount})


def job(fixed=False, max_records=0):
    amount = {"name": "amount", "from": "/amount", "type": "decimal", "required": True}
    if fixed:
        amount["decimal_comma"] = True
    spec = {
        "name": "golden",
        "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-15T00:00:00Z"},
        "shard_duration": "6h",
        "concurrency": 1,
        "error_budget": {"max_fraction": 1},
        "source": {"type": "jsonl_file", "path": "export.jsonl", "batch_size": 10},
        "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "required": True}, amount],
                   "key": {"from": "/id"}, "event_time": {"from": "/ts"}},
        "sink": {"type": "jsonl_file", "path": "out.jsonl", "format": "envelope"},
        "checkpoint": {"type": "file", "dir": "state"},
        "dead_letters": {"type": "file", "path": "dead.jsonl"},
    }
    if max_records:
        spec["max_records"] = max_records
    return spec


def write_job(directory, name, spec):
    with open(os.path.join(directory, name), "w") as f:
        json.dump(spec, f, indent=1)


def cli(binary, *args, cwd, ok=(0,)):
    r = subprocess.run([os.path.abspath(binary), *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode not in ok:
        raise AssertionError(f"recovery {' '.join(args)} exited {r.returncode}: {r.stdout}{r.stderr}")
    return r


def write(binary, root, version):
    base = os.path.join(root, "tests", "golden", version)
    if os.path.exists(base):
        raise SystemExit(f"{base} exists: golden state is written once per version and kept")
    for snapshot in ("interrupted", "replayed"):
        d = os.path.join(base, snapshot)
        os.makedirs(d)
        with open(os.path.join(d, "export.jsonl"), "w") as f:
            f.write("\n".join(export_lines()) + "\n")
        write_job(d, "job.json", job())
        write_job(d, "job-fixed.json", job(fixed=True))
    d = os.path.join(base, "interrupted")
    write_job(d, "job-first.json", job(max_records=50))
    cli(binary, "run", "job-first.json", "--quiet", cwd=d, ok=(0, 3))
    d = os.path.join(base, "replayed")
    cli(binary, "run", "job.json", "--quiet", cwd=d)
    cli(binary, "replay", "job-fixed.json", "--quiet", cwd=d)
    print(f"wrote {base}")


def delivered_ids(directory):
    with open(os.path.join(directory, "out.jsonl")) as f:
        return [json.loads(line)["key"] for line in f]


def summary(binary, directory, job_file):
    return json.loads(cli(binary, "status", job_file, "--json", cwd=directory).stdout)["summary"]


def check(binary, root):
    versions = sorted(os.listdir(os.path.join(root, "tests", "golden")))
    if not versions:
        raise AssertionError("no golden state under tests/golden")
    every = {f"t{i:03d}" for i in range(RECORDS)}
    for version in versions:
        with tempfile.TemporaryDirectory() as tmp:
            base = os.path.join(tmp, version)
            shutil.copytree(os.path.join(root, "tests", "golden", version), base)

            # Interrupted by the old version: this one finishes it, each record once.
            d = os.path.join(base, "interrupted")
            before = delivered_ids(d)
            assert 0 < len(before) < RECORDS, f"{version}: the snapshot is not part-way ({len(before)})"
            cli(binary, "run", "job.json", "--quiet", cwd=d)
            ids = delivered_ids(d)
            assert ids[:len(before)] == before, f"{version}: what the old version delivered changed"
            assert len(ids) == len(set(ids)), f"{version}: duplicates after resuming"
            refused = {f"t{i:03d}" for i in COMMA | {UNMAPPABLE}}
            assert set(ids) == every - refused, f"{version}: missing {sorted(every - refused - set(ids))}"
            s = summary(binary, d, "job.json")
            assert (s["records_delivered"], s["dead_letters"], s["complete"]) == (113, 7, True), s
            # ... and replays its dead letters with the fixed mapping, once.
            cli(binary, "replay", "job-fixed.json", "--quiet", cwd=d)
            ids = delivered_ids(d)
            assert len(ids) == len(set(ids)) == RECORDS - 1, f"{version}: {len(ids)} after the replay"
            s = summary(binary, d, "job-fixed.json")
            assert (s["records_delivered"], s["dead_letters"], s["dead_letters_settled"]) == (119, 1, 6), s

            # Replayed by the old version: the settled letters are not taken again.
            d = os.path.join(base, "replayed")
            before = delivered_ids(d)
            assert len(before) == RECORDS - 1, f"{version}: the replayed snapshot holds {len(before)}"
            cli(binary, "replay", "job-fixed.json", "--quiet", cwd=d)
            assert delivered_ids(d) == before, f"{version}: a settled letter was delivered again"
            s = summary(binary, d, "job-fixed.json")
            assert (s["records_delivered"], s["dead_letters"], s["dead_letters_settled"]) == (119, 1, 6), s

            # A newer format than this build reads is refused, naming both versions.
            d = os.path.join(base, "interrupted")
            logs = [n for n in os.listdir(os.path.join(d, "state", "golden")) if n.endswith(".log")]
            assert logs, f"{version}: no checkpoint log"
            path = os.path.join(d, "state", "golden", logs[0])
            with open(path, "rb") as f:
                data = f.read()
            header, rest = data.split(b"\n", 1)
            magic, _, gen = header.split(b" ")
            with open(path, "wb") as f:
                f.write(magic + b" 99 " + gen + b"\n" + rest)
            r = cli(binary, "status", "job.json", cwd=d, ok=(1, 2))
            said = r.stdout + r.stderr
            assert "has format version 99" in said and "reads up to" in said, said
        print(f"{version}: resumed, replayed and refused as expected")


def main(argv):
    if len(argv) == 5 and argv[3] == "--write":
        write(argv[1], argv[2], argv[4])
        return 0
    if len(argv) != 3:
        print(__doc__)
        return 2
    check(argv[1], argv[2])
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
