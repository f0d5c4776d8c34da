#!/bin/bash
# tests/cluster/run.sh [BUILD_DIR] [--update] - golden tests of `check --cluster` (and the
# backup jobs of `check VMID`) on fake Proxmox clusters: each directory is a host as in
# tests/check (spec, kmod, CASE.args, CASE.out) whose /etc/pve holds a cluster (.members,
# nodes/NODE/qemu-server, published node files, storages, HA, mappings, jobs.cfg). Run by
# tests/check/run.sh; prints "PASS cluster.HOST.CASE" / "FAIL ...". Kept out of tests/check
# because tests/report replays every tests/check host, and a report names this node only.
here=$(cd "$(dirname "$0")" && pwd)
CHECK_HOSTS=$here CHECK_SUITE=cluster exec "$here/../check/run.sh" "$@"
