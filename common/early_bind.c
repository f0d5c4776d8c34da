/* early_bind.c - see early_bind.h.
 *
 * Rules for the boot-time sequence (it runs before udev, on every boot of the host):
 *  1. Only devices the INI names are touched, and only by the bind engine (dev_bind.h): the same
 *     driver_override, unbind and drivers_probe sequence the hookscript uses.
 *  2. A device without an IOMMU group is left alone: vfio-pci would fail to probe it and the
 *     override would keep its own driver away too (lab finding 4).
 *  3. drivers_probe succeeds even when nothing binds, so the driver link is re-read; a device
 *     that is not on vfio-pci afterwards gets its override cleared and is probed again.
 */
#define _GNU_SOURCE
#include "early_bind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_modload.h"
#include "util.h"
#include "sysfs.h"

#define MAX_HOST_DEVS 1024

bool early_configured(const struct early_opts *e)
{
	return e->nids > 0 || e->naddrs > 0;
}

static int add_dev(struct early_sel *sel, const struct pci_dev_info *info, const char *name)
{
	struct early_dev *d;

	if (sel->n >= EARLY_MAX_DEVS)
		return -E2BIG;
	d = &sel->devs[sel->n++];
	memset(d, 0, sizeof(*d));
	d->iommu_group = -1;
	if (info) {
		memcpy(d->name, info->name, sizeof(d->name));
		d->vendor = info->vendor;
		d->device = info->device;
		d->present = true;
		d->iommu_group = info->iommu_group;
		memcpy(d->driver, info->driver, sizeof(d->driver));
		memcpy(d->override, info->override, sizeof(d->override));
	} else {
		str_copy(d->name, sizeof(d->name), name);
	}
	return 0;
}

int early_select(const struct sysroot *sr, const struct early_opts *e, struct early_sel *sel)
{
	char(*names)[PCI_ADDR_LEN] = NULL;
	bool id_hit[CONFIG_MAX_EARLY] = { false }, addr_hit[CONFIG_MAX_EARLY] = { false };
	struct pci_dev_info info;
	int n, r = 0;

	memset(sel, 0, sizeof(*sel));
	if (!early_configured(e))
		return 0;
	names = calloc(MAX_HOST_DEVS, sizeof(*names));
	if (!names)
		return -ENOMEM;
	n = pcidev_list(sr, names, MAX_HOST_DEVS);
	if (n == -ENOENT)
		n = 0; /* no PCI bus at all: everything is missing */
	if (n < 0) {
		r = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		bool by_addr = false, by_id = false;

		r = pcidev_read(sr, names[i], &info);
		if (r == -ENOENT)
			continue; /* removed while we looked */
		if (r < 0)
			goto out;
		for (int a = 0; a < e->naddrs; a++)
			if (pci_addr_eq(&e->addrs[a], &info.addr))
				by_addr = addr_hit[a] = true;
		for (int k = 0; k < e->nids; k++)
			if (e->ids[k].vendor == info.vendor && e->ids[k].device == info.device)
				by_id = id_hit[k] = true;
		if (!by_addr && !by_id)
			continue;
		r = add_dev(sel, &info, NULL);
		if (r < 0)
			goto out;
		sel->devs[sel->n - 1].by_addr = by_addr;
		sel->devs[sel->n - 1].by_id = by_id;
	}
	for (int a = 0; a < e->naddrs; a++) {
		char name[PCI_ADDR_LEN];

		if (addr_hit[a])
			continue;
		pci_addr_fmt(&e->addrs[a], name);
		r = add_dev(sel, NULL, name);
		if (r < 0)
			goto out;
		sel->devs[sel->n - 1].by_addr = true;
	}
	for (int k = 0; k < e->nids; k++)
		if (!id_hit[k])
			sel->id_unmatched[sel->nid_unmatched++] = k;
	r = sel->n;
out:
	free(names);
	return r;
}

int early_kmod_new(const struct sysroot *sr, const char *moddir, struct kmod_ctx **ret)
{
	return modload_ctx_new(sr, NULL, moddir, MODLOAD_ROOT_CONFIG, ret);
}

