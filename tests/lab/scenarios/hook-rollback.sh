# hook-rollback: binding fails midway (vfio-pci is made unloadable: its module file is
# corrupt, so the load fails after consoles were released and overrides set); the hook undoes
# everything and the host ends as it began.
load_host_drivers
for f in $(find /lib/modules -name 'vfio-pci.ko*'); do echo "not a module" >"$f"; done
check "vfio-pci not loaded yet" test ! -e /sys/bus/pci/drivers/vfio-pci
before=$(host_snapshot)
gpu_vm_conf 100
expect_hook 1 100 pre-start
after=$(host_snapshot)
check "host restored" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
check "console restored" fbcon_bound
check "no state file" test ! -e /run/pve-gpu-passthrough/100.state
