#!/bin/bash
# run.sh - early binding in a real initramfs (issue 4). Prints one "PASS name" / "FAIL name" line
# per check and exits non-zero when any failed. Needs root (mount namespaces), initramfs-tools-core
# and the lab (QEMU, cached Debian kernels: tests/lab/fetch-kernel.sh).
#
#  1. The binary on its own (--sysroot fake trees): exit codes of check, bind never failing.
#  2. Images: the real mkinitramfs with our hook and boot script for each lab kernel
#     (build-image.sh: private mount namespace, nothing of this machine touched), inspected with
#     lsinitramfs/unmkinitramfs: binary, libraries, INI, vfio modules, the generated modprobe.d
#     file, our script before udev in scripts/init-top/ORDER; invalid/missing INI and a missing
#     binary give an image without early binding and at most one warning, never a failure.
#  3. `pve-gpu-passthrough early status` against a fake root holding one of those images.
#  4. The lab (lab.sh): each image booted on its kernel under SeaBIOS and OVMF.
#
# EARLY_KERNELS (default "5.10 6.1 6.12 7 pve"), EARLY_FW, LAB_JOBS (2) narrow or widen the run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-$top/build}
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
kernels=${EARLY_KERNELS:-5.10 6.1 6.12 7 pve}
jobs=${LAB_JOBS:-2}
# A directory of its own per run: make check of another checkout user may run this suite at the
# same time in the same build directory. Runs whose process is gone are cleaned up; the images
# (hundreds of MB unpacked) go at exit unless KEEP=1, the logs stay.
base=$build/initramfs
out=$base/run-$$
early=$build/pve-gpu-passthrough-early
cli=$build/pve-gpu-passthrough
rc=0

pass() { echo "PASS initramfs/$1"; }
fail() {
	echo "FAIL initramfs/$1${2:+: $2}"
	rc=1
}
# t NAME COMMAND...: one check.
t() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi
}

# --- prerequisites -------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { fail prereq "needs root (mounts in a private mount namespace)"; exit 1; }
for c in mkinitramfs lsinitramfs unmkinitramfs unshare depmod qemu-system-x86_64 cc; do
	command -v "$c" >/dev/null || { fail prereq "$c not installed"; exit 1; }
done
for b in "$early" "$cli" "$build/fakesys" "$build/labtool"; do
	[ -x "$b" ] || { fail prereq "$b not built (run make)"; exit 1; }
done
for k in $kernels; do
	"$top/tests/lab/fetch-kernel.sh" "$k" || { fail "fetch/$k"; exit 1; }
done
mkdir -p "$base"
for d in "$base"/run-*; do
	[ -d "$d" ] || continue
	kill -0 "${d##*/run-}" 2>/dev/null || rm -rf "$d"
done
rm -rf "$out"
mkdir -p "$out/ini" "$out/img" "$out/tmp"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$out/img" "$out/tmp"' EXIT

# --- 1. the binary on its own --------------------------------------------------------------
fake=$out/tmp/fake
mkdir -p "$fake"
"$build/fakesys" "$fake" <<'SPEC'
pci 0000:00:02.0 vendor=1234 device=1111 class=030000 subvendor=1af4 subdevice=1100 group=1 driver=bochs-drm
pci 0000:00:02.1 vendor=8086 device=293e class=040300 subvendor=1af4 subdevice=1100 group=1
pci 0000:00:03.0 vendor=1234 device=1111 class=038000 subvendor=1af4 subdevice=1100 group=2 driver=bochs-drm
driver vfio-pci
SPEC
k61=$(cat "$cache/kernels/6.1/KVER" 2>/dev/null || true)
if [ -n "$k61" ]; then
	# The indexes libkmod reads, copied in: the sysroot resolves every path inside the root,
	# so an absolute link out to the cache would name nothing there.
	mkdir -p "$fake/lib/modules/$k61"
	cp "$cache/kernels/6.1/modules/lib/modules/$k61"/modules.* "$fake/lib/modules/$k61/"
fi
ini() { mkdir -p "$fake/etc" && printf '%b' "$1" >"$fake/etc/pve-gpu-passthrough.ini" && chmod 0644 "$fake/etc/pve-gpu-passthrough.ini"; }
run_early() { "$early" --sysroot "$fake" --modules-dir "/lib/modules/$k61" "$@"; }

