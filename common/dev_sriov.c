/* dev_sriov.c - see dev_sriov.h. */
#define _GNU_SOURCE
#include "dev_sriov.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_bind.h"
#include "dev_modload.h"
#include "dev_quirks.h"
#include "pci_dev.h"
#include "sysfs.h"
#include "util.h"

#define MAX_PCI_DEVS 4096

/* sriov_drivers_autoprobe: 0, 1, or -1 when absent or unreadable. */
static int read_autoprobe(const struct sysroot *sr, const char *dev)
{
	char path[SR_PATH_MAX];
	unsigned long v;

	if (sysfs_pci_dev(path, dev, "sriov_drivers_autoprobe") < 0 ||
	    sr_read_ulong(sr, path, 0, &v) < 0)
		return -1;
	return v != 0;
}

int sriov_find_pf(const struct sysroot *sr, const struct sriov_opts *o, char pf[PCI_ADDR_LEN],
		  char *err, size_t errsize)
{
	char(*names)[PCI_ADDR_LEN];
	char path[SR_PATH_MAX];
	int n, found = 0;

	if (!o->by_id) {
		pci_addr_fmt(&o->pf, pf);
		if (sysfs_pci_dev(path, pf, NULL) < 0 || !sr_exists(sr, path)) {
			snprintf(err, errsize, "PF %s: no such PCI device", pf);
			return -ENODEV;
		}
		return 0;
	}
	if (!(names = calloc(MAX_PCI_DEVS, sizeof(*names)))) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	n = pcidev_list(sr, names, MAX_PCI_DEVS);
	if (n < 0) {
		snprintf(err, errsize, "cannot list PCI devices: %s", strerror(-n));
		free(names);
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct pci_dev_info d;
		struct sriov_info si;

		if (pcidev_read(sr, names[i], &d) < 0 || d.vendor != o->vendor ||
		    d.device != o->device || quirks_sriov(sr, names[i], &si) < 0 || si.is_vf)
			continue;
		if (found++)
			continue;
		str_copy(pf, PCI_ADDR_LEN, names[i]);
	}
	free(names);
	if (found == 1)
		return 0;
	if (!found)
		snprintf(err, errsize, "no PF has the id %04x:%04x", o->vendor, o->device);
	else
		snprintf(err, errsize, "%d devices have the id %04x:%04x; give the PF as an address",
			 found, o->vendor, o->device);
	return found ? -EEXIST : -ENODEV;
}

int sriov_read(const struct sysroot *sr, const char *pf, struct sriov_state *st)
{
	_cleanup_free_ char(*vfs)[PCI_ADDR_LEN] = NULL;
	char path[SR_PATH_MAX];
	struct sriov_info si;
	int r, n;

	memset(st, 0, sizeof(*st));
	st->autoprobe = -1;
	if (str_copy(st->pf, sizeof(st->pf), pf) < 0 || quirks_sriov(sr, pf, &si) < 0)
		return -ENODEV;
	if ((r = pcidev_driver(sr, pf, st->pf_driver, sizeof(st->pf_driver))) < 0)
		return r;
	st->capable = si.totalvfs > 0;
	if (!st->capable)
		return 0;
	st->totalvfs = (unsigned)si.totalvfs;
	st->numvfs = si.numvfs > 0 ? (unsigned)si.numvfs : 0;
	st->autoprobe = read_autoprobe(sr, pf);
	if (!(vfs = calloc(CONFIG_MAX_VFS, sizeof(*vfs))))
		return -ENOMEM;
	n = quirks_sriov_vfs(sr, pf, vfs, CONFIG_MAX_VFS);
	for (int i = 0; i < n && i < (int)st->numvfs; i++) {
		struct sriov_vf *vf = &st->vf[st->nvfs];

		str_copy(vf->name, sizeof(vf->name), vfs[i]);
		if (pcidev_driver(sr, vf->name, vf->driver, sizeof(vf->driver)) < 0)
			break;
		if (sysfs_pci_dev(path, vf->name, "driver_override") == 0 &&
		    sr_read_str(sr, path, vf->override, sizeof(vf->override)) >= 0 &&
		    !strcmp(vf->override, "(null)"))
			vf->override[0] = '\0';
		st->nvfs++;
	}
	return 0;
}

