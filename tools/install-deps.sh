#!/usr/bin/env bash
# Installs, from Debian's packages, whatever picklevm needs to build and test
# and is not installed yet.  Safe to run again: it does nothing when all is
# there.  Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config
  libabsl-dev libre2-dev libgtest-dev libssl-dev
  zlib1g-dev libbz2-dev liblzma-dev liblz4-dev libbenchmark-dev
  # fuzzing: libFuzzer and the sanitizers' runtime
  clang libclang-rt-14-dev
  # tests: CPython is the reference (differential, vectors, fixtures)
  python3 python3-numpy python3-sklearn python3-joblib python3-lz4
  libpython3.11-testsuite time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
