# selftest-fb: the firmware framebuffer (efifb under OVMF, vesafb under SeaBIOS with vga=)
# holds the boot GPU's BAR, as on a real host before any GPU driver loads.
check "firmware fb in /proc/iomem" fw_fb_in_iomem
bar0=$(head -n 1 /sys/bus/pci/devices/$GPU/resource | awk '{print $1}')
fbline=$(grep -E 'efifb|vesafb|BOOTFB' /proc/iomem | head -n 1)
fbstart=0x$(echo "$fbline" | sed 's/^ *\([0-9a-f]*\)-.*/\1/')
check "firmware fb starts inside BAR0 ($fbline)" test $((fbstart)) -ge $((bar0))
check "a framebuffer vtconsole exists" test -n "$(fb_vtcons)"
check "a firmware framebuffer platform device exists" test -n "$(ls -d /sys/bus/platform/devices/*-framebuffer.* 2>/dev/null)"
