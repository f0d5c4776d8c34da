# bench-handoff: times the hookscript's pre-start and post-stop for the GPU + audio group
# against labtool's minimal handoff (only the required writes and the VFIO open) on the same
# boot; prints "BENCH name usec" lines that bench/handoff.sh turns into ratios.
load_host_drivers
$MODPROBE vfio-pci
$MODPROBE vfio_iommu_type1
gpu_vm_conf 100
vt=$(basename "$(fb_vtcons | head -n 1)" | sed 's/vtcon//')
g=$(group_of $GPU)
n=${BENCH_ROUNDS:-7}
# one untimed round each, to warm caches
hook 100 pre-start >/dev/null && hook 100 post-stop >/dev/null
labtool min to-vfio "$vt" "$g" $GPU $AUDIO && labtool min to-host "$vt" "$g" $GPU $AUDIO
for i in $(seq $n); do
	echo "BENCH hook-pre-start $(labtool time $HOOK 100 pre-start)"
	expect_driver $GPU vfio-pci >/dev/null
	echo "BENCH hook-post-stop $(labtool time $HOOK 100 post-stop)"
	expect_driver $GPU bochs-drm >/dev/null
	echo "BENCH min-to-vfio $(labtool time /usr/bin/labtool min to-vfio "$vt" "$g" $GPU $AUDIO)"
	expect_driver $GPU vfio-pci >/dev/null
	echo "BENCH min-to-host $(labtool time /usr/bin/labtool min to-host "$vt" "$g" $GPU $AUDIO)"
	expect_driver $GPU bochs-drm >/dev/null
done
