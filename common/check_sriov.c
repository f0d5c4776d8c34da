/* check_sriov.c - the SR-IOV host checks (see check_list.h for the ids):
 *   sriov.ids      a vfio-pci ids= list (kernel command line or /etc/modprobe.d) naming the
 *                  vendor:device of a PF that has VFs, or of the INI's [sriov] PF: an iGPU's
 *                  VFs share the PF's id, so vfio-pci takes the PF at boot (no VFs are ever
 *                  made) or on its next probe (every VF destroyed). FAIL, only when it matches.
 *   sriov.numvfs   with [sriov] in the INI: the PF there, sriov_numvfs as the INI says, and
 *                  each VF on the INI's driver (a VF on a host driver: WARN).
 *   sriov.variant  with a variant VFIO driver in [sriov]: a VF a VM passes without driver=keep
 *                  (WARN: Proxmox and the hookscript move it to vfio-pci).
 *   sriov.route    with [sriov] naming an Intel GPU: the driver route that makes its VFs.
 *                  i915 (i915-sriov-dkms): i915.enable_guc=3 and i915.max_vfs >= the INI's
 *                  count (command line or options in /etc/modprobe.d), xe kept off
 *                  (module_blacklist=xe or a blacklist line) when the kernel has xe, and the
 *                  DKMS module (/lib/modules/KVER/updates/dkms/i915.ko*) built for the running
 *                  kernel and for the newest one installed (the one that boots next unless
 *                  pinned); xe (its driver, or xe.max_vfs given): xe.max_vfs >= the count and
 *                  i915 kept off. max_vfs only limits: sriov_numvfs makes the VFs.
 * (vfio-pci's dynamic ids, new_id, cannot be read back from sysfs: only ids= is checked.) */
#define _GNU_SOURCE
#include "check_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_bind.h"
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

/* The first line of a .conf file in /etc/modprobe.d that MATCH takes (its path in FILE). */
static bool modprobe_find(struct ctx *c, bool (*match)(char *line, void *data), void *data,
			  char *file, size_t fsize)
{
	struct dirent *de;
	bool found = false;
	DIR *d = sr_opendir(c->sr, "/etc/modprobe.d");

	while (d && !found && (de = readdir(d))) {
		char path[SR_PATH_MAX], text[16384], *save = NULL;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
		    sr_path(path, "/etc/modprobe.d/%s", de->d_name) < 0 ||
		    sr_read(c->sr, path, text, sizeof(text)) < 0)
			continue;
		for (char *l = strtok_r(text, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save))
			found = match(l, data);
		if (found)
			snprintf(file, fsize, "%s", path);
	}
	if (d)
		closedir(d);
	return found;
}

struct param_want {
	const char *mod, *key;
	char *val;
	size_t vsize;
};

/* "options MOD ... KEY=VALUE ..." */
static bool options_match(char *line, void *data)
{
	struct param_want *w = data;
	char m[64], rest[1024], *save = NULL;

	if (sscanf(line, " options %63s %1023[^\n]", m, rest) != 2 ||
	    !cmdline_key_eq(m, strlen(m), w->mod, strlen(w->mod)))
		return false;
	for (char *q = strtok_r(rest, " \t", &save); q; q = strtok_r(NULL, " \t", &save)) {
		size_t kl = strcspn(q, "=");

		if (q[kl] == '=' && cmdline_key_eq(q, kl, w->key, strlen(w->key))) {
			snprintf(w->val, w->vsize, "%s", q + kl + 1);
			return true;
		}
	}
	return false;
}

/* "blacklist MOD" */
static bool blacklist_match(char *line, void *data)
{
	char m[64];

	return sscanf(line, " blacklist %63s", m) == 1 && !strcmp(m, data);
}

/* MOD.KEY's value from the kernel command line, else from an "options MOD KEY=..." line in
 * /etc/modprobe.d (the first found); WHERE says which. False when neither sets it. */
static bool param_value(struct ctx *c, const char *mod, const char *key, char *val, size_t vsize,
			char *where, size_t wsize)
{
	struct param_want w = { .mod = mod, .key = key, .val = val, .vsize = vsize };
	const char *p = c->rep->host.cmdline;
	struct cmdline_param t;
	char want[96], file[SR_PATH_MAX];

	snprintf(want, sizeof(want), "%s.%s", mod, key);
	while (cmdline_next(&p, &t))
		if (t.keylen < t.len && cmdline_key_eq(t.start, t.keylen, want, strlen(want))) {
			snprintf(val, vsize, "%.*s", (int)(t.len - t.keylen - 1), t.start + t.keylen + 1);
			snprintf(where, wsize, "the kernel command line");
			return true;
		}
	if (!modprobe_find(c, options_match, &w, file, sizeof(file)))
		return false;
	snprintf(where, wsize, "'%s'", file);
	return true;
}

