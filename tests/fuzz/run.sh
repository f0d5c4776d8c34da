#!/bin/bash
# run.sh [SECONDS] - build the ROM parser's libFuzzer target with ASan/UBSan into build-fuzz/
# and run it briefly (default 20 s, or $FUZZ_TIME), seeded from Debian's iPXE and SeaBIOS ROM
# images. Prints "PASS fuzz_rom" or "FAIL fuzz_rom: why"; a crash input is kept in build-fuzz/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
secs=${1:-${FUZZ_TIME:-20}}
bin=$out/fuzz_rom
log=$out/fuzz_rom.log

fail() {
	echo "FAIL fuzz_rom: $1"
	exit 1
}

command -v clang >/dev/null || fail "clang is not installed (tests/deps.sh)"
mkdir -p "$out/corpus-rom" "$out/seeds-rom" || fail "cannot create '$out'"
# The parser is self-contained: rom.c needs only the rooted I/O of sysroot.c to link.
clang -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I"$top/common" \
	"$top/tests/fuzz/fuzz_rom.c" "$top/common/rom.c" "$top/common/sysroot.c" \
	-o "$bin" >"$out/build.log" 2>&1 || fail "cannot build (see '$out/build.log')"

# Seeds: real images, and one behind a vendor header so the header finder gets work.
shopt -s nullglob
for f in /usr/lib/ipxe/qemu/efi-e1000.rom /usr/lib/ipxe/qemu/pxe-virtio.rom \
	/usr/share/seabios/vgabios-stdvga.bin /usr/share/seabios/vgabios-bochs-display.bin; do
	[ -f "$f" ] && cp "$f" "$out/seeds-rom/"
done
if [ -f /usr/share/seabios/vgabios-stdvga.bin ]; then
	{ printf 'NVGI header VIDEO '; cat /usr/share/seabios/vgabios-stdvga.bin; } \
		>"$out/seeds-rom/header-stdvga.rom"
fi
[ -n "$(ls "$out/seeds-rom")" ] || fail "no seed ROMs (install ipxe-qemu and seabios: tests/deps.sh)"

# The first directory collects new inputs; the seeds stay as they are.
"$bin" -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/" -print_final_stats=1 \
	"$out/corpus-rom" "$out/seeds-rom" >"$log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$log" | sed 's/^/  /'
	fail "fuzzer exited $rc (log '$log')"
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "PASS fuzz_rom (${runs:-?} runs in ${secs} s)"
