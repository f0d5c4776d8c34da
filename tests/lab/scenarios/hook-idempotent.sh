# hook-idempotent: pre-start twice is a no-op the second time (the originals are kept);
# post-stop without a pre-start does nothing; post-start and pre-stop do nothing.
load_host_drivers
before=$(host_snapshot)
gpu_vm_conf 100
write_vm_conf 102 "hostpci0: $GPU2"
expect_hook 0 102 post-stop
check "post-stop without pre-start changed nothing" test "$before" = "$(host_snapshot)"
expect_hook 0 100 pre-start
expect_hook 0 100 pre-start
expect_hook 0 100 post-start
expect_hook 0 100 pre-stop
expect_driver $GPU vfio-pci
check "state keeps the original driver" grep -q "device $GPU .*driver bochs-drm" /run/pve-gpu-passthrough/100.state
expect_hook 0 100 post-stop
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
check "host as before" test "$before" = "$(host_snapshot)"
expect_hook 0 100 post-stop
