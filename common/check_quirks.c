/* check_quirks.c - device checks for what specific kinds of card need (dev_quirks.h): the
 * reset advice for AMD GPUs by generation, vendor-reset (loaded, signed, applied), SR-IOV PFs
 * and VFs, and what keeps an NVIDIA card initialised. Run from check_list.c's device table
 * (check_amd_reset_advice from check_reset). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "check_int.h"
#include "dev_quirks.h"
#include "util.h"


/* AMD APU iGPUs (amdgpu's APU ids): no ROM BAR, the video BIOS is in the ACPI VFCT table. */
static const struct {
	uint16_t device;
	const char *name;
} amd_apus[] = {
	{ 0x15dd, "Raven" },          { 0x15d8, "Picasso" },
	{ 0x1636, "Renoir" },         { 0x1638, "Cezanne" },
	{ 0x164c, "Lucienne" },       { 0x15e7, "Barcelo" },
	{ 0x163f, "Van Gogh" },       { 0x1681, "Rembrandt" },
	{ 0x164e, "Raphael" },        { 0x1506, "Mendocino" },
	{ 0x15bf, "Phoenix" },        { 0x15c8, "Phoenix 2" },
	{ 0x150e, "Strix Point" },    { 0x1586, "Strix Halo" },
	{ 0x13c0, "Granite Ridge" },  { 0x1114, "Krackan Point" },
};

const char *quirk_amd_apu(const struct pci_dev_info *d)
{
	if (d->vendor != 0x1002 || !pcidev_is_display(d))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(amd_apus); i++)
		if (amd_apus[i].device == d->device)
			return amd_apus[i].name;
	return NULL;
}

/* GPUs reported (2025-2026) to come back dead, or to hang the host at the next start, when
 * nothing resets them between two guest boots: AMD RDNA3 and RDNA4 cards (Navi 31/32/33,
 * Navi 48/44 id blocks), AMD APUs, NVIDIA Blackwell (GB1xx/GB2xx: device ids 0x29xx-0x2fxx). */
const char *quirk_needs_host_reset(const struct pci_dev_info *d)
{
	static const struct {
		uint16_t first, last;
		const char *name;
	} amd[] = {
		{ 0x7440, 0x745f, "AMD Navi 31 (RDNA3)" }, { 0x7460, 0x747f, "AMD Navi 32 (RDNA3)" },
		{ 0x7480, 0x749f, "AMD Navi 33 (RDNA3)" }, { 0x7550, 0x755f, "AMD Navi 48 (RDNA4)" },
		{ 0x7590, 0x759f, "AMD Navi 44 (RDNA4)" },
	};

	if (!pcidev_is_display(d))
		return NULL;
	if (quirk_amd_apu(d))
		return "an AMD APU";
	if (d->vendor == 0x1002)
		for (size_t i = 0; i < ARRAY_SIZE(amd); i++)
			if (d->device >= amd[i].first && d->device <= amd[i].last)
				return amd[i].name;
	if (d->vendor == 0x10de && d->device >= 0x2900 && d->device <= 0x2fff)
		return "NVIDIA Blackwell";
	return NULL;
}

/* Whether the kernel can do a device-specific reset of D: the device lists device_specific in
 * reset_method (a kernel quirk, or vendor-reset loaded before it was probed), or vendor-reset
 * is loaded and has D's id. */
