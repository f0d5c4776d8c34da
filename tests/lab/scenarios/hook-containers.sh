# hook-containers (issue 30): a "container" using the GPU, on a real kernel. The guest has no
# LXC: container 200 is a process in its own cgroup (/sys/fs/cgroup/lxc/200, cgroup v2) that
# holds the GPU's DRM node open, and /usr/sbin/pct is a stand-in that shuts it down, stops it
# and starts it (the hook runs pct by name with a fixed PATH, as on Proxmox). The lab's GPU
# (QEMU's std VGA on bochs-drm) has no render node, so the container's dev0 is its card node
# /dev/dri/cardN (the same major:minor tie; a render node is no different to the hook).
# containers = refuse (the default) names the container and changes nothing; containers = stop
# shuts it down, hands the GPU over, gives it back at post-stop and starts the container again,
# which opens the node again; a hook killed midway and a start that fails (the watcher) both
# converge to the host and the container as before.
load_host_drivers
gpu_vm_conf 100
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
check "cgroup v2 mounted" grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts
card=$(ls /sys/bus/pci/devices/$GPU/drm | grep -m 1 '^card')
node=/dev/dri/$card
mkdir -p /sys/fs/cgroup/lxc/200 /var/lib/lxc/200 /etc/pve/lxc
printf 'arch: amd64\nhostname: jellyfin\ndev0: %s,gid=44\nrootfs: local:200/vm-200-disk-0.raw\n' \
	"$node" >/etc/pve/lxc/200.conf
cat >/usr/sbin/pct <<'PCT'
#!/bin/sh
# The lab's stand-in pct: container CTID is the processes of cgroup /sys/fs/cgroup/lxc/CTID;
# start runs one that opens the container's dev0 node and keeps it open.
verb=$1 ct=$2 cg=/sys/fs/cgroup/lxc/$2
echo "$*" >>/tmp/pct.log
procs() { cat $cg/cgroup.procs 2>/dev/null; }
settle() { i=0; while [ $i -lt 100 ] && ! eval "$1"; do usleep 50000; i=$((i + 1)); done; eval "$1"; }
case $verb in
shutdown|stop)
	sig=TERM
	[ $verb = stop ] && sig=KILL
	for p in $(procs); do kill -$sig $p; done
	settle '[ -z "$(procs)" ]' ;;
start)
	[ -z "$(procs)" ] || { echo "CT $ct already running" >&2; exit 1; }
	node=$(sed -n 's/^dev0: \([^,]*\).*/\1/p' /etc/pve/lxc/$ct.conf)
	rm -f /tmp/ct-$ct.opened
	setsid sh -c "echo \$\$ >$cg/cgroup.procs && exec 7<$node && echo ok >/tmp/ct-$ct.opened && exec sleep 100000" </dev/null >/dev/null 2>&1 &
	settle '[ -e /tmp/ct-$ct.opened ]' || { echo "startup for container '$ct' failed" >&2; exit 1; } ;;
*) exit 2 ;;
esac
PCT
chmod 755 /usr/sbin/pct
ct_pid() { head -n 1 /sys/fs/cgroup/lxc/200/cgroup.procs; }
ct_holds_node() { p=$(ct_pid) && [ -n "$p" ] && ls -l /proc/$p/fd 2>/dev/null | grep -q " $node\$"; }
ct_stopped() { [ -z "$(ct_pid)" ]; }
pct start 200
check "the container runs and holds $node" ct_holds_node
check "list names the container under the GPU" contains "$(/usr/sbin/pve-gpu-passthrough list)" \
	"used by: VM 100 \(hostpci0\), CT 200 \(dev0 $node, running\)"
check "check 100 warns" contains "$(/usr/sbin/pve-gpu-passthrough check 100)" \
	"WARN  vm.containers .*container 200 uses $GPU \(dev0 $node\) and runs"
before=$(host_snapshot)
pid=$(ct_pid)

# containers = refuse (the default): one line naming the container, nothing changed
: >/tmp/pct.log
out=$(hook 100 pre-start 2>&1)
rc=$?
echo "$out"
check "refused (exit 1)" test $rc = 1
check "the refusal names the container" contains "$out" \
	"refusing: running container 200 jellyfin \($GPU: dev0 $node\) uses the VM's GPU"
check "no pids of the container's processes" not contains "$out" "in use on the host"
check "pct was not run" test ! -s /tmp/pct.log
check "the container still runs (same process)" test "$(ct_pid)" = "$pid"
check "no state file" test ! -e /run/pve-gpu-passthrough/100.state
check "host unchanged" test "$before" = "$(host_snapshot)"

# containers = stop: shut down for the VM, started again after it
printf '[hook]\ncontainers = stop\n' >/etc/pve-gpu-passthrough.ini
chmod 644 /etc/pve-gpu-passthrough.ini
expect_hook 0 100 pre-start
expect_driver $GPU vfio-pci
check "pct shutdown ran" grep -q '^shutdown 200 --timeout' /tmp/pct.log
check "the container is stopped" ct_stopped
check "the state file records it" grep -q "^rec container 200 $GPU" /run/pve-gpu-passthrough/100.state
check "group viable through VFIO" labtool vfio $(group_of $GPU) $GPU $AUDIO
: >/tmp/pct.log
expect_hook 0 100 post-stop
expect_driver $GPU bochs-drm
check "pct start ran" grep -q '^start 200$' /tmp/pct.log
check "the container runs again and opened $node" ct_holds_node
check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
after=$(host_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }

# killed at its first sysfs write, after the container was stopped: post-stop converges
env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin PGP_TEST_KILL_POINT=driver_override:1 \
	$HOOK 100 pre-start </dev/null
rc=$?
check "hook killed at its kill point (status $rc)" test "$rc" = 137
check "the container was stopped" ct_stopped
check "the state file records it" grep -q "^rec container 200" /run/pve-gpu-passthrough/100.state
expect_hook 0 100 post-stop
check "the container runs again and opened $node" ct_holds_node
check "state file removed" test ! -e /run/pve-gpu-passthrough/100.state
check "host as before after the killed hook" test "$before" = "$(host_snapshot)"

# a start that fails after pre-start (no QEMU, no post-stop): the watcher converges (it waits
# for Proxmox's config lock; without that directory, as above, there is no start to watch)
mkdir -p /var/lock/qemu-server
lock=/var/lock/qemu-server/lock-100.conf
labtool locked $lock /bin/sh -c "env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $HOOK 100 pre-start </dev/null >/tmp/pre.out 2>&1; sleep 1"
cat /tmp/pre.out
check "pre-start stopped the container" grep -q 'container 200 stopped' /tmp/pre.out
i=0
while { [ -e /run/pve-gpu-passthrough/100.state ] || ! ct_holds_node; } && [ $i -lt 2400 ]; do
	usleep 50000
	i=$((i + 1))
done
check "the watcher gave the GPU back" test ! -e /run/pve-gpu-passthrough/100.state
check "and started the container again, which opened $node" ct_holds_node
expect_driver $GPU bochs-drm
check "host as before after the failed start" test "$before" = "$(host_snapshot)"
for p in $(cat /sys/fs/cgroup/lxc/200/cgroup.procs); do kill -KILL $p; done
rm -rf /etc/pve-gpu-passthrough.ini /etc/pve/lxc/200.conf /usr/sbin/pct /var/lock/qemu-server
