# fault-member: one group member cannot be moved back. The GPU's own driver is labtest, and its
# re-probe fails at give-back (probe_errno): post-stop names exactly which member is left where
# (exit 1, the state file kept for it, the member marked) and gives the other member back; once the driver probes
# again, "release" converges to the host as it was.
load_host_drivers
testdrv_take $GPU
gpu_vm_conf 100
before=$(fault_snapshot)
expect_hook 0 100 pre-start
expect_driver $GPU vfio-pci
echo 5 >$LABTEST/probe_errno
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop fails (status $rc)" test "$rc" = 1
check "it names the member and where it is" grep -q "still changed: $GPU on no driver, not labtest" /tmp/post.out
check "and the command that finishes" grep -q 'finish with: pve-gpu-passthrough release 100' /tmp/post.out
expect_driver $AUDIO snd_hda_intel
check "state file kept for the member" grep -q "$GPU" /run/pve-gpu-passthrough/100.state
check "and marked until the host reboots (fault-health)" test -f /run/pve-gpu-passthrough/health/$GPU
check "no lock left held" labtool trylock /run/pve-gpu-passthrough/lock/$GPU
echo 0 >$LABTEST/probe_errno
/usr/sbin/pve-gpu-passthrough release 100
check "release converges (status $?)" test $? = 0
after=$(fault_snapshot)
check "host as before" test "$before" = "$after"
show_diff "$before" "$after"
testdrv_give_back $GPU