bool quirk_device_specific_ok(const struct ctx *c, const struct pci_dev_info *d, char *why,
			      size_t size)
{
	const struct amd_generation *g = quirks_amd_generation(d->vendor, d->device);
	bool loaded = sr_exists(c->sr, "/sys/module/vendor_reset");
	char methods[128];

	if (quirks_reset_method_read(c->sr, d->name, methods, sizeof(methods)) == 0 &&
	    has_word(methods, "device_specific"))
		return true;
	if (loaded && g && g->reset == AMD_RESET_VENDOR_RESET)
		return true;
	if (!loaded && g && g->reset == AMD_RESET_VENDOR_RESET)
		snprintf(why, size, "vendor-reset, which has %s, is not loaded", g->name);
	else if (loaded)
		snprintf(why, size, "vendor-reset is loaded, but %04x:%04x is not in its device list "
			 "(Polaris, Vega 10/20, Navi 10/12/14)", d->vendor, d->device);
	else
		snprintf(why, size, "no loaded module provides one for %04x:%04x (vendor-reset is not "
			 "loaded, and it covers only Polaris, Vega 10/20, Navi 10/12/14)", d->vendor,
			 d->device);
	return false;
}

/* The reset advice for an AMD GPU without a method made for it, by its generation. */
void check_amd_reset_advice(struct ctx *c, const struct pci_dev_info *d, const char *methods)
{
	const struct amd_generation *g = quirks_amd_generation(d->vendor, d->device);
	struct check_result *r;

	if (g && g->reset == AMD_RESET_VENDOR_RESET && sr_exists(c->sr, "/sys/module/vendor_reset")) {
		ck_add(c, "gpu.reset", CHECK_PASS, d->name, "reset methods: %s; %s (%s) is reset by "
		    "vendor-reset (loaded) once its reset_method is device_specific: see "
		    "gpu.vendor_reset", methods, g->name, g->cards);
		return;
	}
	if (g && g->reset == AMD_RESET_VENDOR_RESET) {
		r = ck_add(c, "gpu.reset", CHECK_WARN, d->name, "reset methods: %s, none made for this "
			"card: %s (%s) fails on the second VM start without vendor-reset (the AMD "
			"reset bug)", methods, g->name, g->cards);
		ck_fix(c, r, "install vendor-reset (github.com/gnif/vendor-reset), load it before "
			  "vfio-pci, then: echo device_specific > /sys/bus/pci/devices/%s/reset_method "
			  "(or reset_method = device_specific in the VM's [vm:N] section)", d->name);
		return;
	}
	char what[96] = "this card";

	if (g)
		snprintf(what, sizeof(what), "%s (%s)", g->name, g->cards);
	r = ck_add(c, "gpu.reset", CHECK_INFO, d->name, "reset methods: %s; %s is not in "
		"vendor-reset's device list (Polaris, Vega 10/20, Navi 10/12/14 only): vendor-reset "
		"does nothing for it, the kernel's own reset is all it gets", methods, what);
	ck_fix(c, r, "do not install vendor-reset for it; if the guest sees a dead card after a VM "
		  "restart, pass all functions of %.*s together and shut the guest down cleanly",
	    (int)strlen(d->name) - 2, d->name);
}

/* vendor-reset for an AMD GPU it handles: loaded (before the first reset), signed when Secure
 * Boot is on, and applied (reset_method device_specific, now or by the hook for the VM). */
