# fault-stuck-unbind: the GPU's driver never returns from remove() (labtest with
# remove_delay_ms=-1, as NVIDIA's driver with persistence mode). pre-start fails within
# unbind_timeout plus about a second and says what is left (exit 4: the GPU's driver has not let
# go); the stuck unbind child holds no device lock; the audio function is given back; once the
# driver lets go, "release" converges to the host as it was.
load_host_drivers
testdrv_take $GPU
expect_driver $GPU labtest
printf '[hook]\nunbind_timeout = 2s\n' >/etc/pve-gpu-passthrough.ini
chmod 644 /etc/pve-gpu-passthrough.ini
gpu_vm_conf 100
before=$(fault_snapshot)
audio_ov=$(override_of $AUDIO)
echo -1 >$LABTEST/remove_delay_ms
t0=$(uptime_ms)
hook 100 pre-start >/tmp/pre.out 2>&1
rc=$?
ms=$(($(uptime_ms) - t0))
cat /tmp/pre.out
check "pre-start exits 4 (not everything undone; status $rc)" test "$rc" = 4
echo "pre-start took $ms ms (unbind_timeout 2000 ms)"
check "pre-start ends within the deadline plus a few seconds" test "$ms" -lt 6000
check "it names the stuck driver" grep -q "$GPU: labtest has not let go" /tmp/pre.out
check "it gives the command that finishes" grep -q 'finish with: pve-gpu-passthrough release 100' /tmp/pre.out
check "it does not claim the host is as before" not grep -q 'the host is as it was before' /tmp/pre.out
check "state file kept for release" test -e /run/pve-gpu-passthrough/100.state
check "the stuck child holds no lock on the GPU" labtool trylock /run/pve-gpu-passthrough/lock/$GPU
check "nor on the audio function" labtool trylock /run/pve-gpu-passthrough/lock/$AUDIO
expect_driver $AUDIO snd_hda_intel
check "audio override restored" test "$(override_of $AUDIO)" = "$audio_ov"
# the driver lets go: the blocked unbind returns, the GPU is driverless; release converges
release_after_let_go "$before"
rm -f /etc/pve-gpu-passthrough.ini
testdrv_give_back $GPU
