/* check_early.c - the early-binding checks: [early] against the command line, modprobe.d and
 * the initramfs image (see check_list.h for the ids). */
#define _GNU_SOURCE
#include "check_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev_bind.h"
#include "cfg_ini.h"
#include "dev_console.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "util.h"
#include "sysfs.h"

/* Devices of the host matching vendor:device. */
static int count_ids(const struct pcidb *db, uint16_t v, uint16_t d, char *names, size_t size)
{
	int n = 0;

	names[0] = '\0';
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *p = &db->dev[db->byaddr[i]];
		size_t len = strlen(names);

		if (p->vendor != v || p->device != d)
			continue;
		if (len + PCI_ADDR_LEN + 2 < size)
			snprintf(names + len, size - len, "%s%s", n ? ", " : "", p->name);
		n++;
	}
	return n;
}

/* vfio-pci.ids= (or vfio_pci.ids=) of CMDLINE into IDS; false when absent. */
bool cmdline_ids(const char *cmdline, char *ids, size_t size)
{
	char copy[HI_CMDLINE_MAX], *save = NULL;
	bool found = false;

	snprintf(copy, sizeof(copy), "%s", cmdline);
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (str_has_prefix(w, "vfio-pci.ids=") || str_has_prefix(w, "vfio_pci.ids=")) {
			snprintf(ids, size, "%s", w + 13);
			found = true; /* the last one counts */
		}
	return found;
}

/* Devices matching a "vvvv:dddd,vvvv:dddd" list (vfio-pci's ids= syntax). */
static int count_id_list(const struct pcidb *db, const char *list, char *names, size_t size)
{
	char copy[512], *save = NULL;
	int n = 0;

	names[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned v, d;
		char part[256];
		size_t len = strlen(names);

		if (sscanf(t, "%4x:%4x", &v, &d) != 2)
			continue;
		int k = count_ids(db, (uint16_t)v, (uint16_t)d, part, sizeof(part));
		if (k)
			snprintf(names + len, size - len, "%s%s", len ? ", " : "", part);
		n += k;
	}
	return n;
}

/* Whether the ids LIST ("vvvv:dddd,...") select identical cards (an id two devices have); the
 * cards (slots, "0000:0c:00") of those devices that a VM passes into USED, the others into
 * UNUSED (space-separated). */
static bool identical_cards(const struct ctx *c, const char *list, char *used, size_t usize,
			    char *unused, size_t nsize)
{
	const struct pcidb *db = c->rep->db;
	char copy[512], *save = NULL, who[64];
	bool identical = false;

	used[0] = unused[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned v, d;

		if (sscanf(t, "%4x:%4x", &v, &d) != 2 || count_ids(db, (uint16_t)v, (uint16_t)d, who,
								   sizeof(who)) < 2)
			continue;
		identical = true;
		for (int i = 0; i < db->ndev; i++) {
			const struct pci_dev_info *p = &db->dev[db->byaddr[i]];
			char slot[PCI_ADDR_LEN], *out;
			size_t size, len;

			if (p->vendor != v || p->device != d)
				continue;
			snprintf(slot, sizeof(slot), "%.10s", p->name); /* 0000:0c:00 */
			out = users_of(c, p->name, who, sizeof(who)) ? used : unused;
			size = out == used ? usize : nsize;
			len = strlen(out);
			if (!strstr(out, slot) && !(out == unused && strstr(used, slot)) &&
			    len + strlen(slot) + 2 < size)
				snprintf(out + len, size - len, "%s%s", len ? " " : "", slot);
		}
	}
	return identical;
}

/* "options vfio-pci ids=..." in /etc/modprobe.d: the seed's method. The first file found. */
bool modprobe_ids(const struct sysroot *sr, char *file, size_t fsize, char *ids, size_t isize)
{
	struct dirent *de;
	bool found = false;
	DIR *d = sr_opendir(sr, "/etc/modprobe.d");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[SR_PATH_MAX], text[16384], *save = NULL;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
		    sr_path(path, "/etc/modprobe.d/%s", de->d_name) < 0 ||
		    sr_read(sr, path, text, sizeof(text)) < 0)
			continue;
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char mod[64], rest[1024];
			const char *p;

			if (sscanf(line, " options %63s %1023[^\n]", mod, rest) != 2 ||
			    (strcmp(mod, "vfio-pci") != 0 && strcmp(mod, "vfio_pci") != 0))
				continue;
			p = strstr(rest, "ids=");
			if (!p)
				continue;
			snprintf(ids, isize, "%.*s", (int)strcspn(p + 4, " \t"), p + 4);
			snprintf(file, fsize, "%s", path);
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

