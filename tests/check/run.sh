#!/bin/bash
# tests/check/run.sh [BUILD_DIR] [--update] - golden tests of `list` and `check` on fake hosts.
#
# Each directory tests/check/HOST/ holds:
#   spec          the host for build/fakesys (tests/fixture/fakesys.h)
#   kmod          optional: "release R", then "module PATH [ALIAS]" / "builtin PATH" lines:
#                 a /lib/modules/R tree of stub modules indexed by depmod, for libkmod
#   CASE.args     the command line after `pve-gpu-passthrough --sysroot ROOT`
#   CASE.out      the expected stdout, then "--- stderr" and stderr when there is any, then
#                 "--- exit N"
#   A CASE.args of several lines is a sequence on the same root (setup, then what it left):
#   each line is one run, its output after "--- run: ARGS", or a step:
#     @show PATH          the file below the root ("--- file PATH", or "absent")
#     @write PATH TEXT    replace a file (TEXT with printf %b escapes: \n)
#     @append PATH TEXT   add TEXT at the end of a file (the admin's edit between runs)
#     @sed PATH SCRIPT    edit a file in place with sed SCRIPT
#     @ln PATH LINK       a hard link LINK to the file PATH
#     @at-prompt STEP     the next run gets a terminal (script(1)); when it asks "[y/N]", STEP
#                         (one of the steps above) is made, then "y" is typed: its stdout and
#                         stderr come as the terminal showed them
#     @chown UID PATH     give a file to another owner
#     @rm PATH            remove a file
#     @snapshot           keep a copy of ROOT/etc ...
#     @compare            ... and show how ROOT/etc differs from it now (nothing: identical)
# Every host is built into a fresh temporary root (never the machine's own /sys), with
# tests/check/pci.ids as its names database. Prints "PASS check.HOST.CASE" or "FAIL ..." (with
# the diff) per case and exits non-zero on any failure. --update rewrites the .out files.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=build
update=0
for a in "$@"; do
	case $a in
	--update) update=1 ;;
	*) build=$a ;;
	esac
done
build=$(cd "$build" && pwd) || exit 2
cli=$build/pve-gpu-passthrough
fakesys=$build/fakesys
for f in "$cli" "$fakesys"; do
	[ -x "$f" ] || { echo "FAIL check.setup: $f missing (run make)"; exit 1; }
done
depmod=$(command -v depmod || echo /sbin/depmod)
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/pgp-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

# make_modules ROOT KMODFILE: stub modules (compiled once per name) plus depmod's indexes.
make_modules() {
	local root=$1 file=$2 rel="" kind path alias name obj
	while read -r kind path alias; do
		case $kind in
		release)
			rel=$path
			mkdir -p "$root/lib/modules/$rel"
			: >"$root/lib/modules/$rel/modules.builtin"
			;;
		module)
			name=$(basename "$path" .ko | tr - _)
			obj=$tmp/mod-$name.o
			if [ -n "$alias" ]; then
				"$cc" -c -DNAME="$name" -DALIAS="\"$alias\"" -o "$obj" "$here/stubmod.c" ||
					return 1
			else
				[ -f "$obj" ] || "$cc" -c -DNAME="$name" -o "$obj" "$here/stubmod.c" || return 1
			fi
			mkdir -p "$(dirname "$root/lib/modules/$rel/$path")"
			cp "$obj" "$root/lib/modules/$rel/$path"
			;;
		builtin)
			echo "$path" >>"$root/lib/modules/$rel/modules.builtin"
			;;
		esac
	done <"$file"
	"$depmod" -b "$root" "$rel" 2>/dev/null
}

# run_at_prompt ROOT ARGS...: the run of an @at-prompt step (see above); its exit status.
at_prompt=
run_at_prompt() {
	local root=$1 rc i cmd
	shift
	cmd=$(printf '%q ' "$cli" --sysroot "$root" "$@")
	rm -f "$tmp/fifo" "$tmp/out" "$tmp/err"
	mkfifo "$tmp/fifo"
	: >"$tmp/err"
	(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C TERM=dumb \
		script -qec "$cmd" /dev/null <"$tmp/fifo" >"$tmp/out.raw" 2>&1) &
	exec 9>"$tmp/fifo"
	# the rendezvous is the prompt itself (a poll with a deadline, no fixed wait)
	for ((i = 0; i < 600; i++)); do
		grep -q '\[y/N\]' "$tmp/out.raw" 2>/dev/null && break
		sleep 0.05
	done
	run_step "$root" "$at_prompt" 1
	at_prompt=
	echo y >&9
	exec 9>&-
	wait $!
	rc=$?
	tr -d '\r' <"$tmp/out.raw" >"$tmp/out"
	return $rc
}

