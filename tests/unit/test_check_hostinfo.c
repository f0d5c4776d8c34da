/* test_check_hostinfo.c - the facts `check` stands on: command line parsing, boot loader
 * detection and the exact line edits it prints, CPU/IOMMU/IR facts, and a few whole-report
 * cases the golden hosts in tests/check do not cover. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check_list.h"
#include "fakesys.h"
#include "harness.h"
#include "testlib.h"
#include "host_boot.h"
#include "host_info.h"
#include "sysroot.h"

TEST(cmdline_keys_values_and_lists)
{
	const char *c = "BOOT_IMAGE=/vmlinuz quiet intel_iommu=on,sm_on iommu=pt "
			"video=efifb:off video=vesafb:off pcie-acs-override=downstream "
			"foo=\"a b\" vfio_iommu_type1.allow_unsafe_interrupts=1";

	CHECK(cmdline_has(c, "quiet"));
	CHECK(cmdline_has(c, "intel_iommu"));
	CHECK(cmdline_has_value(c, "intel_iommu", "on"));
	CHECK(cmdline_has_value(c, "intel_iommu", "sm_on"));
	CHECK(!cmdline_has_value(c, "intel_iommu", "off"));
	CHECK(cmdline_has_value(c, "iommu", "pt"));
	CHECK(!cmdline_has(c, "amd_iommu"));
	/* dashes and underscores are the same in parameter names */
	CHECK(cmdline_has(c, "pcie_acs_override"));
	CHECK(cmdline_has_value(c, "video", "vesafb:off"));
	CHECK(cmdline_has_value(c, "video", "efifb:off"));
	CHECK(cmdline_has_value(c, "foo", "a b"));
	CHECK(!cmdline_has(c, "b\""));
	CHECK(cmdline_has_value(c, "vfio_iommu_type1.allow_unsafe_interrupts", "1"));
	CHECK(!cmdline_has(c, "iommu=pt"));
	CHECK(!cmdline_has("", "quiet"));
}

static struct host_boot grub_line(const char *text)
{
	struct host_boot b = { .kind = BOOT_GRUB, .line = 3 };

	snprintf(b.var, sizeof(b.var), "GRUB_CMDLINE_LINUX_DEFAULT");
	snprintf(b.text, sizeof(b.text), "%s", text);
	/* what host_boot_read would have found between the quotes */
	{
		const char *eq = strchr(text, '=') + 1;
		size_t n = strlen(eq);

		if (*eq == '"' || *eq == '\'') {
			eq++;
			n = strcspn(eq, "\"'");
		} else {
			n = strcspn(eq, " #");
		}
		snprintf(b.params, sizeof(b.params), "%.*s", (int)n, eq);
	}
	return b;
}

TEST(grub_line_edits_keep_quotes_and_comments)
{
	char out[512];
	struct host_boot b = grub_line("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"");

	CHECK_INT(host_boot_edit(&b, "intel_iommu=on iommu=pt", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"");

	b = grub_line("export GRUB_CMDLINE_LINUX_DEFAULT='quiet splash' # ours");
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "export GRUB_CMDLINE_LINUX_DEFAULT='quiet splash iommu=pt' # ours");

	b = grub_line("GRUB_CMDLINE_LINUX_DEFAULT=quiet");
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=pt\"");

	/* a new value replaces the old one of the same key, removals drop every value */
	b = grub_line("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=soft pcie_acs_override=downstream,multifunction intel_iommu=on\"");
	CHECK_INT(host_boot_edit(&b, "iommu=pt intel_iommu=on", "pcie_acs_override", out, sizeof(out)), 0);
	CHECK_STR(out, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"");

	/* video= may repeat */
	b = grub_line("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet video=efifb:off\"");
	CHECK_INT(host_boot_edit(&b, "video=vesafb:off video=efifb:off", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet video=efifb:off video=vesafb:off\"");

	/* no line yet: the whole assignment */
	b = grub_line("GRUB_CMDLINE_LINUX_DEFAULT=\"\"");
	b.line = 0;
	CHECK_INT(host_boot_edit(&b, "intel_iommu=on", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on\"");

	CHECK_INT(host_boot_edit(&b, "intel_iommu=on", NULL, out, 8), -ENOSPC);
}

TEST(systemd_boot_line_edit)
{
	struct host_boot b = { .kind = BOOT_SYSTEMD_BOOT, .line = 1 };
	char out[512];

	snprintf(b.text, sizeof(b.text), "root=ZFS=rpool/ROOT/pve-1 boot=zfs");
	snprintf(b.params, sizeof(b.params), "root=ZFS=rpool/ROOT/pve-1 boot=zfs");
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, out, sizeof(out)), 0);
	CHECK_STR(out, "root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=pt");
}

