/* check_sriov.c - the SR-IOV host checks (see check_list.h for the ids):
 *   sriov.ids      a vfio-pci ids= list (kernel command line or /etc/modprobe.d) naming the
 *                  vendor:device of a PF that has VFs, or of the INI's [sriov] PF: an iGPU's
 *                  VFs share the PF's id, so vfio-pci takes the PF at boot (no VFs are ever
 *                  made) or on its next probe (every VF destroyed). FAIL, only when it matches.
 *   sriov.numvfs   with [sriov] in the INI: the PF there, sriov_numvfs as the INI says, and
 *                  each VF on the INI's driver (a VF on a host driver: WARN).
 * (vfio-pci's dynamic ids, new_id, cannot be read back from sysfs: only ids= is checked.) */
#define _GNU_SOURCE
#include "check_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_sriov.h"
#include "util.h"

/* Whether LIST ("vvvv:dddd[:...],...", vfio-pci's ids= syntax) names V:D. */
static bool ids_name(const char *list, uint16_t v, uint16_t d)
{
	char copy[512], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned iv, id;

		if (sscanf(t, "%4x:%4x", &iv, &id) == 2 && iv == v && id == d)
			return true;
	}
	return false;
}

static void ids_check(struct ctx *c, const char *where, const char *list, const char *ini_pf,
		      struct sriov_state *st)
{
	const struct pcidb *db = c->rep->db;
	struct check_result *r;

	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool ours = ini_pf && !strcmp(d->name, ini_pf);

		if (!ids_name(list, d->vendor, d->device) || sriov_read(c->sr, d->name, st) < 0 ||
		    !st->capable || (st->numvfs == 0 && !ours))
			continue;
		r = ck_add(c, "sriov.ids", CHECK_FAIL, d->name, "%s binds id %04x:%04x to vfio-pci, "
			"the id of SR-IOV PF %s (%s), whose VFs share it: vfio-pci takes the PF %s",
			where, d->vendor, d->device, d->name, ours ? "the PF of [sriov]" : "it has VFs",
			st->numvfs ? "on its next probe and every VF goes with it"
				   : "at boot and no VF is ever made");
		ck_fix(c, r, "remove %04x:%04x from %s; the VFs go to vfio-pci without it ([sriov] "
			  "driver, or the hookscript when their VM starts)", d->vendor, d->device, where);
		return; /* one line per list */
	}
}

void check_sriov_host(struct ctx *c)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	_cleanup_free_ struct sriov_state *st = calloc(1, sizeof(*st));
	char ids[512], file[SR_PATH_MAX], where[SR_PATH_MAX + 32], err[512], pf[PCI_ADDR_LEN] = "";
	const char *path = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	struct check_result *r;
	int held = 0, first = -1;

	if (!cfg || !st) {
		c->oom = true;
		return;
	}
	/* a broken INI is ini.valid's FAIL already */
	if (cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0)
		cfg->sriov.set = false;
	if (cfg->sriov.set && sriov_find_pf(c->sr, &cfg->sriov, pf, err, sizeof(err)) < 0) {
		r = ck_add(c, "sriov.numvfs", CHECK_FAIL, NULL, "[sriov] in '%s': %s", path, err);
		ck_fix(c, r, "correct pf = in [sriov] of '%s' (pve-gpu-passthrough list --all shows "
			  "the addresses)", path);
		pf[0] = '\0';
	}
	if (cmdline_ids(c->rep->host.cmdline, ids, sizeof(ids)))
		ids_check(c, "the kernel command line (vfio-pci.ids=)", ids, pf[0] ? pf : NULL, st);
	if (modprobe_ids(c->sr, file, sizeof(file), ids, sizeof(ids))) {
		snprintf(where, sizeof(where), "'%s' (options vfio-pci ids=)", file);
		ids_check(c, where, ids, pf[0] ? pf : NULL, st);
	}
	if (!pf[0])
		return;
	if (sriov_read(c->sr, pf, st) < 0 || !st->capable) {
		r = ck_add(c, "sriov.numvfs", CHECK_FAIL, pf, "[sriov] names %s, which cannot make "
			"VFs (no sriov_totalvfs%s%s)", pf, st->pf_driver[0] ? "; driver " : "; no driver",
			st->pf_driver);
		ck_fix(c, r, "load its driver with SR-IOV (i915-sriov-dkms, or xe with max_vfs), or "
			  "correct pf = in [sriov] of '%s'", path);
		return;
	}
	if (st->numvfs != cfg->sriov.vfs) {
		r = ck_add(c, "sriov.numvfs", CHECK_FAIL, pf, "%s has %u VFs, [sriov] in '%s' asks for "
			"%u", pf, st->numvfs, path, cfg->sriov.vfs);
		if (st->numvfs)
			ck_fix(c, r, "the kernel changes the count only from 0: stop the VMs that use "
				  "its VFs, echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs, then run: "
				  "pve-gpu-passthrough sriov apply", pf);
		else
			ck_fix(c, r, "run: pve-gpu-passthrough sriov apply (at boot "
				  "pve-gpu-passthrough-sriov@%s.service does; see its journal)", pf);
		return;
	}
	for (int i = 0; i < st->nvfs; i++)
		if (strcmp(st->vf[i].driver, cfg->sriov.driver) && strcmp(st->vf[i].driver, "vfio-pci") &&
		    st->vf[i].driver[0] && !held++)
			first = i;
	if (held) {
		r = ck_add(c, "sriov.numvfs", CHECK_WARN, pf, "%s has the %u VFs [sriov] asks for, but "
			"%d %s on a host driver (%s on %s), not %s", pf, st->numvfs, held,
			held == 1 ? "is" : "are", st->vf[first].name, st->vf[first].driver,
			cfg->sriov.driver);
		ck_fix(c, r, "sriov_drivers_autoprobe was on when they were made (a sysfsutils or udev "
			  "line of its own?): remove that line and reboot, so that "
			  "pve-gpu-passthrough-sriov@%s.service makes them", pf);
		return;
	}
	ck_add(c, "sriov.numvfs", CHECK_PASS, pf, "%s has the %u VFs [sriov] asks for, none on a "
	    "host driver", pf, st->numvfs);
}
