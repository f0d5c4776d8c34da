#!/bin/bash
# noop.sh - the hookscript for a VM without passthrough devices, as a ratio to starting
# /bin/true (target: within 3x). Runs on this machine against a fake root (no /sys writes).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
make -C "$top" -s all >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/spawn" "$top/bench/spawn.c"
mkdir -p "$tmp/root/etc/pve/qemu-server"
printf 'boot: order=scsi0\ncores: 4\nmemory: 8192\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\nscsi0: local-lvm:vm-100-disk-0,size=32G\nostype: l26\n' \
	>"$tmp/root/etc/pve/qemu-server/100.conf"
n=${BENCH_RUNS:-3000}
t=$("$tmp/spawn" "$n" /bin/true)
h=$("$tmp/spawn" "$n" "$top/build/pve-gpu-passthrough-hook" --sysroot "$tmp/root" 100 pre-start)
p=$("$tmp/spawn" "$n" "$top/build/pve-gpu-passthrough-hook" --sysroot "$tmp/root" 100 post-stop)
awk -v t="$t" -v h="$h" -v p="$p" 'BEGIN {
	printf "/bin/true %.0f us; hook pre-start (no devices) %.0f us, ratio %.2f; post-stop (nothing recorded) %.0f us, ratio %.2f (target <= 3)\n", t, h, h / t, p, p / t }'