rm -f "$fake/etc/pve-gpu-passthrough.ini"
run_early check >"$out/tmp/o" 2>"$out/tmp/e"
t binary/check-no-ini-exit-6 test $? = 6
t binary/check-no-ini-says-so grep -q 'does not exist' "$out/tmp/e"
ini '[hook]\nholders = warn\n'
run_early check >"$out/tmp/o" 2>"$out/tmp/e"
t binary/check-no-early-exit-6 test $? = 6
ini '[early]\nids = 1234:1111\naddresses = 0000:00:02.1, 0000:00:09.0\ndisable_vga = yes\n'
run_early validate >"$out/tmp/o" 2>"$out/tmp/e"
t binary/check-ids-exit-0 test $? = 0
bochs=$(modprobe -d "$cache/kernels/6.1/modules" -S "$k61" -R 'pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00' 2>/dev/null | head -n 1)
t binary/check-ids-options grep -qx 'options vfio-pci ids=1234:1111 disable_vga=1' "$out/tmp/o"
t binary/check-ids-softdep-from-modalias grep -qx "softdep ${bochs:-bochs} pre: vfio-pci" "$out/tmp/o"
t binary/check-ids-one-softdep test "$(grep -c '^softdep' "$out/tmp/o")" = 1
t binary/check-warns-missing-address grep -q '0000:00:09.0 .*not present' "$out/tmp/e"
ini '[early]\naddresses = 0000:00:02.0\n'
run_early check >"$out/tmp/o" 2>"$out/tmp/e"
t binary/check-addresses-exit-0 test $? = 0
t binary/check-addresses-no-modprobe-lines test ! -s "$out/tmp/o"
ini '[early]\nids = 1234:1111\nbogus = 1\n'
run_early check >"$out/tmp/o" 2>"$out/tmp/e"
t binary/check-invalid-exit-1 test $? = 1
t binary/check-invalid-file-line grep -qx "/etc/pve-gpu-passthrough.ini:3: unknown key 'bogus'" "$out/tmp/e"
t binary/check-invalid-one-line test "$(wc -l <"$out/tmp/e")" = 1
"$early" --sysroot "$fake" frobnicate >/dev/null 2>&1
t binary/unknown-command-exit-64 test $? = 64
# bind below a fake root: nothing moves the driver links there, so vfio-pci "does not take" the
# devices; the binary reports it, gives them back and still exits 0 (the boot must go on).
ini '[early]\naddresses = 0000:00:02.0, 0000:00:05.0\n'
run_early bind >"$out/tmp/o" 2>"$out/tmp/e"
t binary/bind-exit-0-on-failure test $? = 0
t binary/bind-reports-failure grep -qx 'pve-gpu-passthrough: 0000:00:02.0 1234:1111 -> bochs-drm: vfio-pci did not take it (see dmesg)' "$out/tmp/o"
t binary/bind-reports-missing grep -qx 'pve-gpu-passthrough: 0000:00:05.0 not present, skipped' "$out/tmp/o"
t binary/bind-clears-override grep -qx '' "$fake/sys/devices/pci0000:00/0000:00:02.0/driver_override"
t binary/bind-record grep -q '^0000:00:02.0 failed ' "$fake/run/pve-gpu-passthrough/early"
ini '[early]\naddresses = 0000:00:02.0\n'
mkdir -p "$fake/proc" && printf 'quiet pve-gpu-passthrough.early=0\n' >"$fake/proc/cmdline"
run_early bind >"$out/tmp/o" 2>"$out/tmp/e"
t binary/bind-opt-out-on-cmdline grep -qx 'pve-gpu-passthrough: early binding disabled on the kernel command line' "$out/tmp/o"
rm -f "$fake/proc/cmdline"

