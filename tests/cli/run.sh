#!/bin/bash
# run.sh [BUILD_DIR] - the command line as an admin meets it: every verb with --help, -h,
# `help VERB`, no argument and a bad argument (help exits 0 with the options; every error is one
# line "pve-gpu-passthrough VERB: what; ..." with the reason); attach/detach below a root never
# run qm; state-changing verbs refuse a non-root user in one line before doing anything; check -q
# prints only what did not pass; dry runs leave the fake tree byte for byte unchanged; "nothing to
# do" is said; report -o does not overwrite without --force; the hook's --help/--version.
# Prints one "PASS cli.NAME" / "FAIL cli.NAME: why" line per check.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
cli=$build/pve-gpu-passthrough
hook=$build/pve-gpu-passthrough-hook
fakesys=$build/fakesys
for f in "$cli" "$hook" "$fakesys"; do
	[ -x "$f" ] || { echo "FAIL cli.setup: $f missing (run make)"; exit 1; }
done
tmp=$(mktemp -d /tmp/pgp-cli.XXXXXX)
chmod 755 "$tmp" # the unprivileged runs below cd here
trap 'rm -rf "$tmp"' EXIT
rc=0
P=pve-gpu-passthrough

pass() { echo "PASS cli.$1"; }
fail() {
	echo "FAIL cli.$1: $2"
	sed 's/^/    | /' "$tmp/out" "$tmp/err" 2>/dev/null | head -n 20
	rc=1
}

# A fake host (seed-x99: VM 105 has a GPU that prepare can hand over) and a qm, update-grub,
# ... first in PATH that only record that they were called.
root=$tmp/root
"$fakesys" "$root" "$top/tests/check/seed-x99/spec" || { echo "FAIL cli.fixture: fakesys"; exit 1; }
mkdir -p "$tmp/bin"
for p in qm pct pvesm systemctl update-grub update-initramfs proxmox-boot-tool; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/called"\n' "$p" "$tmp" >"$tmp/bin/$p"
	chmod 755 "$tmp/bin/$p"
done
export PATH=$tmp/bin:$PATH

# run ARGS...: the CLI below the fake root.
run() {
	"$cli" --sysroot "$root" --node pve "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
}

# one_error NAME PREFIX WORD: the last run failed with exit 64 (or STATUS in $want), wrote
# nothing on stdout and exactly one line on stderr that starts with PREFIX and names WORD.
one_error() {
	local name=$1 prefix=$2 word=$3 want=${want:-64}
	if [ "$status" -ne "$want" ]; then
		fail "$name" "exit $status, expected $want"
	elif [ -s "$tmp/out" ]; then
		fail "$name" "printed on stdout"
	elif [ "$(wc -l <"$tmp/err")" != 1 ]; then
		fail "$name" "$(wc -l <"$tmp/err") lines on stderr, expected one"
	elif [ "${prefix}" != "$(head -c ${#prefix} "$tmp/err")" ]; then
		fail "$name" "stderr does not start with '$prefix'"
	elif ! grep -qF -- "$word" "$tmp/err"; then
		fail "$name" "the message does not say '$word'"
	else
		pass "$name"
	fi
}

