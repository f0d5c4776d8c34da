/* test_core.c - rooted I/O, PCI addresses and parsing helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"
#include "harness.h"
#include "pciaddr.h"
#include "sysroot.h"
#include "util.h"

TEST(pci_addr_forms)
{
	struct pci_addr a;
	char buf[PCI_ADDR_LEN];
	bool fn;

	CHECK_INT(pci_addr_parse("0000:02:00.1", &a), 0);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "0000:02:00.1");
	CHECK_INT(pci_addr_parse("02:00.1", &a), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00", &a, &fn), 0);
	CHECK(!fn);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "0000:02:00.0");
	CHECK_INT(pci_addr_parse_loose("1234:f0:43.1", &a, &fn), 0);
	CHECK(fn);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "1234:f0:43.1");
	CHECK_INT(pci_addr_parse("10000:e0:06.0", &a), 0);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "10000:e0:06.0");
	CHECK_INT(pci_addr_parse_loose("2:00.0", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00.8", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("000:02:00.0", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00.0x", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("", &a, &fn), -EINVAL);
}

TEST(parse_numbers)
{
	unsigned long v;
	bool b;

	CHECK_INT(parse_ulong("42", 10, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(parse_ulong("101", 10, 100, &v), -ERANGE);
	CHECK_INT(parse_ulong("-1", 10, 100, &v), -EINVAL);
	CHECK_INT(parse_ulong("4x", 10, 100, &v), -EINVAL);
	CHECK_INT(parse_duration_ms("10", &v), 0);
	CHECK_INT(v, 10000);
	CHECK_INT(parse_duration_ms("250ms", &v), 0);
	CHECK_INT(v, 250);
	CHECK_INT(parse_duration_ms("2h", &v), -EINVAL);
	CHECK_INT(parse_duration_ms("99999", &v), -ERANGE);
	CHECK_INT(parse_bool("Yes", &b), 0);
	CHECK(b);
	CHECK_INT(parse_bool("off", &b), 0);
	CHECK(!b);
	CHECK_INT(parse_bool("maybe", &b), -EINVAL);
}

TEST(sysroot_reads_and_writes_below_root)
{
	struct sysroot sr;
	char buf[64];
	const char *spec = "pci 0000:00:02.0 vendor=1234 device=1111 class=030000 driver=bochs-drm "
			   "group=3 boot_vga=1\n";

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK(!sr_is_host(&sr));
	CHECK_INT(sr_read_str(&sr, "/sys/bus/pci/devices/0000:00:02.0/vendor", buf, sizeof(buf)), 6);
	CHECK_STR(buf, "0x1234");
	CHECK_INT(sr_link_name(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "bochs-drm");
	CHECK_INT(sr_link_name(&sr, "/sys/bus/pci/devices/0000:00:02.0/iommu_group", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "3");
	CHECK_INT(sr_write(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci"), 0);
	CHECK_INT(sr_read(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver_override", buf, sizeof(buf)), 8);
	CHECK_STR(buf, "vfio-pci");
	/* bounded read: a value larger than the buffer is an error, not a truncation */
	CHECK_INT(sr_read(&sr, "/sys/bus/pci/devices/0000:00:02.0/vendor", buf, 4), -EFBIG);
	/* writing never creates files */
	CHECK_INT(sr_write(&sr, "/sys/bus/pci/devices/0000:00:02.0/nonexistent", "1"), -ENOENT);
	sr_close(&sr);
}

TEST(sysroot_realpath_stays_inside)
{
	struct sysroot sr;
	char out[SR_PATH_MAX];
	const char *spec = "pci 0000:00:1c.0 class=060400 bridge=1 group=5\n"
			   "pci 0000:01:00.0 class=010601 parent=0000:00:1c.0 group=6\n"
			   "link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda\n"
			   "dir /sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda\n"
			   "link /escape /etc\n";

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_realpath(&sr, "/sys/dev/block/8:0", out), 0);
	CHECK_STR(out, "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda");
	CHECK_INT(sr_realpath(&sr, "/sys/bus/pci/devices/0000:01:00.0/../0000:01:00.0", out), 0);
	CHECK_STR(out, "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	/* an absolute link in a fixture resolves inside the root, never to the host */
	CHECK_INT(sr_realpath(&sr, "/escape/passwd", out), 0);
	CHECK_STR(out, "/etc/passwd");
	CHECK(sr_openat(&sr, "/escape/passwd", O_RDONLY, 0) < 0);
	sr_close(&sr);
}

TEST(atomic_write_replaces)
{
	struct sysroot sr;
	char buf[64];

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_mkdir_p(&sr, "/run/pve-gpu-passthrough", 0700), 0);
	CHECK_INT(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/x", "one\n", 4, 0600), 0);
	CHECK_INT(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/x", "two\n", 4, 0600), 0);
	CHECK_INT(sr_read(&sr, "/run/pve-gpu-passthrough/x", buf, sizeof(buf)), 4);
	CHECK_STR(buf, "two\n");
	sr_close(&sr);
}
