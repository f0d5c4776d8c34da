# rom-dump: `rom dump` of the lab's std VGA (QEMU gives it SeaBIOS's vgabios as option ROM)
# returns a ROM that `rom check` accepts, with the card's ids, and the ROM BAR is disabled
# again afterwards; with the host driver bound the dump is refused unless forced. Under OVMF
# the boot GPU's ROM cannot be read at all (EIO), and the tool must say why.
CLI=/usr/sbin/pve-gpu-passthrough
rom_readable() {
	cat "/sys/bus/pci/devices/$GPU/rom" >/dev/null 2>&1
}
check "ROM BAR disabled before" not rom_readable
if [ -d /sys/firmware/efi ]; then
	# UEFI boot: the boot GPU's ROM was never shadowed at 0xC0000 and the kernel returns EIO
	# (the common "cat rom: Input/output error" of real hosts). The tool must explain it,
	# write nothing and leave the ROM BAR disabled.
	out=$($CLI rom dump $GPU -o /tmp/vga.rom 2>&1)
	rc=$?
	echo "$out"
	check "UEFI boot GPU: dump fails (exit 1)" test $rc = 1
	check "the error is the I/O error" contains "$out" 'Input/output error'
	check "and it explains what to do" contains "$out" 'before a driver has run it'
	check "nothing written" test ! -e /tmp/vga.rom
	check "ROM BAR disabled after the failed dump" not rom_readable
	return 0
fi
check "rom dump (no driver bound)" $CLI rom dump $GPU -o /tmp/vga.rom
check "dump is not empty" test -s /tmp/vga.rom
check "ROM BAR disabled again after the dump" not rom_readable
$CLI rom check /tmp/vga.rom --device $GPU
rc=$?
check "rom check: valid legacy image with the card's ids (exit 1: no EFI image, got $rc)" test $rc = 1
$CLI rom check /tmp/vga.rom --json | head -c 600
echo
load_host_drivers
expect_driver $GPU bochs-drm
out=$($CLI rom dump $GPU -o /tmp/vga2.rom 2>&1)
rc=$?
echo "$out"
check "refused while bochs-drm is bound (exit 1)" test $rc = 1
check "refusal says why" contains "$out" 'bochs-drm'
check "nothing written" test ! -e /tmp/vga2.rom
check "ROM BAR still disabled" not rom_readable
check "forced dump works" $CLI rom dump $GPU -o /tmp/vga3.rom --force
check "same image" cmp -s /tmp/vga.rom /tmp/vga3.rom
check "ROM BAR disabled after the forced dump" not rom_readable
