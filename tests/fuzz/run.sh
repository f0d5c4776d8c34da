#!/bin/bash
# run.sh [SECONDS] - build the libFuzzer targets (tests/fuzz/fuzz_*.c) with ASan/UBSan into
# build-fuzz/ and run each briefly (default 20 s for the ROM parser, 10 s for the others, or
# SECONDS / $FUZZ_TIME for all): fuzz_rom (vBIOS images, seeded from Debian's iPXE and SeaBIOS
# ROMs), fuzz_config (our INI), fuzz_vmconf (Proxmox VM configs, hostpci values, our state
# files). Prints "PASS fuzz_NAME" or "FAIL fuzz_NAME: why" per target; a crash input is kept
# in build-fuzz/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
rc=0

# fuzz NAME SECONDS SOURCES... : build one target and run it
fuzz() {
	local name=$1 secs=$2 bin=$out/$1 log=$out/$1.log
	shift 2
	if ! clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I"$top/common" "$top/tests/fuzz/$name.c" "$@" \
		$(pkg-config --cflags --libs inih) -o "$bin" >"$out/$name.build.log" 2>&1; then
		echo "FAIL $name: cannot build (see '$out/$name.build.log')"
		rc=1
		return
	fi
	mkdir -p "$out/corpus-$name" "$out/seeds-$name"
	if ! "$bin" -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" -print_final_stats=1 \
		"$out/corpus-$name" "$out/seeds-$name" >"$log" 2>&1; then
		tail -n 30 "$log" | sed 's/^/  /'
		echo "FAIL $name: the fuzzer found a problem (log '$log')"
		rc=1
		return
	fi
	echo "PASS $name ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs in $secs s)"
}

command -v clang >/dev/null || { echo "FAIL fuzz: clang is not installed (tests/deps.sh)"; exit 1; }
mkdir -p "$out/seeds-fuzz_rom" "$out/seeds-fuzz_config" "$out/seeds-fuzz_vmconf"

# Seeds: real ROM images, and one behind a vendor header so the header finder gets work.
shopt -s nullglob
for f in /usr/lib/ipxe/qemu/efi-e1000.rom /usr/lib/ipxe/qemu/pxe-virtio.rom \
	/usr/share/seabios/vgabios-stdvga.bin /usr/share/seabios/vgabios-bochs-display.bin; do
	[ -f "$f" ] && cp "$f" "$out/seeds-fuzz_rom/"
done
if [ -f /usr/share/seabios/vgabios-stdvga.bin ]; then
	{ printf 'NVGI header VIDEO '; cat /usr/share/seabios/vgabios-stdvga.bin; } \
		>"$out/seeds-fuzz_rom/header-stdvga.rom"
fi
cp "$top/doc/pve-gpu-passthrough.ini" "$out/seeds-fuzz_config/"
printf '[hook]\nunbind_timeout = 3s\nholders = warn\n[vm:101]\nreturn_on_stop = no\n[early]\nids = 10de:0fc6,10de:0e1b\naddresses = 0000:02:00.0\n' \
	>"$out/seeds-fuzz_config/all.ini"
printf 'bios: ovmf\nhostpci0: 0000:02:00,pcie=1,x-vga=1,romfile=a.rom\nhostpci1: mapping=gpu\n[PENDING]\nhostpci2: 03:00.0\n' \
	>"$out/seeds-fuzz_vmconf/vm.conf"
printf 'pve-gpu-passthrough-state 1\nvmid 100\ndevice 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\nvtcon 1\nfb efi-framebuffer.0 efi-framebuffer\n' \
	>"$out/seeds-fuzz_vmconf/state"

c=$top/common
fuzz fuzz_rom "${1:-${FUZZ_TIME:-20}}" "$c/rom.c" "$c/sysroot.c" "$c/util.c"
fuzz fuzz_config "${1:-${FUZZ_TIME:-10}}" "$c/config.c" "$c/sysroot.c" "$c/util.c" "$c/pciaddr.c"
fuzz fuzz_vmconf "${1:-${FUZZ_TIME:-10}}" "$c/pveconf.c" "$c/state.c" "$c/pcidev.c" "$c/sysroot.c" \
	"$c/util.c" "$c/pciaddr.c"
exit $rc
