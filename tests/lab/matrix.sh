#!/bin/bash
# matrix.sh - run the lab matrix (tests/lab/matrix.txt, or the file in LAB_MATRIX) on every
# kernel in LAB_KERNELS (default "5.10 6.1 6.12 7 pve"), LAB_JOBS guests at a time (default 2).
#
# Each matrix line has a scope: "full" lines run on the kernels in LAB_FULL_KERNELS (default
# "6.12 pve": Debian 13's kernel, the base of Proxmox VE 9, and the Proxmox-configured one),
# "smoke" lines on every kernel, and a comma-separated list of series (e.g. "pve") on those.
# Fetches or builds kernels (cached), builds one initramfs per kernel, prints one PASS/FAIL
# line per scenario and exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kernels=${LAB_KERNELS:-5.10 6.1 6.12 7 pve}
full=" ${LAB_FULL_KERNELS:-6.12 pve} "
jobs=${LAB_JOBS:-2}
matrix=${LAB_MATRIX:-$here/matrix.txt}
export LAB_LOGS=${LAB_LOGS:-$top/build/lab/logs}
rm -rf "$LAB_LOGS"
mkdir -p "$top/build/lab" "$LAB_LOGS"
[ -f "$top/build/lab/disk.img" ] || mkfs.ext4 -q -F "$top/build/lab/disk.img" 8M
ok_kernels=
for k in $kernels; do
	start=$(date +%s)
	if ! err=$("$here/fetch-kernel.sh" "$k" 2>&1 >/dev/null); then
		echo "FAIL lab/$k/fetch: $(echo "$err" | tail -n 3 | tr '\n' ' ')"
		continue
	fi
	[ -n "$err" ] && echo "$err" >&2 && echo "lab: kernel $k ready in $(($(date +%s) - start))s" >&2
	"$here/mkinitrd.sh" "$k" "$top/build/lab/$k/initrd.img" || { echo "FAIL lab/$k/initrd"; continue; }
	# The image with QEMU inside, for the qemu-* scenarios (on the full kernels only).
	case "$full" in *" $k "*)
		"$here/mkinitrd.sh" "$k" "$top/build/lab/$k/initrd-qemu.img" qemu ||
			{ echo "FAIL lab/$k/initrd-qemu"; continue; } ;;
	esac
	ok_kernels="$ok_kernels $k"
done
jobfile=$(mktemp)
trap 'rm -f "$jobfile"' EXIT
for k in $ok_kernels; do
	grep -v '^[[:space:]]*\(#\|$\)' "$matrix" | while read -r scope fw topo scen append; do
		case "$scope" in
		smoke) ;;
		full) case "$full" in *" $k "*) ;; *) continue ;; esac ;;
		*) case ",$scope," in *",$k,"*) ;; *) continue ;; esac ;;
		esac
		echo "$k $fw $topo $scen${append:+ -a '$append'}"
	done
done >"$jobfile"
# Longest boots (OVMF) first keeps both workers busy to the end.
sort -k2,2r "$jobfile" | xargs -P "$jobs" -L 1 sh -c '"$0"/run.sh -k "$1" -f "$2" -t "$3" -s "$4" "$5" "$6"' "$here"
rc=$?
# A kernel that could not be fetched or built has failed above; the run fails with it.
[ "$(echo $ok_kernels)" = "$(echo $kernels)" ] || rc=1
exit $rc
