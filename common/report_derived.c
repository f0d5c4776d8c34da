/* report_derived.c - the captures derived from what the captured files name: udev data of
 * block devices, /dev paths of mounts and swaps, the VMs' hookscripts and ROM files, pci.ids
 * names, what dev_quirks.c reads, the kernel's vfio modules and variant VFIO drivers (see
 * report_int.h). */
#define _GNU_SOURCE
#include "report_int.h"

#include <errno.h>
#include <stdint.h>

#include "cfg_ini.h"
#include "dev_bind.h"
#include "dev_modload.h"
#include "dev_quirks.h"
#include "dev_rom.h"
#include "dev_state.h"
#include "pci_db.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "util.h"

/* Modules whose installed form (module, built in, missing) the checks and the hook ask
 * libkmod for. */
static const char *const kmod_names[] = { "vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core",
					  "vendor_reset", "i915", "xe" };


/* --- derived captures -------------------------------------------------------------------- */

/* /run/udev/data/bMAJ:MIN of every block device (host_dev.c, ZFS pools). */
void report_capture_udev(struct rctx *c)
{
	int n = c->n;

	for (int i = 0; i < n && !c->oom; i++) {
		const struct ent *e = &c->e[i];
		char path[SR_PATH_MAX], devno[32];
		size_t l = strlen(e->path);

		if (e->kind != K_FILE || l < 4 || strcmp(e->path + l - 4, "/dev") != 0 ||
		    !str_has_prefix(e->path, "/sys/devices/") || !e->data)
			continue;
		if (str_copy(devno, sizeof(devno), e->data) < 0)
			continue;
		str_trim(devno);
		if (!*devno || strspn(devno, "0123456789:") != strlen(devno) ||
		    sr_path(path, "/run/udev/data/b%s", devno) < 0)
			continue;
		report_capture_path(c, path, C_TEXT, report_filter_udev);
	}
}

/* The /dev paths mounts and swap areas name (/dev/mapper/pve-root is a link to ../dm-0). */
void report_capture_dev_sources(struct rctx *c)
{
	_cleanup_free_ char *mounts = NULL;
	_cleanup_free_ char *swaps = NULL;
	size_t len;

	if (sr_read_all(c->sr, "/proc/self/mountinfo", REPORT_FILE_MAX, &mounts, &len) < 0)
		mounts = NULL;
	if (sr_read_all(c->sr, "/proc/swaps", REPORT_FILE_MAX, &swaps, &len) < 0)
		swaps = NULL;
	FOR_LINES(mounts, line, len2, nl) {
		char buf[8192], src[SR_PATH_MAX];
		const char *dash;

		if (len2 >= sizeof(buf))
			continue;
		memcpy(buf, line, len2);
		buf[len2] = '\0';
		dash = strstr(buf, " - ");
		if (!dash || sscanf(dash, " - %*s %511s", src) != 1 ||
		    !str_has_prefix(src, "/dev/") || strchr(src, '\\'))
			continue;
		report_capture_path(c, src, C_EXISTS, NULL);
	}
	FOR_LINES(swaps, line, len2, nl) {
		char src[SR_PATH_MAX];

		if (len2 < sizeof(src) && sscanf(line, "%511s", src) == 1 && str_has_prefix(src, "/dev/") &&
		    !strchr(src, '\\'))
			report_capture_path(c, src, C_EXISTS, NULL);
	}
}

