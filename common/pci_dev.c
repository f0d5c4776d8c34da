/* pci_dev.c - see pci_dev.h. */
#define _GNU_SOURCE
#include "pci_dev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "sysfs.h"

static int read_hex(int dir, const char *attr, unsigned long max, unsigned long *ret)
{
	char buf[32];
	ssize_t n = sr_read_str_at(dir, attr, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return parse_ulong(buf, 16, max, ret);
}

int pcidev_driver(const struct sysroot *sr, const char *name, char *buf, size_t size)
{
	char path[SR_PATH_MAX];
	int r = sysfs_pci_dev(path, name, "driver");

	if (r < 0)
		return r;
	r = sr_link_name(sr, path, buf, size);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r;
}

int pcidev_group(const struct sysroot *sr, const char *name)
{
	char path[SR_PATH_MAX], buf[32];
	unsigned long g;
	int r = sysfs_pci_dev(path, name, "iommu_group");

	if (r < 0)
		return r;
	r = sr_link_name(sr, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = parse_ulong(buf, 10, 1000000, &g);
	return r < 0 ? r : (int)g;
}

static int read_resources(int dir, struct pci_dev_info *d)
{
	char buf[2048], *line, *save = NULL;
	ssize_t n;
	int i = 0;

	n = sr_read_str_at(dir, "resource", buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? 0 : (int)n;
	for (line = strtok_r(buf, "\n", &save); line && i < PCIDEV_NRES;
	     line = strtok_r(NULL, "\n", &save), i++) {
		uint64_t s, e, f;

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &s, &e, &f) != 3)
			return -EINVAL;
		if (e < s)
			return -EINVAL;
		d->res[i].start = s;
		d->res[i].end = e;
		d->res[i].flags = f;
	}
	return 0;
}

/* The bridge above D: the directory the device's link points into ("../../../devices/
 * pci0000:00/0000:00:01.0/0000:01:00.0": 0000:00:01.0). Left "" on a root bus or when the link
 * cannot be read. */
static void read_parent(const struct sysroot *sr, struct pci_dev_info *d)
{
	char path[SR_PATH_MAX], target[SR_PATH_MAX], *last, *prev;
	struct pci_addr a;

	if (sysfs_pci_dev(path, d->name, NULL) < 0 ||
	    sr_readlink(sr, path, target, sizeof(target)) < 0)
		return;
	last = strrchr(target, '/');
	if (!last)
		return;
	*last = '\0';
	prev = strrchr(target, '/');
	if (pci_addr_parse(prev ? prev + 1 : target, &a) == 0)
		pci_addr_fmt(&a, d->parent);
}

/* Reads every attribute relative to the device's directory, opened once: a path lookup
 * through /sys/bus/pci/devices per attribute was most of the cost of `list` on big hosts. */
int pcidev_read(const struct sysroot *sr, const char *name, struct pci_dev_info *d)
{
	return pcidev_read_bounded(sr, name, 0, d);
}

static void read_override(const struct sysroot *sr, int dir, const char *path,
			  unsigned long ms, struct pci_dev_info *d)
{
	char file[SR_PATH_MAX];
	ssize_t n;

	if (!ms)
		n = sr_read_str_at(dir, "driver_override", d->override, sizeof(d->override));
	else if (sr_path(file, "%s/driver_override", path) < 0)
		n = -ENAMETOOLONG;
	else
		n = sr_read_str_timeout(sr, file, d->override, sizeof(d->override), ms);
	if (n == -ETIMEDOUT)
		d->override_unknown = true;
	if (n < 0 || strcmp(d->override, "(null)") == 0)
		d->override[0] = '\0';
}

int pcidev_read_bounded(const struct sysroot *sr, const char *name, unsigned long override_ms,
			struct pci_dev_info *d)
{
	char path[SR_PATH_MAX], buf[32];
	unsigned long v, g;
	int dir, r;

	memset(d, 0, sizeof(*d));
	r = pci_addr_parse(name, &d->addr);
	if (r < 0)
		return r;
	pci_addr_fmt(&d->addr, d->name);
	r = sysfs_pci_dev(path, d->name, NULL);
	if (r < 0)
		return r;
	dir = sr_open_dir(sr, path);
	if (dir < 0)
		return dir;
	if ((r = read_hex(dir, "vendor", 0xffff, &v)) < 0)
		goto out;
	d->vendor = (uint16_t)v;
	if ((r = read_hex(dir, "device", 0xffff, &v)) < 0)
		goto out;
	d->device = (uint16_t)v;
	if ((r = read_hex(dir, "class", 0xffffff, &v)) < 0)
		goto out;
	d->class = (uint32_t)v;
	if (read_hex(dir, "subsystem_vendor", 0xffff, &v) == 0)
		d->subvendor = (uint16_t)v;
	if (read_hex(dir, "subsystem_device", 0xffff, &v) == 0)
		d->subdevice = (uint16_t)v;
	d->iommu_group = -1;
	if (sr_link_name_at(dir, "iommu_group", buf, sizeof(buf)) == 0 &&
	    parse_ulong(buf, 10, 1000000, &g) == 0)
		d->iommu_group = (int)g;
	r = sr_link_name_at(dir, "driver", d->driver, sizeof(d->driver));
	if (r == -ENOENT)
		d->driver[0] = '\0';
	else if (r < 0)
		goto out;
	read_override(sr, dir, path, override_ms, d);
	d->is_bridge = sr_exists_at(dir, "pci_bus");
	d->boot_vga = -1;
	if (sr_read_str_at(dir, "boot_vga", buf, sizeof(buf)) > 0 &&
	    parse_ulong(buf, 10, 1, &v) == 0)
		d->boot_vga = (int)v;
	d->has_reset = sr_exists_at(dir, "reset");
	read_parent(sr, d);
	r = read_resources(dir, d);
out:
	close(dir);
	return r;
}

bool pcidev_is_display(const struct pci_dev_info *d)
{
	return (d->class >> 16) == 0x03;
}

bool pcidev_same_slot(const struct pci_dev_info *a, const struct pci_dev_info *b)
{
	return a->addr.domain == b->addr.domain && a->addr.bus == b->addr.bus &&
	       a->addr.slot == b->addr.slot;
}

/* Class 03 00: a VGA compatible controller, the only kind with the legacy VGA ranges that
 * x-vga=1 forwards (the kernel's vfio-pci offers its VGA region only for this class:
 * drivers/vfio/pci/vfio_pci_core.c vfio_pci_is_vga; QEMU's hw/vfio/pci.c vfio_populate_vga
 * then fails with "does not support requested feature x-vga"). 03 02 is a 3D controller,
 * 03 80 another display controller. */
bool pcidev_is_vga(const struct pci_dev_info *d)
{
	return (d->class >> 8) == 0x0300;
}

/* Intel's integrated GPU sits at 00:02.0 of segment 0 on every generation (the address
 * legacy-igd requires: qemu-server PCI.pm parse_hostpci_devices, QEMU docs/igd-assign.txt). */
bool pcidev_is_igpu(const struct pci_dev_info *d)
{
	return d->vendor == 0x8086 && pcidev_is_display(d) && d->addr.domain == 0 &&
	       d->addr.bus == 0 && d->addr.slot == 2 && d->addr.func == 0;
}

/* NVIDIA's NVSwitch (HGX A100/H100 boards) shows as a bridge of class 06 80. */
bool pcidev_is_nvswitch(const struct pci_dev_info *d)
{
	return d->vendor == 0x10de && (d->class >> 8) == 0x0680;
}

/* NVIDIA's datacenter GPUs (Tesla, A100, H100, L4, ...) are 3D controllers; GeForce and
 * workstation cards are VGA controllers. */
bool pcidev_is_nv_datacenter(const struct pci_dev_info *d)
{
	return d->vendor == 0x10de && (d->class >> 8) == 0x0302;
}

static int cmp_names(const void *a, const void *b)
{
	struct pci_addr x, y;

	if (pci_addr_parse(a, &x) < 0 || pci_addr_parse(b, &y) < 0)
		return strcmp(a, b);
	return pci_addr_cmp(&x, &y);
}

static int list_dir(const struct sysroot *sr, const char *dir, char (*names)[PCI_ADDR_LEN], int max)
{
	struct dirent *de;
	struct pci_addr a;
	int n = 0, r = 0;
	DIR *d = sr_opendir(sr, dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (pci_addr_parse(de->d_name, &a) < 0)
			continue;
		if (n >= max) {
			r = -E2BIG;
			break;
		}
		pci_addr_fmt(&a, names[n++]);
	}
	closedir(d);
	if (r < 0)
		return r;
	qsort(names, (size_t)n, PCI_ADDR_LEN, cmp_names);
	return n;
}

int pcidev_list(const struct sysroot *sr, char (*names)[PCI_ADDR_LEN], int max)
{
	return list_dir(sr, SYSFS_PCI_DEVICES, names, max);
}

int pcidev_group_members(const struct sysroot *sr, int group, char (*names)[PCI_ADDR_LEN], int max)
{
	char path[SR_PATH_MAX];
	int r = sr_path(path, "/sys/kernel/iommu_groups/%d/devices", group);

	return r < 0 ? r : list_dir(sr, path, names, max);
}