TEST(boot_loader_detection)
{
	struct sysroot sr = test_root_with(
		"file /proc/cmdline initrd=\\EFI\\proxmox\\initrd.img BOOT_IMAGE=x root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet\n"
		"file /etc/default/grub GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		"file /etc/kernel/proxmox-boot-uuids 1234-ABCD\n"
		"dir /sys/firmware/efi/efivars\n");
	struct hostinfo hi;
	struct host_boot b;

	CHECK_INT(hostinfo_read(&sr, &hi), 0);
	CHECK(hi.efi);
	/* no LoaderInfo, no /etc/kernel/cmdline: GRUB, applied through proxmox-boot-tool */
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_GRUB);
	CHECK_STR(b.refresh, "proxmox-boot-tool refresh");
	CHECK_STR(b.file, "/etc/default/grub");
	CHECK_INT(b.line, 1);
	sr_close(&sr);

	/* systemd-boot sets LoaderInfo; without /etc/kernel/cmdline the running line (minus
	 * what the loader adds) is the starting point of a new file */
	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_SYSTEMD_BOOT);
	CHECK_STR(b.file, "/etc/kernel/cmdline");
	CHECK_INT(b.line, 0);
	CHECK_STR(b.params, "root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet");
	CHECK_STR(b.refresh, "proxmox-boot-tool refresh");
	sr_close(&sr);
}

