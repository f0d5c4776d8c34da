#!/bin/bash
# fetch-kernel.sh SERIES - download, unpack and prepare one Debian kernel for the lab.
#
# SERIES is 5.10, 6.1 or 6.12. The kernel comes from Debian's archive through a private apt
# configuration (its own sources, lists and cache under $LAB_CACHE), so the machine's own apt
# sources and state are never touched. Everything is cached: a second run downloads nothing.
#
# Result: $LAB_CACHE/kernels/SERIES/{KVER,vmlinuz,vmlinux,modules/lib/modules/KVER}
set -euo pipefail
series=${1:?usage: fetch-kernel.sh 5.10|6.1|6.12}
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
here=$(cd "$(dirname "$0")" && pwd)

case "$series" in
5.10) suite=bullseye-security; base=http://deb.debian.org/debian-security ;;
6.1)  suite=bookworm;          base=http://deb.debian.org/debian ;;
6.12) suite=bookworm-backports; base=http://deb.debian.org/debian ;;
*) echo "fetch-kernel: unknown kernel series '$series'" >&2; exit 2 ;;
esac

out=$cache/kernels/$series
if [ -f "$out/.done" ]; then
	exit 0
fi

apt_root=$cache/apt/$suite
mkdir -p "$apt_root/etc/apt.conf.d" "$apt_root/etc/preferences.d" "$apt_root/etc/sources.list.d" \
	"$apt_root/state/lists/partial" "$apt_root/cache/archives/partial" "$cache/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $base $suite main" \
	>"$apt_root/etc/sources.list"
apt_opts=(-o "Dir::Etc=$apt_root/etc" -o "Dir::State=$apt_root/state"
	-o "Dir::Cache=$apt_root/cache" -o "Dir::State::status=/dev/null"
	-o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -q)

apt-get "${apt_opts[@]}" update >/dev/null
# The metapackage names the current ABI; take its linux-image-* dependency (the signed and the
# unsigned image hold the same kernel and modules; prefer unsigned, it needs no shim tooling).
dep=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$dep" ] || { echo "fetch-kernel: no linux-image-amd64 in $suite" >&2; exit 1; }
pkg=$dep
if apt-cache "${apt_opts[@]}" show "$dep-unsigned" >/dev/null 2>&1; then
	pkg=$dep-unsigned
fi
# bookworm-backports also has the metapackage, but only -t picks it over nothing: it is the only
# source here, so the plain name resolves to the backported version.
kver=${dep#linux-image-}
debdir=$cache/debs
if ! ls "$debdir/${pkg}_"*.deb >/dev/null 2>&1; then
	echo "lab: downloading $pkg ($suite)" >&2
	(cd "$debdir" && apt-get "${apt_opts[@]}" download "$pkg" 2>&1 | grep -v unsandboxed >&2 || true)
fi
deb=$(ls "$debdir/${pkg}_"*.deb | tail -n 1)

tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/kroot"
dpkg -x "$deb" "$tmp/kroot"
# merged-/usr packages (6.12 bpo) ship usr/lib/modules; older ones lib/modules.
moddir=$(find "$tmp/kroot" -maxdepth 3 -type d -path '*lib/modules' | head -n 1)
mkdir -p "$tmp/modules/lib"
mv "$moddir" "$tmp/modules/lib/modules"
depmod -b "$tmp/modules" "$kver"
cp "$tmp/kroot/boot/vmlinuz-$kver" "$tmp/vmlinuz"
"$here/extract-vmlinux.sh" "$tmp/vmlinuz" >"$tmp/vmlinux"
echo "$kver" >"$tmp/KVER"
rm -rf "$tmp/kroot"
rm -rf "$out"
mv "$tmp" "$out"
touch "$out/.done"
echo "lab: kernel $series = $kver ready in $out" >&2
