#!/bin/bash
# run.sh [BUILD_DIR] - `pve-gpu-passthrough attach/detach` end to end: the real binary with
# --sysroot on a fake Proxmox tree (storage.cfg, VM configs, the installed hookscript) and a
# fake `qm` first in PATH that records its arguments and edits the fake VM config the way
# `qm set` would. Prints one "PASS attach.NAME" / "FAIL attach.NAME" line per check.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
bin=$build/pve-gpu-passthrough
[ -x "$bin" ] || { echo "FAIL attach.binary: $bin missing (run make)"; exit 1; }

tmp=$(mktemp -d /tmp/pgp-attach.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
hook_target=/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook
snippet_src=/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-snippet
vol=local:snippets/pve-gpu-passthrough-hook
rc=0

# The fake qm: "qm set VMID --hookscript VOL" / "qm set VMID --delete hookscript" on
# $QM_ROOT/etc/pve/qemu-server/VMID.conf (live section only); QM_EXIT makes it fail.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/qm" <<'EOF'
#!/bin/bash
echo "$*" >>"$QM_LOG"
[ "${QM_EXIT:-0}" = 0 ] || { echo "qm: failing as told" >&2; exit "$QM_EXIT"; }
[ "$1" = set ] || exit 2
conf=$QM_ROOT/etc/pve/qemu-server/$2.conf
[ -f "$conf" ] || { echo "qm: no VM $2" >&2; exit 2; }
live=$(sed -n '/^\[/q;p' "$conf" | grep -v '^hookscript:')
rest=$(sed -n '/^\[/,$p' "$conf")
case "$3 $4" in
"--hookscript "*) live=$(printf '%s\nhookscript: %s' "$live" "$4") ;;
"--delete hookscript") ;;
*) exit 2 ;;
esac
printf '%s\n%s' "$live" "$rest" >"$conf"
EOF
chmod +x "$tmp/bin/qm"
export QM_LOG=$tmp/qm.log

pass() { echo "PASS attach.$1"; }
fail() {
	echo "FAIL attach.$1: $2"
	sed 's/^/    | /' "$tmp/out" "$tmp/err" 2>/dev/null
	rc=1
}

# fresh: a new fake root with the installer's storage.cfg plus storages of every kind.
fresh() {
	root=$tmp/root
	rm -rf "$root" "$QM_LOG"
	: >"$QM_LOG"
	export QM_ROOT=$root
	mkdir -p "$root/etc/pve/qemu-server" "$root/etc/pve/lxc" "$root/var/lib/vz" \
		"$root/srv/hooks" "$root/mnt/pve/nas" "$root${hook_target%/*}"
	printf '#!/bin/sh\n' >"$root$hook_target"
	chmod 755 "$root$hook_target"
	cp "$build/pve-gpu-passthrough-snippet" "$root$snippet_src"
	# Proxmox writes properties indented with a tab.
	printf '%b\n' >"$root/etc/pve/storage.cfg" \
		'dir: local' '\tpath /var/lib/vz' '\tcontent iso,vztmpl,backup,snippets' '' \
		'zfspool: local-zfs' '\tpool rpool/data' '\tcontent images,rootdir' '' \
		'dir: hooks' '\tpath /srv/hooks' '\tcontent snippets' \
		'\tcontent-dirs snippets=hookscripts' '\tnodes pve1,pve2' '' \
		'nfs: nas' '\tpath /mnt/pve/nas' '\tserver 10.0.0.5' '\texport /export' \
		'\tcontent images,snippets' '' \
		'dir: off' '\tpath /srv/off' '\tcontent snippets' '\tdisable 1' '' \
		'dir: gone' '\tpath /srv/gone' '\tcontent snippets'
	printf 'memory: 4096\nhostpci0: 0000:01:00,pcie=1\n' >"$root/etc/pve/qemu-server/100.conf"
	printf 'hookscript: local:snippets/other.pl\nmemory: 1024\n' \
		>"$root/etc/pve/qemu-server/101.conf"
	# the hookscript only in a snapshot section does not count
	printf 'memory: 1024\n\n[before]\nhookscript: local:snippets/old.pl\n' \
		>"$root/etc/pve/qemu-server/102.conf"
	printf 'arch: amd64\n' >"$root/etc/pve/lxc/200.conf"
}

