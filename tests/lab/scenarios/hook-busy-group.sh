# hook-busy-group: at post-stop QEMU may still hold the VFIO group (a VM killed hard, a slow
# exit). The hook waits up to release_timeout, then leaves the devices on vfio-pci, says so,
# keeps the state file, and `pve-gpu-passthrough release` gives them back later.
load_host_drivers
printf '[hook]\nrelease_timeout = 1500ms\n' >/etc/pve-gpu-passthrough.ini
chmod 644 /etc/pve-gpu-passthrough.ini
gpu_vm_conf 100
g=$(group_of $GPU)
expect_hook 0 100 pre-start
exec 8<>/dev/vfio/$g
out=$(hook 100 post-stop 2>&1)
rc=$?
echo "$out"
check "post-stop reports the busy group (exit 1)" test $rc = 1
check "and names the holder" contains "$out" "IOMMU group $g is still open by"
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
check "state file kept for later" test -f /run/pve-gpu-passthrough/100.state
check "console still released while the GPU is held" console_off_gpu
exec 8>&-
check "release gives them back" /usr/sbin/pve-gpu-passthrough release 100
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
check "console restored" fbcon_bound
check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
rm -f /etc/pve-gpu-passthrough.ini
