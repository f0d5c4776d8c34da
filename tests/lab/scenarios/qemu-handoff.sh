# qemu-handoff: the real consumer. After pre-start, Debian's QEMU (run inside this guest) starts
# the VM with the device arguments Proxmox generates for its hostpci0 entry (x-vga=on,
# multifunction=on, both functions under ich9-pcie-port-1), its SeaBIOS enumerates the card
# and runs its option ROM through VFIO, QEMU quits; then post-stop gives everything back.
load_host_drivers
mount_disk
write_vm_conf 100 "machine: q35" "hostpci0: ${GPU%.*},pcie=1,x-vga=1"
before=$(host_snapshot)
expect_hook 0 100 pre-start
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
proxmox_qemu_args 100 | sed 's/^/qemu arg: /'
run_vm_qemu 100 /tmp/qemu.log
rc=$?
sed 's/^/qemu: /' /tmp/qemu.log
check "QEMU realized the devices and exited 0" test "$rc" = 0
check "the guest firmware finished POST" grep -Eq 'No bootable device|Booting from' /tmp/qemu.log.bios
# QEMU's warnings are asserted, never ignored: on the root complex the lab's cards have no
# reset method, so QEMU says it cannot reset them (as it does for many real GPUs). Under OVMF the boot GPU's ROM reads back
# EIO (rom-dump shows it), so QEMU says it cannot read it and the inner firmware has no ROM to
# run; under SeaBIOS/PVH the inner SeaBIOS runs the card's ROM through VFIO.
expected='no available reset mechanism'
if [ -d /sys/firmware/efi ]; then
	check "QEMU says it cannot read the boot GPU's ROM" grep -q "Cannot read device rom at $GPU" /tmp/qemu.log
	expected="$expected|Cannot read device rom at $GPU|option ROM contents are probably invalid|Skip option ROM probe with rombar=0"
else
	check "the guest firmware ran the card's option ROM" grep -q 'Running option rom at' /tmp/qemu.log.bios
fi
grep -E 'Bus|controller' /tmp/qemu.log.pci | sed 's/^/info pci: /'
check "info pci shows the VGA function" grep -q 'VGA controller: PCI device 1234:1111' /tmp/qemu.log.pci
check "info pci shows the audio function" grep -q 'Audio controller: PCI device 8086:293e' /tmp/qemu.log.pci
if [ -s /sys/bus/pci/devices/$GPU/reset_method ]; then
	# behind a root port the kernel resets the card through its bus: QEMU can reset it
	echo "reset methods of $GPU: $(cat /sys/bus/pci/devices/$GPU/reset_method)"
	check "QEMU resets the card" sh -c "! grep -q 'Cannot reset device $GPU' /tmp/qemu.log"
else
	check "QEMU says it cannot reset the card" grep -q "Cannot reset device $GPU, no available reset mechanism" /tmp/qemu.log
fi
grep -Ev "$expected" /tmp/qemu.log >/tmp/qemu.other || true
check "QEMU printed no other warning" test ! -s /tmp/qemu.other
expect_hook 0 100 post-stop
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
check "framebuffer console restored" fbcon_bound
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
