#!/bin/sh
# The Grafana dashboard uses only metric names the library exports.
set -eu
src="$1"
used=$(grep -o 'recovery_[a-z_]*' "$src/examples/grafana/recovery.json" | sed 's/_bucket$//' | sort -u)
known=$(grep -o '"recovery_[a-z_]*"' "$src/src/engine/metric_names.h" | tr -d '"' | sort -u)
missing=$(printf '%s\n' "$used" | while read -r m; do printf '%s\n' "$known" | grep -qx "$m" || echo "$m"; done)
if [ -n "$missing" ]; then
  echo "dashboard uses unknown metrics: $missing"
  exit 1
fi
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$src/examples/grafana/recovery.json"
echo "dashboard ok: $(printf '%s\n' "$used" | wc -l) metrics"
