# hook-refuse: a VM asking for the group of the mounted disk is refused, and nothing changes;
# so is a VM whose GPU is held open by a host process.
load_host_drivers
mount_disk
check "disk mounted" grep -q ' /mnt/disk ' /proc/mounts
before=$(host_snapshot)
write_vm_conf 101 "hostpci0: $DISK"
out=$(hook 101 pre-start 2>&1)
rc=$?
echo "$out"
check "refused (exit 1)" test $rc = 1
check "the refusal names the device and the mount" contains "$out" "refusing: $DISK.*backs /mnt/disk"
gpu_vm_conf 100
exec 7</dev/dri/card0
out=$(hook 100 pre-start 2>&1)
rc=$?
exec 7<&-
echo "$out"
check "GPU in use: refused (exit 1)" test $rc = 1
check "the refusal names the holder" contains "$out" 'in use on the host by'
# A mapping Proxmox would refuse (no subsystem-id, which every real device has) is refused
# by the hook too, before anything is bound.
node=$(uname -n)
node=${node%%.*}
vid=$(cat /sys/bus/pci/devices/$GPU/vendor)
did=$(cat /sys/bus/pci/devices/$GPU/device)
printf 'labgpu\n\tmap node=%s,path=%s,id=%s:%s,iommugroup=%s\n' "$node" "${GPU%.*}" "${vid#0x}" \
	"${did#0x}" "$(group_of $GPU)" >/etc/pve/mapping/pci.cfg
write_vm_conf 102 "bios: ovmf" "machine: q35" "hostpci0: mapping=labgpu,pcie=1"
out=$(hook 102 pre-start 2>&1)
rc=$?
echo "$out"
check "mapping without subsystem-id: refused (exit 1)" test $rc = 1
check "the refusal is Proxmox's" contains "$out" "mapping invalid \(hardware probably changed\): missing expected property 'subsystem-id'"
after=$(host_snapshot)
check "host unchanged" test "$before" = "$after"
check "no state file" test ! -e /run/pve-gpu-passthrough/100.state
