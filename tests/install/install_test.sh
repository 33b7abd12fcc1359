#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR
# Installs BUILD_DIR into a temporary root, then builds and runs
# examples/simple.c with `cc ... $(pkg-config --cflags --libs mlp)` against
# it, and compiles include/mlp.h as strict C99 and as C++.
set -eu
build=$1
src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT INT TERM

meson install -C "$build" --no-rebuild --destdir "$root" --quiet \
  >"$root/install.log" 2>&1 || { cat "$root/install.log"; exit 1; }

pcfile=$(find "$root" -name mlp.pc | head -n 1)
[ -n "$pcfile" ] || { echo "FAIL: mlp.pc was not installed"; exit 1; }
header=$(find "$root" -name mlp.h | head -n 1)
[ -n "$header" ] || { echo "FAIL: mlp.h was not installed"; exit 1; }
lib=$(find "$root" -name 'libmlp.so.0' | head -n 1)
[ -n "$lib" ] || { echo "FAIL: libmlp.so.0 (the soname link) is missing"; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libmlp.so.0" ] || { echo "FAIL: soname is '$soname'"; exit 1; }

# Only mlp_ symbols are exported.
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
      grep -v '^mlp_' || true)
[ -z "$bad" ] || { echo "FAIL: symbols outside mlp_ exported:"; echo "$bad"; exit 1; }
if nm -D --defined-only "$lib" | grep -q ' mlp__'; then
  echo "FAIL: internal mlp__ symbols are exported"; exit 1
fi

export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_PATH="$(dirname "$pcfile")"
flags=$(pkg-config --cflags --libs mlp)
cc -std=c99 -Wall -Wextra -Werror "$src/examples/simple.c" $flags \
  -o "$root/simple"
LD_LIBRARY_PATH="$(dirname "$lib")" "$root/simple" >"$root/out.txt"
grep -q "cross-entropy (mean over the batch) = " "$root/out.txt" ||
  { echo "FAIL: example output:"; cat "$root/out.txt"; exit 1; }

# The header alone: strict C99 and C++.
printf '#include <mlp.h>\nint main(void) { return mlp_version_number() > 0 ? 0 : 1; }\n' \
  >"$root/h.c"
cc -std=c99 -pedantic-errors -Wall -Wextra -Werror -c "$root/h.c" \
  $(pkg-config --cflags mlp) -o "$root/h.o"
if command -v c++ >/dev/null 2>&1; then
  cp "$root/h.c" "$root/h.cpp"
  c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -c "$root/h.cpp" \
    $(pkg-config --cflags mlp) -o "$root/hpp.o"
fi
echo "install test: OK ($(cat "$root/out.txt" | tail -n 1))"
