# lib.sh - what mkdeb.sh and run.sh share about the releases we build for (sourced, not run).

# deb_release RELEASE: "DEBIAN PVE" (the Debian and Proxmox VE major versions of RELEASE), or
# fail for a release we do not build for.
deb_release() {
	case "$1" in
	bookworm) echo "12 8" ;;
	trixie) echo "13 9" ;;
	*) return 1 ;;
	esac
}

# deb_host_release: this machine's release name (VERSION_CODENAME of /etc/os-release).
deb_host_release() {
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# deb_cache: where the roots (tarballs) and the .deb pools live, beside the lab's cache.
deb_cache() {
	echo "${PGP_LAB_CACHE:-/var/cache/pve-gpu-passthrough-lab}/debootstrap"
}

# deb_pool RELEASE: the .debs of RELEASE downloaded so far (apt's file names), for every root
# of RELEASE and the dist-upgrade to it.
deb_pool() {
	echo "$(deb_cache)/debs-$1"
}

# deb_apt_get ROOT POOL APT-GET-ARGS...: apt-get ARGS (install PACKAGE..., full-upgrade) in the
# chroot ROOT with ROOT's lists, taking the .debs from POOL where it has them and downloading
# only the others, which are then added to POOL: the same .deb is downloaded once. Prints apt's
# output and one line "apt: N packages, M downloaded". Lists older than the mirror can name
# files it has dropped: then the lists are fetched again (apt-get update) and it is tried once
# more. Nothing is mounted in ROOT; dpkg skips its fsyncs (a throwaway root).
deb_apt_get() {
	local root=$1 pool=$2 f n missing uris try t
	shift 2
	local apt=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
		DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends
		-o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io)
	mkdir -p "$pool"
	for try in 1 2; do
		[ "$try" = 1 ] || "${apt[@]}" update </dev/null || return 1
		n=0 missing=0
		uris=$("${apt[@]}" -qq --print-uris "$@" </dev/null) || return 1
		while read -r _ f _; do
			case "$f" in */* | .* | '') continue ;; esac
			n=$((n + 1))
			if [ -f "$pool/$f" ]; then
				ln -f "$pool/$f" "$root/var/cache/apt/archives/$f" 2>/dev/null ||
					cp "$pool/$f" "$root/var/cache/apt/archives/$f" || return 1
			else
				missing=$((missing + 1))
			fi
		done <<<"$uris"
		[ "$missing" -eq 0 ] && break
		"${apt[@]}" --download-only "$@" </dev/null && break
		[ "$try" = 1 ] || return 1
	done
	for f in "$root"/var/cache/apt/archives/*.deb; do
		[ -e "$f" ] && [ ! -e "$pool/${f##*/}" ] || continue
		# (another run may add the same file: each writes its own copy, then renames it)
		t=$(mktemp "$pool/.new.XXXXXX") && cp "$f" "$t" && chmod 644 "$t" && mv "$t" "$pool/${f##*/}" || return 1
	done
	echo "apt: $n packages, $missing downloaded"
	"${apt[@]}" --no-download "$@" </dev/null
}

# deb_build_packages SRCDIR: what a build root needs, one name a line: build-essential, the
# source's Build-Depends without versions or alternatives (debhelper-compat is debhelper's),
# and lintian, so that the root lints what it built.
deb_build_packages() {
	echo build-essential
	echo lintian
	awk 'tolower($0) ~ /^build-depends:/ { f = 1; sub(/^[^:]*:/, ""); print; next }
		f && /^[ \t]/ { print; next }
		{ f = 0 }' "$1/debian/control" |
		tr ',' '\n' | sed 's/[|(\[<].*//; s/[[:space:]]//g; s/^debhelper-compat$/debhelper/' | grep .
}

# deb_release_overrides RELEASE: lintian overrides only the source package for RELEASE needs,
# one comment line (the reason) and one override line each.
deb_release_overrides() {
	case "$1" in
	bookworm)
		echo "# Standards-Version is Debian 13's; Debian 12's lintian knows only older versions."
		echo "newer-standards-version *"
		;;
	esac
}
