# hook-concurrent: two VMs asking for the same GPU start at the same time: exactly one wins,
# the other fails with a clear message and changes nothing.
load_host_drivers
gpu_vm_conf 100
gpu_vm_conf 103
hook 100 pre-start >/tmp/a.log 2>&1 &
pa=$!
hook 103 pre-start >/tmp/b.log 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
cat /tmp/a.log /tmp/b.log
check "exactly one pre-start succeeded ($ra, $rb)" test $((ra == 0 ? 1 : 0)) -ne $((rb == 0 ? 1 : 0))
expect_driver $GPU vfio-pci
expect_driver $AUDIO vfio-pci
winner=100; [ $ra = 0 ] || winner=103
loser=103; [ $ra = 0 ] || loser=100
check "the loser says why" grep -Eq "being handed over by another hook|handed over for VM $winner" /tmp/[ab].log
check "only the winner has a state file" test -f /run/pve-gpu-passthrough/$winner.state -a ! -f /run/pve-gpu-passthrough/$loser.state
expect_hook 0 $loser post-stop
expect_driver $GPU vfio-pci
expect_hook 0 $winner post-stop
expect_driver $GPU bochs-drm
expect_driver $AUDIO snd_hda_intel