# --- 2. images -----------------------------------------------------------------------------
printf '[early]\naddresses = 0000:00:02.0\n' >"$out/ini/addr"
printf '[early]\nids = 1234:1111\n' >"$out/ini/ids"
printf '[early]\naddresses = 0000:00:02.0, 0000:00:02.1\n' >"$out/ini/group"
printf '[early]\naddresses = 0000:00:02.0\nids = 1234:11111\n' >"$out/ini/invalid"
printf '[hook]\nholders = warn\n' >"$out/ini/noearly"
# The card in a real slot (tests/lab/run.sh topologies): behind a root port, behind a switch.
printf '[early]\naddresses = 0000:01:00.0\n' >"$out/ini/addr-rp"
printf '[early]\naddresses = 0000:03:00.0\n' >"$out/ini/addr-switch"
# kernel config ini lab bin
{
	for k in $kernels; do
		for c in addr ids group invalid; do echo "$k $c $out/ini/$c 1 default"; done
		echo "$k rebind $out/ini/group hostfirst default"
		case " ${EARLY_FULL_KERNELS:-6.12 pve} " in
		*" $k "*) for c in addr-rp addr-switch; do echo "$k $c $out/ini/$c 1 default"; done ;;
		esac
	done
	echo "6.1 plain $out/ini/ids 0 default"
	echo "6.1 none - 0 default"
	echo "6.1 noearly $out/ini/noearly 0 default"
	echo "6.1 nobin $out/ini/addr 0 -"
} >"$out/tmp/images"
export OUT=$out HERE=$here
# shellcheck disable=SC2016
xargs -P "$jobs" -L 1 sh -c '
	img=$OUT/img/$1-$2.img
	if [ "$5" = - ]; then export PGP_EARLY_BIN=-; fi
	"$HERE"/build-image.sh "$1" "$3" "$img" "$4" >/dev/null 2>&1 || rm -f "$img"
' sh <"$out/tmp/images"

# Lists and unpacks each image once.
unpack() {
	local img=$out/img/$1.img
	[ -s "$img" ] || return 1
	[ -d "$out/img/$1.d" ] && return 0
	lsinitramfs "$img" >"$out/img/$1.list" 2>/dev/null &&
		mkdir -p "$out/img/$1.d" && unmkinitramfs "$img" "$out/img/$1.d" 2>/dev/null
}
has() { grep -qx "$2" "$out/img/$1.list"; }
has_re() { grep -Eq "$2" "$out/img/$1.list"; }
# ours_before_udev NAME: scripts/init-top/ORDER runs our script before udev's coldplug.
ours_before_udev() {
	local order=$out/img/$1.d/scripts/init-top/ORDER ours udev
	ours=$(grep -n '^/scripts/init-top/pve-gpu-passthrough ' "$order" | cut -d: -f1)
	udev=$(grep -n '^/scripts/init-top/udev ' "$order" | cut -d: -f1)
	[ -n "$ours" ] && [ -n "$udev" ] && [ "$ours" -lt "$udev" ]
}
warnings() { grep -c '^W: pve-gpu-passthrough' "$out/img/$1.img.log"; }

