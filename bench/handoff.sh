#!/bin/bash
# handoff.sh - pre-start and post-stop of the real hookscript for a GPU + audio group, as
# ratios to a minimal C program doing only the required sysfs writes (and the VFIO open) on
# the same lab boot (targets: within 1.25x). Needs the lab (tests/lab; make demo sets it up).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
series=${BENCH_KERNEL:-6.1}
export LAB_LOGS=$top/build/bench
mkdir -p "$LAB_LOGS"
make -C "$top" -s all >/dev/null
"$top/tests/lab/fetch-kernel.sh" "$series"
"$top/tests/lab/mkinitrd.sh" "$series" "$top/build/lab/$series/initrd.img"
[ -f "$top/build/lab/disk.img" ] || mkfs.ext4 -q -F "$top/build/lab/disk.img" 8M
"$top/tests/lab/run.sh" -k "$series" -f pvh -s bench-handoff -n "$series/pvh/std" >/dev/null
log=$LAB_LOGS/${series}_pvh_std-bench-handoff.log
median() {
	tr -d '\r' <"$log" | sed -n "s/^  | BENCH $1 //p" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
pre=$(median hook-pre-start) post=$(median hook-post-stop)
minv=$(median min-to-vfio) minh=$(median min-to-host)
echo "kernel $series, TCG, medians in microseconds"
awk -v a="$pre" -v b="$minv" 'BEGIN {printf "pre-start:  hook %d us, minimal %d us, ratio %.2f (target <= 1.25)\n", a, b, a / b}'
awk -v a="$post" -v b="$minh" 'BEGIN {printf "post-stop:  hook %d us, minimal %d us, ratio %.2f (target <= 1.25)\n", a, b, a / b}'
