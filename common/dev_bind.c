/* dev_bind.c - see dev_bind.h. */
#define _GNU_SOURCE
#include "dev_bind.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev_modload.h"
#include "util.h"
#include "sysfs.h"

const struct bind_module bind_vfio_modules[BIND_NVFIO_MODULES] = {
	{ "vfio", NULL },
	{ "vfio_iommu_type1", "/sys/module/vfio_iommu_type1" },
	{ "vfio-pci", "/sys/bus/pci/drivers/" BIND_VFIO },
};
const int bind_nvfio_modules = (int)ARRAY_SIZE(bind_vfio_modules);

static const char *const step_names[] = {
	[BIND_STEP_NONE] = "binding",          [BIND_STEP_OVERRIDE] = "driver_override",
	[BIND_STEP_LOAD] = "loading vfio-pci", [BIND_STEP_READ] = "reading the driver",
	[BIND_STEP_UNBIND] = "unbind",         [BIND_STEP_PROBE] = "drivers_probe",
	[BIND_STEP_VERIFY] = "verify",
};

const char *bind_step_name(enum bind_step s)
{
	return (unsigned)s < ARRAY_SIZE(step_names) ? step_names[s] : "binding";
}

static void note(const struct bind_ops *o, enum bind_note what, int dev, const char *module,
		 const char *msg)
{
	if (o->note)
		o->note(o->data, what, dev, module, msg);
}

static int dev_path(char out[SR_PATH_MAX], const char *name, const char *attr)
{
	return sysfs_pci_dev(out, name, attr);
}

/* ---- single steps ------------------------------------------------------------------------- */

int bind_set_override_timed(const struct sysroot *sr, const char *name, const char *value,
			    unsigned long timeout_ms)
{
	char path[SR_PATH_MAX], now[PCIDEV_NAME_MAX];
	int r = dev_path(path, name, "driver_override");
	ssize_t n;

	if (r < 0)
		return r;
	n = timeout_ms ? sr_read_str_timeout(sr, path, now, sizeof(now), timeout_ms)
		       : sr_read_str(sr, path, now, sizeof(now));
	if (n == -ETIMEDOUT)
		return (int)n; /* the device's lock is held: writing would wait for it too */
	if (n >= 0 && !strcmp(now, "(null)"))
		now[0] = '\0';
	if (n >= 0 && !strcmp(now, value))
		return 0;
	/* the kernel clears an override on a lone newline */
	value = *value ? value : "\n";
	r = timeout_ms ? sr_write_timeout(sr, path, value, timeout_ms) : sr_write(sr, path, value);
	return r < 0 ? r : 1;
}

int bind_stuck_still(const struct sysroot *sr, const char *name, unsigned long timeout_ms)
{
	char path[SR_PATH_MAX], now[PCIDEV_NAME_MAX];
	int r = dev_path(path, name, "driver_override");
	ssize_t n;

	if (r < 0)
		return r;
	n = sr_read_str_timeout(sr, path, now, sizeof(now), timeout_ms);
	return n == -ETIMEDOUT ? 1 : 0;
}

int bind_set_override(const struct sysroot *sr, const char *name, const char *value)
{
	return bind_set_override_timed(sr, name, value, 0);
}

int bind_unbind(const struct sysroot *sr, const char *bus, const char *driver, const char *dev,
		unsigned long timeout_ms)
{
	char path[SR_PATH_MAX];
	int r = sysfs_bus_driver(path, bus, driver, "unbind");

	if (r < 0)
		return r;
	return timeout_ms ? sr_write_timeout(sr, path, dev, timeout_ms) : sr_write(sr, path, dev);
}

int bind_bind(const struct sysroot *sr, const char *bus, const char *driver, const char *dev)
{
	char path[SR_PATH_MAX];
	int r = sysfs_bus_driver(path, bus, driver, "bind");

	return r < 0 ? r : sr_write(sr, path, dev);
}

/* drivers_probe: the kernel binds the device to the first driver that matches (the override
 * decides when set). "No such device" is left to the wait that follows. The probe takes the
 * device's lock, which an old driver stuck in remove() still holds (the kernel drops the
 * driver link before remove() runs, so the device looks driverless): with the unbind's
 * deadline, such a probe fails with -ETIMEDOUT instead of hanging the caller. */
int bind_probe(const struct sysroot *sr, const char *name, unsigned long timeout_ms)
{
	static const char path[] = "/sys/bus/pci/drivers_probe";
	int r = timeout_ms ? sr_write_timeout(sr, path, name, timeout_ms) : sr_write(sr, path, name);

	return r == -ENODEV ? 0 : r;
}

static int probe(const struct bind_ops *o, const char *name)
{
	return bind_probe(o->sr, name, o->unbind_timeout_ms);
}

