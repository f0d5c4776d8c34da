# fault-health: health after stop (issue 32). The GPU's own driver is labtest, and its re-probe
# fails at post-stop (probe_errno): post-stop marks it until the host reboots (one line with
# the fix, the mark keyed by this boot's id) and fails as before for the member not given back;
# once release has given it back, the next pre-start refuses the marked GPU in one line with
# the fix, before touching anything (no driver moves, no probe or remove, the host as it was);
# check and list show the mark. The mark is removed at the end (a reboot would).
MARK=/run/pve-gpu-passthrough/health/$GPU
load_host_drivers
testdrv_take $GPU
gpu_vm_conf 100
expect_hook 0 100 pre-start
expect_driver $GPU vfio-pci
echo 5 >$LABTEST/probe_errno
hook 100 post-stop >/tmp/post.out 2>&1
rc=$?
cat /tmp/post.out
check "post-stop fails for the member not given back, as before (status $rc)" test "$rc" = 1
check "the member is marked, with the fix" grep -q "$GPU did not come back after VM 100 (its driver did not take it back): marked until the host reboots, no VM start takes it; fix: reboot the host" /tmp/post.out
check "its mark is there" test -f $MARK
check "keyed by this boot" grep -qx "boot $(cat /proc/sys/kernel/random/boot_id)" $MARK
check "the other member came back and is not marked" test ! -e /run/pve-gpu-passthrough/health/$AUDIO
expect_driver $AUDIO snd_hda_intel
echo 0 >$LABTEST/probe_errno
/usr/sbin/pve-gpu-passthrough release 100
check "release gives the GPU back (status $?)" test $? = 0
expect_driver $GPU labtest
before=$(fault_snapshot)
probes=$(cat $LABTEST/probes) removes=$(cat $LABTEST/removes)
t0=$(uptime_ms)
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
t1=$(uptime_ms)
cat /tmp/pre.out
echo "pre-start took $((t1 - t0)) ms"
check "pre-start refuses (status $rc)" test "$rc" = 1
check "in one line, with the fix" test "$(grep -c "refusing: $GPU (1234:1111) did not come back after VM 100 stopped (its driver did not take it back); it is marked until the host reboots: reboot the host" /tmp/pre.out)" = 1
check "nothing moved" test "$(cat $LABTEST/probes) $(cat $LABTEST/removes)" = "$probes $removes"
after=$(fault_snapshot)
check "host as before" test "$before" = "$after"
show_diff "$before" "$after"
/usr/sbin/pve-gpu-passthrough list >/tmp/list.out 2>&1
check "list shows the mark" grep -q "$GPU .*\[marked: its driver did not take it back after VM 100; reboot the host\]" /tmp/list.out
/usr/sbin/pve-gpu-passthrough check 100 >/tmp/check.out 2>&1
check "check shows it (FAIL dev.health)" grep -q "FAIL  dev.health  *$GPU: did not come back after VM 100 stopped" /tmp/check.out
rm -f $MARK
testdrv_give_back $GPU
