# hook-sriov (issue 17, topology sriov): QEMU's nvme with SR-IOV is a real PF whose VFs the
# guest kernel creates. check explains a PF without VFs; with VFs enabled the hook refuses to
# hand the PF over (binding it to vfio-pci would destroy them) and changes nothing; a VF passes
# alone (its own IOMMU group) and comes back; list shows the VFs under their PF.
CLI=/usr/sbin/pve-gpu-passthrough
load_host_drivers
sriov_pf || return 0
write_vm_conf 110 "machine: q35" "hostpci0: $PF"
out=$($CLI check 110 2>&1)
echo "$out" | grep -E 'dev\.sriov' -A 1
check "check: the PF has no VFs enabled" contains "$out" "INFO +dev\.sriov +$PF: SR-IOV physical function: none of its 2 VFs is enabled"
# The VFs stay driverless (an offline secondary controller would only time out in nvme).
echo 0 >$sys/sriov_drivers_autoprobe
echo 2 >$sys/sriov_numvfs
VF=$(basename "$(readlink $sys/virtfn0)")
VF2=$(basename "$(readlink $sys/virtfn1)")
check "2 VFs made ($VF $VF2)" test -e "/sys/bus/pci/devices/$VF/physfn" -a -e "/sys/bus/pci/devices/$VF2/physfn"
check "the VF has its own IOMMU group" test "$(ls /sys/kernel/iommu_groups/$(group_of $VF)/devices)" = "$VF"
snap() { echo "pf=$(driver_of $PF)/$(override_of $PF) vfs=$(cat $sys/sriov_numvfs) vf=$(driver_of $VF)/$(override_of $VF) vf2=$(driver_of $VF2)"; }
before=$(snap)
out=$(hook 110 pre-start 2>&1)
rc=$?
echo "$out"
check "PF with VFs: refused (exit 1)" test $rc = 1
check "the refusal names the VFs and the fix" contains "$out" "refusing: $PF is an SR-IOV physical function with 2 VFs enabled \(driver nvme\): binding it to vfio-pci would destroy them.*sriov_numvfs"
check "nothing changed (the VFs are still there)" test "$(snap)" = "$before"
check "no state file" test ! -e /run/pve-gpu-passthrough/110.state
out=$($CLI check 110 2>&1)
check "check: FAIL dev.sriov for VM 110" contains "$out" "FAIL +dev\.sriov +$PF: SR-IOV physical function with 2 VFs enabled \($VF $VF2\), passed through by VM 110"
out=$($CLI list --all 2>&1)
echo "$out" | grep -E "SR-IOV| VF "
check "list: the VFs under their PF" contains "$out" "VF $VF \(IOMMU group $(group_of $VF), -\)"
check "list: the PF's mark" contains "$out" "$PF .*\[SR-IOV PF: 2 of 2 VFs enabled\]"
# A VF alone: handed over, proved through VFIO, given back; the PF and the other VF stay.
write_vm_conf 111 "machine: q35" "hostpci0: $VF"
expect_hook 0 111 pre-start
expect_driver $VF vfio-pci
expect_driver $PF nvme
expect_driver $VF2 none
check "the VFs are still enabled" test "$(cat $sys/sriov_numvfs)" = 2
expect_hook 0 111 post-stop
expect_driver $VF none
check "the VF's override is cleared" test "$(override_of $VF)" = "(null)"
check "no state file left" test ! -e /run/pve-gpu-passthrough/111.state
echo 0 >$sys/sriov_numvfs
check "VFs removed again" test ! -e "/sys/bus/pci/devices/$VF"
