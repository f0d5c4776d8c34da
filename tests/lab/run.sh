#!/bin/bash
# run.sh - boot one lab guest and report its scenarios.
#   run.sh -k SERIES -f pvh|seabios|ovmf [-t std|nonvga|rp|rpnoacs|switch|twovga|sriov|quad] -s SCEN[,SCEN...] [-n NAME] [-T SECS]
#          [-a KERNEL-ARGS]
# (-a @setup: the IOMMU parameters are those `setup` writes for a host of this kernel.)
# Prints one "PASS lab/<name>/<scenario> (SECS, KVER)" or "FAIL lab/<name>/<scenario>" line per scenario
# (a scenario that never reported, because the guest hung, oopsed or timed out, is a FAIL) and
# exits non-zero when any failed. The serial log is kept in $LAB_LOGS (build/lab/logs).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}
logs=${LAB_LOGS:-$top/build/lab/logs}
series=6.1 fw=pvh topo=std scen= name= tmo=${LAB_TIMEOUT:-240} extra=${LAB_APPEND:-} initrd=
while getopts k:f:t:s:n:T:a:i: o; do
	case $o in
	k) series=$OPTARG ;; f) fw=$OPTARG ;; t) topo=$OPTARG ;; s) scen=$OPTARG ;;
	n) name=$OPTARG ;; T) tmo=$OPTARG ;; a) extra="$extra $OPTARG" ;; i) initrd=$OPTARG ;;
	*) echo "usage: run.sh -k SERIES -f FW [-t TOPO] -s SCENARIOS" >&2; exit 2 ;;
	esac
done
[ -n "$scen" ] || { echo "run.sh: -s SCENARIOS is required" >&2; exit 2; }
name=${name:-$series/$fw/$topo}
kdir=$cache/kernels/$series
kver=$(cat "$kdir/KVER" 2>/dev/null || echo "no kernel $series")
# Scenarios that run QEMU inside the guest (qemu-*) need the image that carries it.
case ",$scen" in
*,qemu-*) initrd=${initrd:-$top/build/lab/$series/initrd-qemu.img} ;;
*) initrd=${initrd:-$top/build/lab/$series/initrd.img} ;;
esac
disk=$top/build/lab/disk.img
mkdir -p "$logs"
log=$logs/$(echo "$name-$scen" | tr '/,' '__').log

# The lab's own IOMMU parameters, unless "-a @setup": then the ones `pve-gpu-passthrough setup`
# writes into /etc/default/grub of a fake GRUB host (setup-host.spec) running this very kernel
# (its release, its config as /boot/config-RELEASE); lab.setup= tells the guest what they are.
iommu_args="intel_iommu=on iommu=pt"
case " $extra " in
*" @setup "*)
	extra=$(echo " $extra " | sed 's/ @setup / /; s/ *$//')
	sroot=$(mktemp -d /tmp/pgp-lab-setup.XXXXXX)
	if ! { "$top/build/fakesys" "$sroot" "$here/setup-host.spec" &&
		mkdir -p "$sroot/proc/sys/kernel" "$sroot/boot" && echo "$kver" >"$sroot/proc/sys/kernel/osrelease" &&
		cp "$kdir/config" "$sroot/boot/config-$kver" &&
		"$top/build/pve-gpu-passthrough" --sysroot "$sroot" --node lab setup --yes; } >"$logs/setup-$series.log" 2>&1; then
		echo "FAIL lab/$name/$scen: setup on the fake host failed ($kver)"
		sed 's/^/    /' "$logs/setup-$series.log"
		rm -rf "$sroot"
		exit 1
	fi
	line=$(sed -n 's/^GRUB_CMDLINE_LINUX_DEFAULT="\(.*\)"$/\1/p' "$sroot/etc/default/grub")
	rm -rf "$sroot"
	echo "lab/$name: kernel parameters from setup: $line" >&2
	# what setup added to the host's "quiet"
	iommu_args="$line lab.setup=$(echo "$line" | tr ' ' '\n' | grep -vx quiet | paste -sd, -)"
	;;
esac
# no_timer_check: under TCG on a loaded host the boot-time timer check can misfire ("timer
# doesn't work through Interrupt-remapped IO-APIC") and panic before anything runs.
append="console=ttyS0 panic=-1 oops=panic loglevel=4 no_timer_check $iommu_args lab.scenario=$scen$extra"
qemu=(qemu-system-x86_64 -M q35 -accel "${LAB_ACCEL:-tcg}" -cpu "${LAB_CPU:-max}" -m 1024 -smp "${LAB_SMP:-1}" -nodefaults -nic none
	-display none -monitor none -serial "file:$log" -no-reboot
	-device intel-iommu)
case $fw in
pvh) qemu+=(-kernel "$kdir/vmlinux") ;;
seabios)
	qemu+=(-kernel "$kdir/vmlinuz")
	# A VESA mode gives vesafb (or simpledrm) on the root complex; behind a port SeaVGABIOS
	# finds no VBE interface (ports 0x1ce/0x1cf are not forwarded): VGA text mode there.
	case $topo in std|nonvga|sriov) append="$append vga=0x317" ;; esac ;;
