/* check_device.c - the device checks: what a device is (kind, relevance), its IOMMU group,
 * driver, framebuffer and reset; the NVSwitch fabric (see check_list.h for the ids). */
#define _GNU_SOURCE
#include "check_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev_bind.h"
#include "cfg_ini.h"
#include "dev_console.h"
#include "dev_health.h"
#include "dev_quirks.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "util.h"
#include "sysfs.h"

/* --- devices ---------------------------------------------------------------------------- */

/* The displays of server BMCs: ASPEED AST1x00/2x00 (1a03:2000), Matrox G200 server variants
 * (G200e, eW, EV, EH, eR2, eW3, eH3). They show the remote console; nobody passes them. */
static bool is_bmc_display(const struct pci_dev_info *d)
{
	static const uint16_t matrox[] = { 0x0522, 0x0530, 0x0532, 0x0533, 0x0534, 0x0536,
					   0x0538 };

	if (!pcidev_is_display(d))
		return false;
	if (d->vendor == 0x1a03)
		return true;
	for (size_t i = 0; d->vendor == 0x102b && i < ARRAY_SIZE(matrox); i++)
		if (d->device == matrox[i])
			return true;
	return false;
}

bool is_windows(const char *ostype)
{
	/* Proxmox's ostype values for Windows: wxp w2k w2k3 w2k8 wvista win7 win8 win10 win11 */
	return ostype[0] == 'w';
}

/* Who uses which device (pve_users.h), from one scan: every VM config of this node, expanded as
 * a start would (errors: that VM is skipped), and when VMs are checked, the containers using
 * any device of the host (vm.containers). */
int scan_vm_users(struct ctx *c)
{
	const struct pcidb *db = c->rep->db;
	_cleanup_free_ const char **devs = NULL;
	int n = 0, r;

	if (c->o->nvmids > 0 && db->ndev > 0) {
		if (!(devs = calloc((size_t)db->ndev, sizeof(*devs))))
			return -ENOMEM;
		for (int i = 0; i < db->ndev && n < LXC_MAX_DEVS; i++)
			devs[n++] = db->dev[i].name;
	}
	r = pve_users_scan(c->sr, c->node, devs, n, &c->vms);
	c->users = c->vms.use;
	c->nusers = c->vms.nuse;
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Two VMs with onboot: 1 that pass the same device: at every boot of the node the second one's
 * start fails (the device is taken), and nothing says so. */
void check_onboot(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	struct check_result *r;
	char vms[160] = "";
	int ids[16], n = 0;

	/* a mapping with other entries for the node gives each start a free one */
	for (int i = 0; i < c->nusers && n < (int)ARRAY_SIZE(ids); i++)
		if (c->users[i].onboot && !strcmp(c->users[i].dev, d->name) &&
		    !(c->users[i].mapping[0] &&
		      pve_users_pooled(&c->vms, c->users[i].vmid, c->users[i].mapping)))
			ids[n++] = c->users[i].vmid;
	if (n < 2)
		return;
	/* the order of the directory is the file system's: sort for a stable message */
	qsort(ids, (size_t)n, sizeof(ids[0]), cmp_int);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(vms);

		snprintf(vms + len, sizeof(vms) - len, "%s%d", i ? ", " : "", ids[i]);
	}
	r = ck_add(c, "gpu.onboot", CHECK_WARN, d->name, "VMs %s all start at boot (onboot: 1) and "
		"all pass it: only the first one started gets it, the others fail to start at every "
		"boot of the node", vms);
	ck_fix(c, r, "keep onboot on one of them: qm set VMID --onboot 0 for the others (or give "
		  "them different devices)");
}

/* A device that a VM gave back unhealthy is marked until the host reboots (dev_health.h):
 * pre-start refuses it. */
static void health_one(struct ctx *c, const char *name)
{
	struct check_result *r;
	struct health_mark m;
	char fix[512];
	int e = health_mark_load(c->sr, name, &m);

	if (e == 0)
		return;
	if (e < 0) {
		r = ck_add(c, "dev.health", CHECK_FAIL, name, "its health mark %s/%s cannot be used "
			   "(%s): no VM start takes it", HEALTH_DIR, name, health_mark_error(e));
		ck_fix(c, r, "remove %s/%s once the device is known to work", HEALTH_DIR, name);
		return;
	}
	health_fix(name, &m, fix, sizeof(fix));
	r = ck_add(c, "dev.health", CHECK_FAIL, name, "did not come back after VM %d stopped (%s): "
		   "marked until the host reboots, no VM start takes it", m.vmid,
		   health_fault_text(m.fault));
	ck_fix(c, r, "%s", fix);
}

