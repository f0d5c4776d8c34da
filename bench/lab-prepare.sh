# lab-prepare.sh - sourced by the lab benchmarks (handoff.sh, multi.sh): builds the project,
# fetches the kernel BENCH_KERNEL (default 6.1), builds its initramfs and the lab disk; sets
# top, series and LAB_LOGS (build/bench).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
series=${BENCH_KERNEL:-6.1}
export LAB_LOGS=$top/build/bench
mkdir -p "$LAB_LOGS"
make -C "$top" -s all >/dev/null
"$top/tests/lab/fetch-kernel.sh" "$series"
"$top/tests/lab/mkinitrd.sh" "$series" "$top/build/lab/$series/initrd.img"
[ -f "$top/build/lab/disk.img" ] || mkfs.ext4 -q -F "$top/build/lab/disk.img" 8M
