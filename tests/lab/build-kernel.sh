#!/bin/bash
# build-kernel.sh - build the lab's Proxmox-configured kernel (series "pve") from Debian's
# linux-source: the newest 7.x from trixie-backports (LAB_PVE_SOURCE=6.12 takes linux-source-6.12
# from trixie instead), configured as x86_64_defconfig + kvm_guest.config + pve-kernel.config.
#
# Cached under $LAB_CACHE/kernels/pve, keyed by the source package's version and the config
# fragment: a later run with the same key builds nothing. The result has the same layout as
# fetch-kernel.sh's (KVER, vmlinuz, vmlinux, modules/lib/modules/KVER), plus config (the
# .config) and build/ (the configured tree with Module.symvers, for out-of-tree modules:
# make -C "$LAB_CACHE/kernels/pve/build" M=...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
frag=$here/pve-kernel.config
out=$cache/kernels/pve
jobs=${LAB_BUILD_JOBS:-$(nproc)}

case "${LAB_PVE_SOURCE:-7}" in
7) suite=trixie-backports; srcpkg=linux-source ;;
6.12) suite=trixie; srcpkg=linux-source-6.12 ;;
*) echo "build-kernel: LAB_PVE_SOURCE is 7 or 6.12" >&2; exit 2 ;;
esac
mirror=$("$here/../lib/apt-mirror.sh" main)
. "$here/apt-private.sh"
apt_private "$suite" "$mirror"

# The source package: linux-source (7.x) is a metapackage naming linux-source-7.N.
ver=$(apt-cache "${apt_opts[@]}" show "$srcpkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$ver" ] || { echo "build-kernel: no $srcpkg in $suite at $mirror" >&2; exit 1; }
if [ "$srcpkg" = linux-source ]; then
	srcpkg=$(apt-cache "${apt_opts[@]}" show "linux-source=$ver" |
		sed -n 's/^Depends:.*\(linux-source-[0-9.]*\) .*/\1/p' | head -n 1)
fi
key=$(printf '%s %s\n' "$srcpkg" "$ver" | cat - "$frag" | sha256sum | cut -c1-16)
if [ -f "$out/.done" ] && [ "$(cat "$out/.done")" = "$key" ]; then
	exit 0
fi

debdir=$cache/debs
mkdir -p "$debdir"
if ! ls "$debdir/${srcpkg}_${ver//:/%3a}_all.deb" >/dev/null 2>&1; then
	echo "lab: downloading $srcpkg $ver ($suite, $mirror)" >&2
	(cd "$debdir" && apt-get "${apt_opts[@]}" download "$srcpkg=$ver" 2>&1 | grep -v unsandboxed >&2) ||
		{ echo "build-kernel: cannot download $srcpkg=$ver from $suite at $mirror" >&2; exit 1; }
fi
deb=$debdir/${srcpkg}_${ver//:/%3a}_all.deb

tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/src"
start=$(date +%s)
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
	xz -dc -T0 | tar -x -C "$tmp/src" --strip-components=1
src=$tmp/src
echo "lab: building the pve kernel from $srcpkg $ver with $jobs jobs" >&2
make -C "$src" -s x86_64_defconfig >/dev/null
(cd "$src" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config \
	kernel/configs/kvm_guest.config "$frag" >/dev/null)
make -C "$src" -s LOCALVERSION=-lab-pve olddefconfig >/dev/null
# Every option of the fragment must have taken: a dependency Kconfig dropped silently would
# make a lab that no longer tests what it claims.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	opt=${want#\# }; opt=${opt%%[= ]*}
	if [ "${want:0:1}" = "#" ]; then
		grep -q "^$opt=" "$src/.config" && { echo "build-kernel: $opt is set, wanted off" >&2; bad=1; }
	else
		grep -qx "$want" "$src/.config" || {
			echo "build-kernel: wanted $want, got: $(grep "^$opt=\|^# $opt " "$src/.config" || echo nothing)" >&2
			bad=1
		}
	fi
done <"$frag"
[ "$bad" = 0 ] || exit 1
nice make -C "$src" -s -j"$jobs" LOCALVERSION=-lab-pve bzImage modules >"$tmp/build.log" 2>&1 ||
	{ tail -n 30 "$tmp/build.log" >&2; exit 1; }
kver=$(make -C "$src" -s LOCALVERSION=-lab-pve kernelrelease)
make -C "$src" -s LOCALVERSION=-lab-pve INSTALL_MOD_PATH="$tmp/modules" modules_install >/dev/null
rm -f "$tmp/modules/lib/modules/$kver/build" "$tmp/modules/lib/modules/$kver/source"
depmod -b "$tmp/modules" "$kver"
cp "$src/arch/x86/boot/bzImage" "$tmp/vmlinuz"
cp "$src/vmlinux" "$tmp/vmlinux"
cp "$src/.config" "$tmp/config"
echo "$kver" >"$tmp/KVER"
echo "$suite $srcpkg $ver" >"$tmp/SOURCE"
# What an out-of-tree module needs: the configured tree with its generated headers and
# Module.symvers. Object files of the kernel itself are not needed; drop them to save space.
find "$src" -name '*.o' -delete
mv "$src" "$tmp/build"
ln -s ../../../build "$tmp/modules/lib/modules/$kver/build"
# The tree must build an out-of-tree module (the lab's test drivers): prove it with a trivial
# one before the cache is marked done.
oot=$tmp/oot
mkdir -p "$oot"
printf '%s\n' '#include <linux/module.h>' 'static int __init t_init(void) { return 0; }' \
	'static void __exit t_exit(void) { }' 'module_init(t_init);' 'module_exit(t_exit);' \
	'MODULE_DESCRIPTION("lab build tree check");' 'MODULE_LICENSE("GPL");' >"$oot/t.c"
echo 'obj-m := t.o' >"$oot/Kbuild"
make -s -C "$tmp/build" M="$oot" modules >"$oot/log" 2>&1 && [ -s "$oot/t.ko" ] ||
	{ echo "build-kernel: the build tree cannot build an out-of-tree module:" >&2; tail -n 20 "$oot/log" >&2; exit 1; }
rm -rf "$oot"
rm -rf "$out"
mv "$tmp" "$out"
echo "$key" >"$out/.done"
echo "lab: kernel pve = $kver built in $(($(date +%s) - start))s ($srcpkg $ver) in $out" >&2