# run [ARGS...]: runs the CLI with --sysroot. Below a root it runs no qm (a fake root's VMs are
# not this node's) but prints "not run (...): qm ...": the admin's part, which run then does
# with the fake qm, as if on the node.
run() {
	PATH=$tmp/bin:$PATH "$bin" --sysroot "$root" --node pve1 "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	local cmd
	sed -n "s|^not run (the root is '$root', not this machine's /): qm ||p" "$tmp/out" |
		while read -r -a cmd; do
			"$tmp/bin/qm" "${cmd[@]}" 2>>"$tmp/err" || echo "qm failed" >>"$tmp/err"
		done
}

# expect NAME STATUS: checks the exit status of the last run.
expect() {
	if [ "$status" -eq "$2" ]; then pass "$1"; else fail "$1" "exit status $status, expected $2"; fi
}
# expect_err NAME TEXT / expect_out NAME TEXT: the last run printed TEXT.
expect_err() {
	if grep -qF -- "$2" "$tmp/err"; then pass "$1"; else fail "$1" "stderr lacks '$2'"; fi
}
expect_out() {
	if grep -qF -- "$2" "$tmp/out"; then pass "$1"; else fail "$1" "stdout lacks '$2'"; fi
}
# expect_qm NAME "ARGS" | "": what qm got (one line per call), or that it was not run.
expect_qm() {
	if [ "$(cat "$QM_LOG")" = "$2" ]; then pass "$1"; else
		fail "$1" "qm calls: '$(tr '\n' ';' <"$QM_LOG")', expected '$2'"
	fi
}
hookscript_of() { sed -n '/^\[/q;s/^hookscript: //p' "$root/etc/pve/qemu-server/$1.conf"; }

# --- attach, the normal case, and again (idempotent)
fresh
run attach 100
expect attach-ok 0
expect_qm attach-ok-qm "set 100 --hookscript $vol"
link=$root/var/lib/vz/snippets/pve-gpu-passthrough-hook
# the snippet is a real file, executable, a copy of the static snippet program (issue 29)
if [ -f "$link" ] && [ ! -L "$link" ] && [ -x "$link" ] && cmp -s "$link" "$build/pve-gpu-passthrough-snippet"; then
	pass attach-copy
else
	fail attach-copy "$link is not an executable copy of the snippet program"
fi
[ "$(hookscript_of 100)" = "$vol" ] && pass attach-vm-config || fail attach-vm-config "VM config not set"
if grep -qxF "$vol /var/lib/vz/snippets/pve-gpu-passthrough-hook" "$root/var/lib/pve-gpu-passthrough/snippets" 2>/dev/null; then
	pass attach-recorded
else
	fail attach-recorded "snippet not listed in /var/lib/pve-gpu-passthrough/snippets"
fi
: >"$QM_LOG"
run attach 100
expect attach-again 0
expect_qm attach-again-no-qm ""
expect_out attach-again-says "already uses hookscript '$vol'"
[ "$(grep -c . "$root/var/lib/pve-gpu-passthrough/snippets")" = 1 ] && pass attach-recorded-once ||
	fail attach-recorded-once "snippet recorded twice"
# the snippet was deleted by hand: attach puts it back without calling qm
rm -f "$link"
run attach 100
expect attach-repairs-snippet 0
[ -x "$link" ] && pass attach-repairs-snippet-copy || fail attach-repairs-snippet-copy "snippet not recreated"
# an older version's symlink is replaced by the copy, no --force needed
rm -f "$link"
ln -s "$hook_target" "$link"
run attach 100
expect attach-replaces-old-link 0
[ -f "$link" ] && [ ! -L "$link" ] && pass attach-replaces-old-link-copy ||
	fail attach-replaces-old-link-copy "the old symlink is still there"
# an older copy (another version of the program) is refreshed
printf 'x %s x\n' "pve-gpu-passthrough-snippet-v1: a copy made by 'pve-gpu-passthrough attach'" >"$link"
run attach 100
expect attach-refreshes-copy 0
cmp -s "$link" "$build/pve-gpu-passthrough-snippet" && pass attach-refreshes-copy-content ||
	fail attach-refreshes-copy-content "old copy not refreshed"

# --- the VM's own hookscript is kept (issue 29): recorded, ours set, no --force needed
rec=$root/etc/pve/pve-gpu-passthrough/vm-hookscript
fresh
run attach 101
expect keep-other-hookscript 0
expect_out keep-other-hookscript-says "VM 101: keeping its own hookscript 'local:snippets/other.pl'"
expect_qm keep-other-hookscript-qm "set 101 --hookscript $vol"
[ "$(cat "$rec/101" 2>/dev/null)" = "hookscript: local:snippets/other.pl" ] &&
	pass keep-other-hookscript-recorded || fail keep-other-hookscript-recorded "no record $rec/101"
