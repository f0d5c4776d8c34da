#!/bin/bash
# tests/report/run.sh [BUILD_DIR] - `pve-gpu-passthrough report` round trips and redaction.
#
# For every fake host of tests/check/ (built as tests/check/run.sh builds it, in a temporary
# root, never the machine's own /sys): `report --sysroot ROOT` is replayed with build/fakesys
# into a second root, and on both roots `list --all --json`, `check --json` (without VMIDs
# and with every VM of the host) and the host's own tests/check cases must print the same
# bytes (stdout, stderr, exit status). A report of the replay must equal the report itself.
# Then a host whose VM config, storage, mappings, mounts and udev data are full of secrets
# must give a report holding none of them, which still replays to the same `check`.
# Prints "PASS report.NAME" or "FAIL report.NAME" per test.
set -u
here=$(cd "$(dirname "$0")" && pwd)
checks=$here/../check
build=$(cd "${1:-build}" && pwd) || exit 2
cli=$build/pve-gpu-passthrough
fakesys=$build/fakesys
for f in "$cli" "$fakesys"; do
	[ -x "$f" ] || { echo "FAIL report.setup: $f missing (run make)"; exit 1; }
done
depmod=$(command -v depmod || echo /sbin/depmod)
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/pgp-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

pass() { echo "PASS report.$1"; }
fail() {
	echo "FAIL report.$1"
	[ -n "${2:-}" ] && cut -c1-400 "$2" | sed 's/^/    /' | head -40
	failed=1
}

# make_modules ROOT KMODFILE: as tests/check/run.sh (stub modules and depmod's indexes).
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
				"$cc" -c -DNAME="$name" -DALIAS="\"$alias\"" -o "$obj" "$checks/stubmod.c" ||
					return 1
			else
				[ -f "$obj" ] || "$cc" -c -DNAME="$name" -o "$obj" "$checks/stubmod.c" ||
					return 1
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

# build_host ROOT SPEC [KMOD]: a fake host as tests/check/run.sh makes it.
build_host() {
	mkdir -p "$1/usr/share/misc" || return 1
	"$fakesys" "$1" "$2" >"$tmp/err" 2>&1 || return 1
	cp "$checks/pci.ids" "$1/usr/share/misc/pci.ids"
	[ -z "${3:-}" ] || [ ! -f "$3" ] || make_modules "$1" "$3"
}

# run ROOT ARGS...: the CLI from "/" with a clean environment; stdout, stderr, exit status.
run() {
	local root=$1
	shift
	(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
		"$cli" --sysroot "$root" "$@" >"$tmp/o" 2>"$tmp/e")
	local rc=$?
	cat "$tmp/o"
	echo "--- stderr"
	cat "$tmp/e"
	echo "--- exit $rc"
}

# same NAME ROOT1 ROOT2 ARGS...: the command prints the same on both roots.
same() {
	local name=$1 a=$2 b=$3
	shift 3
	# (setup names the root it does not run commands below: the same name on both sides)
	run "$a" "$@" | sed "s|$a|ROOT|g" >"$tmp/a"
	run "$b" "$@" | sed "s|$b|ROOT|g" >"$tmp/b"
	if diff -u "$tmp/a" "$tmp/b" >"$tmp/diff"; then
		pass "$name"
	else
		fail "$name" "$tmp/diff"
	fi
}

vmids() {
	local f ids=()
	for f in "$1"/etc/pve/qemu-server/*.conf; do
		[ -e "$f" ] || continue
		f=${f##*/}
		ids+=("${f%.conf}")
	done
	echo "${ids[*]}"
}

