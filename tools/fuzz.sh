#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan+LeakSanitizer) into
# build-fuzz/ and runs each for SECONDS on its corpus:
#   tools/fuzz.sh [SECONDS] [TARGET...]      (default 30 s, every target)
# Seeds: fuzz/corpus/<target> (committed, minimized) plus every fixture and
# malicious file in tests/.  New inputs go to build-fuzz/corpus/<target>;
# crashes to build-fuzz/crashes/<target> (copy reproducers into
# fuzz/regressions/<target> once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(load trace dis joblib allowlist)

tools/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPICKLEVM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null

# The memory bound the fuzzer enforces.  Inputs are at most 64 KiB, so the
# documented bound (384 x input + 16 MiB) is 40 MiB for any one run: no
# single allocation may pass 64 MiB (-malloc_limit_mb).  The process limit
# (-rss_limit_mb) also covers ASan's shadow and quarantine and libFuzzer's
# own corpus, hence the headroom.
RSS_MB=2048
MALLOC_MB=64

status=0
for t in "${TARGETS[@]}"; do
  corpus=build-fuzz/corpus/$t
  crashes=build-fuzz/crashes/$t
  mkdir -p "$corpus" "$crashes"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds+=("fuzz/corpus/$t")
  case $t in
    allowlist) seeds+=(allowlists) ;;
    joblib) seeds+=(tests/joblib/files tests/malicious/corpus) ;;
    *) seeds+=(tests/fixtures/models tests/fixtures/sample tests/malicious/corpus) ;;
  esac
  malloc_mb=$MALLOC_MB
  # A compressed file may make liblzma allocate its dictionary (at most
  # 96 MiB, see vm/io/container.cc) before a byte is decoded.
  [ "$t" = joblib ] && malloc_mb=160
  echo "fuzz: $t for ${SECONDS_EACH}s"
  if ! build-fuzz/fuzz/fuzz_$t "$corpus" "${seeds[@]}" \
      -dict=fuzz/pickle.dict -max_total_time="$SECONDS_EACH" -max_len=65536 \
      -timeout=5 -rss_limit_mb=$RSS_MB -malloc_limit_mb=$malloc_mb \
      -artifact_prefix="$crashes/" -print_final_stats=1 \
      >"build-fuzz/fuzz-$t.log" 2>&1; then
    echo "fuzz: $t FAILED (see build-fuzz/fuzz-$t.log and $crashes)"
    tail -40 "build-fuzz/fuzz-$t.log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov:" "build-fuzz/fuzz-$t.log" | tail -2
done
exit $status
