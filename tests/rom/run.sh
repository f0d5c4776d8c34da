#!/bin/bash
# run.sh [BUILD_DIR] - `rom check|patch|dump` of the built CLI on ROM images no one here wrote
# (Debian's ipxe-qemu and seabios) and on fake sysfs trees. Prints one "PASS name" or
# "FAIL name: why" line per assertion; exits 1 when any failed.
# Safety: every `rom dump` runs with --sysroot on a temporary tree, never on the real /sys.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/rom
build=${1:-$top/build}
cli=$build/pve-gpu-passthrough
fakesys=$build/fakesys
tmp=$(mktemp -d /tmp/pgp-rom-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }

# expect NAME RC CMD...: runs CMD, output in $tmp/out, and asserts its exit code.
expect() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$name"
	else
		fail "$name" "exit $rc, expected $want: $(head -c 400 "$tmp/out" | tr '\n' ' ')"
	fi
}

# grep_out NAME PATTERN: asserts the last command's output contains PATTERN (fixed string).
grep_out() {
	if grep -qF -- "$2" "$tmp/out"; then pass "$1"; else fail "$1" "no '$2' in output"; fi
}

# file_is NAME PATH TEXT: asserts the exact content of a (fake sysfs) file.
file_is() {
	local got
	got=$(cat "$2" 2>/dev/null)
	if [ "$got" = "$3" ]; then pass "$1"; else fail "$1" "'$2' holds '$got', expected '$3'"; fi
}

if [ ! -x "$cli" ] || [ ! -x "$fakesys" ]; then
	fail rom.build "'$cli' or '$fakesys' missing (run make)"
	exit 1
fi

