# fault-removed: a member disappears while handed over (sysfs "remove" of the audio function):
# post-stop reports it, gives the GPU back, drops the state and touches nothing else; a rescan
# brings the function back on its own driver.
load_host_drivers
gpu_vm_conf 100
before=$(fault_snapshot)
gpu_driver=$(driver_of $GPU)
expect_hook 0 100 pre-start
echo 1 >/sys/bus/pci/devices/$AUDIO/remove
check "the audio function is gone" test ! -e /sys/bus/pci/devices/$AUDIO
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop exits 0 (status $rc)" test "$rc" = 0
check "it reports the removed member" grep -q "$AUDIO: not in /sys/bus/pci/devices (removed?)" /tmp/post.out
expect_driver $GPU "$gpu_driver"
check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
echo 1 >/sys/bus/pci/rescan
wait_driver $AUDIO snd_hda_intel
after=$(fault_snapshot)
check "host as before (after the rescan)" test "$before" = "$after"
show_diff "$before" "$after"
