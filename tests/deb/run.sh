#!/bin/bash
# run.sh - the Debian package end to end: build it (make deb), lint it, then install, upgrade,
# remove and purge it in a Debian 12 root made with debootstrap (tests/deb/bootstrap.sh,
# cached outside the checkout). Prints one "PASS deb.NAME" / "FAIL deb.NAME" line per check.
#
# Needs root (chroot) and, on the first run only, network access to the Debian mirror.
# Nothing is installed on this machine: every dpkg call runs inside the chroot, which has
# nothing mounted (no /proc, no /sys), so the package's scripts cannot reach the host.
#
# The update-initramfs trigger is observed without a kernel package: the root gets an empty
# /boot/vmlinuz-KVER, a /boot/config-KVER and an empty /lib/modules/KVER, which is all
# mkinitramfs needs, and an initial image. Each trigger run rewrites that image; whether our
# initramfs hook ran is seen from our files inside the image (lsinitramfs).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
kver=9.9.9-pgp
pkg=pve-gpu-passthrough
rc=0

pass() { echo "PASS deb.$1"; }
fail() {
	echo "FAIL deb.$1${2:+: $2}"
	rc=1
}
# check NAME COMMAND...: PASS when COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@" >>"$work/check.log" 2>&1; then pass "$name"; else fail "$name"; fi
}
# show FILE: indented copy of a log, for the reader of a failure.
show() { sed 's/^/    | /' "$1"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL deb.root: this test needs root (chroot, debootstrap)"
	exit 1
fi
work=$(mktemp -d /tmp/pgp-deb.XXXXXX)
root=$work/root
cleanup() {
	# Nothing is ever mounted below $work; refuse to delete if something is.
	if grep -q " $work" /proc/self/mounts; then
		echo "deb: something is mounted below $work; not deleting it" >&2
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# --- build and lint -------------------------------------------------------------------------
if tests/deb/mkdeb.sh build/deb >"$work/build.log" 2>&1; then
	pass build
else
	fail build "make deb failed"
	show "$work/build.log"
	exit 1
fi
deb=$(ls build/deb/${pkg}_*.deb)
version=$(dpkg-deb -f "$deb" Version)
up_version=$version+upgradetest1

lintian --fail-on error,warning --pedantic -E -I --show-overrides build/deb/*.changes \
	>"$work/lintian.log" 2>&1
lint_rc=$?
grep -v 'running with root privileges' "$work/lintian.log" >"$work/lintian.tags"
if [ "$lint_rc" -eq 0 ]; then pass lintian; else
	fail lintian "errors or warnings"
fi
# Pedantic tags do not fail lintian; each must be fixed or overridden with a reason.
if grep -q '^P: ' "$work/lintian.tags"; then fail lintian-pedantic "tags not reviewed"; else
	pass lintian-pedantic
fi
[ -s "$work/lintian.tags" ] && show "$work/lintian.tags"

# The same tree with a higher version, for the upgrade (its unit tests just ran).
if DEB_BUILD_OPTIONS=nocheck tests/deb/mkdeb.sh "$work/deb2" "$up_version" >"$work/build2.log" 2>&1; then
	pass build-upgrade
else
	fail build-upgrade "rebuild with version $up_version failed"
	show "$work/build2.log"
	exit 1
fi
deb2=$(ls "$work"/deb2/${pkg}_*.deb)

# --- the Debian 12 root ---------------------------------------------------------------------
# The package's dependencies, without versions or alternatives, go into the root.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[|(].*//; s/[[:space:]]//g' | grep .)
# shellcheck disable=SC2086
if tests/deb/bootstrap.sh "$root" $deps >"$work/bootstrap.log" 2>&1; then
	pass bootstrap
else
	fail bootstrap
	show "$work/bootstrap.log"
	exit 1
fi
in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@" </dev/null
}
cp "$deb" "$root/tmp/v1.deb"
cp "$deb2" "$root/tmp/v2.deb"

# A kernel that is only names, so update-initramfs has something to update.
touch "$root/boot/vmlinuz-$kver"
printf 'CONFIG_RD_ZSTD=y\nCONFIG_RD_GZIP=y\n' >"$root/boot/config-$kver"
mkdir -p "$root/lib/modules/$kver"
touch "$root/lib/modules/$kver/"{modules.order,modules.builtin,modules.builtin.modinfo}
img=$root/boot/initrd.img-$kver
in_root update-initramfs -c -k "$kver" >"$work/initramfs.log" 2>&1
check initramfs-baseline test -s "$img"
stamp() { stat -c '%i %y' "$img" 2>/dev/null; }
in_image() { in_root lsinitramfs "/boot/initrd.img-$kver" | grep -q "$pkg"; }

# Just enough of Proxmox for attach: storage.cfg, a VM, and a qm that edits the VM config.
mkdir -p "$root/etc/pve/qemu-server" "$root/var/lib/vz" "$root/usr/local/sbin"
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n' \
	>"$root/etc/pve/storage.cfg"
printf 'memory: 2048\nhostpci0: 0000:01:00,pcie=1\n' >"$root/etc/pve/qemu-server/100.conf"
cat >"$root/usr/local/sbin/qm" <<'EOF'
#!/bin/sh
# fake qm: "qm set VMID --hookscript VOL" (all this test needs)
[ "$1" = set ] && [ "$3" = --hookscript ] || exit 2
echo "hookscript: $4" >>"/etc/pve/qemu-server/$2.conf"
EOF
chmod 755 "$root/usr/local/sbin/qm"

has_hook=0
dpkg-deb -c "$deb" >"$work/contents.txt"
grep -q "usr/share/initramfs-tools/hooks/$pkg\$" "$work/contents.txt" && has_hook=1

# --- install --------------------------------------------------------------------------------
before=$(stamp)
if in_root dpkg -i /tmp/v1.deb >"$work/install.log" 2>&1; then pass install; else
	fail install
	show "$work/install.log"
fi
check install-status sh -c "chroot '$root' dpkg-query -W -f='\${Status}' $pkg | grep -qx 'install ok installed'"
for f in /usr/sbin/$pkg /usr/libexec/$pkg/$pkg-hook; do
	check "file:$f" test -x "$root$f"
done
if [ -e "$root/usr/libexec/$pkg/$pkg-early" ]; then
	check "file:/usr/libexec/$pkg/$pkg-early" test -x "$root/usr/libexec/$pkg/$pkg-early"
fi
for f in /usr/share/man/man8/$pkg.8.gz /usr/share/man/man8/$pkg-hook.8.gz \
	/usr/share/man/man5/$pkg.ini.5.gz /usr/share/bash-completion/completions/$pkg \
	/usr/share/doc/$pkg/copyright; do
	check "file:$f" test -s "$root$f"
done
check conffile sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' $pkg | grep -q ' /etc/$pkg.ini '"
check conffile-content cmp "$root/etc/$pkg.ini" doc/$pkg.ini
# The binaries run in a clean Debian 12 with only the declared dependencies.
out=$(in_root $pkg --version 2>&1)
[ "$out" = "$pkg $version" ] && pass runs || fail runs "--version printed '$out'"
in_root /usr/libexec/$pkg/$pkg-hook >/dev/null 2>&1
st=$?
[ "$st" -eq 2 ] && pass hook-usage-exit || fail hook-usage-exit "exit $st without arguments, expected 2"

if [ "$has_hook" = 1 ]; then
	check trigger-declared sh -c "dpkg-deb -I '$deb' triggers | grep -qx 'activate-noawait update-initramfs'"
	check trigger-install grep -q 'Processing triggers for initramfs-tools' "$work/install.log"
	[ "$(stamp)" != "$before" ] && pass trigger-install-image || fail trigger-install-image "image not rewritten"
else
	# No initramfs hook in the tree yet: the package must not claim the trigger either.
	echo "deb: the package ships no initramfs hook; trigger checks reduced"
	if dpkg-deb -I "$deb" triggers >/dev/null 2>&1; then fail no-hook-no-trigger; else pass no-hook-no-trigger; fi
fi

# attach with the installed binary: the snippet the package's scripts care about.
if in_root $pkg attach 100 >"$work/attach.log" 2>&1; then pass attach; else
	fail attach
	show "$work/attach.log"
fi
snippet=/var/lib/vz/snippets/$pkg-hook
# (the link is absolute: test it from inside the root)
check attach-snippet in_root test -x "$snippet"
check attach-vm-config grep -qx "hookscript: local:snippets/$pkg-hook" "$root/etc/pve/qemu-server/100.conf"

# --- upgrade, with an admin's change to the conffile -----------------------------------------
echo "# changed by the admin" >>"$root/etc/$pkg.ini"
# Give the initramfs hook something to do: early binding by id (the file ends in [early]).
[ "$has_hook" = 1 ] && echo "ids = 8086:100e" >>"$root/etc/$pkg.ini"
before=$(stamp)
if in_root dpkg -i /tmp/v2.deb >"$work/upgrade.log" 2>&1; then pass upgrade; else
	fail upgrade
	show "$work/upgrade.log"
fi
out=$(in_root $pkg --version 2>&1)
[ "$out" = "$pkg $up_version" ] && pass upgrade-version || fail upgrade-version "--version printed '$out'"
check upgrade-keeps-conffile grep -qx "# changed by the admin" "$root/etc/$pkg.ini"
check upgrade-no-dpkg-new test ! -e "$root/etc/$pkg.ini.dpkg-new"
check upgrade-keeps-snippet in_root test -x "$snippet"
if [ "$has_hook" = 1 ]; then
	check trigger-upgrade grep -q 'Processing triggers for initramfs-tools' "$work/upgrade.log"
	[ "$(stamp)" != "$before" ] && pass trigger-upgrade-image || fail trigger-upgrade-image "image not rewritten"
	if in_image; then pass hook-ran-in-image; else fail hook-ran-in-image "no $pkg file in the image"; fi
fi

# --- remove: warns about the attached VM, keeps the conffile and the (dangling) snippet -----
# VM 100 "running" with devices handed over (the hookscript's state file).
mkdir -p "$root/run/$pkg"
echo "fake" >"$root/run/$pkg/100.state"
before=$(stamp)
if in_root dpkg -r $pkg >"$work/remove.log" 2>&1; then pass remove; else
	fail remove
	show "$work/remove.log"
fi
check remove-warns-attached-vms grep -q "without this package: 100" "$work/remove.log"
check remove-warns-running-vms grep -q "until a reboot): 100" "$work/remove.log"
rm -rf "${root:?}/run/$pkg" # a reboot would
check remove-files-gone test ! -e "$root/usr/sbin/$pkg" -a ! -e "$root/usr/libexec/$pkg"
check remove-keeps-conffile test -f "$root/etc/$pkg.ini"
check remove-keeps-snippet test -L "$root$snippet"
if [ "$has_hook" = 1 ]; then
	check trigger-remove grep -q 'Processing triggers for initramfs-tools' "$work/remove.log"
	[ "$(stamp)" != "$before" ] && pass trigger-remove-image || fail trigger-remove-image "image not rewritten"
	if in_image; then fail remove-image-clean "$pkg files still in the image"; else pass remove-image-clean; fi
fi

# --- purge: nothing of ours is left ---------------------------------------------------------
if in_root dpkg -P $pkg >"$work/purge.log" 2>&1; then pass purge; else
	fail purge
	show "$work/purge.log"
fi
check purge-conffile-gone test ! -e "$root/etc/$pkg.ini"
check purge-snippet-gone test ! -e "$root$snippet" -a ! -L "$root$snippet"
check purge-state-gone test ! -e "$root/var/lib/$pkg"
check purge-dpkg-forgot sh -c "! chroot '$root' dpkg-query -W $pkg >/dev/null 2>&1"
# Every path with our name, except the .debs we copied in and the test's fake Proxmox bits.
find "$root" -xdev -name "*$pkg*" ! -path "$root/tmp/*" >"$work/left.txt"
if [ -s "$work/left.txt" ]; then
	fail purge-nothing-left
	show "$work/left.txt"
else
	pass purge-nothing-left
fi

[ "$rc" -eq 0 ] || { echo "deb: logs of the failed checks:"; show "$work/check.log"; }
exit $rc
