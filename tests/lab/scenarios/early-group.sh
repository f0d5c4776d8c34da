# early-group: the real initramfs with "[early] addresses = 0000:00:02.0, 0000:00:02.1"
# (tests/initramfs). The GPU and its HDMI audio share one IOMMU group: both go to vfio-pci at
# boot and the group is viable for VFIO; the identical second GPU stays with bochs-drm.
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
expect_driver $GPU2 bochs-drm
check "boot line for $AUDIO" early_line "$AUDIO 8086:293e -> vfio-pci"
check "$GPU never on a host driver (dmesg)" never_host $GPU
check "$AUDIO never on a host driver (dmesg)" never_host $AUDIO
check "vfio modules loaded" test -d /sys/module/vfio_iommu_type1
check "group $(group_of $GPU) viable (labtool)" labtool vfio "$(group_of $GPU)" $GPU $AUDIO
check "dmesg shows bochs-drm taking $GPU2 (the checks above can see it)" saw_host $GPU2
