#!/usr/bin/env python3
"""The status quo the library replaces: a sequential Python loop that pages a
vendor API 100 records at a time with urllib, maps each record and hands it
on. Prints records per second.

usage: sequential_baseline.py BASE_URL FROM TO MAX_PAGES
"""
import json
import sys
import time
import urllib.parse
import urllib.request


def main():
    base, start, end, max_pages = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    delivered = []
    began = time.monotonic()
    page = 1
    while page <= max_pages:
        query = urllib.parse.urlencode({"from": start, "to": end, "page": page, "limit": 100})
        with urllib.request.urlopen(f"{base}/v1/page?{query}", timeout=30) as response:
            body = json.load(response)
        records = body["data"]
        if not records:
            break
        for r in records:
            delivered.append({"transaction_id": r["id"], "occurred_at": r["created_at"],
                              "amount": str(r["amount"]["value"]), "currency": r["amount"]["currency"]})
        page += 1
    elapsed = time.monotonic() - began
    print(f"{len(delivered) / elapsed:.0f}")


if __name__ == "__main__":
    main()