int sriov_vf_index(const struct sysroot *sr, const char *pf, const struct pci_addr *addr,
		   unsigned vfs)
{
	char path[SR_PATH_MAX];
	unsigned long off, stride;
	struct pci_addr p;
	uint32_t pf_rid, rid;

	if (pci_addr_parse(pf, &p) < 0 || p.domain != addr->domain)
		return -ENOENT;
	pf_rid = (uint32_t)p.bus << 8 | (uint32_t)p.slot << 3 | p.func;
	rid = (uint32_t)addr->bus << 8 | (uint32_t)addr->slot << 3 | addr->func;
	if (rid <= pf_rid)
		return -ENOENT;
	if (sysfs_pci_dev(path, pf, "sriov_offset") < 0 || sr_read_ulong(sr, path, 0, &off) < 0 ||
	    sysfs_pci_dev(path, pf, "sriov_stride") < 0 || sr_read_ulong(sr, path, 0, &stride) < 0)
		return 0; /* no way to tell which: after the PF, in its domain */
	if (off == 0 || rid < pf_rid + off)
		return -ENOENT;
	rid -= (uint32_t)(pf_rid + off); /* I * stride */
	if (stride == 0)
		return rid == 0 && vfs > 0 ? 0 : -ENOENT;
	return rid % stride == 0 && rid / stride < vfs ? (int)(rid / stride) : -ENOENT;
}

static int write_attr(const struct sysroot *sr, const char *dev, const char *attr, unsigned v)
{
	char path[SR_PATH_MAX], val[16];
	int r;

	if ((r = sysfs_pci_dev(path, dev, attr)) < 0)
		return r;
	snprintf(val, sizeof(val), "%u", v);
	return sr_write(sr, path, val);
}

/* Step 2: the VFs' driver registered. */
static int load_driver(const struct sriov_ops *ops, const char *driver, char *err, size_t errsize)
{
	char path[SR_PATH_MAX], why[256] = "";
	int r;

	if (sysfs_bus_driver(path, "pci", driver, NULL) < 0)
		return -EINVAL;
	if (sr_exists(ops->sr, path))
		return 0;
	if (!strcmp(driver, BIND_VFIO)) {
		struct bind_ops b = { .sr = ops->sr, .load = ops->load, .data = ops->data };

		r = bind_load_vfio(&b);
	} else {
		r = ops->load ? ops->load(ops->data, driver, why, sizeof(why))
			      : modload_load(ops->sr, driver, why, sizeof(why));
	}
	if (r == 0 && !sr_dry_run(ops->sr) && !sr_exists(ops->sr, path))
		r = -ENOENT;
	if (r < 0)
		snprintf(err, errsize, "the VFs' driver %s is not loaded and did not load%s%s", driver,
			 why[0] ? ": " : "", why);
	return r < 0 ? r : 0;
}

