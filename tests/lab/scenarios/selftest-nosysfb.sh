# selftest-nosysfb (booted with initcall_blacklist=sysfb_init): records what the parameter does
# on this kernel. check advises it as the boot-time way to keep the firmware framebuffer off a
# GPU; this asserts that on this kernel it does: no firmware framebuffer device, no region in
# the GPU's BAR, and the GPU's BAR0 free for vfio-pci without any release.
check "booted with initcall_blacklist=sysfb_init" grep -q 'initcall_blacklist=sysfb_init' /proc/cmdline
devs=$(ls /sys/bus/platform/devices | grep -E -- '-framebuffer\.|^efi-display\.' | tr '\n' ' ')
echo "LAB-NOTE nosysfb $(uname -r): firmware framebuffer devices: ${devs:-none}; iomem: $(grep -E 'efifb|vesafb|BOOTFB|simple|framebuffer' /proc/iomem | tr -s ' ' | tr '\n' ';')"
check "no firmware framebuffer platform device" test -z "$devs"
check "no firmware framebuffer in /proc/iomem" not fw_fb_in_iomem