int bind_wait_driver(const struct sysroot *sr, const char *name, const char *want,
		     unsigned long ms, char *now, size_t nowsize)
{
	uint64_t deadline = now_ms() + ms;
	unsigned step = 0;
	char drv[PCIDEV_NAME_MAX];
	int r;

	if (sr_dry_run(sr))
		return 0;
	do {
		r = pcidev_driver(sr, name, drv, sizeof(drv));
		if (r < 0)
			return r;
		if (!strcmp(drv, want))
			return 0;
	} while (backoff_wait(&step, deadline));
	if (now)
		str_copy(now, nowsize, drv);
	return -ETIMEDOUT;
}

int bind_remove_vfio_id(const struct sysroot *sr, unsigned vendor, unsigned device)
{
	static const char path[] = "/sys/bus/pci/drivers/" BIND_VFIO "/remove_id";
	char id[16];
	int r;

	if (!sr_exists(sr, path))
		return 0;
	snprintf(id, sizeof(id), "%04x %04x", vendor & 0xffff, device & 0xffff);
	r = sr_write(sr, path, id);
	if (r == -ENODEV)
		return 0; /* the kernel's answer for an id it does not have */
	return r < 0 ? r : 1;
}

/* ---- modules ------------------------------------------------------------------------------ */

int bind_vfio_available(const struct sysroot *sr, const char **missing)
{
	bool all = true;

	for (int i = 0; i < bind_nvfio_modules; i++)
		all &= !bind_vfio_modules[i].present || sr_exists(sr, bind_vfio_modules[i].present);
	if (all)
		return 1;
	for (int i = 0; i < bind_nvfio_modules; i++) {
		int r;

		if (!bind_vfio_modules[i].present || sr_exists(sr, bind_vfio_modules[i].present))
			continue;
		r = modload_available(sr, bind_vfio_modules[i].name);
		if (r <= 0) {
			*missing = bind_vfio_modules[i].name;
			return r;
		}
	}
	return 1;
}

static int load_module(const struct bind_ops *o, const char *name, char *err, size_t errsize)
{
	if (o->load)
		return o->load(o->data, name, err, errsize);
	return modload_load(o->sr, name, err, errsize);
}

int bind_load_vfio(const struct bind_ops *o)
{
	int first = 0;

	for (int i = 0; i < bind_nvfio_modules; i++) {
		const struct bind_module *m = &bind_vfio_modules[i];
		char err[256];
		int r;

		if (!m->present || sr_exists(o->sr, m->present))
			continue;
		if (sr_dry_run(o->sr)) {
			note(o, BIND_NOTE_MODULE_DRY, -1, m->name, NULL);
			continue;
		}
		snprintf(err, sizeof(err), "cannot load %s", m->name);
		r = load_module(o, m->name, err, sizeof(err));
		if (r < 0) {
			note(o, BIND_NOTE_MODULE_FAILED, -1, m->name, err);
			if (!first)
				first = r;
			continue;
		}
		note(o, BIND_NOTE_MODULE_LOADED, -1, m->name, NULL);
	}
	if (first)
		return first;
	if (!sr_dry_run(o->sr) && !sr_exists(o->sr, "/sys/bus/pci/drivers/" BIND_VFIO))
		return -ENOENT;
	return 0;
}

/* The variant VFIO drivers the pending devices of DEVS go to, each loaded once when it is not
 * registered (after vfio-pci's modules, which it needs). 0, or the first -errno; -ENOENT when
 * one is not registered afterwards. */
static int load_variants(const struct bind_ops *o, const struct bind_dev *devs, int n)
{
	int first = 0;

	for (int i = 0; i < n; i++) {
		const char *t = bind_target(&devs[i]);
		char path[SR_PATH_MAX], err[256];
		bool seen = false;
		int r;

		if (!devs[i].pending || !strcmp(t, BIND_VFIO))
			continue;
		for (int k = 0; k < i && !seen; k++)
			seen = devs[k].pending && !strcmp(bind_target(&devs[k]), t);
		if (seen || sysfs_bus_driver(path, "pci", t, NULL) < 0 || sr_exists(o->sr, path))
			continue;
		if (sr_dry_run(o->sr)) {
			note(o, BIND_NOTE_MODULE_DRY, -1, t, NULL);
			continue;
		}
		snprintf(err, sizeof(err), "cannot load %s", t);
		r = load_module(o, t, err, sizeof(err));
		if (r == 0 && !sr_exists(o->sr, path)) {
			snprintf(err, sizeof(err), "%s loaded, but no PCI driver %s registered", t, t);
			r = -ENOENT;
		}
		if (r < 0) {
			note(o, BIND_NOTE_MODULE_FAILED, -1, t, err);
			if (!first)
				first = r;
			continue;
		}
		note(o, BIND_NOTE_MODULE_LOADED, -1, t, NULL);
	}
	return first;
}

