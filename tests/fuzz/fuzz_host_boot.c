/* fuzz_host_boot.c - the boot loader's files as setup rewrites them (common/host_boot.c): the
 * input becomes /etc/default/grub (even first byte) or /etc/kernel/cmdline of a systemd-boot
 * host (odd) in a scratch root. No crash; and whatever host_boot_read does not refuse
 * (b.unsafe empty) must come back from the edit setup makes as a file that reads again as
 * safe, on the same line, with the added parameters in and the removed ones out; and a
 * parameter to drop from GRUB_CMDLINE_LINUX leaves that line (host_boot_edit_linux), the rest as
 * it was. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_boot.h"
#include "fuzz.h"
#include "sysroot.h"
#include "util.h"

static char root[64];

static void put(const char *rel, const char *data, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static const char *const dirs[] = { "/etc", "/etc/default", "/etc/kernel", "/sys",
				     "/sys/firmware", "/sys/firmware/efi",
				     "/sys/firmware/efi/efivars" };
static const char *const files[] = {
	"/etc/default/grub", "/etc/kernel/cmdline", "/etc/kernel/proxmox-boot-uuids",
	"/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
};

/* The scratch root goes when the fuzzer exits: the files it made, then its directories. */
static void remove_root(void)
{
	char p[256];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s%s", root, files[i]);
		unlink(p);
	}
	for (size_t i = ARRAY_SIZE(dirs); i-- > 0;) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		rmdir(p);
	}
	rmdir(root);
}

static void setup_root(void)
{
	char p[128];

	snprintf(root, sizeof(root), "/tmp/pgp-fuzz-host-boot.XXXXXX");
	REQUIRE(mkdtemp(root) != NULL);
	atexit(remove_root);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		mkdir(p, 0755);
	}
	put("/etc/kernel/proxmox-boot-uuids", "2A4B-1C3D\n", 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct host_boot b, b2, b3;
	static struct hostinfo hi;
	static char line[2 * HI_CMDLINE_MAX];
	const char *file;
	char *text = NULL, *old = NULL;
	size_t len;
	struct sysroot sr;
	bool grub;

	if (!size || size > 65536)
		return 0;
	if (!root[0])
		setup_root();
	grub = !(data[0] & 1);
	file = grub ? "/etc/default/grub" : "/etc/kernel/cmdline";
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/etc/default/grub", root);
		unlink(p);
		snprintf(p, sizeof(p), "%s/etc/kernel/cmdline", root);
		unlink(p);
		snprintf(p, sizeof(p), "%s/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", root);
		unlink(p);
	}
	if (!grub)
		put("/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", "sd", 2);
	put(file, (const char *)data + 1, size - 1);
	REQUIRE(sr_open(&sr, root) == 0);
	if (host_boot_read(&sr, &hi, &b) == 0 && b.kind != BOOT_UNKNOWN && !b.unsafe[0] &&
	    host_boot_edit(&b, "iommu=pt intel_iommu=on", "pcie_acs_override", line, sizeof(line)) == 0 &&
	    !strchr(line, '\n') && host_boot_render(&sr, &b, line, &text, &len, NULL) == 0) {
		put(file, text, len);
		REQUIRE(host_boot_read(&sr, &hi, &b2) == 0);
		REQUIRE(b2.kind == b.kind);
		REQUIRE(!b2.unsafe[0]);
		REQUIRE(b2.line > 0 && (!b.line || b2.line == b.line));
		REQUIRE(cmdline_has_value(b2.params, "iommu", "pt"));
		REQUIRE(cmdline_has_value(b2.params, "intel_iommu", "on"));
		REQUIRE(!cmdline_has(b2.params, "pcie_acs_override"));
		free(text);
		text = NULL;
		/* a parameter to drop in GRUB_CMDLINE_LINUX goes from that line, and only there */
		if (host_boot_edit_linux(&b2, "pcie_acs_override quiet", line, sizeof(line)) == 1 &&
		    !strchr(line, '\n') && sr_read_file(&sr, file, 1u << 20, &old, &len) == 0 &&
		    host_boot_render_linux(&b2, old, len, line, &text, &len) == 0) {
			put(file, text, len);
			REQUIRE(host_boot_read(&sr, &hi, &b3) == 0);
			REQUIRE(!b3.unsafe[0] && !b3.linux_unsafe[0]);
			REQUIRE(b3.line == b2.line && b3.linux_line == b2.linux_line);
			REQUIRE(!strcmp(b3.params, b2.params));
			REQUIRE(!cmdline_has(b3.linux_params, "pcie_acs_override"));
			REQUIRE(!cmdline_has(b3.linux_params, "quiet"));
			free(text);
		}
		free(old);
	}
	sr_close(&sr);
	return 0;
}
