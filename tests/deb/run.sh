#!/bin/bash
# run.sh [RELEASE...] - the Debian package end to end, for each RELEASE (default: bookworm and
# trixie, the Debian releases of Proxmox VE 8 and 9): build it (make deb) in a root of that
# release, lint the source and binary packages with that release's lintian, then install,
# upgrade, remove and purge it in a minimal root of that release. With both releases, also a
# 12 -> 13 dist-upgrade of a Debian 12 root with the package installed and configured, then
# the package for 13 installed over it. Prints one "PASS deb.NAME" / "FAIL deb.NAME" line per
# check and the time each step took ("deb: time ...").
#
# The roots come from tests/deb/bootstrap.sh (tarballs cached beside the lab's cache, keyed by
# release and package list; .debs in one pool per release). Needs root (chroot) and, on the
# first run only, the Debian mirror of this machine's apt sources; a second run downloads
# nothing. Nothing is installed on this machine: every dpkg and apt call runs inside a root,
# which has nothing mounted (no /proc, no /sys), so no package's scripts reach the host.
#
# The update-initramfs trigger is observed without a kernel package: the root gets an empty
# /boot/vmlinuz-KVER, a /boot/config-KVER and an empty /lib/modules/KVER, which is all
# mkinitramfs needs, and an initial image. Each trigger run rewrites that image; whether our
# initramfs hook ran is seen from our files inside the image (lsinitramfs).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
. tests/deb/lib.sh
kver=9.9.9-pgp
pkg=pve-gpu-passthrough
rc=0
if [ $# -gt 0 ]; then releases=("$@"); else releases=(bookworm trixie); fi

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
# step NAME: the time the previous step took; NAME starts the next ("" ends the last).
step_name=
step() {
	local now
	now=$(date +%s)
	[ -z "$step_name" ] || echo "deb: time $step_name: $((now - step_start))s"
	step_name=$1
	step_start=$now
}

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL deb.root: this test needs root (chroot, debootstrap)"
	exit 1
fi
for r in "${releases[@]}"; do
	deb_release "$r" >/dev/null || { echo "FAIL deb.release: no release '$r'"; exit 1; }
done
work=$(mktemp -d /tmp/pgp-deb.XXXXXX)
cleanup() {
	# Nothing is ever mounted below $work; refuse to delete if something is.
	if grep -q " $work" /proc/self/mounts; then
		echo "deb: something is mounted below $work; not deleting it" >&2
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT
all_start=$(date +%s)

# in_root COMMAND...: COMMAND in the current $root, with a clean environment.
in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@" </dev/null
}
stamp() { stat -c '%i %y' "$img" 2>/dev/null; }
in_image() { in_root lsinitramfs "/boot/initrd.img-$kver" | grep -q "$pkg"; }
# install_root RELEASE DEB DIR: a minimal root of RELEASE in DIR with what DEB depends on,
# initramfs-tools (so the package's update-initramfs trigger has someone to run it), busybox and
# zstd (so a real image can be built), a kernel that is only names, an initial image, and just
# enough of Proxmox for attach. Sets root and img.
install_root() {
	local deps
	root=$3
	img=$root/boot/initrd.img-$kver
	# The package's dependencies, without versions or alternatives, go into the root.
	deps=$(dpkg-deb -f "$2" Depends | tr ',' '\n' | sed 's/[|(].*//; s/[[:space:]]//g' | grep .)
	# shellcheck disable=SC2086
	tests/deb/bootstrap.sh -r "$1" "$root" initramfs-tools busybox zstd kmod $deps || return 1
	touch "$root/boot/vmlinuz-$kver"
	printf 'CONFIG_RD_ZSTD=y\nCONFIG_RD_GZIP=y\n' >"$root/boot/config-$kver"
	mkdir -p "$root/lib/modules/$kver"
	touch "$root/lib/modules/$kver/"{modules.order,modules.builtin,modules.builtin.modinfo}
	in_root update-initramfs -c -k "$kver" || return 1
	mkdir -p "$root/etc/pve/qemu-server" "$root/var/lib/vz" "$root/usr/local/sbin"
	printf 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n' \
		>"$root/etc/pve/storage.cfg"
	printf 'memory: 2048\nhostpci0: 0000:01:00,pcie=1\n' >"$root/etc/pve/qemu-server/100.conf"
	# VM 101 has a hookscript of its own (issue 29): it logs its phases
	printf 'memory: 1024\nhookscript: local:snippets/user.sh\n' >"$root/etc/pve/qemu-server/101.conf"
	mkdir -p "$root/var/lib/vz/snippets"
	printf '#!/bin/sh\necho "user $1 $2" >>/tmp/user.log\n' >"$root/var/lib/vz/snippets/user.sh"
	chmod 755 "$root/var/lib/vz/snippets/user.sh"
	cat >"$root/usr/local/sbin/qm" <<'EOF'
#!/bin/sh
# fake qm: "qm set VMID --hookscript VOL" and "qm set VMID --delete hookscript" (all this test
# needs), on the live section (these configs have no other)
[ "$1" = set ] && [ -f "/etc/pve/qemu-server/$2.conf" ] || exit 2
sed -i '/^hookscript:/d' "/etc/pve/qemu-server/$2.conf"
case "$3 $4" in
"--hookscript "?*) echo "hookscript: $4" >>"/etc/pve/qemu-server/$2.conf" ;;
"--delete hookscript") ;;
*) exit 2 ;;
esac
EOF
	chmod 755 "$root/usr/local/sbin/qm"
}

