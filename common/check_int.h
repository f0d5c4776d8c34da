/* check_int.h - what the check modules share (not part of the library's interface): the
 * running checklist (struct ctx), adding results and fixes, and the helpers more than one
 * subject uses. check_list.c runs the tables; check_host.c, check_early.c, check_device.c and
 * check_vm.c hold the checks of one subject each (the VM's in check_vm*.c). */
#ifndef PGP_CHECK_INT_H
#define PGP_CHECK_INT_H

#include <stdarg.h>
#include <stdbool.h>

#include "check_list.h"
#include "pve_conf.h"
#include "pve_users.h"

#define HOOK_NAME "pve-gpu-passthrough-hook"
#define INITRAMFS_HOOK "/usr/share/initramfs-tools/hooks/pve-gpu-passthrough"


struct ctx {
	const struct sysroot *sr;
	const struct check_opts *o;
	struct check_report *rep;
	bool oom;
	char node[128];
	/* what the VMs of this node pass through (every config, not only those checked):
	 * pve_users.h's use list, and the pool of the mappings they use */
	struct pve_users vms;
	struct pve_user *users;
	int nusers;
	/* Set while checking a device no VM uses and nobody would pass through (the host's
	 * console GPU, a BMC's display): its WARN and FAIL results are INFO, saying why. */
	const char *demote;
};

struct vmwork {
	struct pve_vmconf conf;
	int rc, err_line;
	char err[256];
	/* the whole-VM expansion the hook makes (pve_vmconf_expand_all), per entry */
	struct pve_hostpci_result res[PVE_MAX_HOSTPCI];
	struct pve_devlist all;
};

