# hook-fbonly: no host GPU driver, only the firmware framebuffer (efifb/vesafb) holds the GPU.
# Without releasing it, the VFIO BAR0 mmap fails with EBUSY on 5.10 and for class 0x0380
# displays; the hook must release it. Back at post-stop, the GPU had no driver, so it stays
# without one, and the console comes back.
before=$(host_snapshot)
check "firmware framebuffer holds the GPU" fw_fb_in_iomem
gpu_vm_conf 100
g=$(group_of $GPU)
expect_hook 0 100 pre-start
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
check "no firmware framebuffer left in the BAR" not fw_fb_in_iomem
check "BAR0 mmappable through VFIO" labtool vfio $g $GPU $AUDIO --bar0
expect_hook 0 100 post-stop
expect_driver $GPU none
expect_driver $AUDIO none
check "override cleared" test "$(override_of $GPU)" = "(null)"
# A firmware framebuffer that vfio-pci removed (6.x, class 0x0300) cannot come back; one that
# the hook only unbound is rebound, and fbcon takes the console again.
if ls /sys/bus/platform/devices/ | grep -q -- '-framebuffer\.'; then
	check "framebuffer console restored" fbcon_bound
	check "firmware framebuffer back in the BAR" fw_fb_in_iomem
fi
