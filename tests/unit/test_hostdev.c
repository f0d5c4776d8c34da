/* test_hostdev.c - host-critical PCI functions: mounts (plain, LVM, ZFS, btrfs-style), swap,
 * default routes through bridges and bonds, on fake trees. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fakesys.h"
#include "harness.h"
#include "host_dev.h"
#include "sysroot.h"

/* A SATA controller with sda (sda2 swap, sda3 data), a GPU, an NVMe behind a root port, and a
 * NIC; no mounts, swaps or routes yet: each test adds its own. */
static const char *base_spec =
	"pci 0000:00:1f.2 vendor=8086 device=8d02 class=010601 driver=ahci group=27\n"
	"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29\n"
	"pci 0000:00:01.0 vendor=8086 device=6f02 class=060400 driver=pcieport bridge=1 group=1\n"
	"pci 0000:01:00.0 vendor=144d device=a808 class=010802 driver=nvme parent=0000:00:01.0 group=2\n"
	"pci 0000:00:19.0 vendor=8086 device=15a1 class=020000 driver=e1000e group=24\n"
	"dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2\n"
	"dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3\n"
	"rawfile /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3/dev 8:3\\n\n"
	"link /sys/dev/block/8:2 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2\n"
	"link /sys/dev/block/8:3 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3\n"
	"link /sys/class/block/sda2 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2\n"
	"link /sys/class/block/sda3 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3\n"
	"dir /sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1\n"
	"link /sys/dev/block/259:1 ../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1\n"
	"dir /sys/devices/pci0000:00/0000:00:19.0/net/eno1\n"
	"link /sys/class/net/eno1 ../../devices/pci0000:00/0000:00:19.0/net/eno1\n"
	"rawfile /proc/swaps Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority\\n\n"
	"rawfile /proc/net/route Iface\\tDestination\\tGateway \\tFlags\\tRefCnt\\tUse\\tMetric\\tMask\\t\\tMTU\\tWindow\\tIRTT\\n\n";

static struct sysroot root_with(const char *extra)
{
	char spec[8192];
	struct sysroot sr;
	int line = 0;

	snprintf(spec, sizeof(spec), "%s%s", base_spec, extra);
	if (fakesys_build(test_tmpdir(), spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	return sr;
}

TEST(root_on_sata_partition)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo "
		"22 1 8:3 / / rw,relatime shared:1 - ext4 /dev/sda3 rw\\n"
		"23 22 0:21 / /proc rw - proc proc rw\\n"
		"24 22 0:22 / /sys rw - sysfs sysfs rw\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:00:1f.2", why, sizeof(why)), 1);
	CHECK_STR(why, "backs / (sda3)");
	CHECK_INT(hostdev_critical(&sr, "0000:02:00.0", why, sizeof(why)), 0);
	CHECK_INT(hostdev_critical(&sr, "0000:00:19.0", NULL, 0), 0);
	sr_close(&sr);
}

TEST(bridge_above_disk_is_not_the_owner)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 22 1 259:1 / / rw - ext4 /dev/nvme0n1p1 rw\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:01:00.0", why, sizeof(why)), 1);
	CHECK_STR(why, "backs / (nvme0n1p1)");
	CHECK_INT(hostdev_critical(&sr, "0000:00:01.0", why, sizeof(why)), 0);
	sr_close(&sr);
}

TEST(lvm_root_through_slaves)
{
	struct sysroot sr = root_with(
		"dir /sys/devices/virtual/block/dm-0/slaves\n"
		"link /sys/devices/virtual/block/dm-0/slaves/sda3 ../../../../pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3\n"
		"link /sys/dev/block/253:0 ../../devices/virtual/block/dm-0\n"
		"rawfile /proc/self/mountinfo "
		"30 1 253:0 / / rw - ext4 /dev/mapper/pve-root rw\\n"
		"31 30 8:2 / /boot/efi rw - vfat /dev/sda2 rw\\n");
	struct hostdev *h;
	char why[128] = "";

	CHECK_INT(hostdev_scan(&sr, &h), 0);
	CHECK_INT(hostdev_count(h), 2);
	CHECK_STR(hostdev_device(h, 0), "0000:00:1f.2");
	CHECK_STR(hostdev_reason(h, 0), "backs / (dm-0 on sda3)");
	CHECK_STR(hostdev_reason(h, 1), "backs /boot/efi (sda2)");
	CHECK(hostdev_device(h, 2) == NULL);
	CHECK_INT(hostdev_is_critical(h, "0000:00:1f.2", why, sizeof(why)), 1);
	CHECK_STR(why, "backs / (dm-0 on sda3), and 1 more");
	CHECK_INT(hostdev_is_critical(h, "0000:02:00.0", why, sizeof(why)), 0);
	hostdev_free(h);
	sr_close(&sr);
}

