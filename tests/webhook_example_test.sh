#!/usr/bin/env bash
# Runs examples/webhook as its README says, on a free loopback port: the first
# run posts all 48 orders once, a fresh run of the same job (its state
# removed) finds every one already present and posts nothing.
# Usage: webhook_example_test.sh RECOVERY_CLI SOURCE_DIR
set -euo pipefail
cli="$1" src="$2"
work="$(mktemp -d)"
cp "$src"/examples/webhook/{job.json,receiver.py,vendor-export.jsonl} "$work/"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
sed -i "s/127.0.0.1:8787/127.0.0.1:$port/g" "$work/job.json"
cd "$work"
python3 receiver.py "$port" received.jsonl &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true; wait "$receiver" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.05
done

"$cli" run job.json > first.txt 2>&1 || { cat first.txt; exit 1; }
[ "$(wc -l < received.jsonl)" -eq 48 ] || { echo "expected 48 orders received"; cat first.txt; exit 1; }
[ "$(python3 -c 'import json,sys; print(len({json.loads(l)["key"] for l in open("received.jsonl")}))')" -eq 48 ]
grep -q '"amount": "37.50"' received.jsonl || grep -q '"amount": 37.5' received.jsonl || { head -2 received.jsonl; exit 1; }

rm -rf state
"$cli" run job.json > second.txt 2>&1 || { cat second.txt; exit 1; }
[ "$(wc -l < received.jsonl)" -eq 48 ] || { echo "the second run posted orders again"; exit 1; }
"$cli" status job.json > status.txt 2>&1
grep -q "already present: 48 records" status.txt || { cat status.txt; exit 1; }
echo "webhook example: 48 orders posted once, then 48 found already present"
