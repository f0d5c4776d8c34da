/* check_list.h - the passthrough checklist of `pve-gpu-passthrough check`: every check has a stable
 * id, a status, a one-line message and, when it is not a PASS, the fix for this host (for a
 * kernel command line change: the boot loader's file, line, the line as it must read, and the
 * command that applies it).
 *
 * Host checks (always):
 *   cpu.vendor boot.loader iommu.acpi iommu.enabled cmdline.intel_iommu (Intel only)
 *   cmdline.iommu_pt iommu.intremap iommu.x2apic (only when the firmware opts out of x2APIC)
 *   boot.unused_loader cmdline.fb_params (when they find something)
 *   cmdline.acs_override vfio.modules vfio.virqfd cmdline.amd_iommu (when they find
 *   something) ini.valid (when the INI is there) early.cmdline early.modprobe (when set)
 *   early.configured early.initramfs (when [early] is set) gpu.fabric (with NVSwitches)
 *   sriov.ids (a vfio-pci ids= naming an SR-IOV PF's id, only then) sriov.route (the i915
 *   or xe route of an Intel [sriov] PF) sriov.numvfs (with [sriov] in the INI) sriov.variant
 *   (a VF passed without driver=keep while [sriov] names a variant VFIO driver) ct.config
 *   ct.device (containers whose config cannot be read, or that name a GPU node that does
 *   not exist)
 * Device checks (every display controller, and every device a checked VM passes through):
 *   gpu.kind (notable displays) group.isolation gpu.driver (displays) fb.bar_overlap
 *   (displays) console.vgacon (the boot VGA device, vgacon, kernel >= 6.0) console.other_fb
 *   (another VGA controller with a firmware framebuffer, kernel 6.0 to 6.11) gpu.reset
 *   gpu.vendor_reset (AMD generations vendor-reset handles, when it is there) dev.sriov
 *   (SR-IOV PFs and VFs) gpu.nvidia_persistence (nvidia driver, when something keeps the
 *   card) gpu.onboot (two onboot VMs pass it) dev.health (a device a VM gave back
 *   unhealthy, marked until the host reboots); for a display no VM uses that is no
 *   candidate (a BMC's display, the host's console GPU next to another GPU) WARN and FAIL
 *   become INFO
 * VM checks (per VMID asked for):
 *   vm.config vm.mapping vm.hostpci vm.pcie vm.igd vm.xvga vm.romfile vm.functions
 *   vm.apu_functions vm.apu vm.rebar vm.bars vm.reboot vm.reset_method vm.hookscript
 *   vm.fabric vm.nvidia vm.backup (a VM with devices), vm.containers (on a node with containers)
 *   vm.variant (when vfio_driver of [vm:VMID] or [hook] names a variant VFIO driver)
 * Cluster checks (check --cluster): cluster.nodes cluster.vms (when nothing is wrong)
 *   cluster.package cluster.snippet cluster.hookscript cluster.mapping cluster.ha
 *   cluster.backup, per VM with our hookscript on every node and per node where it may run
 * pve-gpu-passthrough(8) describes each: what it reads and the fix it prints.
 * Library code: nothing is printed here; the CLI renders the report as text or JSON. */
#ifndef PGP_CHECK_LIST_H
#define PGP_CHECK_LIST_H

#include <stdbool.h>

#include "host_boot.h"
#include "host_dev.h"
#include "host_info.h"
#include "host_iomem.h"
#include "pci_db.h"
#include "sysroot.h"

/* Ordered by severity: the report's exit status is the worst one. */
enum check_status { CHECK_PASS = 0, CHECK_INFO, CHECK_WARN, CHECK_FAIL };

