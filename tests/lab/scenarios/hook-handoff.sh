# hook-handoff: the real hookscript hands the GPU and its audio function (one IOMMU group) to
# vfio-pci at pre-start and gives them back at post-stop, twice; the identical second GPU and
# the console are handled right.
load_host_drivers
gpu_vm_conf 100
before=$(host_snapshot)
g=$(group_of $GPU)
for cycle in 1 2; do
	echo "cycle $cycle"
	expect_hook 0 100 pre-start
	expect_driver $GPU vfio-pci
	expect_driver $AUDIO vfio-pci
	expect_driver $GPU2 bochs-drm
	# a port in the card's group (no ACS) is not an endpoint: it stays on pcieport
	for b in $(group_bridges $g); do expect_driver $b pcieport; done
	check "state file written" test -f /run/pve-gpu-passthrough/100.state
	check "framebuffer console released" console_off_gpu
	check "group viable and BAR0 mmappable through VFIO" labtool vfio $g $GPU $AUDIO --bar0
	expect_hook 0 100 post-stop
	expect_driver $GPU bochs-drm
	expect_driver $AUDIO snd_hda_intel
	expect_driver $GPU2 bochs-drm
	check "override cleared" test "$(override_of $GPU)" = "(null)"
	check "framebuffer console restored" fbcon_bound
	check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
done
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
