#!/bin/bash
# build.sh SERIES [OUT] - build the lab fault driver (labtest.ko, see labtest.c) for one cached
# lab kernel and print the module's path. OUT defaults to build/lab/SERIES/testdrv. Cached: a
# module newer than its sources is not rebuilt.
#
#   6.1  against Debian 12's linux-headers-KVER, linux-headers-KVER-common and linux-kbuild-6.1
#        for the exact lab kernel, fetched with apt-get download through the lab's private apt
#        configuration (tests/lab/apt-private.sh) and unpacked under $LAB_CACHE/headers/6.1:
#        nothing is installed on the machine. The compiler is the kernel's own (gcc-12, Debian
#        12's), so this needs a Debian 12 machine.
#   pve  against the configured tree build-kernel.sh keeps ($LAB_CACHE/kernels/pve/build).
#
# Other series exit 3 with one line saying why: 5.10 was built with gcc-10 (not in Debian 12),
# 6.12 and 7.x with Debian 13's gcc-14, and their linux-kbuild tools are linked against Debian
# 13's glibc; building for those needs a Debian 13 root (as tests/deb has).
set -euo pipefail
series=${1:?usage: build.sh 6.1|pve [OUT]}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
out=${2:-${BUILD:-$top/build}/lab/$series/testdrv}
kdir=$cache/kernels/$series
fail() { echo "testdrv: $series: $*" >&2; exit 1; }
[ -f "$kdir/KVER" ] || fail "no lab kernel (run tests/lab/fetch-kernel.sh $series first)"
kver=$(cat "$kdir/KVER")

case "$series" in
pve) tree=$kdir/build ;;
6.1)
	hroot=$cache/headers/$series
	if [ "$(cat "$hroot/.done" 2>/dev/null)" != "$kver" ]; then
		mirror=$("$here/../../lib/apt-mirror.sh" main)
		# shellcheck source=../apt-private.sh
		. "$here/../apt-private.sh"
		apt_private bookworm "$mirror"
		pkg=linux-headers-$kver
		deps=$(apt-cache "${apt_opts[@]}" depends "$pkg" |
			sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p')
		[ -n "$deps" ] || fail "no $pkg in bookworm at $mirror"
		debdir=$cache/debs
		mkdir -p "$debdir"
		rm -rf "$hroot.tmp"
		mkdir -p "$hroot.tmp"
		for p in "$pkg" $deps; do
			v=$(apt-cache "${apt_opts[@]}" show "$p" | sed -n 's/^Version: //p' | sort -V | tail -n 1)
			f=$(ls "$debdir/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -n 1) || true
			if [ -z "$f" ]; then
				echo "testdrv: downloading $p $v (bookworm, $mirror)" >&2
				(cd "$debdir" && apt-get "${apt_opts[@]}" download "$p=$v" >/dev/null 2>&1) ||
					fail "cannot download $p=$v"
				f=$(ls "$debdir/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -n 1) || true
			fi
			[ -n "$f" ] || fail "download of $p=$v left no .deb in $debdir"
			dpkg -x "$f" "$hroot.tmp"
		done
		# The flavour's Makefile includes the common tree by its installed path; the
		# scripts/tools links are relative and hold inside the private root.
		sed -i "s|^include /usr/src/|include $hroot/usr/src/|" \
			"$hroot.tmp/usr/src/linux-headers-$kver/Makefile"
		echo "$kver" >"$hroot.tmp/.done"
		rm -rf "$hroot"
		mv "$hroot.tmp" "$hroot"
	fi
	tree=$hroot/usr/src/linux-headers-$kver
	command -v gcc-12 >/dev/null || fail "the 6.1 kernel's compiler gcc-12 is not installed"
	;;
5.10) echo "testdrv: 5.10: not built (its compiler, gcc-10, is not in Debian 12)" >&2; exit 3 ;;
6.12|7)
	echo "testdrv: $series: not built (Debian 13's gcc-14 and kbuild tools need a Debian 13 root)" >&2
	exit 3 ;;
*) fail "unknown series (6.1, pve)" ;;
esac
[ -f "$tree/Module.symvers" ] || fail "no Module.symvers in $tree"

ko=$out/labtest.ko
if [ -f "$ko" ] && [ "$ko" -nt "$here/labtest.c" ] && [ "$ko" -nt "$here/Kbuild" ] &&
	[ "$ko" -nt "$tree/Module.symvers" ]; then
	echo "$ko"
	exit 0
fi
# Kbuild writes its objects beside the sources: build in a copy, keep the source tree clean.
rm -rf "$out"
mkdir -p "$out"
cp "$here/labtest.c" "$here/Kbuild" "$out/"
make -s -C "$tree" M="$out" modules >"$out/build.log" 2>&1 || {
	tail -n 20 "$out/build.log" >&2
	fail "module build failed (log: $out/build.log)"
}
[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver" ] || fail "$ko is not for $kver"
echo "$ko"
