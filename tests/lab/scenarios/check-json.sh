# check-json: `list --json` and `check --json` on the real kernel agree with what the lab
# knows: the GPU and its audio function share a group, the second GPU and the disk have their
# own, the drivers are the ones bound, the mounted disk is host-critical, and the firmware
# framebuffer overlap is reported while it exists (before the host GPU driver loads) and not
# after. VM 100 passes the GPU, so its findings are not demoted to INFO.
CLI=/usr/sbin/pve-gpu-passthrough
mount_disk
gpu=$(group_of $GPU)
# a VM uses the GPU: its findings count (the host's console GPU used by no VM would be INFO)
gpu_vm_conf 100
$CLI check --json >/tmp/check1.json
echo "check exit $?"
if fw_fb_in_iomem; then
	check "check: firmware framebuffer in the GPU's BAR" \
		jqe --arg a $GPU --arg re "$FW_FB_RE" '.devices[] | select(.address == $a) | .framebuffer.name | test($re)' /tmp/check1.json
	# A framebuffer the hook can release is a warning; a simple-framebuffer's own region on a
	# display that is not a VGA controller cannot be released (the hook refuses): a failure.
	want=warn
	grep -q BOOTFB /proc/iomem && [ "$(cat /sys/bus/pci/devices/$GPU/class)" != 0x030000 ] && want=fail
	check "check: fb.bar_overlap is $want" \
		jqe --arg w $want '[.checks[] | select(.id == "fb.bar_overlap" and .status == $w)] | length > 0' /tmp/check1.json
	jq -c '.checks[] | select(.id == "fb.bar_overlap")' /tmp/check1.json
fi
check "check: IOMMU on" jqe '.host.iommu.enabled == true' /tmp/check1.json
check "check: the disk is host-critical" jqe --arg a $DISK '.host_critical | tostring | contains($a)' /tmp/check1.json
load_host_drivers
$CLI list --all --json >/tmp/list.json
echo "list exit $?"
for d in $GPU $AUDIO $GPU2 $DISK; do
	check "list: $d in group $(group_of $d)" \
		jqe --arg a $d --argjson g "$(group_of $d)" '.groups[] | select(.group == $g) | .devices[] | select(.address == $a)' /tmp/list.json
	check "list: $d driver $(driver_of $d)" \
		jqe --arg a $d --arg drv "$(driver_of $d)" '.groups[].devices[] | select(.address == $a) | .driver == $drv' /tmp/list.json
done
check "list: GPU and audio together" \
	jqe --argjson g "$gpu" --arg a $GPU --arg b $AUDIO '[.groups[] | select(.group == $g) | .devices[] | select(.bridge | not) | .address] == [$a, $b]' /tmp/list.json
# Behind a switch port without ACS the port shares the card's group: listed as a bridge.
for b in $(ls /sys/kernel/iommu_groups/$gpu/devices); do
	[ -d /sys/bus/pci/devices/$b/pci_bus ] || continue
	check "list: bridge $b in the card's group is marked a bridge" \
		jqe --arg a $b '.groups[].devices[] | select(.address == $a) | .bridge == true' /tmp/list.json
done
check "list: the disk is host-critical" \
	jqe --arg a $DISK '.groups[].devices[] | select(.address == $a) | .host_critical | tostring | contains("/mnt/disk")' /tmp/list.json
$CLI check --json >/tmp/check2.json
check "check after the DRM driver took over: no framebuffer overlap" \
	jqe --arg a $GPU '.devices[] | select(.address == $a) | .framebuffer == null' /tmp/check2.json
$CLI check | sed -n '/PASS\|WARN\|FAIL/p' | head -30
