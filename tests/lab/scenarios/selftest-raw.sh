# selftest-raw: the raw kernel sequence (no product code) moves the whole group to vfio-pci,
# VFIO proves it usable, and the reverse gives it back to the host drivers.
load_host_drivers
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
g=$(group_of $GPU)
raw_to_vfio $GPU
expect_driver $GPU vfio-pci
check "group not viable with audio still on the host" sh -c "! labtool vfio $g $GPU >/dev/null"
raw_to_vfio $AUDIO
expect_driver $AUDIO vfio-pci
check "/dev/vfio/$g exists" test -c /dev/vfio/$g
check "vfio proof (viable, container, dma map, device fds)" labtool vfio $g $GPU $AUDIO
raw_to_host $GPU $AUDIO
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
expect_driver $GPU2 bochs-drm
