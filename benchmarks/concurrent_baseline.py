#!/usr/bin/env python3
"""What an engineer would write in an afternoon to recover a gap durably and
concurrently: one thread per shard of the window, each with its own
keep-alive connection, paging the vendor API 100 records at a time, mapping
each record, appending the page to one shared output file (under a lock,
fsync'ed), then saving the shard's page number in a checkpoint file of its
own (write, fsync, rename). Prints records per second.

usage: concurrent_baseline.py BASE_URL FROM TO SHARDS MAX_PAGES_PER_SHARD OUT_DIR
"""
import datetime
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Recovery:
    def __init__(self, base, out_dir):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.out_dir = out_dir
        self.out = open(os.path.join(out_dir, "out.jsonl"), "a", encoding="utf-8")
        self.out_lock = threading.Lock()
        self.delivered = 0
        self.errors = []

    def save_checkpoint(self, shard, page):
        path = os.path.join(self.out_dir, f"shard-{shard}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"page": page}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)

    def run_shard(self, shard, start, end, max_pages):
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            page = 1
            while page <= max_pages:
                query = urllib.parse.urlencode({"from": start, "to": end, "page": page, "limit": 100})
                connection.request("GET", f"/v1/page?{query}")
                body = json.loads(connection.getresponse().read())
                records = body["data"]
                if not records:
                    break
                lines = "".join(
                    json.dumps({"transaction_id": r["id"], "occurred_at": r["created_at"],
                                "amount": str(r["amount"]["value"]), "currency": r["amount"]["currency"]})
                    + "\n" for r in records)
                with self.out_lock:
                    self.out.write(lines)
                    self.out.flush()
                    os.fsync(self.out.fileno())
                    self.delivered += len(records)
                self.save_checkpoint(shard, page)
                page += 1
        except Exception as e:  # reported by main: a failed baseline must not look fast
            self.errors.append(f"shard {shard}: {e!r}")


def main():
    base, start, end = sys.argv[1], parse_time(sys.argv[2]), parse_time(sys.argv[3])
    shards, max_pages, out_dir = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    recovery = Recovery(base, out_dir)
    seconds = int((end - start).total_seconds())

    def bound(i):  # whole seconds, so the shards tile the window exactly
        return format_time(start + datetime.timedelta(seconds=seconds * i // shards))

    threads = [threading.Thread(target=recovery.run_shard, args=(i, bound(i), bound(i + 1), max_pages))
               for i in range(shards)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    if recovery.errors:
        print("\n".join(recovery.errors[:3]), file=sys.stderr)
        print("0")
        return
    print(f"{recovery.delivered / elapsed:.0f}")


if __name__ == "__main__":
    main()
