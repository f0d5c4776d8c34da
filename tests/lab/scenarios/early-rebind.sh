# early-rebind: the real initramfs with "[early] addresses = 0000:00:02.0, 0000:00:02.1" and a
# test-only init-top script that binds the host drivers before ours runs, the way a driver
# built into the kernel holds its device before any initramfs script (tests/initramfs). The
# boot script must unbind them and probe: both end on vfio-pci and the group is viable.
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
expect_driver $GPU2 bochs-drm
check "boot line for $GPU names the driver it replaced" early_line "$GPU 1234:1111 -> vfio-pci (unbound from bochs-drm)"
check "boot line for $AUDIO names the driver it replaced" early_line "$AUDIO 8086:293e -> vfio-pci (unbound from snd_hda_intel)"
check "dmesg shows bochs-drm had $GPU first" saw_host $GPU
check "record: $GPU bound" grep -q "^$GPU bound " /run/pve-gpu-passthrough/early
check "group $(group_of $GPU) viable (labtool)" labtool vfio "$(group_of $GPU)" $GPU $AUDIO
