/* check_containers.c - containers (pct) that use a GPU (pve_lxc.h), in the checklist:
 *   ct.config   (host) a container config that cannot be read: whether it uses a GPU is not
 *               known (WARN)
 *   ct.device   (host) a container names a GPU node that does not exist: it runs without it
 *               (started by hand while a VM has the GPU), or cannot start (pct start fails on
 *               a missing devN path); the fix names the GPUs on vfio-pci and whether early
 *               binding keeps them there from boot (WARN; INFO for a stopped container's
 *               optional mount entry)
 *   vm.containers (VM) a container uses a GPU the VM passes (or one its mapping may hand it):
 *               WARN when pre-start would refuse it (containers = refuse and it runs; INFO
 *               while it is stopped), INFO with containers = stop
 * Nothing is said on a node without containers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "check_int.h"
#include "dev_state.h"
#include "pve_lxc.h"
#include "util.h"

/* Whether early binding ([early] of the INI, vfio-pci.ids= on the kernel command line) takes D
 * to vfio-pci at boot. */
static bool early_takes(const struct ctx *c, const struct cfg *cfg, const struct pci_dev_info *d)
{
	char ids[512], id[16];
	struct pci_addr a;

	if (cfg && pci_addr_parse(d->name, &a) == 0) {
		for (int i = 0; i < cfg->early.naddrs; i++)
			if (!memcmp(&cfg->early.addrs[i], &a, sizeof(a)))
				return true;
		for (int i = 0; i < cfg->early.nids; i++)
			if (cfg->early.ids[i].vendor == d->vendor && cfg->early.ids[i].device == d->device)
				return true;
	}
	snprintf(id, sizeof(id), "%04x:%04x", d->vendor, d->device);
	return cmdline_ids(c->rep->host.cmdline, ids, sizeof(ids)) && has_word(ids, id);
}

/* The GPUs on vfio-pci now, and why, into OUT ("" when none). */
static void gpus_away(struct ctx *c, const struct cfg *cfg, char *out, size_t size)
{
	out[0] = '\0';
	for (int i = 0; i < c->rep->db->ndev; i++) {
		const struct pci_dev_info *d = &c->rep->db->dev[i];
		size_t n = strlen(out);
		int vm;

		if (!pcidev_is_display(d) || strcmp(d->driver, "vfio-pci"))
			continue;
		vm = state_owner(c->sr, d->name, 0);
		if (early_takes(c, cfg, d))
			snprintf(out + n, size - n, "%s%s is bound to vfio-pci early at boot (a GPU "
				 "bound early has no render node: take it out of [early] or "
				 "vfio-pci.ids= for the container to have it)", n ? "; " : "", d->name);
		else if (vm > 0)
			snprintf(out + n, size - n, "%s%s is handed to VM %d (start the container "
				 "again when VM %d has stopped)", n ? "; " : "", d->name, vm, vm);
		else
			snprintf(out + n, size - n, "%s%s is on vfio-pci", n ? "; " : "", d->name);
	}
}

void check_containers_host(struct ctx *c)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	_cleanup_free_ struct lxc_conf *conf = malloc(sizeof(*conf));
	_cleanup_free_ int *ids = calloc(LXC_MAX_CTS, sizeof(int));
	char err[256], away[1024];
	struct check_result *r;
	int n;

	if (!cfg || !conf || !ids) {
		c->oom = true;
		return;
	}
	if (cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0)
		cfg_defaults(cfg);
	gpus_away(c, cfg, away, sizeof(away));
	n = pve_lxc_list(c->sr, c->node, ids, LXC_MAX_CTS);
	for (int k = 0; k < n; k++) {
		char subj[32], missing[8][LXC_PATH_MAX];
		int line = 0, nm, running;

		snprintf(subj, sizeof(subj), "ct %d", ids[k]);
		if (pve_lxc_load(c->sr, c->node, ids[k], conf, &line, err, sizeof(err)) < 0) {
			if (line)
				r = ck_add(c, "ct.config", CHECK_WARN, subj, "'/etc/pve/lxc/%d.conf' line "
					   "%d: %s: whether it uses a GPU is not known", ids[k], line, err);
			else
				r = ck_add(c, "ct.config", CHECK_WARN, subj, "%s: whether it uses a GPU "
					   "is not known", err);
			ck_fix(c, r, "correct the entry (pct config %d shows what Proxmox reads)", ids[k]);
			continue;
		}
		nm = pve_lxc_missing(c->sr, conf, missing, (int)ARRAY_SIZE(missing));
		if (nm <= 0)
			continue;
		running = pve_lxc_running(c->sr, ids[k]) > 0;
		for (int m = 0; m < nm && m < (int)ARRAY_SIZE(missing); m++) {
			bool dev = false;

			for (int x = 0; x < conf->nuses; x++)
				dev |= conf->uses[x].kind == LXC_USE_DEV && !strcmp(conf->uses[x].path, missing[m]);
			if (running)
				r = ck_add(c, "ct.device", CHECK_WARN, subj, "container %d runs without %s "
					   "(its config names it; the node is gone: its GPU left the "
					   "host after the container started)", ids[k], missing[m]);
			else
				r = ck_add(c, "ct.device", dev ? CHECK_WARN : CHECK_INFO, subj,
					   "%s does not exist: %s", missing[m], dev ?
					   "pct start fails (\"Device does not exist\")" :
					   "the container starts without it");
			if (away[0])
				ck_fix(c, r, "%s", away);
			ck_fix(c, r, "once the GPU is back on its host driver: pct %s %d",
			       running ? "reboot" : "start", ids[k]);
		}
	}
}