/* A result; with c->demote set, WARN and FAIL become INFO with the reason appended. */
struct check_result *ck_add(struct ctx *c, const char *id, enum check_status st,
			 const char *subject, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
/* Appends a line to the result's fix. */
void ck_fix(struct ctx *c, struct check_result *r, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

/* check_list.c */
void add_words(char *list, size_t size, const char *words);
void fix_cmdline(struct ctx *c, struct check_result *r, const char *add, const char *remove,
		 bool combine);

/* check_host.c */
void check_cpu(struct ctx *c);
void check_boot(struct ctx *c);
void check_acpi(struct ctx *c);
void check_iommu(struct ctx *c);
void check_intel_iommu(struct ctx *c);
void check_iommu_pt(struct ctx *c);
void check_intremap(struct ctx *c);
void check_x2apic(struct ctx *c);
void check_boot_other(struct ctx *c);
void check_fb_params(struct ctx *c);
void check_acs(struct ctx *c);
void check_modules(struct ctx *c);
void check_amd_iommu(struct ctx *c);
void check_virqfd(struct ctx *c);

/* check_early.c */
void check_ini(struct ctx *c);
void check_early(struct ctx *c);
/* cmdline_ids, modprobe_ids: check_list.h (setup reads them too) */

/* check_containers.c */
void check_containers_host(struct ctx *c);
void check_vm_containers(struct ctx *c, const struct vmwork *w, const char *subj);

/* check_sriov.c */
void check_sriov_host(struct ctx *c);

/* check_device.c */
bool is_windows(const char *ostype);
int scan_vm_users(struct ctx *c);
const char *not_a_candidate(const struct ctx *c, const struct pci_dev_info *d);
void check_kind(struct ctx *c, struct check_device *cd);
void check_fabric(struct ctx *c);
int collect_members(struct ctx *c, struct check_device *cd);
const char *drv_name(const struct pci_dev_info *d);
void check_group(struct ctx *c, struct check_device *cd);
void check_driver(struct ctx *c, struct check_device *cd);
const char *fb_param(const struct hostinfo *h);
void check_fb(struct ctx *c, struct check_device *cd);
void check_vgacon(struct ctx *c, struct check_device *cd);
void check_other_fb(struct ctx *c, struct check_device *cd);
bool has_word(const char *list, const char *w);
void check_reset(struct ctx *c, struct check_device *cd);
void check_onboot(struct ctx *c, struct check_device *cd);
void check_health(struct ctx *c, struct check_device *cd);
/* The VMs that pass device NAME through ("VM 101, VM 102" into BUF); false when none. */
bool users_of(const struct ctx *c, const char *name, char *buf, size_t size);

/* check_quirks.c: what specific kinds of card need (dev_quirks.h) */
void check_amd_reset_advice(struct ctx *c, const struct pci_dev_info *d, const char *methods);
void check_vendor_reset(struct ctx *c, struct check_device *cd);
void check_sriov(struct ctx *c, struct check_device *cd);
void check_nvidia_persistence(struct ctx *c, struct check_device *cd);
/* The AMD APU generation of a display ("Phoenix"), NULL when D is no AMD APU iGPU. */
const char *quirk_amd_apu(const struct pci_dev_info *d);
/* What D is when it needs a host-side reset between guest boots ("an AMD APU", "NVIDIA
 * Blackwell"), NULL otherwise. */
const char *quirk_needs_host_reset(const struct pci_dev_info *d);
/* True when writing device_specific to D's reset_method works; otherwise WHY says why not. */
bool quirk_device_specific_ok(const struct ctx *c, const struct pci_dev_info *d, char *why,
			      size_t size);

/* check_cluster.c */
void check_cluster(struct ctx *c);
void check_backup_jobs(struct ctx *c, const char *id, const struct pve_vmconf *conf,
		       const char *node, const char *subj);

/* check_vm.c */
void check_vm(struct ctx *c, const struct vmwork *w, int vmid);

/* check_vm_entry.c: one hostpci entry H (L: its devices, ALL: every device of the VM). */
/* vm.mapping: -EINVAL (after a FAIL) when the start would stop at the mapping. */
int check_vm_mapping(struct ctx *c, const struct pve_hostpci *h, const char *subj);
/* vm.igd; *SEEN: an earlier entry is in legacy-igd mode. */
void check_vm_igd(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
		  const struct pve_devlist *l, bool q35, bool *seen, const char *subj);
void check_vm_functions(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			const struct pve_devlist *l, const struct pve_devlist *all,
			const char *subj);
void check_vm_romfile(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
		      const struct pve_devlist *l, const char *subj);

/* check_vm_apu.c */
struct rom_info;
void check_vm_apu(struct ctx *c, const struct vmwork *w, const char *subj);
void check_vm_apu_functions(struct ctx *c, const struct pve_vmconf *conf,
			    const struct pve_hostpci *h, const struct pve_devlist *l,
			    const char *subj);
/* The AMD APU generation when D is a function of an APU's card (the GPU's slot), or NULL. */
const char *apu_of_card(const struct ctx *c, const struct pci_dev_info *d);
/* True when the GOP driver ROM INFO is for D itself or for a display of D's card. */
bool gop_for_card(const struct ctx *c, const struct rom_info *info, const struct pci_dev_info *d);

/* check_vm_whole.c: over every device the VM gets */
void check_vm_reboot(struct ctx *c, const struct vmwork *w, const char *subj);
void check_vm_reset_method(struct ctx *c, const struct vmwork *w, const char *subj);
void check_vm_fabric(struct ctx *c, const struct pve_vmconf *conf, const struct pve_devlist *all,
		     int next_index, const char *subj);

/* check_vm_hook.c */
void check_vm_hookscript(struct ctx *c, const struct pve_vmconf *conf, const char *subj);

/* check_vm_variant.c: vm.variant, and the vm.hostpci line of driver=keep entry H when the
 * hookscript binds a device of it to a variant VFIO driver (true: that line was added). */
void check_vm_variant(struct ctx *c, const struct vmwork *w, const char *subj);
bool check_vm_keep_variant(struct ctx *c, const struct vmwork *w, const struct pve_hostpci *h,
			   const char *subj);

/* check_vm_fix.c: a hostpciN value for a fix's "qm set" line */
/* VALUE with the items whose key is DROP removed and ADD appended; the first item may be a bare
 * host id. Valid until the next call. */
const char *hostpci_edit(const char *value, const char *drop, const char *add_item);
/* VALUE with its host ids replaced by HOST (valid until the next call). */
const char *hostpci_with_host(const char *value, const char *host);
/* The first hostpci index the VM does not use. */
int hostpci_next_free(const struct pve_vmconf *conf);

/* check_vm_bars.c: the 64-bit BARs of ALL (every device the VM gets) against the guest's
 * address space (vm.bars, vm.rebar). */
void check_bars(struct ctx *c, const struct pve_vmconf *conf, const struct pve_devlist *all,
		bool q35, const char *subj);

/* The checks of one subject, run from check_list.c's tables. */
struct check_host_step {
	const char *name;
	void (*run)(struct ctx *c);
};
struct check_device_step {
	const char *name;
	bool display_only; /* only for display controllers */
	void (*run)(struct ctx *c, struct check_device *cd);
};

#endif
