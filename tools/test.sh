#!/usr/bin/env bash
# README command 2: install what is missing, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
# The fuzzers, built with ASan/UBSan/LeakSanitizer, each for a short fixed
# time on its committed corpus (the long campaigns are in fuzz/README.md).
tools/fuzz.sh "${PICKLEVM_FUZZ_SECONDS:-20}"
