/* test_host_boot.c - what setup relies on in host_boot.c: the lines it refuses to rewrite, the file
 * it renders from the edited line, and the kernel facts that decide which parameters a host
 * needs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_boot.h"
#include "fakesys.h"
#include "harness.h"
#include "testlib.h"
#include "sysroot.h"

/* host_boot_read on a root holding only /etc/default/grub = TEXT; B->unsafe as it found it. */
static void grub_unsafe(const char *text, const char *want)
{
	char spec[512];
	struct hostinfo hi = { 0 };
	struct host_boot b;
	struct sysroot sr;

	snprintf(spec, sizeof(spec), "file /etc/default/grub %s\n", text);
	sr = test_root_with(spec);
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_GRUB);
	CHECK_STR(b.unsafe, want);
	sr_close(&sr);
}

TEST(grub_lines_it_cannot_rewrite)
{
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"", "");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT='quiet $x'  # single quotes: literal", "");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\nGRUB_CMDLINE_LINUX_DEFAULT=\"splash\"",
		    "'/etc/default/grub' line 2: GRUB_CMDLINE_LINUX_DEFAULT is set a second time "
		    "(first in '/etc/default/grub' line 1)");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt\"",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT is built from shell "
		    "expansion");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=`cat /x`",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT is built from shell "
		    "expansion");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\\n splash\"",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT is split over lines");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\\\\\n\"splash\"",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT is split over lines");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\"splash\"",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT has more than one word "
		    "after '='");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet a\\\\b\"",
		    "'/etc/default/grub' line 1: the command line has a backslash escape");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT='quiet a=\"b'",
		    "'/etc/default/grub' line 1: the command line has an unclosed '\"'");
	/* sh joins these parts into one word (issue 26 item 14, found by fuzz_host_boot): an
	 * edit that quotes the value would change what it means */
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=*\"quiet=\"a",
		    "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX_DEFAULT is an unquoted word "
		    "with shell quotes or special characters in it");
	grub_unsafe("GRUB_CMDLINE_LINUX_DEFAULT=quiet", "");
	/* GRUB_CMDLINE_LINUX is not the line setup edits */
	grub_unsafe("GRUB_CMDLINE_LINUX=\"$X\"\\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"", "");
}

TEST(kernel_cmdline_one_line_and_the_esp)
{
	struct sysroot sr = test_root_with(
		"file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		"file /etc/kernel/cmdline root=ZFS=rpool/ROOT/pve-1 boot=zfs\\n\\nquiet\n");
	struct hostinfo hi = { .efi = true };
	struct host_boot b;
	char why[600];

	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.kind, BOOT_SYSTEMD_BOOT);
	CHECK_INT(b.line, 1);
	CHECK_STR(b.unsafe, "'/etc/kernel/cmdline' line 3: a second line (the command line must "
			    "be the file's only line)");
	CHECK_INT(host_boot_editable(&sr, &b, why, sizeof(why)), -EPERM);
	CHECK_STR(why, b.unsafe);
	sr_close(&sr);

	/* a '#' line is no comment to proxmox-boot-tool */
	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		       "file /etc/kernel/cmdline # root=ZFS=rpool/ROOT/pve-1\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_STR(b.unsafe, "'/etc/kernel/cmdline' line 1: a line starting with '#' (the command "
			    "line must be the file's only line)");
	sr_close(&sr);

	/* a word starting with '#' later on the line: an edit that drops the words before it
	 * would make the line a '#' line (the fuzzer's input "iommu=ptG# # y")  */
	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		       "file /etc/kernel/cmdline iommu=ptGRyyyyG# # yIyyouG!c\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_STR(b.unsafe, "'/etc/kernel/cmdline' line 1: a word starting with '#'");
	sr_close(&sr);

	/* one line, but no proxmox-boot-tool: nothing known copies it to the ESP */
	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		       "file /etc/kernel/cmdline root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_STR(b.unsafe, "");
	CHECK_INT(host_boot_editable(&sr, &b, why, sizeof(why)), -EPERM);
	CHECK(strstr(why, "not managed by proxmox-boot-tool") != NULL);
	sr_close(&sr);

	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n"
		       "file /etc/kernel/cmdline root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"
		       "file /etc/kernel/proxmox-boot-uuids 2A4B-1C3D\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(host_boot_editable(&sr, &b, why, sizeof(why)), 0);
	/* a file not owned by root */
	{
		char path[SR_PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/etc/kernel/cmdline", sr.dir);
		CHECK_INT(chown(path, 65534, 65534), 0);
	}
	CHECK_INT(host_boot_editable(&sr, &b, why, sizeof(why)), -EPERM);
	CHECK_STR(why, "'/etc/kernel/cmdline' line 1: the file is owned by uid 65534, not root");
	sr_close(&sr);
}

TEST(render_replaces_appends_and_creates)
{
	struct sysroot sr = test_root_with(
		"rawfile /etc/default/grub # x\\nGRUB_DEFAULT=0\\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\nGRUB_TIMEOUT=5\n");
	struct hostinfo hi = { 0 };
	struct host_boot b;
	char line[1024], *text = NULL, *old = NULL;
	size_t len;

	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, line, sizeof(line)), 0);
	CHECK_INT(host_boot_render(&sr, &b, line, &text, &len, &old), 0);
	/* only that line changes; the missing final newline stays missing */
	CHECK_STR(text, "# x\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=pt\"\nGRUB_TIMEOUT=5");
	CHECK_INT((int)len, (int)strlen(text));
	CHECK_STR(old, "# x\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_TIMEOUT=5");
	free(text);
	free(old);
	/* the file lost that line since it was read: refused, not guessed */
	b.line = 9;
	CHECK_INT(host_boot_render(&sr, &b, line, &text, &len, NULL), -ESTALE);
	sr_close(&sr);

	/* no assignment yet: the line is appended */
	sr = test_root_with("rawfile /etc/default/grub GRUB_TIMEOUT=5\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, line, sizeof(line)), 0);
	CHECK_INT(host_boot_render(&sr, &b, line, &text, &len, NULL), 0);
	CHECK_STR(text, "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt\"\n");
	free(text);
	sr_close(&sr);

	/* systemd-boot without /etc/kernel/cmdline: created from the running line */
	sr = test_root_with("file /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f sd\n");
	snprintf(hi.cmdline, sizeof(hi.cmdline), "initrd=\\EFI\\x root=ZFS=rpool/ROOT/pve-1 boot=zfs");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(host_boot_edit(&b, "iommu=pt", NULL, line, sizeof(line)), 0);
	CHECK_INT(host_boot_render(&sr, &b, line, &text, &len, &old), 0);
	CHECK_STR(text, "root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=pt\n");
	CHECK(old == NULL);
	free(text);
	sr_close(&sr);
}

