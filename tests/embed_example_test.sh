#!/usr/bin/env bash
# Runs examples/embed.cc against the simulated vendor API on a loopback port:
# every record of the day must be delivered.  Usage: embed_example_test.sh EXAMPLE FIXTURE_API
set -euo pipefail
example="$1" fixture="$2"
out="$(mktemp -d)"
mkfifo "$out/stdin"  # the API serves until its stdin closes: when this script ends
"$fixture" --records 2000 --start 2026-11-01T00:00:00Z --end 2026-11-02T00:00:00Z > "$out/url" < "$out/stdin" &
api_pid=$!
exec 3> "$out/stdin"
trap 'exec 3>&-; kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 100); do [ -s "$out/url" ] && break; sleep 0.05; done
url="$(head -1 "$out/url")"
result="$("$example" "$url")"
echo "$result"
[ "$result" = "done: 2000 records delivered" ]
