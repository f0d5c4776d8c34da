# sriov-boot (issue 31, topology sriov): the package's own boot unit makes the VFs of QEMU's
# SR-IOV nvme PF. No systemd or udev in the guest: the scenario evaluates the shipped udev rule's
# match against the real PF and runs the shipped unit's ExecStart= with %I = the PF, as systemd
# would. Then: the INI's count and driver before any VM; a second run changes nothing; --pf of
# another device is a no-op; a VF handed to a VM (already on vfio-pci) and back, with Proxmox's
# new_id of the PF's id (the VFs share it) removed at post-stop; the PF refused.
CLI=/usr/sbin/pve-gpu-passthrough
UNIT=/lab/units/pve-gpu-passthrough-sriov@.service
RULE=/lab/units/pve-gpu-passthrough.rules
INI=/etc/pve-gpu-passthrough.ini
VFIO=/sys/bus/pci/drivers/vfio-pci
load_host_drivers
sriov_pf || return 0
check "vfio-pci is not loaded yet" test ! -e $VFIO

# ---- the udev rule: does it start the unit for this PF? ----
rule=$(grep -v '^[[:space:]]*\(#\|$\)' $RULE)
check "the udev rule is one rule line" test "$(echo "$rule" | wc -l)" = 1
# udev_value DEV KEY: what udev compares KEY with for PCI device DEV; fails for an attribute
# that is not there (udev's match fails then, == and != alike) and for a key this evaluator
# does not know (the rule changed: teach it, do not skip it).
udev_value() {
	case $2 in
	ACTION) echo "$action" ;;
	SUBSYSTEM) basename "$(readlink /sys/bus/pci/devices/$1/subsystem)" ;;
	KERNEL) echo "$1" ;;
	DRIVER) [ "$(driver_of $1)" = none ] || driver_of $1 ;;
	ATTR\{*\})
		a=${2#ATTR\{}
		a=${a%\}}
		[ -r "/sys/bus/pci/devices/$1/$a" ] || return 1
		cat "/sys/bus/pci/devices/$1/$a" | sed 's/[[:space:]]*$//' ;;
	*) lab_fail "udev rule: unknown match key '$2'" >&2; return 1 ;;
	esac
}
# udev_pat VALUE PATTERNS: udev's glob patterns, '|' between alternatives (split with
# pathname expansion off: "?*" is a pattern, not the files in the current directory).
udev_pat() {
	oifs=$IFS
	IFS='|'
	set -f
	# shellcheck disable=SC2086
	set -- "$1" $2
	set +f
	IFS=$oifs
	v1=$1
	shift
	for p in "$@"; do
		# shellcheck disable=SC2254 # a glob on purpose
		case $v1 in $p) return 0 ;; esac
	done
	return 1
}
# udev_matches DEV ACTION: every match key (== and !=) of the rule holds on that event.
udev_matches() {
	action=$2
	echo "$rule" | tr ',' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' >/tmp/rule.keys
	nmatch=0
	while read -r tok; do
		case $tok in
		*==*) key=${tok%%==*} op='==' val=${tok#*==} ;;
		*!=*) key=${tok%%!=*} op='!=' val=${tok#*!=} ;;
		*) continue ;; # an assignment (TAG+=, ENV{}+=)
		esac
		val=${val#\"}
		val=${val%\"}
		v=$(udev_value "$1" "$key") || return 1
		nmatch=$((nmatch + 1))
		if udev_pat "$v" "$val"; then [ "$op" = '==' ] || return 1; else [ "$op" = '!=' ] || return 1; fi
	done </tmp/rule.keys
	[ $nmatch -gt 0 ]
}
check "the rule matches the PF on add (coldplug, nvme bound)" udev_matches $PF add
check "the rule matches the PF on bind" udev_matches $PF bind
check "the rule does not match the PF on remove" not udev_matches $PF remove
check "the rule does not match the VGA (no SR-IOV)" not udev_matches $GPU add
wants=$(echo "$rule" | sed -n 's/.*ENV{SYSTEMD_WANTS}+="\([^"]*\)".*/\1/p' | sed "s/\$kernel/$PF/g")
check "the rule tags it for systemd" contains "$rule" 'TAG\+="systemd"'
check "the rule wants pve-gpu-passthrough-sriov@$PF.service ($wants)" \
	test "$wants" = "pve-gpu-passthrough-sriov@$PF.service"
check "that is an instance of the shipped template unit" test -f "/lab/units/${wants%%@*}@.service"

# ---- the unit: what systemd would run ----
check "the unit is ordered before pve-guests.service (before any VM starts)" \
	grep -q '^Before=.*pve-guests\.service' $UNIT
check "the unit is a oneshot" grep -q '^Type=oneshot' $UNIT
check "the unit's condition is the INI" grep -qx "ConditionPathExists=$INI" $UNIT
execs=$(sed -n 's/^ExecStart=//p' $UNIT)
check "the unit has one ExecStart= ($execs)" test "$(echo "$execs" | wc -l)" = 1
# %I: the unescaped instance name, the PF's address as udev's $kernel gave it (nothing in
# "0000:00:05.0" is escaped).
cmd=$(echo "$execs" | sed "s/%I/$PF/g")
case $cmd in
/*) ;;
*) lab_fail "ExecStart= has a prefix or a relative path: '$execs'" ;;
esac
case $cmd in *%*) lab_fail "ExecStart= has a specifier the scenario does not know: '$execs'" ;; esac
check "the command passes the PF: $cmd" contains "$cmd" " --pf $PF\$"
run_unit() {
	# shellcheck disable=SC2086
	env -i LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin $cmd </dev/null
}

# vfio_id new_id|remove_id: write the PF's id (the VFs' too) there; $out is the shell's error.
vfio_id() {
	out=$( (echo "1b36 0010" >$VFIO/$1) 2>&1)
}
# no_such_id: vfio-pci refuses to remove the id with ENODEV, the kernel's word for an id its
# dynamic list does not have.
no_such_id() {
	! vfio_id remove_id && contains "$out" 'No such device'
}

# ---- the INI, before the unit runs ----
mkdir -p /etc
printf '[sriov]\npf = %s\nvfs = 2\ndriver = vfio-pci\n' "$PF" >$INI
chown 0:0 $INI
chmod 644 $INI
out=$($CLI sriov status 2>&1)
rc=$?
echo "$out"
check "status before the unit: exit 1 (no VFs yet)" test $rc = 1
check "status names the fix" contains "$out" "sriov apply"
$CLI check --json >/tmp/sb-check0.json 2>/dev/null
check "check before the unit: sriov.numvfs FAIL" \
	jqe --arg a $PF '[.checks[] | select(.id == "sriov.numvfs" and .status == "fail" and .subject == $a)] | length == 1' /tmp/sb-check0.json
check "still no VFs" test "$(cat $sys/sriov_numvfs)" = 0

# ---- the unit's first run ----
out=$(run_unit 2>&1)
rc=$?
echo "$out"
check "the unit's command exits 0" test $rc = 0
check "it says what it changed" contains "$out" "^[1-9][0-9]* changes made$"
check "sriov_drivers_autoprobe = 0" test "$(cat $sys/sriov_drivers_autoprobe)" = 0
check "sriov_numvfs = 2" test "$(cat $sys/sriov_numvfs)" = 2
expect_driver $PF nvme
VF=$(basename "$(readlink $sys/virtfn0)")
VF2=$(basename "$(readlink $sys/virtfn1)")
check "2 VFs made ($VF $VF2)" test -e "/sys/bus/pci/devices/$VF/physfn" -a -e "/sys/bus/pci/devices/$VF2/physfn"
for v in $VF $VF2; do
	expect_driver $v vfio-pci
	check "$v's driver_override is vfio-pci" test "$(override_of $v)" = vfio-pci
done
check "the rule does not match a VF (no sriov_totalvfs)" not udev_matches $VF add
out=$($CLI sriov status 2>&1)
rc=$?
echo "$out"
check "status exits 0" test $rc = 0
$CLI sriov status --json >/tmp/sb-status.json
check "status --json: ok, the PF, 2 VFs on vfio-pci" \
	jqe --arg a $PF '.ok == true and .pf == $a and .numvfs == 2 and .autoprobe == 0 and ([.vfs[] | select(.driver == "vfio-pci")] | length == 2)' /tmp/sb-status.json
$CLI check --json >/tmp/sb-check1.json 2>/dev/null
check "check after the unit: sriov.numvfs PASS" \
	jqe --arg a $PF '[.checks[] | select(.id == "sriov.numvfs" and .status == "pass" and .subject == $a)] | length == 1' /tmp/sb-check1.json

# ---- a second run: already so ----
booted=$(sriov_snap)
out=$(run_unit 2>&1)
rc=$?
echo "$out"
check "second run exits 0" test $rc = 0
check "second run: 0 changes" contains "$out" "^0 changes made$"
check "second run: nothing changed" test "$(sriov_snap)" = "$booted"
$CLI sriov apply --json >/tmp/sb-apply.json
check "apply --json: exit 0" test $? = 0
check "apply --json: changes 0, ok" jqe '.changes == 0 and .ok == true' /tmp/sb-apply.json
out=$($CLI sriov apply --dry-run 2>&1)
rc=$?
check "apply --dry-run: exit 0, no write" test $rc = 0
check "apply --dry-run prints no 'would write'" not contains "$out" "would write"
# The unit of another SR-IOV PF (the udev rule starts one for each): nothing to do.
out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $CLI sriov apply --pf $DISK 2>&1)
rc=$?
echo "$out"
check "--pf of another device: exit 0" test $rc = 0
check "--pf of another device: says so" contains "$out" "$DISK is not the INI's \[sriov\] PF \($PF\): nothing to do"
check "--pf of another device: nothing changed" test "$(sriov_snap)" = "$booted"
# The PF by its id: the VFs share it (they are not PFs), the same PF.
printf '[sriov]\npf = 1b36:0010\nvfs = 2\n' >$INI
out=$(run_unit 2>&1)
rc=$?
echo "$out"
check "pf = 1b36:0010: the unit exits 0, 0 changes" test "$rc/$(echo "$out" | tail -n 1)" = "0/0 changes made"
out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $CLI sriov apply --pf $DISK 2>&1)
check "pf = 1b36:0010: --pf of another device: nothing to do" contains "$out" "is not the INI's \[sriov\] PF \($PF\)"
check "pf = 1b36:0010: nothing changed" test "$(sriov_snap)" = "$booted"
printf '[sriov]\npf = %s\nvfs = 2\ndriver = vfio-pci\n' "$PF" >$INI

# ---- a VF handed to a VM and back, Proxmox's new_id removed at post-stop ----
# Control first: vfio-pci takes and drops the PF's id by hand (with nothing unbound, nothing
# moves); a second remove_id is refused with ENODEV, the kernel's word for an id it has not.
check "control: new_id of the PF's id accepted" vfio_id new_id
check "control: nothing moved" test "$(sriov_snap)" = "$booted"
check "control: remove_id of it accepted" vfio_id remove_id
check "control: a second remove_id fails with ENODEV" no_such_id
write_vm_conf 121 "machine: q35" "hostpci0: $VF"
hook_out 121 pre-start
check "pre-start of the VF exits 0" test $rc = 0
check "pre-start: the VF is already on vfio-pci" contains "$out" "$VF 1b36:0010: already on vfio-pci"
check "a state file while it runs" test -e /run/pve-gpu-passthrough/121.state
expect_driver $VF vfio-pci
expect_driver $VF2 vfio-pci
expect_driver $PF nvme
# Proxmox binds a VF that is not on vfio-pci with new_id of its id, the PF's here.
check "Proxmox's new_id 1b36 0010 accepted" vfio_id new_id
expect_driver $PF nvme
expect_driver $VF vfio-pci
expect_driver $VF2 vfio-pci
check "the VFs are still enabled" test "$(cat $sys/sriov_numvfs)" = 2
hook_out 121 post-stop
check "post-stop exits 0" test $rc = 0
check "post-stop removed the dynamic id" \
	contains "$out" "removed the dynamic id 1b36:0010 from vfio-pci: it is the id of SR-IOV PF $PF"
check "vfio-pci no longer has it: remove_id fails with ENODEV" no_such_id
check "after post-stop: as the unit left it (VFs on vfio-pci, override vfio-pci, PF on nvme, 2 VFs, no state)" \
	test "$(sriov_snap)" = "$booted"
show_diff "$booted" "$(sriov_snap)"

# ---- the PF refused ----
write_vm_conf 122 "machine: q35" "hostpci0: $PF"
hook_out 122 pre-start
check "PF with VFs: pre-start refused (exit 1)" test $rc = 1
check "the refusal names the VFs" contains "$out" "refusing: $PF is an SR-IOV physical function with 2 VFs enabled"
check "nothing changed" test "$(sriov_snap)" = "$booted"
show_diff "$booted" "$(sriov_snap)"
check "no state file" test ! -e /run/pve-gpu-passthrough/122.state

# ---- cleanup ----
echo 0 >$sys/sriov_numvfs
echo 1 >$sys/sriov_drivers_autoprobe
check "VFs removed again" test ! -e "/sys/bus/pci/devices/$VF"
rm -f $INI /etc/pve/qemu-server/121.conf /etc/pve/qemu-server/122.conf /tmp/rule.keys
