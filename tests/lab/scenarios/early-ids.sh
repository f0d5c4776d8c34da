# early-ids: the real initramfs with "[early] ids = 1234:1111" (tests/initramfs). ids take every
# device with those ids: both identical GPUs end on vfio-pci (the documented limit of ids), the
# audio function (other ids) stays with snd_hda_intel.
expect_driver $GPU vfio-pci
expect_driver $GPU2 vfio-pci
expect_driver $AUDIO snd_hda_intel
check "options line in the image" grep -q '^options vfio-pci ids=1234:1111$' /etc/modprobe.d/pve-gpu-passthrough.conf
check "softdep for bochs in the image" grep -Eq '^softdep bochs(_drm)? pre: vfio-pci$' /etc/modprobe.d/pve-gpu-passthrough.conf
check "boot line for $GPU" early_line "$GPU 1234:1111 -> vfio-pci"
check "boot line for $GPU2" early_line "$GPU2 1234:1111 -> vfio-pci"
check "$GPU never on a host driver (dmesg)" never_host $GPU
check "$GPU2 never on a host driver (dmesg)" never_host $GPU2
check "record: $GPU2 bound" grep -q "^$GPU2 bound " /run/pve-gpu-passthrough/early
check "dmesg shows snd_hda_intel taking $AUDIO (the checks above can see it)" saw_host $AUDIO