for k in $kernels; do
	kver=$(cat "$cache/kernels/$k/KVER")
	mods=$cache/kernels/$k/modules/lib/modules/$kver
	for c in addr ids group invalid rebind; do
		n=$k-$c
		if unpack "$n"; then pass "image/$k/$c/built"; else fail "image/$k/$c/built" "$(tail -n 3 "$out/img/$n.img.log" 2>/dev/null)"; continue; fi
	done
	n=$k-addr
	if [ -d "$out/img/$n.d" ]; then
		t "image/$k/addr/no-warning" test "$(warnings "$n")" = 0
		t "image/$k/addr/binary" has "$n" usr/sbin/pve-gpu-passthrough-early
		# every shared library the binary needs (ldd: libkmod, libinih and theirs)
		for lib in $(ldd "$early" | sed -n 's/^[[:space:]]*\([^ ]*\.so[^ ]*\) => .*/\1/p'); do
			t "image/$k/addr/lib-$lib" has_re "$n" "/$lib\$"
		done
		t "image/$k/addr/ini-copied" cmp "$out/ini/addr" "$out/img/$n.d/etc/pve-gpu-passthrough.ini"
		t "image/$k/addr/boot-script" has "$n" scripts/init-top/pve-gpu-passthrough
		for m in vfio vfio_iommu_type1 vfio-pci; do
			t "image/$k/addr/module-$m" has_re "$n" "/$m\\.ko(\\.[a-z]+)?\$"
		done
		# before 6.2 vfio_virqfd is a module of its own: it must come in by dependency
		if find "$mods" -name 'vfio_virqfd.ko*' | grep -q .; then
			t "image/$k/addr/module-vfio_virqfd-by-dependency" has_re "$n" '/vfio_virqfd\.ko(\.[a-z]+)?$'
		fi
		if [ -e /usr/share/initramfs-tools/scripts/init-top/udev ]; then
			t "image/$k/addr/udev-in-image" has "$n" scripts/init-top/udev
			t "image/$k/addr/order-before-udev" ours_before_udev "$n"
		else
			# no udev package here: the lab's boot script loads drivers by modalias instead
			t "image/$k/addr/in-order" grep -q '^/scripts/init-top/pve-gpu-passthrough ' "$out/img/$n.d/scripts/init-top/ORDER"
		fi
		t "image/$k/addr/no-modprobe-conf" test ! -e "$out/img/$n.d/etc/modprobe.d/pve-gpu-passthrough.conf"
	fi
	n=$k-ids
	if [ -d "$out/img/$n.d" ]; then
		conf=$out/img/$n.d/etc/modprobe.d/pve-gpu-passthrough.conf
		drv=$(modprobe -d "$cache/kernels/$k/modules" -S "$kver" -R 'pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00' 2>/dev/null | head -n 1)
		t "image/$k/ids/modprobe-conf" test -s "$conf"
		t "image/$k/ids/options" grep -qx 'options vfio-pci ids=1234:1111' "$conf"
		t "image/$k/ids/softdep-$drv" grep -qx "softdep $drv pre: vfio-pci" "$conf"
		t "image/$k/ids/only-that-softdep" test "$(grep -c '^softdep' "$conf")" = 1
	fi
	n=$k-invalid
	if [ -d "$out/img/$n.d" ]; then
		t "image/$k/invalid/one-warning" test "$(warnings "$n")" = 1
		t "image/$k/invalid/warning-names-file-line" grep -q '^W: pve-gpu-passthrough: /etc/pve-gpu-passthrough.ini:3: .*without early binding$' "$out/img/$n.img.log"
		t "image/$k/invalid/no-binary" sh -c "! grep -q pve-gpu-passthrough-early '$out/img/$n.list'"
		t "image/$k/invalid/no-ini" sh -c "! grep -q 'etc/pve-gpu-passthrough.ini' '$out/img/$n.list'"
		t "image/$k/invalid/no-modprobe-conf" sh -c "! grep -q 'pve-gpu-passthrough.conf' '$out/img/$n.list'"
	fi
done
n=6.1-plain
if unpack "$n"; then
	pass image/6.1/plain/built
	t image/6.1/plain/no-test-pieces sh -c "! grep -Eq '^lab/|labtool|pgp-lab' '$out/img/$n.list'"
	t image/6.1/plain/binary has "$n" usr/sbin/pve-gpu-passthrough-early
	t image/6.1/plain/modprobe-conf has "$n" etc/modprobe.d/pve-gpu-passthrough.conf
	t image/6.1/plain/ini-mode-root-only-writable sh -c "stat -c '%u %a' '$out/img/$n.d/etc/pve-gpu-passthrough.ini' | grep -qx '0 644'"
else
	fail image/6.1/plain/built
fi
n=6.1-none
if unpack "$n"; then
	pass image/6.1/no-ini/built
	t image/6.1/no-ini/one-warning test "$(warnings "$n")" = 1
	t image/6.1/no-ini/warning-says-missing grep -q '^W: pve-gpu-passthrough: /etc/pve-gpu-passthrough.ini does not exist; building the image without early binding$' "$out/img/$n.img.log"
	t image/6.1/no-ini/no-binary sh -c "! grep -q pve-gpu-passthrough-early '$out/img/$n.list'"
else
	fail image/6.1/no-ini/built
fi
n=6.1-noearly
if unpack "$n"; then
	pass image/6.1/no-early-section/built
	t image/6.1/no-early-section/silent test "$(warnings "$n")" = 0
	t image/6.1/no-early-section/no-binary sh -c "! grep -q pve-gpu-passthrough-early '$out/img/$n.list'"
else
	fail image/6.1/no-early-section/built
