/* dev_sriov.h - SR-IOV virtual functions (VFs) made the way the INI's [sriov] says
 * (cfg_ini.h), for the boot unit (`pve-gpu-passthrough sriov apply`) and `sriov status`.
 *
 * sriov_apply, in order, reading each attribute before writing it ("already so" is success):
 *  1. the PF must have a driver and SR-IOV (sriov_totalvfs > 0, at least the INI's count):
 *     else one error and nothing written;
 *  2. the VFs' driver must be registered: vfio-pci's modules, or the variant driver's, are
 *     loaded (ops->load) when it is not;
 *  3. sriov_drivers_autoprobe = 0, so that no host driver probes the new VFs;
 *  4. sriov_numvfs = the INI's count, only when it is 0. A PF with a different, non-zero count
 *     is refused (-EBUSY), not torn down: the kernel changes the count only from 0, and the
 *     existing VFs may be in VMs; the admin writes 0 after stopping what uses them;
 *  5. the VFs' virtfnN links are polled for (deadline ops->timeout_ms);
 *  6. each VF that has no driver gets driver_override = the driver and a drivers_probe, and is
 *     waited for (the same deadline). A VF already on that driver is left as it is; a VF on
 *     another driver (a VM's vfio-pci, or a host driver that probed it before step 3 ran) is
 *     left there too, and apply ends with -EBUSY naming it, after the other VFs are done.
 * A dry run (sysroot.h write point) writes nothing and stops after step 4 when the VFs would
 * still have to be made. Errors fill ERR with one line. Library code: no output. */
#ifndef PGP_DEV_SRIOV_H
#define PGP_DEV_SRIOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_ini.h"
#include "pciaddr.h"
#include "sysroot.h"

struct sriov_vf {
	char name[PCI_ADDR_LEN];
	char driver[64];   /* "" unbound */
	char override[64]; /* "" unset */
};

struct sriov_state {
	char pf[PCI_ADDR_LEN];
	char pf_driver[64];  /* "" unbound */
	bool capable;        /* sriov_totalvfs > 0: its driver can make VFs */
	unsigned totalvfs, numvfs;
	int autoprobe;       /* sriov_drivers_autoprobe: 0, 1, or -1 when absent */
	int nvfs;            /* VFs found through virtfn0..numvfs-1 */
	struct sriov_vf vf[CONFIG_MAX_VFS];
};

struct sriov_ops {
	const struct sysroot *sr;
	unsigned long timeout_ms; /* for the VFs to appear, and for each to bind */
	/* Loads MODULE the way modprobe does; NULL: modload_load. -errno with ERR filled. */
	int (*load)(void *data, const char *module, char *err, size_t errsize);
	void *data;
};

/* The PF the INI names, as a sysfs name: its address, or the one device with its id that is
 * not a VF (several: -EEXIST; none: -ENODEV). -errno with ERR filled. Reads only. */
int sriov_find_pf(const struct sysroot *sr, const struct sriov_opts *o, char pf[PCI_ADDR_LEN],
		  char *err, size_t errsize);
/* What PF has now. -ENODEV when there is no such device. Reads only. */
int sriov_read(const struct sysroot *sr, const char *pf, struct sriov_state *st);
/* Which VF of PF device ADDR would be: its routing id is the PF's + sriov_offset + I *
 * sriov_stride (the PF's SR-IOV capability, readable whether or not its driver bound or its
 * VFs exist); the index I (0-based) when it is below VFS, else -ENOENT. A PF without those
 * attributes (an older kernel): -ENOENT unless ADDR is in the PF's domain after it (any VF
 * is), then 0. Reads only. */
int sriov_vf_index(const struct sysroot *sr, const char *pf, const struct pci_addr *addr,
		   unsigned vfs);
/* Makes O's VFs as above; ST holds the state afterwards, *CHANGES the number of writes made
 * (or, in a dry run, that would be). 0 or -errno with ERR filled. */
int sriov_apply(const struct sriov_ops *ops, const struct sriov_opts *o, struct sriov_state *st,
		int *changes, char *err, size_t errsize);

/* A dynamic id of vfio-pci that matched an SR-IOV PF with VFs. */
struct sriov_pf_id {
	char pf[PCI_ADDR_LEN];
	uint16_t vendor, device;
	unsigned numvfs;
	int err; /* 0: removed; -errno: the remove_id write failed, the id is still there */
};
#define SRIOV_MAX_PF_IDS 8
/* The PF is never harmed by an id: removes from vfio-pci's dynamic ids the vendor:device of
 * every SR-IOV PF that has VFs now (an iGPU's VFs share it, so Proxmox's new_id for a VF, or
 * an id written by hand, makes vfio-pci take the PF on its next probe and destroy every VF).
 * Reads first: only devices that are no VF and have sriov_numvfs > 0, only when vfio-pci has
 * remove_id; each id once. One sr_write per id; an id vfio-pci does not have (-ENODEV) is no
 * entry. OUT gets each id removed or that failed (at most SRIOV_MAX_PF_IDS); returns how
 * many, or -errno when the devices cannot be listed. Vfio-pci's ids cannot be read back:
 * a removal is the only way to tell. */
int sriov_drop_pf_ids(const struct sysroot *sr, struct sriov_pf_id out[SRIOV_MAX_PF_IDS]);

#endif
