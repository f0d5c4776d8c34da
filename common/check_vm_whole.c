/* check_vm_whole.c - the checks of a VM over all the devices it gets: vm.reboot (cards that need a
 * host-side reset between guest boots), vm.reset_method ([vm:N] device_specific), vm.fabric
 * (NVSwitches of an HGX board). */
#define _GNU_SOURCE
#include "check_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "util.h"

/* Cards that need a host-side reset between guest boots: a reboot inside the guest runs no
 * hooks (the VM's QEMU keeps running), so the card comes back unreset; reboot: 0 makes a guest
 * reboot stop the VM, and the next start runs the hookscript. */
void check_vm_reboot(struct ctx *c, const struct vmwork *w, const char *subj)
{
	const struct pve_vmconf *conf = &w->conf;
	struct check_result *r;

	for (int k = 0; k < w->all.n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, w->all.names[k]);
		const char *what = d ? quirk_needs_host_reset(d) : NULL;

		if (!what)
			continue;
		if (conf->no_reboot) {
			ck_add(c, "vm.reboot", CHECK_PASS, subj, "reboot: 0: a guest reboot stops the VM, "
			    "so %s (%s) is reset by the host between guest boots", d->name, what);
			return;
		}
		r = ck_add(c, "vm.reboot", CHECK_WARN, subj, "passes %s, %s, which needs a host-side "
			"reset between guest boots: a reboot inside the guest runs no hooks, the card "
			"can come back dead (0xffff) and hang the guest or the host", d->name, what);
		ck_fix(c, r, "run: qm set %d --reboot 0 (a guest reboot then stops the VM; start it "
			  "again)", conf->vmid);
		return;
	}
}

/* reset_method = device_specific in the VM's [vm:N] section: the kernel refuses the write
 * ("Unsupported reset method") unless something provides a device-specific reset for the id,
 * and the hook's start fails there. */
void check_vm_reset_method(struct ctx *c, const struct vmwork *w, const char *subj)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	const char *ini = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	struct check_result *r;
	char err[256], why[256];
	bool any = false;

	if (!cfg || cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0 ||
	    !has_word(cfg_hook_opts(cfg, w->conf.vmid)->reset_method, "device_specific"))
		return;
	for (int k = 0; k < w->all.n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, w->all.names[k]);

		if (!d || !pcidev_is_display(d))
			continue;
		any = true;
		if (quirk_device_specific_ok(c, d, why, sizeof(why)))
			continue;
		r = ck_add(c, "vm.reset_method", CHECK_FAIL, subj, "reset_method = device_specific in "
			"[vm:%d] of '%s', but %s has no device-specific reset: %s; the kernel refuses "
			"the write (\"Unsupported reset method\") and the hookscript refuses to start "
			"the VM", w->conf.vmid, ini, d->name, why);
		ck_fix(c, r, "remove the reset_method line from [vm:%d] (the kernel's own methods "
			  "stay), or load a module that provides the reset for %04x:%04x before "
			  "vfio-pci", w->conf.vmid, d->vendor, d->device);
		return;
	}
	if (any)
		ck_add(c, "vm.reset_method", CHECK_PASS, subj, "reset_method = device_specific in "
		    "[vm:%d]: the kernel has a device-specific reset for its GPUs", w->conf.vmid);
}

/* NVSwitches the VM does not pass while it passes datacenter GPUs. */
void check_vm_fabric(struct ctx *c, const struct pve_vmconf *conf,
		     const struct pve_devlist *all, int next_index, const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char missing[512] = "", cmd[1024] = "";
	struct check_result *r;
	bool gpu = false;
	int nsw = 0, nmiss = 0;

	for (int k = 0; k < all->n; k++) {
		const struct pci_dev_info *d = pcidb_find(db, all->names[k]);

		gpu |= d && pcidev_is_nv_datacenter(d);
	}
	if (!gpu)
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool in = false;

		if (!pcidev_is_nvswitch(d))
			continue;
		nsw++;
		for (int k = 0; k < all->n && !in; k++)
			in = !strcmp(all->names[k], d->name);
		if (in)
			continue;
		if (nmiss < 8) {
			size_t n = strlen(missing), m = strlen(cmd);

			snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", d->name);
			if (next_index < PVE_MAX_HOSTPCI)
				snprintf(cmd + m, sizeof(cmd) - m, " --hostpci%d %s", next_index++,
					 d->name);
		}
		nmiss++;
	}
	if (!nsw)
		return;
	if (!nmiss) {
		r = ck_add(c, "vm.fabric", CHECK_INFO, subj, "passes NVIDIA datacenter GPUs with all %d "
			"NVSwitches", nsw);
		ck_fix(c, r, "run nvidia-fabricmanager in the guest, or CUDA reports error 802 (\"system "
			  "not yet initialized\")");
		return;
	}
	r = ck_add(c, "vm.fabric", CHECK_WARN, subj, "passes NVIDIA datacenter GPUs of an HGX board "
		"but not its NVSwitch%s %s%s: without Fabric Manager on the switches CUDA reports "
		"error 802 (\"system not yet initialized\")", nmiss == 1 ? "" : "es", missing,
		nmiss > 8 ? ", ..." : "");
	if (cmd[0])
		ck_fix(c, r, "to pass the whole board: qm set %d%s, then run nvidia-fabricmanager in the "
			  "guest; or run Fabric Manager in a service VM that holds the NVSwitches",
		    conf->vmid, cmd);
	else
		ck_fix(c, r, "run Fabric Manager in a service VM that holds the NVSwitches");
}
