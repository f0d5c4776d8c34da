#!/bin/bash
# matrix.sh - run the lab matrix (tests/lab/matrix.txt, or the file in LAB_MATRIX) on every
# kernel in LAB_KERNELS (default "5.10 6.1 6.12"), LAB_JOBS guests at a time (default 2).
# Fetches and prepares kernels (cached), builds one initramfs per kernel, prints one PASS/FAIL
# line per scenario and exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kernels=${LAB_KERNELS:-5.10 6.1 6.12}
jobs=${LAB_JOBS:-2}
matrix=${LAB_MATRIX:-$here/matrix.txt}
export LAB_LOGS=${LAB_LOGS:-$top/build/lab/logs}
rm -rf "$LAB_LOGS"
mkdir -p "$top/build/lab" "$LAB_LOGS"
[ -f "$top/build/lab/disk.img" ] || mkfs.ext4 -q -F "$top/build/lab/disk.img" 8M
for k in $kernels; do
	"$here/fetch-kernel.sh" "$k" || { echo "FAIL lab/$k/fetch"; exit 1; }
	"$here/mkinitrd.sh" "$k" "$top/build/lab/$k/initrd.img" || { echo "FAIL lab/$k/initrd"; exit 1; }
done
jobfile=$(mktemp)
trap 'rm -f "$jobfile"' EXIT
for k in $kernels; do
	grep -v '^[[:space:]]*\(#\|$\)' "$matrix" | while read -r fw topo scen; do
		echo "$k $fw $topo $scen"
	done
done >"$jobfile"
# Longest boots (OVMF) first keeps both workers busy to the end.
sort -k2,2r "$jobfile" | xargs -P "$jobs" -L 1 sh -c '"$0"/run.sh -k "$1" -f "$2" -t "$3" -s "$4"' "$here"
