#!/bin/bash
# deps.sh [--lab] - install, with apt, what building and testing need (only what is missing).
# --lab: only what `make demo` needs. Runs as root on a Debian 12 machine.
set -euo pipefail
build=(gcc make pkgconf dpkg-dev libpci-dev libkmod-dev libinih-dev libc6-dev)
lab=(qemu-system-x86 ovmf seabios busybox-static cpio kmod xz-utils zstd e2fsprogs jq)
tests=(clang ipxe-qemu initramfs-tools-core udev debhelper lintian fakeroot debootstrap pciutils)
# The lab's Proxmox-configured kernel is built from Debian's linux-source (tests/lab/build-kernel.sh).
kbuild=(bc bison flex libelf-dev libssl-dev)
want=("${build[@]}" "${lab[@]}")
[ "${1:-}" = --lab ] || want+=("${tests[@]}" "${kbuild[@]}")
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root (apt-get install ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
