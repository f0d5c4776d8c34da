# bench-multi (quad topology): pre-start and post-stop of a VM with four cards (display + HDMI
# audio each, its own IOMMU group) against a VM with one of them, every function on the lab
# fault driver with a slow remove() and probe() (BENCH_REMOVE_MS, BENCH_PROBE_MS: 300 ms, a
# large card's driver); prints "BENCH name usec" lines that bench/multi.sh turns into ratios.
# Done one after the other, four cards take four times as long.
$MODPROBE labtest || { lab_fail "no labtest module for this kernel"; return; }
$MODPROBE vfio-pci
$MODPROBE vfio_iommu_type1
P=/sys/module/labtest/parameters
cards=$(for a in $(lab_find 0x8086 0x293e); do echo ${a%.*}; done)
set -- $cards
check "four cards" test $# = 4
for c in $cards; do
	for f in 0 1; do
		d=$c.$f
		echo labtest >/sys/bus/pci/devices/$d/driver_override
		[ -e /sys/bus/pci/devices/$d/driver ] && echo $d >/sys/bus/pci/devices/$d/driver/unbind
		echo $d >/sys/bus/pci/drivers_probe
		expect_driver $d labtest >/dev/null
	done
done
echo ${BENCH_REMOVE_MS:-300} >$P/remove_delay_ms
echo ${BENCH_PROBE_MS:-300} >$P/probe_delay_ms
write_vm_conf 100 "bios: ovmf" "machine: q35"
n=0
for c in $cards; do echo "hostpci$n: $c,pcie=1" >>/etc/pve/qemu-server/100.conf; n=$((n + 1)); done
write_vm_conf 101 "bios: ovmf" "machine: q35" "hostpci0: $1,pcie=1"
# one untimed round each
expect_hook 0 101 pre-start >/dev/null
expect_hook 0 101 post-stop >/dev/null
for i in $(seq ${BENCH_ROUNDS:-5}); do
	echo "BENCH one-pre-start $(labtool time $HOOK 101 pre-start)"
	expect_driver $1.0 vfio-pci >/dev/null
	echo "BENCH one-post-stop $(labtool time $HOOK 101 post-stop)"
	expect_driver $1.0 labtest >/dev/null
	echo "BENCH four-pre-start $(labtool time $HOOK 100 pre-start)"
	for c in $cards; do expect_driver $c.1 vfio-pci >/dev/null; done
	echo "BENCH four-post-stop $(labtool time $HOOK 100 post-stop)"
	for c in $cards; do expect_driver $c.1 labtest >/dev/null; done
done
# the part that does not run in parallel: config, collect, checks, plan (a dry run)
for i in $(seq ${BENCH_ROUNDS:-5}); do
	echo "BENCH one-dry $(labtool time $HOOK --dry-run 101 pre-start)"
	echo "BENCH four-dry $(labtool time $HOOK --dry-run 100 pre-start)"
done
echo 0 >$P/remove_delay_ms
echo 0 >$P/probe_delay_ms
# when each remove() and probe() of the last four-card pre-start and post-stop ran (kernel
# timestamps): whether the kernel let them overlap
dmesg | grep -E 'labtest .*(remove waits|unbound|bound)|vfio-pci .*(enabling|vgaarb)' | tail -n 48 | sed 's/^/BENCHLOG /'
