#!/usr/bin/env bash
# run-all.sh: the whole test suite, from a clean clone on Debian 12.
#
#   1. installs the packages (tools/bootstrap.sh --test-tools);
#   2. the unit tests (Check), the CLI and install tests in a default build;
#   3. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. the core and part suites under valgrind (leaks are errors);
#   5. lint: clang-format, cppcheck, clang-tidy (tests/lint.sh);
#   6. a short time-boxed fuzz run, when the fuzz targets exist.
# Stops at the first failing step.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "setup"
tools/bootstrap.sh --test-tools build-test

step "unit tests (default build)"
meson test -C build-test --print-errorlogs --num-processes 2

step "unit tests under ASan + UBSan"
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized >/dev/null
fi
ninja -C build-asan >/dev/null
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2 \
  --no-suite install

step "unit tests under valgrind"
MLP_TEST_QUICK=1 meson test -C build-test --setup valgrind \
  --print-errorlogs --num-processes 2 --no-suite install --no-suite cli

step "lint"
bash tests/lint.sh build-test

if [ -x tests/fuzz/run.sh ]; then
  step "fuzz (short)"
  tests/fuzz/run.sh 20
fi

step "all test steps passed"
