/* dev_bind.h - the one engine that moves PCI devices between drivers: to vfio-pci and back. The
 * hookscript's handoff (VM start and stop) and the initramfs binary (early binding) both use it
 * for every device transition, so both do the same steps in the same order:
 *
 *  to vfio-pci (bind_to_vfio), over a set of devices:
 *   1. driver_override = vfio-pci on each (read first: "already there" writes nothing; a device
 *      already on vfio-pci is left exactly as it is);
 *   2. load the vfio modules (bind_vfio_modules) that are not there yet; vfio-pci registering
 *      binds every driverless device whose override names it;
 *   3. per device: re-read its driver, unbind it from a host driver (a write with a deadline:
 *      a driver's remove can block for ever), drivers_probe, and poll the driver link until it
 *      is vfio-pci (a successful probe write proves nothing: vfio-pci's probe can fail).
 *  back (bind_give_back), per device: restore its driver_override, unbind it from vfio-pci,
 *   drivers_probe and poll until its own driver has it again.
 *
 * Every write goes through the sysroot's write points (sr_write, sr_write_timeout): a dry run
 * is a write point that refuses, and the engine then waits for nothing. Library code: nothing
 * is printed; what happens is told through ops->note, failures in the device's record. */
#ifndef PGP_DEV_BIND_H
#define PGP_DEV_BIND_H

#include <stdbool.h>

#include "pciaddr.h"
#include "pci_dev.h"
#include "sysroot.h"

#define BIND_VFIO "vfio-pci" /* the driver's name (sysfs, driver_override) */

/* The vfio modules vfio-pci needs, in load order; PRESENT is the sysfs path that shows it is
 * there (loaded or built in). An entry without PRESENT comes as a dependency of the others
 * (modprobe resolves it) and is listed for the initramfs image check only. */
struct bind_module {
	const char *name;
	const char *present;
};
#define BIND_NVFIO_MODULES 3
extern const struct bind_module bind_vfio_modules[BIND_NVFIO_MODULES];
extern const int bind_nvfio_modules;

enum bind_step {
	BIND_STEP_NONE,
	BIND_STEP_OVERRIDE, /* "driver_override" */
	BIND_STEP_LOAD,     /* "loading vfio-pci" */
	BIND_STEP_READ,     /* "reading the driver" */
	BIND_STEP_UNBIND,   /* "unbind" */
	BIND_STEP_PROBE,    /* "drivers_probe" */
	BIND_STEP_VERIFY,   /* "verify": the wanted driver did not show up in time */
};
const char *bind_step_name(enum bind_step s);

/* One device. The caller fills name, driver and override as it found them (they are what a
 * give back restores), and target; the engine fills the rest. Below, "vfio-pci" stands for
 * the device's target. */
struct bind_dev {
	char name[PCI_ADDR_LEN];
	char driver[PCIDEV_NAME_MAX];   /* its own driver ("" none) */
	char override[PCIDEV_NAME_MAX]; /* its own driver_override ("" none) */
	/* the VFIO driver it goes to: "" vfio-pci, or a variant VFIO driver (xe_vfio_pci: the
	 * module's name is its driver's, and it needs vfio-pci's modules) that matches it */
	char target[PCIDEV_NAME_MAX];
	/* what the engine did (a give back undoes it) */
	bool pending;      /* bind_to_vfio works on it (not already on vfio-pci, no failure) */
	bool already;      /* it was on vfio-pci before: left alone */
	bool override_set; /* vfio-pci was written to its driver_override */
	bool unbound;      /* it was unbound from FROM */
	bool moved;        /* it is on vfio-pci because of us */
	char from[PCIDEV_NAME_MAX]; /* the driver it was taken from ("" none) */
	/* how it ended */
	enum bind_step step; /* the failed step, BIND_STEP_NONE */
	int err;             /* its -errno */
	pid_t left_pid;      /* -ETIMEDOUT: the process left blocked in that step (0 unknown) */
	char now[PCIDEV_NAME_MAX]; /* its driver after a failure or a give back */
};

enum bind_note {
	BIND_NOTE_ALREADY,       /* DEV was on vfio-pci before */
	BIND_NOTE_MOVED,         /* DEV is on vfio-pci now */
	BIND_NOTE_FAILED,        /* DEV failed (its step, err and now say how) */
	BIND_NOTE_MODULE_LOADED, /* MODULE loaded */
	BIND_NOTE_MODULE_DRY,    /* MODULE would be loaded (dry run) */
	BIND_NOTE_MODULE_FAILED, /* MODULE did not load; MSG says why */
};

struct bind_ops {
	const struct sysroot *sr;
	unsigned long unbind_timeout_ms; /* deadline of one unbind write */
	unsigned long bind_timeout_ms;   /* how long a driver may take to show up */
	/* Loads MODULE the way modprobe does; NULL: modload_load. -errno with ERR filled. */
	int (*load)(void *data, const char *module, char *err, size_t errsize);
	/* What happens, in order (may be NULL). DEV: index into the caller's array, or -1. */
	void (*note)(void *data, enum bind_note what, int dev, const char *module, const char *msg);
	void *data;
};

enum bind_mode {
	BIND_ALL,  /* all or nothing: stop at the first failure; the caller gives the devices back */
	BIND_EACH, /* device by device: a failing one is given back at once, the others go on */
};

/* Moves DEVS (N of them) to vfio-pci as described above. BIND_ALL: 0, or the -errno of the
 * first failure (the failed device's record, or for the module load none, says where).
 * BIND_EACH: the number of devices that failed; for the module load only vfio-pci's presence
 * counts (the other failures are noted). */
int bind_to_vfio(const struct bind_ops *ops, struct bind_dev *devs, int n, enum bind_mode mode);

