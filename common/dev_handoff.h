/* dev_handoff.h - the handoff engine: give a VM's PCI devices (with every endpoint of their IOMMU
 * groups) to vfio-pci at VM start, and back to their host drivers at VM stop.
 *
 * prepare (pre-start), in this order, and nothing is changed before step 4:
 *  1. collect: the VM's hostpciN devices (mapping= resolved for this node, driver=keep and
 *     mdev left alone), each expanded to its IOMMU group's endpoints (bridges skipped);
 *  2. lock every device (a second hook on the same device fails at once);
 *  3. refuse when: the IOMMU is off; a member is an SR-IOV PF with VFs enabled (the bind would
 *     destroy them); an NVIDIA member is kept initialised by nvidia-persistenced (unless
 *     nvidia_persistenced = stop) or by persistence mode; a reset_method is asked for and the
 *     kernel has no such attribute; a member backs a mount, swap or the default route; a
 *     member is reserved by another running VM (Proxmox) or prepared for another VM (us); the
 *     group is open (another QEMU); processes hold the GPU's /dev nodes (or only warn, per
 *     config); vfio-pci cannot be loaded;
 *  4. record the state file (originals), stop nvidia-persistenced when so configured (systemctl,
 *     fixed arguments), set the GPUs' reset_method when asked, release fbcon vtconsoles and
 *     firmware framebuffers that hold the GPU, and move the members with the bind engine
 *     (dev_bind.h, all or nothing): set driver_override on all and load vfio-pci, then every
 *     IOMMU group at the same time (a thread each, its members in order): unbind (in a child,
 *     with a deadline), probe, poll until the member is on vfio-pci;
 *  5. in the same group's thread: prove it through VFIO (viable, container, type1 IOMMU,
 *     device fds, every BAR mapped).
 * Any failure in 4-5 stops the other groups at their next device and undoes everything done
 * so far in every group, in reverse order within each; what cannot be undone is named in one
 * line, with the command that finishes the job. The log lines of the groups' threads are kept
 * and replayed group by group, in collect order (parallel.h).
 *
 * release (post-stop), from the state file only (the config may have changed): wait until no
 * process holds the groups (one /proc scan per round for all), then every group at the same
 * time, per device: remove Proxmox's dynamic id, restore the override, unbind from vfio-pci,
 * re-probe and verify the original driver; rebind framebuffers and consoles; put the
 * reset_methods back; start nvidia-persistenced again if it was stopped; read each device
 * again and mark one that did not come back (dev_health.h: a later prepare refuses it at
 * collect); remove the state file, or keep in it what could not be given back (named in one
 * "still changed" line).
 *
 * Steps 3-5 and release are a table of steps, one file each (dev_ho.h): the containers using
 * the GPU (refused, or shut down and started again: containers = stop), the health read,
 * nvidia-persistenced, reset_method, the console, the bind; prepare runs it forward (the
 * rollback in reverse),
 * release in reverse. Each job takes its options from its own VM's [vm:N] section (else
 * [hook]), whoever runs it.
 *
 * Every sysfs write passes the job's write point in front of the caller's root (a dry run
 * refuses them there and logs each as "would write"). Library code: it never prints; every
 * action and problem is reported through ops->log, one line each, and functions return 0 or a
 * negative errno. */
#ifndef PGP_DEV_HANDOFF_H
#define PGP_DEV_HANDOFF_H

#include <stdbool.h>

#include "cfg_ini.h"
#include "dev_quirks.h"
#include "pve_conf.h"
#include "sysroot.h"
#include "dev_vfio.h"

enum ho_level { HO_INFO, HO_WARN, HO_ERROR };
struct handoff_ops;

/* One formatted line to OPS->log; from a group's thread (parallel.h) it is kept with that
 * group's lines, in order. For the engines built on the handoff (dev_handoff, dev_reconcile). */
