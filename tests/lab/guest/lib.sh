# lib.sh - helpers for lab scenarios (sourced by /init; scenarios run in a subshell).
# A scenario fails as soon as any check fails (lab_fail marks it); checks print one line each.

# Lab topology (tests/lab/run.sh -t): the GPU and its HDMI-audio function share one IOMMU
# group; the identical second GPU stays with the host; the virtio disk backs a mounted
# filesystem. Found by their ids, so a scenario runs unchanged on every topology: the GPU is
# the 1234:1111 card whose slot has the ich9 HDA (8086:293e) as function 1, GPU2 the other
# 1234:1111, the disk the virtio block device (1af4:1001).
lab_find() { # VENDOR DEVICE: the addresses of every such device, in order
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor)" = "$1" ] && [ "$(cat $d/device)" = "$2" ] && basename $d
	done
}
AUDIO=$(lab_find 0x8086 0x293e | head -n 1)
GPU=${AUDIO%.*}.0
GPU2=$(lab_find 0x1234 0x1111 | grep -vx "$GPU" | head -n 1)
DISK=$(lab_find 0x1af4 0x1001 | head -n 1)
# The port or switch port the GPU's slot hangs off ("" on the root complex).
PORT=$(p=$(readlink -f /sys/bus/pci/devices/$GPU/..) && case ${p##*/} in ????:??:??.?) echo ${p##*/} ;; esac)
TOPO=$(sed -n 's/.*lab\.topo=\([^ ]*\).*/\1/p' /proc/cmdline)
MODPROBE=/sbin/modprobe # busybox ash would run its own applet for a bare "modprobe"

lab_fail() {
	echo "LAB-FAIL $*"
	: >/tmp/lab-failed
}

ok() {
	echo "ok - $*"
}

# check DESCRIPTION COMMAND...: run the command, pass when it exits 0.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else lab_fail "$desc"; fi
}

driver_of() {
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
	else
		echo none
	fi
}

expect_driver() {
	d=$(driver_of "$1")
	if [ "$d" = "$2" ]; then ok "$1 on $2"; else lab_fail "$1 on '$d', expected '$2'"; fi
}

group_of() {
	basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
}

# Load the host driver of every PCI device through its modalias, as udev would.
load_host_drivers() {
	for d in /sys/bus/pci/devices/*; do
		$MODPROBE -q "$(cat "$d/modalias")" 2>/dev/null || true
	done
}

# Mount the virtio disk, making it a host-critical device. The disk can show up late (its
# driver probes asynchronously; slower under OVMF): retry for up to 10 s.
mount_disk() {
	$MODPROBE -q "$(cat /sys/bus/pci/devices/$DISK/modalias)" # the virtio PCI transport
	$MODPROBE -q virtio_blk
	$MODPROBE -q ext4
	mkdir -p /mnt/disk
	grep -q ' /mnt/disk ' /proc/mounts && return 0
	i=0
	until mount -t ext4 -o ro /dev/vda /mnt/disk 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { lab_fail "cannot mount /dev/vda"; return 1; }
		usleep 50000
	done
}

# jqe FILTER FILE...: jq -e without printing the result.
jqe() {
	jq -e "$@" >/dev/null
}

# Firmware framebuffer entries in /proc/iomem: efifb/vesafb (Debian's kernels), BOOTFB (the
# simple-framebuffer device's own region) and what simpledrm, efidrm and vesadrm claim under
# their platform driver's name.
FW_FB_RE='efifb|vesafb|BOOTFB|simplefb|simpledrm|simple-framebuffer|efi-framebuffer|vesa-framebuffer|efi-display'
fw_fb_in_iomem() {
	grep -Eq "$FW_FB_RE" /proc/iomem
}

fb_vtcons() {
	for v in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$v/name" && echo "$v"
	done
}

# raw_to_vfio BDF...: the plain override -> unbind -> drivers_probe sequence (no product code).
raw_to_vfio() {
	for d in "$@"; do
		echo vfio-pci >"/sys/bus/pci/devices/$d/driver_override"
		[ -e "/sys/bus/pci/devices/$d/driver" ] && echo "$d" >"/sys/bus/pci/devices/$d/driver/unbind"
	done
	$MODPROBE vfio-pci
	$MODPROBE vfio_iommu_type1
	for d in "$@"; do echo "$d" >/sys/bus/pci/drivers_probe; done
}

raw_to_host() {
	for d in "$@"; do
		echo >"/sys/bus/pci/devices/$d/driver_override"
		[ -e "/sys/bus/pci/devices/$d/driver" ] && echo "$d" >"/sys/bus/pci/devices/$d/driver/unbind"
		echo "$d" >/sys/bus/pci/drivers_probe
	done
}

# A Proxmox-like environment for the hookscript: VM config and node name.
write_vm_conf() { # VMID LINES...
	vmid=$1
	shift
	mkdir -p /etc/pve/qemu-server /etc/pve/mapping /run/qemu-server
	: >"/etc/pve/qemu-server/$vmid.conf"
	for l in "$@"; do echo "$l" >>"/etc/pve/qemu-server/$vmid.conf"; done
}

HOOK=/usr/sbin/pve-gpu-passthrough-hook

# hook VMID PHASE: run the real hookscript as Proxmox would (stdin at EOF, LC_ALL=C, minimal
# PATH); its output goes to the scenario log; returns its exit status.
hook() {
	env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK "$1" "$2" </dev/null
}

expect_hook() { # EXPECTED-STATUS VMID PHASE
	hook "$2" "$3"
	rc=$?
	if [ "$rc" = "$1" ]; then ok "hook $2 $3 exited $rc"; else lab_fail "hook $2 $3 exited $rc, expected $1"; fi
}

override_of() {
	cat "/sys/bus/pci/devices/$1/driver_override"
}

# A snapshot of everything the hook may change, to compare before/after.
host_snapshot() {
	for d in $GPU $AUDIO $GPU2 $DISK $PORT; do
		echo "$d driver=$(driver_of $d) override=$(override_of $d)"
	done
	for v in /sys/class/vtconsole/vtcon*; do echo "$(basename $v) $(cat $v/bind) $(cat $v/name)"; done
	for f in /sys/bus/platform/devices/*-framebuffer.*; do
		[ -e "$f" ] || continue
		if [ -e "$f/driver" ]; then echo "$(basename $f) bound"; else echo "$(basename $f) unbound"; fi
	done
	grep -E "$FW_FB_RE" /proc/iomem | sed 's/^ *//'
	labtool con2fb
}

group_bridges() { # GROUP: the bridges (class 0x0604) in it
	for d in /sys/kernel/iommu_groups/$1/devices/*; do
		case $(cat $d/class) in 0x0604*) basename $d ;; esac
	done
}

fbcon_bound() {
	for v in $(fb_vtcons); do [ "$(cat $v/bind)" = 1 ] && return 0; done
	return 1
}

# No console on the GPU: fbcon unbound, or (two GPUs) every console on the other card's
# framebuffer.
console_off_gpu() {
	fbcon_bound || return 0
	labtool con2fb | grep -q " $GPU2\$" && ! labtool con2fb | grep -qv " $GPU2\$"
}

gpu_vm_conf() { # VMID
	write_vm_conf "$1" "bios: ovmf" "machine: q35" "hostpci0: ${GPU%.*},pcie=1,x-vga=1"
}

# not CMD...: succeeds when CMD fails (for check "..." not something).
not() {
	! "$@"
}

# contains TEXT EXTENDED-REGEX
contains() {
	printf '%s\n' "$1" | grep -Eq "$2"
}

# proxmox_qemu_args VMID: the -device arguments Proxmox generates for hostpci0 of a q35 VM
# (qemu-server PCI.pm as `qm showcmd` prints them): "host=BB:DD" without a function takes every
# function that exists, sorted; guest slot 0x0.J under ich9-pcie-port-1 for pcie=1; only J=0
# gets multifunction=on and x-vga=on (x-vga=1 without bios: ovmf).
proxmox_qemu_args() {
	conf=/etc/pve/qemu-server/$1.conf
	v=$(sed -n 's/^hostpci0: //p' "$conf")
	host=${v%%,*}
	case $host in *:*:*) ;; *) host=0000:$host ;; esac
	devs=$(ls /sys/bus/pci/devices | grep "^$host" | sort)
	xvga=
	case ",$v," in *,x-vga=1,*) grep -q '^bios: ovmf' "$conf" || xvga=,x-vga=on ;; esac
	echo "-device pcie-root-port,id=ich9-pcie-port-1,addr=10.0,x-speed=16,x-width=32,multifunction=on,bus=pcie.0,port=1,chassis=1"
	j=0
	for d in $devs; do
		extra=
		[ $j = 0 ] && [ "$(echo $devs | wc -w)" -gt 1 ] && extra=,multifunction=on
		[ $j = 0 ] && extra="$xvga$extra"
		echo "-device vfio-pci,host=$d,id=hostpci0.$j,bus=ich9-pcie-port-1,addr=0x0.$j$extra"
		j=$((j + 1))
	done
}

# run_vm_qemu VMID LOG: QEMU (inside this guest) starts the VM as Proxmox would, with SeaBIOS,
# until the firmware has enumerated the passed devices and finished POST (its debug console
# says so), then quits through the monitor. Returns QEMU's exit status; LOG gets its stderr,
# LOG.bios the firmware log, LOG.pci the monitor's "info pci".
run_vm_qemu() {
	rm -f /tmp/qmon.in /tmp/qmon.out
	mkfifo /tmp/qmon.in /tmp/qmon.out
	# shellcheck disable=SC2046
	qemu-system-x86_64 -machine q35 -accel tcg -m 128 -nodefaults -display none -vga none \
		-chardev file,id=dbg,path="$2.bios" -device isa-debugcon,iobase=0x402,chardev=dbg \
		-monitor pipe:/tmp/qmon $(proxmox_qemu_args "$1") 2>"$2" &
	qpid=$!
	cat /tmp/qmon.out >"$2.mon" &
	exec 9>/tmp/qmon.in
	i=0
	until grep -Eq 'No bootable device|Booting from' "$2.bios" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $qpid 2>/dev/null; then break; fi
		usleep 100000
	done
	echo "info pci" >&9
	echo quit >&9
	exec 9>&-
	wait $qpid
	rc=$?
	wait
	tr -d '\r' <"$2.mon" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$2.pci"
	return $rc
}

# ---- the fault driver (tests/lab/testdrv; in the image for 6.1 and pve only) ----
LABTEST=/sys/module/labtest/parameters

# testdrv_take DEV...: load labtest and give it DEV through driver_override (which stays set:
# labtest has no id table, so the override is part of the device's "host" state).
testdrv_take() {
	$MODPROBE labtest || { lab_fail "labtest.ko is not in this image (not built for $(cat /lab/series))"; return 1; }
	for d in "$@"; do
		echo labtest >"/sys/bus/pci/devices/$d/driver_override"
		[ -e "/sys/bus/pci/devices/$d/driver" ] && echo "$d" >"/sys/bus/pci/devices/$d/driver/unbind"
		echo "$d" >/sys/bus/pci/drivers_probe
	done
}

# sriov_pf: the sriov topology's PF (QEMU's nvme with SR-IOV, 2 VFs, none enabled) once nvme
# drives it, in PF and its sysfs directory in sys; fails when it is not there.
sriov_pf() {
	PF=
	for d in $(lab_find 0x1b36 0x0010); do
		[ -e "/sys/bus/pci/devices/$d/sriov_totalvfs" ] && PF=$d && break
	done
	check "an SR-IOV PF (QEMU nvme) is there" test -n "$PF"
	[ -n "$PF" ] || return 1
	sys=/sys/bus/pci/devices/$PF
	wait_driver $PF nvme
	check "it offers 2 VFs, none enabled" test "$(cat $sys/sriov_totalvfs)/$(cat $sys/sriov_numvfs)" = 2/0
}

# The SR-IOV PF of sriov_pf and its VFs, one line each (driver/override), and the state files.
sriov_snap() {
	echo "pf=$(driver_of $PF)/$(override_of $PF) numvfs=$(cat $sys/sriov_numvfs) autoprobe=$(cat $sys/sriov_drivers_autoprobe)"
	for v in $sys/virtfn*; do
		[ -e "$v" ] || continue
		d=$(basename "$(readlink $v)")
		echo "$d $(driver_of $d)/$(override_of $d)"
	done
	for f in /run/pve-gpu-passthrough/*.state; do [ -e "$f" ] && echo "state $f"; done
}

# hook_out VMID PHASE: the hookscript, its output in $out (and the log), its status in $rc.
hook_out() {
	out=$(hook "$1" "$2" 2>&1)
	rc=$?
	echo "$out"
}

# Milliseconds since boot (busybox date has no %N).
uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# wait_driver DEV DRIVER [SECS]: poll until DEV is on DRIVER ("none"), 10 s by default.
wait_driver() {
	i=0
	while [ "$(driver_of "$1")" != "$2" ] && [ $i -lt $((${3:-10} * 20)) ]; do
		usleep 50000
		i=$((i + 1))
	done
	expect_driver "$1" "$2"
}

# host_snapshot plus what a fault may leave behind: state files and held device locks.
fault_snapshot() {
	host_snapshot
	for f in /run/pve-gpu-passthrough/*.state; do [ -e "$f" ] && echo "state $f"; done
	for f in /run/pve-gpu-passthrough/lock/*; do
		[ -e "$f" ] || continue
		labtool trylock "$f" || echo "lock held $f"
	done
}

# show_diff BEFORE AFTER: both snapshots when they differ.
show_diff() {
	[ "$1" = "$2" ] || { echo "before:"; echo "$1"; echo "after:"; echo "$2"; }
}

# release_after_let_go BEFORE: labtest lets go of the GPU stuck in remove() (the blocked
# unbind returns, the GPU is driverless); "release 100" then gives it back, and the host is as
# the fault_snapshot BEFORE.
release_after_let_go() {
	echo 1 >$LABTEST/release
	wait_driver $GPU none
	/usr/sbin/pve-gpu-passthrough release 100
	check "release after the driver let go exits 0" test $? = 0
	expect_driver $GPU labtest
	after=$(fault_snapshot)
	check "host as before" test "$1" = "$after"
	show_diff "$1" "$after"
}

# testdrv_give_back DEV...: undo testdrv_take (the host driver takes DEV again), reset
# labtest's parameters and remove DEV's health mark (it stands until the host reboots), so
# later scenarios of the boot start from the host as it booted.
testdrv_give_back() {
	for p in remove_delay_ms probe_errno; do echo 0 >"$LABTEST/$p"; done
	for d in "$@"; do rm -f "/run/pve-gpu-passthrough/health/$d"; done
	echo 1 >"$LABTEST/release"
	echo 0 >"$LABTEST/release"
	for d in "$@"; do
		echo >"/sys/bus/pci/devices/$d/driver_override"
		[ -e "/sys/bus/pci/devices/$d/driver" ] && echo "$d" >"/sys/bus/pci/devices/$d/driver/unbind"
		echo "$d" >/sys/bus/pci/drivers_probe
	done
}
