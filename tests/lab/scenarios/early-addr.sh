# early-addr: the real initramfs with "[early] addresses = 0000:00:02.0" (tests/initramfs).
# Only the configured one of the two identical GPUs goes to vfio-pci, before udev loads
# bochs-drm, which takes the other one; the configured one never saw its host driver.
expect_driver $GPU vfio-pci
expect_driver $GPU2 bochs-drm
expect_driver $AUDIO snd_hda_intel
check "override of $GPU is vfio-pci" test "$(cat /sys/bus/pci/devices/$GPU/driver_override)" = vfio-pci
check "override of $GPU2 unset" test "$(cat /sys/bus/pci/devices/$GPU2/driver_override)" = "(null)"
check "boot line for $GPU" early_line "$GPU 1234:1111 -> vfio-pci"
check "$GPU never on a host driver (dmesg)" never_host $GPU
check "early binding logged before bochs-drm loaded" early_line_first
check "our script before udev in ORDER" early_before_udev
check "record: $GPU bound" grep -q "^$GPU bound " /run/pve-gpu-passthrough/early
check "no modprobe.d file without ids" test ! -e /etc/modprobe.d/pve-gpu-passthrough.conf
check "dmesg shows bochs-drm taking $GPU2 (the check above can see it)" saw_host $GPU2
