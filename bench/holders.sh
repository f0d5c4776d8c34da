#!/bin/bash
# holders.sh - the holder scan (which processes hold a GPU's /dev nodes) on fake /proc trees of
# 1k, 4k and 16k processes with 50 fds each: the time per 1k processes at each size and the
# growth from 4k to 16k (target: <= 4.5x, i.e. linear). Runs on this machine below a temporary
# directory (in /dev/shm when there is one: 800k symlinks); no real /proc is read.
# BENCH_LIBCOMMON=PATH/libcommon.a measures another build (e.g. an older tree's) the same way.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
make -C "$top" -s all >/dev/null
shm=
[ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
tmp=$(mktemp -d ${shm:+-p $shm})
trap 'rm -rf "$tmp"' EXIT
pkgs="libpci libkmod inih"
cc -O2 -I"$top/common" -I"$top/common/base" -o "$tmp/holders" "$top/bench/holders.c" "${BENCH_LIBCOMMON:-$top/build/libcommon.a}" \
	$(pkg-config --libs $pkgs) -pthread
mkdir "$tmp/root"
"$tmp/holders" "$tmp/root" 1000 4000 16000 >"$tmp/out"
awk '{ t[NR] = $2; printf "%6d processes x 50 fds: %8.0f us, %6.0f us per 1k processes\n", $1, $2, $2 / ($1 / 1000) }
END { printf "growth 4k -> 16k: %.2fx (target <= 4.5)\n", t[3] / t[2] }' "$tmp/out"
