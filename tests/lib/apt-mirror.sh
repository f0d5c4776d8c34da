#!/bin/bash
# apt-mirror.sh main|security - print the URI of the Debian archive (main) or of the Debian
# security archive that this machine's own apt sources use, so that the lab and the package
# test fetch from the mirror or proxy the admin configured and the project names no host.
#
# Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list (one-line format) and
# /etc/apt/sources.list.d/*.sources (deb822), in that order, and takes the first "deb" entry
# whose suite is a Debian release name (main: "bookworm", "trixie-updates", "...-backports";
# security: "...-security"). LAB_MIRROR / LAB_SECURITY_MIRROR override. APT_SOURCES_DIR (a
# directory holding sources.list and sources.list.d/) replaces /etc/apt, for tests.
# Exits 1 with one line on stderr when the machine has no such entry.
set -euo pipefail
want=${1:?usage: apt-mirror.sh main|security}
case "$want" in
main) [ -n "${LAB_MIRROR:-}" ] && { echo "${LAB_MIRROR%/}"; exit 0; } ;;
security) [ -n "${LAB_SECURITY_MIRROR:-}" ] && { echo "${LAB_SECURITY_MIRROR%/}"; exit 0; } ;;
*) echo "usage: apt-mirror.sh main|security" >&2; exit 2 ;;
esac
dir=${APT_SOURCES_DIR:-/etc/apt}
releases='buster|bullseye|bookworm|trixie|forky|duke|sid|unstable|testing|stable|oldstable'

# One "URI SUITE" line per source entry, one-line files first.
entries() {
	local f
	for f in "$dir/sources.list" "$dir"/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [opts] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
	for f in "$dir"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: stanzas separated by blank lines; Types, URIs and Suites may list several.
		awk '
		function flush(  i, j, nu, ns, u, s) {
			if (types ~ /(^| )deb( |$)/ && enabled != "no") {
				nu = split(uris, u, " "); ns = split(suites, s, " ")
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
			}
			types = uris = suites = ""; enabled = ""
		}
		/^[[:space:]]*#/ { next }
		/^[[:space:]]*$/ { flush(); next }
		{
			line = $0; key = tolower(line); sub(/:.*/, "", key)
			val = line; sub(/^[^:]*:[[:space:]]*/, "", val)
			if (key == "types") types = val
			else if (key == "uris") uris = val
			else if (key == "suites") suites = val
			else if (key == "enabled") enabled = tolower(val)
		}
		END { flush() }' "$f"
	done
}

uri=$(entries | awk -v want="$want" -v rel="^($releases)(-updates|-backports|-backports-sloppy|-proposed-updates|-security)?$" '
	{ suite = $2; sub(/\/$/, "", suite) }
	suite !~ rel { next }
	want == "security" && suite ~ /-security$/ { print $1; exit }
	want == "main" && suite !~ /-security$/ { print $1; exit }')
if [ -z "$uri" ]; then
	var=LAB_MIRROR
	[ "$want" = security ] && var=LAB_SECURITY_MIRROR
	echo "apt-mirror: no Debian $want archive in this machine's apt sources ($dir); set $var" >&2
	exit 1
fi
echo "${uri%/}"