run attach 101
expect keep-other-hookscript-again 0
[ "$(cat "$rec/101" 2>/dev/null)" = "hookscript: local:snippets/other.pl" ] &&
	pass keep-other-hookscript-record-kept || fail keep-other-hookscript-record-kept "record changed"
: >"$QM_LOG"
run detach 101
expect detach-restores 0
expect_qm detach-restores-qm "set 101 --hookscript local:snippets/other.pl"
[ "$(hookscript_of 101)" = "local:snippets/other.pl" ] && pass detach-restores-config ||
	fail detach-restores-config "VM 101's hookscript is '$(hookscript_of 101)'"
[ ! -e "$rec/101" ] && pass detach-restores-record-gone || fail detach-restores-record-gone "record left"
[ ! -e "$link" ] && pass detach-removes-unused-copy || fail detach-removes-unused-copy "copy left"
grep -q . "$root/var/lib/pve-gpu-passthrough/snippets" 2>/dev/null &&
	fail detach-unrecords-copy "copy still listed" || pass detach-unrecords-copy
# a hostile record: detach refuses to guess, names the way out
fresh
run attach 101
printf 'hookscript: local:snippets/pve-gpu-passthrough-hook\n' >"$rec/101"
: >"$QM_LOG"
run detach 101
expect detach-hostile-record 1
expect_err detach-hostile-record-says "not a record of ours"
expect_qm detach-hostile-record-no-qm ""
# a hookscript Proxmox would not run (not a snippet volume) is refused, nothing changed
fresh
printf 'hookscript: /root/x.sh\n' >>"$root/etc/pve/qemu-server/100.conf"
run attach 100
expect refuse-bad-hookscript 1
expect_err refuse-bad-hookscript-says "qm set 100 --delete hookscript"
expect_qm refuse-bad-hookscript-no-qm ""

fresh
run attach 102
expect snapshot-hookscript-ignored 0

fresh
sed -i 's/content iso,vztmpl,backup,snippets/content iso,vztmpl,backup/' "$root/etc/pve/storage.cfg"
run attach 100
expect refuse-no-snippets 1
expect_err refuse-no-snippets-command "pvesm set local --content iso,vztmpl,backup,snippets"
expect_qm refuse-no-snippets-no-qm ""
[ ! -e "$root/var/lib/vz/snippets" ] && pass refuse-no-snippets-untouched ||
	fail refuse-no-snippets-untouched "snippets directory created"

fresh
run attach 100 --storage local-zfs
expect refuse-no-path 1
expect_err refuse-no-path-says "storage 'local-zfs' (type zfspool) has no directory"
run attach 100 --storage nosuch
expect refuse-unknown-storage 1
expect_err refuse-unknown-storage-says "storage 'nosuch' does not exist"
run attach 100 --storage off
expect refuse-disabled 1
run attach 100 --storage gone
expect refuse-unmounted 1
expect_err refuse-unmounted-says "directory '/srv/gone' does not exist"
PATH=$tmp/bin:$PATH "$bin" --sysroot "$root" --node pve3 attach 100 --storage hooks >"$tmp/out" 2>"$tmp/err"
status=$?
expect refuse-other-node 1
expect_err refuse-other-node-says "not available on node 'pve3'"
run attach 999
expect refuse-no-vm 1
expect_err refuse-no-vm-says "VM 999 does not exist on this node"
run attach 200
expect refuse-container 1
expect_err refuse-container-says "200 is a container"
expect_qm refusals-no-qm ""

fresh
rm -f "$root$hook_target"
run attach 100
expect refuse-not-installed 1
expect_err refuse-not-installed-says "is missing; is the package installed?"

# a foreign file at the snippet path is kept unless --force
fresh
mkdir -p "$root/var/lib/vz/snippets"
echo mine >"$root/var/lib/vz/snippets/pve-gpu-passthrough-hook"
run attach 100
expect refuse-foreign-snippet 1
expect_err refuse-foreign-snippet-says "exists and is not our snippet program"
[ "$(cat "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook")" = mine ] &&
	pass refuse-foreign-snippet-kept || fail refuse-foreign-snippet-kept "file changed"