# roundtrip NAME ROOT NODE: report of ROOT (as node NODE), replayed, compared.
roundtrip() {
	local name=$1 root=$2 node=$3 replay=$tmp/$1.replay report=$tmp/$1.report
	if ! (cd / && "$cli" --sysroot "$root" --node "$node" report -o "$report" 2>"$tmp/err"); then
		fail "$name.report" "$tmp/err"
		return 1
	fi
	if [ ! -s "$report" ] || [ "$(stat -c %a "$report")" != 600 ]; then
		fail "$name.report"
		return 1
	fi
	mkdir -p "$replay"
	if ! "$fakesys" "$replay" "$report" >"$tmp/err" 2>&1; then
		fail "$name.replay" "$tmp/err"
		return 1
	fi
	same "$name.replay.list-all-json" "$root" "$replay" list --all --json
	same "$name.replay.check-json" "$root" "$replay" --node pve check --json
	# shellcheck disable=SC2046
	[ -z "$(vmids "$root")" ] ||
		same "$name.replay.check-json-vms" "$root" "$replay" --node pve check --json $(vmids "$root")
	# The report of the replay is the report: nothing is lost or changed on the way.
	if (cd / && "$cli" --sysroot "$replay" --node pve report >"$tmp/again" 2>"$tmp/err") &&
		diff -u "$report" "$tmp/again" >"$tmp/diff"; then
		pass "$name.replay.fixed-point"
	else
		fail "$name.replay.fixed-point" "$tmp/diff"
	fi
}

