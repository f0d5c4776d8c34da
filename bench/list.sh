#!/bin/bash
# bench/list.sh [BUILD_DIR] - time `pve-gpu-passthrough list --all` against `lspci -k` on the
# same fake sysfs tree (1024 and 4096 PCI functions) and print the ratio ours/lspci for each.
# A ratio, not an assertion: <= 1 means we are no slower than lspci. Needs build/fakesys and
# lspci (pciutils). Writes only below a temporary directory.
set -euo pipefail
build=${1:-build}
cli=$build/pve-gpu-passthrough
fakesys=$build/fakesys
runs=${RUNS:-7}
for f in "$cli" "$fakesys"; do
	[ -x "$f" ] || { echo "bench: $f missing (run make)" >&2; exit 1; }
done
command -v lspci >/dev/null || { echo "bench: lspci missing (apt-get install pciutils)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/pgp-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# N functions: 8 per slot, 32 slots per bus; one IOMMU group per slot; every 4th slot a GPU
# with its HDMI audio function, the rest NICs, NVMe and USB controllers with host drivers.
spec() {
	local n=$1 i bus slot fn grp class vendor device drv
	for ((i = 0; i < n; i++)); do
		bus=$((i / 256)); slot=$(((i / 8) % 32)); fn=$((i % 8)); grp=$((i / 8))
		case $((slot % 4)):$fn in
		0:0) class=030000 vendor=10de device=1b80 drv=nouveau ;;
		0:1) class=040300 vendor=10de device=10f0 drv=snd_hda_intel ;;
		1:*) class=020000 vendor=8086 device=1521 drv=igb ;;
		2:*) class=010802 vendor=144d device=a808 drv=nvme ;;
		*) class=0c0330 vendor=1022 device=149c drv=xhci_hcd ;;
		esac
		printf 'pci 0000:%02x:%02x.%x vendor=%s device=%s class=%s subvendor=1043 subdevice=8674 driver=%s group=%d\n' \
			"$bus" "$slot" "$fn" "$vendor" "$device" "$class" "$drv" "$grp"
	done
}

# Wall-clock microseconds of one run of a command.
time_us() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

times=()
for n in 1024 4096; do
	root=$tmp/root$n
	mkdir -p "$root/usr/share/misc"
	spec "$n" >"$tmp/spec$n"
	"$fakesys" "$root" "$tmp/spec$n"
	# The same names database for both (ours reads it below the root).
	cp /usr/share/misc/pci.ids "$root/usr/share/misc/pci.ids"
	# Alternate the two and keep the best of each, so both meet the same machine load.
	ours= theirs=
	for ((i = 0; i < runs; i++)); do
		a=$(time_us "$cli" --sysroot "$root" list --all)
		b=$(time_us lspci -k -A linux-sysfs -O "sysfs.path=$root/sys/bus/pci")
		if [ -z "$ours" ] || [ "$a" -lt "$ours" ]; then ours=$a; fi
		if [ -z "$theirs" ] || [ "$b" -lt "$theirs" ]; then theirs=$b; fi
	done
	awk -v n="$n" -v a="$ours" -v b="$theirs" 'BEGIN {
		printf "list --all, %d functions: %.1f ms, lspci -k: %.1f ms, ratio %.2f\n",
			n, a / 1000, b / 1000, a / b }'
	times+=("$ours")
done
# Linear growth means about 4x for 4x the functions (less, with the fixed start-up cost).
awk -v a="${times[0]}" -v b="${times[1]}" 'BEGIN { printf "growth 1024 -> 4096 functions: x%.1f\n", b / a }'
