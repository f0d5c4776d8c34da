# sriov-late (issue 31, topology sriov): a VM passing a VF of the INI's [sriov] PF starts
# before the VFs are made (the PF's driver bound after pve-guests, or the boot unit failed):
# pre-start makes them with sriov apply's engine, then hands the VF over, and post-stop gives
# it back. Before that: with the PF unbound, one line and nothing written; a VM whose missing
# device is no VF of the PF leaves the PF alone.
INI=/etc/pve-gpu-passthrough.ini
load_host_drivers
sriov_pf || return 0

# ---- the first VF's address: the PF's routing id + sriov_offset, as the hook computes it;
# checked against virtfn0 once (autoprobe off: no host driver on the VFs)
off=$(cat $sys/sriov_offset)
dom=${PF%%:*}
rest=${PF#*:}
bus=$((0x${rest%%:*}))
rest=${rest#*:}
slot=$((0x${rest%%.*}))
fn=${rest#*.}
rid=$((bus * 256 + slot * 8 + fn + off))
VF=$(printf '%s:%02x:%02x.%x' "$dom" $((rid / 256)) $(((rid % 256) / 8)) $((rid % 8)))
echo 0 >$sys/sriov_drivers_autoprobe
echo 2 >$sys/sriov_numvfs
check "the computed first VF $VF is virtfn0" test "$(basename "$(readlink $sys/virtfn0)")" = "$VF"
echo 0 >$sys/sriov_numvfs
echo 1 >$sys/sriov_drivers_autoprobe
check "no VFs again" test ! -e /sys/bus/pci/devices/$VF
before=$(sriov_snap)

mkdir -p /etc
printf '[hook]\nbind_timeout = 2s\n[sriov]\npf = %s\nvfs = 2\ndriver = vfio-pci\n' "$PF" >$INI
chmod 644 $INI
write_vm_conf 131 "machine: q35" "hostpci0: $VF,pcie=1"

# ---- the PF without a driver: one line, nothing written, exit 1 ----
echo $PF >/sys/bus/pci/drivers/nvme/unbind
check "the PF has no driver" test "$(driver_of $PF)" = none
unbound=$(sriov_snap)
hook_out 131 pre-start
check "PF without driver: pre-start exits 1" test $rc = 1
check "PF without driver: the line names the VF, the PF and the unit" \
	contains "$out" "error: VF $VF of \[sriov\] PF $PF does not exist: PF $PF has no driver yet; VFs are made when its driver binds \(pve-gpu-passthrough-sriov@$PF.service\)"
check "PF without driver: nothing written" test "$(sriov_snap)" = "$unbound"
show_diff "$unbound" "$(sriov_snap)"
check "PF without driver: no state file" test ! -e /run/pve-gpu-passthrough/131.state
echo $PF >/sys/bus/pci/drivers/nvme/bind
wait_driver $PF nvme
expect_driver $PF nvme

# ---- a VM whose missing device is no VF of the PF: the PF untouched ----
write_vm_conf 132 "machine: q35" "hostpci0: 0000:00:1e.0,pcie=1"
check "00:1e.0 does not exist" test ! -e /sys/bus/pci/devices/0000:00:1e.0
hook_out 132 pre-start
check "no VF of the PF: pre-start exits 1" test $rc = 1
check "no VF of the PF: Proxmox's error, no [sriov] line" not contains "$out" "\[sriov\]"
check "no VF of the PF: the PF untouched" test "$(sriov_snap)" = "$before"
show_diff "$before" "$(sriov_snap)"

# ---- the VF not made yet: pre-start makes the VFs and hands it over ----
hook_out 131 pre-start
check "pre-start exits 0" test $rc = 0
check "pre-start says it makes the VFs" \
	contains "$out" "VF $VF of \[sriov\] PF $PF does not exist \(0 of 2 VFs\): making them as the INI says"
check "sriov_numvfs = 2" test "$(cat $sys/sriov_numvfs)" = 2
check "sriov_drivers_autoprobe = 0" test "$(cat $sys/sriov_drivers_autoprobe)" = 0
expect_driver $VF vfio-pci
VF2=$(basename "$(readlink $sys/virtfn1)")
expect_driver $VF2 vfio-pci
expect_driver $PF nvme
check "a state file while it runs" test -e /run/pve-gpu-passthrough/131.state
running=$(sriov_snap)
hook_out 131 post-stop
check "post-stop exits 0" test $rc = 0
expect_driver $VF vfio-pci
check "post-stop: as pre-start found it after making the VFs, no state" \
	test "$(sriov_snap)" = "$(echo "$running" | grep -v '^state ')"
show_diff "$running" "$(sriov_snap)"
# a second start: the VFs are there, nothing is made again
hook_out 131 pre-start
check "second pre-start exits 0" test $rc = 0
check "second pre-start makes nothing" not contains "$out" "making them"
hook_out 131 post-stop
check "second post-stop exits 0" test $rc = 0

# ---- cleanup ----
echo 0 >$sys/sriov_numvfs
echo 1 >$sys/sriov_drivers_autoprobe
check "VFs removed again" test ! -e "/sys/bus/pci/devices/$VF"
rm -f $INI /etc/pve/qemu-server/131.conf /etc/pve/qemu-server/132.conf
