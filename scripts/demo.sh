#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo recovery (README, first command).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRECOVERY_BUILD_TESTS=OFF -DRECOVERY_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/release --target recovery_demo -j"$(nproc)"
exec ./build/release/examples/recovery_demo "${1:-demo-run}"
