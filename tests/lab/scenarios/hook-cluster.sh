# hook-cluster: a live migration's target and a backup's start, on a real kernel (issue 29).
# 1. Migration target: qemu-server starts the VM with PVE_MIGRATED_FROM=SOURCE while the
#    config is still in /etc/pve/nodes/SOURCE/qemu-server; mapping labgpu has an entry per
#    node (the source's names the second card). The hook reads the source's config and hands
#    over this node's entry: the GPU, not the second card.
# 2. This node as a migration source: the VM left (no QEMU here, no post-stop): release
#    --stale (the package's timer) gives the devices back from the state file.
# 3. A backup's start (lock: backup) with [vm:111] backup = refuse: one line naming the
#    policy, exit 1, nothing changed; with the default (handoff) it is handed over and back.
load_host_drivers
rm -rf /var/lock/qemu-server /etc/pve-gpu-passthrough.ini # no Proxmox lock: no watcher acts
before=$(host_snapshot)
node=$(uname -n)
node=${node%%.*}
entry() { # ADDRESS NODE: a map entry for the card at ADDRESS, as Proxmox's GUI writes it
	printf '\tmap id=%s:%s,iommugroup=%s,node=%s,path=%s,subsystem-id=%s:%s\n' \
		"$(sed 's/^0x//' /sys/bus/pci/devices/$1/vendor)" \
		"$(sed 's/^0x//' /sys/bus/pci/devices/$1/device)" "$(group_of $1)" "$2" "$1" \
		"$(sed 's/^0x//' /sys/bus/pci/devices/$1/subsystem_vendor)" \
		"$(sed 's/^0x//' /sys/bus/pci/devices/$1/subsystem_device)"
}
mkdir -p /etc/pve/mapping /etc/pve/qemu-server /etc/pve/nodes/srcnode/qemu-server
{ echo labgpu; entry $GPU2 srcnode; entry $GPU "$node"; } >/etc/pve/mapping/pci.cfg
printf 'bios: ovmf\nmachine: q35\nhostpci0: mapping=labgpu,pcie=1\n' \
	>/etc/pve/nodes/srcnode/qemu-server/110.conf
rm -f /etc/pve/qemu-server/110.conf
out=$(env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin PVE_MIGRATED_FROM=srcnode $HOOK 110 pre-start </dev/null 2>&1)
rc=$?
echo "$out"
check "migration target: pre-start exit 0 (status $rc)" test $rc = 0
expect_driver $GPU vfio-pci
expect_driver $GPU2 bochs-drm
check "state file of VM 110" test -f /run/pve-gpu-passthrough/110.state
watcher_alive() {
	for p in /proc/[0-9]*; do
		grep -q 'pve-gpu-passthrough-hoo[k]' "$p/cmdline" 2>/dev/null && return 0
	done
	return 1
}
i=0
while watcher_alive && [ $i -lt 600 ]; do usleep 50000; i=$((i + 1)); done
# the VM migrated on from here: no QEMU, no post-stop; the timer's release --stale
mkdir -p /var/lock/qemu-server
/usr/sbin/pve-gpu-passthrough release --stale >/tmp/stale.out 2>&1
rc=$?
cat /tmp/stale.out
check "release --stale exit 0 (status $rc)" test $rc = 0
check "it says VM 110 is not running" grep -q 'VM 110 is not running' /tmp/stale.out
check "state file of VM 110 removed" test ! -e /run/pve-gpu-passthrough/110.state
after=$(host_snapshot)
check "host as before after the migration" test "$before" = "$after"

rm -rf /var/lock/qemu-server
write_vm_conf 111 "bios: ovmf" "machine: q35" "hostpci0: ${GPU%.*},pcie=1" "lock: backup"
printf '[vm:111]\nbackup = refuse\n' >/etc/pve-gpu-passthrough.ini
chmod 644 /etc/pve-gpu-passthrough.ini
out=$(hook 111 pre-start 2>&1)
rc=$?
echo "$out"
check "backup = refuse: pre-start exit 1 (status $rc)" test $rc = 1
check "the refusal names the policy" contains "$out" 'lock: backup\) and \[hook\] backup = refuse'
check "no state file" test ! -e /run/pve-gpu-passthrough/111.state
after=$(host_snapshot)
check "backup refused: host unchanged" test "$before" = "$after"
rm -f /etc/pve-gpu-passthrough.ini
expect_hook 0 111 pre-start
expect_driver $GPU vfio-pci
i=0
while watcher_alive && [ $i -lt 600 ]; do usleep 50000; i=$((i + 1)); done
expect_hook 0 111 post-stop
after=$(host_snapshot)
check "backup = handoff: host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