/* bind_to_vfio in two halves, for callers that move independent sets (IOMMU groups) at the
 * same time. bind_stage_vfio: steps 1 and 2 over all N devices, all or nothing (0 or the
 * first -errno, as BIND_ALL). bind_attach_vfio: step 3 for the K devices DEVS[IDX[0..K-1]], in
 * that order, stopping at the first failure (its -errno). Two calls on disjoint index sets
 * may run in different threads at once: each touches only its own records, and the notes it
 * sends carry their index (the caller's note function must then be thread-safe). */
int bind_stage_vfio(const struct bind_ops *ops, struct bind_dev *devs, int n);
int bind_attach_vfio(const struct bind_ops *ops, struct bind_dev *devs, const int *idx, int k);

/* D's target driver: D->target, or vfio-pci when it names none. */
static inline const char *bind_target(const struct bind_dev *d)
{
	return d->target[0] ? d->target : BIND_VFIO;
}

/* Loads the vfio modules that are not there (a dry run notes them only). 0, or the -errno of
 * the first failure; -ENOENT when vfio-pci is not registered afterwards. */
int bind_load_vfio(const struct bind_ops *ops);
/* Whether variant VFIO driver VARIANT (a module name, as cfg_vfio_driver_valid takes it)
 * matches device D: the module that the "vfio_pci:" modalias of D's ids (vendor, device,
 * subsystem ids, class) resolves to through the modules.alias of the root's kernel, the way
 * the kernel's variant drivers declare the devices they drive. 1 yes, 0 no (also: no such
 * module for that kernel), -errno (no module index to look in). */
int bind_variant_matches(const struct sysroot *sr, const struct pci_dev_info *d,
			 const char *variant);
/* The "vfio_pci:" modalias of device D that bind_variant_matches looks up (the report captures
 * what it resolves to). */
#define BIND_VFIO_ALIAS_MAX 96
void bind_vfio_alias(const struct pci_dev_info *d, char *buf, size_t size);
/* 1 when every vfio module is there or can be loaded for the root's kernel; else 0 with the
 * missing one in *missing, or -errno (also with *missing). Reads only. */
int bind_vfio_available(const struct sysroot *sr, const char **missing);

enum bind_back {
	BIND_BACK_ALREADY, /* it was on its own driver already */
	BIND_BACK_NONE,    /* it had no driver: it is left without one */
	BIND_BACK_OTHER,   /* another driver took it meanwhile: left there (not ours to undo) */
	BIND_BACK_DONE,    /* moved from DEV->from to its own driver */
};
/* Gives DEV back to DEV->driver, restoring DEV->override. Returns an enum bind_back, or -errno
 * with DEV->step and DEV->now set. DEV->from gets the driver it had when this started. Every
 * step that takes the device's lock has the unbind's deadline, driver_override's read and
 * write too (before Linux 6.19 they take it): a device whose driver is stuck in remove() (an
 * unbind that never returned) gives -ETIMEDOUT at BIND_STEP_OVERRIDE, UNBIND or PROBE instead
 * of blocking the caller, who may hold Proxmox's config lock. */
int bind_give_back(const struct bind_ops *ops, struct bind_dev *dev);

/* 1 when reading NAME's driver_override does not return within TIMEOUT_MS (a driver stuck in
 * remove() holds the device's lock: a device whose unbind never returned), else 0. The read is
 * made by a process of its own that may stay blocked. */
int bind_stuck_still(const struct sysroot *sr, const char *name, unsigned long timeout_ms);
/* Writes a device's driver_override (VALUE "" clears it); reads it first and writes only when
 * it differs. 1 written, 0 already so, -errno. */
int bind_set_override(const struct sysroot *sr, const char *name, const char *value);
/* The same with a deadline of TIMEOUT_MS (0: none) on the read and on the write, each made by
 * a process of its own (sr_read_str_timeout, sr_write_timeout): for a device whose driver may
 * be stuck in remove() (a give back). -ETIMEDOUT when the read did not return (nothing was
 * written then). */
int bind_set_override_timed(const struct sysroot *sr, const char *name, const char *value,
			    unsigned long timeout_ms);
/* Unbinds DEV from DRIVER on BUS ("pci", "platform") with a deadline: one write of DEV to
 * /sys/bus/BUS/drivers/DRIVER/unbind. -ENODEV (not bound there) is returned as is. */
int bind_unbind(const struct sysroot *sr, const char *bus, const char *driver, const char *dev,
		unsigned long timeout_ms);
/* Binds DEV to DRIVER on BUS: one write to /sys/bus/BUS/drivers/DRIVER/bind. */
int bind_bind(const struct sysroot *sr, const char *bus, const char *driver, const char *dev);
/* Writes NAME to drivers_probe (with a deadline when TIMEOUT_MS): the kernel binds it to the
 * first driver that matches, its driver_override's when set. -ENODEV (no driver took it) is 0:
 * the caller's wait tells. */
int bind_probe(const struct sysroot *sr, const char *name, unsigned long timeout_ms);
/* Polls until PCI device NAME is on WANT ("" unbound) or MS pass: 0, -ETIMEDOUT (its driver
 * then in NOW when given), -errno. A dry run returns 0 at once. */
int bind_wait_driver(const struct sysroot *sr, const char *name, const char *want,
		     unsigned long ms, char *now, size_t nowsize);
/* Removes the dynamic id "VVVV DDDD" that Proxmox's new_id added to vfio-pci (it would
 * capture the device again on the next probe). 1 when removed (a dry run: would be); 0 when
 * vfio-pci has no such id (-ENODEV from the kernel) or there is no remove_id; else -errno. */
int bind_remove_vfio_id(const struct sysroot *sr, unsigned vendor, unsigned device);

#endif
