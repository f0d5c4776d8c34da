/* pve_users.h - which VM of this node uses which PCI device, for `check` and `list`: every
 * VM config (/etc/pve/qemu-server/VMID.conf) expanded as a start would
 * (pve_vmconf_expand_all). A mapping= entry uses the device a start would pick now; the other
 * devices of that mapping's entries for the node are its pool (a later start, when the first
 * is taken, picks one of them), kept apart: a device in a pool is not free to offer. A config
 * that does not parse, or an entry that does not expand, contributes nothing. */
#ifndef PGP_PVE_USERS_H
#define PGP_PVE_USERS_H

#include <stdbool.h>

#include "pciaddr.h"
#include "sysroot.h"

struct pve_user {
	char dev[PCI_ADDR_LEN];
	int vmid;
	bool onboot;     /* the VM has onboot: 1 */
	char mapping[64]; /* the mapping= entry it comes from, "" for host= */
};

struct pve_users {
	struct pve_user *use; /* what a start of each VM takes now */
	int nuse;
	struct pve_user *pool; /* the other devices of the mappings the VMs use */
	int npool;
	/* the devices of host= entries with driver=keep (Proxmox leaves them as they are; the
	 * hookscript hands them to a variant VFIO driver when one is asked), kept apart */
	struct pve_user *keep;
	int nkeep;
};

/* Fills U (free it with pve_users_free); 0 or -ENOMEM. At most 10000 configs are read. */
int pve_users_scan(const struct sysroot *sr, const char *node, struct pve_users *u);
void pve_users_free(struct pve_users *u);
/* "VM 100, VM 101; mapping igpu: VM 102, 103" for DEV into BUF ("" when nobody): the VMs
 * whose host= entries take it, then per mapping with DEV in an entry for the node the VMs that
 * use it (any of them may get it). True when any. */
bool pve_users_of(const struct pve_users *u, const char *dev, char *buf, size_t size);
/* "VM 100, VM 101" for DEV: the VMs whose driver=keep host= entries name it (keep). */
bool pve_users_keep_of(const struct pve_users *u, const char *dev, char *buf, size_t size);
/* Whether VMID's mapping MAPPING has other entries its start may take (a pool). */
bool pve_users_pooled(const struct pve_users *u, int vmid, const char *mapping);

#endif
