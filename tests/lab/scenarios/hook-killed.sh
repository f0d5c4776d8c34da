# hook-killed: the hook dies in the middle of a VM start (a kill point right after its first
# drivers_probe: the GPU is on vfio-pci, its audio function still on its own driver, the console
# released); the state file it wrote first lets post-stop put the host back as it was.
load_host_drivers
gpu_vm_conf 100
before=$(host_snapshot)
env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin PGP_TEST_KILL_POINT=drivers_probe:1 \
	$HOOK 100 pre-start </dev/null
rc=$?
check "hook killed at its kill point (status $rc)" test "$rc" = 137
check "state file written before anything changed" test -f /run/pve-gpu-passthrough/100.state
expect_driver $GPU vfio-pci
expect_driver $AUDIO snd_hda_intel
check "audio override set" test "$(override_of $AUDIO)" = vfio-pci
expect_hook 0 100 post-stop
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
check "framebuffer console restored" fbcon_bound
check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