/* ini.valid: the INI as a whole, every error in it on its own line (the hookscript, the
 * initramfs hook and the verbs refuse it at the first). */
void check_ini(struct ctx *c)
{
	const char *path = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	char err[512] = "";
	struct check_result *r;
	int n;

	if (!cfg) {
		c->oom = true;
		return;
	}
	if (cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) == 0) {
		if (cfg->from_file) /* no file: the defaults, nothing to say */
			ck_add(c, "ini.valid", CHECK_PASS, NULL, "'%s' is valid", path);
		return;
	}
	if (!cfg->nerrors) { /* the file as a whole: cannot open, owner, size */
		r = ck_add(c, "ini.valid", CHECK_FAIL, NULL, "%s", err);
		ck_fix(c, r, "correct '%s' (see pve-gpu-passthrough.ini(5)); the hookscript and the "
			  "initramfs hook refuse it as it is", path);
		return;
	}
	r = ck_add(c, "ini.valid", CHECK_FAIL, NULL, "'%s' has %d error%s; the hookscript and the "
		   "initramfs hook refuse it as it is", path, cfg->nerrors,
		   cfg->nerrors == 1 ? "" : "s");
	n = cfg->nerrors < CONFIG_MAX_ERRORS ? cfg->nerrors : CONFIG_MAX_ERRORS;
	for (int i = 0; i < n; i++)
		ck_fix(c, r, "%s:%d: %s", cfg->errors[i].file, cfg->errors[i].line,
		       cfg->errors[i].text);
	if (cfg->nerrors > n)
		ck_fix(c, r, "... and %d more", cfg->nerrors - n);
	ck_fix(c, r, "correct each line (see pve-gpu-passthrough.ini(5))");
}