int sriov_apply(const struct sriov_ops *ops, const struct sriov_opts *o, struct sriov_state *st,
		int *changes, char *err, size_t errsize)
{
	const struct sysroot *sr = ops->sr;
	uint64_t deadline;
	unsigned step = 0;
	char pf[PCI_ADDR_LEN], now[64];
	int r, held = 0, first_held = -1;

	*changes = 0;
	if ((r = sriov_find_pf(sr, o, pf, err, errsize)) < 0)
		return r;
	if ((r = sriov_read(sr, pf, st)) < 0) {
		snprintf(err, errsize, "PF %s: cannot read its state: %s", pf, strerror(-r));
		return r;
	}
	/* 1. a PF that can make the VFs */
	if (!st->pf_driver[0]) {
		snprintf(err, errsize, "PF %s has no driver; its driver makes the VFs (load it, e.g. "
				       "i915 or xe with SR-IOV, then run again)", pf);
		return -ENODEV;
	}
	if (!st->capable || st->autoprobe < 0) {
		snprintf(err, errsize, "PF %s cannot make VFs: its driver %s offers none "
				       "(no sriov_totalvfs)", pf, st->pf_driver);
		return -EOPNOTSUPP;
	}
	if (o->vfs > st->totalvfs) {
		snprintf(err, errsize, "PF %s offers at most %u VFs; the INI asks for %u", pf,
			 st->totalvfs, o->vfs);
		return -ERANGE;
	}
	if (st->numvfs != 0 && st->numvfs != o->vfs) {
		snprintf(err, errsize, "PF %s has %u VFs, the INI asks for %u: the kernel changes the "
				       "count only from 0; stop what uses its VFs, write 0 to its "
				       "sriov_numvfs and run again", pf, st->numvfs, o->vfs);
		return -EBUSY;
	}
	/* 2. the driver */
	if ((r = load_driver(ops, o->driver, err, errsize)) < 0)
		return r;
	/* 3. no host driver for new VFs */
	if (st->autoprobe != 0) {
		if ((r = write_attr(sr, pf, "sriov_drivers_autoprobe", 0)) < 0) {
			snprintf(err, errsize, "PF %s: cannot write sriov_drivers_autoprobe: %s", pf,
				 strerror(-r));
			return r;
		}
		++*changes;
	}
	/* 4. the VFs */
	if (st->numvfs == 0) {
		if ((r = write_attr(sr, pf, "sriov_numvfs", o->vfs)) < 0) {
			snprintf(err, errsize, "PF %s: writing %u to sriov_numvfs failed: %s", pf,
				 o->vfs, strerror(-r));
			return r;
		}
		++*changes;
		if (sr_dry_run(sr))
			return 0; /* the rest is about VFs that a dry run does not make */
	}
	/* 5. wait for them */
	deadline = now_ms() + ops->timeout_ms;
	for (;;) {
		if ((r = sriov_read(sr, pf, st)) < 0) {
			snprintf(err, errsize, "PF %s: cannot read its state: %s", pf, strerror(-r));
			return r;
		}
		if (st->nvfs == (int)o->vfs)
			break;
		if (!backoff_wait(&step, deadline)) {
			snprintf(err, errsize, "PF %s: %d of %u VFs appeared within %lu ms", pf,
				 st->nvfs, o->vfs, ops->timeout_ms);
			return -ETIMEDOUT;
		}
	}
	/* 6. each VF to the driver */
	for (int i = 0; i < st->nvfs; i++) {
		struct sriov_vf *vf = &st->vf[i];

		if (!strcmp(vf->driver, o->driver))
			continue;
		if (vf->driver[0]) {
			if (!held++)
				first_held = i;
			continue;
		}
		if ((r = bind_set_override(sr, vf->name, o->driver)) < 0) {
			snprintf(err, errsize, "VF %s: cannot set driver_override: %s", vf->name,
				 strerror(-r));
			return r;
		}
		*changes += r;
		if ((r = bind_probe(sr, vf->name, ops->timeout_ms)) < 0) {
			snprintf(err, errsize, "VF %s: drivers_probe failed: %s", vf->name,
				 strerror(-r));
			return r;
		}
		++*changes;
	}
	for (int i = 0; i < st->nvfs; i++) {
		uint64_t t = now_ms();

		if (st->vf[i].driver[0])
			continue;
		r = bind_wait_driver(sr, st->vf[i].name, o->driver, deadline > t ? deadline - t : 0,
				     now, sizeof(now));
		if (r < 0) {
			snprintf(err, errsize, "VF %s: %s did not take it (%s)", st->vf[i].name,
				 o->driver, r == -ETIMEDOUT ? (now[0] ? now : "no driver")
							    : strerror(-r));
			return r;
		}
	}
	if ((r = sriov_read(sr, pf, st)) < 0) {
		snprintf(err, errsize, "PF %s: cannot read its state: %s", pf, strerror(-r));
		return r;
	}
	if (held) {
		snprintf(err, errsize, "VF %s is on %s, not %s (%d VF%s on other drivers, left there): "
				       "a host driver that probed it before autoprobe was off, or a VM",
			 st->vf[first_held].name, st->vf[first_held].driver, o->driver, held,
			 held == 1 ? "" : "s");
		return -EBUSY;
	}
	return 0;
}

int sriov_drop_pf_ids(const struct sysroot *sr, struct sriov_pf_id out[SRIOV_MAX_PF_IDS])
{
	_cleanup_free_ char(*names)[PCI_ADDR_LEN] = NULL;
	char path[SR_PATH_MAX];
	int n, nout = 0;

	if (sysfs_bus_driver(path, "pci", BIND_VFIO, "remove_id") < 0 || !sr_exists(sr, path))
		return 0; /* vfio-pci not loaded: it has no dynamic ids */
	if (!(names = calloc(MAX_PCI_DEVS, sizeof(*names))))
		return -ENOMEM;
	if ((n = pcidev_list(sr, names, MAX_PCI_DEVS)) < 0)
		return n;
	for (int i = 0; i < n && nout < SRIOV_MAX_PF_IDS; i++) {
		struct pci_dev_info d;
		struct sriov_info si;
		bool seen = false;
		int r;

		if (quirks_sriov(sr, names[i], &si) < 0 || si.is_vf || si.numvfs <= 0 ||
		    pcidev_read(sr, names[i], &d) < 0)
			continue;
		for (int k = 0; k < nout; k++)
			seen |= out[k].vendor == d.vendor && out[k].device == d.device;
		if (seen || (r = bind_remove_vfio_id(sr, d.vendor, d.device)) == 0)
			continue;
		str_copy(out[nout].pf, sizeof(out[nout].pf), names[i]);
		out[nout].vendor = d.vendor;
		out[nout].device = d.device;
		out[nout].numvfs = (unsigned)si.numvfs;
		out[nout++].err = r < 0 ? r : 0;
	}
	return nout;
}
