#!/usr/bin/env bash
# bootstrap.sh [--test-tools] [BUILD_DIR]
#
# Installs what libmlp needs on Debian 12 (apt-get, as root or through
# sudo; only the missing packages) and builds libmlp into BUILD_DIR
# (default: build, release mode). With --test-tools it also installs the
# test and lint tools (valgrind, clang, clang-tidy, clang-format, cppcheck).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
want_test_tools=0
if [ "${1:-}" = "--test-tools" ]; then
  want_test_tools=1
  shift
fi
build=${1:-build}

packages=(meson ninja-build gcc g++ pkg-config binutils libopenblas-dev
  liblapacke-dev check libsleef-dev libcjson-dev zlib1g-dev scdoc
  dataset-fashion-mnist)
if [ "$want_test_tools" = 1 ]; then
  packages+=(valgrind clang clang-tidy clang-format cppcheck
    libclang-rt-14-dev python3 python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi

cd "$top"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
echo "bootstrap: libmlp built in $top/$build" >&2
