#!/bin/bash
# make-seeds.sh [--check] - (re)writes the checked-in seed corpus tests/fuzz/seeds/TARGET/ from
# the fixtures' fake hosts (tests/check/*/spec and tests/cluster/*/spec, built with
# build/fakesys) and a few hand-made files. run.sh only reads these files: the fuzz suite's
# seeds are the same on every machine (never this machine's /proc or installed ROMs). Run it
# after adding or changing a fixture, and commit the result: the same tree writes the same
# files, byte for byte, under every locale. --check writes them into a temporary directory
# instead and compares: exit 1, with the files that differ, when the checked-in ones are stale
# (the fuzz suite runs it).
set -eu
# Globs sort by the locale: the fixtures' order and which of two identical files is kept
# (the first) must not depend on it.
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$top/tests/fuzz/seeds
fakesys=$top/build/fakesys
[ -x "$fakesys" ] || { echo "make-seeds: build $fakesys first (make)" >&2; exit 1; }
check=
if [ "${1:-}" = --check ]; then
	check=$(mktemp -d /tmp/pgp-fuzz-seeds.XXXXXX)
	trap 'rm -rf "$check"' EXIT
	dir=$check/seeds
elif [ $# -gt 0 ]; then
	echo "usage: make-seeds.sh [--check]" >&2
	exit 2
fi
rm -rf "$dir"
seed() { mkdir -p "$dir/$1"; [ -f "$2" ] && cp "$2" "$dir/$1/${3:-$(basename "$2")}"; return 0; }
mkdir -p "$dir"/fuzz_{rom,config,vmconf,mapping,storage,state,iomem,mountinfo,route,host_boot,vfct,lxc}
mkdir -p "$dir"/fuzz_{members,sectioncfg,published,hookrec,health}

# A made-up option ROM: a legacy VGA image (class 03) then a last EFI image, checksummed.
rom() {
	python3 - "$1" <<'PY'
import struct, sys
def image(code_type, last, efi):
    img = bytearray(512)
    img[0:2] = b'\x55\xaa'
    img[2] = 1
    if efi:
        struct.pack_into('<HIHHH', img, 2, 1, 0x0EF1, 10, 0x8664, 0)
        struct.pack_into('<H', img, 0x16, 0x40)
    struct.pack_into('<H', img, 0x18, 0x1c)
    struct.pack_into('<4sHHHHB3sHHBBH', img, 0x1c, b'PCIR', 0x10de, 0x0fc6, 0, 0x18, 0,
                     b'\x00\x00\x03', 1, 0, code_type, 0x80 if last else 0, 0)
    if not efi:
        img[511] = (-sum(img[:511])) & 0xff
    return bytes(img)
open(sys.argv[1], 'wb').write(image(0, False, False) + image(3, True, True))
PY
}
rom "$dir/fuzz_rom/vga-efi.rom"
{ printf 'NVGI header VIDEO '; cat "$dir/fuzz_rom/vga-efi.rom"; } >"$dir/fuzz_rom/header-vga-efi.rom"

seed fuzz_config "$top/doc/pve-gpu-passthrough.ini"
printf '[hook]\nunbind_timeout = 3s\nholders = warn\n[vm:101]\nreturn_on_stop = no\n[early]\nids = 10de:0fc6,10de:0e1b\naddresses = 0000:02:00.0\n' \
	>"$dir/fuzz_config/all.ini"
printf '[hook]\nholders = warn\n[sriov]\npf = 0000:00:02.0\nvfs = 7\ndriver = vfio-pci\n' \
	>"$dir/fuzz_config/sriov-addr.ini"
printf '[sriov]\npf = 8086:a7a0\nvfs = 255\ndriver = xe_vfio_pci\n[vm:100]\nholders = warn\n' \
	>"$dir/fuzz_config/sriov-id.ini"
# the shapes setup --sriov writes and the admin's short forms, an [sriov] after [early]
printf '[early]\naddresses = 0000:01:00.0\n\n[sriov]\npf = 00:02.0\nvfs = 1\ndriver = i915_vfio_pci\n' \
	>"$dir/fuzz_config/sriov-short.ini"
printf '[sriov]\npf = 10000:e0:06.0\nvfs = 0\n[sriov]\npf = 8086:A7A0\n' >"$dir/fuzz_config/sriov-bad.ini"
printf '[hook]\nvfio_driver = vfio-pci\n[vm:100]\nvfio_driver = xe_vfio_pci\n[vm:101]\nvfio_driver = i915-vfio-pci\n' \
	>"$dir/fuzz_config/vfio-driver.ini"
printf 'bios: ovmf\nhostpci0: 0000:02:00,pcie=1,x-vga=1,romfile=a.rom\nhostpci1: mapping=gpu\nhostpci15: 10000:e0:06.0;10000:e0:06.1\n[PENDING]\nhostpci2: 03:00.0\n' \
	>"$dir/fuzz_vmconf/vm.conf"
printf 'pve-gpu-passthrough-state 1\nvmid 100\ndevice 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\nvtcon 1\nfb efi-framebuffer.0 efi-framebuffer\n' \
	>"$dir/fuzz_state/state"
printf 'pve-gpu-passthrough-state 1\nvmid 100\ndevice 0000:00:02.1 group 23 id 8086:a7a0 driver - override - vfio 1\ndevice 0000:03:00.0 group 30 id 8086:e20b driver xe override - vfio 0\ntarget 0000:00:02.1 xe_vfio_pci\ntarget 0000:03:00.0 xe_vfio_pci\n' \
	>"$dir/fuzz_state/variant"
printf 'pve-gpu-passthrough-health 1\nboot 6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab\nvmid 100\nid 1002:744c\nfault ffff\ndriver amdgpu\n' \
	>"$dir/fuzz_health/ffff"
printf 'pve-gpu-passthrough-health 1\nboot -\nvmid 999999999\nid 10de:2684\nfault driver\ndriver -\n' \
	>"$dir/fuzz_health/driver"
printf 'gpu pve1\ngpu\n\tmap node=pve1,path=0000:01:00;0000:02:00.0,id=10de:0fc6,iommugroup=29\n\tmap node=pve2,path=0000:02:00.0,id=10de:1049\n\tdescription two cards\n\nother\n\tmap node=pve1,path=0000:03:00.0,id=8086:1234\n#comment\n' \
	>"$dir/fuzz_mapping/pci.cfg"
# (first byte: "G" even, GRUB; "S" odd, /etc/kernel/cmdline)
printf 'G# If you change this file, run update-grub\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet pcie_acs_override=downstream"\nGRUB_CMDLINE_LINUX=""\n' \
	>"$dir/fuzz_host_boot/grub"
printf "GGRUB_CMDLINE_LINUX_DEFAULT='quiet splash' # comment\n" >"$dir/fuzz_host_boot/grub-single"
printf 'GGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="pcie_acs_override=downstream console=ttyS0 quiet"\n' \
	>"$dir/fuzz_host_boot/grub-linux"
# an AMD APU's VFCT table with two images (a decoy first)
seed fuzz_vfct "$top/tests/rom/vfct-780m.bin"
printf 'GGRUB_TIMEOUT=5\n' >"$dir/fuzz_host_boot/grub-none"
printf 'Sroot=ZFS=rpool/ROOT/pve-1 boot=zfs\n' >"$dir/fuzz_host_boot/cmdline"
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n\ndir: hooks\n\tpath /srv/hooks\n\tcontent snippets\n\tcontent-dirs snippets=hookscripts\n\tnodes pve1,pve2\n\nnfs: nas\n\tpath /mnt/pve/nas\n\tserver 10.0.0.5\n\texport /export\n\tcontent images,snippets\n' \
	>"$dir/fuzz_storage/storage.cfg"
printf 'hooks\n' | cat - "$dir/fuzz_storage/storage.cfg" >"$dir/fuzz_storage/hooks-first.cfg"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nvmbr0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' \
	>"$dir/fuzz_route/route"
printf '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     vmbr0\n' \
	>"$dir/fuzz_route/ipv6_route"

# The cluster files (check --cluster): .members, HA resources/groups/rules (NUL-separated
# for fuzz_sectioncfg), jobs.cfg and a node's published file.
printf '{"nodename": "pve1", "version": 0}\n' >"$dir/fuzz_members/single"
printf 'vm: 100\n\tgroup gpus\n\tstate started\n\0group: gpus\n\tnodes pve1:2,pve2\n\trestricted 1\n\0node-affinity: r\n\tresources vm:100,ct:101\n\tnodes pve2,pve3:1\n\tstrict 1\n\tdisable\n' \
	>"$dir/fuzz_sectioncfg/ha"
printf 'vzdump: nightly\n\tschedule 02:00\n\tall 1\n\texclude 101,102\n\nvzdump: p\n\tpool gpus\n\tnode pve1\n\tenabled 0\n\nvzdump: l\n\tvmid 100\n' \
	>"$dir/fuzz_sectioncfg/jobs.cfg"
# Containers: every GPU form, and a snapshot section after the live one
printf 'arch: amd64\nhostname: jellyfin\ndev0: /dev/dri/renderD128,gid=104,mode=0666\ndev1: path=/dev/nvidia0,uid=0\nlxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\nlxc.mount.entry: /mnt/media mnt/media none bind 0 0\nlxc.cgroup2.devices.allow: c 226:* rwm\nlxc.cgroup.devices.allow: c 195:255 rwm\nlxc.cgroup2.devices.allow: a\n[snap1]\ndev2: /dev/dri/card0\n' \
	>"$dir/fuzz_lxc/ct.conf"
printf 'dev0: /dev/dri/by-path/pci-0000:00:02.0-render\nlxc.mount.entry: /dev/nvidia1 dev/nvidia1 none bind,optional,create=file\n' \
	>"$dir/fuzz_lxc/by-path.conf"
printf 'dev0: /dev/dri/renderD128\0\ndev1: /dev/../etc/shadow\n' >"$dir/fuzz_lxc/hostile-nul.conf"
# attach's records (issue 29): a VM's own hookscript, the snippet copies (new and old lines).
printf 'hookscript: local:snippets/other.pl\n' >"$dir/fuzz_hookrec/vm-hookscript"
printf '%s\n' 'local:snippets/pve-gpu-passthrough-hook /var/lib/vz/snippets/pve-gpu-passthrough-hook' \
	'nas:snippets/pve-gpu-passthrough-hook /mnt/pve/nas/snippets/pve-gpu-passthrough-hook' \
	'/srv/hooks/hookscripts/pve-gpu-passthrough-hook' >"$dir/fuzz_hookrec/snippets"

# The fixtures' fake hosts: every file they hold that one of the parsers reads.
for spec in "$top"/tests/cluster/*/spec; do
	h=$(basename "$(dirname "$spec")")
	r=$(mktemp -d /tmp/pgp-fuzz-seed.XXXXXX)
	if "$fakesys" "$r" "$spec" >/dev/null 2>&1; then
		seed fuzz_members "$r/etc/pve/.members" "$h-members"
		seed fuzz_sectioncfg "$r/etc/pve/jobs.cfg" "$h-jobs.cfg"
		for f in "$r"/etc/pve/ha/*.cfg; do seed fuzz_sectioncfg "$f" "$h-$(basename "$f")"; done
		for f in "$r"/etc/pve/nodes/*/pve-gpu-passthrough; do
			seed fuzz_published "$f" "$h-$(basename "$(dirname "$f")")"
		done
	fi
	rm -rf "$r"
done
for spec in "$top"/tests/check/*/spec; do
	h=$(basename "$(dirname "$spec")")
	r=$(mktemp -d /tmp/pgp-fuzz-seed.XXXXXX)
	if "$fakesys" "$r" "$spec" >/dev/null 2>&1; then
		for f in "$r"/etc/pve/qemu-server/*.conf; do seed fuzz_vmconf "$f" "$h-$(basename "$f")"; done
		for f in "$r"/etc/pve/lxc/*.conf; do seed fuzz_lxc "$f" "$h-ct-$(basename "$f")"; done
		seed fuzz_mapping "$r/etc/pve/mapping/pci.cfg" "$h-pci.cfg"
		seed fuzz_storage "$r/etc/pve/storage.cfg" "$h-storage.cfg"
		seed fuzz_config "$r/etc/pve-gpu-passthrough.ini" "$h.ini"
		seed fuzz_iomem "$r/proc/iomem" "$h-iomem"
		seed fuzz_mountinfo "$r/proc/self/mountinfo" "$h-mountinfo"
		seed fuzz_route "$r/proc/net/route" "$h-route"
		for f in "$r"/run/pve-gpu-passthrough/*.state; do seed fuzz_state "$f" "$h-$(basename "$f")"; done
	fi
	rm -rf "$r"
done
# Identical files once (their names differ only by fixture).
for d in "$dir"/*/; do
	declare -A seen=()
	for f in "$d"*; do
		s=$(sha256sum <"$f" | cut -c1-64)
		if [ -n "${seen[$s]:-}" ]; then rm "$f"; else seen[$s]=1; fi
	done
	unset seen
done
if [ -n "$check" ] && ! diff -rq "$top/tests/fuzz/seeds" "$dir" >"$check/diff"; then
	echo "make-seeds: tests/fuzz/seeds is not what make-seeds.sh writes now (run it, commit the result):" >&2
	sed -e "s|$top/tests/fuzz/seeds|checked in|g" -e "s|$dir|regenerated|g" "$check/diff" >&2
	exit 1
fi
