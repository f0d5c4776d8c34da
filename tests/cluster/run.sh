#!/bin/bash
# tests/cluster/run.sh [BUILD_DIR] [--update] - golden tests of `check --cluster` (and the
# backup jobs of `check VMID`, attach's warnings, publish) on fake Proxmox clusters: each
# directory is a host as in tests/check (spec, kmod, CASE.args, CASE.out; run by
# tests/check/run.sh) whose /etc/pve holds a cluster (.members, nodes/NODE/qemu-server,
# published node files, storages, HA, mappings, jobs.cfg). Then the report's cluster part:
# `report` of each host replays (build/fakesys) to a cluster on which `check --cluster` says
# the same with the node names replaced (this node "pve", the others node2, node3, ... in
# .members order), and the report names none of the nodes or their addresses.
# Prints "PASS cluster.HOST.CASE" / "FAIL ..."; kept out of tests/check because
# tests/report requires a replay identical to the host, node names included.
set -u
here=$(cd "$(dirname "$0")" && pwd)
CHECK_HOSTS=$here CHECK_SUITE=cluster "$here/../check/run.sh" "$@"
rc=$?
build=build
for a in "$@"; do [ "$a" = --update ] || build=$a; done
build=$(cd "$build" && pwd) || exit 2
cli=$build/pve-gpu-passthrough
tmp=$(mktemp -d /tmp/pgp-cluster.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for hostdir in "$here"/*/; do
	host=$(basename "$hostdir")
	[ -f "$hostdir/spec" ] || continue
	rm -rf "$tmp"/*
	mkdir -p "$tmp/a" "$tmp/b"
	"$build/fakesys" "$tmp/a" "$hostdir/spec" >/dev/null 2>&1 &&
		"$cli" --sysroot "$tmp/a" --node pve1 report >"$tmp/report" 2>"$tmp/err" &&
		"$build/fakesys" "$tmp/b" "$tmp/report" >>"$tmp/err" 2>&1 || {
		echo "FAIL cluster.$host.report: $(head -3 "$tmp/err")"
		rc=1
		continue
	}
	PGP_COLUMNS=0 "$cli" --sysroot "$tmp/a" --node pve1 check --cluster -q |
		sed 's/pve1/pve/g; s/pve2/node2/g; s/pve3/node3/g' >"$tmp/want"
	PGP_COLUMNS=0 "$cli" --sysroot "$tmp/b" --node pve check --cluster -q >"$tmp/got"
	if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
		echo "PASS cluster.$host.report-replay"
	else
		echo "FAIL cluster.$host.report-replay"
		sed 's/^/    /' "$tmp/diff" | head -30
		rc=1
	fi
	if grep -E 'pve[123]|192\.168\.1\.' "$tmp/report" >"$tmp/leak"; then
		echo "FAIL cluster.$host.report-private: $(head -2 "$tmp/leak" | cut -c1-200)"
		rc=1
	else
		echo "PASS cluster.$host.report-private"
	fi
done
exit $rc
