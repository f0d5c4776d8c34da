# selftest-testdrv: the lab fault driver (tests/lab/testdrv) does what its parameters say on
# this kernel: it takes a card only through driver_override, probe() fails on request, remove()
# blocks until released (the writer of "unbind" waits in D state), and hold_busy keeps BAR 0 claimed.
# No product code runs here.
P=/sys/module/labtest/parameters
D=/sys/bus/pci/devices/$GPU2
load_host_drivers
check "labtest loads" $MODPROBE labtest
check "labtest takes no device by itself" test "$(cat $P/probes)" = 0
expect_driver $GPU2 bochs-drm

# probe() fails: the card stays without a driver, then binds when probe is allowed again.
echo labtest >$D/driver_override
echo $GPU2 >$D/driver/unbind
echo 19 >$P/probe_errno
echo $GPU2 >/sys/bus/pci/drivers_probe 2>/dev/null
expect_driver $GPU2 none
echo 0 >$P/probe_errno
echo $GPU2 >/sys/bus/pci/drivers_probe
expect_driver $GPU2 labtest
check "one probe counted" test "$(cat $P/probes)" = 1

# remove() blocks until release=1: the unbind writer is still waiting a second later.
echo -1 >$P/remove_delay_ms
(echo $GPU2 >$D/driver/unbind; echo done >/tmp/unbind.done) &
upid=$!
sleep 1
check "unbind still blocked after 1 s" test ! -e /tmp/unbind.done
# The kernel drops the driver link before it calls remove(): while the driver is stuck the card
# looks driverless, yet its device lock is held until remove() returns.
expect_driver $GPU2 none
check "the blocked writer is in D state" grep -q '^State:.*D' /proc/$upid/status
echo 1 >$P/release
wait $upid
check "unbind returned after release" test -e /tmp/unbind.done
expect_driver $GPU2 none
check "one remove counted" test "$(cat $P/removes)" = 1
echo 0 >$P/release

# A bounded delay: remove() returns by itself.
echo 300 >$P/remove_delay_ms
echo $GPU2 >/sys/bus/pci/drivers_probe
expect_driver $GPU2 labtest
echo $GPU2 >$D/driver/unbind
check "bounded remove returned" test "$(cat $P/removes)" = 2
echo 0 >$P/remove_delay_ms

# hold_busy: BAR 0 stays claimed after the driver let go of the card, until release.
echo 1 >$P/hold_busy
echo $GPU2 >/sys/bus/pci/drivers_probe
echo $GPU2 >$D/driver/unbind
check "BAR 0 claimed after remove" grep -q labtest-busy /proc/iomem
echo 1 >$P/release
check "claim dropped on release" not grep -q labtest-busy /proc/iomem
echo 0 >$P/release
echo 0 >$P/hold_busy

# Back to the host driver; the module unloads.
echo >$D/driver_override
echo $GPU2 >/sys/bus/pci/drivers_probe
expect_driver $GPU2 bochs-drm
check "labtest unloads" $MODPROBE -r labtest
