#!/usr/bin/env bash
# clang-tidy with the checked-in .clang-tidy (the agreed checks: bugs, not
# style) on src/ and capi/. Any warning fails.
#   scripts/lint.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/lint}"
# No precompiled headers: clang-tidy cannot read the compiler's.
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DRECOVERY_BUILD_TESTS=OFF -DRECOVERY_PRECOMPILE_HEADERS=OFF \
  -DRECOVERY_BUILD_BENCHMARKS=OFF -DRECOVERY_BUILD_EXAMPLES=OFF >/dev/null
# A .clang-tidy clang-tidy cannot parse is not an error to it: it falls back to
# its default checks. Refuse that.
if clang-tidy --dump-config "$(pwd)/src/record.cc" 2>&1 | grep -q "Error parsing"; then
  clang-tidy --dump-config "$(pwd)/src/record.cc" 2>&1 | grep -B1 -A2 "error:"
  echo "clang-tidy: .clang-tidy does not parse"
  exit 1
fi
run-clang-tidy -p "$build" -j "$(nproc)" -quiet "$(pwd)/(src|capi)/" >"$build/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error): " "$build/clang-tidy.log" | sort -u
  echo "clang-tidy: warnings above (full log: $build/clang-tidy.log)"
  exit 1
}
echo "clang-tidy: $(grep -c '"file"' "$build/compile_commands.json") files, no warnings"
