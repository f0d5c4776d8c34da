#!/bin/bash
# run.sh - the test tooling's own tests: tests/lib/apt-mirror.sh (the lab and the package test
# take the Debian mirror from the machine's apt sources) on fake apt directories, that the
# static labtool builds under SAN=1, and that the tree names none of this machine's mirror
# hosts. One "PASS tools.NAME" / "FAIL tools.NAME" line per test.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
m=$top/tests/lib/apt-mirror.sh
rc=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# t NAME EXPECTED [ENV=VAL...] -- ARGS: apt-mirror.sh's output must be EXPECTED ("!" = it fails).
t() {
	local name=$1 want=$2 got st
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	got=$(env -u LAB_MIRROR -u LAB_SECURITY_MIRROR "${envs[@]}" "$m" "$@" 2>"$work/err")
	st=$?
	if { [ "$want" = "!" ] && [ $st -ne 0 ] && [ -s "$work/err" ]; } || { [ "$want" != "!" ] && [ $st -eq 0 ] && [ "$got" = "$want" ]; }; then
		echo "PASS tools.$name"
	else
		echo "FAIL tools.$name: got '$got' (exit $st), want '$want'"
		sed 's/^/    /' "$work/err"
		rc=1
	fi
}
mk() { # DIR: an apt directory with sources.list.d
	mkdir -p "$work/$1/sources.list.d"
	echo "$work/$1"
}

d=$(mk deb822)
cat >"$d/sources.list.d/debian.sources" <<'S'
# a comment
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
S
cat >"$d/sources.list.d/other.sources" <<'S'
Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
S
t deb822-main http://mirror.example/debian APT_SOURCES_DIR="$d" -- main
t deb822-security http://mirror.example/debian-security APT_SOURCES_DIR="$d" -- security

d=$(mk oneline)
cat >"$d/sources.list" <<'S'
deb https://vendor.example/apt stable-vendor main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://proxy.example:3142/debian trixie main contrib
deb http://proxy.example:3142/debian-security trixie-security main
S
t oneline-main http://proxy.example:3142/debian APT_SOURCES_DIR="$d" -- main
t oneline-security http://proxy.example:3142/debian-security APT_SOURCES_DIR="$d" -- security

d=$(mk disabled)
cat >"$d/sources.list.d/debian.sources" <<'S'
Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
S
t disabled-and-src-only-ignored "!" APT_SOURCES_DIR="$d" -- main
t override-wins http://mine.example/debian/x APT_SOURCES_DIR="$d" LAB_MIRROR=http://mine.example/debian/x/ -- main
t no-security-entry "!" APT_SOURCES_DIR="$(mk empty)" -- security
t usage "!" -- bogus

# The static labtool (the lab guest's VFIO prober) builds under SAN=1 too (`make SAN=1 all`):
# static, without the sanitizers, which do not link statically.
if make -s -C "$top" BUILD="$work/san" SAN=1 "$work/san/labtool" >"$work/san.log" 2>&1 &&
	! readelf -lW "$work/san/labtool" | grep -q INTERP; then
	echo "PASS tools.make-san-static-labtool"
else
	echo "FAIL tools.make-san-static-labtool: make SAN=1 does not build a static labtool"
	sed 's/^/    /' "$work/san.log"
	rc=1
fi

# This machine's own sources resolve, and the tree names none of their hosts.
if "$m" main >/dev/null 2>&1; then echo "PASS tools.this-machine-main"; else echo "FAIL tools.this-machine-main"; rc=1; fi
mirror_hosts() {
	"$m" main 2>/dev/null
	"$m" security 2>/dev/null
}
hosts=$(mirror_hosts | sed -E -e 's|^[a-z]+://||' -e 's|/.*||' -e 's|:.*||' | sort -u)
found=
for h in $hosts; do
	found="$found$(git -C "$top" grep -l -F "$h" -- . 2>/dev/null | tr '\n' ' ')"
done
if [ -z "$found" ] && [ -n "$hosts" ]; then echo "PASS tools.no-mirror-host-in-tree"; else
	echo "FAIL tools.no-mirror-host-in-tree: ${found:-no host found in the apt sources of this machine}"
	rc=1
fi
exit $rc
