/* early_bind.h - early binding at boot: which devices the [early] section of our INI selects on
 * this host, the modprobe.d lines the initramfs hook writes for id entries, the sysfs sequence
 * the initramfs runs before udev, and the record it leaves in /run for `early status`.
 *
 * Selection: an address selects exactly that function; an id (vendor:device) selects every
 * present function with those ids, so two identical cards are both taken (the limit of ids).
 * Library code: returns 0 or -errno and never prints; the callers decide what to say.
 */
#ifndef PGP_EARLY_BIND_H
#define PGP_EARLY_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev_bind.h"
#include "cfg_ini.h"
#include "pciaddr.h"
#include "pci_dev.h"
#include "sysroot.h"

struct kmod_ctx;

#define EARLY_MAX_DEVS 128
#define EARLY_DRIVER BIND_VFIO                    /* driver name (sysfs, driver_override) */
#define EARLY_RECORD "/run/pve-gpu-passthrough/early" /* what the boot did (moved to the root fs) */
#define EARLY_MODPROBE_CONF "/etc/modprobe.d/pve-gpu-passthrough.conf" /* in the image only */
#define EARLY_IMAGE_BIN "/usr/sbin/pve-gpu-passthrough-early"         /* in the image */
#define EARLY_IMAGE_SCRIPT "/scripts/init-top/pve-gpu-passthrough"     /* in the image */

struct early_dev {
	char name[PCI_ADDR_LEN];
	uint16_t vendor, device;
	bool present;     /* false: a configured address that is not on this host */
	bool by_addr;     /* listed in addresses */
	bool by_id;       /* matched an entry of ids */
	int iommu_group;  /* -1: none (IOMMU off) */
	char driver[PCIDEV_NAME_MAX]; /* when selected; "" unbound */
	char override[PCIDEV_NAME_MAX]; /* its driver_override when selected; "" none */
};

struct early_sel {
	int n;
	struct early_dev devs[EARLY_MAX_DEVS]; /* present ones sorted by address, then missing */
	int nid_unmatched;                     /* ids that matched no present device */
	int id_unmatched[CONFIG_MAX_EARLY];    /* indexes into early_opts.ids */
};

/* True when E names any device at all. */
bool early_configured(const struct early_opts *e);

/* Selects the devices E names on the host below SR. Returns the number selected (present or
 * not), or -errno (-E2BIG: more than EARLY_MAX_DEVS). */
int early_select(const struct sysroot *sr, const struct early_opts *e, struct early_sel *ret);

/* A libkmod context for the modules directory MODDIR below the root (NULL: the running
 * kernel's, /lib/modules/<osrelease from /proc/sys/kernel/osrelease>), with the root's
 * modprobe.d configuration. libkmod's own logging is silenced. 0 or -errno. */
int early_kmod_new(const struct sysroot *sr, const char *moddir, struct kmod_ctx **ret);

/* The modules that would claim a device with MODALIAS ("pci:v000010DEd..."), as modprobe
 * would resolve it, leaving out vfio drivers and modules built into the kernel (a softdep can
 * not order those; *builtin is set when one was left out for that reason). Returns the count
 * (at most MAX) or -errno. */
int early_host_modules(struct kmod_ctx *ctx, const char *modalias, char (*names)[PCIDEV_NAME_MAX],
		       int max, bool *builtin);

/* The modprobe.d text for the id entries of E (empty when there are none):
 *   options vfio-pci ids=10de:0fc6,10de:0e1b[ disable_vga=1]
 *   softdep <module> pre: vfio-pci          (per host module of the selected id devices)
 * The host modules come from the modalias of the present devices that SEL selected by id;
 * an id with no present device gets no softdep (see sel->id_unmatched). Returns the length or
 * -errno (-ENOSPC when BUF is too small). */
int early_modprobe_conf(const struct sysroot *sr, struct kmod_ctx *ctx, const struct early_opts *e,
			const struct early_sel *sel, char *buf, size_t size);

/* True unless the kernel command line (below the root) has pve-gpu-passthrough.early=0
 * (or =off, =no): the admin's way to boot without early binding. */