# --- help: every verb, three ways, exit 0, its options on stdout, nothing on stderr
verbs=(list check setup attach detach prepare release early rom report sriov publish help)
run --help
listed=$(sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$tmp/out" | tr '\n' ' ')
[ "$listed" = "${verbs[*]} " ] && pass help.workflow-order ||
	fail help.workflow-order "commands listed as '$listed'"
for v in "${verbs[@]}"; do
	for form in "$v --help" "$v -h" "help $v"; do
		# shellcheck disable=SC2086
		run $form
		name="help.${form// /_}"
		if [ "$status" -ne 0 ]; then
			fail "$name" "exit $status"
		elif [ -s "$tmp/err" ]; then
			fail "$name" "printed on stderr"
		elif ! head -n 1 "$tmp/out" | grep -q "^usage: $P"; then
			fail "$name" "no usage line"
		elif [ "$v" != help ] && ! grep -qE -- '-h, --help' "$tmp/out"; then
			fail "$name" "no option list"
		else
			pass "$name"
		fi
	done
	cp "$tmp/out" "$tmp/help-$v"
	run "$v" --help
	cmp -s "$tmp/out" "$tmp/help-$v" && pass "help.same-$v" || fail "help.same-$v" "help $v differs from $v --help"
done

# --- bad command lines: one line, the reason, the verb's prefix
run
one_error usage.none "$P: " "no command"
run frobnicate
one_error usage.unknown-verb "$P: " "'frobnicate'"
run --bogus list
one_error usage.global-option "$P: " "'--bogus'"
for v in "${verbs[@]}"; do
	run "$v" --bogus
	one_error "usage.$v-bad-option" "$P $v: " "'--bogus'"
done
# verbs that need an operand, without one
for v in attach detach prepare release early rom; do
	run "$v"
	one_error "usage.$v-no-argument" "$P $v: " "expected"
done
# a bad operand says which
for v in attach detach prepare release check; do
	run "$v" abc
	one_error "usage.$v-bad-vmid" "$P $v: " "'abc'"
done
for v in list report setup; do
	run "$v" extra
	one_error "usage.$v-extra-argument" "$P $v: " "'extra'"
done
run prepare 105 106
one_error usage.prepare-two-vmids "$P prepare: " "'106'"
run release --stale 105
one_error usage.release-stale-vmid "$P release: " "'105'"
run early bogus
one_error usage.early-subcommand "$P early: " "'bogus'"
run rom bogus
one_error usage.rom-subcommand "$P rom: " "'bogus'"
run rom dump nonsense -o "$tmp/x.rom"
one_error usage.rom-bad-address "$P rom: " "'nonsense'"
run report -o
one_error usage.option-needs-value "$P report: " "'-o'"
run list --json=yes
one_error usage.option-takes-no-value "$P list: " "'--json'"
run help frobnicate
one_error usage.help-unknown "$P help: " "'frobnicate'"

# failures at run time: the same shape, one line
run attach 999
want=1 one_error fails.attach-no-vm "$P attach: " "VM 999 does not exist"
run rom dump 0000:ff:1f.7 -o "$tmp/x.rom"
want=1 one_error fails.rom-no-device "$P rom: " "0000:ff:1f.7"
run --config /nonexistent.ini prepare 105
want=1 one_error fails.prepare-config "$P prepare: " "/nonexistent.ini"

# --- below a root, attach and detach never run qm (a fake root's VM ids are not this node's)
rm -f "$tmp/called"
mkdir -p "$root/usr/libexec/pve-gpu-passthrough" "$root/var/lib/vz"
printf '#!/bin/sh\n' >"$root/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook"
cp "$build/pve-gpu-passthrough-snippet" "$root/usr/libexec/pve-gpu-passthrough/"
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n' >"$root/etc/pve/storage.cfg"
cp "$root/etc/pve/qemu-server/106.conf" "$tmp/106.conf"
sed -i '/^hookscript:/d' "$root/etc/pve/qemu-server/106.conf"
run attach 106
if [ "$status" -eq 0 ] && [ ! -e "$tmp/called" ] && grep -q "^not run (the root is '$root'" "$tmp/out"; then
	pass below-root.attach-no-qm
else
	fail below-root.attach-no-qm "exit $status; called: $(cat "$tmp/called" 2>/dev/null)"
fi
printf 'hookscript: local:snippets/pve-gpu-passthrough-hook\n' >>"$root/etc/pve/qemu-server/106.conf"
run detach 106
if [ "$status" -eq 0 ] && [ ! -e "$tmp/called" ] && grep -q "^not run (the root is '$root'" "$tmp/out"; then
	pass below-root.detach-no-qm
else
	fail below-root.detach-no-qm "exit $status; called: $(cat "$tmp/called" 2>/dev/null)"
fi
cp "$tmp/106.conf" "$root/etc/pve/qemu-server/106.conf"
rm -rf "$root/usr/libexec" "$root/var/lib/vz"

# --- not root: every state-changing verb says so in one line, before anything else. On this
# machine's own root (no --sysroot) as an unprivileged user, who cannot write below /sys or /run
# whatever happens; the VMID and the PCI address do not exist here.
asuser() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"
	else
		"$@"
	fi
}
rm -f "$tmp/called"
n=0
for cmd in "setup" "setup --undo" "setup --early 0000:ff:1f.7" "attach 999999" "detach 999999" \
	"prepare 999999" "release 999999" "release --stale" "rom dump 0000:ff:1f.7 -o x.rom"; do
	n=$((n + 1))
	v=${cmd%% *}
	[ "$v" = rom ] && v="rom dump"
	# each runs in $tmp (x.rom is $tmp/x.rom): a test's name holds no temporary path
	# shellcheck disable=SC2086
	(cd "$tmp" && asuser "$cli" $cmd >"$tmp/out" 2>"$tmp/err" </dev/null)
	status=$?
	want=1 one_error "non-root.${cmd// /_}" "$P $v: " "needs root"
