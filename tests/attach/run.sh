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
if [ -L "$link" ] && [ "$(readlink "$link")" = "$hook_target" ]; then pass attach-symlink; else
	fail attach-symlink "no symlink $link -> $hook_target"
fi
[ "$(hookscript_of 100)" = "$vol" ] && pass attach-vm-config || fail attach-vm-config "VM config not set"
if grep -qxF /var/lib/vz/snippets/pve-gpu-passthrough-hook "$root/var/lib/pve-gpu-passthrough/snippets" 2>/dev/null; then
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
[ -L "$link" ] && pass attach-repairs-snippet-link || fail attach-repairs-snippet-link "snippet not recreated"

# --- refusals
fresh
run attach 101
expect refuse-other-hookscript 1
expect_err refuse-other-hookscript-says "VM 101 already has hookscript 'local:snippets/other.pl'; use --force"
expect_qm refuse-other-hookscript-no-qm ""
run attach 101 --force
expect force-other-hookscript 0
expect_qm force-other-hookscript-qm "set 101 --hookscript $vol"

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
expect_err refuse-foreign-snippet-says "exists and is not a symlink to '$hook_target'"
[ "$(cat "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook")" = mine ] &&
	pass refuse-foreign-snippet-kept || fail refuse-foreign-snippet-kept "file changed"
run attach 100 --force
expect force-foreign-snippet 0
[ -L "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook" ] && pass force-foreign-snippet-link ||
	fail force-foreign-snippet-link "not replaced by the symlink"

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
[ -L "$root/srv/hooks/hookscripts/pve-gpu-passthrough-hook" ] && pass content-dirs-path ||
	fail content-dirs-path "no symlink in /srv/hooks/hookscripts"
expect_qm content-dirs-qm "set 100 --hookscript hooks:snippets/pve-gpu-passthrough-hook"
: >"$QM_LOG"
run attach 100 --storage nas
expect shared-storage 0
expect_out moves-own-hookscript "uses our hookscript from 'hooks:snippets/pve-gpu-passthrough-hook'"
if grep -q /mnt/pve/nas "$root/var/lib/pve-gpu-passthrough/snippets"; then
	fail shared-not-recorded "a snippet on shared storage is listed for purge"
else
	pass shared-not-recorded
fi

# no storage.cfg at all: Proxmox's built-in "local" has snippets
fresh
rm "$root/etc/pve/storage.cfg"
run attach 100
expect builtin-local 0
[ -L "$root/var/lib/vz/snippets/pve-gpu-passthrough-hook" ] && pass builtin-local-link ||
	fail builtin-local-link "no symlink"

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
[ -L "$link" ] && pass detach-keeps-snippet || fail detach-keeps-snippet "snippet removed"
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
if [ -L "$root$escape/snippets/pve-gpu-passthrough-hook" ] && [ -z "$(ls -A "$escape")" ]; then
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
if [ ! -L "$root/etc/pve-gpu-passthrough-hook" ]; then pass dotdot-nothing-written; else
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