/* ... for every member of the device's IOMMU group (the group is what a VM takes). */
void check_health(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char members[32][PCI_ADDR_LEN];
	int n = d->iommu_group >= 0 ? pcidev_group_members(c->sr, d->iommu_group, members, 32) : -1;

	if (n <= 0) {
		health_one(c, d->name);
		return;
	}
	for (int i = 0; i < n; i++)
		health_one(c, members[i]);
}

/* The VMs using device NAME, as "VM 100, VM 105" (empty: none). */
bool users_of(const struct ctx *c, const char *name, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < c->nusers; i++) {
		size_t n = strlen(buf);

		if (strcmp(c->users[i].dev, name) == 0)
			snprintf(buf + n, size - n, "%sVM %d", n ? ", " : "", c->users[i].vmid);
	}
	return buf[0] != '\0';
}

/* Why a display no VM uses is not a passthrough candidate, or NULL when it is one: a BMC's
 * display, or the host's console GPU while another GPU could be passed instead. */
const char *not_a_candidate(const struct ctx *c, const struct pci_dev_info *d)
{
	const struct pcidb *db = c->rep->db;
	char who[128];

	if (users_of(c, d->name, who, sizeof(who)))
		return NULL;
	if (is_bmc_display(d))
		return "a BMC's display, used by no VM";
	if (d->boot_vga != 1)
		return NULL;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[i];

		if (o != d && pcidev_is_display(o) && !is_bmc_display(o) && o->boot_vga != 1)
			return "the host's console GPU, used by no VM";
	}
	return NULL;
}

void check_kind(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char name[256], cls[128];
	const char *dn = pcidb_device_name(c->rep->db, d->vendor, d->device, name, sizeof(name));
	const char *cn = pcidb_class_name(c->rep->db, d->class, cls, sizeof(cls));
	struct check_result *r;

	if (!dn)
		dn = "unknown device";
	if (pcidev_is_igpu(d)) {
		r = ck_add(c, "gpu.kind", CHECK_INFO, d->name, "%s: Intel integrated GPU: it has no ROM "
			"BAR (its video BIOS is part of the board's firmware)", dn);
		ck_fix(c, r, "for a VM: hostpciN: 0000:00:02.0 (no romfile; rom dump cannot read an "
			  "iGPU); for its display at boot use legacy-igd=1, which needs machine "
			  "i440fx (pc) and vga: none");
	} else if (quirk_amd_apu(d)) {
		r = ck_add(c, "gpu.kind", CHECK_INFO, d->name, "%s: AMD APU (%s): it has no ROM BAR "
			"(its video BIOS is in the ACPI VFCT table), and the other functions of its slot "
			"are the host's (PSP, USB, audio)", dn, quirk_amd_apu(d));
		ck_fix(c, r, "for a VM: the GPU with romfile= its video BIOS (pve-gpu-passthrough rom "
			  "dump --vfct %s -o /usr/share/kvm/FILE) and, for OVMF, its audio function "
			  "with a GOP driver ROM (see vm.apu)", d->name);
	} else if (is_bmc_display(d)) {
		ck_add(c, "gpu.kind", CHECK_INFO, d->name, "%s: the display of the server's BMC (its "
		    "remote console), not a passthrough candidate", dn);
	} else if (pcidev_is_nv_datacenter(d)) {
		r = ck_add(c, "gpu.kind", CHECK_INFO, d->name, "%s: NVIDIA datacenter GPU (%s, class "
			"%04x): no VGA, no display output", dn, cn ? cn : "3D controller",
			d->class >> 8);
		ck_fix(c, r, "pass it without x-vga; the guest needs NVIDIA's datacenter driver (and, "
			  "on HGX boards with NVSwitch, Fabric Manager: see gpu.fabric)");
	} else if (!pcidev_is_vga(d)) {
		r = ck_add(c, "gpu.kind", CHECK_INFO, d->name, "%s: %s (class %04x), not a VGA "
			"controller: it has no legacy VGA, so it can be no VM's x-vga display", dn,
			cn ? cn : "display controller", d->class >> 8);
		ck_fix(c, r, "pass it without x-vga=1");
	}
}

/* HGX boards: NVSwitches connect the GPUs; until NVIDIA Fabric Manager has set up the fabric
 * CUDA reports "system not yet initialized" (error 802) on every GPU (NVIDIA Fabric Manager
 * User Guide, "Full Passthrough" and "Shared NVSwitch" virtualization models). */
