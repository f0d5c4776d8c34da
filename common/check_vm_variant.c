/* check_vm_variant.c - a variant VFIO driver (xe_vfio_pci, i915_vfio_pci) for a VM's devices,
 * asked by vfio_driver in [vm:VMID] (else [hook]) of the INI, as the hookscript binds it:
 * which driver is asked for a device is handoff_variant_of, whether the variant drives it is
 * bind_variant_matches (a vfio_pci: alias of the module in the running kernel's modules.alias
 * that matches the device's ids), and a driver=keep entry's devices are handoff_keep_devices.
 *   vm.variant   (only when vfio_driver names a variant) no module of that name for the
 *                running kernel: FAIL; a device of a driver=keep entry the variant drives: PASS
 *                (the hookscript hands it to the variant at the VM's start and back after);
 *                one it does not drive: INFO (the hookscript leaves it as it is); a device of
 *                an entry without driver=keep the variant drives: WARN (Proxmox and the
 *                hookscript move it to vfio-pci), with the fix. The [sriov] driver of the
 *                [sriov] PF's VFs: sriov.variant (check_sriov.c).
 *   vm.hostpci   of a driver=keep entry: when the hookscript hands a device of it to a variant
 *                (vfio_driver or [sriov] driver), says so instead of "left to Proxmox". */
#define _GNU_SOURCE
#include "check_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_bind.h"
#include "dev_handoff.h"
#include "dev_modload.h"
#include "util.h"

static struct cfg *load_cfg(struct ctx *c)
{
	struct cfg *cfg = calloc(1, sizeof(*cfg));
	char err[512];