/* vfio-pci's modules, then the variants (they need them). */
static int load_targets(const struct bind_ops *o, const struct bind_dev *devs, int n)
{
	int r = bind_load_vfio(o);

	return r < 0 ? r : load_variants(o, devs, n);
}

struct variant_hit {
	const char *want; /* the module, '-' as '_' */
	bool hit;
};

static int variant_hit(void *data, const char *name, const char *path)
{
	struct variant_hit *v = data;

	(void)path;
	v->hit |= !strcmp(name, v->want);
	return 0;
}

void bind_vfio_alias(const struct pci_dev_info *d, char *buf, size_t size)
{
	/* what the kernel's vfio_pci: alias of a device reads (pci_device_id with
	 * override_only, file2alias), upper-case hex as in the device's modalias */
	snprintf(buf, size, "vfio_pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d->vendor,
		 d->device, d->subvendor, d->subdevice, (d->class >> 16) & 0xff,
		 (d->class >> 8) & 0xff, d->class & 0xff);
}

int bind_variant_matches(const struct sysroot *sr, const struct pci_dev_info *d,
			 const char *variant)
{
	struct variant_hit v = { 0 };
	struct kmod_ctx *ctx = NULL;
	char want[PCIDEV_NAME_MAX], alias[BIND_VFIO_ALIAS_MAX];
	int r;

	if (modload_modname(variant, want, sizeof(want)) < 0)
		return 0;
	v.want = want;
	bind_vfio_alias(d, alias, sizeof(alias));
	/* the modules' own aliases only: an admin's modprobe.d alias drives nothing */
	r = modload_ctx_new(sr, NULL, NULL, MODLOAD_NO_CONFIG, &ctx);
	if (r < 0)
		return r;
	r = modload_lookup(ctx, alias, variant_hit, &v);
	modload_ctx_free(ctx);
	return r < 0 ? r : v.hit;
}

/* ---- transitions -------------------------------------------------------------------------- */

static int failed(const struct bind_ops *o, struct bind_dev *d, int i, enum bind_step step,
		  int err)
{
	d->pending = false;
	d->step = step;
	d->err = err;
	d->left_pid = err == -ETIMEDOUT ? sr_last_left_pid() : 0;
	if (!d->now[0])
		pcidev_driver(o->sr, d->name, d->now, sizeof(d->now));
	note(o, BIND_NOTE_FAILED, i, NULL, NULL);
	return err;
}

/* BIND_EACH: gives a failed device back at once, keeping the failure in its record. */
static void give_back_failed(const struct bind_ops *o, struct bind_dev *d)
{
	enum bind_step step = d->step;
	int err = d->err;

	bind_give_back(o, d);
	d->step = step;
	d->err = err;
}

/* Step 3 for one device: unbind from a host driver, probe, verify. */
static int attach(const struct bind_ops *o, struct bind_dev *d, int i)
{
	const char *target = bind_target(d);
	char cur[PCIDEV_NAME_MAX];
	int r = pcidev_driver(o->sr, d->name, cur, sizeof(cur));

	if (r < 0)
		return failed(o, d, i, BIND_STEP_READ, r);
	/* vfio-pci registering may already have bound it (driver_override matches then) */
	if (strcmp(cur, target) != 0) {
		if (cur[0]) {
			r = bind_unbind(o->sr, "pci", cur, d->name, o->unbind_timeout_ms);
			if (r < 0 && r != -ENODEV) {
				str_copy(d->from, sizeof(d->from), cur);
				return failed(o, d, i, BIND_STEP_UNBIND, r);
			}
			str_copy(d->from, sizeof(d->from), cur);
			d->unbound = true;
		}
		r = probe(o, d->name);
		if (r < 0)
			return failed(o, d, i, BIND_STEP_PROBE, r);
		r = bind_wait_driver(o->sr, d->name, target, o->bind_timeout_ms, d->now,
				     sizeof(d->now));
		if (r < 0)
			return failed(o, d, i, BIND_STEP_VERIFY, r);
	}
	d->moved = true;
	d->pending = false;
	str_copy(d->now, sizeof(d->now), target);
	note(o, BIND_NOTE_MOVED, i, NULL, NULL);
	return 0;
}

/* Step 1 for one device: clears its record, then sets driver_override unless it is on
 * vfio-pci already. */
static int stage_one(const struct bind_ops *o, struct bind_dev *d, int i)
{
	int r;

	d->pending = d->already = d->override_set = d->unbound = d->moved = false;
	d->from[0] = d->now[0] = '\0';
	d->step = BIND_STEP_NONE;
	d->err = 0;
	if (!strcmp(d->driver, bind_target(d))) {
		d->already = true;
		return 0;
	}
	r = bind_set_override(o->sr, d->name, bind_target(d));
	if (r < 0)
		return failed(o, d, i, BIND_STEP_OVERRIDE, r);
	d->override_set = r > 0;
	d->pending = true;
	return 0;
}

