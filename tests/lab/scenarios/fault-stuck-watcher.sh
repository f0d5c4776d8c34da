# fault-stuck-watcher: a start fails because the GPU's driver never returns from remove()
# (labtest with remove_delay_ms=-1) while Proxmox holds the VM's config lock. On this kernel
# (before 6.19) reading the GPU's driver_override waits for the device lock the stuck remove()
# holds. The watcher the hook leaves takes the lock when the start ends, leaves the GPU alone and
# names it in one line, and lets go of the lock within unbind_timeout plus a second;
# "release --stale" and "release 100" do the same; none of them stays blocked on the device.
# Once the driver lets go, "release" converges to the host as it was.
load_host_drivers
testdrv_take $GPU
expect_driver $GPU labtest
syslogd -O /tmp/messages 2>/dev/null # the watcher's messages
mkdir -p /var/lock/qemu-server
lock=/var/lock/qemu-server/lock-100.conf
printf '[hook]\nunbind_timeout = 2s\n' >/etc/pve-gpu-passthrough.ini
chmod 644 /etc/pve-gpu-passthrough.ini
deadline=2000
gpu_vm_conf 100
before=$(fault_snapshot)
echo -1 >$LABTEST/remove_delay_ms
# the start: pre-start under the config lock; it fails (exit 4: the GPU's driver has not let go)
# (the system log's lines so far are counted while the lock is still held: the watcher, which
# waits for it, has said nothing yet)
labtool locked $lock /bin/sh -c "env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK 100 pre-start </dev/null >/tmp/pre.out 2>&1; echo \$? >/tmp/pre.rc; usleep 300000; wc -l </tmp/messages >/tmp/pre.lines"
t_end=$(uptime_ms)
cat /tmp/pre.out
check "pre-start exits 4 (status $(cat /tmp/pre.rc))" test "$(cat /tmp/pre.rc)" = 4
check "the state file records the GPU as stuck" grep -q "^stuck $GPU " /run/pve-gpu-passthrough/100.state
pre_lines=$(cat /tmp/pre.lines)

# The watcher: it takes the lock within its half-second poll, holds it while it decides and
# gives back, and lets go within the deadline plus a second.
t_held=
t_free=
while [ $(($(uptime_ms) - t_end)) -lt 30000 ]; do
	if labtool trylock $lock; then
		[ -n "$t_held" ] && { t_free=$(uptime_ms); break; }
		# never seen held: it may be done already (its line is there)
		tail -n +$((pre_lines + 1)) /tmp/messages 2>/dev/null | grep -q "$GPU: its driver has not let go" &&
			{ t_free=$(uptime_ms); break; }
	else
		[ -n "$t_held" ] || t_held=$(uptime_ms)
	fi
	usleep 20000
done
echo "watcher: lock held at +$((${t_held:-$t_end} - t_end)) ms, free at +$((${t_free:-0} - t_end)) ms"
check "the watcher let go of the config lock" test -n "$t_free"
check "within the deadline plus a second of taking it" \
	test $((${t_free:-999999} - ${t_held:-$t_end})) -le $((deadline + 1000))
usleep 500000 # syslogd writes the watcher's last line
tail -n +$((pre_lines + 1)) /tmp/messages >/tmp/watcher.out 2>/dev/null
cat /tmp/watcher.out
check "the watcher names the GPU in one line" test "$(grep -cF "$GPU" /tmp/watcher.out)" = 1
check "... saying its driver has not let go" grep -q "$GPU: its driver has not let go" /tmp/watcher.out
check "the state file still records it as stuck" grep -q "^stuck $GPU " /run/pve-gpu-passthrough/100.state
check "nobody holds the config lock" labtool trylock $lock

# release --stale (the timer) and release 100 (the admin): each ends within the deadline plus a
# second, holding the config lock no longer, and names the GPU in one line.
for cmd in "release --stale" "release 100"; do
	t0=$(uptime_ms)
	/usr/sbin/pve-gpu-passthrough $cmd >/tmp/rel.out 2>&1
	rc=$?
	ms=$(($(uptime_ms) - t0))
	cat /tmp/rel.out
	echo "$cmd took $ms ms (status $rc)"
	check "$cmd exits 1 (status $rc)" test "$rc" = 1
	check "$cmd ends within the deadline plus a second" test "$ms" -le $((deadline + 1000))
	check "$cmd names the GPU in one line" test "$(grep -cF "$GPU" /tmp/rel.out)" = 1
	check "$cmd leaves the config lock free" labtool trylock $lock
done
# a new start of the VM refuses the stuck GPU instead of reading it
t0=$(uptime_ms)
labtool locked $lock /bin/sh -c "env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK 100 pre-start </dev/null >/tmp/pre2.out 2>&1"
rc=$?
ms=$(($(uptime_ms) - t0))
cat /tmp/pre2.out
check "a new pre-start refuses (status $rc)" test "$rc" = 1
check "within the deadline plus a second ($ms ms)" test "$ms" -le $((deadline + 1000))
check "naming the stuck GPU" grep -q "refusing: $GPU: an unbind of it never returned" /tmp/pre2.out
# (its state file is still there, so it left a watcher too: it says the same once more; the
# stuck processes keep the hook's command line, so its own end is told by that line)
i=0
while [ "$(grep -cF "$GPU: its driver has not let go" /tmp/messages)" -lt 2 ] && [ $i -lt 200 ]; do
	usleep 50000
	i=$((i + 1))
done
check "that watcher is done within ten seconds" test "$(grep -cF "$GPU: its driver has not let go" /tmp/messages)" = 2
usleep 200000 # it lets go of the lock right after its line
check "and the config lock is free" labtool trylock $lock

# the driver lets go: the blocked unbind returns, the GPU is driverless; release converges
release_after_let_go "$before"
rm -rf /etc/pve-gpu-passthrough.ini /var/lock/qemu-server
testdrv_give_back $GPU
