#!/bin/bash
# run.sh [SECONDS] - build the libFuzzer targets (tests/fuzz/fuzz_*.c) with ASan/UBSan into
# build-fuzz/ and run each briefly: 20 s for the ROM parser, 10 s for the others, or SECONDS
# (or $FUZZ_TIME) each. $FUZZ_JOBS targets run at once (default 1); $FUZZ_ONLY="a b" runs
# only those targets. Every parser that reads what a user or a file provides has a target:
#   fuzz_rom        vBIOS images (seeded from Debian's iPXE and SeaBIOS ROMs)
#   fuzz_config     our INI (through the strict pre-check and inih)
#   fuzz_vmconf     Proxmox VM configs and hostpci values
#   fuzz_mapping    /etc/pve/mapping/pci.cfg
#   fuzz_storage    /etc/pve/storage.cfg
#   fuzz_state      our state files, read back by post-stop
#   fuzz_iomem      /proc/iomem
#   fuzz_mountinfo  /proc/self/mountinfo
#   fuzz_route      /proc/net/route and /proc/net/ipv6_route
#   fuzz_host_boot    /etc/default/grub and /etc/kernel/cmdline, as setup rewrites them
# Seeds are real files: the fixtures' trees (tests/check/*/spec, built with build/fakesys when
# it exists), this machine's own /proc files (read only), Debian's ROMs. Prints "PASS fuzz_NAME
# (N runs in S s)" or "FAIL fuzz_NAME: why" per target; a crash input is kept in build-fuzz/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
obj=$out/obj
rc=0
secs_arg=${1:-${FUZZ_TIME:-}}
jobs=${FUZZ_JOBS:-1}
targets=(fuzz_rom fuzz_config fuzz_vmconf fuzz_mapping fuzz_storage fuzz_state fuzz_iomem
	fuzz_mountinfo fuzz_route fuzz_host_boot)
[ -n "${FUZZ_ONLY:-}" ] && read -r -a targets <<<"$FUZZ_ONLY"

command -v clang >/dev/null || { echo "FAIL fuzz: clang is not installed (tests/deps.sh)"; exit 1; }
mkdir -p "$obj"
san=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
pkgs=$(pkg-config --cflags inih libpci libkmod 2>/dev/null)

