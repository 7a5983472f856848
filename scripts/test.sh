#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test four ways (README,
# second command):
#   1. g++, the tests that need a build without sanitizers (labelled
#      "unsanitized": the Python package and Celery, the install, the
#      example) and the volume tier (50,000 SQS messages);
#   2. clang with AddressSanitizer + UndefinedBehaviorSanitizer, the whole
#      suite but those (each test runs once, where it checks the most), then
#      each libFuzzer target for a fixed time from its seed corpus;
#   3. g++ with ThreadSanitizer, the concurrency tests (engine, HTTP, OAuth2,
#      SQS and PostgreSQL), in two streams side by side;
#   4. the core alone, built without libcurl and libpq (RECOVERY_WITH_HTTP=OFF,
#      RECOVERY_WITH_POSTGRES=OFF): the library, the C ABI and the tool, and
#      what differs in such a build (what the tool says of the components it
#      left out, the C ABI, the install, state of released versions resumed).
#      The engine's suite does not run again there: the code it tests is the
#      same in both builds but for the component registry, and the suite
#      runs under the sanitizers above.
# While a suite runs (much of it waits on servers and child processes), the
# next phase's build takes what CPU the tests leave, at the lowest priority
# (nice 19), so the tests run as if alone: the sanitizer build during the
# first build and suite, the ThreadSanitizer build during the second suite,
# the core during the third.
# clang-tidy (scripts/lint.sh) is not part of it: the builds already fill most
# of CI's 15 minutes on 2 cores. Run it before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's time, printed at the end (and on the way out of a failure too).
phase_names=() phase_secs=() phase_start=$SECONDS phase_name="install what is missing"
phase() {  # the name of the phase that starts now
  phase_names+=("$phase_name") phase_secs+=($((SECONDS - phase_start)))
  phase_name="$1" phase_start=$SECONDS
  echo "== $1"
}
report_phases() {
  phase_names+=("$phase_name") phase_secs+=($((SECONDS - phase_start)))
  echo "== time per phase"
  for i in "${!phase_names[@]}"; do
    printf '%6ds  %s\n' "${phase_secs[$i]}" "${phase_names[$i]}"
  done
  printf '%6ds  total\n' "$SECONDS"
}
# Builds run in the background (build_meanwhile), each into a log shown if
# it fails; they are stopped if the script ends first. $! of the last one is
# in $background, for await_build.
background_pids=() background=""
declare -A background_logs
build_meanwhile() {  # dir, cmake --build arguments...
  local dir="$1"; shift
  # Its own process group (setsid), so that stopping it stops the compilers too.
  setsid nice -n 19 cmake --build "$dir" -j"$jobs" "$@" >"$dir.log" 2>&1 &
  background=$!
  background_pids+=("$background")
  background_logs[$background]="$dir.log"
}
await_build() {  # the pid build_meanwhile left in $background
  local pid="$1" others=() p
  for p in "${background_pids[@]}"; do
    if [ "$p" != "$pid" ]; then others+=("$p"); fi
  done
  background_pids=("${others[@]}")
  if ! wait "$pid"; then
    cat "${background_logs[$pid]}"
    echo "== the build above failed"
    exit 1
  fi
}
on_exit() {
  local pid
  for pid in "${background_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  report_phases
}
trap on_exit EXIT
./scripts/install-deps.sh
jobs="$(nproc)"
# Line tables only (-g1): a stack trace still names files and lines, and the
# compiler spends about a third less time than with full debug information.
# Every build goes at -O1, which compiles about a fifth faster than -O2 and
# leaves the tests as fast as they need (none measures speed; the
# benchmarks, built apart, do).
# The library, the C ABI, the tool and the test helpers compile 8 files at a
# time (RECOVERY_UNITY_BUILD): each build from scratch takes about a third of
# the CPU it would otherwise (measured: 104 s against 279 s for the three with
# g++), and there are four builds here.
configure() {  # dir, optimization, extra cmake flags...
  local dir="$1" flags="$2 -g1 -DNDEBUG"; shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DRECOVERY_UNITY_BUILD=ON "$@" >/dev/null
}
phase "tests that need a build without sanitizers (g++): Python, Celery, install, example, SQS volume"
# Every other test runs once, under the sanitizers below. The benchmarks are
# left out to keep CI short; benchmarks/README.md builds them.
configure build/tests -O1 -DRECOVERY_BUILD_BENCHMARKS=OFF
# The sanitizer build starts first, at the lowest priority: it takes what the
# g++ build leaves (for about a minute, that build's last steps use one core
# of two), then what the suite leaves while it waits on servers and child
# processes.
CC=clang CXX=clang++ configure build/asan -O1 -DRECOVERY_SANITIZE=address,undefined -DRECOVERY_BUILD_FUZZERS=ON \
  -DRECOVERY_BUILD_BENCHMARKS=OFF -DRECOVERY_BUILD_EXAMPLES=OFF