TEST(root_listed_first_and_bind_mounts_once)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo "
		"20 1 259:1 / /srv/data rw - ext4 /dev/nvme0n1p1 rw\\n"
		"21 1 259:1 /sub /srv/bind rw - ext4 /dev/nvme0n1p1 rw\\n"
		"22 1 8:3 / / rw - ext4 /dev/sda3 rw\\n"
		"23 1 8:3 /var /mnt/my\\040disk rw - ext4 /dev/sda3 rw\\n");
	struct hostdev *h;

	CHECK_INT(hostdev_scan(&sr, &h), 0);
	CHECK_INT(hostdev_count(h), 2);
	CHECK_STR(hostdev_reason(h, 0), "backs / (sda3)");
	CHECK_STR(hostdev_reason(h, 1), "backs /srv/data (nvme0n1p1)");
	hostdev_free(h);
	sr_close(&sr);
}

TEST(escaped_mount_point)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 22 1 259:1 / /mnt/my\\040disk rw - ext4 /dev/nvme0n1p1 rw\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:01:00.0", why, sizeof(why)), 1);
	CHECK_STR(why, "backs /mnt/my disk (nvme0n1p1)");
	sr_close(&sr);
}

TEST(zfs_pool_members_from_udev_data)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo "
		"22 1 0:25 / / rw - zfs rpool/ROOT/pve-1 rw,xattr\\n"
		"23 22 0:26 / /rpool/data rw - zfs rpool/data rw\\n"
		"24 22 0:27 / /tank rw - zfs tank rw\\n\n"
		"file /run/udev/data/b8:3 S:disk/by-id/ata-X-part3\\nE:ID_FS_TYPE=zfs_member\\nE:ID_FS_LABEL=rpool\\nE:ID_FS_USAGE=raid\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:00:1f.2", why, sizeof(why)), 1);
	CHECK_STR(why, "backs / (zfs pool rpool on sda3)");
	sr_close(&sr);
}

TEST(btrfs_anonymous_device_uses_source)
{
	struct sysroot sr = root_with(
		"file /dev/sda3 block device\n"
		"rawfile /proc/self/mountinfo 22 1 0:30 /@ / rw - btrfs /dev/sda3 rw\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:00:1f.2", why, sizeof(why)), 1);
	CHECK_STR(why, "backs / (sda3)");
	sr_close(&sr);
}

TEST(swap_partition_through_dev_link)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"file /dev/sda2 block device\n"
		"link /dev/disk/by-uuid/abcd ../../sda2\n"
		"rawfile /proc/swaps Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority\\n"
		"/dev/disk/by-uuid/abcd                  partition\\t8388604\\t\\t0\\t\\t-2\\n"
		"/swapfile                               file\\t\\t1048572\\t\\t0\\t\\t-3\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:00:1f.2", why, sizeof(why)), 1);
	CHECK_STR(why, "holds active swap (sda2)");
	sr_close(&sr);
}

TEST(default_route_through_bridge_and_bond)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"pci 0000:05:00.0 vendor=14e4 device=1639 class=020000 driver=bnx2 group=28\n"
		"pci 0000:05:00.1 vendor=14e4 device=1639 class=020000 driver=bnx2 group=28\n"
		"dir /sys/devices/pci0000:00/0000:05:00.0/net/enp5s0f0\n"
		"dir /sys/devices/pci0000:00/0000:05:00.1/net/enp5s0f1\n"
		"link /sys/class/net/enp5s0f0 ../../devices/pci0000:00/0000:05:00.0/net/enp5s0f0\n"
		"link /sys/class/net/enp5s0f1 ../../devices/pci0000:00/0000:05:00.1/net/enp5s0f1\n"
		"dir /sys/devices/virtual/net/bond0\n"
		"link /sys/class/net/bond0 ../../devices/virtual/net/bond0\n"
		"link /sys/devices/virtual/net/bond0/lower_enp5s0f0 ../../../pci0000:00/0000:05:00.0/net/enp5s0f0\n"
		"link /sys/devices/virtual/net/bond0/lower_enp5s0f1 ../../../pci0000:00/0000:05:00.1/net/enp5s0f1\n"
		"dir /sys/devices/virtual/net/vmbr0\n"
		"link /sys/class/net/vmbr0 ../../devices/virtual/net/vmbr0\n"
		"link /sys/devices/virtual/net/vmbr0/lower_bond0 ../bond0\n"
		"dir /sys/devices/virtual/net/tap100i0\n"
		"link /sys/class/net/tap100i0 ../../devices/virtual/net/tap100i0\n"
		"link /sys/devices/virtual/net/vmbr0/lower_tap100i0 ../tap100i0\n"
		"rawfile /proc/net/route Iface\\tDestination\\tGateway \\tFlags\\tRefCnt\\tUse\\tMetric\\tMask\\t\\tMTU\\tWindow\\tIRTT\\n"
		"vmbr0\\t00000000\\t0101A8C0\\t0003\\t0\\t0\\t0\\t00000000\\t0\\t0\\t0\\n"
		"vmbr0\\t0001A8C0\\t00000000\\t0001\\t0\\t0\\t0\\t00FFFFFF\\t0\\t0\\t0\\n"
		"eno1\\t0002A8C0\\t00000000\\t0001\\t0\\t0\\t0\\t00FFFFFF\\t0\\t0\\t0\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:05:00.0", why, sizeof(why)), 1);
	CHECK_STR(why, "carries the default route (vmbr0 via enp5s0f0)");
	CHECK_INT(hostdev_critical(&sr, "0000:05:00.1", why, sizeof(why)), 1);
	CHECK_STR(why, "carries the default route (vmbr0 via enp5s0f1)");
	/* eno1 only has a local route */
	CHECK_INT(hostdev_critical(&sr, "0000:00:19.0", why, sizeof(why)), 0);
	sr_close(&sr);
}

