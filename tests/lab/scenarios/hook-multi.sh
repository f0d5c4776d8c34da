# hook-multi (quad topology): a VM with four cards, each a display and its HDMI audio in its own
# IOMMU group. pre-start hands every group over at the same time and post-stop gives every
# group back; the host ends as it began. Then one card's group cannot be proven through VFIO
# (the fault driver keeps its BAR 0 claimed): pre-start fails and every group, also the three
# that made it, is given back.
cards=$(for a in $(lab_find 0x8086 0x293e); do echo ${a%.*}; done)
set -- $cards
check "four cards" test $# = 4
third=$3.0
multi_snapshot() {
	for c in $cards; do
		for f in 0 1; do echo "$c.$f driver=$(driver_of $c.$f) override=$(override_of $c.$f)"; done
	done
	echo "$DISK driver=$(driver_of $DISK)"
	for v in /sys/class/vtconsole/vtcon*; do echo "$(basename $v) $(cat $v/bind)"; done
	ls /run/pve-gpu-passthrough/*.state 2>/dev/null
}
groups=
for c in $cards; do groups="$groups $(group_of $c.0)"; done
check "four distinct groups" test "$(echo $groups | tr ' ' '\n' | sort -u | wc -l)" = 4
same=yes
for c in $cards; do [ "$(group_of $c.1)" = "$(group_of $c.0)" ] || same=no; done
check "each card's audio in its card's group" test $same = yes
load_host_drivers
write_vm_conf 100 "bios: ovmf" "machine: q35"
n=0
for c in $cards; do echo "hostpci$n: $c,pcie=1" >>/etc/pve/qemu-server/100.conf; n=$((n + 1)); done
cat /etc/pve/qemu-server/100.conf
before=$(multi_snapshot)
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
cat /tmp/pre.out
check "pre-start exited 0" test "$rc" = 0
for c in $cards; do expect_driver $c.0 vfio-pci; expect_driver $c.1 vfio-pci; done
for c in $cards; do
	check "group of $c usable through VFIO" labtool vfio "$(group_of $c.0)" $c.0 $c.1 --bar0
done
# the log reads card by card (groups in the config's order), whatever finished first
order=$(sed -n 's/.*IOMMU group \([0-9]*\) .* ready.*/\1/p' /tmp/pre.out | tr '\n' ' ')
check "ready lines in group order ($order)" test "$order" = "$(echo $groups) "
expect_hook 0 100 post-stop
after=$(multi_snapshot)
check "host as before" test "$before" = "$after"
[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }

# the third card's display on the fault driver, which keeps BAR 0 claimed after remove()
if $MODPROBE labtest 2>/dev/null; then
	P=/sys/module/labtest/parameters
	echo 1 >$P/hold_busy
	echo labtest >/sys/bus/pci/devices/$third/driver_override
	echo $third >/sys/bus/pci/devices/$third/driver/unbind
	echo $third >/sys/bus/pci/drivers_probe
	expect_driver $third labtest
	before=$(multi_snapshot)
	hook 100 pre-start >/tmp/pre.out 2>&1
	rc=$?
	cat /tmp/pre.out
	check "pre-start failed" test "$rc" = 1
	check "the third card's group is named" grep -q "IOMMU group $(group_of $third) .*not usable" /tmp/pre.out
	check "every group undone" grep -q 'undoing the handoff of VM 100' /tmp/pre.out
	after=$(multi_snapshot)
	check "host as before after the rollback" test "$before" = "$after"
	[ "$before" = "$after" ] || { echo "before:"; echo "$before"; echo "after:"; echo "$after"; }
	echo 1 >$P/release
	echo >/sys/bus/pci/devices/$third/driver_override
	echo $third >/sys/bus/pci/devices/$third/driver/unbind
	echo $third >/sys/bus/pci/drivers_probe
	echo 0 >$P/release
	echo 0 >$P/hold_busy
else
	echo "no labtest module for this kernel: the rollback half is skipped"
fi
