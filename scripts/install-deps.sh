#!/usr/bin/env bash
# Installs the Debian packages recovery builds and tests with (only the missing ones).
set -euo pipefail
packages=(build-essential cmake pkg-config python3 libcurl4-openssl-dev libsimdjson-dev libabsl-dev
          libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
          prometheus         # promtool checks the metrics exposition in the tests
          clang libclang-rt-14-dev  # libFuzzer targets (scripts/fuzz.sh)
          clang-tidy                # scripts/lint.sh
          openssl                   # a self-signed HTTPS server in the TLS test
          libpq-dev                 # the PostgreSQL checkpoint store and sink
          postgresql redis-server python3-celery python3-redis  # their tests, recovery.celery
          python3-pytest python3-venv python3-pip python3-setuptools python3-wheel  # the Python package: tests, wheel
          chromium chromium-driver python3-selenium python3-pil)  # recovery report's page in a real browser
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "Installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
