#!/bin/bash
# extract-vmlinux.sh BZIMAGE > vmlinux - find the compressed payload inside a bzImage and
# decompress it to the ELF vmlinux, which QEMU can boot directly through PVH (no decompressor
# under TCG). Tries every supported compression magic at every offset until one yields an ELF.
set -euo pipefail
img=${1:?usage: extract-vmlinux.sh BZIMAGE}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
try() { # magic-as-grep-pattern decompressor...
	local magic=$1; shift
	local pos
	for pos in $(LC_ALL=C grep -aboP "$magic" "$img" | cut -d: -f1); do
		tail -c +$((pos + 1)) "$img" | "$@" >"$tmp" 2>/dev/null || true
		if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			cat "$tmp"
			exit 0
		fi
	done
}
try '\xfd7zXZ\x00' xz -dc
try '\x28\xb5\x2f\xfd' zstd -dc
try '\x1f\x8b\x08' gzip -dc
echo "extract-vmlinux: no ELF payload found in $img" >&2
exit 1
