/* cfg_ini.h - our INI file (/etc/pve-gpu-passthrough.ini), parsed with inih. No file at the
 * default path means defaults. The file must be a regular file owned by root and not writable
 * by group or other; unknown sections/keys, duplicate keys, bad values, indented
 * (continuation) lines and ':' separators are errors reported as "FILE:LINE: message", all of
 * them (c->errors), not only the first.
 *
 *   [hook]                  defaults for the hookscript
 *   unbind_timeout = 10s    deadline for a driver to let go of a device
 *   bind_timeout = 5s       deadline for vfio-pci (or the host driver) to bind
 *   release_timeout = 30s   post-stop: deadline for QEMU to close the VFIO group
 *   return_on_stop = yes    post-stop: give devices back to their host drivers
 *   holders = refuse        processes holding the GPU's /dev nodes: refuse | warn
 *   nvidia_persistenced = refuse   an NVIDIA GPU kept by nvidia-persistenced: refuse | stop
 *                           (stop: systemctl stop it for the handoff, start it at post-stop)
 *   containers = refuse     running containers (pct) using the GPU: refuse | stop
 *                           (stop: pct shutdown them for the VM, pct start them after it)
 *   reset_method = device_specific  the VM's GPUs' reset_method while it runs ("" : leave)
 *   backup = handoff        a backup's start of a stopped VM (lock: backup): handoff | refuse
 *   [vm:VMID]               the same keys, for one VM
 *   [early]                 early binding at boot (initramfs)
 *   ids = 10de:0fc6,10de:0e1b     every device with these vendor:device ids
 *   addresses = 0000:02:00.0      exactly these devices (several: comma-separated)
 *   disable_vga = no              vfio-pci's disable_vga option (ids method only)
 *   [sriov]                 SR-IOV virtual functions made at boot (dev_sriov.h)
 *   pf = 0000:00:02.0             the physical function: an address, or a vendor:device id
 *                                 that exactly one PF on the host has
 *   vfs = 7                       how many VFs (1..CONFIG_MAX_VFS); pf and vfs are required
 *   driver = vfio-pci             the VFs' driver: vfio-pci or a variant VFIO driver
 *                                 (a name ending in vfio_pci / vfio-pci, e.g. xe_vfio_pci)
 */
#ifndef PGP_CFG_INI_H
#define PGP_CFG_INI_H

#include <stdbool.h>
#include <stdint.h>

#include "pciaddr.h"
#include "sysroot.h"

#define CONFIG_DEFAULT_PATH "/etc/pve-gpu-passthrough.ini"
#define CONFIG_MAX_SIZE (64 * 1024)
#define CONFIG_MAX_VMS 256
#define CONFIG_MAX_EARLY 64
#define CONFIG_MAX_ERRORS 16 /* errors kept for `check` (ini.valid); more are counted */
#define CONFIG_MAX_VFS 255 /* PCI's NumVFs is 16 bits; real PFs offer at most a few hundred */

struct hook_opts {
	unsigned long unbind_timeout_ms;
	unsigned long bind_timeout_ms;
	unsigned long release_timeout_ms;
	bool return_on_stop;
	bool holders_refuse;
	bool persistenced_stop;  /* nvidia_persistenced = stop */
	bool containers_stop;    /* containers = stop */
	char reset_method[64];   /* "" : leave the kernel's */
	bool backup_refuse;      /* backup = refuse: a backup start (lock: backup) fails */
	/* vfio_driver: the VFIO driver the VM's devices should get ("vfio-pci" unless set; a
	 * variant such as xe_vfio_pci is bound for a driver=keep entry whose device it matches) */
	char vfio_driver[64];
};

struct early_opts {
	int nids;
	struct {
		uint16_t vendor, device;
	} ids[CONFIG_MAX_EARLY];
	int naddrs;
	struct pci_addr addrs[CONFIG_MAX_EARLY];
	bool disable_vga;
	int line_ids, line_addrs; /* where they were set (0: not set), for messages */
};

struct sriov_opts {
	bool set;           /* a [sriov] section was given */
	bool by_id;         /* pf was a vendor:device id, not an address */
	struct pci_addr pf; /* when !by_id */
	uint16_t vendor, device; /* when by_id */
	unsigned vfs;
	char driver[64];    /* "vfio-pci" unless set */
	int line;           /* the line of [sriov], for messages */
};

/* One error in the file: "FILE:LINE: text" (line 0: the file as a whole). */
struct config_error {
	char file[128];
	int line;
	char text[256];
};

struct cfg {
	struct hook_opts hook;
	int nvms;
	struct {
		int vmid;
		struct hook_opts opts;
	} vms[CONFIG_MAX_VMS];
	struct early_opts early;
	struct sriov_opts sriov;
	bool from_file; /* false: no file, defaults */
	/* Every error found, in file order (at most CONFIG_MAX_ERRORS; nerrors counts them all). */
	int nerrors;
	struct config_error errors[CONFIG_MAX_ERRORS];
};

void cfg_defaults(struct cfg *c);
/* Loads PATH below the root (NULL: the default path). A missing default file gives the
 * defaults and returns 0; an explicit PATH that is missing, or a dangling symlink at either,
 * is -ENOENT. On error returns -errno and writes the first error, "PATH:LINE: message", into
 * err; c->errors lists every error found (parsing goes on after an error). */
int cfg_load(const struct sysroot *sr, const char *path, struct cfg *c, char *err,
		size_t errsize);
/* Parses TEXT as if it were the file NAME (for tests and fuzzing). */
int cfg_parse(const char *text, const char *name, struct cfg *c, char *err,
		 size_t errsize);
/* The hook options for VMID (its [vm:VMID] section, else [hook]). */
const struct hook_opts *cfg_hook_opts(const struct cfg *c, int vmid);
/* Whether NAME may drive the VFs: vfio-pci, or a variant VFIO driver's name (lower-case
 * letters, digits, '_' and '-', ending in vfio_pci or vfio-pci, at most 63 characters). */
bool cfg_vfio_driver_valid(const char *name);
/* Whether NAME is such a name and not vfio-pci itself (vfio_pci, vfio-pci): a variant. */
bool cfg_vfio_variant(const char *name);

#endif
