#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each from its
# seed corpus for SECONDS seconds (default 20). A crash, a leak or a sanitizer
# report fails the script and copies the reproducer to fuzz-crashes/.
#   scripts/fuzz.sh [SECONDS] [BUILD_DIR]
# BUILD_DIR (default build/fuzz) is configured for fuzzing unless it already is
# (scripts/test.sh passes its clang ASan build, which builds the fuzzers too).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
build="$(realpath -m "${2:-build/fuzz}")"
root="$(pwd)"
targets=(job_spec_fuzzer mapper_fuzzer http_page_fuzzer sqs_response_fuzzer checkpoint_fuzzer request_template_fuzzer
         oauth2_answer_fuzzer stored_files_fuzzer http_sink_answer_fuzzer)
if ! grep -q "^RECOVERY_BUILD_FUZZERS:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECOVERY_BUILD_FUZZERS=ON \
    -DRECOVERY_SANITIZE=address,undefined -DRECOVERY_BUILD_TESTS=OFF -DRECOVERY_BUILD_BENCHMARKS=OFF \
    -DRECOVERY_BUILD_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  # Runs in the work directory: a job spec may name relative paths (nothing is written to them).
  if (cd "$work/$target" && "$build/fuzz/$target" -max_total_time="$seconds" -max_len=65536 \
        -print_final_stats=1 "$work/$target" "$root/fuzz/corpus/$target" >"$work/$target.log" 2>&1); then
    echo "$target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$target.log" | awk '{print $2}') executions, no crash"
  else
    echo "$target: FAILED"; tail -40 "$work/$target.log"; status=1
    mkdir -p fuzz-crashes && cp "$work/$target"/crash-* fuzz-crashes/ 2>/dev/null || true
  fi
done
exit $status
