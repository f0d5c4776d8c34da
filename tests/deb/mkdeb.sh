#!/bin/bash
# mkdeb.sh [-r RELEASE] [-R ROOT] OUTDIR [VERSION] - build the Debian package (`make deb`) for
# RELEASE (bookworm: Proxmox VE 8, trixie: Proxmox VE 9; default: this machine's release), in
# a root of that release, from a copy of the tree, so the checkout stays clean. Copies the
# source package (.dsc, .tar.xz), the .debs, .buildinfo and .changes to OUTDIR (emptied first)
# and prints the path of the main .deb.
#
# The copy's changelog gets an entry for RELEASE on top: version VERSION, or the changelog's
# version + "+debNN" (0.1+deb12, 0.1+deb13: a package for 13 is newer than the one for 12), so
# the version and the changelog say which release the package is for.
#
# The root: ROOT when given (an unpacked build root, see run.sh; left in place), else a fresh
# one unpacked from the cache (tests/deb/bootstrap.sh -n build; needs root, and the network
# the first time). Without root privileges, a package for this machine's own release is built
# on this machine instead; one for another release cannot be.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/deb/lib.sh"
release=
root=
while getopts r:R: opt; do
	case "$opt" in
	r) release=$OPTARG ;;
	R) root=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
out=${1:?usage: mkdeb.sh [-r RELEASE] [-R ROOT] OUTDIR [VERSION]}
version=${2:-}
host_release=$(deb_host_release)
[ -n "$release" ] || release=$host_release
if ! nums=$(deb_release "$release"); then
	echo "mkdeb: no package for release '$release': make deb RELEASE=bookworm|trixie" >&2
	exit 2
fi
debian=${nums% *}
pve=${nums#* }
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

# The release's changelog entry, dated by the commit the tree is (the build's
# SOURCE_DATE_EPOCH comes from it, so a rebuild of a commit gives the same files), and in any
# case after the entry below it.
maint=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/debian/changelog" | head -n1)
prev=$(date -d "$(sed -n 's/^ -- .*>  //p' "$src/debian/changelog" | head -n1)" +%s)
when=$(git -C "$top" log -1 --format=%ct 2>/dev/null) || when=$(date +%s)
[ "${when:-0}" -gt "$prev" ] || when=$((prev + 1))
date=$(date -u -R -d "@$when")
[ -n "$version" ] || version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$src/debian/changelog")+deb$debian
{
	printf 'pve-gpu-passthrough (%s) %s; urgency=medium\n\n' "$version" "$release"
	printf '  * Built for Debian %s "%s" (Proxmox VE %s).\n\n' "$debian" "$release" "$pve"
	printf ' -- %s  %s\n\n' "$maint" "$date"
	cat "$src/debian/changelog"
} >"$tmp/changelog"
mv "$tmp/changelog" "$src/debian/changelog"
overrides=$(deb_release_overrides "$release")
[ -z "$overrides" ] || printf '%s\n' "$overrides" >>"$src/debian/source/lintian-overrides"

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	if [ "$release" != "$host_release" ]; then
		echo "mkdeb: a package for $release is built in a root of it: run as root" >&2
		exit 1
	fi
	echo "mkdeb: not root: building on this machine ($host_release) instead of a clean root" >&2
	if ! (cd "$src" && dpkg-buildpackage -us -uc) >"$tmp/build.log" 2>&1; then
		tail -n 40 "$tmp/build.log" >&2
		echo "mkdeb: dpkg-buildpackage failed (log above)" >&2
		exit 1
	fi
	built=$tmp
else
	if [ -z "$root" ]; then
		root=$tmp/root
		# shellcheck disable=SC2046
		"$top/tests/deb/bootstrap.sh" -r "$release" -n build "$root" $(deb_build_packages "$src")
	fi
	# Builds in the root happen in /tmp/pgp-build, replaced each time. The root has nothing
	# mounted: the build and the unit tests see only the root.
	built=$root/tmp/pgp-build
	rm -rf "$built"
	mkdir -p "$built"
	mv "$src" "$built/"
	if ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
		sh -c 'cd /tmp/pgp-build/pve-gpu-passthrough && dpkg-buildpackage -us -uc' \
		</dev/null >"$tmp/build.log" 2>&1; then
		# the failing unit tests (with their reasons), then the end of the log
		grep -E -B3 '^FAIL ' "$tmp/build.log" | head -n 40 >&2
		tail -n 20 "$tmp/build.log" >&2
		echo "mkdeb: dpkg-buildpackage in the $release root failed (log above)" >&2
		exit 1
	fi
fi
rm -f "$out"/*.deb "$out"/*.dsc "$out"/*.tar.* "$out"/*.buildinfo "$out"/*.changes
cp "$built"/*.deb "$built"/*.dsc "$built"/*.tar.* "$built"/*.buildinfo "$built"/*.changes "$out"/
ls "$out"/pve-gpu-passthrough_*.deb