/* Whether MOD is kept from loading: module_blacklist= on the command line, or a "blacklist
 * MOD" line in /etc/modprobe.d. */
static bool kept_off(struct ctx *c, const char *mod)
{
	char file[SR_PATH_MAX];

	return cmdline_has_value(c->rep->host.cmdline, "module_blacklist", mod) ||
	       modprobe_find(c, blacklist_match, (void *)mod, file, sizeof(file));
}

/* Whether i915-sriov-dkms's module is built for kernel KVER. */
static bool dkms_built(struct ctx *c, const char *kver)
{
	static const char *const ext[] = { "", ".xz", ".zst", ".gz" };
	char path[SR_PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(ext); i++)
		if (sr_path(path, "/lib/modules/%s/updates/dkms/i915.ko%s", kver, ext[i]) == 0 &&
		    sr_exists(c->sr, path))
			return true;
	return false;
}

/* The newest kernel in /lib/modules (version order), "" when none. */
static void newest_kernel(struct ctx *c, char *out, size_t size)
{
	struct dirent *de;
	DIR *d = sr_opendir(c->sr, "/lib/modules");

	out[0] = '\0';
	while (d && (de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && strverscmp(de->d_name, out) > 0)
			snprintf(out, size, "%s", de->d_name);
	if (d)
		closedir(d);
}

/* sriov.route for the [sriov] PF, an Intel GPU on DRIVER. */
static void route_check(struct ctx *c, const char *pf, const char *driver, unsigned vfs)
{
	const char *kver = c->rep->host.release;
	char v[64] = "", where[SR_PATH_MAX + 32], next[256], ok[1024];
	struct check_result *r;
	bool xe = !strcmp(driver, "xe") || param_value(c, "xe", "max_vfs", v, sizeof(v), where,
						       sizeof(where));
	const char *mod = xe ? "xe" : "i915", *other = xe ? "i915" : "xe";
	struct hostmod hm = { .name = other };
	int bad = 0;

	if (!param_value(c, mod, "max_vfs", v, sizeof(v), where, sizeof(where)))
		snprintf(v, sizeof(v), "not set");
	if (strtoul(v, NULL, 10) < vfs) {
		r = ck_add(c, "sriov.route", CHECK_FAIL, pf, "%s route: %s.max_vfs is %s, [sriov] "
			"asks for %u VFs: its driver offers no more", mod, mod, v, vfs);
		ck_fix(c, r, "add %s.max_vfs=%u%s to the kernel command line (check's boot.loader "
			  "names the file), then reboot", mod, vfs, xe ? "" : " i915.enable_guc=3");
		bad++;
	}
	snprintf(ok, sizeof(ok), "%s.max_vfs=%s (%.*s)", mod, v, 200, where);
	if (!xe) {
		v[0] = '\0';
		if (!param_value(c, "i915", "enable_guc", v, sizeof(v), where, sizeof(where)) ||
		    strcmp(v, "3")) {
			r = ck_add(c, "sriov.route", CHECK_FAIL, pf, "i915 route: i915.enable_guc is "
				"%s, not 3: i915 makes no VFs without GuC submission", v[0] ? v : "not set");
			ck_fix(c, r, "add i915.enable_guc=3 to the kernel command line, then reboot");
			bad++;
		}
	}
	/* the other driver, when the kernel has it, must not take the GPU first */
	if (kver[0] && hostinfo_modules(c->sr, kver, &hm.name, 1, &hm) == 0 &&
	    hm.avail > HOSTMOD_MISSING && !kept_off(c, other)) {
		r = ck_add(c, "sriov.route", CHECK_WARN, pf, "%s route: %s is not kept off "
			"(module_blacklist), and kernel %s has it: it may take the GPU first", mod, other,
			kver);
		ck_fix(c, r, "add module_blacklist=%s to the kernel command line, then reboot", other);
		bad++;
	}
	if (!xe) {
		newest_kernel(c, next, sizeof(next));
		if (kver[0] && !dkms_built(c, kver)) {
			r = ck_add(c, "sriov.route", CHECK_FAIL, pf, "i915 route: i915-sriov-dkms is not "
				"built for the running kernel %s (no /lib/modules/%s/updates/dkms/i915.ko): "
				"the in-tree i915 makes no VFs", kver, kver);
			ck_fix(c, r, "apt install i915-sriov-dkms (with the headers: apt install "
				  "proxmox-headers-%s), or: dkms autoinstall -k %s", kver, kver);
			bad++;
		}
		if (next[0] && strcmp(next, kver) && !dkms_built(c, next)) {
			r = ck_add(c, "sriov.route", CHECK_FAIL, pf, "i915 route: i915-sriov-dkms is not "
				"built for kernel %s, the newest installed (it boots next unless pinned): "
				"after that reboot no VFs are made", next);
			ck_fix(c, r, "apt install proxmox-headers-%s, then: dkms autoinstall -k %s (a "
				  "kernel the DKMS release does not support: proxmox-boot-tool kernel pin "
				  "%s)", next, next, kver);
			bad++;
		}
		if (!bad)
			snprintf(ok + strlen(ok), sizeof(ok) - strlen(ok), ", i915.enable_guc=3, "
				 "i915-sriov-dkms built for %.128s%s%.128s", kver,
				 next[0] && strcmp(next, kver) ? " and " : "",
				 next[0] && strcmp(next, kver) ? next : "");
	}
	if (!bad)
		ck_add(c, "sriov.route", CHECK_PASS, pf, "%s route: %s%s", mod, ok,
		       hm.avail > HOSTMOD_MISSING ? ", the other driver kept off" : "");
}

/* A variant VFIO driver in [sriov]. Its module must drive the VFs (a vfio_pci: alias in the
 * running kernel's modules.alias that matches their ids), or neither `sriov apply` nor the
 * hookscript can bind it. Proxmox (new_id, unbind, bind) moves a VF that a hostpci entry
 * without driver=keep passes to vfio-pci, and its bind fails when driver_override names the
 * variant: the hookscript binds vfio-pci for such an entry (WARN, with the fix). A
 * driver=keep entry's VF is handed to the variant by the hookscript (PASS). */
static void variant_check(struct ctx *c, const struct cfg *cfg, const struct sriov_state *st)
{
	const char *drv = cfg->sriov.driver;
	struct check_result *r;
	char who[256];

	if (!cfg_vfio_variant(drv) || !st->nvfs)
		return;
	{
		const struct pci_dev_info *d = pcidb_find(c->rep->db, st->vf[0].name);
		int m = d ? bind_variant_matches(c->sr, d, drv) : -ENOENT;

		if (m == 0) { /* m < 0: no modules index to look in (vfio.modules says so) */
			r = ck_add(c, "sriov.variant", CHECK_FAIL, st->vf[0].name, "[sriov] puts the "
				"VFs on %s, but no module of that name for the running kernel drives "
				"them (none has a vfio_pci: alias that matches %04x:%04x): neither "
				"`sriov apply` nor the hookscript can bind it", drv, d->vendor, d->device);
			ck_fix(c, r, "install the package that has %s for the running kernel (modinfo "
				  "%s lists its vfio_pci: aliases), or set driver = vfio-pci in [sriov]",
				  drv, drv);
			return;
		}
	}
	for (int i = 0; i < st->nvfs; i++) {
		if (pve_users_of(&c->vms, st->vf[i].name, who, sizeof(who))) {
			r = ck_add(c, "sriov.variant", CHECK_WARN, st->vf[i].name, "[sriov] puts the VFs "
				"on %s, but a hostpci entry without driver=keep passes it (%s): at the "
				"VM's start Proxmox moves it to vfio-pci (its bind fails on another "
				"driver), so the hookscript binds vfio-pci", drv, who);
			ck_fix(c, r, "add ,driver=keep to that hostpciN entry (qemu-server 9.0.25 or "
				  "newer): the hookscript then hands the VF to %s", drv);
		} else if (pve_users_keep_of(&c->vms, st->vf[i].name, who, sizeof(who))) {
			ck_add(c, "sriov.variant", CHECK_PASS, st->vf[i].name, "%s passes it with "
			       "driver=keep: the hookscript hands it to %s", who, drv);
		}
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
	{
		const struct pci_dev_info *d = pcidb_find(c->rep->db, pf);

		if (d && d->vendor == 0x8086 && pcidev_is_display(d))
			route_check(c, pf, st->pf_driver, cfg->sriov.vfs);
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
	variant_check(c, cfg, st);
}
