#!/usr/bin/env bash
# lint.sh BUILD_DIR: fails on unformatted C, cppcheck findings, or
# clang-tidy findings (the checks in .clang-tidy) in lib/, include/, tools/,
# bench/ and examples/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
cd "$top"
mapfile -t sources < <(git ls-files 'lib/*.[ch]' 'include/*.h' 'tools/*.[ch]' \
  'bench/*.[ch]' 'examples/*.c')
mapfile -t c_files < <(printf '%s\n' "${sources[@]}" | grep '\.c$' |
  grep -v '^bench/peers/')

echo "clang-format: ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"

# invalidPointerCast: the library keeps arrays of either dtype behind
# char * and void * and casts them back to the type they were made as.
echo "cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
  --suppress=invalidPointerCast --inline-suppr --std=c11 -D__x86_64__ -D__GNUC__ -DMLP_HAVE_AVX2 \
  -DMLP_HAVE_AVX512 --suppress=missingIncludeSystem \
  -I include -I lib "${c_files[@]}"

echo "clang-tidy"
clang-tidy --quiet -p "$build" "${c_files[@]}" 2>/dev/null |
  tee /tmp/clang-tidy.$$ >/dev/null || true
if grep -E ': (warning|error):' /tmp/clang-tidy.$$; then
  rm -f /tmp/clang-tidy.$$
  echo "lint: clang-tidy findings above"
  exit 1
fi
rm -f /tmp/clang-tidy.$$
echo "lint: clean"
