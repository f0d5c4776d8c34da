# fault-killed-steps: the hook killed at each step of pre-start (PGP_TEST_KILL_POINT: after the
# first and second driver_override, after the first unbind, after the first and second
# drivers_probe; the state file is written before the first of them). Each time the next
# pre-start converges to the handoff and post-stop to the host as it was.
load_host_drivers
gpu_vm_conf 100
before=$(fault_snapshot)
for kp in driver_override:1 driver_override:2 unbind:1 drivers_probe:1 drivers_probe:2; do
	env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin PGP_TEST_KILL_POINT=$kp \
		$HOOK 100 pre-start </dev/null >/tmp/killed.out 2>&1
	rc=$?
	check "killed at $kp (status $rc)" test "$rc" = 137
	check "state file there after the kill at $kp" test -f /run/pve-gpu-passthrough/100.state
	hook 100 pre-start >/tmp/pre.out 2>&1
	rc=$?
	check "pre-start after the kill at $kp converges (status $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || cat /tmp/pre.out
	expect_driver $GPU vfio-pci
	expect_driver $AUDIO vfio-pci
	hook 100 post-stop >/tmp/post.out 2>&1
	rc=$?
	check "post-stop after the kill at $kp (status $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || cat /tmp/post.out
	after=$(fault_snapshot)
	check "host as before after the kill at $kp" test "$before" = "$after"
	show_diff "$before" "$after"
done
