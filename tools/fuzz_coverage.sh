#!/usr/bin/env bash
# Line coverage of vm/ by fuzz corpora alone (clang source-based coverage):
#   tools/fuzz_coverage.sh CORPUS_ROOT
# CORPUS_ROOT holds one folder per target (load, trace, dis, joblib,
# allowlist), e.g. build-fuzz/corpus or fuzz/corpus.  Prints llvm-cov's
# report for vm/ and writes build-cov/coverage.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-fuzz/corpus}
cmake -S . -B build-cov -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
ninja -C build-cov picklevm_replay >/dev/null
rm -f build-cov/*.profraw
for t in load trace dis joblib allowlist; do
  dir=$ROOT/$t
  # Targets without a corpus of their own read their neighbours' inputs:
  # dis the load corpus, allowlist the shipped policy files.
  # (An empty folder counts as none: git does not keep them, but a
  # fuzzer run leaves them behind.)
  has_files() { [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; }
  has_files "$dir" || { [ "$t" = dis ] && dir=$ROOT/load; }
  has_files "$dir" || { [ "$t" = allowlist ] && dir=allowlists; }
  has_files "$dir" || continue
  LLVM_PROFILE_FILE="build-cov/$t.profraw" build-cov/fuzz/picklevm_replay "$t" "$dir"
done
llvm-profdata merge -sparse build-cov/*.profraw -o build-cov/fuzz.profdata
llvm-cov report build-cov/fuzz/picklevm_replay -instr-profile=build-cov/fuzz.profdata \
  $(find vm -name '*.cc' | sort) | tee build-cov/coverage.txt
