#!/usr/bin/env bash
# The core alone (built with RECOVERY_WITH_HTTP=OFF or RECOVERY_WITH_POSTGRES=OFF):
# `recovery validate` names every component the build left out, with the
# option that leaves it out, and a job of the core's own components is valid.
#   core_build_test.sh RECOVERY_CLI WITH_HTTP WITH_POSTGRES   (the last two ON or OFF)
set -euo pipefail
cli="$1" http="$2" postgres="$3"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
window='"name":"core","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"}'
failures=0
# job JSON (without its braces), the component's path, its type, the option.
expect() {
  local body="$1" path="$2" type="$3" option="$4" out
  printf '{%s,%s}\n' "$window" "$body" >"$dir/job.json"
  if out="$("$cli" validate "$dir/job.json" 2>&1)"; then
    echo "FAILED: $path \"$type\" was accepted by a build without it: $out"; failures=$((failures + 1))
  elif [[ "$out" != *"$path: \"$type\" is not in this build of the library (built with $option=OFF)"* ]]; then
    echo "FAILED: $path \"$type\": expected the build's reason, got: $out"; failures=$((failures + 1))
  else
    echo "ok: $path \"$type\" is refused naming $option"
  fi
}
if [ "$http" = OFF ]; then
  expect '"source":{"type":"http","url":"http://127.0.0.1:9/x","pagination":{"type":"offset"}}' \
    source.type http RECOVERY_WITH_HTTP
  expect '"source":{"type":"sqs","queue_url":"http://127.0.0.1:9/q"}' source.type sqs RECOVERY_WITH_HTTP
fi
if [ "$postgres" = OFF ]; then
  expect '"checkpoint":{"type":"postgres","dsn":"host=127.0.0.1"}' checkpoint.type postgres RECOVERY_WITH_POSTGRES
  expect '"sink":{"type":"postgres","dsn":"host=127.0.0.1","table":"t"}' sink.type postgres RECOVERY_WITH_POSTGRES
fi
# What the core keeps is valid.
printf '{%s,%s}\n' "$window" '"source":{"type":"jsonl_file","path":"in.jsonl"},"sink":{"type":"jsonl_file","path":"out.jsonl"},"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}],"key":{"from":"/id"},"event_time":{"from":"/ts"}}' >"$dir/job.json"
if ! out="$("$cli" validate "$dir/job.json" 2>&1)"; then
  echo "FAILED: a job of the core's components is refused: $out"; failures=$((failures + 1))
fi
exit $((failures > 0))
