#!/bin/bash
# fetch-kernel.sh SERIES - download, unpack and prepare one kernel for the lab.
#
#   5.10  Debian 11's kernel (bullseye-security, the security archive)
#   6.1   Debian 12's kernel (bookworm)
#   6.12  Debian 13's kernel (trixie), the base of Proxmox VE 9
#   7     the newest 7.x from trixie-backports (split into linux-binary/-modules/-base)
#   pve   built from Debian's linux-source with Proxmox's framebuffer and VFIO options
#         (build-kernel.sh)
#
# The mirror is the one this machine's apt sources use (tests/lib/apt-mirror.sh; LAB_MIRROR and
# LAB_SECURITY_MIRROR override), through a private apt configuration under $LAB_CACHE, so the
# machine's own apt state is never touched. Cached: a second run downloads nothing. A kernel
# that cannot be fetched is an error naming the suite and the URI.
#
# Result: $LAB_CACHE/kernels/SERIES/{KVER,SOURCE,vmlinuz,vmlinux,config,modules/lib/modules/KVER}
set -euo pipefail
series=${1:?usage: fetch-kernel.sh 5.10|6.1|6.12|7|pve}
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
here=$(cd "$(dirname "$0")" && pwd)

case "$series" in
5.10) suite=bullseye-security; archive=security ;;
6.1)  suite=bookworm;          archive=main ;;
6.12) suite=trixie;            archive=main ;;
7)    suite=trixie-backports;  archive=main ;;
pve)  exec "$here/build-kernel.sh" ;;
*) echo "fetch-kernel: unknown kernel series '$series' (5.10, 6.1, 6.12, 7, pve)" >&2; exit 2 ;;
esac

out=$cache/kernels/$series
# A cache made from another suite (6.12 came from bookworm-backports before) is not this one.
if [ -f "$out/.done" ] && [ "$(cut -d' ' -f1 "$out/SOURCE" 2>/dev/null)" = "$suite" ]; then
	exit 0
fi
mirror=$("$here/../lib/apt-mirror.sh" "$archive")
. "$here/apt-private.sh"
apt_private "$suite" "$mirror"
fail() { echo "fetch-kernel: $series: $* ($suite at $mirror)" >&2; exit 1; }

# The image package for the series: the one linux-image-amd64 names (5.10, 6.1, 6.12), or the
# newest linux-image-7.*-amd64 of the suite (7).
if [ "$series" = 7 ]; then
	dep=$(apt-cache "${apt_opts[@]}" pkgnames linux-image-7. |
		grep -E '^linux-image-7\.[0-9]+\.[0-9]+\+[a-z0-9]+-amd64$' | sort -V | tail -n 1) || true
else
	dep=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | sort -V | tail -n 1)
fi
[ -n "$dep" ] || fail "no kernel image package"
kver=${dep#linux-image-}
# Up to 6.x the image package holds kernel and modules (prefer -unsigned: the same kernel,
# no shim tooling); from 7.x they are split.
if apt-cache "${apt_opts[@]}" show "linux-binary-$kver" >/dev/null 2>&1; then
	pkgs=("linux-binary-$kver" "linux-modules-$kver" "linux-base-$kver")
elif apt-cache "${apt_opts[@]}" show "$dep-unsigned" >/dev/null 2>&1; then
	pkgs=("$dep-unsigned")
else
	pkgs=("$dep")
fi
debdir=$cache/debs
mkdir -p "$debdir"
debs=()
for p in "${pkgs[@]}"; do
	v=$(apt-cache "${apt_opts[@]}" show "$p" | sed -n 's/^Version: //p' | sort -V | tail -n 1)
	f=$debdir/${p}_${v//:/%3a}_amd64.deb
	if [ ! -s "$f" ]; then
		echo "lab: downloading $p $v ($suite, $mirror)" >&2
		(cd "$debdir" && apt-get "${apt_opts[@]}" download "$p=$v" >/dev/null 2>&1) ||
			fail "cannot download $p=$v"
	fi
	[ -s "$f" ] || fail "download of $p=$v left no $f"
	debs+=("$f")
done

tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/kroot"
for d in "${debs[@]}"; do dpkg -x "$d" "$tmp/kroot"; done
# merged-/usr packages (6.12, 7.x) ship usr/lib/modules; older ones lib/modules.
moddir=$(find "$tmp/kroot" -maxdepth 3 -type d -path '*lib/modules' | head -n 1)
# The image and its config: /boot (up to 6.x) or beside the modules (7.x).
vmlinuz= config=
for f in "$tmp/kroot/boot/vmlinuz-$kver" "$moddir/$kver/vmlinuz"; do [ -f "$f" ] && vmlinuz=$f; done
for f in "$tmp/kroot/boot/config-$kver" "$moddir/$kver/config"; do [ -f "$f" ] && config=$f; done
[ -n "$vmlinuz" ] || fail "no vmlinuz in ${pkgs[*]}"
[ -n "$config" ] || fail "no kernel config in ${pkgs[*]}"
mv "$vmlinuz" "$tmp/vmlinuz"
cp "$config" "$tmp/config"
mkdir -p "$tmp/modules/lib"
mv "$moddir" "$tmp/modules/lib/modules"
depmod -b "$tmp/modules" "$kver"
"$here/extract-vmlinux.sh" "$tmp/vmlinuz" >"$tmp/vmlinux"
echo "$kver" >"$tmp/KVER"
echo "$suite ${pkgs[*]}" >"$tmp/SOURCE"
rm -rf "$tmp/kroot"
rm -rf "$out"
mv "$tmp" "$out"
touch "$out/.done"
echo "lab: kernel $series = $kver ready in $out" >&2
