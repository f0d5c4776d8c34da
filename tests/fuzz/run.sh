#!/bin/bash
# run.sh - build the libFuzzer targets (tests/fuzz/fuzz_*.c) with ASan/UBSan into build-fuzz/
# and run each the same way on every machine (the fuzz part of `make check`):
#   1. every input in tests/fuzz/regress/TARGET/ (each crash ever found) runs once: no crash;
#   2. a fixed number of fuzzing runs from a fixed seed, on the checked-in seeds
#      (tests/fuzz/seeds/TARGET/, written by make-seeds.sh) plus the regression inputs, into a
#      fresh corpus: two runs of this script print the same lines;
#   3. (all targets, fixed mode) the checked-in seeds are what make-seeds.sh writes now.
# Open-ended fuzzing (a time budget, a random seed, a corpus that grows from run to run, this
# machine's own /proc files as extra seeds) is bench/fuzz-long.sh, which runs this script with
# FUZZ_TIME=SECONDS. $FUZZ_JOBS targets run at once (default 1); $FUZZ_ONLY="a b" runs only
# those; $FUZZ_RUNS overrides every target's number of runs. The targets:
#   fuzz_rom        vBIOS images
#   fuzz_config     our INI (through the strict pre-check and inih)
#   fuzz_vmconf     Proxmox VM configs and hostpci values
#   fuzz_mapping    /etc/pve/mapping/pci.cfg
#   fuzz_storage    /etc/pve/storage.cfg
#   fuzz_state      our state files, read back by post-stop
#   fuzz_health     the health marks of devices, read back by pre-start
#   fuzz_iomem      /proc/iomem
#   fuzz_mountinfo  /proc/self/mountinfo
#   fuzz_route      /proc/net/route and /proc/net/ipv6_route
#   fuzz_host_boot  /etc/default/grub and /etc/kernel/cmdline, as setup rewrites them
#   fuzz_lxc        Proxmox container configs (/etc/pve/lxc/CTID.conf)
#   fuzz_hookrec    attach's records: the VM's own hookscript, the snippet copies
# Prints "PASS fuzz_NAME (...)" or "FAIL fuzz_NAME: why" per target. A crash input is kept in
# build-fuzz/; once the bug is fixed, copy it to tests/fuzz/regress/TARGET/ (a name that says
# what it found) so that it is replayed from then on.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
obj=$out/obj
rc=0
long=${FUZZ_TIME:-}
jobs=${FUZZ_JOBS:-1}
targets=(fuzz_rom fuzz_config fuzz_vmconf fuzz_mapping fuzz_storage fuzz_state fuzz_iomem
	fuzz_mountinfo fuzz_route fuzz_host_boot fuzz_vfct fuzz_members fuzz_sectioncfg fuzz_published
	fuzz_lxc fuzz_hookrec fuzz_health)
[ -n "${FUZZ_ONLY:-}" ] && read -r -a targets <<<"$FUZZ_ONLY"
# Fuzzing runs per target in the fixed mode (5-15 s each on one loaded core; fuzz_host_boot
# writes and reads files in every run) and the seed.
declare -A runs=([fuzz_rom]=150000 [fuzz_host_boot]=4000)
default_runs=100000
seed=1

command -v clang >/dev/null || { echo "FAIL fuzz: clang is not installed (tests/deps.sh)"; exit 1; }
mkdir -p "$obj"
san=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
pkgs=$(pkg-config --cflags inih libpci libkmod 2>/dev/null)