void check_early(struct ctx *c)
{
	const char *path = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	struct pcidb *db = c->rep->db;
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	char err[512] = "", ids[512], file[SR_PATH_MAX], cids[512] = "";
	const struct early_opts *e;
	struct check_result *r;
	long long t_ini, t_img;
	int rc;

	if (!cfg) {
		c->oom = true;
		return;
	}
	rc = cfg_load(c->sr, c->o->config, cfg, err, sizeof(err));
	if (rc < 0)
		return; /* ini.valid lists the errors */
	e = &cfg->early;
	/* vfio-pci.ids= on the kernel command line: the kernel hands it to vfio-pci when the
	 * module loads, as modprobe.d's options do (Documentation/admin-guide/kernel-parameters.txt
	 * "<module>.<parameter>"). */
	if (cmdline_ids(c->rep->host.cmdline, cids, sizeof(cids))) {
		char names[512] = "";
		int n = count_id_list(db, cids, names, sizeof(names));

		char used[256], unused[256];
		bool identical = identical_cards(c, cids, used, sizeof(used), unused, sizeof(unused));

		/* identical cards of which a VM passes one and none another: that one is wanted on
		 * its host driver (by the host, a container), but vfio-pci takes it at boot */
		r = ck_add(c, "early.cmdline", identical && used[0] && unused[0] ? CHECK_WARN :
			   CHECK_INFO, NULL, "the kernel command line binds ids %s to vfio-pci at boot "
			   "(vfio-pci.ids=): %d device%s%s%s%s, identical cards included%s%s%s", cids,
			   n, n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "",
			   identical && unused[0] ? "; no VM passes " : "",
			   identical && unused[0] ? unused : "",
			   identical && unused[0] ? ", which it takes from its host driver too" : "");
		if (identical && used[0])
			ck_fix(c, r, "bind the card the VMs pass by address instead: pve-gpu-passthrough "
				  "setup --early %s (it drops vfio-pci.ids=)", used);
		else if (e->nids || e->naddrs)
			ck_fix(c, r, "[early] in '%s' binds as well; to bind exactly one card, drop "
				  "vfio-pci.ids= and keep [early] addresses:", path);
		else
			ck_fix(c, r, "to bind exactly one card instead, list its addresses under [early] "
				  "in '%s', run update-initramfs -u -k all, and drop vfio-pci.ids=:", path);
		fix_cmdline(c, r, NULL, cmdline_has(c->rep->host.cmdline, "vfio-pci.ids") ?
			    "vfio-pci.ids" : "vfio_pci.ids", false);
	}
	if (e->nids == 0 && e->naddrs == 0) {
		if (cids[0]) {
			/* early.cmdline said it */
		} else if (modprobe_ids(c->sr, file, sizeof(file), ids, sizeof(ids))) {
			r = ck_add(c, "early.configured", CHECK_INFO, NULL, "'%s' binds ids %s to vfio-pci "
				"at boot: every device with those ids, identical cards included", file, ids);
			ck_fix(c, r, "to bind exactly one card, list its addresses under [early] in '%s' "
				  "instead, remove the options line, and run update-initramfs -u -k all",
			    path);
		} else {
			r = ck_add(c, "early.configured", CHECK_INFO, NULL, "no early binding: the "
				"hookscript moves devices to vfio-pci when their VM starts");
			ck_fix(c, r, "only needed when a host driver will not let go of a card: add "
				  "addresses = ADDR under [early] in '%s', then run update-initramfs -u "
				  "-k all", path);
		}
		return;
	}
	if (modprobe_ids(c->sr, file, sizeof(file), ids, sizeof(ids))) {
		char names[512];
		int n = count_id_list(db, ids, names, sizeof(names));

		r = ck_add(c, "early.modprobe", CHECK_INFO, NULL, "'%s' binds ids %s to vfio-pci at "
			"boot as well: %d device%s%s%s%s, identical cards included", file, ids, n,
			n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
		ck_fix(c, r, "[early] in '%s' already binds what it names: remove the options line from "
			  "'%s' and run update-initramfs -u -k all", path, file);
	}
	/* ids select every matching device: say so when that is more than one. */
	for (int i = 0; i < e->nids; i++) {
		char names[512];
		int n = count_ids(db, e->ids[i].vendor, e->ids[i].device, names, sizeof(names));

		if (n > 1) {
			r = ck_add(c, "early.configured", CHECK_WARN, NULL, "[early] ids %04x:%04x selects %d "
				"devices (%s): all of them go to vfio-pci at boot", e->ids[i].vendor,
				e->ids[i].device, n, names);
			ck_fix(c, r, "to keep one on the host, use addresses = ... in '%s' line %d instead "
				  "of ids, then run update-initramfs -u -k all", path, e->line_ids);
			return;
		}
	}
	for (int i = 0; i < e->naddrs; i++) {
		char name[PCI_ADDR_LEN];

		pci_addr_fmt(&e->addrs[i], name);
		if (!pcidb_find(db, name)) {
			r = ck_add(c, "early.configured", CHECK_WARN, NULL, "[early] addresses names %s, "
				"which is not on this host", name);
			ck_fix(c, r, "correct '%s' line %d (pve-gpu-passthrough list --all shows the "
				  "addresses), then run update-initramfs -u -k all", path, e->line_addrs);
			return;
		}
	}
	ck_add(c, "early.configured", CHECK_PASS, NULL, "[early] in '%s': %d id%s, %d address%s", path,
	    e->nids, e->nids == 1 ? "" : "s", e->naddrs, e->naddrs == 1 ? "" : "es");

	/* Is it in the initramfs the running kernel booted from? */
	if (!sr_exists(c->sr, INITRAMFS_HOOK)) {
		r = ck_add(c, "early.initramfs", CHECK_FAIL, NULL, "the initramfs hook '%s' is missing, "
			"so [early] never reaches the initramfs", INITRAMFS_HOOK);
		ck_fix(c, r, "reinstall the package (apt install --reinstall pve-gpu-passthrough), then "
			  "run update-initramfs -u -k all");
		return;
	}
	snprintf(file, sizeof(file), "/boot/initrd.img-%s", c->rep->host.release);
	if (hostinfo_mtime(c->sr, file, &t_img) < 0) {
		r = ck_add(c, "early.initramfs", CHECK_WARN, NULL, "there is no '%s' for the running "
			"kernel", file);
		ck_fix(c, r, "run: update-initramfs -u -k all");
		return;
	}
	if (hostinfo_mtime(c->sr, path, &t_ini) == 0 && t_ini > t_img) {
		r = ck_add(c, "early.initramfs", CHECK_WARN, NULL, "'%s' is older than '%s': the boot "
			"binds what the file said before", file, path);
		ck_fix(c, r, "run: update-initramfs -u -k all, then reboot");
		return;
	}
	ck_add(c, "early.initramfs", CHECK_PASS, NULL, "'%s' was built after '%s' changed", file, path);
}
