# hook-twogpu: two GPUs, the other card's driver loaded first, then the boot card's, which
# takes the consoles where fbcon remaps them to the primary device (5.10 to 6.12; Debian's 7.x
# and the pve kernel leave them on the first card: then the hook leaves the consoles alone
# and says nothing about them). Where the boot card has them, fbcon's vtconsole cannot be unbound here (no
# other console driver is left to take over: the kernel takes the write and changes nothing),
# and on 5.10 unbinding the card's driver under it leaves fbcon with a console map to a
# framebuffer it never opened: the re-probe at post-stop then oopses in
# con2fb_release_oldinfo. The hook moves the consoles to the other card's framebuffer instead
# (FBIOPUT_CON2FBMAP), and the kernel or post-stop moves them back.
echo vfio-pci >/sys/bus/pci/devices/$GPU/driver_override
$MODPROBE "$($MODPROBE -R "$(cat /sys/bus/pci/devices/$GPU2/modalias)" | head -n 1)"
expect_driver $GPU2 bochs-drm
echo >/sys/bus/pci/devices/$GPU/driver_override
echo $GPU >/sys/bus/pci/drivers_probe
load_host_drivers
expect_driver $GPU bochs-drm
labtool con2fb
gpu_fb=$(labtool con2fb | awk -v d=$GPU '$NF == d { print $(NF-1) }')
check "the consoles are on one of the cards" sh -c "labtool con2fb | grep -q ' \($GPU\|$GPU2\)\$'"
gpu_vm_conf 100
before=$(host_snapshot)
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
expect_driver $GPU vfio-pci
if [ -n "$gpu_fb" ]; then
	check "pre-start says where the consoles went" grep -q "consoles tty1-tty63 moved from $gpu_fb ($GPU) to fb[0-9]* ($GPU2)" /tmp/pre.out
else
	check "pre-start leaves the consoles on the other card alone" sh -c "! grep -q 'console' /tmp/pre.out"
fi
check "pre-start does not leave fbcon on the card" sh -c "! grep -q 'stays bound' /tmp/pre.out"
labtool con2fb
check "the consoles are on the other card" sh -c "labtool con2fb | grep -q ' $GPU2\$'"
check "no console left on the card" sh -c "! labtool con2fb | grep -q ' $GPU\$'"
check "group usable through VFIO" labtool vfio "$(group_of $GPU)" $GPU $AUDIO --bar0
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop exited 0" test "$rc" = 0
if [ -n "$gpu_fb" ]; then
	check "post-stop says the consoles are back" grep -q "consoles tty1-tty63 back on fb[0-9]* ($GPU)" /tmp/post.out
else
	check "post-stop has nothing to say about consoles" sh -c "! grep -q 'console' /tmp/post.out"
fi
expect_driver $GPU bochs-drm
expect_driver $GPU2 bochs-drm
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