struct check_result {
	const char *id;            /* stable id, e.g. "iommu.enabled" (static string) */
	enum check_status status;
	char subject[48];          /* "" (host), "0000:02:00.0", "vm 105", "vm 105 hostpci0" */
	char *message;             /* one line */
	char *fix;                 /* lines separated by '\n'; NULL on PASS */
	/* When the fix is a file edit (kernel command line): */
	char *edit_file;           /* e.g. "/etc/default/grub", NULL when none */
	int edit_line;             /* 1-based; 0: add the line */
	char *edit_old;            /* the line as it is ("" when added) */
	char *edit_new;            /* the line as it must read */
	char *run;                 /* what to run afterwards ("update-grub"), NULL when none */
};

/* One group member next to a checked device. */
struct check_member {
	const struct pci_dev_info *dev;
	bool companion;            /* another function of the same card (same bus:slot) */
	char critical[160];        /* why the host needs it, "" when it does not */
};

/* What was found about one checked device (for `check --json`). */
struct check_device {
	const struct pci_dev_info *dev;
	bool from_vm;              /* checked because a VM passes it through, not a display */
	struct check_member *members; /* the other members of its IOMMU group */
	int nmembers;
	const struct iomem_entry *fb; /* a firmware framebuffer inside one of its BARs, or NULL */
	int fb_bar;
	char reset_method[128];    /* the reset_method attribute */
	bool has_reset_method;     /* the attribute exists (kernel >= 5.15) */
};

struct check_vm {
	int vmid;
	bool loaded;
	int ndevs;
	char (*devs)[PCI_ADDR_LEN]; /* every device its hostpci entries resolve to */
};

struct pve_cluster;

struct check_report {
	struct check_result *res;
	int nres, capres;
	struct hostinfo host;
	struct host_boot boot;
	struct pcidb *db;
	struct hostdev *hd;        /* NULL when /proc/self/mountinfo was unreadable */
	struct iomem iomem;
	bool iomem_ok;
	struct check_device *devs;
	int ndevs;
	struct check_vm *vms;
	int nvms;
	/* Every kernel command line change the checks ask for, to be made at once. */
	char cmdline_add[1024];
	char cmdline_remove[256];
	int counts[4];             /* results per status */
	struct pve_cluster *cluster; /* check --cluster: the cluster read (NULL: not asked) */
};

struct check_opts {
	const char *config;        /* our INI (NULL: the default path) */
	const char *node;          /* Proxmox node name (NULL: from uname) */
	const int *vmids;
	int nvmids;
	bool cluster;              /* the cluster checks (cluster.*) too */
};

/* Runs every check. Returns 0 with *ret set (free with checks_free), or -errno when the host
 * cannot be examined at all (the PCI device list is unreadable, out of memory). */
int checks_run(const struct sysroot *sr, const struct check_opts *o, struct check_report **ret);
/* `attach`'s warnings: the cluster checks of VM VMID (this node's) as if its hookscript were
 * VOLUME; no results on a single node. 0 with *ret set (free with checks_free), or -errno. */
int checks_cluster_vm(const struct sysroot *sr, const struct check_opts *o, int vmid,
		      const char *volume, struct check_report **ret);
/* Accepts NULL; returns NULL. */
struct check_report *checks_free(struct check_report *r);

/* "PASS", "INFO", "WARN", "FAIL" (lower case: check_status_key). */
const char *check_status_name(enum check_status s);
const char *check_status_key(enum check_status s);
/* 0 when nothing is worse than INFO, 1 with warnings, 2 with failures. */
int checks_exit_code(const struct check_report *r);
/* The boot loader line with every command line change of the report applied: 1 with OUT set,
 * 0 when there is nothing to change, -errno. */
int checks_cmdline_edit(const struct check_report *r, char *out, size_t size);

/* vfio-pci.ids= (or vfio_pci.ids=) of CMDLINE into IDS; false when absent (check_early.c). */
bool cmdline_ids(const char *cmdline, char *ids, size_t size);
/* The first "options vfio-pci ids=..." of /etc/modprobe.d: its file and ids; false when none. */
bool modprobe_ids(const struct sysroot *sr, char *file, size_t fsize, char *ids, size_t isize);

#endif
