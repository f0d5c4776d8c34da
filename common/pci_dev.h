/* pci_dev.h - one PCI function as sysfs shows it (ids, class, driver, override, IOMMU group,
 * BARs), and the members of an IOMMU group. Reads only; see dev_handoff.h for changes. */
#ifndef PGP_PCI_DEV_H
#define PGP_PCI_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "pciaddr.h"
#include "sysroot.h"

#define PCIDEV_NAME_MAX 64 /* driver and override names */
#define PCIDEV_NRES 7      /* BAR0..5 and the ROM */

/* The memory-BAR bit of a resource's flags (the kernel's IORESOURCE_MEM, as the resource
 * file prints it). */
#define IORESOURCE_MEM 0x200

struct pci_resource {
	uint64_t start, end, flags; /* end == 0 and start == 0: unused */
};

struct pci_dev_info {
	char name[PCI_ADDR_LEN]; /* "0000:02:00.0" */
	struct pci_addr addr;
	uint16_t vendor, device, subvendor, subdevice;
	uint32_t class;                 /* 0x030000 */
	int iommu_group;                /* -1 when the device has none (IOMMU off) */
	char driver[PCIDEV_NAME_MAX];   /* "" when unbound */
	char override[PCIDEV_NAME_MAX]; /* driver_override; "" when unset ("(null)") */
	bool override_unknown;          /* its read did not return in time (override is "") */
	bool is_bridge;                 /* has a pci_bus directory: bridges are never moved */
	int boot_vga;                   /* 1, 0, or -1 when the attribute is absent */
	bool has_reset;                 /* the "reset" attribute exists */
	char parent[PCI_ADDR_LEN];      /* the bridge above it, "" on a root bus */
	struct pci_resource res[PCIDEV_NRES];
};

/* Reads everything above for device NAME ("0000:02:00.0"). -ENOENT when absent. */
int pcidev_read(const struct sysroot *sr, const char *name, struct pci_dev_info *ret);
/* The same, but driver_override is read by a process given at most OVERRIDE_MS (0: read
 * directly): before Linux 6.19 that read waits on the device's lock, which a driver stuck in
 * remove() holds for ever. On timeout .override_unknown is set. */
int pcidev_read_bounded(const struct sysroot *sr, const char *name, unsigned long override_ms,
			struct pci_dev_info *ret);
/* The bound driver's name into buf ("" when unbound); 0 or -errno. */
int pcidev_driver(const struct sysroot *sr, const char *name, char *buf, size_t size);
/* The IOMMU group number, -ENOENT when the device has no group. */
int pcidev_group(const struct sysroot *sr, const char *name);
/* Names of every device in /sys/bus/pci/devices, sorted; returns the count (at most MAX) or
 * -errno. -E2BIG when there are more than MAX. */
int pcidev_list(const struct sysroot *sr, char (*names)[PCI_ADDR_LEN], int max);
/* Names of the members of IOMMU group GROUP, sorted; count or -errno (as pcidev_list). */
int pcidev_group_members(const struct sysroot *sr, int group, char (*names)[PCI_ADDR_LEN], int max);
/* True for a display controller (class 0x03xxxx). */
bool pcidev_is_display(const struct pci_dev_info *d);
/* True for a VGA compatible controller (class 03 00, the only one with the legacy VGA ranges). */
bool pcidev_is_vga(const struct pci_dev_info *d);
/* True for Intel's integrated GPU (00:02.0 of segment 0). */
bool pcidev_is_igpu(const struct pci_dev_info *d);
/* True for NVIDIA's NVSwitch bridge (class 06 80). */
bool pcidev_is_nvswitch(const struct pci_dev_info *d);
/* True for an NVIDIA datacenter GPU (a 3D controller, class 03 02). */
bool pcidev_is_nv_datacenter(const struct pci_dev_info *d);
/* True when A and B are functions of one slot (domain, bus and slot equal). */
bool pcidev_same_slot(const struct pci_dev_info *a, const struct pci_dev_info *b);

#endif