ovmf) qemu+=(-bios /usr/share/ovmf/OVMF.fd -kernel "$kdir/vmlinuz") ;;
*) echo "run.sh: unknown firmware '$fw'" >&2; exit 2 ;;
esac
# Topologies: the GPU (VGA, or a 0x0380 display in nonvga) with its HDMI audio as functions 0
# and 1 of one slot, an identical second card, a virtio disk on the root complex.
#   std/nonvga  everything on the root complex (00:02.0+00:02.1, second card 00:03.0)
#   rp          each card behind its own pcie-root-port, as in a real board's slots
#   rpnoacs     rp with ACS off on the card's port: the port joins the card's IOMMU group
#   twovga      std with a second VGA-class (0x0300) card instead of a 0x0380 display
#   switch      both cards behind one PCIe switch (x3130 upstream, two xio3130 downstream)
#   sriov       std plus an NVMe controller with SR-IOV (2 VFs) at 00:05.0: a real PF whose
#               VFs the guest kernel creates (nvme-subsys is required for SR-IOV)
#   quad        four cards, each a display with its HDMI audio as functions 0 and 1 behind its
#               own pcie-root-port (four IOMMU groups: a multi-GPU server); the first is the VGA
# The guest finds the devices by their ids, not by address (guest/lib.sh).
case $topo in
std|nonvga|sriov)
	vga=VGA
	[ "$topo" = nonvga ] && vga=secondary-vga
	qemu+=(-vga none -device $vga,bus=pcie.0,addr=02.0,multifunction=on
		-device ich9-intel-hda,bus=pcie.0,addr=02.1
		-device secondary-vga,bus=pcie.0,addr=03.0)
	if [ "$topo" = sriov ]; then
		qemu+=(-device nvme-subsys,id=nvs0,nqn=pgp-lab
			-device nvme,serial=pgplab0,subsys=nvs0,bus=pcie.0,addr=05.0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2)
	fi ;;
twovga)
	qemu+=(-vga none -device VGA,bus=pcie.0,addr=02.0,multifunction=on
		-device ich9-intel-hda,bus=pcie.0,addr=02.1
		-device VGA,bus=pcie.0,addr=03.0) ;;
rp|rpnoacs)
	acs=
	[ "$topo" = rpnoacs ] && acs=,disable-acs=on
	qemu+=(-vga none
		-device pcie-root-port,id=rp1,bus=pcie.0,addr=1c.0,chassis=1,slot=1,multifunction=on$acs
		-device pcie-root-port,id=rp2,bus=pcie.0,addr=1c.1,chassis=2,slot=2
		-device VGA,bus=rp1,addr=00.0,multifunction=on
		-device ich9-intel-hda,bus=rp1,addr=00.1
		-device secondary-vga,bus=rp2,addr=00.0) ;;
switch)
	qemu+=(-vga none
		-device pcie-root-port,id=rp1,bus=pcie.0,addr=1c.0,chassis=1,slot=1
		-device x3130-upstream,id=up1,bus=rp1
		-device xio3130-downstream,id=dn1,bus=up1,chassis=11,slot=1
		-device xio3130-downstream,id=dn2,bus=up1,chassis=12,slot=2
		-device VGA,bus=dn1,addr=00.0,multifunction=on
		-device ich9-intel-hda,bus=dn1,addr=00.1
		-device secondary-vga,bus=dn2,addr=00.0) ;;
quad)
	qemu+=(-vga none)
	for i in 1 2 3 4; do
		vga=secondary-vga
		[ $i = 1 ] && vga=VGA
		qemu+=(-device pcie-root-port,id=rp$i,bus=pcie.0,addr=0$((i + 4)).0,chassis=$i,slot=$i
			-device $vga,bus=rp$i,addr=00.0,multifunction=on
			-device ich9-intel-hda,bus=rp$i,addr=00.1)
	done ;;
*) echo "run.sh: unknown topology '$topo'" >&2; exit 2 ;;
esac
append="$append lab.topo=$topo"
qemu+=(-drive "file=$disk,if=none,id=d0,format=raw,readonly=on"
	-device virtio-blk-pci,drive=d0,bus=pcie.0,addr=04.0
	-initrd "$initrd" -append "$append")

start=$(date +%s)
timeout --kill-after=5 "$tmo" "${qemu[@]}" </dev/null >"$log.qemu" 2>&1
qrc=$?
# (not anchored: OVMF's screen escapes can stand before it on the first line)
if ! grep -aq 'LAB-BOOTED ' "$log"; then
	# The guest never reached /init: an emulation hiccup, not a test result; boot once more.
	echo "lab/$name: guest did not boot (qemu exit $qrc), retrying once" >&2
	mv "$log" "$log.first"
	timeout --kill-after=5 "$tmo" "${qemu[@]}" </dev/null >"$log.qemu" 2>&1
	qrc=$?
fi
secs=$(($(date +%s) - start))
rc=0
for s in $(echo "$scen" | tr ',' ' '); do
	res=$(grep -a "^LAB-RESULT $s " "$log" | tail -n 1 | awk '{print $3}' | tr -d '\r')
	if [ "$res" = PASS ]; then
		echo "PASS lab/$name/$s (${secs}s, $kver)"
	else
		why=${res:-no result: guest crashed, hung or timed out (qemu exit $qrc)}
		echo "FAIL lab/$name/$s: $why ($kver)"
		# Show what the scenario said and what the kernel said (dmesg on failure).
		awk -v s="$s" '$0 ~ "^LAB-START "s"\r?$" {on=1} on {print} $0 ~ "^LAB-RESULT "s" " {on=0}' "$log" |
			tr -d '\r' | grep -a -E 'LAB-FAIL|LAB-DMESG|^  \|' | tail -n 80 | sed 's/^/    /'
		[ -n "$res" ] || { tr -d '\r' <"$log" | grep -a -v '^$' | tail -n 40 | sed 's/^/    /'; cat "$log.qemu" | sed 's/^/    qemu: /'; }
		rc=1
	fi
done
exit $rc