void check_fabric(struct ctx *c)
{
	struct pcidb *db = c->rep->db;
	char list[512] = "", name[256];
	struct check_result *r;
	int n = 0;

	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		size_t len = strlen(list);

		if (!pcidev_is_nvswitch(d))
			continue;
		if (n < 8)
			snprintf(list + len, sizeof(list) - len, "%s%s", n ? ", " : "", d->name);
		else if (n == 8)
			snprintf(list + len, sizeof(list) - len, ", ...");
		n++;
	}
	if (!n)
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];

		if (pcidev_is_nvswitch(d)) {
			const char *dn = pcidb_device_name(db, d->vendor, d->device, name,
							   sizeof(name));

			r = ck_add(c, "gpu.fabric", CHECK_INFO, NULL, "%d NVIDIA NVSwitch%s%s%s%s (%s): an "
				"HGX board whose GPUs stay unusable (CUDA error 802, \"system not yet "
				"initialized\") until NVIDIA Fabric Manager has set up the fabric", n,
				n == 1 ? "" : "es", dn ? " [" : "", dn ? dn : "", dn ? "]" : "", list);
			ck_fix(c, r, "to pass all GPUs to one VM, pass the NVSwitches with them and run "
				  "nvidia-fabricmanager in the guest (Fabric Manager's \"full passthrough\" "
				  "model); for GPUs split across VMs, a service VM holding the NVSwitches "
				  "runs Fabric Manager (\"shared NVSwitch\" model)");
			return;
		}
	}
}

int collect_members(struct ctx *c, struct check_device *cd)
{
	const struct pcidb_group *g;

	if (cd->dev->iommu_group < 0)
		return 0;
	g = pcidb_group(c->rep->db, cd->dev->iommu_group);
	if (!g)
		return 0;
	cd->members = calloc((size_t)g->n, sizeof(*cd->members));
	if (!cd->members)
		return -ENOMEM;
	for (int i = g->first; i < g->first + g->n; i++) {
		const struct pci_dev_info *m = &c->rep->db->dev[i];
		struct check_member *cm;

		if (m == cd->dev)
			continue;
		cm = &cd->members[cd->nmembers++];
		cm->dev = m;
		cm->companion = pcidev_same_slot(m, cd->dev);
		if (c->rep->hd && !m->is_bridge)
			hostdev_is_critical(c->rep->hd, m->name, cm->critical, sizeof(cm->critical));
	}
	return 0;
}

const char *drv_name(const struct pci_dev_info *d)
{
	return d->driver[0] ? d->driver : "no driver";
}

void check_group(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char with[1024] = "", foreign[1024] = "", crit[1024] = "";
	struct check_result *r;

	if (d->iommu_group < 0) {
		r = ck_add(c, "group.isolation", CHECK_FAIL, d->name, "no IOMMU group: the IOMMU is off");
		ck_fix(c, r, "switch the IOMMU on first (see iommu.enabled)");
		return;
	}
	for (int i = 0; i < cd->nmembers; i++) {
		const struct check_member *m = &cd->members[i];
		size_t n;

		if (m->dev->is_bridge)
			continue; /* bridges stay with the host; vfio does not need them */
		n = strlen(with);
		snprintf(with + n, sizeof(with) - n, "%s%s (%s%s)", n ? ", " : "", m->dev->name,
			 drv_name(m->dev), m->companion ? ", same card" : "");
		if (m->critical[0]) {
			n = strlen(crit);
			snprintf(crit + n, sizeof(crit) - n, "%s%s (%s), which %s", n ? "; " : "",
				 m->dev->name, drv_name(m->dev), m->critical);
		} else if (!m->companion) {
			n = strlen(foreign);
			snprintf(foreign + n, sizeof(foreign) - n, "%s%s (%s)", n ? ", " : "",
				 m->dev->name, drv_name(m->dev));
		}
	}
	if (crit[0]) {
		r = ck_add(c, "group.isolation", CHECK_FAIL, d->name, "IOMMU group %d also holds %s: "
			"passing it through takes that from the host%s%s", d->iommu_group, crit,
			foreign[0] ? "; the group also holds " : "", foreign);
		ck_fix(c, r, "put the card in another slot (slots wired to the CPU usually have a group of "
			  "their own) and run pve-gpu-passthrough list again, or move what the host "
			  "needs to another controller; the hookscript refuses this group");
		ck_fix(c, r, "pcie_acs_override would only hide the sharing (see cmdline.acs_override)");
		return;
	}
	if (foreign[0]) {
		r = ck_add(c, "group.isolation", CHECK_WARN, d->name, "IOMMU group %d also holds %s: "
			"they leave the host with it", d->iommu_group, foreign);
		ck_fix(c, r, "Proxmox and the hookscript take the whole group: pass those devices to "
			  "the same VM, or put the card in a slot with a group of its own");
		return;
	}
	if (with[0] && !c->rep->hd) {
		r = ck_add(c, "group.isolation", CHECK_WARN, d->name, "IOMMU group %d: with %s; cannot "
			"tell whether the host needs them ('/proc/self/mountinfo' is unreadable)",
			d->iommu_group, with);
		ck_fix(c, r, "run the check as root on the host itself");
	} else if (with[0])
		ck_add(c, "group.isolation", CHECK_PASS, d->name, "IOMMU group %d: with %s", d->iommu_group,
		    with);
	else if (cmdline_has(c->rep->host.cmdline, "pcie_acs_override"))
		ck_add(c, "group.isolation", CHECK_INFO, d->name, "IOMMU group %d: alone in the grouping "
		    "pcie_acs_override makes, not one the hardware promises: DMA may still reach the "
		    "devices the override split off (see cmdline.acs_override)", d->iommu_group);
	else
		ck_add(c, "group.isolation", CHECK_PASS, d->name, "IOMMU group %d: alone", d->iommu_group);
}