TEST(ipv6_default_route_ignores_lo_reject)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"rawfile /proc/net/ipv6_route "
		"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eno1\\n"
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\\n");
	CHECK_INT(hostdev_critical(&sr, "0000:00:19.0", NULL, 0), 0);
	sr_close(&sr);

	sr = root_with(
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"rawfile /proc/net/ipv6_route "
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eno1\\n");
	char why[128] = "";

	CHECK_INT(hostdev_critical(&sr, "0000:00:19.0", why, sizeof(why)), 1);
	CHECK_STR(why, "carries the default route (eno1)");
	sr_close(&sr);
}

TEST(missing_mountinfo_is_an_error)
{
	struct sysroot sr = root_with("");

	CHECK_INT(hostdev_critical(&sr, "0000:00:1f.2", NULL, 0), -ENOENT);
	sr_close(&sr);
}

TEST(missing_swaps_and_routes_are_empty)
{
	struct sysroot sr;
	struct hostdev *h;

	CHECK_INT(fakesys_build(test_tmpdir(),
				"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n",
				NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(hostdev_scan(&sr, &h), 0);
	CHECK_INT(hostdev_count(h), 0);
	CHECK(hostdev_free(h) == NULL);
	CHECK(hostdev_free(NULL) == NULL);
	sr_close(&sr);
}

TEST(loop_in_lower_links_terminates)
{
	struct sysroot sr = root_with(
		"rawfile /proc/self/mountinfo 23 1 0:21 / /proc rw - proc proc rw\\n\n"
		"dir /sys/devices/virtual/net/br0\n"
		"link /sys/class/net/br0 ../../devices/virtual/net/br0\n"
		"link /sys/devices/virtual/net/br0/lower_br0 ../br0\n"
		"rawfile /proc/net/route Iface\\tDestination\\tGateway \\tFlags\\tRefCnt\\tUse\\tMetric\\tMask\\t\\tMTU\\tWindow\\tIRTT\\n"
		"br0\\t00000000\\t0101A8C0\\t0003\\t0\\t0\\t0\\t00000000\\t0\\t0\\t0\\n");

	CHECK_INT(hostdev_critical(&sr, "0000:00:19.0", NULL, 0), 0);
	sr_close(&sr);
}

/* A dm device striped over eight NVMe namespaces, each on its own function: the reasons come
 * in the slaves' name order whatever order the filesystem lists slaves/ in (a report replayed
 * from sysfs must give the same list as the host). */
TEST(slaves_are_walked_in_name_order)
{
	static const char *const names[] = { "nvme7n1", "nvme2n1", "nvme5n1", "nvme0n1",
					     "nvme6n1", "nvme3n1", "nvme1n1", "nvme4n1" };
	char extra[8192] = "", line[512];
	struct hostdev *h = NULL;

	for (int i = 0; i < 8; i++) {
		int n = names[i][4] - '0';

		snprintf(line, sizeof(line),
			 "pci 0000:0%d:00.0 vendor=144d device=a808 class=010802 driver=nvme group=%d\n"
			 "dir /sys/devices/pci0000:00/0000:0%d:00.0/nvme/nvme%d/%s\n"
			 "link /sys/class/block/%s ../../devices/pci0000:00/0000:0%d:00.0/nvme/nvme%d/%s\n"
			 "link /sys/devices/virtual/block/dm-0/slaves/%s ../../../../pci0000:00/0000:0%d:00.0/nvme/nvme%d/%s\n",
			 n + 2, 40 + n, n + 2, n, names[i], names[i], n + 2, n, names[i], names[i],
			 n + 2, n, names[i]);
		strncat(extra, line, sizeof(extra) - strlen(extra) - 1);
	}
	strncat(extra, "link /sys/dev/block/253:0 ../../devices/virtual/block/dm-0\n"
		       "rawfile /proc/self/mountinfo 22 1 253:0 / / rw - ext4 /dev/mapper/pve-root rw\\n\n",
		sizeof(extra) - strlen(extra) - 1);
	struct sysroot sr = root_with(extra);

	CHECK_INT(hostdev_scan(&sr, &h), 0);
	CHECK_INT(hostdev_count(h), 8);
	for (int i = 0; i < 8 && i < hostdev_count(h); i++) {
		char want[32];

		snprintf(want, sizeof(want), "0000:0%d:00.0", i + 2);
		CHECK_STR(hostdev_device(h, i), want);
	}
	hostdev_free(h);
	sr_close(&sr);
}