/* Each VM's hookscript (its mode: check_vm_hook.c wants an executable) and ROM files. */
void report_capture_vm_files(struct rctx *c)
{
	for (int i = 0; i < c->nvmconf && !c->oom; i++) {
		_cleanup_free_ char *text = NULL;
		_cleanup_free_ struct pve_vmconf *conf = calloc(1, sizeof(*conf));
		char path[SR_PATH_MAX];
		size_t len;
		int line;

		if (!conf) {
			c->oom = true;
			return;
		}
		if (sr_read_all(c->sr, c->vmconf_paths[i], REPORT_FILE_MAX, &text, &len) < 0 ||
		    pve_vmconf_parse(text, conf, &line, NULL, 0) < 0)
			continue;
		for (int j = 0; j < conf->nhostpci; j++)
			if (conf->hostpci[j].romfile[0] && !strstr(conf->hostpci[j].romfile, "..") &&
			    sr_path(path, "/usr/share/kvm/%s", conf->hostpci[j].romfile) == 0)
				report_capture_path(c, path, C_TEXT | C_FOLLOW, NULL);
		const char *hs = conf->hookscript, *colon = strchr(hs, ':');
		char storage[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX];
		struct pve_storage st;

		if (!colon || !str_has_prefix(colon + 1, "snippets/") || strchr(colon + 10, '/') ||
		    strstr(colon + 10, "..") || str_copy_n(storage, sizeof(storage), hs, (size_t)(colon - hs)) < 0 ||
		    pve_storage_load(c->sr, storage, &st) < 0 || pve_storage_snippets_dir(&st, dir) < 0 ||
		    sr_path(path, "%s/%s", dir, colon + 10) < 0)
			continue;
		report_capture_path(c, path, C_EXISTS | C_MODE | C_FOLLOW, NULL);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* pci.ids with exactly the names this host gives its devices (libpci reads the host's
 * database and udev's hwdb; the replay reads this file only). */
void report_capture_pci_names(struct rctx *c)
{
	struct pcidb *db = NULL;
	struct sbuf b = { 0 };
	uint16_t last_vendor = 0;
	bool have_vendor = false;
	uint32_t *classes;
	int ncls = 0;

	if (state_pcidb_load(c->sr, &db) < 0)
		return;
	classes = calloc((size_t)(db->ndev ? db->ndev : 1), sizeof(*classes));
	if (!classes) {
		c->oom = true;
		pcidb_free(db);
		return;
	}
	sb_str(&b, "# The names this host's PCI devices had (pve-gpu-passthrough report)\n");
	/* byaddr is not sorted by vendor: one pass per vendor in order of first appearance */
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = db->dev[db->byaddr[j]].vendor == d->vendor;
		if (seen)
			continue;
		char vname[256], dname[256], line[600];
		const char *vn = pcidb_vendor_name(db, d->vendor, vname, sizeof(vname));

		last_vendor = d->vendor;
		have_vendor = vn != NULL;
		if (!have_vendor)
			continue;
		snprintf(line, sizeof(line), "%04x  %s\n", d->vendor, vn);
		sb_str(&b, line);
		for (int j = i; j < db->ndev; j++) {
			const struct pci_dev_info *x = &db->dev[db->byaddr[j]];
			bool dup = false;
			const char *dn;

			if (x->vendor != last_vendor)
				continue;
			for (int k = i; k < j && !dup; k++)
				dup = db->dev[db->byaddr[k]].vendor == x->vendor &&
				      db->dev[db->byaddr[k]].device == x->device;
			if (dup || !(dn = pcidb_device_name(db, x->vendor, x->device, dname, sizeof(dname))))
				continue;
			snprintf(line, sizeof(line), "\t%04x  %s\n", x->device, dn);
			sb_str(&b, line);
		}
	}
	for (int i = 0; i < db->ndev; i++) {
		uint32_t k = db->dev[i].class >> 8;
		bool seen = false;

		for (int j = 0; j < ncls && !seen; j++)
			seen = classes[j] == k;
		if (!seen)
			classes[ncls++] = k;
	}
	qsort(classes, (size_t)ncls, sizeof(*classes), cmp_u32);
	for (int i = 0; i < ncls; i++) {
		char name[256], line[600];
		const char *cn = pcidb_class_name(db, classes[i] << 8, name, sizeof(name));

		if (!cn)
			continue;
		/* One "C" line per base class (libpci refuses a database with duplicates); its own
		 * name is never printed, as every subclass asked for has its line. */
		if (i == 0 || classes[i - 1] >> 8 != classes[i] >> 8) {
			snprintf(line, sizeof(line), "C %02x  %s\n", classes[i] >> 8, cn);
			sb_str(&b, line);
		}
		snprintf(line, sizeof(line), "\t%02x  %s\n", classes[i] & 0xff, cn);
		sb_str(&b, line);
	}
	free(classes);
	pcidb_free(db);
	char *text = sb_done(&b);

	if (!text) {
		c->oom = true;
		return;
	}
	report_add_file(c, "/usr/share/misc/pci.ids", text, strlen(text));
	free(text);
}

/* What dev_quirks.c reads beyond plain files: the running nvidia-persistenced (its comm, the
 * cgroup of its unit and its program, not every process's), and whether vendor-reset's module
 * file is signed (a stand-in file that ends with the signature marker, or is empty: the module
 * itself stays out). */
void report_capture_quirks(struct rctx *c)
{
	static const char sig[] = "~Module signature appended~\n";
	static const char cgroup[] = "0::/system.slice/" QUIRKS_PERSISTENCED_UNIT "\n";
	struct vendor_reset_state vr;
	char path[SR_PATH_MAX], exe[SR_PATH_MAX];
	pid_t pid = quirks_nvidia_daemon(c->sr);

	if (pid > 0 && sr_path(path, "/proc/%d/comm", (int)pid) == 0)
		report_add_file(c, path, "nvidia-persiste\n", strlen("nvidia-persiste\n"));
	if (pid > 0 && sr_path(path, "/proc/%d/cgroup", (int)pid) == 0)
		report_add_file(c, path, cgroup, strlen(cgroup));
	if (pid > 0 && sr_path(path, "/proc/%d/exe", (int)pid) == 0 &&
	    sr_readlink(c->sr, path, exe, sizeof(exe)) == 0) {
		exe[strcspn(exe, " ")] = '\0'; /* " (deleted)": the program was replaced */
		report_add(c, path, K_LINK, exe, strlen(exe), 0);
	}
	if (quirks_vendor_reset(c->sr, &vr) == 0 && vr.file && vr.file_signed >= 0 &&
	    !strpbrk(vr.path, " \t\n"))
		report_add_file(c, vr.path, vr.file_signed ? sig : "", vr.file_signed ? strlen(sig) : 0);
}

#define REPORT_VARIANTS 32 /* variant VFIO drivers written, at most */
#define REPORT_VFIO_ALIASES 64 /* vfio_pci: aliases written, at most */

struct capture_kmod {
	struct rctx *c;
	FILE *out;
	const char *release, *dir;
	struct kmod_ctx *ctx;
	/* the variant modules written (once each) */
	char mods[REPORT_VARIANTS][PCIDEV_NAME_MAX];
	int nmods;
	const char *alias; /* the vfio_pci: alias being looked up */
	bool hit;          /* a variant for it was written */
	int naliases;
};

/* The first module a name resolves to, as a `kmod` line. */
static int capture_module(void *data, const char *name, const char *path)
{
	struct capture_kmod *k = data;
	size_t dl = strlen(k->dir);

	if (path && !strncmp(path, k->dir, dl) && path[dl] == '/' && !strpbrk(path, " \t\n"))
		fprintf(k->out, "kmod %s module %s\n", k->release, path + dl + 1);
	else if (!path)
		fprintf(k->out, "kmod %s builtin %s\n", k->release, name);
	k->c->st.modules++;
	return 1;
}

/* Variant module NAME as capture_module writes it, once; false when it was not written. */
static bool capture_variant(struct capture_kmod *k, const char *name)
{
	char mod[PCIDEV_NAME_MAX];

	/* libkmod's name for it: one line whichever way the INI spells it */
	if (strpbrk(name, " \t\n") || modload_modname(name, mod, sizeof(mod)) < 0)
		return false;
	for (int i = 0; i < k->nmods; i++)
		if (!strcmp(k->mods[i], mod))
			return true;
	if (k->nmods == REPORT_VARIANTS)
		return false;
	memcpy(k->mods[k->nmods++], mod, sizeof(mod));
	modload_lookup(k->ctx, mod, capture_module, k);
	return true;
}

/* A module the vfio_pci: alias K->alias resolves to: a variant's (not vfio_pci's own), as a
 * modules.alias line of that exact alias and the module's line; the first one only (the
 * replay's index holds one module per alias). */
static int capture_alias(void *data, const char *name, const char *path)
{
	struct capture_kmod *k = data;

	(void)path;
	if (k->hit || k->naliases == REPORT_VFIO_ALIASES || !cfg_vfio_variant(name) ||
	    !capture_variant(k, name))
		return 0;
	fprintf(k->out, "kmod %s alias %s %s\n", k->release, k->alias, name);
	k->hit = true;
	k->naliases++;
	return 0;
}

static bool same_ids(const struct pci_dev_info *a, const struct pci_dev_info *b)
{
	return a->vendor == b->vendor && a->device == b->device && a->subvendor == b->subvendor &&
	       a->subdevice == b->subdevice && a->class == b->class;
}

/* What check's variant checks (sriov.variant, vm.variant) ask libkmod: the variant VFIO
 * drivers the INI names (is there such a module), and the variant each device's vfio_pci:
 * alias resolves to (bind_variant_matches), as `kmod` lines. */

static void capture_variants(struct rctx *c, struct capture_kmod *k)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	struct pcidb *db = NULL;
	char err[256], alias[BIND_VFIO_ALIAS_MAX];

	if (!cfg) {
		c->oom = true;
		return;
	}
	if (cfg_load(c->sr, NULL, cfg, err, sizeof(err)) == 0) {
		if (cfg->sriov.set && cfg_vfio_variant(cfg->sriov.driver))
			capture_variant(k, cfg->sriov.driver);
		if (cfg_vfio_variant(cfg->hook.vfio_driver))
			capture_variant(k, cfg->hook.vfio_driver);
		for (int i = 0; i < cfg->nvms; i++)
			if (cfg_vfio_variant(cfg->vms[i].opts.vfio_driver))
				capture_variant(k, cfg->vms[i].opts.vfio_driver);
	}
	if (state_pcidb_load(c->sr, &db) < 0)
		return;
	for (int i = 0; i < db->ndev && k->naliases < REPORT_VFIO_ALIASES; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool dup = false;

		/* VFs share their PF's ids: one lookup per alias */
		for (int j = 0; j < i && !dup; j++)
			dup = same_ids(&db->dev[db->byaddr[j]], d);
		if (dup)
			continue;
		bind_vfio_alias(d, alias, sizeof(alias));
		k->alias = alias;
		k->hit = false;
		modload_lookup(k->ctx, alias, capture_alias, k);
	}
	pcidb_free(db);
}

/* How the running kernel has the vfio modules and the variant VFIO drivers, as `kmod` lines
 * (libkmod's indexes are megabytes; the replay writes small ones from these lines). */
void report_capture_modules(struct rctx *c, FILE *out, const char *release)
{
	_cleanup_free_ struct capture_kmod *k = calloc(1, sizeof(*k));
	struct kmod_ctx *ctx;
	int r;

	if (!k) {
		c->oom = true;
		return;
	}
	if (!release[0] || strpbrk(release, "/ \t"))
		return;
	*k = (struct capture_kmod){ .c = c, .out = out, .release = release };
	r = modload_ctx_new(c->sr, release, NULL, MODLOAD_NO_CONFIG, &ctx);
	if (r < 0) {
		if (r == -ENOMEM)
			c->oom = true;
		return;
	}
	k->ctx = ctx;
	k->dir = modload_ctx_dirname(ctx);
	fprintf(out, "dir /lib/modules/%s\n", release);
	for (size_t i = 0; i < ARRAY_SIZE(kmod_names); i++)
		modload_lookup(ctx, kmod_names[i], capture_module, k);
	capture_variants(c, k);
	modload_ctx_free(ctx);
}

