#!/usr/bin/env bash
# A background fuzzing campaign: the main targets side by side, each in its
# own process at nice 19 (so builds and tests on the same machine keep their
# speed), for SECONDS of wall time, then one line per target with what
# fuzz/README.md's campaign table needs:
#   tools/fuzz_campaign.sh SECONDS [DIR] [TARGET...]   (default: load trace joblib)
# DIR (default build-fuzz/campaign) keeps each target's corpus (seeded from
# fuzz/corpus/<target> and tests/), crashes, log and the fuzzer binary,
# copied at the start so a rebuild during the campaign changes nothing.
# Stop early with: pkill -INT -f "$DIR/fuzz_"   (libFuzzer prints its
# final stats on SIGINT; do not SIGSTOP a fuzzer: its -timeout counts the
# pause, and it reports a false timeout when continued).  Every timeout it
# reports should be re-run alone (build-fuzz/fuzz/fuzz_T FILE) before it is
# believed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: tools/fuzz_campaign.sh SECONDS [DIR] [TARGET...]}
DIR=${2:-build-fuzz/campaign}
shift $(( $# >= 2 ? 2 : 1 ))
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(load trace joblib)

tools/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPICKLEVM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null
mkdir -p "$DIR"
git rev-parse --short HEAD > "$DIR/commit" 2>/dev/null || true

for t in "${TARGETS[@]}"; do
  mkdir -p "$DIR/corpus/$t" "$DIR/crashes/$t"
  cp "build-fuzz/fuzz/fuzz_$t" "$DIR/fuzz_$t"
  seeds=("fuzz/corpus/$t")
  malloc_mb=64
  case $t in
    joblib) seeds+=(tests/joblib/files tests/malicious/corpus); malloc_mb=160 ;;
    *) seeds+=(tests/fixtures/models tests/fixtures/sample tests/malicious/corpus) ;;
  esac
  # The bounds of tools/fuzz.sh (see fuzz/README.md), except -timeout: it
  # is wall-clock time, and at nice 19 a fuzzer gets no CPU for seconds
  # while a build or a test suite runs beside it (false timeouts seen at
  # 5 s); inputs run in milliseconds, so 20 s still shows anything
  # super-linear.
  nice -n 19 /usr/bin/time -v -o "$DIR/time-$t.txt" "$DIR/fuzz_$t" \
    "$DIR/corpus/$t" "${seeds[@]}" -dict=fuzz/pickle.dict \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=20 \
    -rss_limit_mb=2048 -malloc_limit_mb=$malloc_mb \
    -artifact_prefix="$DIR/crashes/$t/" -print_final_stats=1 \
    >"$DIR/fuzz-$t.log" 2>&1 &
done
wait || true

printf '%-8s %14s %10s %16s %s\n' target executions cpu_s "edges" crashes
for t in "${TARGETS[@]}"; do
  log="$DIR/fuzz-$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  first=$(grep -m1 -o 'INITED cov: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.0f", s}' "$DIR/time-$t.txt")
  crashes=$(ls "$DIR/crashes/$t" | wc -l)
  printf '%-8s %14s %10s %16s %s\n' "$t" "$execs" "$cpu" "$first -> $last" "$crashes"
done