run attach 100 --force
expect force-foreign-snippet 0
cmp -s "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook" "$build/pve-gpu-passthrough-snippet" &&
	pass force-foreign-snippet-copy || fail force-foreign-snippet-copy "not replaced by the copy"

# --- below a root no qm is run, even when one is in PATH (it would change this node's VM)
fresh
PATH=$tmp/bin:$PATH "$bin" --sysroot "$root" attach 100 >"$tmp/out" 2>"$tmp/err"
status=$?
expect below-root 0
expect_qm below-root-no-qm ""
expect_out below-root-says "not run (the root is '$root', not this machine's /): qm set 100 --hookscript $vol"
[ -z "$(hookscript_of 100)" ] && pass below-root-vm-unchanged || fail below-root-vm-unchanged "VM config changed"
printf 'hookscript: %s\n' "$vol" >>"$root/etc/pve/qemu-server/100.conf"
PATH=$tmp/bin:$PATH "$bin" --sysroot "$root" detach 100 >"$tmp/out" 2>"$tmp/err"
status=$?
expect below-root-detach 0
expect_qm below-root-detach-no-qm ""
expect_out below-root-detach-says "not run (the root is '$root', not this machine's /): qm set 100 --delete hookscript"

# --- other storages: content-dirs, shared (not recorded for purge)
fresh
run attach 100 --storage hooks
expect content-dirs 0
[ -x "$root/srv/hooks/hookscripts/pve-gpu-passthrough-hook" ] && pass content-dirs-path ||
	fail content-dirs-path "no copy in /srv/hooks/hookscripts"
expect_qm content-dirs-qm "set 100 --hookscript hooks:snippets/pve-gpu-passthrough-hook"
: >"$QM_LOG"
run attach 100 --storage nas
expect shared-storage 0
expect_out moves-own-hookscript "uses our hookscript from 'hooks:snippets/pve-gpu-passthrough-hook'"
[ ! -e "$root/srv/hooks/hookscripts/pve-gpu-passthrough-hook" ] && pass moves-removes-unused-copy ||
	fail moves-removes-unused-copy "the copy no VM uses is still on 'hooks'"
# a copy on shared storage is recorded too: the package's upgrades refresh it
if grep -qxF "nas:snippets/pve-gpu-passthrough-hook /mnt/pve/nas/snippets/pve-gpu-passthrough-hook" \
	"$root/var/lib/pve-gpu-passthrough/snippets"; then
	pass shared-recorded
else
	fail shared-recorded "the copy on shared storage is not listed"
fi

# no storage.cfg at all: Proxmox's built-in "local" has snippets
fresh
rm "$root/etc/pve/storage.cfg"
run attach 100
expect builtin-local 0
[ -x "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook" ] && pass builtin-local-copy ||
	fail builtin-local-copy "no copy"

# --- dry run: nothing is written, nothing is run
fresh
run attach 100 --dry-run
expect dry-run 0
expect_out dry-run-says "would run: qm set 100 --hookscript $vol"
expect_qm dry-run-no-qm ""
[ ! -e "$root/var/lib/vz/snippets" ] && [ ! -e "$root/var/lib/pve-gpu-passthrough" ] &&
	pass dry-run-untouched || fail dry-run-untouched "files written"

# --- detach
fresh
run attach 100
: >"$QM_LOG"
run detach 100
expect detach-ours 0
expect_qm detach-ours-qm "set 100 --delete hookscript"
[ -z "$(hookscript_of 100)" ] && pass detach-vm-config || fail detach-vm-config "hookscript still set"
[ ! -e "$link" ] && pass detach-removes-unused || fail detach-removes-unused "unused copy left"
# a copy another VM uses, on another node or in a snapshot, stays
for where in nodes/pve2/qemu-server/300.conf snapshot; do
	fresh
	run attach 100
	if [ "$where" = snapshot ]; then
		printf '\n[snap1]\nhookscript: %s\n' "$vol" >>"$root/etc/pve/qemu-server/100.conf"
	else
		mkdir -p "$root/etc/pve/nodes/pve2/qemu-server"
		printf 'hookscript: %s\n' "$vol" >"$root/etc/pve/$where"
	fi
	run detach 100
	expect "detach-keeps-used-${where%%/*}" 0
	[ -x "$link" ] && pass "detach-keeps-used-${where%%/*}-copy" ||
		fail "detach-keeps-used-${where%%/*}-copy" "a copy in use was removed"
	expect_out "detach-keeps-used-${where%%/*}-says" "the snippet '$vol' stays: 1 other VM configuration names it"