fi
n=6.1-nobin
if unpack "$n"; then
	pass image/6.1/package-removed/built
	t image/6.1/package-removed/silent test "$(warnings "$n")" = 0
	t image/6.1/package-removed/no-ini sh -c "! grep -q 'etc/pve-gpu-passthrough.ini' '$out/img/$n.list'"
else
	fail image/6.1/package-removed/built
fi

# --- 3. early status -----------------------------------------------------------------------
root=$out/tmp/status
if [ -s "$out/img/6.1-addr.img" ] && [ -n "$k61" ]; then
	mkdir -p "$root"
	"$build/fakesys" "$root" <<SPEC
pci 0000:00:02.0 vendor=1234 device=1111 class=030000 subvendor=1af4 subdevice=1100 group=1 driver=vfio-pci
pci 0000:00:02.1 vendor=8086 device=293e class=040300 subvendor=1af4 subdevice=1100 group=1 driver=snd_hda_intel
pci 0000:00:03.0 vendor=1234 device=1111 class=038000 subvendor=1af4 subdevice=1100 group=2 driver=bochs-drm
file /proc/sys/kernel/osrelease $k61
file /proc/cmdline quiet intel_iommu=on
file /run/pve-gpu-passthrough/early 0000:00:02.0 bound 0000:00:02.0 1234:1111 -> vfio-pci
SPEC
	mkdir -p "$root/boot" "$root/etc"
	cp "$out/img/6.1-addr.img" "$root/boot/initrd.img-$k61"
	install -m 0644 "$out/ini/addr" "$root/etc/pve-gpu-passthrough.ini"
	touch -d '1 hour ago' "$root/etc/pve-gpu-passthrough.ini"
	status() { "$cli" --sysroot "$root" early status >"$out/tmp/o" 2>&1; }
	status
	t status/matching-exit-0 test $? = 0
	t status/matching-ok grep -qx ok "$out/tmp/o"
	t status/shows-image-contents grep -q 'binary yes, INI yes, boot script yes, vfio modules yes' "$out/tmp/o"
	t status/shows-device grep -q '0000:00:02.0 1234:1111  (address)  vfio-pci  \[boot: bound\]' "$out/tmp/o"
	t status/notes-group-not-viable grep -q 'group 1 is not viable.* 0000:00:02.1 on snd_hda_intel' "$out/tmp/o"
	touch "$root/etc/pve-gpu-passthrough.ini"
	status
	t status/stale-image-exit-1 test $? = 1
	t status/stale-image-hint grep -q '^run update-initramfs -u -k all' "$out/tmp/o"
	t status/stale-image-problem grep -q 'problem: the image is older than /etc/pve-gpu-passthrough.ini' "$out/tmp/o"
	install -m 0644 "$out/ini/group" "$root/etc/pve-gpu-passthrough.ini"
	touch -d '1 hour ago' "$root/etc/pve-gpu-passthrough.ini"
	status
	t status/device-not-on-vfio-exit-1 test $? = 1
	t status/device-not-on-vfio grep -q 'problem: 0000:00:02.1 is not on vfio-pci' "$out/tmp/o"
	cp "$out/img/6.1-invalid.img" "$root/boot/initrd.img-$k61"
	install -m 0644 "$out/ini/addr" "$root/etc/pve-gpu-passthrough.ini"
	touch -d '1 hour ago' "$root/etc/pve-gpu-passthrough.ini"
	status
	t status/image-without-early-binding grep -q 'problem: the image has no early binding' "$out/tmp/o"
	t status/image-without-early-binding-hint grep -q '^run update-initramfs -u -k all' "$out/tmp/o"
	install -m 0644 "$out/ini/invalid" "$root/etc/pve-gpu-passthrough.ini"
	status
	t status/invalid-ini-exit-1 test $? = 1
	t status/invalid-ini-file-line grep -q 'problem: /etc/pve-gpu-passthrough.ini:3: ' "$out/tmp/o"
else
	fail status "no 6.1 image to look at"
fi

# --- 4. the lab ----------------------------------------------------------------------------
EARLY_KERNELS=$kernels EARLY_LAB_LOGS=$out/logs "$here/lab.sh" "$out/img" || rc=1
exit $rc