# run_step ROOT LINE NLINES: one line of a CASE.args (see above), its output on stdout.
run_step() {
	local root=$1 line=$2 nlines=$3 rc path
	local -a args
	case $line in
	@show\ *)
		path=${line#@show }
		if [ -f "$root$path" ]; then
			echo "--- file $path"
			cat "$root$path"
			[ -z "$(tail -c1 "$root$path")" ] || echo
		else
			echo "--- file $path: absent"
		fi
		return
		;;
	@write\ *)
		path=${line#@write }
		path=${path%% *}
		mkdir -p "$(dirname "$root$path")"
		printf '%b' "${line#@write "$path" }" >"$root$path"
		return
		;;
	@append\ *)
		path=${line#@append }
		path=${path%% *}
		printf '%b' "${line#@append "$path" }" >>"$root$path"
		return
		;;
	@sed\ *)
		path=${line#@sed }
		path=${path%% *}
		sed -i "${line#@sed "$path" }" "$root$path"
		return
		;;
	@ln\ *)
		read -r _ path rc <<<"$line"
		ln "$root$path" "$root$rc"
		return
		;;
	@at-prompt\ *)
		at_prompt=${line#@at-prompt }
		return
		;;
	@chown\ *)
		read -r _ rc path <<<"$line"
		chown "$rc" "$root$path"
		return
		;;
	@rm\ *)
		rm -f "$root${line#@rm }"
		return
		;;
	@snapshot)
		rm -rf "$tmp/snapshot"
		cp -a "$root/etc" "$tmp/snapshot"
		return
		;;
	@compare)
		echo "--- compare /etc with the snapshot"
		diff -r --no-dereference "$tmp/snapshot" "$root/etc" | sed "s|$tmp/snapshot|SNAPSHOT|g; s|$root||g"
		return
		;;
	esac
	read -r -a args <<<"$line"
	[ "$nlines" -gt 1 ] && echo "--- run: ${args[*]}"
	# From "/" with a clean environment: nothing of the caller's leaks in.
	if [ -n "$at_prompt" ]; then
		run_at_prompt "$root" "${args[@]}"
		rc=$?
	else
		(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
			"$cli" --sysroot "$root" "${args[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null)
		rc=$?
	fi
	sed "s|$root|ROOT|g" "$tmp/out"
	if [ -s "$tmp/err" ]; then
		echo "--- stderr"
		sed "s|$root|ROOT|g" "$tmp/err"
	fi
	echo "--- exit $rc"
}

# CHECK_HOSTS=DIR: the hosts of another suite (tests/cluster), named SUITE.HOST.CASE after
# CHECK_SUITE (default check).
hosts=${CHECK_HOSTS:-$here}
suite=${CHECK_SUITE:-check}
for hostdir in "$hosts"/*/; do
	host=$(basename "$hostdir")
	[ -f "$hostdir/spec" ] || continue
	root=$tmp/$host
	mkdir -p "$root/usr/share/misc"
	if ! "$fakesys" "$root" "$hostdir/spec" >"$tmp/err" 2>&1; then
		echo "FAIL $suite.$host: fakesys: $(cat "$tmp/err")"
		failed=1
		continue
	fi
	cp "$here/pci.ids" "$root/usr/share/misc/pci.ids"
	if [ -f "$hostdir/kmod" ] && ! make_modules "$root" "$hostdir/kmod"; then
		echo "FAIL $suite.$host: cannot build the module tree"
		failed=1
		continue
	fi
	for argsfile in "$hostdir"/*.args; do
		[ -f "$argsfile" ] || continue
		case=$(basename "$argsfile" .args)
		golden=$hostdir/$case.out
		nlines=$(grep -c '' "$argsfile")
		: >"$tmp/actual"
		while IFS= read -r line || [ -n "$line" ]; do
			run_step "$root" "$line" "$nlines" >>"$tmp/actual"
		done <"$argsfile"
		if [ $update -eq 1 ]; then
			cp "$tmp/actual" "$golden"
		fi
		if diff -u "$golden" "$tmp/actual" >"$tmp/diff" 2>&1; then
			echo "PASS $suite.$host.$case"
		else
			echo "FAIL $suite.$host.$case"
			sed 's/^/    /' "$tmp/diff" | head -60
			failed=1
		fi
	done
done
exit $failed
