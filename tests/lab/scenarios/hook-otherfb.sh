# hook-otherfb: two VGA-class cards, no host GPU driver, the firmware framebuffer (efifb) on the
# boot card; the VM takes the other card. Before 6.12 vfio-pci removes the system framebuffer
# whichever card it sits on (6.1 in the lab; not 5.10, which has no such removal, nor 6.12):
# check must say so beforehand and pre-start when it happens; on the other kernels the boot
# card's framebuffer and console stay and the host is exactly as before.
CLI=/usr/sbin/pve-gpu-passthrough
series=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
fb=$(ls /sys/bus/platform/devices | grep -E -- '-framebuffer\.|^efi-display\.' | head -n 1)
check "a firmware framebuffer on the boot card" test -n "$fb"
check "the other card is not the boot VGA" test "$(cat /sys/bus/pci/devices/$GPU2/boot_vga)" = 0
before=$(host_snapshot)
write_vm_conf 101 "bios: ovmf" "machine: q35" "hostpci0: $GPU2,pcie=1"
$CLI check 101 >/tmp/check.out 2>&1
grep 'console\.' /tmp/check.out
hook 101 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
expect_driver $GPU2 vfio-pci
check "group usable through VFIO" labtool vfio "$(group_of $GPU2)" $GPU2 --bar0
hook 101 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop exited 0" test "$rc" = 0
expect_driver $GPU2 none
after=$(host_snapshot)
if [ "$series" -ge 600 ] && [ "$series" -lt 612 ]; then
	check "check warns before" grep -q "WARN.*vfio-pci taking this VGA card removes the firmware framebuffer $fb of the boot GPU" /tmp/check.out
	check "pre-start warns before" grep -q "warning: $GPU2: on this kernel vfio-pci taking this VGA card removes the firmware framebuffer $fb" /tmp/pre.out
	check "pre-start says it happened" grep -q "warning: firmware framebuffer $fb was removed by the kernel when vfio-pci took the devices" /tmp/pre.out
	check "the kernel did remove it" test ! -e /sys/bus/platform/devices/$fb
	keep() { grep -Ev "$fb|$FW_FB_RE|^vtcon|^con2fb"; }
	check "host as before but for that framebuffer and its console" test "$(echo "$before" | keep)" = "$(echo "$after" | keep)"
	[ "$(echo "$before" | keep)" = "$(echo "$after" | keep)" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
else
	check "check says nothing of it" not grep -q 'console.other_fb' /tmp/check.out
	check "pre-start says nothing of it" not grep -q 'firmware framebuffer' /tmp/pre.out
	check "host as before" test "$before" = "$after"
	[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
fi
