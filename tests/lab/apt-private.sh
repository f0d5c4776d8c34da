# apt-private.sh - sourced by fetch-kernel.sh and build-kernel.sh: a private apt configuration
# for one Debian suite (its own sources, lists and cache under $cache/apt/SUITE), so the
# machine's own apt state is never touched. apt_private SUITE MIRROR sets apt_opts and runs
# "apt-get update" (at most once an hour per suite; LAB_APT_REFRESH=1 forces it).
apt_private() {
	local suite=$1 mirror=$2 root=$cache/apt/$1
	mkdir -p "$root/etc/apt.conf.d" "$root/etc/preferences.d" "$root/etc/sources.list.d" \
		"$root/state/lists/partial" "$root/cache/archives/partial"
	local line="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
	apt_opts=(-o "Dir::Etc=$root/etc" -o "Dir::State=$root/state"
		-o "Dir::Cache=$root/cache" -o "Dir::State::status=/dev/null"
		-o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -q)
	if [ "$(cat "$root/etc/sources.list" 2>/dev/null)" != "$line" ] || [ "${LAB_APT_REFRESH:-0}" = 1 ] ||
		[ -z "$(find "$root/state/lists" -maxdepth 1 -name '*Packages*' -mmin -60 2>/dev/null)" ]; then
		echo "$line" >"$root/etc/sources.list"
		apt-get "${apt_opts[@]}" update >"$root/update.log" 2>&1 || {
			echo "lab: apt-get update of $suite at $mirror failed:" >&2
			tail -n 3 "$root/update.log" >&2
			# Lists from an earlier update still name what the cache holds.
			[ -n "$(find "$root/state/lists" -maxdepth 1 -name '*Packages*' 2>/dev/null)" ] || return 1
		}
	fi
}
