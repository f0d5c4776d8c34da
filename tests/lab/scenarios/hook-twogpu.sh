# hook-twogpu: two GPUs, the other card's driver loaded first (it takes the console), then the
# boot card's: fbcon's vtconsole cannot be unbound (no other console driver is left to take
# over) and the kernel accepts the write and changes nothing. The hook must say so, not claim
# the console released, and leave the host as it was after post-stop.
# (Debian's 5.10 oopses in con2fb_release_oldinfo when the card's driver re-probes after this
# sequence, with or without the hook: not in the matrix for 5.10, see issue 11.)
echo vfio-pci >/sys/bus/pci/devices/$GPU/driver_override
$MODPROBE "$($MODPROBE -R "$(cat /sys/bus/pci/devices/$GPU2/modalias)" | head -n 1)"
expect_driver $GPU2 bochs-drm
echo >/sys/bus/pci/devices/$GPU/driver_override
echo $GPU >/sys/bus/pci/drivers_probe
load_host_drivers
expect_driver $GPU bochs-drm
gpu_vm_conf 100
before=$(host_snapshot)
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
expect_driver $GPU vfio-pci
if fbcon_bound; then
	check "pre-start says the console stays bound" grep -q 'stays bound: no other console driver' /tmp/pre.out
	check "pre-start does not claim it unbound" sh -c "! grep -q 'framebuffer console) unbound' /tmp/pre.out"
else
	check "pre-start says the console was unbound" grep -q 'framebuffer console) unbound' /tmp/pre.out
fi
check "group usable through VFIO" labtool vfio "$(group_of $GPU)" $GPU $AUDIO --bar0
expect_hook 0 100 post-stop
expect_driver $GPU bochs-drm
expect_driver $GPU2 bochs-drm
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
