/* dev_ho_sriov.c - the handoff row that keeps an SR-IOV PF from vfio-pci: at post-stop (and
 * in reconcile: handoff_drop_pf_ids) no dynamic id of vfio-pci may be left that matches a PF
 * with VFs. Proxmox binds a VF that is not on vfio-pci yet with new_id "VENDOR DEVICE", and an
 * Intel iGPU's VFs have the PF's vendor:device: on the PF's next probe (a driver reload, a
 * rebind) vfio-pci would take it and every VF would go. Nothing to prepare or undo; the
 * removal does not depend on the VM's devices (return_on_stop = no included). */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <string.h>

#include "dev_sriov.h"

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

static void ids_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	(void)s;
	ho_sriov_drop_ids(j, left);
}

const struct ho_step ho_step_sriov = {
	.name = "sriov_ids",
	.restore = ids_restore, /* nothing to check, apply, undo or save */
};
