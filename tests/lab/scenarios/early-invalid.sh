# early-invalid: the real initramfs built from an invalid INI (tests/initramfs): the hook warned
# and left early binding out, and the system boots with every device on its host driver.
expect_driver $GPU bochs-drm
expect_driver $GPU2 bochs-drm
expect_driver $AUDIO snd_hda_intel
check "no early binary in the image" test ! -e /usr/sbin/pve-gpu-passthrough-early
check "no INI in the image" test ! -e /etc/pve-gpu-passthrough.ini
check "no early-binding lines at boot" sh -c '! dmesg | grep -q "pve-gpu-passthrough: "'
check "no boot record" test ! -e /run/pve-gpu-passthrough/early
check "dmesg shows bochs-drm taking $GPU" saw_host $GPU
check "dmesg shows snd_hda_intel taking $AUDIO" saw_host $AUDIO
