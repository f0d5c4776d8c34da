# fault-edited: a state file edited by hand is refused with its path and what is wrong (the
# line), by post-stop, release and release --stale alike, and nothing is changed.
load_host_drivers
# (no Proxmox lock directory: the watcher pre-start leaves touches nothing here)
gpu_vm_conf 100
expect_hook 0 100 pre-start
before=$(fault_snapshot)
st=/run/pve-gpu-passthrough/100.state
sed -i "s/^device $GPU group [0-9]*/device $GPU group many/" $st
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop refuses it (status $rc)" test "$rc" = 1
check "naming the path and the line" grep -q "state file $st of VM 100 is refused: line [0-9]* is not a valid record: 'device $GPU group many" /tmp/post.out
/usr/sbin/pve-gpu-passthrough release --stale >/tmp/stale.out 2>&1
rc=$?
cat /tmp/stale.out
check "release --stale refuses it too (status $rc)" test "$rc" = 1
check "with the path and the line" grep -q "$st of VM 100 is refused: line" /tmp/stale.out
after=$(fault_snapshot)
check "nothing changed" test "$before" = "$after"
show_diff "$before" "$after"
# the admin puts the line back: post-stop converges
sed -i "s/^device $GPU group many/device $GPU group $(group_of $GPU)/" $st
expect_hook 0 100 post-stop