# --- build and lint, in a root of the release ------------------------------------------------
# build_release RELEASE: sets deb, deb2, version, up_version; returns 1 when nothing to test.
build_release() {
	local r=$1 nums build=$work/$1/build tags
	nums=$(deb_release "$r")
	step "$r build root"
	# shellcheck disable=SC2046
	if tests/deb/bootstrap.sh -r "$r" -n build "$build" $(deb_build_packages "$top") \
		>"$work/$r.bootstrap-build.log" 2>&1; then
		pass "$r.build-root"
	else
		fail "$r.build-root"
		show "$work/$r.bootstrap-build.log"
		return 1
	fi
	step "$r build"
	if tests/deb/mkdeb.sh -r "$r" -R "$build" "$work/$r/deb" >"$work/$r.build.log" 2>&1; then
		pass "$r.build"
	else
		fail "$r.build" "make deb RELEASE=$r failed"
		show "$work/$r.build.log"
		return 1
	fi
	deb=$(ls "$work/$r/deb/${pkg}"_*.deb)
	version=$(dpkg-deb -f "$deb" Version)
	up_version=$version+upgradetest1
	# The version and the changelog name the release: 0.1+deb12 for bookworm.
	case "$version" in
	*+deb"${nums% *}") pass "$r.version" ;;
	*) fail "$r.version" "version $version does not end in +deb${nums% *}" ;;
	esac
	check "$r.changelog-release" grep -qx "Distribution: $r" "$work/$r/deb/${pkg}_${version}_"*.changes
	check "$r.source-package" test -s "$work/$r/deb/${pkg}_$version.dsc"

	step "$r lintian"
	# The release's lintian on the source and binary packages it just built (the .changes
	# lists both). Errors and warnings fail lintian; every other tag must be fixed or
	# overridden too. (Not --show-overrides: Debian 12's lintian then fails on overridden
	# warnings.) Each override in the source comes with its reason, a comment line above it.
	chroot "$build" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		sh -c 'lintian --fail-on error,warning --pedantic -E -I /tmp/pgp-build/*.changes' \
		</dev/null >"$work/$r.lintian.log" 2>&1
	if [ $? -eq 0 ]; then pass "$r.lintian"; else fail "$r.lintian" "errors or warnings"; fi
	tags=$(grep -c '^[A-Z]: ' "$work/$r.lintian.log")
	if [ "$tags" -eq 0 ]; then pass "$r.lintian-no-tags"; else
		fail "$r.lintian-no-tags" "$tags tags neither fixed nor overridden"
	fi
	[ "$tags" -eq 0 ] && [ "$(grep -vc 'running with root privileges' "$work/$r.lintian.log")" -eq 0 ] ||
		show "$work/$r.lintian.log"
	find "$build/tmp/pgp-build/$pkg/debian" -name '*lintian-overrides' -exec cat {} + \
		>"$work/$r.overrides"
	if awk '/^[[:space:]]*$/ { next } /^#/ { why = 1; next } !why { bad = 1; print } { why = 0 }
		END { exit bad }' "$work/$r.overrides" >"$work/$r.overrides.bad"; then
		pass "$r.lintian-overrides-explained"
	else
		fail "$r.lintian-overrides-explained" "overrides without a comment line above"
		show "$work/$r.overrides.bad"
	fi
	echo "deb: $r lintian $(chroot "$build" dpkg-query -W -f='${Version}' lintian):" \
		"$tags tags, $(grep -c '^[^#[:space:]]' "$work/$r.overrides") overrides"

	step "$r build upgrade"
	# The same tree with a higher version, for the upgrade (its unit tests just ran).
	if DEB_BUILD_OPTIONS=nocheck tests/deb/mkdeb.sh -r "$r" -R "$build" "$work/$r/deb2" "$up_version" \
		>"$work/$r.build2.log" 2>&1; then
		pass "$r.build-upgrade"
	else
		fail "$r.build-upgrade" "rebuild with version $up_version failed"
		show "$work/$r.build2.log"
		return 1
	fi
	deb2=$(ls "$work/$r/deb2/${pkg}"_*.deb)
	rm -rf "$build"
}

