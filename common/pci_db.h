/* pci_db.h - every PCI function of the host, read once and indexed: sorted by IOMMU group (then
 * address) with a group index, and by address for lookups; plus names from the pci.ids
 * database through libpci's pci_lookup_name().
 *
 * Facts come from pcidev_read() (one read of each attribute per device); libpci is used only
 * for names. Below a test root the names come from ROOT/usr/share/misc/pci.ids (udev's hwdb
 * and the user's cache are never asked), so golden outputs do not depend on the machine. */
#ifndef PGP_PCI_DB_H
#define PGP_PCI_DB_H

#include <stdbool.h>

#include "pci_dev.h"
#include "sysroot.h"

#define PCIDB_MAX_DEVICES 65536

struct pcidb_group {
	int group;  /* -1 for the devices without a group (IOMMU off) */
	int first;  /* index of its first device in pcidb.dev */
	int n;
};

struct pcidb {
	struct pci_dev_info *dev;   /* sorted by group (groupless last), then address */
	int ndev;
	struct pcidb_group *grp;    /* sorted by group number, groupless last */
	int ngrp;
	int *byaddr;                /* indices into dev, sorted by address */
	int nerrors;                /* devices skipped because they could not be read */
	int first_error;            /* the first of those errors (-errno), 0 when none */
	struct pcinames *names;     /* opened on first use */
	char ids_path[SR_PATH_MAX]; /* pci.ids for a test root, "" for libpci's default */
	bool host;
};

/* Reads every device below /sys/bus/pci/devices. Devices that vanish or cannot be read are
 * skipped and counted. Returns 0, or -errno when the device list itself cannot be read. */
int pcidb_load(const struct sysroot *sr, struct pcidb **ret);
/* The same, reading the driver_override of the N devices SLOW (names) with a deadline
 * (pcidev_read_bounded): devices a state file records as stuck. */
int pcidb_load_bounded(const struct sysroot *sr, const char (*slow)[PCI_ADDR_LEN], int n,
		       struct pcidb **ret);
/* Accepts NULL; returns NULL. */
struct pcidb *pcidb_free(struct pcidb *db);

/* The device named NAME ("0000:02:00.0"), or NULL. O(log n). */
const struct pci_dev_info *pcidb_find(const struct pcidb *db, const char *name);
/* IOMMU group GROUP (-1: the groupless devices), or NULL. O(log n). */
const struct pcidb_group *pcidb_group(const struct pcidb *db, int group);

/* The physical card D belongs to, as a key: functions with equal keys are one card. Functions
 * behind a PCIe switch of their own vendor (an upstream port below a root port, and a
 * downstream port, both of D's vendor: Intel Arc, AMD Navi 3x cards) share the switch's
 * upstream port ("0000:01:00.0"); others share their slot ("0000:03:00"). */
void pcidb_card(const struct pcidb *db, const struct pci_dev_info *d, char key[PCI_ADDR_LEN]);
/* True when A and B are functions of one physical card. */
bool pcidb_same_card(const struct pcidb *db, const struct pci_dev_info *a,
		     const struct pci_dev_info *b);

/* Names from pci.ids: NULL when the database does not know the id or cannot be read (a broken
 * database is read once and then treated as empty). The strings live until the next call with
 * the same BUF. */
const char *pcidb_vendor_name(struct pcidb *db, uint16_t vendor, char *buf, int size);
const char *pcidb_device_name(struct pcidb *db, uint16_t vendor, uint16_t device, char *buf,
			      int size);
/* The name of base class + subclass (class >> 8), e.g. "VGA compatible controller". */
const char *pcidb_class_name(struct pcidb *db, uint32_t klass, char *buf, int size);

#endif