void check_vendor_reset(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	const struct amd_generation *g = quirks_amd_generation(d->vendor, d->device);
	_cleanup_free_ struct cfg *cfg = NULL;
	struct vendor_reset_state vr;
	struct check_result *r;
	char err[256], vms[128] = "";
	bool sb, by_hook = false, all_vms = true;

	if (!g || g->reset != AMD_RESET_VENDOR_RESET || !pcidev_is_display(d) ||
	    quirks_vendor_reset(c->sr, &vr) < 0)
		return;
	sb = quirks_secure_boot(c->sr) == 1;
	if (!vr.loaded && !vr.file)
		return; /* gpu.reset says to install it */
	if (!vr.loaded) {
		if (sb && vr.file_signed == 0) {
			r = ck_add(c, "gpu.vendor_reset", CHECK_FAIL, d->name, "vendor-reset ('%s') is not "
				"signed and Secure Boot is on: the kernel refuses to load it", vr.path);
			ck_fix(c, r, "sign it with the DKMS key and enroll that key: mokutil --import "
				  "/var/lib/dkms/mok.pub, reboot and confirm in the MOK manager, then "
				  "dkms autoinstall (or turn Secure Boot off)");
			return;
		}
		r = ck_add(c, "gpu.vendor_reset", CHECK_WARN, d->name, "vendor-reset is installed ('%s') "
			"but not loaded: the card's first reset breaks it", vr.path);
		ck_fix(c, r, "load it at boot, before vfio-pci: echo vendor-reset >> /etc/modules, "
			  "update-initramfs -u -k all, reboot");
		return;
	}
	if (has_word(cd->reset_method, "device_specific") &&
	    str_has_prefix(cd->reset_method, "device_specific")) {
		ck_add(c, "gpu.vendor_reset", CHECK_PASS, d->name, "vendor-reset is loaded%s and applied "
		    "(reset_method %s)", sb && !vr.tainted ? " (signed: Secure Boot is on)" : "",
		    cd->reset_method);
		return;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg && cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) == 0) {
		for (int i = 0; i < c->nusers; i++) {
			size_t n = strlen(vms);

			if (strcmp(c->users[i].dev, d->name))
				continue;
			snprintf(vms + n, sizeof(vms) - n, "%s%d", n ? ", " : "", c->users[i].vmid);
			if (str_has_prefix(cfg_hook_opts(cfg, c->users[i].vmid)->reset_method,
					   "device_specific"))
				by_hook = true;
			else
				all_vms = false;
		}
	}
	if (by_hook && all_vms) {
		ck_add(c, "gpu.vendor_reset", CHECK_PASS, d->name, "vendor-reset is loaded%s; the "
		    "hookscript sets reset_method device_specific for VM %s",
		    sb && !vr.tainted ? " (signed: Secure Boot is on)" : "",
		    vms);
		return;
	}
	r = ck_add(c, "gpu.vendor_reset", CHECK_WARN, d->name, "vendor-reset is loaded but not "
		"applied: reset_method is '%s', so the kernel resets the card its own way first",
		cd->reset_method);
	ck_fix(c, r, "add reset_method = device_specific to the [vm:N] section of %s for the VM "
		  "that takes it (the hookscript sets it at start and puts it back after), or: echo "
		  "device_specific > /sys/bus/pci/devices/%s/reset_method",
	    c->o->config ? c->o->config : CONFIG_DEFAULT_PATH, d->name);
}

/* SR-IOV: a PF with VFs enabled cannot be handed over (the VFs go with its driver); a PF
 * without VFs says how to make them; a VF can be passed alone. */
void check_sriov(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char vfs[8][PCI_ADDR_LEN], list[160] = "", who[128];
	const char *param;
	struct sriov_info si;
	struct check_result *r;
	int n;

	if (quirks_sriov(c->sr, d->name, &si) < 0)
		return;
	if (si.is_vf) {
		ck_add(c, "dev.sriov", CHECK_PASS, d->name, "SR-IOV virtual function of %s: it can be "
		    "passed through alone (IOMMU group %d)", si.pf, d->iommu_group);
		return;
	}
	if (si.totalvfs <= 0)
		return;
	if (si.numvfs <= 0) {
		r = ck_add(c, "dev.sriov", CHECK_INFO, d->name, "SR-IOV physical function: none of its %d "
			"VFs is enabled (sriov_numvfs is 0)", si.totalvfs);
		ck_fix(c, r, "to make VFs: echo %d > /sys/bus/pci/devices/%s/sriov_numvfs (at every boot: "
			  "a udev rule or sysfsutils)", si.totalvfs, d->name);
		if ((param = quirks_sriov_boot_param(d->driver)))
			ck_fix(c, r, "driver %s makes VFs only when loaded with %s on the kernel command "
				  "line", d->driver, param);
		return;
	}
	n = quirks_sriov_vfs(c->sr, d->name, vfs, (int)ARRAY_SIZE(vfs));
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " " : "",
			 vfs[i]);
	if (users_of(c, d->name, who, sizeof(who))) {
		int free_vf = -1;
		char other[128];

		/* the VF offered is one no VM or container uses, nor the pool of a mapping a VM uses */
		for (int i = 0; i < n && free_vf < 0; i++)
			if (!pve_users_any_of(&c->vms, vfs[i], other, sizeof(other)))
				free_vf = i;
		r = ck_add(c, "dev.sriov", CHECK_FAIL, d->name, "SR-IOV physical function with %d VF%s "
			"enabled (%s), passed through by %s: binding it to vfio-pci would destroy the "
			"VFs, so the hookscript refuses it", si.numvfs, si.numvfs == 1 ? "" : "s", list,
			who);
		if (free_vf >= 0)
			ck_fix(c, r, "pass a free VF instead (hostpciN: %s), or remove the VFs first: "
				  "echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs", vfs[free_vf], d->name);
		else
			ck_fix(c, r, "every VF is in use by a VM or container: make more ([sriov] vfs = in "
				  "pve-gpu-passthrough.ini(5)) and pass a new one, or remove the VFs "
				  "first: echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs", d->name);
		return;
	}
	ck_add(c, "dev.sriov", CHECK_INFO, d->name, "SR-IOV physical function: %d of %d VFs enabled "
	    "(%s); pass a VF to a VM, not this function", si.numvfs, si.totalvfs, list);
}