# The library once, instrumented for coverage (fuzzer-no-link); a target links what it needs.
lib=$out/libcommon-fuzz.a
stale=0
objs=()
for c in "$top"/common/base/*.c "$top"/common/*.c; do
	o=$obj/$(basename "$c" .c).o
	objs+=("$o")
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find "$top/common" -name '*.h' -newer "$o")" ]; then
		# shellcheck disable=SC2086
		if ! clang "${san[@]}" -fsanitize=fuzzer-no-link -std=gnu11 -I"$top/common/base" -I"$top/common" $pkgs \
			-c "$c" -o "$o" 2>>"$out/lib.build.log"; then
			echo "FAIL fuzz: cannot build '$c' (see '$out/lib.build.log')"
			exit 1
		fi
		stale=1
	fi
done
if [ "$stale" = 1 ] || [ ! -f "$lib" ]; then
	rm -f "$lib"
	ar rcs "$lib" "${objs[@]}" # only the sources there are now (a renamed one leaves its old .o)
fi

# ---- seeds ----
seed() { mkdir -p "$out/seeds-$1"; [ -f "$2" ] && cp "$2" "$out/seeds-$1/${3:-$(basename "$2")}"; }
rm -rf "$out"/seeds-*
shopt -s nullglob
for f in /usr/lib/ipxe/qemu/efi-e1000.rom /usr/lib/ipxe/qemu/pxe-virtio.rom \
	/usr/share/seabios/vgabios-stdvga.bin /usr/share/seabios/vgabios-bochs-display.bin; do
	seed fuzz_rom "$f"
done
if [ -f /usr/share/seabios/vgabios-stdvga.bin ]; then
	{ printf 'NVGI header VIDEO '; cat /usr/share/seabios/vgabios-stdvga.bin; } \
		>"$out/seeds-fuzz_rom/header-stdvga.rom"
fi
seed fuzz_config "$top/doc/pve-gpu-passthrough.ini"
printf '[hook]\nunbind_timeout = 3s\nholders = warn\n[vm:101]\nreturn_on_stop = no\n[early]\nids = 10de:0fc6,10de:0e1b\naddresses = 0000:02:00.0\n' \
	>"$out/seeds-fuzz_config/all.ini"
printf '[hook]\nholders = warn\n[sriov]\npf = 0000:00:02.0\nvfs = 7\ndriver = vfio-pci\n' \
	>"$out/seeds-fuzz_config/sriov-addr.ini"
printf '[sriov]\npf = 8086:a7a0\nvfs = 255\ndriver = xe_vfio_pci\n[vm:100]\nholders = warn\n' \
	>"$out/seeds-fuzz_config/sriov-id.ini"
mkdir -p "$out/seeds-fuzz_vmconf" "$out/seeds-fuzz_state" "$out/seeds-fuzz_mapping"
printf 'bios: ovmf\nhostpci0: 0000:02:00,pcie=1,x-vga=1,romfile=a.rom\nhostpci1: mapping=gpu\nhostpci15: 10000:e0:06.0;10000:e0:06.1\n[PENDING]\nhostpci2: 03:00.0\n' \
	>"$out/seeds-fuzz_vmconf/vm.conf"
printf 'pve-gpu-passthrough-state 1\nvmid 100\ndevice 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\nvtcon 1\nfb efi-framebuffer.0 efi-framebuffer\n' \
	>"$out/seeds-fuzz_state/state"
printf 'gpu pve1\ngpu\n\tmap node=pve1,path=0000:01:00;0000:02:00.0,id=10de:0fc6,iommugroup=29\n\tmap node=pve2,path=0000:02:00.0,id=10de:1049\n\tdescription two cards\n\nother\n\tmap node=pve1,path=0000:03:00.0,id=8086:1234\n' \
	>"$out/seeds-fuzz_mapping/pci.cfg"
for f in /proc/self/mountinfo /proc/net/route /proc/net/ipv6_route /proc/iomem; do
	case $f in
	*mountinfo) t=fuzz_mountinfo ;; *route) t=fuzz_route ;; *) t=fuzz_iomem ;;
	esac
	mkdir -p "$out/seeds-$t"
	cat "$f" >"$out/seeds-$t/host-$(basename "$f")" 2>/dev/null
done
# The fixtures' fake hosts: every file they hold that one of the parsers reads.
if [ -x "$top/build/fakesys" ]; then
	for spec in "$top"/tests/check/*/spec; do
		h=$(basename "$(dirname "$spec")")
		r=$(mktemp -d /tmp/pgp-fuzz-seed.XXXXXX)
		if "$top/build/fakesys" "$r" "$spec" >/dev/null 2>&1; then
			for f in "$r"/etc/pve/qemu-server/*.conf; do seed fuzz_vmconf "$f" "$h-$(basename "$f")"; done
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
fi
mkdir -p "$out/seeds-fuzz_host_boot"
# (first byte: "G" even, GRUB; "S" odd, /etc/kernel/cmdline)
printf 'G# If you change this file, run update-grub\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet pcie_acs_override=downstream"\nGRUB_CMDLINE_LINUX=""\n' \
	>"$out/seeds-fuzz_host_boot/grub"
printf "GGRUB_CMDLINE_LINUX_DEFAULT='quiet splash' # comment\n" >"$out/seeds-fuzz_host_boot/grub-single"
printf 'GGRUB_TIMEOUT=5\n' >"$out/seeds-fuzz_host_boot/grub-none"
printf 'Sroot=ZFS=rpool/ROOT/pve-1 boot=zfs\n' >"$out/seeds-fuzz_host_boot/cmdline"
mkdir -p "$out/seeds-fuzz_storage"
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n\ndir: hooks\n\tpath /srv/hooks\n\tcontent snippets\n\tcontent-dirs snippets=hookscripts\n\tnodes pve1,pve2\n\nnfs: nas\n\tpath /mnt/pve/nas\n\tserver 10.0.0.5\n\texport /export\n\tcontent images,snippets\n' \
	>"$out/seeds-fuzz_storage/storage.cfg"
printf 'hooks\n' | cat - "$out/seeds-fuzz_storage/storage.cfg" >"$out/seeds-fuzz_storage/hooks-first.cfg"

# fuzz NAME SECONDS: build one target and run it
fuzz() {
	local name=$1 secs=$2 bin=$out/$1 log=$out/$1.log
	# shellcheck disable=SC2046
	if ! clang "${san[@]}" -fsanitize=fuzzer -std=gnu11 -I"$top/common/base" -I"$top/common" "$top/tests/fuzz/$name.c" \
		"$lib" $(pkg-config --libs inih libpci libkmod) -o "$bin" >"$out/$name.build.log" 2>&1; then
		echo "FAIL $name: cannot build (see '$out/$name.build.log')"
		return 1
	fi
	mkdir -p "$out/corpus-$name" "$out/seeds-$name"
	if ! "$bin" -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" -print_final_stats=1 \
		"$out/corpus-$name" "$out/seeds-$name" >"$log" 2>&1; then
		tail -n 30 "$log" | sed 's/^/  /'
		echo "FAIL $name: the fuzzer found a problem (log '$log')"
		return 1
	fi
	echo "PASS $name ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs in $secs s)"
}

running=0
for t in "${targets[@]}"; do
	[ -f "$top/tests/fuzz/$t.c" ] || { echo "FAIL $t: no tests/fuzz/$t.c"; rc=1; continue; }
	secs=$secs_arg
	[ -n "$secs" ] || { [ "$t" = fuzz_rom ] && secs=20 || secs=10; }
	if [ "$jobs" -gt 1 ]; then
		fuzz "$t" "$secs" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait -n || rc=1
			running=$((running - 1))
		fi
	else
		fuzz "$t" "$secs" || rc=1
	fi
done
while [ "$running" -gt 0 ]; do
	wait -n || rc=1
	running=$((running - 1))
done
exit $rc
