/* dev_ho_sriov.c - the handoff row that keeps an SR-IOV PF from vfio-pci: at post-stop (and
 * in reconcile: handoff_drop_pf_ids) no dynamic id of vfio-pci may be left that matches a PF
 * with VFs. Proxmox binds a VF that is not on vfio-pci yet with new_id "VENDOR DEVICE", and an
 * Intel iGPU's VFs have the PF's vendor:device: on the PF's next probe (a driver reload, a
 * rebind) vfio-pci would take it and every VF would go. Nothing to prepare or undo; the
 * removal does not depend on the VM's devices (return_on_stop = no included). */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev_sriov.h"
#include "util.h"

int ho_sriov_drop_ids(struct job *j, struct ho_left *left)
{
	const struct handoff_ops *ops = j->ops;
	struct sriov_pf_id ids[SRIOV_MAX_PF_IDS];
	int n = sriov_drop_pf_ids(ops->sr, ids), first = 0;

	if (n < 0) {
		handoff_logf(ops, HO_ERROR, "cannot look for SR-IOV PFs whose id vfio-pci may "
			     "have: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		const struct sriov_pf_id *p = &ids[i];

		if (p->err == 0) {
			if (!ops->dry_run)
				handoff_logf(ops, HO_INFO, "removed the dynamic id %04x:%04x from "
					     "vfio-pci: it is the id of SR-IOV PF %s, which it would "
					     "take on its next probe, destroying its %u VFs", p->vendor,
					     p->device, p->pf, p->numvfs);
			continue;
		}
		handoff_logf(ops, HO_ERROR, "cannot remove the dynamic id %04x:%04x from vfio-pci "
			     "(%s): SR-IOV PF %s with %u VFs has that id, and vfio-pci takes it on "
			     "its next probe; run: echo '%04x %04x' > /sys/bus/pci/drivers/vfio-pci/"
			     "remove_id", p->vendor, p->device, strerror(-p->err), p->pf, p->numvfs,
			     p->vendor, p->device);
		if (left)
			ho_left_add(left, p->err, "vfio-pci's dynamic id %04x:%04x (SR-IOV PF %s)",
				    p->vendor, p->device, p->pf);
		if (!first)
			first = p->err;
	}
	return first;
}

/* ---- pre-start: a VF of [sriov]'s PF not made yet ----------------------------------------
 * The PF's driver bound late (after pve-guests started the VM), or its boot unit failed: the
 * VF a hostpci entry names does not exist. The VFs are made here by the boot unit's engine
 * (sriov_apply), then collect expands again. Only for a missing address that is a VF of the
 * INI's PF (sriov_vf_index) while the PF has fewer VFs than the INI asks: another VM's start
 * never reads or writes that PF. */

/* The first address ID names (a whole slot: any function) that does not exist and would be a
 * VF of PF below VFS (PF NULL: any missing one), into NAME. */
static bool id_is_missing_vf(const struct sysroot *sr, const struct pve_pci_id *id,
			     const char *pf, unsigned vfs, char name[PCI_ADDR_LEN])
{
	for (int f = 0; f < 8; f++) {
		struct pci_addr a;

		if (!pve_pci_id_func(id, f, &a))
			continue;
		pci_addr_fmt(&a, name);
		if (!ho_dev_present(sr, name) && (!pf || sriov_vf_index(sr, pf, &a, vfs) >= 0))
			return true;
	}
	return false;
}

/* A missing VF of PF (NULL: a missing device) that entry H names (a mapping: any of this
 * node's entries), in NAME. */
static bool entry_names_missing_vf(struct job *j, const struct pve_hostpci *h, const char *pf,
				   unsigned vfs, char name[PCI_ADDR_LEN])
{
	const struct sysroot *sr = j->ops->sr;
	struct pve_mapping *map;
	bool found = false;

	if (h->keep || h->mdev)
		return false;
	if (!h->mapping[0]) {
		for (int i = 0; i < h->nids && !found; i++)
			found = id_is_missing_vf(sr, &h->ids[i], pf, vfs, name);
		return found;
	}
	if (!(map = malloc(sizeof(*map))))
		return false;
	if (pve_mapping_paths(sr, h->mapping, j->ops->node, map) == 0)
		for (int k = 0; k < map->nalts && !found; k++)
			for (int i = 0; i < map->alts[k].nids && !found; i++)
				found = id_is_missing_vf(sr, &map->alts[k].ids[i], pf, vfs, name);
	free(map);
	return found;
}

/* Waits (deadline MS) for PF to have a driver, which makes its VFs. */
static bool pf_driver_bound(const struct sysroot *sr, const char *pf, unsigned long ms)
{
	uint64_t deadline = now_ms() + ms;
	unsigned step = 0;
	char drv[64];

	do {
		if (pcidev_driver(sr, pf, drv, sizeof(drv)) == 0 && drv[0])
			return true;
	} while (backoff_wait(&step, deadline));
	return false;
}

int ho_sriov_make_vfs(struct job *j, const struct pve_vmconf *c)
{
	const struct sriov_opts *o = &j->ops->cfg->sriov;
	const struct sysroot *sr = j->ops->sr;
	unsigned long ms = j->opts->bind_timeout_ms;
	struct sriov_ops sops = { .sr = sr, .timeout_ms = ms };
	char pf[PCI_ADDR_LEN], vf[PCI_ADDR_LEN], err[512];
	struct sriov_state *st;
	struct sriov_info si;
	bool missing = false;
	int changes = 0, r;

	if (!o->set)
		return 0;
	/* this VM's own addresses first: a VM that names none missing never reads the PF */
	for (int i = 0; i < c->nhostpci && !missing; i++)
		missing = entry_names_missing_vf(j, &c->hostpci[i], NULL, 0, vf);
	if (!missing)
		return 0;
	if (sriov_find_pf(sr, o, pf, err, sizeof(err)) < 0 || quirks_sriov(sr, pf, &si) < 0 ||
	    si.totalvfs <= 0 || (si.numvfs > 0 && (unsigned)si.numvfs >= o->vfs))
		return 0;
	missing = false;
	for (int i = 0; i < c->nhostpci && !missing; i++)
		missing = entry_names_missing_vf(j, &c->hostpci[i], pf, o->vfs, vf);
	if (!missing)
		return 0;
	if (!pf_driver_bound(sr, pf, ms)) {
		ERR(j, "VF %s of [sriov] PF %s does not exist: PF %s has no driver yet; VFs are made "
		       "when its driver binds (pve-gpu-passthrough-sriov@%s.service)", vf, pf, pf, pf);
		return -ENODEV;
	}
	INFO(j, "VF %s of [sriov] PF %s does not exist (%d of %u VFs): making them as the INI "
		"says", vf, pf, si.numvfs > 0 ? si.numvfs : 0, o->vfs);
	if (!(st = malloc(sizeof(*st))))
		return -ENOMEM;
	r = sriov_apply(&sops, o, st, &changes, err, sizeof(err));
	/* the boot unit wrote the count at the same time (the kernel refused ours): already so */
	if (r == -EBUSY && sriov_read(sr, pf, st) == 0 && st->numvfs == o->vfs)
		r = sriov_apply(&sops, o, st, &changes, err, sizeof(err));
	free(st);
	if (r < 0) {
		ERR(j, "VF %s of [sriov] PF %s does not exist, and making the PF's VFs failed: %s",
		    vf, pf, err);
		return r;
	}
	return 1;
}

static void ids_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	(void)s;
	ho_sriov_drop_ids(j, left);
}

const struct ho_step ho_step_sriov = {
	.name = "sriov_ids",
	.restore = ids_restore, /* nothing to check, apply, undo or save */
};
