# selftest-groups: the emulated IOMMU gives real groups; GPU and its audio share one.
check "iommu groups exist" test -n "$(ls /sys/kernel/iommu_groups)"
check "GPU has a group" test -e /sys/bus/pci/devices/$GPU/iommu_group
check "GPU and audio share a group" test "$(group_of $GPU)" = "$(group_of $AUDIO)"
check "second GPU in another group" test "$(group_of $GPU)" != "$(group_of $GPU2)"
check "disk in another group" test "$(group_of $GPU)" != "$(group_of $DISK)"
check "identical ids on both GPUs" test "$(cat /sys/bus/pci/devices/$GPU/device)" = "$(cat /sys/bus/pci/devices/$GPU2/device)"
# Behind a root port with ACS (QEMU's default) the port has a group of its own; with
# disable-acs=on it joins the card's; a switch's downstream port has no ACS capability.
case $TOPO in
rp) check "root port $PORT in a group of its own" test "$(group_of $PORT)" != "$(group_of $GPU)" ;;
rpnoacs|switch) check "port $PORT in the card's group" test "$(group_of $PORT)" = "$(group_of $GPU)" ;;
esac
