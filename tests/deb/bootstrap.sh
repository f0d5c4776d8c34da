#!/bin/bash
# bootstrap.sh ROOT [PACKAGE...] - make ROOT a minimal Debian 12 system for the package's
# install test, with PACKAGEs (the package's dependencies) installed too.
# The first run debootstraps (from $MIRROR) and stores the result as a tarball in the cache
# (outside the checkout); later runs only unpack that tarball, so they download nothing.
# Needs root. ROOT must not exist or be empty. Only ROOT and the cache are written.
set -euo pipefail

root=${1:?usage: bootstrap.sh ROOT [PACKAGE...]}
shift
cache=${PGP_LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}/debootstrap
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# What the install test needs besides the base system: initramfs-tools (so the package's
# update-initramfs trigger has someone to run it), busybox and zstd (so a real image can be
# built), and the package's dependencies as given (so `dpkg -i` needs no network). The
# cache is keyed by this list: a new dependency makes a new root.
include=$(printf '%s\n' initramfs-tools busybox zstd kmod "$@" | sort -u | paste -sd, -)
key=$(printf '%s %s %s' "$suite" "$include" "$mirror" | sha256sum | cut -c1-12)
tarball=$cache/$suite-minbase-$key.tar

if [ ! -s "$tarball" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "bootstrap: debootstrap $suite into the cache (first run only)" >&2
	debootstrap --variant=minbase --include="$include" "$suite" "$tmp/root" "$mirror" \
		>"$tmp/log" 2>&1 || { tail -20 "$tmp/log" >&2; exit 1; }
	# No packages are downloaded later; drop the .debs to keep the tarball small.
	rm -f "$tmp"/root/var/cache/apt/archives/*.deb
	tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" .
	mv "$tmp/root.tar" "$tarball"
	# Roots for older dependency lists are not needed any more.
	find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar" ! -name "${tarball##*/}" -delete
fi
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$tarball"