struct host_modules {
	char (*names)[PCIDEV_NAME_MAX];
	int n, max;
	bool *builtin;
};

static int host_module(void *data, const char *name, const char *path)
{
	struct host_modules *h = data;

	/* vfio-pci's own alias and its variant drivers are vfio_pci:..., never pci:...;
	 * skip any vfio module a config alias might still bring in. */
	if (str_has_prefix(name, "vfio"))
		return 0;
	/* Built-in: no softdep can order it (the boot script unbinds it instead). */
	if (!path) {
		if (h->builtin)
			*h->builtin = true;
		return 0;
	}
	for (int i = 0; i < h->n; i++)
		if (!strcmp(h->names[i], name))
			return 0;
	if (h->n < h->max && strlen(name) < PCIDEV_NAME_MAX)
		strcpy(h->names[h->n++], name);
	return 0;
}

int early_host_modules(struct kmod_ctx *ctx, const char *modalias, char (*names)[PCIDEV_NAME_MAX],
		       int max, bool *builtin)
{
	struct host_modules h = { .names = names, .max = max, .builtin = builtin };
	int r;

	if (builtin)
		*builtin = false;
	r = modload_lookup(ctx, modalias, host_module, &h);
	return r < 0 ? r : h.n;
}

/* Appends to BUF at *LEN; -ENOSPC when it does not fit. */
static int append(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size - *len) {
		buf[*len] = '\0';
		return -ENOSPC;
	}
	*len += (size_t)n;
	return 0;
}

int early_modprobe_conf(const struct sysroot *sr, struct kmod_ctx *ctx, const struct early_opts *e,
			const struct early_sel *sel, char *buf, size_t size)
{
	char mods[64][PCIDEV_NAME_MAX];
	int nmods = 0, r;
	size_t len = 0;

	if (size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (e->nids == 0)
		return 0;
	if ((r = append(buf, size, &len, "options vfio-pci ids=")) < 0)
		return r;
	for (int k = 0; k < e->nids; k++)
		if ((r = append(buf, size, &len, "%s%04x:%04x", k ? "," : "", e->ids[k].vendor,
				e->ids[k].device)) < 0)
			return r;
	if ((r = append(buf, size, &len, "%s\n", e->disable_vga ? " disable_vga=1" : "")) < 0)
		return r;
	for (int i = 0; i < sel->n; i++) {
		const struct early_dev *d = &sel->devs[i];
		char path[SR_PATH_MAX], alias[256], found[8][PCIDEV_NAME_MAX];
		bool builtin = false;
		int nf;

		if (!d->present || !d->by_id)
			continue;
		if ((r = sysfs_pci_dev(path, d->name, "modalias")) < 0)
			return r;
		if ((r = (int)sr_read_str(sr, path, alias, sizeof(alias))) < 0)
			return r;
		nf = early_host_modules(ctx, alias, found, (int)ARRAY_SIZE(found), &builtin);
		if (nf < 0)
			return nf;
		if (builtin &&
		    (r = append(buf, size, &len,
				"# %s: a driver built into the kernel claims it; the boot script "
				"unbinds it\n",
				d->name)) < 0)
			return r;
		for (int j = 0; j < nf; j++) {
			bool dup = false;

			for (int m = 0; m < nmods; m++)
				dup = dup || !strcmp(mods[m], found[j]);
			if (dup || nmods >= (int)ARRAY_SIZE(mods))
				continue;
			strcpy(mods[nmods++], found[j]);
			if ((r = append(buf, size, &len, "softdep %s pre: vfio-pci\n", found[j])) < 0)
				return r;
		}
	}
	return (int)len;
}

bool early_enabled_on_cmdline(const struct sysroot *sr)
{
	char buf[4096], *save = NULL;

	if (sr_read_str(sr, "/proc/cmdline", buf, sizeof(buf)) < 0)
		return true;
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		const char *v;
		bool on;

		if (str_has_prefix(t, "pve-gpu-passthrough.early="))
			v = t + strlen("pve-gpu-passthrough.early=");
		else if (str_has_prefix(t, "pve_gpu_passthrough.early="))
			v = t + strlen("pve_gpu_passthrough.early=");
		else
			continue;
		if (parse_bool(v, &on) == 0 && !on)
			return false;
	}
	return true;
}

