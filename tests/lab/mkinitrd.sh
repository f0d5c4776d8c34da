#!/bin/bash
# mkinitrd.sh SERIES OUT [qemu] - build the lab guest's initramfs for one cached kernel:
# busybox-static, kmod (busybox's modprobe ignores softdeps and dashed options), the modules the
# lab needs (resolved through modules.dep from device modaliases and module names, never from a
# hand-kept list of files), the project's binaries with their shared libraries, and the guest
# scripts and scenarios. With "qemu", also Debian's qemu-system-x86_64 (its libraries, the TCG
# accelerator module and SeaBIOS), so the handoff's real consumer runs inside the guest: about
# 50 MB more, hence an image of its own.
set -euo pipefail
series=${1:?usage: mkinitrd.sh SERIES OUT}
out=${2:?usage: mkinitrd.sh SERIES OUT [qemu]}
with_qemu=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
kdir=$cache/kernels/$series
build=${BUILD:-$top/build}
kver=$(cat "$kdir/KVER")
mroot=$kdir/modules

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,mnt,etc/modprobe.d,lab,usr/bin,usr/sbin}
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
mkdir -p "$stage/usr/lib/modules/$kver" "$stage/usr/lib64"
cp /bin/busybox "$stage/bin/busybox"

# copy_exec FILE DEST: a binary and every shared library ldd names, plus the loader (none
# for a static binary).
copy_exec() {
	local lib
	install -D -m 0755 "$1" "$stage$2"
	for lib in $(ldd "$1" 2>/dev/null | sed -n 's|^[^/]*\(/[^ ]*\).*|\1|p'); do
		[ -e "$stage$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
	done
}
copy_exec "$(readlink -f /bin/kmod)" /sbin/kmod
for l in modprobe insmod rmmod lsmod modinfo; do ln -sf kmod "$stage/sbin/$l"; done

# Modules: QEMU's devices by modalias (the GPU driver is bochs-drm.ko on 5.10, bochs.ko on 6.x;
# the alias finds either), the vfio stack and the disk's filesystem by name.
roots=(
	'pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00'  # std VGA (class 0x0300)
	'pci:v00001234d00001111sv00001AF4sd00001100bc03sc80i00'  # secondary-vga (class 0x0380)
	'pci:v00008086d0000293Esv00001AF4sd00001100bc04sc03i00'  # ich9-intel-hda
	'pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00'  # virtio-blk (transitional)
	'virtio:d00000002v00001AF4'                             # virtio block driver
	vfio vfio_iommu_type1 vfio-pci ext4
	nvme                                                    # the sriov topology's SR-IOV PF
)
for m in "${roots[@]}"; do
	modprobe -d "$mroot" -S "$kver" --show-depends "$m" 2>/dev/null || true
done | sed -n 's/^insmod \([^ ]*\).*/\1/p' | sort -u | while read -r ko; do
	rel=${ko#"$mroot"/lib/modules/"$kver"/}
	install -D -m 0644 "$ko" "$stage/usr/lib/modules/$kver/$rel"
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -e "$mroot/lib/modules/$kver/$f" ] && cp "$mroot/lib/modules/$kver/$f" "$stage/usr/lib/modules/$kver/"
done
# The lab fault driver (tests/lab/testdrv/) where it can be built (6.1 and pve; build.sh says
# why not elsewhere): scenarios that need it skip on the other kernels.
trc=0
ko=$("$here/testdrv/build.sh" "$series" 2>"$stage/testdrv.err") || trc=$?
case $trc in
0) install -D -m 0644 "$ko" "$stage/usr/lib/modules/$kver/extra/labtest.ko" ;;
3) ;;
*) cat "$stage/testdrv.err" >&2; exit 1 ;;
esac
rm -f "$stage/testdrv.err"
depmod -b "$stage/usr" "$kver"
[ -n "$(find "$stage/usr/lib/modules/$kver" -name 'vfio-pci.ko*')" ] || {
	echo "mkinitrd: vfio-pci module not found for $kver" >&2
	exit 1
}

# The project's binaries.
for b in pve-gpu-passthrough pve-gpu-passthrough-hook pve-gpu-passthrough-early pve-gpu-passthrough-snippet; do
	[ -x "$build/$b" ] && copy_exec "$build/$b" "/usr/sbin/$b"
done
install -m 0755 "$build/labtool" "$stage/usr/bin/labtool"
[ -x "$build/labtool-dyn" ] && copy_exec "$build/labtool-dyn" /usr/bin/labtool-dyn
[ -n "${LAB_EXTRA_BIN:-}" ] && for b in $LAB_EXTRA_BIN; do copy_exec "$b" "$b"; done
if [ "$with_qemu" = qemu ]; then
	copy_exec "$(readlink -f /usr/bin/qemu-system-x86_64)" /usr/bin/qemu-system-x86_64
	for m in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so; do copy_exec "$m" "$m"; done
	# Debian's QEMU finds firmware in /usr/share/qemu and /usr/share/seabios.
	mkdir -p "$stage/usr/share/qemu" "$stage/usr/share/seabios"
	cp -L /usr/share/qemu/kvmvapic.bin "$stage/usr/share/qemu/"
	cp -L /usr/share/seabios/bios-256k.bin "$stage/usr/share/seabios/"
fi
# jq lets scenarios assert on the CLI's JSON output.
copy_exec "$(command -v jq)" /usr/bin/jq
# The hookscript opens libkmod with dlopen() (see common/dev_modload.c): ldd cannot see it.
libkmod=$(ldconfig -p | sed -n 's/.*libkmod\.so\.2 (libc6,x86-64) => //p' | head -n 1)
copy_exec "$(readlink -f "$libkmod")" "$libkmod"

# Guest scripts.
install -m 0755 "$here/guest/init" "$stage/init"
cp "$here"/guest/*.sh "$stage/lab/"
mkdir -p "$stage/lab/scenarios"
cp "$here"/scenarios/*.sh "$stage/lab/scenarios/"
echo "$series" >"$stage/lab/series"
# The package's SR-IOV boot unit and its udev rule, as shipped: sriov-boot runs the unit's
# ExecStart= and evaluates the rule's match against the real PF (no systemd/udev in the guest).
mkdir -p "$stage/lab/units"
cp "$top/debian/pve-gpu-passthrough.pve-gpu-passthrough-sriov@.service" \
	"$stage/lab/units/pve-gpu-passthrough-sriov@.service"
cp "$top/debian/pve-gpu-passthrough.udev" "$stage/lab/units/pve-gpu-passthrough.rules"
# The kernel's config, so scenarios can tell a Proxmox-like kernel (SYSFB_SIMPLEFB) apart.
[ -f "$kdir/config" ] && cp "$kdir/config" "$stage/lab/kconfig"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