TEST(kernel_facts)
{
	struct sysroot sr = test_root_with(
		"file /boot/config-6.1.0-27-amd64 CONFIG_INTEL_IOMMU=y\\n# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n"
		"file /boot/config-6.12.0-custom # x\\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y\n");
	const char *how = NULL;

	CHECK_INT(host_boot_iommu_default_on(&sr, "6.1.0-27-amd64", &how), 0);
	CHECK_INT(host_boot_iommu_default_on(&sr, "6.12.0-custom", &how), 1);
	CHECK_STR(how, "its config sets CONFIG_INTEL_IOMMU_DEFAULT_ON=y");
	/* no config: Proxmox's own default from 6.8 on */
	CHECK_INT(host_boot_iommu_default_on(&sr, "6.8.12-4-pve", &how), 1);
	CHECK_STR(how, "a Proxmox kernel, 6.8 or newer");
	CHECK_INT(host_boot_iommu_default_on(&sr, "6.5.13-6-pve", &how), 0);
	CHECK_INT(host_boot_iommu_default_on(&sr, "6.8.0-40-generic", &how), 0);
	CHECK_INT(host_boot_iommu_default_on(&sr, "", &how), 0);
	CHECK_STR(host_boot_fb_param("6.8.12-4-pve"), "initcall_blacklist=sysfb_init");
	CHECK_STR(host_boot_fb_param("5.10.0-30-amd64"), "initcall_blacklist=sysfb_init");
	CHECK(host_boot_fb_param("5.4.0") == NULL);
	CHECK(host_boot_fb_param("7.4.1") == NULL);
	CHECK(host_boot_fb_param("") == NULL);
	sr_close(&sr);
}

/* A parameter to remove that sits in GRUB_CMDLINE_LINUX (issue 26 item 7): the edit is made on
 * that line, since dropping it from GRUB_CMDLINE_LINUX_DEFAULT leaves the line as it is. */
TEST(a_parameter_in_grub_cmdline_linux_is_removed_there)
{
	struct sysroot sr = test_root_with(
		"rawfile /etc/default/grub GRUB_DEFAULT=0\\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\nGRUB_CMDLINE_LINUX=\"iommu=off console=ttyS0\"\\n\n");
	struct hostinfo hi = { 0 };
	struct host_boot b;
	char line[1024], *text = NULL, *out = NULL;
	size_t len, olen;

	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(b.linux_line, 3);
	CHECK_STR(b.linux_file, "/etc/default/grub");
	/* the _DEFAULT line does not hold it: its edit changes nothing ... */
	CHECK_INT(host_boot_edit(&b, NULL, "iommu", line, sizeof(line)), 0);
	CHECK_STR(line, b.text);
	/* ... the GRUB_CMDLINE_LINUX one does */
	CHECK_INT(host_boot_edit_linux(&b, "iommu", line, sizeof(line)), 1);
	CHECK_STR(line, "GRUB_CMDLINE_LINUX=\"console=ttyS0\"");
	CHECK_INT(host_boot_edit_linux(&b, "intremap", line, sizeof(line)), 0);
	CHECK_INT(host_boot_edit_linux(&b, "iommu", line, sizeof(line)), 1);
	CHECK_INT(host_boot_render(&sr, &b, b.text, &text, &len, NULL), 0);
	CHECK_INT(host_boot_render_linux(&b, text, len, line, &out, &olen), 0);
	CHECK_STR(out, "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		       "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n");
	free(text);
	free(out);
	sr_close(&sr);

	/* built by the shell: not rewritten, and said why */
	sr = test_root_with("rawfile /etc/default/grub GRUB_CMDLINE_LINUX=\"$X iommu=off\"\\n\n");
	CHECK_INT(host_boot_read(&sr, &hi, &b), 0);
	CHECK_INT(host_boot_edit_linux(&b, "iommu", line, sizeof(line)), -EPERM);
	CHECK_STR(line, "'/etc/default/grub' line 1: GRUB_CMDLINE_LINUX is built from shell expansion");
	sr_close(&sr);
}
