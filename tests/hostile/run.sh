#!/bin/bash
# run.sh [BUILD_DIR] - hostile input through the real programs (CLI and hookscript with
# --sysroot on fake trees): the reproducers of the adversarial review of issue 12. Nothing may
# crash (exit >= 128), hang (each run is bounded by `timeout`; 124 fails) or touch a file outside
# the tree. Prints one "PASS hostile.NAME" / "FAIL hostile.NAME: why" line per check.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
cli=$build/pve-gpu-passthrough
hook=$build/pve-gpu-passthrough-hook
fakesys=$build/fakesys
for f in "$cli" "$hook" "$fakesys"; do
	[ -x "$f" ] || { echo "FAIL hostile.setup: $f missing (run make)"; exit 1; }
done
tmp=$(mktemp -d /tmp/pgp-hostile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rc=0

pass() { echo "PASS hostile.$1"; }
fail() {
	echo "FAIL hostile.$1: $2"
	sed 's/^/    | /' "$tmp/out" 2>/dev/null | head -n 20
	rc=1
}

# run NAME PROG ARGS...: runs PROG with a 20 s bound; fails NAME on a hang or a crash.
run() {
	local name=$1
	shift
	timeout 20 "$@" >"$tmp/out" 2>&1
	status=$?
	if [ "$status" -eq 124 ]; then
		fail "$name.no-hang" "still running after 20 s"
	elif [ "$status" -ge 128 ]; then
		fail "$name.no-crash" "exit $status (a signal)"
	else
		pass "$name.ends"
	fi
}
says() { if grep -qF -- "$2" "$tmp/out"; then pass "$1"; else fail "$1" "output lacks '$2'"; fi; }
status_is() { if [ "$status" -eq "$2" ]; then pass "$1"; else fail "$1" "exit $status, expected $2"; fi; }
status_not0() { if [ "$status" -ne 0 ]; then pass "$1"; else fail "$1" "exit 0, expected a failure"; fi; }

# A host: the GPU and its audio function in group 29 on efifb, VM 100 passing it through.
fresh() {
	root=$tmp/root
	rm -rf "$root"
	mkdir -p "$root"
	"$fakesys" "$root" <<-'SPEC' || { echo "FAIL hostile.fakesys"; exit 1; }
	pci 0000:00:01.0 vendor=8086 device=2f02 class=060400 bridge=1 group=1 driver=pcieport
	pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29 parent=0000:00:01.0
	pci 0000:02:00.1 vendor=10de device=0e1b class=040300 driver=snd_hda_intel group=29 parent=0000:00:01.0
	file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw
	file /proc/iomem 00000000-00000fff : Reserved
	driver vfio-pci
	dir /sys/module/vfio_iommu_type1
	dir /dev/vfio
	platform simple-framebuffer.0
	platform efi-framebuffer.0 driver=efi-framebuffer
	file /etc/pve/qemu-server/100.conf bios: ovmf\nhostpci0: 0000:02:00,pcie=1,romfile=gpu.rom
	file /etc/pve/qemu-server/101.conf hostpci0: mapping=gpu
	SPEC
}

# --- FIFOs where a file is expected: refused at once with one line, never a wait
fresh
mkfifo "$tmp/fifo.rom"
run rom-check-fifo "$cli" rom check "$tmp/fifo.rom"
status_not0 rom-check-fifo.fails
says rom-check-fifo.says "not a regular file"
mkdir -p "$root/usr/share/kvm"
mkfifo "$root/usr/share/kvm/gpu.rom"
run check-romfile-fifo "$cli" --sysroot "$root" --node pve check 100
says check-romfile-fifo.says "not a regular file"
mkfifo "$root/etc/pve-gpu-passthrough.ini"
run config-fifo "$cli" --sysroot "$root" --node pve check 100
says config-fifo.says "not a regular file"
run hook-config-fifo "$hook" --sysroot "$root" --dry-run 100 pre-start
status_not0 hook-config-fifo.refuses
rm -f "$root/etc/pve-gpu-passthrough.ini"
rm -f "$root/etc/pve/qemu-server/100.conf"
mkfifo "$root/etc/pve/qemu-server/100.conf"
run hook-vmconf-fifo "$hook" --sysroot "$root" --dry-run 100 pre-start
status_not0 hook-vmconf-fifo.refuses
says hook-vmconf-fifo.says "not a regular file"
fresh
mkdir -p "$root/run/pve-gpu-passthrough"
mkfifo "$root/run/pve-gpu-passthrough/100.state"
run hook-state-fifo "$hook" --sysroot "$root" 100 post-stop
status_not0 hook-state-fifo.refuses
says hook-state-fifo.says "not a regular file"

# --- a VM whose entries are all driver=keep starts with its devices as they are, whatever the
# INI: without a variant VFIO driver asked nothing is read beyond it, and a broken one is said
fresh
printf 'hostpci0: 0000:02:00,pcie=1,driver=keep\n' >"$root/etc/pve/qemu-server/100.conf"
run keep-only "$hook" --sysroot "$root" 100 pre-start
status_is keep-only.starts 0
mkfifo "$root/etc/pve-gpu-passthrough.ini"
run keep-only-bad-ini "$hook" --sysroot "$root" 100 pre-start
status_is keep-only-bad-ini.starts 0
says keep-only-bad-ini.says "not a regular file"
if [ -e "$root/run/pve-gpu-passthrough/100.state" ]; then
	fail keep-only-bad-ini.untouched "a state file was written"
else
	pass keep-only-bad-ini.untouched
fi

# --- --config: an explicit file must exist; a dangling link is an error
fresh
run config-missing "$cli" --sysroot "$root" --config /etc/nope.ini --node pve check 100
says config-missing.says "/etc/nope.ini: cannot open"
ln -s /etc/gone.ini "$root/etc/pve-gpu-passthrough.ini"
run config-dangling "$hook" --sysroot "$root" --dry-run 100 pre-start
status_not0 config-dangling.refuses
says config-dangling.says "a symlink to nothing"

# --- a NUL byte in the mapping file: a message, not a double free
fresh
mkdir -p "$root/etc/pve/mapping"
printf 'gpu\n\tmap node=pve,path=0000:02:00,id=10de:0fc6\0junk\n' >"$root/etc/pve/mapping/pci.cfg"
run mapping-nul-hook "$hook" --sysroot "$root" --node pve --dry-run 101 pre-start
status_not0 mapping-nul-hook.refuses
says mapping-nul-hook.says "contains a NUL byte"
run mapping-nul-check "$cli" --sysroot "$root" --node pve check 101
says mapping-nul-check.says "contains a NUL byte"
run mapping-nul-prepare "$cli" --sysroot "$root" --node pve prepare --dry-run 101

# --- the state file: an fb record climbing out of sysfs writes nothing
fresh
mkdir -p "$root/etc/victim" "$root/run/pve-gpu-passthrough"
echo keep >"$root/etc/victim/bind"
printf 'pve-gpu-passthrough-state 1\nvmid 100\nfb simple-framebuffer.0 ../../../../etc/victim\n' \
	>"$root/run/pve-gpu-passthrough/100.state"
run state-fb-traversal "$hook" --sysroot "$root" 100 post-stop
status_not0 state-fb-traversal.refuses
[ "$(cat "$root/etc/victim/bind")" = keep ] && pass state-fb-traversal.nothing-written ||
	fail state-fb-traversal.nothing-written "'/etc/victim/bind' was written"

# --- /run/pve-gpu-passthrough an absolute link to a real directory outside the tree
fresh
outside=$tmp/outside
mkdir -p "$outside"
printf 'pve-gpu-passthrough-state 1\nvmid 100\nvtcon 1\n' >"$outside/100.state"
rm -rf "$root/run/pve-gpu-passthrough"
mkdir -p "$root/run"
ln -s "$outside" "$root/run/pve-gpu-passthrough"
run abslink-release "$hook" --sysroot "$root" 100 post-stop
run abslink-prestart "$hook" --sysroot "$root" --node pve 100 pre-start
if [ -f "$outside/100.state" ] && [ "$(ls -A "$outside")" = 100.state ]; then
	pass abslink.outside-untouched
else
	fail abslink.outside-untouched "outside now holds: $(ls -A "$outside" | tr '\n' ' ')"
fi
exit $rc