	if (!cfg) {
		c->oom = true;
		return NULL;
	}
	/* a broken INI is ini.valid's FAIL already; the hookscript refuses to start then */
	if (cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

/* The variant asked for device NAME of VM VMID into V ("" none) and whether it drives it:
 * 1 yes, 0 no (or none asked), -errno (no modules index to look in). */
static int variant_for(struct ctx *c, const struct cfg *cfg, int vmid, const char *name,
		       char *v, size_t size)
{
	const struct pci_dev_info *d = pcidb_find(c->rep->db, name);

	if (!d || !handoff_variant_of(c->sr, cfg, cfg_hook_opts(cfg, vmid), name, v, size)) {
		v[0] = '\0';
		return 0;
	}
	return bind_variant_matches(c->sr, d, v);
}

static bool in_list(const struct pve_devlist *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

bool check_vm_keep_variant(struct ctx *c, const struct vmwork *w, const struct pve_hostpci *h,
			   const char *subj)
{
	_cleanup_free_ struct cfg *cfg = NULL;
	char v[PCIDEV_NAME_MAX], hit[PCIDEV_NAME_MAX] = "", devs[256] = "", err[256];
	struct check_result *r;
	struct pve_devlist l;

	if (!h->keep || h->mdev || !(cfg = load_cfg(c)) ||
	    !handoff_variant_asked(cfg, w->conf.vmid) ||
	    handoff_keep_devices(c->sr, h, c->node, w->conf.vmid, &l, err, sizeof(err)) < 0)
		return false;
	for (int k = 0; k < l.n; k++) {
		size_t n = strlen(devs);

		/* a device an entry without keep passes too goes to vfio-pci */
		if (in_list(&w->all, l.names[k]) ||
		    variant_for(c, cfg, w->conf.vmid, l.names[k], v, sizeof(v)) <= 0)
			continue;
		snprintf(devs + n, sizeof(devs) - n, "%s%s", n ? " " : "", l.names[k]);
		str_copy(hit, sizeof(hit), v);
	}
	if (!hit[0])
		return false;
	r = ck_add(c, "vm.hostpci", CHECK_INFO, subj, "driver=keep: Proxmox leaves it alone, the "
		"hookscript binds %s to %s instead at the VM's start (and gives it back after)",
		devs, hit);
	ck_fix(c, r, "nothing to do");
	return true;
}

/* The devices of driver=keep entry H against the variant. */
static void keep_entry(struct ctx *c, const struct cfg *cfg, const struct vmwork *w,
		       const struct pve_hostpci *h, const char *subj)
{
	char v[PCIDEV_NAME_MAX], err[256];
	struct check_result *r;
	struct pve_devlist l;

	if (handoff_keep_devices(c->sr, h, c->node, w->conf.vmid, &l, err, sizeof(err)) < 0)
		return; /* QEMU names what is missing; Proxmox does nothing for keep */
	for (int k = 0; k < l.n; k++) {
		int m;

		if (in_list(&w->all, l.names[k]))
			continue; /* an entry without keep passes it too: that entry's result */
		m = variant_for(c, cfg, w->conf.vmid, l.names[k], v, sizeof(v));
		if (m > 0) {
			ck_add(c, "vm.variant", CHECK_PASS, subj, "%s: driver=keep and %s drives it: "
			       "the hookscript hands it to %s at the VM's start and back to its "
			       "driver after", l.names[k], v, v);
		} else if (m == 0 && v[0]) {
			r = ck_add(c, "vm.variant", CHECK_INFO, subj, "%s: %s does not drive it (no "
				"vfio_pci: alias of it matches its ids): driver=keep, so the hookscript "
				"leaves it as it is, as Proxmox does", l.names[k], v);
			ck_fix(c, r, "nothing to do if its driver is meant to stay; for vfio-pci, "
				  "remove ,driver=keep from hostpci%d", h->index);
		}
	}
}

/* The devices of entry H without driver=keep (L, as Proxmox expands it) against the variant. */
static void vfio_entry(struct ctx *c, const struct cfg *cfg, const struct vmwork *w,
		       const struct pve_hostpci *h, const struct pve_devlist *l, const char *subj)
{
	char v[PCIDEV_NAME_MAX];
	struct check_result *r;

	for (int k = 0; k < l->n; k++) {
		if (variant_for(c, cfg, w->conf.vmid, l->names[k], v, sizeof(v)) <= 0)
			continue;
		r = ck_add(c, "vm.variant", CHECK_WARN, subj, "%s: vfio_driver asks for %s, but "
			"hostpci%d passes it without driver=keep: at the VM's start Proxmox moves it "
			"to vfio-pci (its bind fails on another driver), so the hookscript binds "
			"vfio-pci", l->names[k], v, h->index);
		ck_fix(c, r, "add ,driver=keep to that hostpciN entry (qemu-server 9.0.25 or newer): "
			  "qm set %d --hostpci%d %s; the hookscript then hands it to %s",
			  w->conf.vmid, h->index, hostpci_edit(h->value, "driver", "driver=keep"), v);
	}
}

void check_vm_variant(struct ctx *c, const struct vmwork *w, const char *subj)
{
	_cleanup_free_ struct cfg *cfg = load_cfg(c);
	const char *path = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	const struct hook_opts *o;
	struct check_result *r;
	char sect[32];
	int avail;

	if (!cfg)
		return;
	o = cfg_hook_opts(cfg, w->conf.vmid);
	if (!cfg_vfio_variant(o->vfio_driver))
		return;
	if (o == &cfg->hook)
		snprintf(sect, sizeof(sect), "[hook]");
	else
		snprintf(sect, sizeof(sect), "[vm:%d]", w->conf.vmid);
	avail = modload_available(c->sr, o->vfio_driver);
	if (avail == 0) {
		r = ck_add(c, "vm.variant", CHECK_FAIL, subj, "vfio_driver = %s in %s of '%s', but "
			"the running kernel has no module of that name: the hookscript cannot hand "
			"it any device (driver=keep entries stay as they are, the others go to "
			"vfio-pci)", o->vfio_driver, sect, path);
		ck_fix(c, r, "install the package that has %s for the running kernel (modinfo %s "
			  "lists its vfio_pci: aliases), or remove vfio_driver from %s", o->vfio_driver,
			  o->vfio_driver, sect);
		return;
	}
	if (avail < 0)
		return; /* no modules index to look in: vfio.modules says so */
	for (int i = 0; i < w->conf.nhostpci; i++) {
		const struct pve_hostpci *h = &w->conf.hostpci[i];
		char hsubj[48];

		snprintf(hsubj, sizeof(hsubj), "%s hostpci%d", subj, h->index);
		if (h->mdev)
			continue;
		if (h->keep)
			keep_entry(c, cfg, w, h, hsubj);
		else if (w->res[i].rc == 0)
			vfio_entry(c, cfg, w, h, &w->res[i].devs, hsubj);
	}
}
