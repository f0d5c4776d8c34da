#!/bin/bash
# demo.sh - `make demo`: boot Debian's 6.1 kernel under QEMU with OVMF (so efifb holds the GPU,
# as on a real UEFI host) and show the hookscript handing the GPU to vfio-pci and back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
series=${DEMO_KERNEL:-6.1}
export LAB_LOGS=$top/build/lab/demo
mkdir -p "$LAB_LOGS" "$top/build/lab"
[ -f "$top/build/lab/disk.img" ] || mkfs.ext4 -q -F "$top/build/lab/disk.img" 8M
echo "lab: preparing Debian kernel $series (cached in ${LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab})"
"$here/fetch-kernel.sh" "$series"
"$here/mkinitrd.sh" "$series" "$top/build/lab/$series/initrd.img"
echo "lab: booting it under QEMU (q35, emulated Intel IOMMU, OVMF, std VGA + HDMI audio, second GPU, virtio disk)"
log=$LAB_LOGS/${series}_ovmf_std-demo.log
rm -f "$log"
"$here/run.sh" -k "$series" -f ovmf -t std -s demo -n "$series/ovmf/std" >"$LAB_LOGS/result" 2>&1 &
pid=$!
# Follow the guest's serial console: show what the scenario prints.
while [ ! -f "$log" ]; do sleep 0.2; done
tail -n +1 -f "$log" --pid=$pid 2>/dev/null | tr -d '\r' | sed -n 's/^  | //p; s/^LAB-FAIL /FAIL: /p'
wait $pid && rc=0 || rc=$?
echo
cat "$LAB_LOGS/result"
exit $rc