done
# an admin's file at our name is never removed
fresh
run attach 100
echo mine >"$link"
run detach 100
expect detach-foreign-file 0
[ "$(cat "$link")" = mine ] && pass detach-foreign-file-kept || fail detach-foreign-file-kept "admin's file removed"
: >"$QM_LOG"
run detach 100
expect detach-none 0
expect_out detach-none-says "VM 100 has no hookscript"
run detach 101
expect detach-foreign 1
expect_err detach-foreign-says "hookscript 'local:snippets/other.pl', which is not ours"
expect_qm detach-no-qm ""
printf 'hookscript: local:snippets/pve-gpu-passthrough-hook\nhostpci0: bogus=1\n' \
	>"$root/etc/pve/qemu-server/103.conf"
run detach 103
expect detach-bad-config 1
expect_err detach-bad-config-hint "qm set 103 --delete hookscript"

# --- hostile storage paths stay inside the root: "../" climbing out, an absolute link
fresh
escape=$tmp/escape
rm -rf "$escape"
mkdir -p "$escape"
up=$(printf '../%.0s' $(seq 1 12))
printf '%b\n' >>"$root/etc/pve/storage.cfg" '' 'dir: climb' "\tpath /var/lib/vz/$up${escape#/}" \
	'\tcontent snippets'
run attach 100 --storage climb
expect climb-refused 1
if [ -z "$(ls -A "$escape")" ]; then pass climb-nothing-outside; else
	fail climb-nothing-outside "created outside the root: $(ls -A "$escape")"
fi
mkdir -p "$root$escape" # the same path inside the root is where it lands
run attach 100 --storage climb
expect climb-inside 0
if [ -x "$root$escape/snippets/pve-gpu-passthrough-hook" ] && [ -z "$(ls -A "$escape")" ]; then
	pass climb-lands-inside
else
	fail climb-lands-inside "snippet not below the root's $escape, or something outside"
fi
# content-dirs climbing out with "..": Proxmox rejects the entry; attach refuses the storage
# (it would otherwise put the snippet where the entry points, here the root's /etc)
fresh
printf '%b\n' >>"$root/etc/pve/storage.cfg" '' 'dir: dotdot' '\tpath /srv/hooks' \
	'\tcontent snippets' '\tcontent-dirs iso=iso,snippets=../../etc'
run attach 100 --storage dotdot
expect dotdot-refused 1
expect_err dotdot-refused-says "storage 'dotdot' in '/etc/pve/storage.cfg' has a content-dirs entry Proxmox rejects"
expect_qm dotdot-no-qm ""
if [ ! -e "$root/etc/pve-gpu-passthrough-hook" ]; then pass dotdot-nothing-written; else
	fail dotdot-nothing-written "a snippet was made where content-dirs pointed"
fi
fresh
rm -rf "$escape"
mkdir -p "$escape"
rm -rf "$root/var/lib/vz"
ln -s "$escape" "$root/var/lib/vz"
run attach 100
expect abslink-refused 1
if [ -z "$(ls -A "$escape")" ]; then pass abslink-nothing-outside; else
	fail abslink-nothing-outside "created outside the root: $(ls -A "$escape")"
fi
rm -rf "$escape"

# --- the snippet program run (issue 29): the test build (tests/snippet-test) takes the
# installed hook's path from PGP_TEST_SNIPPET_HOOK, nothing else differs from the copy's.
snip=$build/tests/snippet-test
if [ -x "$snip" ]; then
	node=$(uname -n)
	node=${node%%.*}
	PGP_TEST_SNIPPET_HOOK=$tmp/absent/hook "$snip" 100 pre-start >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect snippet-absent-exit 0
	want="pve-gpu-passthrough is not installed on node $node: GPU handoff skipped, Proxmox binds the devices itself"
	if [ "$(cat "$tmp/out")" = "$want" ] && [ ! -s "$tmp/err" ]; then pass snippet-absent-one-line; else
		fail snippet-absent-one-line "expected exactly: $want"
	fi
	printf '#!/bin/sh\necho "args:$*" "env:$PGP_X"\nexit 7\n' >"$tmp/hook"
	chmod 755 "$tmp/hook"
	PGP_X=kept PGP_TEST_SNIPPET_HOOK=$tmp/hook "$snip" 100 pre-start >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect snippet-present-exit-passed-on 7
	[ "$(cat "$tmp/out")" = "args:100 pre-start env:kept" ] && pass snippet-present-same-args ||
		fail snippet-present-same-args "the hook got other arguments or environment"
	grep -qaF "pve-gpu-passthrough-snippet-v1" "$build/pve-gpu-passthrough-snippet" &&
		pass snippet-marker || fail snippet-marker "no marker in the snippet program"
	if file "$build/pve-gpu-passthrough-snippet" 2>/dev/null | grep -q 'static'; then
		pass snippet-static
	else
		fail snippet-static "the snippet program is not linked statically"
	fi
