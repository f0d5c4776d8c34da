# hook-fbonly: no host GPU driver, only the firmware framebuffer holds the GPU: efifb/vesafb on
# Debian's kernels, simpledrm on simple-framebuffer.0 (whose own BOOTFB region sits in the BAR)
# on Proxmox's. Without releasing it, the VFIO BAR0 mmap fails with EBUSY on 5.10 and for class
# 0x0380 displays; the hook must release it, or refuse with the fix when it cannot. Back at
# post-stop, the GPU had no driver, so it stays without one, and the console comes back unless
# the kernel removed the framebuffer device (vfio-pci does that for a VGA-class GPU), which
# post-stop says in one line.
before=$(host_snapshot)
check "firmware framebuffer holds the GPU" fw_fb_in_iomem
gpu_vm_conf 100
g=$(group_of $GPU)
class=$(cat /sys/bus/pci/devices/$GPU/class)
fbdevs=$(ls /sys/bus/platform/devices | grep -E -- '-framebuffer\.|^efi-display\.')
if grep -q BOOTFB /proc/iomem && [ "$class" != 0x030000 ]; then
	# The simple-framebuffer device owns its region and vfio-pci removes it only for a VGA
	# controller: the hook must refuse, say why and how to fix it, and change nothing.
	hook 100 pre-start >/tmp/pre.out 2>&1
	rc=$?
	cat /tmp/pre.out
	check "pre-start refused (exit 1)" test "$rc" = 1
	check "the refusal names the framebuffer left in BAR 0" grep -q 'BOOTFB .* still sits in BAR 0' /tmp/pre.out
	check "the refusal gives the fix" grep -q 'fix: .*initcall_blacklist=sysfb_init' /tmp/pre.out
	check "the refusal is one error line" test "$(grep -c 'still sits in BAR' /tmp/pre.out)" = 1
	expect_driver $GPU none
	expect_driver $AUDIO none
	check "override cleared" test "$(override_of $GPU)" = "(null)"
	check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
	check "framebuffer console restored" fbcon_bound
	after=$(host_snapshot)
	check "host as before" test "$before" = "$after"
	[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
	exit 0
fi
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
check "no firmware framebuffer left in the BAR" not fw_fb_in_iomem
check "pre-start mapped every BAR through VFIO" grep -q "group $g .* ready: .* BARs mapped" /tmp/pre.out
check "BAR0 mmappable through VFIO" labtool vfio $g $GPU $AUDIO --bar0
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop exited 0" test "$rc" = 0
expect_driver $GPU none
expect_driver $AUDIO none
check "override cleared" test "$(override_of $GPU)" = "(null)"
after=$(host_snapshot)
# A firmware framebuffer that vfio-pci removed (6.x, class 0x0300) cannot come back; one that
# the hook only unbound is rebound, and fbcon takes the console again.
gone=
for f in $fbdevs; do [ -e /sys/bus/platform/devices/$f ] || gone="$gone $f"; done
if [ -z "$gone" ]; then
	check "framebuffer console restored" fbcon_bound
	check "firmware framebuffer back in the BAR" fw_fb_in_iomem
	check "host as before" test "$before" = "$after"
else
	for f in $gone; do
		check "post-stop names the removed $f in one line" \
			test "$(grep -c "firmware framebuffer $f was removed by the kernel" /tmp/post.out)" = 1
	done
	# A console that only that framebuffer carried is gone too: post-stop must say so.
	if [ "$(echo "$before" | grep '^vtcon')" != "$(echo "$after" | grep '^vtcon')" ]; then
		check "post-stop says the framebuffer console is gone" grep -q 'is gone: no framebuffer is left to carry a console' /tmp/post.out
	fi
	# Everything else is as before: the removed device, its region and the console it carried
	# (and that console's framebuffer map) are the only differences.
	strip() { grep -Ev "$(echo $gone | tr ' ' '|')|$FW_FB_RE|^vtcon|^con2fb"; }
	check "host as before, but for the removed framebuffer" \
		test "$(echo "$before" | strip)" = "$(echo "$after" | strip)"
fi
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
