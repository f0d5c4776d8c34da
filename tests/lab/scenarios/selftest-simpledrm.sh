# selftest-simpledrm: on a Proxmox-configured kernel (SYSFB_SIMPLEFB=y, DRM_SIMPLEDRM=y, no
# efifb/vesafb) the boot GPU's firmware framebuffer is simpledrm on simple-framebuffer.0: the
# platform device's own BOOTFB region sits in BAR0, and since 6.11 the device sits below the
# GPU. If this fails, the lab no longer tests the case Proxmox hosts have.
check "kernel config has SYSFB_SIMPLEFB=y" grep -qx 'CONFIG_SYSFB_SIMPLEFB=y' /lab/kconfig
check "kernel config has DRM_SIMPLEDRM=y" grep -qx 'CONFIG_DRM_SIMPLEDRM=y' /lab/kconfig
check "kernel has no efifb/vesafb" sh -c "! grep -Eqx 'CONFIG_FB_(EFI|VESA)=y' /lab/kconfig"
sfb=/sys/bus/platform/devices/simple-framebuffer.0
check "simple-framebuffer.0 exists" test -e $sfb
check "simple-framebuffer.0 is bound to simpledrm" \
	test "$(basename "$(readlink $sfb/driver 2>/dev/null)")" = simple-framebuffer
check "simpledrm provides a DRM device" test -d $sfb/drm
check "simple-framebuffer.0 sits below the GPU" sh -c "readlink -f $sfb | grep -q '/$GPU/'"
check "no efi-/vesa-framebuffer device" sh -c "! ls /sys/bus/platform/devices | grep -Eq '^(efi|vesa)-framebuffer'"
bar0=$(head -n 1 /sys/bus/pci/devices/$GPU/resource | awk '{print $1}')
bar0end=$(head -n 1 /sys/bus/pci/devices/$GPU/resource | awk '{print $2}')
fbline=$(grep 'BOOTFB' /proc/iomem | head -n 1)
check "BOOTFB region in /proc/iomem ($fbline)" test -n "$fbline"
fbstart=0x$(echo "$fbline" | sed 's/^ *\([0-9a-f]*\)-.*/\1/')
check "BOOTFB lies inside BAR0 ($bar0-$bar0end)" \
	sh -c "[ $((fbstart)) -ge $((bar0)) ] && [ $((fbstart)) -le $((bar0end)) ]"
check "a framebuffer console is bound" fbcon_bound
grep -E 'BOOTFB|simple' /proc/iomem | sed 's/^/iomem: /'