int early_bind(const struct sysroot *sr, const struct early_sel *sel, const struct early_ops *ops,
	       struct early_result *res)
{
	struct bind_ops bo = {
		.sr = sr,
		.unbind_timeout_ms = EARLY_UNBIND_TIMEOUT_MS,
		.bind_timeout_ms = ops->timeout_ms ? ops->timeout_ms : 2000,
		.load = ops->load,
		.data = ops->data,
	};
	_cleanup_free_ struct bind_dev *bd = calloc(sel->n ? (size_t)sel->n : 1, sizeof(*bd));
	int idx[EARLY_MAX_DEVS], n = 0, nfailed = 0;

	if (!bd)
		return -ENOMEM;
	for (int i = 0; i < sel->n; i++) {
		const struct early_dev *d = &sel->devs[i];

		memset(&res[i], 0, sizeof(res[i]));
		memcpy(res[i].driver, d->driver, sizeof(res[i].driver));
		if (!d->present) {
			res[i].outcome = EARLY_MISSING;
			continue;
		}
		/* vfio-pci would fail to probe it, and the override would keep its own driver
		 * away too */
		if (d->iommu_group < 0) {
			res[i].outcome = EARLY_NO_IOMMU;
			continue;
		}
		str_copy(bd[n].name, sizeof(bd[n].name), d->name);
		str_copy(bd[n].driver, sizeof(bd[n].driver), d->driver);
		str_copy(bd[n].override, sizeof(bd[n].override), d->override);
		idx[n++] = i;
	}
	if (n)
		bind_to_vfio(&bo, bd, n, BIND_EACH);
	for (int k = 0; k < n; k++) {
		struct early_result *r = &res[idx[k]];
		const struct bind_dev *b = &bd[k];

		str_copy(r->driver, sizeof(r->driver), b->now);
		if (b->already) {
			r->outcome = EARLY_ALREADY;
		} else if (b->moved) {
			r->outcome = EARLY_BOUND;
			if (b->unbound)
				str_copy(r->old_driver, sizeof(r->old_driver), b->from);
		} else {
			r->outcome = EARLY_FAILED;
			r->step = bind_step_name(b->step);
			r->err = b->err;
			nfailed++;
		}
	}
	return nfailed;
}

static const char *const outcome_names[] = {
	[EARLY_BOUND] = "bound",       [EARLY_ALREADY] = "already", [EARLY_MISSING] = "missing",
	[EARLY_NO_IOMMU] = "no-iommu", [EARLY_FAILED] = "failed",
};