/* Step 3 for one device (a record bind_stage_vfio filled). */
static int attach_one(const struct bind_ops *o, struct bind_dev *d, int i)
{
	if (d->already) {
		str_copy(d->now, sizeof(d->now), bind_target(d));
		note(o, BIND_NOTE_ALREADY, i, NULL, NULL);
		return 0;
	}
	if (!d->pending)
		return 0;
	return attach(o, d, i);
}

int bind_stage_vfio(const struct bind_ops *o, struct bind_dev *devs, int n)
{
	bool any = false;
	int r;

	for (int i = 0; i < n; i++) {
		if ((r = stage_one(o, &devs[i], i)) < 0)
			return r;
		any |= devs[i].pending;
	}
	return any ? load_targets(o, devs, n) : 0;
}

int bind_attach_vfio(const struct bind_ops *o, struct bind_dev *devs, const int *idx, int k)
{
	for (int x = 0; x < k; x++) {
		int r = attach_one(o, &devs[idx[x]], idx[x]);

		if (r < 0)
			return r;
	}
	return 0;
}

int bind_to_vfio(const struct bind_ops *o, struct bind_dev *devs, int n, enum bind_mode mode)
{
	bool any = false;
	int nfailed = 0, r;

	if (mode == BIND_ALL) {
		if ((r = bind_stage_vfio(o, devs, n)) < 0)
			return r;
		for (int i = 0; i < n; i++)
			if ((r = attach_one(o, &devs[i], i)) < 0)
				return r;
		return 0;
	}
	/* 1. driver_override on every device that is not on vfio-pci yet */
	for (int i = 0; i < n; i++) {
		struct bind_dev *d = &devs[i];

		if (stage_one(o, d, i) < 0) {
			nfailed++;
			give_back_failed(o, d);
			continue;
		}
		any |= d->pending;
	}
	/* 2. the modules */
	r = any ? load_targets(o, devs, n) : 0;
	if (r < 0 && (sr_dry_run(o->sr) || sr_exists(o->sr, "/sys/bus/pci/drivers/" BIND_VFIO)))
		r = 0; /* device by device: only vfio-pci itself decides */
	/* 3. per device */
	for (int i = 0; i < n; i++) {
		struct bind_dev *d = &devs[i];

		if (d->pending && r < 0) {
			failed(o, d, i, BIND_STEP_LOAD, r);
			nfailed++;
			give_back_failed(o, d);
			continue;
		}
		if (attach_one(o, d, i) < 0) {
			nfailed++;
			give_back_failed(o, d);
		}
	}
	return nfailed;
}

/* A give back's failure at STEP: its record, with the process a timed step left blocked. */
static int back_failed(struct bind_dev *d, enum bind_step step, int err)
{
	d->step = step;
	d->left_pid = err == -ETIMEDOUT ? sr_last_left_pid() : 0;
	return d->err = err;
}

int bind_give_back(const struct bind_ops *o, struct bind_dev *d)
{
	bool dry = sr_dry_run(o->sr);
	char now[PCIDEV_NAME_MAX];
	int r;

	/* its driver may still be inside remove() holding the device's lock: timed */
	d->left_pid = 0;
	r = bind_set_override_timed(o->sr, d->name, d->override, o->unbind_timeout_ms);
	if (r < 0)
		return back_failed(d, BIND_STEP_OVERRIDE, r);
	r = pcidev_driver(o->sr, d->name, now, sizeof(now));
	if (r < 0) {
		d->step = BIND_STEP_READ;
		return d->err = r;
	}
	str_copy(d->from, sizeof(d->from), now);
	str_copy(d->now, sizeof(d->now), now);
	/* a dry run goes on: it shows what a real give back would write */
	if (!strcmp(now, d->driver) && !dry)
		return BIND_BACK_ALREADY;
	if (!strcmp(now, bind_target(d))) {
		r = bind_unbind(o->sr, "pci", bind_target(d), d->name, o->unbind_timeout_ms);
		if (r < 0 && r != -ENODEV)
			return back_failed(d, BIND_STEP_UNBIND, r);
		d->now[0] = '\0';
	} else if (now[0]) {
		return BIND_BACK_OTHER; /* someone else's driver took it meanwhile */
	}
	if (!d->driver[0])
		return BIND_BACK_NONE;
	r = probe(o, d->name);
	if (r < 0)
		return back_failed(d, BIND_STEP_PROBE, r);
	r = bind_wait_driver(o->sr, d->name, d->driver, o->bind_timeout_ms, d->now, sizeof(d->now));
	if (r < 0) {
		d->step = BIND_STEP_VERIFY;
		return d->err = r;
	}
	str_copy(d->now, sizeof(d->now), d->driver);
	return BIND_BACK_DONE;
}