for hostdir in "$checks"/*/; do
	host=$(basename "$hostdir")
	[ -f "$hostdir/spec" ] || continue
	root=$tmp/$host
	if ! build_host "$root" "$hostdir/spec" "$hostdir/kmod"; then
		fail "$host.setup" "$tmp/err"
		continue
	fi
	roundtrip "$host" "$root" pve || continue
	# The host's own golden cases (text output included) print the same on the replay.
	for argsfile in "$hostdir"/*.args; do
		[ -f "$argsfile" ] || continue
		read -r -a args <"$argsfile"
		same "$host.case.$(basename "$argsfile" .args)" "$root" "$tmp/$host.replay" "${args[@]}"
	done
done

# --- variant VFIO drivers: what sriov.variant and vm.variant ask the module index ----------
# raptor-igpu-sriov with its stub xe_vfio_pci (a vfio_pci: alias of the iGPU's id): [sriov]
# and VM 104 ask for it, VM 100 for a module the kernel does not have. The report carries
# libkmod's answers (the module, the alias each device resolves to), so check on the replay
# says the same, and says that the variant drives the VFs (not only "the same" by both
# lacking it).
root=$tmp/variant
if ! build_host "$root" "$checks/raptor-igpu-sriov/spec" "$checks/raptor-igpu-sriov/kmod"; then
	fail variant.setup "$tmp/err"
else
	printf '[sriov]\npf = 00:02.0\nvfs = 7\ndriver = xe_vfio_pci\n\n[vm:104]\nvfio_driver = xe_vfio_pci\n\n[vm:100]\nvfio_driver = i915-vfio-pci\n' \
		>"$root/etc/pve-gpu-passthrough.ini"
	printf 'hostpci0: 0000:00:02.5,pcie=1,driver=keep\nhostpci1: 0000:00:17.0,driver=keep\nmachine: q35\nbios: ovmf\nostype: l26\n' \
		>"$root/etc/pve/qemu-server/104.conf"
	if roundtrip variant "$root" pve; then
		same variant.replay.check-vms "$root" "$tmp/variant.replay" --node pve check 100 104
		run "$tmp/variant.replay" --node pve check 100 104 >"$tmp/variant.out"
		if grep -q '^PASS  sriov.variant .*0000:00:02.5' "$tmp/variant.out" &&
			grep -q '^PASS  vm.variant .*0000:00:02.5: driver=keep and xe_vfio_pci' "$tmp/variant.out" &&
			grep -q '^INFO  vm.variant .*0000:00:17.0' "$tmp/variant.out" &&
			grep -q '^FAIL  vm.variant .*vm 100: vfio_driver = i915-vfio-pci' "$tmp/variant.out"; then
			pass variant.replay.drives
		else
			fail variant.replay.drives "$tmp/variant.out"
		fi
	fi
fi

# --- redaction: a host full of secrets ---------------------------------------------------
root=$tmp/secrets
cat "$checks/seed-x99/spec" - >"$tmp/secrets.spec" <<'SPEC'
# VM 107: every kind of private value Proxmox keeps in a VM config, on node zeus-secret-node
# (/etc/pve/qemu-server is the link pmxcfs makes to this node's directory)
rm /etc/pve/qemu-server/105.conf
rm /etc/pve/qemu-server/106.conf
rm /etc/pve/qemu-server
file /etc/pve/nodes/zeus-secret-node/qemu-server/107.conf #Secret-Description-Line for VM 107\n#second description line SECRET-DESC-2\nagent: 1\nargs: -cpu host,secret-args-value -smbios type=0,serial=SECRET-ARGS-SERIAL\nbios: ovmf\ncipassword: $5$SECRET-CIPASSWORD\nciuser: secret-ciuser\nhostpci0: mapping=gpu,pcie=1,x-vga=1\nhookscript: local:snippets/pve-gpu-passthrough-hook\nipconfig0: ip=198.51.100.77/24,gw=198.51.100.1\nmachine: q35\nmemory: 16384\nname: secret-vm-name\nnameserver: 203.0.113.53\nnet0: virtio=BC:24:11:AB:CD:EF,bridge=vmbr0,firewall=1\nnet1: e1000=DE:AD:BE:EF:00:42,bridge=vmbr1\nostype: win11\nscsi0: local-lvm:vm-107-disk-0,serial=SECRET-DISK-SERIAL,size=64G\nsearchdomain: secret-domain.example\nsmbios1: uuid=0f0e0d0c-SECRET-UUID,serial=U0VDUkVULVNNQklPUw==,base64=1\nsshkeys: ssh-rsa%20AAAASECRETSSHKEY%20user%40secret-laptop\ntags: secret-tag\nvga: none\n\n[snap1]\ndescription: SECRET-SNAPSHOT-DESC\nhostpci0: 0000:02:00\n
link /etc/pve/qemu-server nodes/zeus-secret-node/qemu-server
# container 120: its hostname, network, storage and description are private; its GPU lines stay
file /etc/pve/nodes/zeus-secret-node/lxc/120.conf #SECRET-CT-DESC\narch: amd64\nhostname: secret-ct-host.secret-domain.example\ndev0: /dev/dri/renderD128,gid=104\nlxc.mount.entry: /mnt/secret-media mnt/media none bind 0 0\nlxc.cgroup2.devices.allow: c 226:* rwm\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AB:CD:EF,ip=198.51.100.78/24\nrootfs: local-lvm:vm-120-disk-0,size=8G\n[snap]\nhostname: SECRET-CT-SNAP\n
link /etc/pve/lxc nodes/zeus-secret-node/lxc
file /etc/pve/mapping/pci.cfg gpu\n\tdescription SECRET-MAPPING-DESC\n\tmap id=10de:0fc6,iommugroup=29,node=zeus-secret-node,path=0000:02:00.0,subsystem-id=1462:8a96\n\tmap id=10de:0fc6,iommugroup=29,node=hera-other-node,path=0000:02:00.0\n
file /etc/pve/storage.cfg dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n\ncifs: nas\n\tpath /mnt/pve/nas\n\tserver 198.51.100.200\n\tshare SECRET-SHARE-NAME\n\tusername secret-cifs-user\n\tdomain SECRET-DOMAIN\n\tnodes zeus-secret-node,hera-other-node\n\tcontent images\n
file /usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook binary
mode /usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook 755
link /var/lib/vz/snippets/pve-gpu-passthrough-hook /usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook
rawfile /proc/self/mountinfo 22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/pve-root rw,errors=remount-ro\n23 22 0:21 / /proc rw,nosuid - proc proc rw\n40 22 0:50 / /mnt/pve/nas rw,relatime shared:60 - cifs //198.51.100.200/SECRET-SHARE-NAME rw,vers=3.1.1,username=secret-cifs-user,domain=SECRET-DOMAIN,addr=198.51.100.200\n41 22 0:51 / /mnt/pve/nfs rw,relatime - nfs4 nfs-secret-server.example:/export/secret rw,addr=198.51.100.201,clientaddr=198.51.100.5\n42 22 253:2 / /srv/secret-customer-acme rw,relatime - ext4 /dev/mapper/pve-data rw\n
rawfile /proc/swaps Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n/home/secret-user/swapfile              file\t\t1048572\t\t0\t\t-3\n
file /proc/cmdline BOOT_IMAGE=/boot/vmlinuz-6.8.12-4-pve root=/dev/mapper/pve-root ro quiet ip=198.51.100.5:198.51.100.9:198.51.100.1:255.255.255.0:zeus-secret-node.secret-lab.example:vmbr0:off:203.0.113.53 BOOTIF=01-bc-24-11-ab-cd-ef nfsroot=198.51.100.9:/export/secret-root,vers=4 systemd.hostname=zeus-secret-node.secret-lab.example netconsole=6665@198.51.100.5/vmbr0,6666@198.51.100.10/de:ad:be:ef:00:42 rd.route=[2001:db8:5ec::]/48:[2001:db8:5ec::1]:vmbr0 netconsole=+@2001:db8:5ec::5/vmbr0,514@2001:DB8:5EC:0:0:0:0:10/ ipv6.test=::ffff:198.51.100.7 intel_iommu=on vfio-pci.ids=10de:0fc6,10de:0e1b
file /etc/default/grub GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n# was: ip=198.51.100.5::198.51.100.1:255.255.255.0:zeus-secret-node:vmbr0:off for zeus-secret-node.secret-lab.example\nGRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on BOOTIF=01-de-ad-be-ef-00-42"\nGRUB_CMDLINE_LINUX="nfsroot=nfs-secret-server.example:/export/secret-root hostname=zeus-secret-node"\n
file /etc/modprobe.d/secret.conf # owner: admin@zeus-secret-node.secret-lab.example\noptions netconsole netconsole=@198.51.100.5/vmbr0,@198.51.100.10/de:ad:be:ef:00:42\ninstall secretmod /usr/local/sbin/secret-script --token SECRET-TOKEN\ninstall nouveau /bin/false\n
link /sys/class/block/sda3 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3
rawfile /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3/dev 8:3\n
file /run/udev/data/b8:3 S:disk/by-id/ata-Samsung_SSD_860_EVO_1TB_S3Z9NB0SECRETSERIAL-part3\nW:12\nE:ID_SERIAL=Samsung_SSD_860_EVO_1TB_S3Z9NB0SECRETSERIAL\nE:ID_SERIAL_SHORT=S3Z9NB0SECRETSERIAL\nE:ID_WWN=0x5002538e4SECRETWWN\nE:ID_FS_TYPE=LVM2_member\nE:ID_FS_UUID=SECRET-FS-UUID\nE:ID_PART_ENTRY_UUID=SECRET-PART-UUID
rawfile /proc/net/route Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nvmbr0\t00000000\t4D6433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\nvmbr0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n
rawfile /sys/class/net/enp1s0f0/address bc:24:11:ab:cd:ef\n
dir /proc/driver/nvidia/gpus/0000:02:00.0
rawfile /proc/driver/nvidia/gpus/0000:02:00.0/information Model: \t\t NVIDIA GeForce GTX 650\nIRQ:   \t\t 16\nGPU UUID: \t GPU-SECRET-GPU-UUID\nVideo BIOS: \t 80.07.35.00.04\nBus Type: \t PCIe\nDevice Minor: \t 0\nGPU Firmware: \t N/A\nBus Location: \t 0000:02:00.0\nSerial Number: \t SECRET-GPU-SERIAL\n
SPEC
if ! build_host "$root" "$tmp/secrets.spec" "$checks/seed-x99/kmod"; then
	fail redaction.setup "$tmp/err"
elif ! (cd / && "$cli" --sysroot "$root" --node zeus-secret-node report -o "$tmp/secrets.report" \
	2>"$tmp/err"); then
	fail redaction.report "$tmp/err"
else
	# Every private value above, in the forms it could leak in.
	secrets='secret-desc|SECRET-DESC|secret-args|SECRET-ARGS|CIPASSWORD|secret-ciuser'
	secrets+='|198\.51\.100|secret-vm-name|203\.0\.113|bc:24:11:ab:cd:ef|de:ad:be:ef:00:42'
	secrets+='|SECRET-DISK-SERIAL|secret-domain|SECRET-UUID|U0VDUkVULVNNQklPUw|SSHKEY'
	secrets+='|secret-laptop|secret-tag|SECRET-SNAPSHOT|SECRET-MAPPING|zeus|hera'
	secrets+='|SECRET-SHARE|secret-cifs|SECRET-DOMAIN|nfs-secret|/export/secret'
	secrets+='|SECRETSERIAL|SECRETWWN|SECRET-FS-UUID|SECRET-PART-UUID|4D6433C6'
	secrets+='|SECRET-GPU|006433C6|secret-lab|secret-root|2001:db8|2001:DB8|ffff:198|secret-customer|secret-user'
	secrets+='|SECRET-TOKEN|secret-script|bc-24-11|de-ad-be-ef|SECRET-CT|secret-ct|secret-media'
	if grep -n -i -E "$secrets" "$tmp/secrets.report" >"$tmp/leaks"; then
		fail redaction.no-secrets "$tmp/leaks"
	else
		pass redaction.no-secrets
	fi
	# What the checks need survived: the mapping (as node "pve"), the hookscript, args.
	if grep -q '^rawfile /etc/pve/qemu-server/107.conf args: yes\\nbios: ovmf\\nhostpci0: mapping=gpu,pcie=1,x-vga=1\\nhookscript: local:snippets/pve-gpu-passthrough-hook\\nmachine: q35\\nmemory: 16384\\nostype: win11\\nvga: none\\n$' \
		"$tmp/secrets.report" &&
		grep -q 'node=pve,path=0000:02:00.0.*node=node2,path=' "$tmp/secrets.report" &&
		grep -q '^rawfile /proc/driver/nvidia/gpus/0000:02:00.0/information Device Minor: \\t 0\\n$' \
			"$tmp/secrets.report" &&
		grep -q '^rawfile /etc/pve/lxc/120.conf \\n\\n\\ndev0: /dev/dri/renderD128,gid=104\\n\\nlxc.cgroup2.devices.allow: c 226:\* rwm\\n\\n\\n$' \
			"$tmp/secrets.report"; then
		pass redaction.kept
	else
		fail redaction.kept "$tmp/secrets.report"
	fi
	# The command line and boot loader files: addresses zeroed, the host name (with its
	# domain) and MAC addresses as pseudonymised everywhere else, the checks' parameters kept;
	# mount points and swap files the admin named, and modprobe.d's commands, replaced.
	# The same MAC address (de:ad:be:ef:00:42) is 02:00:00:00:00:02 in every file, with
	# colons or with BOOTIF's dashes.
	cmdline=$(sed -n 's|^rawfile /proc/cmdline ||p' "$tmp/secrets.report")
	want='BOOT_IMAGE=/boot/vmlinuz-6.8.12-4-pve root=/dev/mapper/pve-root ro quiet'
	want+=' ip=0.0.0.0:0.0.0.0:0.0.0.0:0.0.0.0:pve:vmbr0:off:0.0.0.0 BOOTIF=01-02-00-00-00-00-01'
	want+=' nfsroot=none systemd.hostname=pve netconsole=6665@0.0.0.0/vmbr0,6666@0.0.0.0/02:00:00:00:00:02'
	want+=' rd.route=[::]/48:[::]:vmbr0 netconsole=+@::/vmbr0,514@::/ ipv6.test=:: intel_iommu=on vfio-pci.ids=10de:0fc6,10de:0e1b\n'
	if [ "$cmdline" = "$want" ] &&
		grep -qxF 'rawfile /etc/default/grub GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n# was: ip=0.0.0.0::0.0.0.0:0.0.0.0:pve:vmbr0:off for pve\nGRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on BOOTIF=01-02-00-00-00-00-02"\nGRUB_CMDLINE_LINUX="nfsroot=none hostname=pve"\n\n' "$tmp/secrets.report" &&
		grep -qxF 'rawfile /etc/modprobe.d/secret.conf # owner: admin@pve\noptions netconsole netconsole=@0.0.0.0/vmbr0,@0.0.0.0/02:00:00:00:00:02\ninstall secretmod /bin/true\ninstall nouveau /bin/false\n\n' "$tmp/secrets.report" &&
		grep -q '^rawfile /proc/self/mountinfo .*\\n42 22 253:2 / /redacted/1 rw - ext4 /dev/mapper/pve-data rw\\n$' "$tmp/secrets.report" &&
		grep -q '^rawfile /proc/swaps .*\\n/redacted/2 ' "$tmp/secrets.report"; then
		pass redaction.boot-and-mounts
	else
		echo "cmdline: $cmdline" >"$tmp/c"
		echo "wanted:  $want" >>"$tmp/c"
		grep -E '^rawfile (/etc/default/grub|/etc/modprobe.d/secret.conf|/proc/self/mountinfo|/proc/swaps) ' "$tmp/secrets.report" >>"$tmp/c"
		fail redaction.boot-and-mounts "$tmp/c"
	fi
	mkdir -p "$tmp/secrets.replay"
	if "$fakesys" "$tmp/secrets.replay" "$tmp/secrets.report" >"$tmp/err" 2>&1; then
		# the node's name is what the report replaces: messages that name it say "pve"; those
		# that quote the boot loader file quote its redacted words; the command line differs
		run "$root" --node zeus-secret-node check --json 107 |
			sed 's/zeus-secret-node/pve/g; s/01-de-ad-be-ef-00-42/01-02-00-00-00-00-02/g
				s/"cmdline":"[^"]*"/"cmdline":""/' >"$tmp/a"
		run "$tmp/secrets.replay" --node pve check --json 107 | sed 's/"cmdline":"[^"]*"/"cmdline":""/' >"$tmp/b"
		if diff -u "$tmp/a" "$tmp/b" >"$tmp/diff"; then
			pass redaction.replay-check
		else
			fail redaction.replay-check "$tmp/diff"
		fi
	else
		fail redaction.replay-check "$tmp/err"
	fi
fi

# --- a device stuck in remove(): its driver_override read waits for ever ----------------
# Before Linux 6.19 reading driver_override takes the device's lock, which a driver stuck in
# remove() holds. Once a state file records the device as stuck, list, check and report read
# it with a deadline: here the read is a FIFO nobody writes, and each command must finish.
root=$tmp/stuck
if ! build_host "$root" "$checks/seed-x99/spec" "$checks/seed-x99/kmod"; then
	fail stuck.setup "$tmp/err"
else
	mkdir -p "$root/run/pve-gpu-passthrough"
	printf '%s\n' 'pve-gpu-passthrough-state 1' 'vmid 105' \
		'device 0000:03:00.0 group 30 id 10de:1049 driver nouveau override - vfio 0' \
		'stuck 0000:03:00.0 0 0' >"$root/run/pve-gpu-passthrough/105.state"
	chmod 600 "$root/run/pve-gpu-passthrough/105.state"
	ovr=$(readlink -f "$root/sys/bus/pci/devices/0000:03:00.0")/driver_override
	rm -f "$ovr" && mkfifo "$ovr"
	for cmd in "list --all" "check" "report"; do
		# shellcheck disable=SC2086
		(cd / && timeout 20 "$cli" --sysroot "$root" --node pve $cmd >"$tmp/o" 2>"$tmp/e")
		rc=$?
		if [ $rc = 124 ]; then
			fail "stuck.${cmd%% *}-finishes" "$tmp/e"
		else
			pass "stuck.${cmd%% *}-finishes"
		fi
		case $cmd in
		list*) grep -q '03:00.0.*\[stuck: driver_override did not answer\]' "$tmp/o" &&
			pass stuck.list-says-so || fail stuck.list-says-so "$tmp/o" ;;
		report) ! grep -q '0000:03:00.0/driver_override' "$tmp/o" &&
			grep -q '0000:03:00.1/driver_override' "$tmp/o" &&
			pass stuck.report-leaves-only-it-out || fail stuck.report-leaves-only-it-out "$tmp/o" ;;
		esac
	done
	# let the children still blocked in open() go
	for _ in 1 2 3 4; do timeout 1 sh -c ": >'$ovr'" 2>/dev/null; done
fi

# --- bash completion knows the verb and its options -------------------------------------
. "$here/../lib/completion.sh"
out=$(complete_words "$cli" rep)
[ "$out" = report ] && pass completion.verb || { echo "got '$out'" >"$tmp/c"; fail completion.verb "$tmp/c"; }
out=$(complete_words "$cli" report --o)
[ "$out" = --output ] && pass completion.option || { echo "got '$out'" >"$tmp/c"; fail completion.option "$tmp/c"; }
out=$(complete_words "$cli" report -o "")
[ "$out" = FILE ] && pass completion.file || { echo "got '$out'" >"$tmp/c"; fail completion.file "$tmp/c"; }
exit $failed