bool early_enabled_on_cmdline(const struct sysroot *sr);

enum early_outcome {
	EARLY_BOUND,    /* now on vfio-pci */
	EARLY_ALREADY,  /* was already on vfio-pci */
	EARLY_MISSING,  /* not present on this host: skipped */
	EARLY_NO_IOMMU, /* no IOMMU group: vfio-pci could not use it; left alone */
	EARLY_FAILED,   /* not on vfio-pci; override cleared, device given back to the kernel */
};

struct early_result {
	enum early_outcome outcome;
	int err;                          /* EARLY_FAILED: -errno of the failed step */
	const char *step;                 /* EARLY_FAILED: the step (static string) */
	char old_driver[PCIDEV_NAME_MAX]; /* the driver we unbound it from ("" none) */
	char driver[PCIDEV_NAME_MAX];     /* its driver afterwards ("" none) */
};

#define EARLY_UNBIND_TIMEOUT_MS 5000 /* a host driver's unbind at boot (it has no clients yet) */

struct early_ops {
	/* Loads one of bind_vfio_modules the way modprobe does (-errno with ERR filled); NULL:
	 * modload_load. Called only for modules that are not there yet. */
	int (*load)(void *data, const char *module, char *err, size_t errsize);
	void *data;
	unsigned long timeout_ms; /* how long to wait for vfio-pci to show up (0: 2000) */
};

/* Binds every present device of SEL that has an IOMMU group to vfio-pci with the bind engine
 * (dev_bind.h, device by device): driver_override, load the modules, unbind a driver that already
 * took it (built-in drivers bind before any initramfs script), drivers_probe and a re-read of
 * the driver link. A device that does not end up on vfio-pci is given back: its override
 * restored, probed again, so the kernel gives it back to its own driver. RES gets one entry
 * per device of SEL. Returns the number of EARLY_FAILED devices. */
int early_bind(const struct sysroot *sr, const struct early_sel *sel, const struct early_ops *ops,
	       struct early_result *res);

/* "bound", "already", "missing", "no-iommu", "failed". */
const char *early_outcome_name(enum early_outcome o);
/* One line for the console and the record, without newline (the lines early_bind.c prints):
 *   "0000:02:00.0 10de:0fc6 -> vfio-pci"
 *   "0000:02:00.0 10de:0fc6 -> vfio-pci (unbound from nouveau)"
 *   "0000:02:00.0 10de:0fc6 -> vfio-pci (already)"
 *   "0000:05:00.0 not present, skipped"
 *   "0000:02:00.0 10de:0fc6 has no IOMMU group (is the IOMMU on?), left to nouveau"
 *   "0000:02:00.0 10de:0fc6 -> nouveau: vfio-pci did not take it (see dmesg)"
 *   "0000:02:00.0 10de:0fc6 -> nouveau: drivers_probe failed: No such device"  */
int early_result_line(const struct early_dev *d, const struct early_result *r, char *buf,
		      size_t size);

/* Writes what the boot did to EARLY_RECORD: one "NAME OUTCOME LINE" per device (LINE as
 * early_result_line). /run is moved into the root filesystem, so `early status` reads it. */
int early_record_write(const struct sysroot *sr, const struct early_sel *sel,
		       const struct early_result *res);
/* Looks NAME up in the record; returns its outcome (with the console line in MSG when given),
 * -ENOENT when the boot did not record it (or there is no record), or -errno. */
int early_record_lookup(const struct sysroot *sr, const char *name, char *msg, size_t msgsize);

/* What an initramfs image holds for us, from its file list (lsinitramfs output: one path per
 * line, relative, e.g. "usr/sbin/pve-gpu-passthrough-early"). */
struct early_image {
	bool binary, ini, script, modprobe_conf;
	bool vfio[BIND_NVFIO_MODULES]; /* each of bind_vfio_modules (.ko, .ko.xz, .ko.zst ...) */
	bool udev;                     /* scripts/init-top/udev */
};
/* True when the image holds every one of bind_vfio_modules. */
bool early_image_has_vfio(const struct early_image *img);
void early_image_scan(const char *listing, struct early_image *ret);

#endif