# The library once, instrumented for coverage (fuzzer-no-link); a target links what it needs.
lib=$out/libcommon-fuzz.a
stale=0
objs=()
for c in "$top"/common/base/*.c "$top"/common/*.c; do
	o=$obj/$(basename "$c" .c).o
	objs+=("$o")
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find "$top/common" -name '*.h' -newer "$o")" ]; then
		# shellcheck disable=SC2086
		if ! clang "${san[@]}" -fsanitize=fuzzer-no-link -std=gnu11 -I"$top/common/base" -I"$top/common" $pkgs \
			-c "$c" -o "$o" 2>>"$out/lib.build.log"; then
			echo "FAIL fuzz: cannot build '$c' (see '$out/lib.build.log')"
			exit 1
		fi
		stale=1
	fi
done
if [ "$stale" = 1 ] || [ ! -f "$lib" ]; then
	rm -f "$lib"
	ar rcs "$lib" "${objs[@]}" # only the sources there are now (a renamed one leaves its old .o)
fi

# Open-ended runs also start from this machine's own files (read only).
host_seeds() {
	local t=$1 d=$out/host-seeds-$1 f
	rm -rf "$d"
	mkdir -p "$d"
	case $t in
	fuzz_rom) for f in /usr/lib/ipxe/qemu/*.rom /usr/share/seabios/*.bin; do
			[ -f "$f" ] && cp "$f" "$d/"
		done ;;
	fuzz_mountinfo) cat /proc/self/mountinfo >"$d/host-mountinfo" 2>/dev/null ;;
	fuzz_route) cat /proc/net/route >"$d/host-route" 2>/dev/null
		cat /proc/net/ipv6_route >"$d/host-ipv6_route" 2>/dev/null ;;
	fuzz_iomem) cat /proc/iomem >"$d/host-iomem" 2>/dev/null ;;
	esac
	echo "$d"
}

# fuzz NAME: build one target, replay its regression inputs, then fuzz it
fuzz() {
	local name=$1 bin=$out/$1 log=$out/$1.log seeds=$top/tests/fuzz/seeds/$1
	local regress=$top/tests/fuzz/regress/$1 corpus dirs inputs=() n
	# shellcheck disable=SC2046
	if ! clang "${san[@]}" -fsanitize=fuzzer -std=gnu11 -I"$top/common/base" -I"$top/common" "$top/tests/fuzz/$name.c" \
		"$lib" $(pkg-config --libs inih libpci libkmod) -o "$bin" >"$out/$name.build.log" 2>&1; then
		echo "FAIL $name: cannot build (see '$out/$name.build.log')"
		return 1
	fi
	[ -d "$seeds" ] || { echo "FAIL $name: no seeds in '$seeds' (tests/fuzz/make-seeds.sh)"; return 1; }
	shopt -s nullglob
	inputs=("$regress"/*)
	shopt -u nullglob
	if [ "${#inputs[@]}" -gt 0 ] &&
		! "$bin" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$name-" "${inputs[@]}" \
			>"$out/$name.regress.log" 2>&1; then
		tail -n 30 "$out/$name.regress.log" | sed 's/^/  /'
		echo "FAIL $name: a regression input crashes again (log '$out/$name.regress.log')"
		return 1
	fi
	dirs=("$seeds")
	[ -d "$regress" ] && dirs+=("$regress")
	if [ -n "$long" ]; then
		corpus=$out/corpus-$name # grows from run to run
		mkdir -p "$corpus"
		dirs+=("$(host_seeds "$name")")
		set -- -max_total_time="$long"
	else
		corpus=$(mktemp -d "$out/corpus-$name.XXXXXX")
		n=${FUZZ_RUNS:-${runs[$name]:-$default_runs}}
		set -- -runs="$n" -seed="$seed" -reload=0 # no re-reading of the corpus on a timer
	fi
	"$bin" "$@" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" -print_final_stats=1 "$corpus" "${dirs[@]}" >"$log" 2>&1
	local status=$?
	[ -n "$long" ] || rm -rf "$corpus"
	if [ "$status" -ne 0 ]; then
		tail -n 30 "$log" | sed 's/^/  /'
		echo "FAIL $name: the fuzzer found a problem (log '$log'; input in '$out/$name-*')"
		return 1
	fi
	local units
	units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	# (the coverage reached, in the log's "DONE cov:" line, can differ by a feature or two
	# between runs on a loaded machine: libFuzzer's timers; the inputs' count and seed do not)
	if [ -n "$long" ]; then
		echo "PASS $name ($units runs in $long s, ${#inputs[@]} regression inputs)"
	else
		echo "PASS $name ($units runs, seed $seed, ${#inputs[@]} regression inputs)"
	fi
}

# The checked-in seeds are what make-seeds.sh writes from the fixtures now: a fixture added or
# changed without them, or a seed edited by hand, fails here (with every target, fixed mode).
if [ -z "${FUZZ_ONLY:-}" ] && [ -z "$long" ]; then
	if seeds_diff=$("$top/tests/fuzz/make-seeds.sh" --check 2>&1); then
		echo "PASS fuzz_seeds (tests/fuzz/seeds is what make-seeds.sh writes)"
	else
		echo "$seeds_diff" | sed 's/^/  /'
		echo "FAIL fuzz_seeds: stale seeds (tests/fuzz/make-seeds.sh, then commit tests/fuzz/seeds)"
		rc=1
	fi
fi

running=0
for t in "${targets[@]}"; do
	[ -f "$top/tests/fuzz/$t.c" ] || { echo "FAIL $t: no tests/fuzz/$t.c"; rc=1; continue; }
	if [ "$jobs" -gt 1 ]; then
		fuzz "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait -n || rc=1
			running=$((running - 1))
		fi
	else
		fuzz "$t" || rc=1
	fi
done
while [ "$running" -gt 0 ]; do
	wait -n || rc=1
	running=$((running - 1))
done
exit $rc