void handoff_logf(const struct handoff_ops *ops, enum ho_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct handoff_ops {
	const struct sysroot *sr;
	/* The configuration: each job takes the options of the VM it handles from it (its
	 * [vm:N] section, else [hook]), whoever runs it: the VM's own hook, another VM's
	 * pre-start reconciling it, the watcher, release, release --stale. */
	const struct cfg *cfg;
	const char *node; /* Proxmox node name, for mapping= entries */
	bool dry_run;     /* plan and check, log what would be written, change nothing */
	void (*log)(void *ud, enum ho_level level, const char *msg);
	void *ud;
	/* The VM's config when the caller has read it already (handoff_vm_load): pre-start then
	 * reads it once per run. NULL: handoff_prepare reads it. */
	const struct pve_vmconf *vmconf;
	/* When not NULL, handoff_prepare sets it: true when it failed and could not undo
	 * everything (the log then names what is still changed and the command that finishes
	 * the job), false otherwise (on failure: the host is as it was before). */
	bool *left_changed;
	/* Tests only: proves a group instead of vfio_prove (a fake tree has no VFIO); NULL in
	 * the product. */
	int (*prove)(const struct sysroot *sr, int group, const char *const *devs, int ndev,
		     unsigned flags, struct vfio_report *report);
	/* Runs systemctl and nvidia-smi; NULL: quirks_exec_real (tests give a fake one). */
	const struct quirks_exec *exec;
};

/* True when VMID's config names devices we would act on (the hook's fast path: a VM without
 * passthrough devices costs one config read). Returns 1, 0 or -errno (config unreadable). */
int handoff_vm_has_devices(const struct sysroot *sr, int vmid, char *err, size_t errsize);
/* The same, keeping the config in *C for handoff_ops.vmconf. */
int handoff_vm_load(const struct sysroot *sr, int vmid, struct pve_vmconf *c, char *err,
		    size_t errsize);
/* The same for a migration target (PVE_MIGRATED_FROM=FROM, NULL or "" for a normal start):
 * the config is read where qemu-server reads it, on the source node's directory
 * (/etc/pve/nodes/FROM/qemu-server/VMID.conf; this node's when it is no longer there), and
 * the devices are this node's (mapping= entries for ops->node). */
int handoff_vm_load_from(const struct sysroot *sr, int vmid, const char *from,
			 struct pve_vmconf *c, char *err, size_t errsize);
/* handoff_vm_load and handoff_vm_load_from return 2 when the VM's only entries are
 * driver=keep ones: nothing to do unless CFG asks a variant VFIO driver for VMID ([vm:N] or
 * [hook] vfio_driver, [sriov] driver), which this tells. */
bool handoff_variant_asked(const struct cfg *cfg, int vmid);
/* The variant VFIO driver asked for device NAME of a VM whose options are OPTS (cfg_hook_opts):
 * its vfio_driver, else for a VF of [sriov]'s PF [sriov] driver; NULL when vfio-pci. The name
 * as its module and PCI driver have it ('-' as '_'), in BUF. The hookscript and check ask
 * this, then bind_variant_matches. */
const char *handoff_variant_of(const struct sysroot *sr, const struct cfg *cfg,
			       const struct hook_opts *opts, const char *name, char *buf,
			       size_t size);
/* The devices of driver=keep entry H as Proxmox would expand it without keep: those the
 * hookscript may hand to a variant (pve_hostpci_expand's return). */
int handoff_keep_devices(const struct sysroot *sr, const struct pve_hostpci *h, const char *node,
			 int vmid, struct pve_devlist *l, char *err, size_t errsize);
int handoff_prepare(const struct handoff_ops *ops, int vmid);
/* The options a job for VMID uses (cfg_hook_opts of ops->cfg). */
const struct hook_opts *handoff_opts(const struct handoff_ops *ops, int vmid);
int handoff_release(const struct handoff_ops *ops, int vmid);

/* Removes vfio-pci's dynamic ids that would take an SR-IOV PF with VFs (post-stop does it as
 * one of its steps; reconcile after the VMs): one line for each id removed (a dry run: each
 * "would write") or that could not be. 0 or the first -errno. */
int handoff_drop_pf_ids(const struct handoff_ops *ops);

#endif
