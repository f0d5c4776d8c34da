# hook-vgacon: VGA text mode (SeaBIOS behind a root port: no VBE, no firmware framebuffer) and
# no host GPU driver: vgacon on the boot card is the host console. From 6.0 vfio-pci removes
# it when it binds ("vgaarb: deactivate vga console", the dummy console takes over, and the
# text-mode sysfb device goes with it): nothing can bring it back before the next boot. check
# must say so beforehand and pre-start and post-stop in the task log; everything else must be
# as before. On 5.10 vgacon stays and the host is exactly as before.
CLI=/usr/sbin/pve-gpu-passthrough
series=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
before=$(host_snapshot)
check "vgacon is the console" sh -c "grep -q 'VGA+' /sys/class/vtconsole/vtcon*/name"
gpu_vm_conf 100
$CLI check >/tmp/check.out 2>&1
grep -i 'vgacon' /tmp/check.out
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
expect_driver $GPU vfio-pci
check "group usable through VFIO" labtool vfio "$(group_of $GPU)" $GPU $AUDIO --bar0
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop exited 0" test "$rc" = 0
expect_driver $GPU none
after=$(host_snapshot)
if [ "$series" -ge 600 ]; then
	check "check warns before" grep -q "WARN.*VGA text console (vgacon) on this boot GPU goes when vfio-pci takes it" /tmp/check.out
	check "pre-start says what is lost" grep -q "warning: $GPU: the VGA text console (vgacon) on this boot GPU goes when vfio-pci takes it" /tmp/pre.out
	check "post-stop says it is not back" grep -q "$GPU: the VGA text console (vgacon) that vfio-pci removed at pre-start comes back only at the next boot" /tmp/post.out
	check "the kernel did remove it" sh -c "! grep -q 'VGA+' /sys/class/vtconsole/vtcon*/name"
	keep() { grep -v '^vtcon\|-framebuffer\.'; } # vga- (6.12) or platform-framebuffer.0 (6.1)
	check "host as before but for the text console" test "$(echo "$before" | keep)" = "$(echo "$after" | keep)"
	[ "$(echo "$before" | keep)" = "$(echo "$after" | keep)" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
else
	check "check says nothing of vgacon" not grep -q vgacon /tmp/check.out
	check "the hook says nothing of vgacon" not grep -q vgacon /tmp/pre.out /tmp/post.out
	check "host as before" test "$before" = "$after"
	[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
fi