else
	fail snippet-test "$snip missing (run make)"
fi

# --- the hook runs the VM's own hookscript in every phase (VM 101, no devices: our part is
# the fast path; the handoff around theirs is the lab's hook-theirs scenario)
hook=$build/pve-gpu-passthrough-hook
fresh
run attach 101
mkdir -p "$root/var/lib/vz/snippets"
printf '#!/bin/sh\necho "theirs $1 $2 ${PGP_Y:-}" >>"%s"\n[ "$2" != "${FAIL_PHASE:-}" ]\n' "$tmp/phases" \
	>"$root/var/lib/vz/snippets/other.pl"
chmod 755 "$root/var/lib/vz/snippets/other.pl"
rm -f "$tmp/phases"
for ph in pre-start post-start pre-stop post-stop; do
	PGP_Y=env PGP_TEST_VM_HOOKSCRIPT=run "$hook" --sysroot "$root" --node pve1 101 $ph >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect "theirs-$ph-exit" 0
done
printf 'theirs 101 %s env\n' pre-start post-start pre-stop post-stop >"$tmp/want"
cmp -s "$tmp/phases" "$tmp/want" && pass theirs-every-phase ||
	fail theirs-every-phase "ran: $(tr '\n' ';' <"$tmp/phases" 2>/dev/null)"
for ph in pre-start post-stop; do
	FAIL_PHASE=$ph PGP_TEST_VM_HOOKSCRIPT=run "$hook" --sysroot "$root" --node pve1 101 $ph >"$tmp/out" 2>"$tmp/err"
	status=$?
	expect "theirs-fails-$ph" 1
	expect_err "theirs-fails-$ph-says" "its own hookscript 'local:snippets/other.pl' failed at $ph (exit status 1)"
	[ $ph = post-stop ] || expect_err theirs-fails-pre-start-aborts "VM start aborted by its own hookscript"
done
# without the test switch, below a root it is named, not run
rm -f "$tmp/phases"
"$hook" --sysroot "$root" --node pve1 101 pre-start >"$tmp/out" 2>"$tmp/err"
status=$?
expect theirs-below-root 0
[ ! -e "$tmp/phases" ] && pass theirs-below-root-not-run || fail theirs-below-root-not-run "it ran"
expect_out theirs-below-root-says "not run (the root is '$root', not this machine's /): $root/var/lib/vz/snippets/other.pl 101 pre-start"
# theirs missing: pre-start fails as Proxmox's would; a hostile record fails pre-start too
rm "$root/var/lib/vz/snippets/other.pl"
PGP_TEST_VM_HOOKSCRIPT=run "$hook" --sysroot "$root" --node pve1 101 pre-start >"$tmp/out" 2>"$tmp/err"
status=$?
expect theirs-missing 1
expect_err theirs-missing-says "'local:snippets/other.pl' (/var/lib/vz/snippets/other.pl) does not exist"
printf 'hookscript: local:snippets/x\nhookscript: local:snippets/y\n' >"$rec/101"
"$hook" --sysroot "$root" --node pve1 101 pre-start >"$tmp/out" 2>"$tmp/err"
status=$?
expect theirs-hostile-record 1
expect_err theirs-hostile-record-says "not a record of ours; 'pve-gpu-passthrough check 101' says how to fix it"

# --- usage errors (exit 64), help (exit 0)
fresh
for args in "attach" "attach 100 101" "attach abc" "attach 99" "attach 0100" \
	"attach 100 --storage a/b" "attach 100 --bogus" "detach" "detach 100 --force" \
	"detach 100 --storage local"; do
	# shellcheck disable=SC2086
	run $args
	expect "usage-${args// /_}" 64
done
expect_qm usage-no-qm ""
run attach --help
expect attach-help 0
expect_out attach-help-says "usage: pve-gpu-passthrough attach VMID"

exit $rc
