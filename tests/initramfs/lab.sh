#!/bin/bash
# lab.sh IMGDIR - boot the real initramfs images that run.sh built (IMGDIR/<kernel>-<config>.img,
# made with build-image.sh ... 1) in the QEMU lab, on every kernel in EARLY_KERNELS and firmware
# in EARLY_FW (all of them on EARLY_FULL_KERNELS, EARLY_SMOKE on the others), LAB_JOBS guests
# at a time. Each boot runs the matching tests/lab/scenarios/early-*.sh
# from the image's own init-premount script and prints one "PASS lab/early/..." or
# "FAIL lab/early/..." line (tests/lab/run.sh); exits non-zero when any failed.
#
#   config   INI [early]                              scenario
#   addr     addresses = 0000:00:02.0                  early-addr
#   ids      ids = 1234:1111                           early-ids
#   group    addresses = 0000:00:02.0, 0000:00:02.1    early-group
#   invalid  an invalid ids entry                      early-invalid
#   rebind   like group, host drivers bound first      early-rebind (EARLY_REBIND_FW: seabios)
#   addr-rp  addresses = 0000:01:00.0 (rp topology)     early-addr   (full kernels)
#   addr-switch  addresses = 0000:03:00.0 (switch)      early-addr   (full kernels)
# and, on the full kernels, the ids image in the rp topology too: the scenarios find the cards
# by their ids (guest/lib.sh), so the same scenario runs in every topology.
set -uo pipefail
imgdir=${1:?usage: lab.sh IMGDIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-$top/build}
kernels=${EARLY_KERNELS:-5.10 6.1 6.12 7 pve}
# Every firmware and config on the kernels in EARLY_FULL_KERNELS (Debian 13's and the
# Proxmox-configured one); a smoke set (FIRMWARE:CONFIG...) on the others.
full=${EARLY_FULL_KERNELS:-6.12 pve}
smoke=${EARLY_SMOKE:-ovmf:addr seabios:ids}
fws=${EARLY_FW:-seabios ovmf}
configs=${EARLY_CONFIGS:-addr ids group invalid}
jobs=${LAB_JOBS:-2}
# Our own log directory: the lab matrix empties build/lab/logs when it starts.
export LAB_LOGS=${EARLY_LAB_LOGS:-$build/initramfs/logs}
mkdir -p "$LAB_LOGS" "$top/build/lab"
disk=$top/build/lab/disk.img
if [ ! -f "$disk" ]; then
	if ! mkfs.ext4 -q -F "$disk.$$" 8M || ! mv "$disk.$$" "$disk"; then
		echo "FAIL lab/early/disk"
		exit 1
	fi
fi

joblist=$(mktemp)
trap 'rm -f "$joblist"' EXIT
for k in $kernels; do
	case " $full " in
	*" $k "*)
		for fw in $fws; do
			for c in $configs; do
				echo "$fw $k $c"
			done
		done
		for fw in ${EARLY_REBIND_FW-seabios}; do
			echo "$fw $k rebind"
		done
		echo "seabios $k addr-rp rp"
		echo "ovmf $k addr-switch switch"
		echo "ovmf $k ids rp"
		;;
	*) for fc in $smoke; do echo "${fc%%:*} $k ${fc#*:}"; done ;;
	esac
done | sort -r >"$joblist" # OVMF (the longest boots) first keeps both workers busy

rc=0
export IMGDIR=$imgdir LABDIR=$top/tests/lab
# shellcheck disable=SC2016
xargs -P "$jobs" -L 1 sh -c '
	fw=$1 k=$2 c=$3 topo=${4:-std}
	img=$IMGDIR/$k-$c.img
	s=early-${c%%-*}
	if [ ! -s "$img" ]; then
		echo "FAIL lab/early/$k/$fw/$s: no image (its build failed)"
		exit 1
	fi
	name=early/$k/$fw
	[ "$topo" = std ] || name=$name/$topo
	exec "$LABDIR"/run.sh -k "$k" -f "$fw" -t "$topo" -s "$s" -i "$img" -n "$name" -T 180
' sh <"$joblist" 2>&1 || rc=1
exit $rc