void check_driver(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	const char *boot = d->boot_vga == 1 ? "; it is the boot GPU (host console)" : "";
	struct check_result *r;

	if (strcmp(d->driver, "vfio-pci") == 0) {
		ck_add(c, "gpu.driver", CHECK_PASS, d->name, "on vfio-pci%s", boot);
		return;
	}
	if (!d->driver[0]) {
		ck_add(c, "gpu.driver", CHECK_PASS, d->name, "no driver bound%s", boot);
		return;
	}
	r = ck_add(c, "gpu.driver", CHECK_INFO, d->name, "on host driver %s%s", d->driver, boot);
	ck_fix(c, r, "nothing to do for a VM with the hookscript: it moves the group to vfio-pci at VM "
		  "start and back after it stops%s", d->boot_vga == 1 ?
		  ", releasing the console first" : "");
}

/* The kernel parameter that keeps the firmware from setting up a framebuffer, for kernels on
 * which the lab showed it working; NULL elsewhere (the caller says what works there). */
const char *fb_param(const struct hostinfo *h)
{
	return host_boot_fb_param(h->release);
}

void check_fb(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	struct check_result *r;

	if (!c->rep->iomem_ok) {
		r = ck_add(c, "fb.bar_overlap", CHECK_WARN, d->name, "cannot read the addresses in "
			"'/proc/iomem'");
		ck_fix(c, r, "run the check as root (/proc/iomem shows addresses only to root)");
		return;
	}
	for (int i = 0; i < 6 && !cd->fb; i++) {
		const struct pci_resource *b = &d->res[i];

		if (!(b->flags & IORESOURCE_MEM) || b->end <= b->start)
			continue;
		cd->fb = iomem_fw_fb_in(&c->rep->iomem, b->start, b->end);
		cd->fb_bar = i;
	}
	if (!cd->fb) {
		ck_add(c, "fb.bar_overlap", CHECK_PASS, d->name, "no firmware framebuffer in its BARs");
		return;
	}
	enum console_fb_fate fate = console_fb_fate(d, cd->fb->name);

	r = ck_add(c, "fb.bar_overlap", fate == CONSOLE_FB_STAYS ? CHECK_FAIL : CHECK_WARN, d->name,
		"firmware framebuffer %s [mem %#llx-%#llx] sits in BAR %d [mem %#llx-%#llx]: "
		"vfio-pci cannot claim the BAR (\"BAR %d: can't reserve\") while it is there",
		cd->fb->name, (unsigned long long)cd->fb->start, (unsigned long long)cd->fb->end,
		cd->fb_bar, (unsigned long long)d->res[cd->fb_bar].start,
		(unsigned long long)d->res[cd->fb_bar].end, cd->fb_bar);
	if (fate == CONSOLE_FB_STAYS) {
		ck_fix(c, r, "it belongs to a simple-framebuffer device, which vfio-pci removes only "
			  "for a VGA controller (this is class %06x): the hookscript refuses to start "
			  "a VM with this GPU; " CONSOLE_FB_LEFT_FIX ":", d->class);
	} else if (fate == CONSOLE_FB_REMOVED) {
		ck_fix(c, r, "the hookscript hands the GPU over anyway: vfio-pci removes the "
			  "simple-framebuffer device when it binds, for good (the host's boot console "
			  "on this GPU comes back only at the next boot); to keep the firmware from "
			  "setting it up at all:");
	} else {
		ck_fix(c, r, "the hookscript releases it at VM start and gives it back after; to keep "
			  "the firmware from setting it up at all (the host then has no boot console "
			  "on this GPU):");
	}
	if (fb_param(&c->rep->host))
		/* a display that is no candidate does not get the change into the all-at-once
		 * edit */
		fix_cmdline(c, r, fb_param(&c->rep->host), NULL, !c->demote);
	else
		ck_fix(c, r, "initcall_blacklist=sysfb_init is shown to work only on kernels 5.10 to 7.3 "
			  "(kernel %s): %s", c->rep->host.release[0] ? c->rep->host.release : "unknown",
		    fate == CONSOLE_FB_STAYS ? "let the card's own driver load once before the VM "
					       "starts instead" :
					       "the hookscript's handoff is enough");
}

