# setup-cmdline: the guest was booted with the kernel parameters `setup` wrote, not the lab's
# own (run.sh -a @setup: setup ran on a fake GRUB host of this very kernel, with its config as
# /boot/config-KVER, and its edited GRUB_CMDLINE_LINUX_DEFAULT became this command line). On
# the real kernel those parameters must give what check asks for: the IOMMU on, and check's
# command line checks passing. lab.setup= names what setup added, so a boot that silently
# fell back to the lab's own line fails here.
CLI=/usr/sbin/pve-gpu-passthrough
added=$(sed -n 's/.*lab\.setup=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
echo "cmdline: $(cat /proc/cmdline)"
echo "setup added: $added"
check "setup added something" test -n "$added"
for p in $added; do
	check "the kernel was booted with $p" contains " $(cat /proc/cmdline) " " $p "
done
$CLI check --json >/tmp/check.json
echo "check exit $?"
jq -c '.checks[] | select(.id | test("^(iommu|cmdline)\\.")) | {id, status, message}' /tmp/check.json
check "check: IOMMU on" jqe '.host.iommu.enabled == true' /tmp/check.json
check "check: iommu.enabled passes" jqe '[.checks[] | select(.id == "iommu.enabled" and .status == "pass")] | length == 1' /tmp/check.json
check "check: no command line check above INFO" \
	jqe '[.checks[] | select((.id | startswith("cmdline.")) and (.status == "warn" or .status == "fail"))] | length == 0' /tmp/check.json
check "check: cmdline.iommu_pt passes" jqe '[.checks[] | select(.id == "cmdline.iommu_pt" and .status == "pass")] | length == 1' /tmp/check.json
# (cmdline.intel_iommu is an Intel CPU's check; TCG's "max" CPU may say another vendor)
check "check: cmdline.intel_iommu passes where it is checked" \
	jqe '[.checks[] | select(.id == "cmdline.intel_iommu") | .status == "pass"] | all' /tmp/check.json
jq -r '.host.cpu_vendor_id' /tmp/check.json
