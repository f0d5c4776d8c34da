#!/bin/bash
# build-image.sh SERIES INI_FILE|- OUT [LAB] - run the real mkinitramfs for a cached lab kernel
# with our hook and boot script, as update-initramfs would on a host with that INI.
#
# Nothing of this machine is touched: everything happens in a private mount namespace
# (unshare -m) where /usr and /etc get a throw-away overlay (our binary in
# /usr/libexec/pve-gpu-passthrough/, the INI in /etc, the kernel's modules bound read-only to
# /lib/modules/KVER), /boot is a tmpfs (with the /boot/config-KVER mkinitramfs wants) and /sys
# is a fake tree with the lab guest's PCI devices (the hook reads their modalias for softdeps).
# Our hook and boot script come from a private -d CONFDIR, the way a package's files would sit
# in /usr/share/initramfs-tools. INI_FILE "-" means no INI at all.
#
# With LAB=1 the image also gets the test-only pieces that let the lab boot it: the host drivers
# of the guest's devices (udev loads them by modalias, as on a real host), labtool, and an
# init-premount script that runs the lab.scenario= checks and powers off. LAB=hostfirst adds an
# init-top script that runs before ours and loads the host drivers, the way a driver built into
# the kernel has bound its device before any initramfs script runs. LAB=noudev builds as on a
# host without the udev package (the lab's boot script then loads drivers by modalias).
#
# mkinitramfs's output (the hook's warnings) goes to OUT.log. PGP_EARLY_BIN=- builds as if the
# package's binary were gone (a left-over hook must then do nothing).
set -euo pipefail
series=${1:?usage: build-image.sh SERIES INI OUT [LAB]}
ini=${2:?}
out=${3:?}
lab=${4:-0}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-$top/build}
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
kdir=$cache/kernels/$series
kver=$(cat "$kdir/KVER")

work=$(mktemp -d /tmp/pgp-initramfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
conf=$work/conf
mkdir -p "$conf/hooks" "$conf/scripts/init-top" "$conf/scripts/init-premount" "$conf/conf.d" \
	"$work/usr-up" "$work/usr-work" "$work/etc-up" "$work/etc-work" "$work/fake"

cat >"$conf/initramfs.conf" <<CONF
MODULES=list
BUSYBOX=y
KEYMAP=n
COMPRESS=gzip
DEVICE=
NFSROOT=auto
RUNSIZE=10%
FSTYPE=auto
CONF
install -m 0755 "$top/initramfs-hooks/hook" "$conf/hooks/pve-gpu-passthrough"
install -m 0755 "$top/initramfs-hooks/init-top" "$conf/scripts/init-top/pve-gpu-passthrough"

if [ "$lab" != 0 ]; then
	# Test-only hook: the guest's host drivers by modalias (bochs-drm is bochs.ko on 6.x),
	# labtool and the lab's check helpers and scenarios.
	cat >"$conf/hooks/zz-pgp-lab" <<HOOK
#!/bin/sh
[ "\$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
manual_add_modules 'pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00' \
	'pci:v00001234d00001111sv00001AF4sd00001100bc03sc80i00' \
	'pci:v00008086d0000293Esv00001AF4sd00001100bc04sc03i00'
mkdir -p "\$DESTDIR/lab/scenarios" "\$DESTDIR/usr/bin"
cp "$build/labtool" "\$DESTDIR/usr/bin/labtool"
cp "$top/tests/lab/guest/lib.sh" "\$DESTDIR/lab/lib.sh"
cp "$top"/tests/lab/scenarios/early-*.sh "\$DESTDIR/lab/scenarios/"
echo "$series" >"\$DESTDIR/lab/series"
HOOK
	chmod 0755 "$conf/hooks/zz-pgp-lab"
	install -m 0755 "$here/lab-report" "$conf/scripts/init-premount/pgp-lab-report"
fi
if [ "$lab" = hostfirst ]; then
	cat >"$conf/scripts/init-top/00-pgp-lab-hostfirst" <<'SCRIPT'
#!/bin/sh
# Test-only: bind the host drivers before pve-gpu-passthrough runs (a built-in driver would).
[ "$1" = prereqs ] && exit 0
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /lab/lib.sh
load_host_drivers
exit 0
SCRIPT
	chmod 0755 "$conf/scripts/init-top/00-pgp-lab-hostfirst"
fi

# The lab guest's PCI devices as the build host's sysfs (modalias is what the hook needs).
"$build/fakesys" "$work/fake" <<SPEC
pci 0000:00:02.0 vendor=1234 device=1111 class=030000 subvendor=1af4 subdevice=1100 group=1 driver=bochs-drm boot_vga=1
pci 0000:00:02.1 vendor=8086 device=293e class=040300 subvendor=1af4 subdevice=1100 group=1 driver=snd_hda_intel
pci 0000:00:03.0 vendor=1234 device=1111 class=038000 subvendor=1af4 subdevice=1100 group=2 driver=bochs-drm
pci 0000:00:04.0 vendor=1af4 device=1001 class=010000 subvendor=1af4 subdevice=0002 group=3 driver=virtio-pci
SPEC

export LAB=$lab PGP_MKINITRAMFS_V=${PGP_MKINITRAMFS_V:-} TMPDIR=$work WORK=$work KVER=$kver KDIR=$kdir INI=$ini OUT=$out BIN=${PGP_EARLY_BIN:-$build/pve-gpu-passthrough-early} CONFDIR=$conf
rm -f "$out"
# The namespace is private (unshare -m makes every mount private): none of these mounts, and
# nothing written below them, reaches the machine.
unshare -m --propagation private bash -euo pipefail -c '
	mount -t overlay overlay -o "lowerdir=/usr,upperdir=$WORK/usr-up,workdir=$WORK/usr-work" /usr
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$WORK/etc-up,workdir=$WORK/etc-work" /etc
	mount -t tmpfs tmpfs /boot
	mount --bind "$WORK/fake/sys" /sys
	mkdir -p "/usr/lib/modules/$KVER" /usr/libexec/pve-gpu-passthrough
	mount --bind "$KDIR/modules/lib/modules/$KVER" "/usr/lib/modules/$KVER"
	mount -o remount,bind,ro "/usr/lib/modules/$KVER"
	printf "CONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=y\nCONFIG_BLK_DEV_INITRD=y\n" >"/boot/config-$KVER"
	[ "$BIN" = - ] || install -m 0755 "$BIN" /usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-early
	rm -f /etc/pve-gpu-passthrough.ini
	[ "$INI" = - ] || install -m 0644 -o root -g root "$INI" /etc/pve-gpu-passthrough.ini
	if [ "$LAB" = noudev ]; then
		rm -f /usr/share/initramfs-tools/hooks/udev /usr/share/initramfs-tools/scripts/init-top/udev
	fi
	mkinitramfs ${PGP_MKINITRAMFS_V:+-v} -d "$CONFDIR" -o "$OUT" "$KVER"
' >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
