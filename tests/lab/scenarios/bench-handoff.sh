# bench-handoff: times the hookscript's pre-start and post-stop for the GPU + audio group
# against labtool's minimal handoff (only the required writes and the VFIO open) on the same
# boot; prints "BENCH name usec" lines that bench/handoff.sh turns into ratios. With
# BENCH_ONE_FB=1 (bench-handoff-onefb) the other card's driver is unbound first, so the GPU
# carries the only framebuffer and the hook unbinds fbcon instead of moving the consoles.
load_host_drivers
if [ "${BENCH_ONE_FB:-0}" = 1 ]; then
	for f in /sys/class/graphics/fb[0-9]*; do
		d=$(basename "$(readlink -f "$f/device")")
		[ "$d" = "$GPU" ] || echo "$d" >"/sys/bus/pci/devices/$d/driver/unbind"
	done
fi
$MODPROBE vfio-pci
$MODPROBE vfio_iommu_type1
gpu_vm_conf 100
vt=$(basename "$(fb_vtcons | head -n 1)" | sed 's/vtcon//')
g=$(group_of $GPU)
n=${BENCH_ROUNDS:-7}
# one untimed round each, to warm caches; where another card has a framebuffer the hook moves
# the consoles there instead of unbinding fbcon (its state file's "con2fb GPU MASK"): the
# minimal program then makes the same moves, to the framebuffer that is left
hook 100 pre-start >/dev/null
if grep -q '^con2fb ' /run/pve-gpu-passthrough/100.state; then
	for f in /sys/class/graphics/fb[0-9]*; do
		vt=move:$(basename "$(readlink -f "$f/device")")
	done
fi
echo "BENCHINFO consoles: ${vt}"
hook 100 post-stop >/dev/null
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
# what the hook costs beyond the minimal program, part by part (bench/handoff.sh subtracts):
# starting a static program; starting the hook (dynamic loader, libc, arguments: post-start
# returns at once); a dry-run pre-start (config, collect, locks, every check, the plan; no
# write, no wait)
for i in $(seq $n); do
	echo "BENCH static-start $(labtool time /usr/bin/labtool)"
	echo "BENCH hook-start $(labtool time $HOOK 100 post-start)"
	echo "BENCH hook-dry-pre-start $(labtool time $HOOK --dry-run 100 pre-start)"
done
# the minimal program linked as the hook is (dynamic, PIE, relro/now): the same start costs
if [ -x /usr/bin/labtool-dyn ]; then
	for i in $(seq $n); do
		echo "BENCH dyn-start $(labtool time /usr/bin/labtool-dyn)"
		echo "BENCH mindyn-to-vfio $(labtool time /usr/bin/labtool-dyn min to-vfio "$vt" "$g" $GPU $AUDIO)"
		expect_driver $GPU vfio-pci >/dev/null
		echo "BENCH mindyn-to-host $(labtool time /usr/bin/labtool-dyn min to-host "$vt" "$g" $GPU $AUDIO)"
		expect_driver $GPU bochs-drm >/dev/null
	done
fi
expect_driver $GPU bochs-drm >/dev/null
LD_DEBUG=statistics $HOOK 100 post-start 2>&1 | sed -n 's/^[[:space:]]*[0-9]*:[[:space:]]*\(total startup time in dynamic loader\|number of relocations\|time needed for relocation\|time needed to load objects\)/BENCHINFO \1/p' | head -n 4
