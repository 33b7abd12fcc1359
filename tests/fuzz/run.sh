#!/bin/sh
# tests/fuzz/run.sh - a short, time-boxed libFuzzer run of every parser
# target, for CI and for a quick local check.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [BUILD_DIR] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 30, BUILD_DIR to build-fuzz (configured
# here with clang and -Dfuzz=true when missing), TARGET to all of npy csv
# idx safetensors. FUZZ_SEED sets libFuzzer's seed (default: the time);
# the seed is printed so that a run can be repeated. New inputs and crash
# files go to fuzz-out/<target>/ (not tracked). A crash makes the script
# fail; fix it, then keep the input as a regression test:
#   cp fuzz-out/<target>/crash-* tests/fuzz/corpus/<target>/
# (meson test replays corpus/<target> in fuzz builds, and test_dataset
# replays the dataset ones in every build).
set -eu

secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build-fuzz}
[ $# -gt 2 ] && shift 2 || set --
targets=${*:-npy csv idx safetensors}
seed=${FUZZ_SEED:-$(date +%s)}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$root" -Dfuzz=true >/dev/null
fi
for t in $targets; do
  ninja -C "$build" "tests/fuzz/fuzz_$t" >/dev/null
done

failed=""
for t in $targets; do
  work=$root/fuzz-out/$t
  mkdir -p "$work/corpus" "$work/crashes"
  dirs="$work/corpus $root/tests/fuzz/seeds/$t"
  [ -d "$root/tests/fuzz/corpus/$t" ] && dirs="$dirs $root/tests/fuzz/corpus/$t"
  echo "fuzz_$t: ${secs}s, seed $seed"
  # shellcheck disable=SC2086  # dirs is a list
  if ! "$build/tests/fuzz/fuzz_$t" -seed="$seed" -max_total_time="$secs" \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$work/crashes/" -print_final_stats=1 \
      $dirs >"$work/log.txt" 2>&1; then
    echo "fuzz_$t: FAILED (seed $seed), see $work/log.txt:"
    grep -E "ERROR|SUMMARY|Test unit written" "$work/log.txt" | head -5
    failed="$failed $t"
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/log.txt" |
      tail -2 | sed "s/^/  /"
  fi
done
if [ -n "$failed" ]; then
  echo "crashed:$failed"
  exit 1
fi
echo "all targets ran ${secs}s without a crash (seed $seed)"
