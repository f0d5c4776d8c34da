# demo: what `make demo` shows - a Proxmox VM config asking for the GPU, the real hookscript
# handing the GPU and its audio function to vfio-pci at pre-start, QEMU's use of the group
# (played by labtool), and the devices given back at post-stop.
show() {
	printf '    %-13s %-10s %-7s %-6s %s\n' ADDRESS ID CLASS GROUP DRIVER
	for d in $GPU $AUDIO $GPU2 $DISK; do
		printf '    %-13s %-10s %-7s %-6s %s\n' $d \
			"$(sed 's/0x//' /sys/bus/pci/devices/$d/vendor):$(sed 's/0x//' /sys/bus/pci/devices/$d/device)" \
			"$(cut -c3-6 /sys/bus/pci/devices/$d/class)" "$(group_of $d)" "$(driver_of $d)"
	done
	printf '    consoles:'
	for v in /sys/class/vtconsole/vtcon*; do printf ' %s=%s' "$(basename $v)" "$(cat $v/bind)"; done
	fb=$(grep -Eo 'efifb|vesafb|BOOTFB' /proc/iomem | head -n 1)
	printf '  firmware framebuffer in /proc/iomem: %s\n' "${fb:-none}"
}
echo
echo "== 0. Boot (kernel $(uname -r)): the UEFI firmware framebuffer holds the GPU, no drivers yet"
show
echo
echo "== 1. The host: its drivers loaded as udev would (bochs-drm replaces efifb)"
load_host_drivers
mount_disk
show
echo
echo "== 2. The VM: /etc/pve/qemu-server/100.conf"
gpu_vm_conf 100
sed 's/^/    /' /etc/pve/qemu-server/100.conf
echo
echo "== 3. Proxmox starts the VM: pve-gpu-passthrough-hook 100 pre-start"
hook 100 pre-start | sed 's/^/    /'
show
echo
echo "== 4. QEMU opens the group (labtool: container, DMA map, device fds, BAR0 mmap)"
labtool vfio "$(group_of $GPU)" $GPU $AUDIO --bar0 | sed 's/^/    /'
echo
echo "== 5. The VM stops: pve-gpu-passthrough-hook 100 post-stop"
hook 100 post-stop | sed 's/^/    /'
show
expect_driver $GPU bochs-drm >/dev/null
expect_driver $AUDIO snd_hda_intel >/dev/null
expect_driver $GPU2 bochs-drm >/dev/null
fbcon_bound || lab_fail "console not restored"
