#!/usr/bin/env bash
# Builds the Python package's wheel offline, from the repository.
#   scripts/build-wheel.sh OUT_DIR                      a pure wheel: it finds librecovery_c
#                                                       as the package does (docs/python.md)
#   scripts/build-wheel.sh --bundle BUILD_DIR OUT_DIR   a wheel for this platform with
#                                                       BUILD_DIR/librecovery_c.so inside
# Needs Debian's python3-pip, python3-setuptools and python3-wheel (no network).
set -euo pipefail
bundle=""
if [ "${1:-}" = "--bundle" ]; then bundle="$2"; shift 2; fi
out="${1:?usage: scripts/build-wheel.sh [--bundle BUILD_DIR] OUT_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
python=/usr/bin/python3
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r "$root/python/pyproject.toml" "$root/python/README.md" "$root/python/recovery" "$stage/"
rm -rf "$stage/recovery/__pycache__" "$stage/recovery/_installed.py"
# The package's version is the library's, from the one place it is written.
version="$(sed -n 's/^project(recovery VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
[ -n "$version" ] || { echo "build-wheel.sh: no project(recovery VERSION ...) in CMakeLists.txt" >&2; exit 1; }
printf '"""Written by scripts/build-wheel.sh from CMakeLists.txt."""\n__version__ = "%s"\n' "$version" \
  > "$stage/recovery/_version.py"
if [ -n "$bundle" ]; then
  # The real file, not a symlink chain, under the name the package looks for.
  cp -L "$bundle/librecovery_c.so" "$stage/recovery/librecovery_c.so"
  strip --strip-debug "$stage/recovery/librecovery_c.so"
fi
mkdir -p "$out"
"$python" -m pip wheel --quiet --no-build-isolation --no-deps --no-index --wheel-dir "$stage/dist" "$stage"
wheel="$(ls "$stage"/dist/recovery-*.whl)"
if [ -n "$bundle" ]; then  # it holds a native library: tag it for this platform only
  "$python" -m wheel unpack --dest "$stage/unpacked" "$wheel" >/dev/null
  sed -i -e "s/^Root-Is-Purelib: true/Root-Is-Purelib: false/" \
         -e "s/^Tag: py3-none-any/Tag: py3-none-linux_$(uname -m)/" "$stage"/unpacked/recovery-*/recovery-*.dist-info/WHEEL
  rm "$wheel"
  "$python" -m wheel pack --dest-dir "$stage/dist" "$stage"/unpacked/recovery-* >/dev/null
  wheel="$(ls "$stage"/dist/recovery-*.whl)"
fi
cp "$wheel" "$out/"
echo "$out/$(basename "$wheel")"