const char *early_outcome_name(enum early_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

int early_result_line(const struct early_dev *d, const struct early_result *r, char *buf,
		      size_t size)
{
	const char *drv = r->driver[0] ? r->driver : "no driver";
	int n;

	switch (r->outcome) {
	case EARLY_MISSING:
		n = snprintf(buf, size, "%s not present, skipped", d->name);
		break;
	case EARLY_BOUND:
		if (r->old_driver[0])
			n = snprintf(buf, size, "%s %04x:%04x -> vfio-pci (unbound from %s)", d->name,
				     d->vendor, d->device, r->old_driver);
		else
			n = snprintf(buf, size, "%s %04x:%04x -> vfio-pci", d->name, d->vendor,
				     d->device);
		break;
	case EARLY_ALREADY:
		n = snprintf(buf, size, "%s %04x:%04x -> vfio-pci (already)", d->name, d->vendor,
			     d->device);
		break;
	case EARLY_NO_IOMMU:
		n = snprintf(buf, size,
			     "%s %04x:%04x has no IOMMU group (is the IOMMU on?), left to %s",
			     d->name, d->vendor, d->device, drv);
		break;
	case EARLY_FAILED:
		if (r->err == -ETIMEDOUT)
			n = snprintf(buf, size, "%s %04x:%04x -> %s: vfio-pci did not take it (see dmesg)",
				     d->name, d->vendor, d->device, drv);
		else
			n = snprintf(buf, size, "%s %04x:%04x -> %s: %s failed: %s", d->name, d->vendor,
				     d->device, drv, r->step ? r->step : "binding",
				     strerror(-r->err));
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int early_record_write(const struct sysroot *sr, const struct early_sel *sel,
		       const struct early_result *res)
{
	size_t size = (size_t)(sel->n + 1) * 320, len = 0; /* name, outcome, line */
	_cleanup_free_ char *buf = malloc(size);
	char line[256];
	int r;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (int i = 0; i < sel->n; i++) {
		if ((r = early_result_line(&sel->devs[i], &res[i], line, sizeof(line))) < 0)
			return r;
		if ((r = append(buf, size, &len, "%s %s %s\n", sel->devs[i].name,
				early_outcome_name(res[i].outcome), line)) < 0)
			return r;
	}
	r = sr_mkdir_p(sr, "/run/pve-gpu-passthrough", 0755);
	if (r < 0)
		return r;
	return sr_write_file_atomic(sr, EARLY_RECORD, buf, len, 0644);
}

int early_record_lookup(const struct sysroot *sr, const char *name, char *msg, size_t msgsize)
{
	char buf[EARLY_MAX_DEVS * 320], *save = NULL;
	size_t nlen = strlen(name);
	ssize_t n = sr_read(sr, EARLY_RECORD, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *word, *rest;

		if (strncmp(l, name, nlen) != 0 || l[nlen] != ' ')
			continue;
		word = l + nlen + 1;
		rest = strchr(word, ' ');
		if (rest)
			*rest++ = '\0';
		if (msg && msgsize && str_copy(msg, msgsize, rest ? rest : "") < 0)
			msg[0] = '\0';
		for (unsigned o = 0; o < ARRAY_SIZE(outcome_names); o++)
			if (!strcmp(word, outcome_names[o]))
				return (int)o;
		return -EINVAL;
	}
	return -ENOENT;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

/* True when the file name (last component of PATH, LEN bytes) is MOD.ko or MOD.ko.<ext>. */
static bool is_module(const char *path, size_t len, const char *mod)
{
	const char *base = path;
	size_t n = strlen(mod);

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	len -= (size_t)(base - path);
	if (len < n + 3 || memcmp(base + n, ".ko", 3) || (len != n + 3 && base[n + 3] != '.'))
		return false;
	/* module names compare with '-' and '_' equal (vfio-pci.ko is vfio_pci) */
	for (size_t i = 0; i < n; i++)
		if (base[i] != mod[i] && !((base[i] == '-' || base[i] == '_') &&
					   (mod[i] == '-' || mod[i] == '_')))
			return false;
	return true;
}

bool early_image_has_vfio(const struct early_image *img)
{
	for (int i = 0; i < bind_nvfio_modules; i++)
		if (!img->vfio[i])
			return false;
	return true;
}

void early_image_scan(const char *listing, struct early_image *img)
{
	const char *p = listing;

	memset(img, 0, sizeof(*img));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		img->binary |= ends_with(p, len, "sbin/pve-gpu-passthrough-early");
		img->ini |= ends_with(p, len, "etc/pve-gpu-passthrough.ini");
		img->script |= ends_with(p, len, "scripts/init-top/pve-gpu-passthrough");
		img->modprobe_conf |= ends_with(p, len, "etc/modprobe.d/pve-gpu-passthrough.conf");
		img->udev |= ends_with(p, len, "scripts/init-top/udev");
		for (int i = 0; i < bind_nvfio_modules; i++)
			img->vfio[i] |= is_module(p, len, bind_vfio_modules[i].name);
		if (!nl)
			break;
		p = nl + 1;
	}
}