/* VGA text mode: vgacon on the boot VGA device goes for good when vfio-pci takes it. */
void check_vgacon(struct ctx *c, struct check_device *cd)
{
	struct check_result *r;

	if (console_vgacon_lost(c->sr, cd->dev, c->rep->host.release) != 1)
		return;
	r = ck_add(c, "console.vgacon", CHECK_WARN, cd->dev->name, CONSOLE_VGACON_LOST_MSG);
	ck_fix(c, r, CONSOLE_VGACON_LOST_FIX);
}

/* Two VGA cards on a kernel before 6.12: vfio-pci removes the boot GPU's firmware framebuffer
 * when it takes the other card. */
void check_other_fb(struct ctx *c, struct check_device *cd)
{
	struct check_result *r;
	char fb[64];

	if (console_other_fb_lost(c->sr, cd->dev, c->rep->host.release, fb) != 1)
		return;
	r = ck_add(c, "console.other_fb", CHECK_WARN, cd->dev->name, CONSOLE_OTHER_FB_LOST_MSG, fb);
	ck_fix(c, r, CONSOLE_OTHER_FB_LOST_FIX);
}

bool has_word(const char *list, const char *w)
{
	char padded[160], hay[300];

	snprintf(padded, sizeof(padded), " %s ", w);
	snprintf(hay, sizeof(hay), " %s ", list);
	return strstr(hay, padded) != NULL;
}

void check_reset(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	bool amd_gpu = d->vendor == 0x1002 && pcidev_is_display(d);
	char path[SR_PATH_MAX];
	struct check_result *r;

	if (sysfs_pci_dev(path, d->name, "reset_method") == 0 &&
	    sr_read_str(c->sr, path, cd->reset_method, sizeof(cd->reset_method)) >= 0)
		cd->has_reset_method = true;
	else
		cd->reset_method[0] = '\0';
	if (cd->has_reset_method) {
		const char *m = cd->reset_method;

		if (!m[0]) {
			r = ck_add(c, "gpu.reset", CHECK_WARN, d->name, "reset is switched off (reset_method "
				"is empty)");
			ck_fix(c, r, "give the kernel its methods back: echo default > "
				  SYSFS_PCI_DEVICES "/%s/reset_method", d->name);
		} else if (has_word(m, "flr") || has_word(m, "af_flr") ||
			   has_word(m, "device_specific")) {
			ck_add(c, "gpu.reset", CHECK_PASS, d->name, "reset methods: %s", m);
		} else if (amd_gpu) {
			check_amd_reset_advice(c, d, m); /* by generation: check_quirks.c */
		} else {
			r = ck_add(c, "gpu.reset", CHECK_INFO, d->name, "reset methods: %s, no function "
				"level reset: the card is reset through its bus, every function together", m);
			ck_fix(c, r, "nothing to do unless the guest sees a dead card after a VM restart; "
				  "then pass all functions of %.*s together (hostpciN: %.*s)",
			    (int)strlen(d->name) - 2, d->name, (int)strlen(d->name) - 2, d->name);
		}
		return;
	}
	if (d->has_reset) {
		ck_add(c, "gpu.reset", CHECK_PASS, d->name, "resettable (the kernel is too old to show "
		    "reset_method)");
		return;
	}
	r = ck_add(c, "gpu.reset", CHECK_WARN, d->name, "no reset: after a VM stops the card keeps the "
		"guest's state");
	if (amd_gpu && quirks_amd_generation(d->vendor, d->device) &&
	    quirks_amd_generation(d->vendor, d->device)->reset == AMD_RESET_VENDOR_RESET)
		ck_fix(c, r, "install vendor-reset (github.com/gnif/vendor-reset) for this AMD card (%s)",
		       quirks_amd_generation(d->vendor, d->device)->name);
	else
		ck_fix(c, r, "if the guest shows nothing on its second start, reboot the host between "
			  "VM runs");
}
