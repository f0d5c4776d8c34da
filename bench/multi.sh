#!/bin/bash
# multi.sh - pre-start and post-stop of the real hookscript for a VM with four cards (each a
# display with its HDMI audio in its own IOMMU group: the lab's quad topology), every function
# on the lab fault driver whose remove() and probe() take 300 ms, as ratios to the same VM
# phases with one card (target: <= 1.3; one group after the other would be about 4). Needs the
# lab and the fault driver (tests/lab/testdrv: kernels 6.1 and pve). LAB_SMP=N gives the guest N
# vCPUs (default 1).
set -euo pipefail
. "$(dirname "$0")/lab-prepare.sh"
"$top/tests/lab/run.sh" -k "$series" -f pvh -t quad -s bench-multi -n "$series/pvh/quad" >/dev/null
log=$LAB_LOGS/${series}_pvh_quad-bench-multi.log
median() {
	tr -d '\r' <"$log" | sed -n "s/^  | BENCH $1 //p" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
p1=$(median one-pre-start) p4=$(median four-pre-start)
s1=$(median one-post-stop) s4=$(median four-post-stop)
echo "kernel $series, TCG, remove() and probe() 300 ms each, medians in microseconds"
awk -v a="$p4" -v b="$p1" 'BEGIN {printf "pre-start:  four cards %d us, one card %d us, ratio %.2f (target <= 1.3)\n", a, b, a / b}'
awk -v a="$s4" -v b="$s1" 'BEGIN {printf "post-stop:  four cards %d us, one card %d us, ratio %.2f (target <= 1.3)\n", a, b, a / b}'
d1=$(median one-dry) d4=$(median four-dry)
awk -v a="$d4" -v b="$d1" 'BEGIN {printf "not in parallel (config, collect, checks, plan: a dry run): four cards %d us, one card %d us\n", a, b}'
