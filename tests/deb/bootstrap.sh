#!/bin/bash
# bootstrap.sh [-r RELEASE] [-n NAME] ROOT [PACKAGE...] - make ROOT a minimal Debian system of
# RELEASE (bookworm or trixie; default: this machine's) with PACKAGEs and what they depend on.
#
# The first run debootstraps it and stores the result as a tarball in the cache (beside the
# lab's, outside the checkout), named after RELEASE and NAME (default "minbase") and keyed by
# the release, the package list and the mirror; later runs only unpack that tarball, so they
# download nothing. debootstrap makes the base system, apt adds PACKAGEs. The .debs go to one
# pool per release in the cache (debootstrap's --cache-dir, then deb_apt_get), so two roots of
# a release, and the test's dist-upgrade, download each package once. The mirror is the one this machine's apt sources name (tests/lib/apt-mirror.sh main);
# the Release file is checked against Debian's archive keyring (debian-archive-keyring, whose
# Debian 12 version holds the keys of 12 and 13).
#
# Needs root. ROOT must not exist or be empty. Only ROOT and the cache are written. debootstrap
# runs in a mount namespace of its own, so what it mounts (/proc in the new root) goes away
# with it, also on failure; and it never mounts this machine's /sys there (see below).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/deb/lib.sh"
release=
name=minbase
while getopts r:n: opt; do
	case "$opt" in
	r) release=$OPTARG ;;
	n) name=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=${1:?usage: bootstrap.sh [-r RELEASE] [-n NAME] ROOT [PACKAGE...]}
shift
[ -n "$release" ] || release=$(deb_host_release)
if ! deb_release "$release" >/dev/null; then
	echo "bootstrap: release '$release' is not one we build for (bookworm, trixie)" >&2
	exit 2
fi
case "$name" in
*[!a-z0-9]* | '') echo "bootstrap: bad root name '$name'" >&2; exit 2 ;;
esac
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cache=$(deb_cache)
mirror=$("$top/tests/lib/apt-mirror.sh" main)
pool=$(deb_pool "$release")
include=$(printf '%s\n' "$@" | sort -u | grep . | paste -sd, -) || include=
key=$(printf '%s %s %s' "$release" "$include" "$mirror" | sha256sum | cut -c1-12)
tarball=$cache/$release-$name-$key.tar

if [ ! -s "$tarball" ]; then
	mkdir -p "$cache" "$pool"
	# Another run may be making the same root: wait for it instead of downloading twice.
	exec 9>"$cache/.lock-$release-$name"
	flock 9
fi
if [ ! -s "$tarball" ]; then
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "bootstrap: debootstrap $release ($name) into the cache (first run only)" >&2
	start=$(date +%s)
	# Two stages, so that the second runs on a root whose /sys is not empty: debootstrap then
	# leaves /sys alone instead of mounting this machine's sysfs there for the packages'
	# maintainer scripts. unshare: every mount dies with the namespace. dpkg skips its fsyncs
	# while the root is made (a root that is lost on failure anyway), not later.
	if ! unshare --mount --propagation private sh -euc '
		debootstrap --foreign --variant=minbase --keyring="$1" --cache-dir="$2" \
			"$3" "$4/root" "$5"
		mkdir -p "$4/root/sys"
		echo "not sysfs: debootstrap leaves a non-empty /sys alone" >"$4/root/sys/.no-sysfs"
		echo force-unsafe-io >"$4/root/etc/dpkg/dpkg.cfg.d/pgp-bootstrap"
		chroot "$4/root" /debootstrap/debootstrap --second-stage
		! grep -q " $4/root/sys " /proc/self/mounts
	' bootstrap "$keyring" "$pool" "$release" "$tmp" "$mirror" >"$tmp/log" 2>&1; then
		tail -20 "$tmp/log" >&2
		[ ! -f "$tmp/root/debootstrap/debootstrap.log" ] ||
			tail -40 "$tmp/root/debootstrap/debootstrap.log" >&2
		exit 1
	fi
	rm -f "$tmp/root/sys/.no-sysfs"
	# The packages asked for, by apt (debootstrap's --include does not resolve virtual
	# packages), from the lists debootstrap fetched and checked, with nothing mounted.
	if [ $# -gt 0 ] && ! deb_apt_get "$tmp/root" "$pool" install "$@" >>"$tmp/log" 2>&1; then
		tail -20 "$tmp/log" >&2
		exit 1
	fi
	rm -f "$tmp/root/etc/dpkg/dpkg.cfg.d/pgp-bootstrap"
	# The .debs are in the pool; the root is unpacked without them.
	rm -f "$tmp"/root/var/cache/apt/archives/*.deb
	tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" .
	mv "$tmp/root.tar" "$tarball"
	# Roots of this release and name for older package lists are not needed any more.
	find "$cache" -maxdepth 1 -name "$release-$name-*.tar" ! -name "${tarball##*/}" -delete
	echo "bootstrap: $release ($name) made in $(($(date +%s) - start))s;" \
		"$(grep -c '^I: Retrieving' "$tmp/log") files downloaded for the base system (indices included)," \
		"$(sed -n 's/^apt: //p' "$tmp/log")" >&2
fi
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$tarball"