done
[ ! -e "$tmp/x.rom" ] && [ ! -e "$tmp/called" ] && pass non-root.nothing-done ||
	fail non-root.nothing-done "a file was written or a program run"
# --dry-run is for everyone
(cd "$tmp" && asuser "$cli" release --stale --dry-run >"$tmp/out" 2>"$tmp/err" </dev/null)
status=$?
[ "$status" -eq 0 ] && pass non-root.dry-run-allowed || fail non-root.dry-run-allowed "exit $status"

# --- dry runs change nothing, byte for byte (no lock files either)
snapshot() {
	(cd "$root" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
snapshot >"$tmp/before"
run prepare 105 --dry-run
if [ "$status" -ne 0 ] || ! grep -q "^would " "$tmp/out"; then
	fail dry-run.prepare "exit $status, or no 'would ...' line"
else
	pass dry-run.prepare
fi
snapshot >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && pass dry-run.prepare-unchanged ||
	fail dry-run.prepare-unchanged "$(diff "$tmp/before" "$tmp/after" | head -n 5 | tr '\n' ' ')"
run release --stale --dry-run
[ "$status" -eq 0 ] && pass dry-run.release-stale || fail dry-run.release-stale "exit $status"
run release 105 --dry-run
[ "$status" -eq 0 ] && pass dry-run.release || fail dry-run.release "exit $status"
snapshot >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && pass dry-run.release-unchanged ||
	fail dry-run.release-unchanged "$(diff "$tmp/before" "$tmp/after" | head -n 5 | tr '\n' ' ')"

# --- "nothing to do" is said, never silence
run release 105
[ "$status" -eq 0 ] && grep -q "nothing to do" "$tmp/out" && pass nothing.release ||
	fail nothing.release "exit $status, or silent"
run release --stale
[ "$status" -eq 0 ] && grep -q "nothing to do" "$tmp/out" && pass nothing.release-stale ||
	fail nothing.release-stale "exit $status, or silent"
"$hook" --sysroot "$root" --node pve 105 post-stop >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && grep -q "nothing to do" "$tmp/out" && pass nothing.post-stop ||
	fail nothing.post-stop "exit $status, or silent"

# --- check -q: only what did not pass, the same exit status
run check 105
full=$status
grep -E '^(INFO|WARN|FAIL) ' "$tmp/out" >"$tmp/notpass"
grep -q '^PASS ' "$tmp/out" && [ -s "$tmp/notpass" ] || fail check-quiet.fixture "no PASS or no other line"
run check -q 105
if [ "$status" -ne "$full" ]; then
	fail check-quiet.exit "exit $status, without -q $full"
elif grep -qE '^PASS |passed,|^host: ' "$tmp/out"; then
	fail check-quiet.only-problems "a PASS line, the header or the summary"
elif ! diff -q <(grep -E '^(INFO|WARN|FAIL) ' "$tmp/out") "$tmp/notpass" >/dev/null; then
	fail check-quiet.all-problems "not every non-PASS line"
else
	pass check-quiet
fi
grep -q '^ *note: ' "$tmp/out" && ! grep -B1 '^ *fix: ' "$tmp/out" | grep -q '^INFO' &&
	pass check-quiet.info-notes || fail check-quiet.info-notes "INFO without 'note:' or with 'fix:'"

# check VMID VMID: the VM once
run check 105 105
[ "$(grep -c '^PASS  vm.config ' "$tmp/out")" = 1 ] && pass check.duplicate-vmid-once ||
	fail check.duplicate-vmid-once "VM 105 checked $(grep -c '^PASS  vm.config ' "$tmp/out") times"

# check wraps at the width asked (a terminal's; PGP_COLUMNS for tests): the same words, and a
# line longer than that only where it could not be broken (a file's line, a command, one word)
run check 105
cp "$tmp/out" "$tmp/unwrapped"
PGP_COLUMNS=80 run check 105
if [ "$(tr -s ' \n' '  ' <"$tmp/out")" != "$(tr -s ' \n' '  ' <"$tmp/unwrapped")" ]; then
	fail check.wrap-same-words "wrapping changed the text"
elif [ "$(awk 'length > 80' "$tmp/out" | wc -l)" -ge "$(awk 'length > 80' "$tmp/unwrapped" | wc -l)" ]; then
	fail check.wrap "no fewer lines over 80 columns"
elif awk 'length > 80' "$tmp/out" | sed 's/^ *//' | while read -r l; do grep -qF -- "$l" "$tmp/unwrapped" || exit 1; done; then
	pass check.wrap
else
	fail check.wrap "a line over 80 columns that could have been broken"
fi

# --- report -o: an existing file is not replaced without --force
echo mine >"$tmp/report.txt"
run report -o "$tmp/report.txt"
want=1 one_error report.refuses-existing "$P report: " "--force"
[ "$(cat "$tmp/report.txt")" = mine ] && pass report.kept || fail report.kept "file replaced"
run report -o "$tmp/report.txt" --force
[ "$status" -eq 0 ] && [ "$(cat "$tmp/report.txt")" != mine ] && pass report.force ||
	fail report.force "exit $status, or not replaced"

# --- JSON: release and prepare have --json; --json=pretty indents any verb's JSON, the same
# JSON once the blanks outside strings are taken out
compact() { # the JSON on stdin without blanks outside its strings
	awk 'BEGIN { RS = "\001" } {
		n = length($0); s = 0; e = 0; o = ""
		for (i = 1; i <= n; i++) {
			ch = substr($0, i, 1)
			if (s) { o = o ch; if (e) e = 0; else if (ch == "\\") e = 1; else if (ch == "\"") s = 0 }
			else if (ch == "\"") { s = 1; o = o ch }
			else if (ch != " " && ch != "\n") o = o ch
		}
		print o }'
}
run release --stale --json
if [ "$status" -eq 0 ] && [ "$(wc -l <"$tmp/out")" = 1 ] &&
	grep -q '^{"command":"release","vmid":null,"dry_run":false,"lines":\[{"level":"info","message":"[^"]*nothing to do"}\],"exit":0}$' "$tmp/out"; then
	pass json.release
else
	fail json.release "exit $status, or not the JSON expected"
fi
# early status --json: one object, the problems listed (lsinitramfs's stderr is never shown)
run early status --image /boot/none.img --json
if [ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/out")" = 1 ] && [ ! -s "$tmp/err" ] &&
	grep -q '^{"ini":"/etc/pve-gpu-passthrough.ini","image":"/boot/none.img","ok":false,"stale":[a-z]*,"problems":\["cannot read the image: [^"]*"\]}$' "$tmp/out"; then
	pass json.early-status
else
	fail json.early-status "exit $status, or not the JSON expected: $(cat "$tmp/out" "$tmp/err")"
fi
# ... and on an image it can list (a tiny gzipped cpio, no early binding in it or in the INI):
# the text report says ok; --json prints the object alone, nothing of the text anywhere
mkdir -p "$tmp/img/etc" "$root/boot"
echo x >"$tmp/img/etc/x"
(cd "$tmp/img" && find . | cpio -o -H newc 2>/dev/null | gzip) >"$root/boot/tiny.img"
run early status --image /boot/tiny.img
if [ "$status" -eq 0 ] && [ "$(tail -n 1 "$tmp/out")" = ok ] && [ ! -s "$tmp/err" ]; then
	pass early-status.text-ok
else
	fail early-status.text-ok "exit $status, or not ok"
fi
run early status --image /boot/tiny.img --json
if [ "$status" -eq 0 ] && [ ! -s "$tmp/err" ] && [ "$(cat "$tmp/out")" = \
	'{"ini":"/etc/pve-gpu-passthrough.ini","image":"/boot/tiny.img","ok":true,"stale":false,"problems":[]}' ]; then
	pass json.early-status-ok
else
	fail json.early-status-ok "exit $status, or not the object alone"
fi
# ... and on one lsinitramfs fails on: the problem is its first stderr line, nothing on ours
printf 'not an initramfs' >"$root/boot/junk.img"
run early status --image /boot/junk.img --json
if [ "$status" -eq 1 ] && [ ! -s "$tmp/err" ] && grep -q '"problems":\["cannot list the image with /usr/bin/lsinitramfs: cpio: [^"]*"\]}$' "$tmp/out"; then
	pass json.early-status-lsinitramfs-says-why
else
	fail json.early-status-lsinitramfs-says-why "exit $status, or not lsinitramfs's line"
fi
for cmd in "check 105" "list --all" "prepare 105 --dry-run" "release 105 --dry-run" \
	"early status --image /boot/none.img"; do
	# shellcheck disable=SC2086
	run $cmd --json
	compact <"$tmp/out" >"$tmp/compact"
	# shellcheck disable=SC2086
	run $cmd --json=pretty
	name=json.pretty-${cmd%% *}
	if [ "$(wc -l <"$tmp/out")" -lt 5 ]; then
		fail "$name" "not indented"
	elif [ "$(compact <"$tmp/out")" != "$(cat "$tmp/compact")" ]; then
		fail "$name" "not the same JSON"
	else
		pass "$name"
	fi
done

# --- bash completion: VMIDs for every verb that takes one, PCI addresses from sysfs, the rom and
# early subcommands, each subcommand's own options
. "$top/tests/lib/completion.sh"
vmids=$(cd "$root/etc/pve/qemu-server" && ls | sed 's/\.conf$//' | sort | tr '\n' ' ')
addrs=$(ls "$root/sys/bus/pci/devices" | sort | tr '\n' ' ')
expect_completion() {
	local name=$1 want=$2 got
	shift 2
	got=$(complete_words "$cli" "$@" | tr ' ' '\n' | sort | tr '\n' ' ')
	[ "$got" = "$want" ] && pass "completion.$name" || fail "completion.$name" "got '$got', expected '$want'"
}
for v in attach detach prepare release check; do
	expect_completion "$v-vmid" "$vmids" --sysroot "$root" "$v" ""
done
expect_completion check-more-vmids "$vmids" --sysroot "$root" check 105 ""
expect_completion prepare-one-vmid " " --sysroot "$root" prepare 105 ""
expect_completion help-verbs "$(printf '%s\n' "${verbs[@]}" | sort | tr '\n' ' ')" help ""
expect_completion rom-subcommands "check dump patch " rom ""
expect_completion rom-dump-address "$addrs" --sysroot "$root" rom dump ""
expect_completion rom-check-device "$addrs" --sysroot "$root" rom check x.rom --device ""
expect_completion rom-check-options "--device --help --json " rom check x.rom --
expect_completion rom-dump-options "--force --help --output --vfct " rom dump --
expect_completion sriov-subcommands "apply status " sriov ""
expect_completion sriov-options "--dry-run --help --json --pf --timeout " sriov apply --
expect_completion sriov-pf-address "$addrs" --sysroot "$root" sriov apply --pf ""
expect_completion sriov-after-timeout "apply status " sriov --timeout 10s ""
expect_completion early-subcommand "status " early ""
expect_completion early-status-options "--help --image --json " early status --
expect_completion setup-early-address "$addrs" --sysroot "$root" setup --early ""
expect_completion release-options "--dry-run --help --json --stale " release --
expect_completion check-options "--cluster --help --json --quiet " check --
expect_completion report-force "--force " report -o r.txt --f

# --- the hook: --help, -h, --version; a bad command line in one line
for a in --help -h --version; do
	"$hook" "$a" >"$tmp/out" 2>"$tmp/err"
	status=$?
	[ "$status" -eq 0 ] && [ -s "$tmp/out" ] && [ ! -s "$tmp/err" ] && pass "hook.$a" ||
		fail "hook.$a" "exit $status"
done
"$hook" >"$tmp/out" 2>"$tmp/err"
status=$?
one_error hook.no-argument "$P-hook: " "expected VMID"
"$hook" --sysroot "$root" 105 nonsense >"$tmp/out" 2>"$tmp/err"
status=$?
one_error hook.bad-phase "$P-hook: " "'nonsense'"
exit $rc
