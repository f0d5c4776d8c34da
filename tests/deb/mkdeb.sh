#!/bin/bash
# mkdeb.sh OUTDIR [VERSION] - build the Debian package (`make deb`) from a temporary copy of
# the tree, so the checkout stays clean, and copy the .deb files, .buildinfo and .changes to
# OUTDIR (emptied first). VERSION, when given, is put in a new changelog entry of the copy
# (the upgrade test builds a newer version this way). Prints the path of the main .deb.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: mkdeb.sh OUTDIR [VERSION]}
version=${2:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/pgp-mkdeb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/pve-gpu-passthrough
mkdir "$src"

# The tree as git sees it (tracked and untracked files, without ignored build output), or
# everything but the build directories outside a git checkout.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/build" "$src/build-san" "$src/build-fuzz"

if [ -n "$version" ]; then
	maint=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/debian/changelog" | head -n1)
	{
		printf 'pve-gpu-passthrough (%s) bookworm; urgency=medium\n\n' "$version"
		printf '  * Rebuilt with a new version number.\n\n'
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat "$src/debian/changelog"
	} >"$tmp/changelog"
	mv "$tmp/changelog" "$src/debian/changelog"
fi

if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed (log above)" >&2
	exit 1
fi
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
cp "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$out"/
ls "$out"/pve-gpu-passthrough_*.deb
