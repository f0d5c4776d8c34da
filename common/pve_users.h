/* pve_users.h - who uses which PCI device of this node, for `check` and `list`, from one scan:
 * every VM config (/etc/pve/qemu-server/VMID.conf) expanded as a start would
 * (pve_vmconf_expand_all), and the containers (pve_lxc.h) whose dev/lxc lines reach the device
 * nodes of the devices asked for. A mapping= entry uses the device a start would pick now; the
 * other devices of that mapping's entries for the node (a whole slot: its functions present)
 * are its pool (a later start, when the first is taken, picks one of them), kept apart: a
 * device in a pool is not free to offer. A config that does not parse, or an entry that does
 * not expand, contributes nothing. */
#ifndef PGP_PVE_USERS_H
#define PGP_PVE_USERS_H

#include <stdbool.h>

#include "pciaddr.h"
#include "pve_lxc.h"
#include "sysroot.h"

struct pve_user {
	char dev[PCI_ADDR_LEN];
	int vmid;
	bool onboot;     /* the VM has onboot: 1 */
	char mapping[64]; /* the mapping= entry it comes from, "" for host= */
	int index;        /* its hostpciN */
};

struct pve_users {
	struct pve_user *use; /* what a start of each VM takes now */
	int nuse;
	struct pve_user *pool; /* the other devices of the mappings the VMs use */
	int npool;
	struct lxc_user *cts; /* the containers using the devices asked for (pve_lxc_users) */
	int ncts;
	int ct_bad;           /* container configs that could not be read, the first one's reason */
	char ct_err[320];
	/* the devices of host= entries with driver=keep (Proxmox leaves them as they are; the
	 * hookscript hands them to a variant VFIO driver when one is asked), kept apart */
	struct pve_user *keep;
	int nkeep;
};

/* Fills U (free it with pve_users_free); 0 or -errno. At most 10000 VM configs are read;
 * the containers (at most PVE_USERS_MAX_CTS uses) only for the N devices DEVS (none: 0). */
#define PVE_USERS_MAX_CTS 1024
int pve_users_scan(const struct sysroot *sr, const char *node, const char *const *devs, int n,
		   struct pve_users *u);
void pve_users_free(struct pve_users *u);
/* "VM 100, VM 101; mapping igpu: VM 102, 103" for DEV into BUF ("" when nobody): the VMs
 * whose host= entries take it, then per mapping with DEV in an entry for the node the VMs that
 * use it (any of them may get it). True when any. */
bool pve_users_of(const struct pve_users *u, const char *dev, char *buf, size_t size);
/* pve_users_of, then the VMs whose driver=keep entries name DEV, then the containers using
 * DEV (when DEV was scanned for them): "VM 100; VM 104 (driver=keep); CT 200, 201". A VF
 * that only a keep entry or a container uses is not free either. */
bool pve_users_any_of(const struct pve_users *u, const char *dev, char *buf, size_t size);
/* "VM 100, VM 101" for DEV: the VMs whose driver=keep host= entries name it (keep). */
bool pve_users_keep_of(const struct pve_users *u, const char *dev, char *buf, size_t size);
/* Whether VMID's mapping MAPPING has other entries its start may take (a pool). */
bool pve_users_pooled(const struct pve_users *u, int vmid, const char *mapping);

/* One VM or container using a device, as `list` shows it. */
struct pve_dev_user {
	bool ct;       /* a container (else a VM) */
	int id;        /* its VMID / CTID */
	bool running;  /* a container that runs now (VMs: not told) */
	char what[96]; /* "hostpci0", "mapping gpu, hostpci1", "dev0 /dev/dri/renderD128" */
};
/* Who uses DEV: the VMs whose start takes it or whose mapping may pick it (each with its
 * lowest hostpci entry naming it), in VMID order, then the containers (when DEV was scanned
 * for them) in CTID order; at most MAX (the lowest ids). The count or -ENOMEM. */
int pve_users_who(const struct pve_users *u, const char *dev, struct pve_dev_user *out, int max);

#endif
