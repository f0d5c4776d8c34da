# hook-theirs (issue 29): what attach puts in the snippets storage is a copy of the static
# snippet program; with the package installed it runs our hook, which runs the VM's own
# hookscript (a shell script logging its phases and the GPU's driver) around the handoff in
# every phase; its failing pre-start leaves the host as before; detach puts it back; with the
# package absent the snippet lets the start go on with one line.
load_host_drivers
before=$(host_snapshot)
# "the package": the programs where attach and the snippet expect them
LIBEXEC=/usr/libexec/pve-gpu-passthrough
mkdir -p $LIBEXEC /var/lib/vz/snippets /etc/pve
cp /usr/sbin/pve-gpu-passthrough-hook /usr/sbin/pve-gpu-passthrough-snippet $LIBEXEC/
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n' >/etc/pve/storage.cfg
# qm: only "qm set VMID --hookscript VOL" and "qm set VMID --delete hookscript"
cat >/usr/sbin/qm <<'QM'
#!/bin/sh
conf=/etc/pve/qemu-server/$2.conf
sed -i '/^hookscript:/d' "$conf"
[ "$3" = --hookscript ] && echo "hookscript: $4" >>"$conf"
exit 0
QM
chmod 755 /usr/sbin/qm
cat >/var/lib/vz/snippets/user.sh <<EOF2
#!/bin/sh
echo "\$2 \$(basename \$(readlink /sys/bus/pci/devices/$GPU/driver))" >>/tmp/user.log
[ "\$2" != pre-start ] || [ ! -e /tmp/user-fail ]
EOF2
chmod 755 /var/lib/vz/snippets/user.sh
gpu_vm_conf 100
echo "hookscript: local:snippets/user.sh" >>/etc/pve/qemu-server/100.conf
SNIP=/var/lib/vz/snippets/pve-gpu-passthrough-hook
snip() { # PHASE: the snippet as Proxmox runs a hookscript
	env -i LC_ALL=C PATH=/sbin:/bin:/usr/sbin:/usr/bin $SNIP 100 "$1" </dev/null
}

pve-gpu-passthrough attach 100
check "attach keeps the VM's own hookscript" grep -qx "hookscript: local:snippets/user.sh" /etc/pve/pve-gpu-passthrough/vm-hookscript/100
check "the VM's hookscript is ours" grep -qx "hookscript: local:snippets/pve-gpu-passthrough-hook" /etc/pve/qemu-server/100.conf
check "the snippet is a file, not a link" test -f $SNIP -a ! -L $SNIP -a -x $SNIP

rm -f /tmp/user.log
for ph in pre-start post-start pre-stop post-stop; do
	snip $ph
	rc=$?
	check "snippet $ph exited 0" test $rc = 0
done
expect_driver $GPU bochs-drm
# theirs saw the GPU on vfio-pci in every phase: after ours at pre-start, before ours at post-stop
log=$(cat /tmp/user.log)
echo "$log"
check "their hookscript ran around ours in every phase" test "$log" = "$(printf '%s vfio-pci\n' pre-start post-start pre-stop post-stop)"
check "host as before after a cycle" test "$before" = "$(host_snapshot)"

# their pre-start fails: ours is rolled back, the start fails, the host as before
touch /tmp/user-fail
snip pre-start
rc=$?
rm -f /tmp/user-fail
check "their failing pre-start fails the start" test $rc = 1
after=$(host_snapshot)
check "host as before after their failing pre-start" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
check "no state file" test ! -e /run/pve-gpu-passthrough/100.state

# detach puts theirs back, and the unused copy goes
pve-gpu-passthrough detach 100
check "detach puts their hookscript back" grep -qx "hookscript: local:snippets/user.sh" /etc/pve/qemu-server/100.conf
check "the unused copy is gone" test ! -e $SNIP

# the package absent: the copy says so in one line and the start goes on
pve-gpu-passthrough attach 100
rm -rf $LIBEXEC
out=$(snip pre-start)
rc=$?
echo "$out"
check "absent: exit 0" test $rc = 0
check "absent: one line" test "$(echo "$out" | wc -l)" = 1
check "absent: says so" contains "$out" "^pve-gpu-passthrough is not installed on node [^ ]+: GPU handoff skipped, Proxmox binds the devices itself$"
expect_driver $GPU bochs-drm
check "absent: host unchanged" test "$before" = "$(host_snapshot)"
