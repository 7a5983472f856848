#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: a normal build
# and one with AddressSanitizer + UndefinedBehaviorSanitizer (README, second command).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"
run_suite() {  # name, extra cmake flags...
  local dir="build/$1"; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
}
echo "== tests"
run_suite tests
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan -DRECOVERY_SANITIZE=address,undefined -DRECOVERY_BUILD_BENCHMARKS=OFF -DRECOVERY_BUILD_EXAMPLES=OFF
echo "== fuzzing: each libFuzzer target for 15 s from its seed corpus (clang, ASan + UBSan)"
./scripts/fuzz.sh 15 build/fuzz