TEST(grub_d_assignment_wins)
{
	struct sysroot sr = test_root_with(
		"file /etc/default/grub # comment\\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\nGRUB_CMDLINE_LINUX=\"console=ttyS0\"\n"
		"file /etc/default/grub.d/50-local.cfg GRUB_TIMEOUT=1\\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n"
		"file /etc/default/grub.d/notes.txt GRUB_CMDLINE_LINUX_DEFAULT=\"ignored\"\n");
	struct hostinfo hi = { 0 };
	struct host_boot b;

	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_GRUB);
	CHECK_STR(b.refresh, "update-grub");
	CHECK_STR(b.file, "/etc/default/grub.d/50-local.cfg");
	CHECK_INT(b.line, 2);
	CHECK_STR(b.params, "quiet splash");
	CHECK(cmdline_has(b.configured, "console"));
	sr_close(&sr);

	/* a file without the variable: add a line */
	sr = test_root_with("file /etc/default/grub GRUB_TIMEOUT=5\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.line, 0);
	CHECK_STR(b.file, "/etc/default/grub");
	sr_close(&sr);

	sr = test_root_with("dir /etc\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_UNKNOWN);
	sr_close(&sr);
}

TEST(cpu_iommu_and_interrupt_facts)
{
	struct sysroot sr = test_root_with(
		"rawfile /proc/cpuinfo processor\\t: 0\\nvendor_id\\t: HygonGenuine\\nmodel name\\t: Hygon C86 7185\\n\\nprocessor\\t: 1\\nvendor_id\\t: GenuineIntel\\n\n"
		"file /proc/sys/kernel/osrelease 6.8.12-4-pve\n"
		"file /proc/cmdline quiet vfio_iommu_type1.allow_unsafe_interrupts=1\n"
		"pci 0000:01:00.0 group=7\n"
		"pci 0000:02:00.0 group=9\n"
		"hexfile /sys/firmware/acpi/tables/DMAR 444d4152 30000000 01db 494e54454c20 45444b3220202020 02000000 494e544c 13100920 26 02 00000000000000000000\n"
		"rawfile /proc/interrupts  0:  35  IO-APIC  2-edge  timer\\n\n");
	struct hostinfo hi;

	CHECK_INT(hostinfo_read(&sr, &hi), 0);
	CHECK_INT(hi.cpu, CPU_AMD);
	CHECK_STR(hi.cpu_model, "Hygon C86 7185");
	CHECK_STR(hi.release, "6.8.12-4-pve");
	CHECK_INT(hi.iommu_groups, 2);
	CHECK_INT(hi.iommu_units, 1);
	CHECK_STR(hi.iommu_unit, "dmar0");
	CHECK(hi.acpi_tables && hi.dmar && !hi.ivrs);
	CHECK_INT(hi.dmar_flags, DMAR_X2APIC_OPT_OUT);
	CHECK_INT(hi.intremap, 0);
	CHECK_INT(hi.unsafe_interrupts, 1);
	CHECK(!hi.efi);
	sr_close(&sr);

	/* nothing readable: unknowns, not errors */
	sr = test_root_with("dir /proc\n");
	CHECK_INT(hostinfo_read(&sr, &hi), 0);
	CHECK_INT(hi.cpu, CPU_OTHER);
	CHECK(!hi.cmdline_known);
	CHECK_INT(hi.iommu_groups, 0);
	CHECK_INT(hi.dmar_flags, -1);
	CHECK_INT(hi.intremap, -ENOENT);
	CHECK_INT(hi.unsafe_interrupts, -1);
	sr_close(&sr);
}

static const struct check_result *find(const struct check_report *rep, const char *id)
{
	for (int i = 0; i < rep->nres; i++)
		if (strcmp(rep->res[i].id, id) == 0)
			return &rep->res[i];
	return NULL;
}

/* intel_iommu=on already in the file but not in the running kernel: the fix is the refresh and
 * a reboot, not an edit. */
TEST(configured_but_not_booted)
{
	struct sysroot sr = test_root_with(
		"rawfile /proc/cpuinfo vendor_id\\t: GenuineIntel\\n\n"
		"file /proc/cmdline root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"
		"file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		"file /etc/kernel/cmdline root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n"
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"pci 0000:01:00.0 vendor=10de device=1b80 class=030000\n");
	struct check_opts o = { 0 };
	struct check_report *rep;
	const struct check_result *r;

	CHECK_INT(checks_run(&sr, &o, &rep), 0);
	r = find(rep, "cmdline.intel_iommu");
	CHECK(r != NULL);
	CHECK_INT(r->status, CHECK_FAIL);
	CHECK_CONTAINS(r->fix, "'/etc/kernel/cmdline' line 1 already has it");
	CHECK_STR(r->run, "proxmox-boot-tool refresh");
	CHECK(r->edit_new == NULL);
	r = find(rep, "iommu.enabled");
	CHECK_INT(r->status, CHECK_FAIL);
	r = find(rep, "cmdline.iommu_pt");
	CHECK_INT(r->status, CHECK_INFO);
	CHECK_STR(r->edit_new, "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt");
	CHECK_STR(r->edit_file, "/etc/kernel/cmdline");
	CHECK_INT(r->edit_line, 1);
	/* without ACPI tables in the tree the firmware side is unknown, not a failure */
	CHECK_INT(find(rep, "iommu.acpi")->status, CHECK_INFO);
	CHECK_INT(find(rep, "group.isolation")->status, CHECK_FAIL);
	CHECK_INT(checks_exit_code(rep), 2);
	CHECK(checks_free(rep) == NULL);
	sr_close(&sr);
}

TEST(vm_checks_on_a_broken_config)
{
	struct sysroot sr = test_root_with(
		"rawfile /proc/cpuinfo vendor_id\\t: AuthenticAMD\\n\n"
		"file /proc/cmdline quiet iommu=pt\n"
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"rawfile /proc/interrupts  24:  0  IR-PCI-MSI 65536-edge  PCIe PME\\n\n"
		"pci 0000:0b:00.0 vendor=1002 device=67df class=030000 group=4 driver=amdgpu\n"
		"file /etc/pve/qemu-server/200.conf hookscript: local:snippets/other-hook\\nhostpci0: 0b:00,pcie=1,romfile=missing.rom\\nhostpci1: mapping=nothere\n"
		"file /var/lib/vz/snippets/other-hook #!/bin/sh\n"
		"mode /var/lib/vz/snippets/other-hook 755\n"
		"file /etc/pve/qemu-server/201.conf hostpci0: zz\n");
	int vmids[] = { 200, 201, 202 };
	struct check_opts o = { .node = "pve", .vmids = vmids, .nvmids = 3 };
	struct check_report *rep;
	int fails = 0;

	CHECK_INT(checks_run(&sr, &o, &rep), 0);
	for (int i = 0; i < rep->nres; i++) {
		const struct check_result *r = &rep->res[i];

		if (strcmp(r->id, "vm.pcie") == 0) {
			CHECK_INT(r->status, CHECK_FAIL);
			CHECK_CONTAINS(r->fix, "qm set 200 --machine q35");
		} else if (strcmp(r->id, "vm.romfile") == 0) {
			CHECK_INT(r->status, CHECK_FAIL);
			CHECK_CONTAINS(r->message, "'/usr/share/kvm/missing.rom': no such file");
			CHECK_CONTAINS(r->fix, "rom dump 0000:0b:00.0");
		} else if (strcmp(r->id, "vm.hookscript") == 0) {
			CHECK_INT(r->status, CHECK_WARN);
			CHECK_CONTAINS(r->message, "another script");
		} else if (strcmp(r->id, "vm.hostpci") == 0 && strcmp(r->subject, "vm 200 hostpci1") == 0) {
			CHECK_INT(r->status, CHECK_FAIL);
		} else if (strcmp(r->id, "vm.config") == 0 && strcmp(r->subject, "vm 201") == 0) {
			CHECK_INT(r->status, CHECK_FAIL);
			CHECK_CONTAINS(r->message, "line 1");
		} else if (strcmp(r->id, "vm.config") == 0 && strcmp(r->subject, "vm 202") == 0) {
			CHECK_INT(r->status, CHECK_FAIL);
			CHECK_CONTAINS(r->message, "no VM 202");
		}
		if (r->status == CHECK_FAIL)
			fails++;
		/* every non-PASS result says what to do */
		CHECK(r->status == CHECK_PASS || (r->fix && *r->fix));
	}
	CHECK_INT(fails, rep->counts[CHECK_FAIL]);
	CHECK(fails >= 5);
	CHECK_INT(rep->nvms, 3);
	CHECK_INT(rep->vms[0].ndevs, 1);
	CHECK(!rep->vms[1].loaded);
	checks_free(rep);
	sr_close(&sr);
}

/* A module's line in /etc/modules counts every line, the empty ones too (check names it), and
 * '-' and '_' are equal; a comment names nothing. */
TEST(modules_file_line_counts_every_line)
{
	struct sysroot sr = test_root_with(
		"rawfile /etc/modules # modules\\n\\nvfio\\n\\n# vfio_pci\\nvfio-iommu-type1 # x\\n\n");

	CHECK_INT(hostinfo_modules_file_line(&sr, "/etc/modules", "vfio"), 3);
	CHECK_INT(hostinfo_modules_file_line(&sr, "/etc/modules", "vfio_iommu_type1"), 6);
	CHECK_INT(hostinfo_modules_file_line(&sr, "/etc/modules", "vfio_pci"), 0);
	CHECK_INT(hostinfo_modules_file_line(&sr, "/etc/missing", "vfio"), 0);
	sr_close(&sr);
}