/* The VM's devices and every device its mappings may hand it. */
static int vm_devices(struct ctx *c, const struct vmwork *w, char (*out)[PCI_ADDR_LEN], int max)
{
	_cleanup_free_ struct pve_mapping *map = calloc(1, sizeof(*map));
	char err[256];
	int n = 0;

	for (int i = 0; i < w->all.n && n < max; i++)
		str_copy(out[n++], PCI_ADDR_LEN, w->all.names[i]);
	for (int h = 0; map && h < w->conf.nhostpci; h++) {
		if (!w->conf.hostpci[h].mapping[0] ||
		    pve_mapping_load(c->sr, w->conf.hostpci[h].mapping, c->node, map, NULL, err,
				     sizeof(err)) < 0)
			continue;
		for (int a = 0; a < map->nalts; a++)
			for (int i = 0; i < map->alts[a].nids; i++) {
				struct pci_addr ad = map->alts[a].ids[i].addr;

				for (int f = 0; f < 8 && n < max; f++) {
					char name[PCI_ADDR_LEN];
					bool dup = false;

					if (map->alts[a].ids[i].has_func && f != ad.func)
						continue;
					if (!map->alts[a].ids[i].has_func)
						ad.func = (uint8_t)f;
					pci_addr_fmt(&ad, name);
					for (int k = 0; k < n; k++)
						dup |= !strcmp(out[k], name);
					if (!dup && pcidb_find(c->rep->db, name))
						str_copy(out[n++], PCI_ADDR_LEN, name);
				}
			}
	}
	return n;
}

/* The containers of the check's one scan (pve_users.h) that use one of the N devices DEVS: at
 * most MAX, in CTID order, each container's in the order of DEVS. The count. */
static int vm_cts(const struct pve_users *vms, char (*devs)[PCI_ADDR_LEN], int n,
		  const struct lxc_user **out, int max)
{
	int count = 0;

	for (int a = 0, b; a < vms->ncts; a = b) {
		for (b = a; b < vms->ncts && vms->cts[b].ctid == vms->cts[a].ctid; b++)
			;
		for (int i = 0; i < n; i++)
			for (int k = a; k < b; k++)
				if (!strcmp(vms->cts[k].dev, devs[i]) && count < max)
					out[count++] = &vms->cts[k];
	}
	return count;
}

void check_vm_containers(struct ctx *c, const struct vmwork *w, const char *subj)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	_cleanup_free_ const struct lxc_user **u = calloc(64, sizeof(*u));
	_cleanup_free_ int *ids = calloc(LXC_MAX_CTS, sizeof(int));
	char devs[64][PCI_ADDR_LEN], err[320];
	const char *ini = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	const struct hook_opts *o;
	struct check_result *r;
	int nd, n, vmid = w->conf.vmid;

	if (!cfg || !u || !ids) {
		c->oom = true;
		return;
	}
	if (pve_lxc_list(c->sr, c->node, ids, LXC_MAX_CTS) <= 0)
		return; /* no containers on this node */
	if (cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0)
		cfg_defaults(cfg);
	o = cfg_hook_opts(cfg, vmid);
	nd = vm_devices(c, w, devs, (int)ARRAY_SIZE(devs));
	if (nd == 0)
		return;
	n = vm_cts(&c->vms, devs, nd, u, 64);
	if (n == 0) {
		ck_add(c, "vm.containers", CHECK_PASS, subj, "no container uses the VM's GPUs");
		return;
	}
	for (int k = 0; k < n; k++) {
		bool mine = false;
		char ct[96];

		for (int i = 0; i < w->all.n; i++)
			mine |= !strcmp(w->all.names[i], u[k]->dev);
		/* no hostname: a report leaves it out, and check reads the same from a report */
		snprintf(ct, sizeof(ct), "container %d", u[k]->ctid);
		if (o->containers_stop) {
			ck_add(c, "vm.containers", CHECK_INFO, subj, "%s uses %s%s (%s), %s (containers "
			       "= stop)", ct, u[k]->dev, mine ? "" : ", which a mapping may hand the VM",
			       u[k]->what, u[k]->running ? "running: it is shut down for the VM and "
			       "started again after it" : "stopped: it stays stopped (if it runs when "
			       "the VM starts, it is shut down for the VM and started again after it)");
			continue;
		}
		r = ck_add(c, "vm.containers", u[k]->running ? CHECK_WARN : CHECK_INFO, subj,
			   "%s uses %s%s (%s)%s", ct, u[k]->dev,
			   mine ? "" : ", which a mapping may hand the VM", u[k]->what, u[k]->running ?
			   " and runs: pre-start refuses the VM while it runs (containers = refuse)" :
			   ", stopped now: pre-start refuses the VM if it runs then");
		ck_fix(c, r, "shut it down before the VM starts (pct shutdown %d), or let the hook do "
		       "it: containers = stop in [vm:%d] of '%s' (shut down for the VM, started "
		       "again after it)", u[k]->ctid, vmid, ini);
	}
}