/* NVIDIA: what keeps the card initialised without an open file stops its driver's unbind. */
void check_nvidia_persistence(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	const struct quirks_exec ex = { .run = quirks_exec_real, .data = (void *)c->sr };
	_cleanup_free_ struct cfg *cfg = NULL;
	struct check_result *r;
	char err[256], vms[128] = "";
	bool all_stop = true;
	pid_t pid;
	int pm;

	if (strcmp(d->driver, "nvidia"))
		return;
	pid = quirks_nvidia_daemon(c->sr);
	if (pid > 0) {
		cfg = calloc(1, sizeof(*cfg));
		if (!cfg || cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0)
			all_stop = false;
		for (int i = 0; i < c->nusers; i++) {
			size_t n = strlen(vms);

			if (strcmp(c->users[i].dev, d->name))
				continue;
			snprintf(vms + n, sizeof(vms) - n, "%s%d", n ? ", " : "", c->users[i].vmid);
			if (all_stop && !cfg_hook_opts(cfg, c->users[i].vmid)->persistenced_stop)
				all_stop = false;
		}
		if (vms[0] && all_stop) {
			ck_add(c, "gpu.nvidia_persistence", CHECK_INFO, d->name, "nvidia-persistenced (pid "
			    "%d) keeps the card initialised; the hookscript stops it for VM %s and "
			    "starts it again after (nvidia_persistenced = stop)", (int)pid, vms);
			return;
		}
		r = ck_add(c, "gpu.nvidia_persistence", CHECK_WARN, d->name, "nvidia-persistenced (pid %d) "
			"keeps the card initialised: the nvidia driver's unbind would hang or fail "
			"('non-zero usage count'), so the hookscript refuses to hand it over", (int)pid);
		ck_fix(c, r, "set nvidia_persistenced = stop in [hook] (or the VM's [vm:N]) of %s, or "
			  "turn it off for good: systemctl disable --now " QUIRKS_PERSISTENCED_UNIT,
		    c->o->config ? c->o->config : CONFIG_DEFAULT_PATH);
		return;
	}
	pm = quirks_nvidia_persistence(&ex, d->name);
	if (pm == 1) {
		r = ck_add(c, "gpu.nvidia_persistence", CHECK_WARN, d->name, "persistence mode is on "
			"(without nvidia-persistenced): the nvidia driver would not let go of the card, "
			"so the hookscript refuses to hand it over");
		ck_fix(c, r, "turn it off: nvidia-smi -i %s -pm 0", d->name);
		return;
	}
	/* nothing holds it: nothing to say (every NVIDIA GPU would get the same line) */
}