build_meanwhile build/asan
asan_build=$background
cmake --build build/tests -j"$jobs" --target recovery recovery_c recovery_cli recovery_fixture_api \
  recovery_embed_example sqs_scale_test
(cd build/tests && ctest --output-on-failure -j"$jobs" -L 'unsanitized|volume')

phase "tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
await_build "$asan_build"
configure build/tsan -O1 -DRECOVERY_SANITIZE=thread -DRECOVERY_BUILD_BENCHMARKS=OFF -DRECOVERY_BUILD_EXAMPLES=OFF
build_meanwhile build/tsan --target recovery_tests sqs_test postgres_test oauth2_test http_sink_test recovery_cli
tsan_build=$background
(cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs" -LE volume)
phase "fuzzing"
./scripts/fuzz.sh 4 build/asan

phase "concurrency tests under ThreadSanitizer"
await_build "$tsan_build"
configure build/core -O1 -DRECOVERY_WITH_HTTP=OFF -DRECOVERY_WITH_POSTGRES=OFF -DRECOVERY_BUILD_BENCHMARKS=OFF \
  -DRECOVERY_BUILD_EXAMPLES=OFF
build_meanwhile build/core --target recovery recovery_c recovery_cli c_api_test c_queue_test c_header_test_c \
  c_header_test_cc
core_build=$background
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(pwd)/tests/tsan.supp"
# Two streams side by side, each into its own log (shown whatever the
# outcome), of about the same length (measured on 2 cores: the SQS tests 51 s,
# PostgreSQL 36 s, the engine's suite 32 s, OAuth2 14 s, the HTTP sink 6 s);
# each stream runs mostly on one core.
tsan_stream() {  # log, then commands separated by ';;'
  local log="$1"; shift
  local command=()
  for word in "$@" ';;'; do
    if [ "$word" = ';;' ]; then
      "${command[@]}" >>"$log" 2>&1 || { echo "== failed: ${command[*]}" >>"$log"; return 1; }
      command=()
    else
      command+=("$word")
    fi
  done
}
# The engine's suite; lease renewal threads, concurrent shards on one store,
# two engines sharing a job (PostgreSQL).
tsan_stream build/tsan/engine.log build/tsan/tests/recovery_tests --gtest_brief=1 ';;' \
  build/tsan/tests/postgres_test --gtest_brief=1 &
engine_stream=$!
# The SQS tests that exercise every thread of the source (receivers, workers,
# heartbeats, the CLI under kill -9; the rest repeat them against moto
# slowly); one OAuth2 token shared by every shard, renewed by one of them at a
# time; the HTTP sink's pool of clients, shared by every shard's writes and
# presence checks.
tsan_stream build/tsan/others.log \
  build/tsan/tests/sqs_test --gtest_brief=1 \
    --gtest_filter='SqsFakeTest.*:SqsTest.Drains*:SqsTest.Heartbeats*:SqsTest.MessagesCheckpointed*:SqsTest.Sigkill*' ';;' \
  build/tsan/tests/oauth2_test --gtest_brief=1 ';;' \
  build/tsan/tests/http_sink_test --gtest_brief=1 --gtest_filter='HttpSinkTest.*' &
others_stream=$!
tsan_status=0
wait "$engine_stream" || tsan_status=1
wait "$others_stream" || tsan_status=1
cat build/tsan/engine.log build/tsan/others.log
if [ "$tsan_status" != 0 ]; then echo "== a ThreadSanitizer test failed (above)"; exit 1; fi

phase "the core alone: no HTTP or SQS (libcurl), no PostgreSQL (libpq)"
await_build "$core_build"
(cd build/core && ctest --output-on-failure -j"$jobs" \
  -R '^(core_build_test|c_api_test|c_queue_test|c_header_test_cc?|c_exports_test|install_test|golden_state_test)$')
