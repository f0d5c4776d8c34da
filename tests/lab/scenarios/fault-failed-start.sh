# fault-failed-start: Proxmox runs pre-start under the VM's config lock, then the start fails
# (QEMU never opens the group, the VM never runs) and no post-stop comes. The watcher the hook
# left holds none of its output (the caller sees EOF as the hook exits), waits for the lock,
# and gives everything back. "release --stale" leaves a running VM (a live pid whose command
# line names it) alone and gives a stopped one back.
load_host_drivers
syslogd -O /tmp/messages 2>/dev/null # the watcher's messages
mkdir -p /var/lock/qemu-server
gpu_vm_conf 100
before=$(fault_snapshot)
lock=/var/lock/qemu-server/lock-100.conf
# The start: the lock is held while pre-start runs and two seconds longer (QEMU failing). The
# hook's output goes through a pipe read to EOF inside the locked section: a watcher holding
# that pipe would deadlock it (it waits for the lock), and the boot would time out.
rm -f /tmp/eof.seen
labtool locked $lock /bin/sh -c "env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK 100 pre-start </dev/null 2>&1 | cat >/tmp/pre.out; test -e /run/pve-gpu-passthrough/100.state && echo eof-with-state >/tmp/eof.seen; sleep 2"
cat /tmp/pre.out
check "pre-start handed the group over" grep -q 'ready: viable' /tmp/pre.out
check "the caller saw EOF while the start still held the lock" grep -q eof-with-state /tmp/eof.seen
# Until the watcher is done (it keeps the hook's command line): under TCG on a loaded machine
# its give-back, with the consoles' move back, can take a minute; bounded at five.
watcher_alive() {
	for p in /proc/[0-9]*; do
		grep -q 'pve-gpu-passthrough-hoo[k]' "$p/cmdline" 2>/dev/null && return 0
	done
	return 1
}
i=0
while [ -e /run/pve-gpu-passthrough/100.state ] && watcher_alive && [ $i -lt 6000 ]; do
	usleep 50000
	i=$((i + 1))
done
check "the watcher gave the devices back" test ! -e /run/pve-gpu-passthrough/100.state
if [ -e /run/pve-gpu-passthrough/100.state ]; then
	# what the watcher said (syslog) and where it is
	cat /tmp/messages 2>/dev/null
	for p in /proc/[0-9]*; do
		grep -q 'pve-gpu-passthroug[h]' "$p/cmdline" 2>/dev/null || continue
		echo "watcher ${p#/proc/}: $(tr '\0' ' ' <$p/cmdline) state=$(sed -n 's/^State://p' $p/status) wchan=$(cat $p/wchan 2>/dev/null)"
		cat $p/stack 2>/dev/null
	done
fi
after=$(fault_snapshot)
check "host as before after the failed start" test "$before" = "$after"
show_diff "$before" "$after"

# A start that succeeds: QEMU runs (a live pid whose command line names the VM) when Proxmox
# lets go of the lock; the watcher then leaves the devices alone, and so does release --stale.
mkdir -p /run/qemu-server
# (its output away from the scenario's pipe, and no child left behind when it is killed)
sh -c 'while :; do sleep 1; done' qemu-lab -id 100 </dev/null >/dev/null 2>&1 &
qpid=$!
echo $qpid >/run/qemu-server/100.pid
labtool locked $lock /bin/sh -c "env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK 100 pre-start </dev/null >/dev/null 2>&1"
check "pre-start of the running VM succeeded" test $? = 0
usleep 1500000 # the watcher's turn: the lock is free now
expect_driver $GPU vfio-pci
/usr/sbin/pve-gpu-passthrough release --stale >/tmp/stale.out 2>&1
rc=$?
cat /tmp/stale.out
check "release --stale with VM 100 running exits 0" test "$rc" = 0
check "it says the VM runs, per device" grep -q "$GPU: VM 100 is running; left on vfio-pci" /tmp/stale.out
check "for the audio function too" grep -q "$AUDIO: VM 100 is running; left on vfio-pci" /tmp/stale.out
expect_driver $GPU vfio-pci
# ... a starting one (config lock held) too ...
kill $qpid
wait $qpid 2>/dev/null
labtool locked $lock /usr/sbin/pve-gpu-passthrough release --stale >/tmp/stale.out 2>&1
check "a starting VM is left alone" grep -q "$GPU: VM 100 is starting" /tmp/stale.out
expect_driver $GPU vfio-pci
# ... and a stopped one is given back.
/usr/sbin/pve-gpu-passthrough release --stale >/tmp/stale.out 2>&1
rc=$?
cat /tmp/stale.out
check "release --stale gives a stopped VM's devices back (status $rc)" test "$rc" = 0
after=$(fault_snapshot)
check "host as before after release --stale" test "$before" = "$after"
show_diff "$before" "$after"
rm -rf /var/lock/qemu-server /run/qemu-server/100.pid