# ---- real images, expected verdicts per file ----
# ipxe-qemu efi-*.rom: x86 image + x64 EFI boot service driver -> 0 (OVMF can use it).
# ipxe-qemu pxe-*.rom and seabios PCI vgabios-*.bin: x86 image only -> 1.
# vgabios-isavga.bin and vgabios-ramfb.bin are not PCI ROMs (no PCIR structure) -> 2.
shopt -s nullglob
efi=(/usr/lib/ipxe/qemu/efi-*.rom /usr/share/qemu/efi-*.rom)
pxe=(/usr/lib/ipxe/qemu/pxe-*.rom)
vga=(/usr/share/seabios/vgabios-*.bin)
[ ${#efi[@]} -gt 0 ] && [ ${#pxe[@]} -gt 0 ] || fail rom.deps "ipxe-qemu is not installed (tests/deps.sh)"
[ ${#vga[@]} -gt 0 ] || fail rom.deps "seabios is not installed (tests/deps.sh)"
for f in "${efi[@]}"; do
	n=$(basename "$f")
	expect "rom.check.$n" 0 "$cli" rom check "$f"
	grep_out "rom.check.$n.verdict" "verdict: valid, OVMF can use image 1 (x64 EFI boot service driver)"
	expect "rom.check.$n.json" 0 "$cli" rom check --json "$f"
	grep_out "rom.check.$n.json.verdict" '"verdict":"ovmf"'
done
for f in "${pxe[@]}"; do
	expect "rom.check.$(basename "$f")" 1 "$cli" rom check "$f"
	grep_out "rom.check.$(basename "$f").verdict" "verdict: valid, but no x64 EFI image"
done
for f in "${vga[@]}"; do
	n=$(basename "$f")
	[ -L "$f" ] && continue # vgabios.bin names one of the others
	case $n in
	vgabios-isavga.bin | vgabios-ramfb.bin) want=2 ;;
	*) want=1 ;;
	esac
	expect "rom.check.$n" "$want" "$cli" rom check "$f"
	[ "$want" = 1 ] && grep_out "rom.check.$n.checksum" "checksum ok, last"
done

# ---- --device against a fake tree (FILE is taken inside the --sysroot) ----
e1000=/usr/lib/ipxe/qemu/efi-e1000.rom
stdvga=/usr/share/seabios/vgabios-stdvga.bin
root=$tmp/root
mkdir -p "$root"
printf '%s\n' \
	"pci 0000:00:03.0 vendor=8086 device=100e class=020000 group=3" \
	"pci 0000:00:04.0 vendor=8086 device=10d3 class=020000 group=4" \
	"pci 0000:01:00.0 vendor=10de device=1b80 class=030000 rom=f0000000:20000 driver=nvidia group=1" \
	"pci 0000:02:00.0 vendor=1234 device=1111 class=030000 rom=f1000000:10000 driver=vfio-pci group=2" \
	"pci 0000:03:00.0 vendor=1234 device=1111 class=030000 group=5" \
	"pci 0000:c5:00.0 vendor=1002 device=15bf class=030000 driver=amdgpu group=6" \
	"pci 0000:c5:00.1 vendor=1002 device=1640 class=040300 driver=snd_hda_intel group=7" \
	"pci 0000:c6:00.0 vendor=1002 device=1681 class=030000 group=8" >"$tmp/spec"
if "$fakesys" "$root" "$tmp/spec"; then
	[ -f "$e1000" ] && cp "$e1000" "$root/e1000.rom"
	expect rom.check.device.match 0 "$cli" --sysroot "$root" rom check --device 00:03.0 /e1000.rom
	grep_out rom.check.device.match.text "the ROM's ids match"
	expect rom.check.device.mismatch 1 "$cli" --sysroot "$root" rom check --device 0000:00:04.0 /e1000.rom
	grep_out rom.check.device.mismatch.text "the ROM is for another device"
	expect rom.check.device.json 1 "$cli" --sysroot "$root" rom check --json --device 0000:00:04.0 /e1000.rom
	grep_out rom.check.device.json.match '"match":false'
	expect rom.check.device.absent 3 "$cli" --sysroot "$root" rom check --device 0000:00:09.0 /e1000.rom
else
	fail rom.fakesys "cannot build the fake tree"
fi

# ---- rom patch: a vendor header in front of a display ROM ----
printf 'NVGI\0\0\0\0 vendor header  VIDEO \x55\xaa\0\0' >"$tmp/hdr"
head -c 1187 /dev/urandom >>"$tmp/hdr"
cat "$tmp/hdr" "$stdvga" >"$tmp/nv.rom"
expect rom.check.header 2 "$cli" rom check "$tmp/nv.rom"
grep_out rom.check.header.hint "rom patch FILE -o OUT"
expect rom.patch.strip 0 "$cli" rom patch "$tmp/nv.rom" -o "$tmp/clean.rom"
grep_out rom.patch.strip.size "stripping a $(stat -c %s "$tmp/hdr")-byte header"
if cmp -s "$tmp/clean.rom" "$stdvga"; then pass rom.patch.strip.bytes; else fail rom.patch.strip.bytes "output differs from the image"; fi
expect rom.check.patched 1 "$cli" rom check "$tmp/clean.rom"
expect rom.patch.exists 1 "$cli" rom patch "$tmp/nv.rom" -o "$tmp/clean.rom"
expect rom.patch.in_place 1 "$cli" rom patch "$tmp/nv.rom" -o "$tmp/nv.rom"
expect rom.patch.nothing_to_strip 1 "$cli" rom patch "$stdvga" -o "$tmp/copy.rom"
[ ! -e "$tmp/copy.rom" ] && pass rom.patch.nothing_to_strip.no_file || fail rom.patch.nothing_to_strip.no_file "a file was written"
cat "$tmp/hdr" "$e1000" >"$tmp/nic.rom"
expect rom.patch.not_display 2 "$cli" rom patch "$tmp/nic.rom" -o "$tmp/nic-out.rom"
head -c 65536 /dev/urandom >"$tmp/random.rom"
expect rom.patch.random 2 "$cli" rom patch "$tmp/random.rom" -o "$tmp/random-out.rom"
expect rom.check.random 2 "$cli" rom check "$tmp/random.rom"
expect rom.check.unreadable 3 "$cli" rom check "$tmp/no-such.rom"
expect rom.patch.no_output 64 "$cli" rom patch "$tmp/nv.rom"

# ---- rom dump on the fake tree: the rom attribute is a plain file there, so the read
# returns the last value written ("1"), and the attribute must end at "0". ----
rom1=$root/sys/bus/pci/devices/0000:01:00.0/rom
rom2=$root/sys/bus/pci/devices/0000:02:00.0/rom
printf 'card data' >"$rom1"
printf 'card data' >"$rom2"
expect rom.dump.host_driver_refused 1 "$cli" --sysroot "$root" rom dump 01:00.0 -o /nv.rom
grep_out rom.dump.host_driver_refused.text "is bound to 'nvidia'"
file_is rom.dump.host_driver_untouched "$rom1" "card data"
[ ! -e "$root/nv.rom" ] && pass rom.dump.host_driver_no_file || fail rom.dump.host_driver_no_file "'/nv.rom' written"
expect rom.dump.vfio 2 "$cli" --sysroot "$root" rom dump 0000:02:00.0 -o /vga.rom
file_is rom.dump.vfio.restored "$rom2" "0"
file_is rom.dump.vfio.read_after_enable "$root/vga.rom" "1"
expect rom.dump.exists 1 "$cli" --sysroot "$root" rom dump 0000:02:00.0 -o /vga.rom
expect rom.dump.force 2 "$cli" --sysroot "$root" rom dump 01:00.0 --force -o /nv.rom
file_is rom.dump.force.restored "$rom1" "0"
expect rom.dump.no_rom 1 "$cli" --sysroot "$root" rom dump 03:00.0 -o /none.rom
grep_out rom.dump.no_rom.text "has no 'rom' attribute"
expect rom.dump.no_device 1 "$cli" --sysroot "$root" rom dump 0000:0a:00.0 -o /none.rom
expect rom.dump.bad_addr 64 "$cli" --sysroot "$root" rom dump nonsense -o /none.rom
# ---- rom dump --vfct: tests/rom/vfct-780m.bin holds two images for 0000:c5:00.0, a decoy
# with the ids 1002:1681 first (header at 0x4c, 1024 bytes at 0x68), then the one for the
# 780M 1002:15bf (header at 0x468, 1024 bytes at 0x484): the kernel's rules (bus, slot,
# function and ids) take the second for c5:00.0 and none for the 1681 at c6:00.0. ----
vfct=$here/vfct-780m.bin
expect rom.vfct.no_table 1 "$cli" --sysroot "$root" rom dump --vfct c5:00.0 -o /vfct-none.rom
grep_out rom.vfct.no_table.text "no ACPI VFCT table"
expect rom.vfct.no_rom_bar 1 "$cli" --sysroot "$root" rom dump c5:00.0 --force -o /bar.rom
grep_out rom.vfct.no_rom_bar.hint "integrated GPUs keep their vBIOS"
mkdir -p "$root/sys/firmware/acpi/tables"
cp "$vfct" "$root/sys/firmware/acpi/tables/VFCT"
expect rom.vfct.no_rom_bar.vfct 1 "$cli" --sysroot "$root" rom dump c5:00.0 --force -o /bar.rom
grep_out rom.vfct.no_rom_bar.vfct.hint "rom dump --vfct 0000:c5:00.0"
expect rom.vfct.match 0 "$cli" --sysroot "$root" rom dump --vfct c5:00.0 -o /780m.rom
grep_out rom.vfct.match.text "read 1024 bytes from the ACPI VFCT image of '0000:c5:00.0'"
grep_out rom.vfct.match.ids "1002:15bf, class 030000"
dd if="$vfct" of="$tmp/want.rom" bs=1 skip=$((0x484)) count=1024 status=none
if cmp -s "$root/780m.rom" "$tmp/want.rom"; then pass rom.vfct.match.bytes; else fail rom.vfct.match.bytes "not the 15bf image"; fi
expect rom.vfct.match.check 1 "$cli" --sysroot "$root" rom check --device c5:00.0 /780m.rom
grep_out rom.vfct.match.check.ids "the ROM's ids match"
expect rom.vfct.decoy 1 "$cli" --sysroot "$root" rom dump --vfct c6:00.0 -o /decoy.rom
grep_out rom.vfct.decoy.text "holds no image for '0000:c6:00.0' [1002:1681]"
grep_out rom.vfct.decoy.note "it holds one for c5:00.0 [1002:1681]"
[ ! -e "$root/decoy.rom" ] && pass rom.vfct.decoy.no_file || fail rom.vfct.decoy.no_file "'/decoy.rom' written"
expect rom.vfct.function 1 "$cli" --sysroot "$root" rom dump --vfct c5:00.1 -o /audio.rom
head -c 1200 "$vfct" >"$root/sys/firmware/acpi/tables/VFCT"
expect rom.vfct.truncated 1 "$cli" --sysroot "$root" rom dump --vfct c5:00.0 -o /cut.rom
grep_out rom.vfct.truncated.text "is not a valid VFCT table"
# a table whose second image runs past the end (length field patched): the decoy still reads
{ head -c $((0x468 + 0x18)) "$vfct"; printf '\xff\xff\x00\x00'; tail -c +$((0x468 + 0x1c + 1)) "$vfct"; } \
	>"$root/sys/firmware/acpi/tables/VFCT"
expect rom.vfct.broken_entry 1 "$cli" --sysroot "$root" rom dump --vfct c5:00.0 -o /cut.rom
grep_out rom.vfct.broken_entry.text "is broken at 0x468 (an image runs past the table's end)"

# ---- rom check of a GOP driver ROM (an x64 EFI driver alone, no legacy image) ----
gop=$here/gop-driver.rom
expect rom.gop.check 0 "$cli" rom check "$gop"
grep_out rom.gop.check.kind "kind: a GOP driver ROM"
cp "$gop" "$root/gop.rom"
expect rom.gop.audio 0 "$cli" --sysroot "$root" rom check --device c5:00.1 /gop.rom
grep_out rom.gop.audio.text "the ROM is the GOP driver of 0000:c5:00.0, the GPU of the same card"
expect rom.gop.audio.json 0 "$cli" --sysroot "$root" rom check --json --device c5:00.1 /gop.rom
grep_out rom.gop.audio.json.match '"match":true,"gop_driver_of":"0000:c5:00.0"'
expect rom.gop.other_card 1 "$cli" --sysroot "$root" rom check --device 00:03.0 /gop.rom
grep_out rom.gop.other_card.text "the ROM is for another device"
expect rom.usage 64 "$cli" rom frobnicate

exit $failed