# --- install, upgrade, remove, purge in a minimal root of the release -----------------------
test_install() {
	local r=$1 has_hook=0 before out st snippet=/var/lib/vz/snippets/$pkg-hook
	step "$r install root"
	if install_root "$r" "$deb" "$work/$r/root" >"$work/$r.bootstrap.log" 2>&1; then
		pass "$r.bootstrap"
	else
		fail "$r.bootstrap"
		show "$work/$r.bootstrap.log"
		return 1
	fi
	check "$r.initramfs-baseline" test -s "$img"
	cp "$deb" "$root/tmp/v1.deb"
	cp "$deb2" "$root/tmp/v2.deb"
	dpkg-deb -c "$deb" >"$work/contents.txt"
	grep -q "usr/share/initramfs-tools/hooks/$pkg\$" "$work/contents.txt" && has_hook=1

	step "$r install"
	before=$(stamp)
	if in_root dpkg -i /tmp/v1.deb >"$work/$r.install.log" 2>&1; then pass "$r.install"; else
		fail "$r.install"
		show "$work/$r.install.log"
	fi
	check "$r.install-status" sh -c "chroot '$root' dpkg-query -W -f='\${Status}' $pkg | grep -qx 'install ok installed'"
	for f in /usr/sbin/$pkg /usr/libexec/$pkg/$pkg-hook; do
		check "$r.file:$f" test -x "$root$f"
	done
	if [ -e "$root/usr/libexec/$pkg/$pkg-early" ]; then
		check "$r.file:/usr/libexec/$pkg/$pkg-early" test -x "$root/usr/libexec/$pkg/$pkg-early"
	fi
	for f in /usr/share/man/man8/$pkg.8.gz /usr/share/man/man8/$pkg-hook.8.gz \
		/usr/share/man/man5/$pkg.ini.5.gz /usr/share/bash-completion/completions/$pkg \
		/usr/share/doc/$pkg/copyright; do
		check "$r.file:$f" test -s "$root$f"
	done
	# The reconcile units: shipped where the release's systemd looks, the timer enabled.
	unitdir=
	for d in /usr/lib/systemd/system /lib/systemd/system; do
		[ -f "$root$d/$pkg-reconcile.timer" ] && unitdir=$d && break
	done
	check "$r.unit-timer" test -n "$unitdir"
	check "$r.unit-service" test -f "$root$unitdir/$pkg-reconcile.service"
	check "$r.unit-runs-release-stale" grep -qx "ExecStart=/usr/sbin/$pkg release --stale" "$root$unitdir/$pkg-reconcile.service"
	check "$r.unit-timer-enabled" test -L "$root/etc/systemd/system/timers.target.wants/$pkg-reconcile.timer"
	# The SR-IOV template unit and the udev rule that starts it when an SR-IOV PF's driver binds.
	check "$r.unit-sriov" grep -qx "ExecStart=/usr/sbin/$pkg sriov apply --pf %I" "$root$unitdir/$pkg-sriov@.service"
	check "$r.udev-sriov" sh -c "grep -qs 'SYSTEMD_WANTS}+=\"$pkg-sriov@\$kernel.service' '$root'/usr/lib/udev/rules.d/*-$pkg.rules '$root'/lib/udev/rules.d/*-$pkg.rules"
	check "$r.conffile" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' $pkg | grep -q ' /etc/$pkg.ini '"
	check "$r.conffile-content" cmp "$root/etc/$pkg.ini" doc/$pkg.ini
	# The binaries run in a clean root with only the declared dependencies.
	out=$(in_root $pkg --version 2>&1)
	[ "$out" = "$pkg $version" ] && pass "$r.runs" || fail "$r.runs" "--version printed '$out'"
	in_root /usr/libexec/$pkg/$pkg-hook >/dev/null 2>&1
	st=$?
	[ "$st" -eq 64 ] && pass "$r.hook-usage-exit" || fail "$r.hook-usage-exit" "exit $st without arguments, expected 64"

	if [ "$has_hook" = 1 ]; then
		check "$r.trigger-declared" sh -c "dpkg-deb -I '$deb' triggers | grep -qx 'activate-noawait update-initramfs'"
		check "$r.trigger-install" grep -q 'Processing triggers for initramfs-tools' "$work/$r.install.log"
		[ "$(stamp)" != "$before" ] && pass "$r.trigger-install-image" || fail "$r.trigger-install-image" "image not rewritten"
	else
		# No initramfs hook in the tree yet: the package must not claim the trigger either.
		echo "deb: the package ships no initramfs hook; trigger checks reduced"
		if dpkg-deb -I "$deb" triggers >/dev/null 2>&1; then fail "$r.no-hook-no-trigger"; else pass "$r.no-hook-no-trigger"; fi
	fi

	# attach with the installed binary: the snippet the package's scripts care about.
	if in_root $pkg attach 100 >"$work/$r.attach.log" 2>&1; then pass "$r.attach"; else
		fail "$r.attach"
		show "$work/$r.attach.log"
	fi
	check "$r.attach-snippet" in_root test -x "$snippet"
	check "$r.attach-snippet-is-copy" sh -c "[ ! -L '$root$snippet' ] && cmp '$root$snippet' '$root/usr/libexec/$pkg/$pkg-snippet'"
	check "$r.attach-vm-config" grep -qx "hookscript: local:snippets/$pkg-hook" "$root/etc/pve/qemu-server/100.conf"
	# VM 101's own hookscript is kept, and run by ours through the snippet
	if in_root $pkg attach 101 >"$work/$r.attach101.log" 2>&1; then pass "$r.attach-keeps-own"; else
		fail "$r.attach-keeps-own"
		show "$work/$r.attach101.log"
	fi
	check "$r.attach-own-recorded" grep -qx "hookscript: local:snippets/user.sh" "$root/etc/pve/$pkg/vm-hookscript/101"
	check "$r.attach-own-runs" sh -c "chroot '$root' $snippet 101 post-start && grep -qx 'user 101 post-start' '$root/tmp/user.log'"

	step "$r setup"
	test_setup "$r"

	# --- upgrade, with an admin's change to the conffile ---
	step "$r upgrade"
	# the copy as an older version made it (the marker, other bytes); an admin's file at a
	# recorded path that is not ours
	printf 'older %s\n' "pve-gpu-passthrough-snippet-v1: a copy made by 'pve-gpu-passthrough attach'" >"$root$snippet"
	mkdir -p "$root/var/lib/vz/snippets/admin"
	echo mine >"$root/var/lib/vz/snippets/admin/$pkg-hook"
	echo "local:snippets/$pkg-hook /var/lib/vz/snippets/admin/$pkg-hook" >>"$root/var/lib/$pkg/snippets"
	echo "# changed by the admin" >>"$root/etc/$pkg.ini"
	# Give the initramfs hook something to do: early binding by id (the file ends in [early]).
	[ "$has_hook" = 1 ] && echo "ids = 8086:100e" >>"$root/etc/$pkg.ini"
	before=$(stamp)
	if in_root dpkg -i /tmp/v2.deb >"$work/$r.upgrade.log" 2>&1; then pass "$r.upgrade"; else
		fail "$r.upgrade"
		show "$work/$r.upgrade.log"
	fi
	out=$(in_root $pkg --version 2>&1)
	[ "$out" = "$pkg $up_version" ] && pass "$r.upgrade-version" || fail "$r.upgrade-version" "--version printed '$out'"
	check "$r.upgrade-keeps-conffile" grep -qx "# changed by the admin" "$root/etc/$pkg.ini"
	check "$r.upgrade-no-dpkg-new" test ! -e "$root/etc/$pkg.ini.dpkg-new"
	check "$r.upgrade-keeps-snippet" in_root test -x "$snippet"
	check "$r.upgrade-refreshes-copy" cmp "$root$snippet" "$root/usr/libexec/$pkg/$pkg-snippet"
	check "$r.upgrade-keeps-admin-file" grep -qx "mine" "$root/var/lib/vz/snippets/admin/$pkg-hook"
	if [ "$has_hook" = 1 ]; then
		check "$r.trigger-upgrade" grep -q 'Processing triggers for initramfs-tools' "$work/$r.upgrade.log"
		[ "$(stamp)" != "$before" ] && pass "$r.trigger-upgrade-image" || fail "$r.trigger-upgrade-image" "image not rewritten"
		if in_image; then pass "$r.hook-ran-in-image"; else fail "$r.hook-ran-in-image" "no $pkg file in the image"; fi
	fi

	# --- remove: warns about the attached VM, keeps the conffile and the (dangling) snippet ---
	step "$r remove, purge"
	# VM 100 "running" with devices handed over (the hookscript's state file).
	mkdir -p "$root/run/$pkg"
	echo "fake" >"$root/run/$pkg/100.state"
	before=$(stamp)
	if in_root dpkg -r $pkg >"$work/$r.remove.log" 2>&1; then pass "$r.remove"; else
		fail "$r.remove"
		show "$work/$r.remove.log"
	fi
	check "$r.remove-warns-attached-vms" grep -q "package is missing: 100 101" "$work/$r.remove.log"
	check "$r.remove-warns-running-vms" grep -q "until a reboot): 100" "$work/$r.remove.log"
	rm -rf "${root:?}/run/$pkg" # a reboot would
	check "$r.remove-files-gone" test ! -e "$root/usr/sbin/$pkg" -a ! -e "$root/usr/libexec/$pkg"
	check "$r.remove-units-gone" test ! -e "$root$unitdir/$pkg-reconcile.timer"
	check "$r.remove-keeps-conffile" test -f "$root/etc/$pkg.ini"
	check "$r.remove-keeps-snippet" test -x "$root$snippet"
	# without the package the copy lets the start go on, in one line
	out=$(chroot "$root" "$snippet" 100 pre-start 2>&1)
	st=$?
	[ "$st" = 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "is not installed on node" &&
		pass "$r.remove-snippet-degrades" || fail "$r.remove-snippet-degrades" "exit $st: $out"
	# VM 100 stops using it: purge then finds VM 101 alone on it
	in_root qm set 100 --delete hookscript
	if [ "$has_hook" = 1 ]; then
		check "$r.trigger-remove" grep -q 'Processing triggers for initramfs-tools' "$work/$r.remove.log"
		[ "$(stamp)" != "$before" ] && pass "$r.trigger-remove-image" || fail "$r.trigger-remove-image" "image not rewritten"
		if in_image; then fail "$r.remove-image-clean" "$pkg files still in the image"; else pass "$r.remove-image-clean"; fi
	fi

	# --- purge: nothing of ours is left ---
	if in_root dpkg -P $pkg >"$work/$r.purge.log" 2>&1; then pass "$r.purge"; else
		fail "$r.purge"
		show "$work/$r.purge.log"
	fi
	check "$r.purge-conffile-gone" test ! -e "$root/etc/$pkg.ini"
	check "$r.purge-own-hookscript-back" grep -qx "hookscript: local:snippets/user.sh" "$root/etc/pve/qemu-server/101.conf"
	check "$r.purge-snippet-gone" test ! -e "$root$snippet" -a ! -L "$root$snippet"
	check "$r.purge-admin-file-kept" grep -qx "mine" "$root/var/lib/vz/snippets/admin/$pkg-hook"
	rm -rf "$root/var/lib/vz/snippets/admin"
	check "$r.purge-state-gone" test ! -e "$root/var/lib/$pkg"
	check "$r.purge-dpkg-forgot" sh -c "! chroot '$root' dpkg-query -W $pkg >/dev/null 2>&1"
	# Every path with our name, except the .debs we copied in and the test's fake Proxmox bits.
	find "$root" -xdev -name "*$pkg*" ! -path "$root/tmp/*" >"$work/left.txt"
	if [ -s "$work/left.txt" ]; then
		fail "$r.purge-nothing-left"
		show "$work/left.txt"
	else
		pass "$r.purge-nothing-left"
	fi
}

# --- setup in the installed root ------------------------------------------------------------
# The root has no /proc or /sys (nothing is mounted): the facts check reads are written there
# as plain files (an Intel host booted from GRUB with kernel $kver, whose config leaves the
# IOMMU off by default) and removed after. Real update-grub cannot probe devices inside a
# chroot and proxmox-boot-tool is not in Debian, so both are STAND-INS that only record their
# calls in /tmp/standin.log (and fail while /tmp/standin-fail exists); update-initramfs is the
# real one.
test_setup() {
	local r=$1 out log=$root/tmp/standin.log f
	for f in update-grub proxmox-boot-tool; do
		if [ -e "$root/usr/sbin/$f" ]; then
			fail "$r.setup-standins" "the root has a real /usr/sbin/$f"
			return 1
		fi
		cat >"$root/usr/sbin/$f" <<'EOF'
#!/bin/sh
# STAND-IN for the test (tests/deb/run.sh): records the call, changes nothing.
echo "$(basename "$0") $*" >>/tmp/standin.log
if [ -e /tmp/standin-fail ]; then echo "stand-in: failing as asked" >&2; exit 3; fi
echo "stand-in: done"
EOF
		chmod 755 "$root/usr/sbin/$f"
	done
	mkdir -p "$root/sys/bus/pci/devices" "$root/proc/sys/kernel"
	echo "$kver" >"$root/proc/sys/kernel/osrelease"
	echo "BOOT_IMAGE=/boot/vmlinuz-$kver root=/dev/sda1 ro quiet" >"$root/proc/cmdline"
	printf 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n\n' >"$root/proc/cpuinfo"
	mkdir -p "$root/etc/default"
	printf '%s\n' "# Debian's, as grub-common ships it" GRUB_DEFAULT=0 GRUB_TIMEOUT=5 \
		'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`' \
		'GRUB_CMDLINE_LINUX_DEFAULT="quiet"' 'GRUB_CMDLINE_LINUX=""' >"$root/etc/default/grub"
	rm -rf "$work/$r.etc-before"
	cp -a "$root/etc" "$work/$r.etc-before"
	: >"$log"

	# A failing refresh puts the files back.
	touch "$root/tmp/standin-fail"
	in_root $pkg setup --yes >"$work/$r.setup-fail.log" 2>&1
	[ $? -eq 1 ] && pass "$r.setup-refresh-fails" || fail "$r.setup-refresh-fails" "exit status not 1"
	check "$r.setup-fail-says-output" grep -q "stand-in: failing as asked" "$work/$r.setup-fail.log"
	check "$r.setup-fail-restored" diff -r --no-dereference "$work/$r.etc-before" "$root/etc"
	rm -f "$root/tmp/standin-fail"
	: >"$log"

	if in_root $pkg setup --yes >"$work/$r.setup.log" 2>&1; then pass "$r.setup-yes"; else
		fail "$r.setup-yes"
		show "$work/$r.setup.log"
	fi
	check "$r.setup-grub-line" grep -qx 'GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"' "$root/etc/default/grub"
	check "$r.setup-modules-load" grep -qx vfio_pci "$root/etc/modules-load.d/$pkg.conf"
	check "$r.setup-ran-update-grub" grep -qx "update-grub " "$log"
	# check sees the parameters in the configuration (the running kernel still lacks them) ...
	in_root $pkg check --json >"$work/$r.check1.json" 2>&1
	check "$r.setup-check-sees-config" grep -q "'/etc/default/grub' line 5 already has it (add iommu=pt)" "$work/$r.check1.json"
	# ... and passes the command line checks once a kernel boots with the line setup wrote.
	out=$(sed -n 's/^GRUB_CMDLINE_LINUX_DEFAULT="\(.*\)"$/\1/p' "$root/etc/default/grub")
	echo "BOOT_IMAGE=/boot/vmlinuz-$kver root=/dev/sda1 ro $out" >"$root/proc/cmdline"
	in_root $pkg check --json >"$work/$r.check2.json" 2>&1
	check "$r.setup-check-iommu_pt" grep -q '"id":"cmdline.iommu_pt","status":"pass"' "$work/$r.check2.json"
	check "$r.setup-check-intel_iommu" grep -q '"id":"cmdline.intel_iommu","status":"pass"' "$work/$r.check2.json"
	echo "BOOT_IMAGE=/boot/vmlinuz-$kver root=/dev/sda1 ro quiet" >"$root/proc/cmdline"
	# A second run changes nothing.
	: >"$log"
	in_root $pkg setup --yes >"$work/$r.setup2.log" 2>&1
	check "$r.setup-idempotent" grep -q "nothing to change" "$work/$r.setup2.log"
	check "$r.setup-idempotent-ran-nothing" test ! -s "$log"
	# --undo: every file byte-identical to before, and the refresh again.
	if in_root $pkg setup --undo --yes >"$work/$r.undo.log" 2>&1; then pass "$r.setup-undo"; else
		fail "$r.setup-undo"
		show "$work/$r.undo.log"
	fi
	check "$r.setup-undo-identical" diff -r --no-dereference "$work/$r.etc-before" "$root/etc"
	check "$r.setup-undo-ran-update-grub" grep -qx "update-grub " "$log"
	in_root $pkg setup --undo >"$work/$r.undo2.log" 2>&1
	check "$r.setup-undo-twice" grep -q "nothing to undo" "$work/$r.undo2.log"
	rm -f "$root/usr/sbin/update-grub" "$root/usr/sbin/proxmox-boot-tool" "$log" "$root/etc/default/grub"
	rm -rf "${root:?}/sys/bus" "${root:?}/proc/sys" "$root/proc/cmdline" "$root/proc/cpuinfo"
}

# --- 12 -> 13: a Debian 12 root with the package installed and configured, dist-upgraded ---
# The trixie lists come from the trixie root of this run (debootstrap fetched and checked them,
# same mirror and keyring) and the .debs from trixie's pool; what is missing is downloaded
# once and added to the pool, so a second run downloads nothing (deb_apt_get).
test_dist_upgrade() {
	local before out lists=$work/trixie/root/var/lib/apt/lists snippet=/var/lib/vz/snippets/$pkg-hook
	step "dist-upgrade: Debian 12 root"
	if { install_root bookworm "${debs[bookworm]}" "$work/upgrade/root" &&
		cp "${debs[bookworm]}" "$root/tmp/v12.deb" && cp "${debs[trixie]}" "$root/tmp/v13.deb" &&
		in_root dpkg -i /tmp/v12.deb && in_root $pkg attach 100 &&
		echo "# changed by the admin" >>"$root/etc/$pkg.ini" &&
		echo "ids = 8086:100e" >>"$root/etc/$pkg.ini" &&
		in_root update-initramfs -u -k "$kver" && in_image; } >"$work/du.bootstrap.log" 2>&1; then
		pass dist-upgrade.configured-12
	else
		fail dist-upgrade.configured-12 "installing and configuring the package for 12 failed"
		show "$work/du.bootstrap.log"
		return 1
	fi

	step "dist-upgrade"
	sed -i 's/\<bookworm\>/trixie/g' "$root/etc/apt/sources.list"
	rm -f "$root/var/lib/apt/lists/"*_dists_bookworm_*
	cp "$lists"/*_dists_trixie_* "$root/var/lib/apt/lists/" ||
		in_root apt-get -q update >"$work/du.log" 2>&1
	before=$(stamp)
	if deb_apt_get "$root" "$(deb_pool trixie)" full-upgrade >>"$work/du.log" 2>&1; then
		pass dist-upgrade
	else
		fail dist-upgrade
		show "$work/du.log"
	fi
	echo "deb: dist-upgrade: $(sed -n 's/^apt: //p' "$work/du.log")"
	check dist-upgrade.is-13 grep -qx 'VERSION_ID="13"' "$root/etc/os-release"
	check dist-upgrade.complete sh -c "chroot '$root' apt-get -s full-upgrade | grep -q '^0 upgraded, 0 newly installed, 0 to remove'"
	check dist-upgrade.dpkg-audit-clean sh -c "[ -z \"\$(chroot '$root' dpkg --audit)\" ]"
	check dist-upgrade.package-kept sh -c "chroot '$root' dpkg-query -W -f='\${Status} \${Version}' $pkg | grep -qx 'install ok installed ${version12}'"
	out=$(in_root $pkg --version 2>&1)
	[ "$out" = "$pkg $version12" ] && pass dist-upgrade.runs || fail dist-upgrade.runs "--version printed '$out'"
	in_root /usr/libexec/$pkg/$pkg-hook >/dev/null 2>&1
	out=$?
	[ "$out" -eq 64 ] && pass dist-upgrade.hook-usage-exit || fail dist-upgrade.hook-usage-exit "exit $out, expected 64"
	check dist-upgrade.keeps-conffile grep -qx "# changed by the admin" "$root/etc/$pkg.ini"
	check dist-upgrade.keeps-snippet in_root test -x "$snippet"
	[ "$(stamp)" != "$before" ] && pass dist-upgrade.image-rebuilt || fail dist-upgrade.image-rebuilt "image not rewritten"
	in_root lsinitramfs "/boot/initrd.img-$kver" >"$work/du.image.txt" 2>&1
	check dist-upgrade.hook-in-image grep -qx "usr/sbin/$pkg-early" "$work/du.image.txt"
	check dist-upgrade.ini-in-image grep -qx "etc/$pkg.ini" "$work/du.image.txt"

	step "dist-upgrade: package for 13"
	before=$(stamp)
	if in_root dpkg -i /tmp/v13.deb >"$work/du.install13.log" 2>&1; then pass dist-upgrade.install-13; else
		fail dist-upgrade.install-13
		show "$work/du.install13.log"
	fi
	out=$(in_root $pkg --version 2>&1)
	[ "$out" = "$pkg $version13" ] && pass dist-upgrade.runs-13 || fail dist-upgrade.runs-13 "--version printed '$out'"
	check dist-upgrade.13-keeps-conffile grep -qx "# changed by the admin" "$root/etc/$pkg.ini"
	check dist-upgrade.13-no-dpkg-new test ! -e "$root/etc/$pkg.ini.dpkg-new"
	[ "$(stamp)" != "$before" ] && pass dist-upgrade.13-trigger-image || fail dist-upgrade.13-trigger-image "image not rewritten"
	check dist-upgrade.13-hook-in-image sh -c "chroot '$root' lsinitramfs /boot/initrd.img-$kver | grep -qx usr/sbin/$pkg-early"
}

declare -A debs versions
for r in "${releases[@]}"; do
	build_release "$r" || continue
	debs[$r]=$deb
	versions[$r]=$version
	test_install "$r"
done
if [ -n "${debs[bookworm]:-}" ] && [ -n "${debs[trixie]:-}" ]; then
	version12=${versions[bookworm]} version13=${versions[trixie]}
	test_dist_upgrade
fi
step ""

[ "$rc" -eq 0 ] || { echo "deb: logs of the failed checks:"; show "$work/check.log"; }
echo "deb: time all: $(($(date +%s) - all_start))s"
exit $rc
