/* check_host.c - the host checks: CPU, boot loader, IOMMU, interrupt remapping, the kernel
 * command line, ACS, the vfio modules (see check_list.h for the ids). */
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
#include "pve_conf.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "util.h"
#include "sysfs.h"

/* --- host ------------------------------------------------------------------------------- */

void check_cpu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->cpu == CPU_INTEL || h->cpu == CPU_AMD) {
		ck_add(c, "cpu.vendor", CHECK_PASS, NULL, "%s (%s)%s%s", cpu_vendor_name(h->cpu),
		    h->cpu_vendor_id, h->cpu_model[0] ? ": " : "", h->cpu_model);
		return;
	}
	if (!h->cpu_vendor_id[0]) {
		r = ck_add(c, "cpu.vendor", CHECK_WARN, NULL, "cannot read the CPU vendor from '/proc/cpuinfo'");
		ck_fix(c, r, "the checks below assume neither Intel nor AMD; run as root on the host itself");
		return;
	}
	r = ck_add(c, "cpu.vendor", CHECK_INFO, NULL, "%s: neither Intel nor AMD", h->cpu_vendor_id);
	ck_fix(c, r, "the IOMMU switches of this CPU are not known here; see its vendor's documentation");
}

void check_boot(struct ctx *c)
{
	const struct host_boot *b = &c->rep->boot;
	struct check_result *r;

	if (b->kind == BOOT_UNKNOWN) {
		r = ck_add(c, "boot.loader", CHECK_WARN, NULL, "cannot tell the boot loader: %s", b->why);
		ck_fix(c, r, "kernel command line changes below are given as parameters only: GRUB keeps "
			  "them in /etc/default/grub (then update-grub), systemd-boot in "
			  "/etc/kernel/cmdline (then proxmox-boot-tool refresh)");
		return;
	}
	if (b->line)
		ck_add(c, "boot.loader", CHECK_PASS, NULL, "%s (%s): the command line is %s%s'%s' line %d, "
		    "applied with %s", boot_kind_name(b->kind), b->why, b->var[0] ? b->var : "",
		    b->var[0] ? " in " : "", b->file, b->line, b->refresh);
	else
		ck_add(c, "boot.loader", CHECK_PASS, NULL, "%s (%s): '%s' sets no command line yet, "
		    "applied with %s", boot_kind_name(b->kind), b->why, b->file, b->refresh);
}

void check_acpi(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const char *table = h->cpu == CPU_AMD ? "IVRS" : "DMAR";
	struct check_result *r;

	if (h->dmar || h->ivrs) {
		ck_add(c, "iommu.acpi", CHECK_PASS, NULL, "the firmware describes an IOMMU (ACPI %s table)",
		    h->dmar ? "DMAR" : "IVRS");
		return;
	}
	if (!h->acpi_tables) {
		r = ck_add(c, "iommu.acpi", CHECK_INFO, NULL, "cannot tell: '/sys/firmware/acpi/tables' is "
			"not there");
		ck_fix(c, r, "nothing to do when iommu.enabled passes");
		return;
	}
	r = ck_add(c, "iommu.acpi", CHECK_FAIL, NULL, "the firmware describes no IOMMU (no ACPI %s "
		"table): it is switched off in the firmware setup, or not supported", table);
	if (h->cpu == CPU_AMD)
		ck_fix(c, r, "enable \"IOMMU\" (AMD-Vi) and \"SVM\" in the firmware (BIOS/UEFI) setup, "
			  "then reboot");
	else
		ck_fix(c, r, "enable \"VT-d\" (Intel Virtualization Technology for Directed I/O) in the "
			  "firmware (BIOS/UEFI) setup, then reboot");
}

void check_iommu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->iommu_groups > 0) {
		ck_add(c, "iommu.enabled", CHECK_PASS, NULL, "on: %d IOMMU group%s%s%s%s", h->iommu_groups,
		    h->iommu_groups == 1 ? "" : "s", h->iommu_unit[0] ? " (" : "", h->iommu_unit,
		    h->iommu_unit[0] ? ")" : "");
		return;
	}
	r = ck_add(c, "iommu.enabled", CHECK_FAIL, NULL, "off: '/sys/kernel/iommu_groups' is empty, so "
		"no device can be passed through");
	if (cmdline_has_value(h->cmdline, "intel_iommu", "off") ||
	    cmdline_has_value(h->cmdline, "amd_iommu", "off") ||
	    cmdline_has_value(h->cmdline, "iommu", "off")) {
		char remove[64] = "";

		/* On Intel, adding intel_iommu=on replaces the "off". */
		if (cmdline_has_value(h->cmdline, "intel_iommu", "off") && h->cpu != CPU_INTEL)
			add_words(remove, sizeof(remove), "intel_iommu");
		if (cmdline_has_value(h->cmdline, "amd_iommu", "off"))
			add_words(remove, sizeof(remove), "amd_iommu");
		if (cmdline_has_value(h->cmdline, "iommu", "off"))
			add_words(remove, sizeof(remove), "iommu");
		ck_fix(c, r, "the kernel command line switches it off:");
		fix_cmdline(c, r, h->cpu == CPU_INTEL ? "intel_iommu=on" : NULL,
			    remove[0] ? remove : NULL, true);
	} else if (h->cpu == CPU_INTEL && !cmdline_has_value(h->cmdline, "intel_iommu", "on")) {
		fix_cmdline(c, r, "intel_iommu=on", NULL, true);
	} else if (h->acpi_tables && !h->dmar && !h->ivrs) {
		ck_fix(c, r, "switch it on in the firmware first (see iommu.acpi)");
	} else if (h->cpu == CPU_AMD) {
		ck_fix(c, r, "AMD-Vi is on by default when the firmware enables it: check \"IOMMU\" in "
			  "the firmware setup, and 'dmesg | grep AMD-Vi' for errors");
	} else {
		ck_fix(c, r, "check the firmware's IOMMU setting and 'dmesg | grep -i -e DMAR -e IOMMU'");
	}
}

void check_intel_iommu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;
	const char *how = NULL;

	if (h->cpu != CPU_INTEL)
		return;
	if (cmdline_has_value(h->cmdline, "intel_iommu", "on")) {
		ck_add(c, "cmdline.intel_iommu", CHECK_PASS, NULL, "intel_iommu=on is set");
		return;
	}
	if (h->iommu_groups > 0 && !cmdline_has(h->cmdline, "intel_iommu") &&
	    host_boot_iommu_default_on(c->sr, h->release, &how)) {
		ck_add(c, "cmdline.intel_iommu", CHECK_PASS, NULL, "intel_iommu=on is not set and not "
		       "needed: kernel %s turns the IOMMU on by default (%s)", h->release, how);
		return;
	}
	if (h->iommu_groups > 0 && !cmdline_has(h->cmdline, "intel_iommu")) {
		r = ck_add(c, "cmdline.intel_iommu", CHECK_WARN, NULL, "intel_iommu=on is not set: the "
			"IOMMU is on only because this kernel enables it by default; a kernel built "
			"otherwise turns it off");
		fix_cmdline(c, r, "intel_iommu=on", NULL, true);
		return;
	}
	r = ck_add(c, "cmdline.intel_iommu", CHECK_FAIL, NULL, "intel_iommu=on is not set%s",
		cmdline_has(h->cmdline, "intel_iommu") ? " (intel_iommu has another value)" : "");
	fix_cmdline(c, r, "intel_iommu=on", NULL, true);
}

void check_iommu_pt(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (cmdline_has_value(h->cmdline, "iommu", "pt")) {
		ck_add(c, "cmdline.iommu_pt", CHECK_PASS, NULL, "iommu=pt is set");
		return;
	}
	r = ck_add(c, "cmdline.iommu_pt", CHECK_INFO, NULL, "iommu=pt is not set: the host's own "
		"devices also go through IOMMU translation, which costs DMA performance");
	fix_cmdline(c, r, "iommu=pt", NULL, true);
}

void check_intremap(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->intremap == 1) {
		ck_add(c, "iommu.intremap", CHECK_PASS, NULL, "interrupt remapping is on (IR- interrupt "
		    "chips in '/proc/interrupts')");
	} else if (h->iommu_groups == 0) {
		r = ck_add(c, "iommu.intremap", CHECK_INFO, NULL, "cannot tell while the IOMMU is off");
		ck_fix(c, r, "check again once iommu.enabled passes");
	} else if (h->intremap < 0) {
		r = ck_add(c, "iommu.intremap", CHECK_WARN, NULL, "cannot read '/proc/interrupts': %s",
			strerror(-h->intremap));
		ck_fix(c, r, "run the check as root on the host itself");
	} else if (h->unsafe_interrupts == 1) {
		r = ck_add(c, "iommu.intremap", CHECK_WARN, NULL, "interrupt remapping is off and vfio "
			"runs with allow_unsafe_interrupts=1: a VM can send the host interrupts it "
			"should not");
		ck_fix(c, r, "enable \"Interrupt Remapping\" (with VT-d / IOMMU) in the firmware setup or "
			  "update the firmware, then drop allow_unsafe_interrupts");
	} else {
		r = ck_add(c, "iommu.intremap", CHECK_FAIL, NULL, "interrupt remapping is off (no IR- "
			"interrupt chips in '/proc/interrupts'): vfio refuses to assign devices");
		if (cmdline_has_value(h->cmdline, "intremap", "off")) {
			ck_fix(c, r, "the kernel command line switches it off:");
			fix_cmdline(c, r, NULL, "intremap", true);
		} else if (h->dmar_flags >= 0 && !(h->dmar_flags & DMAR_INTR_REMAP)) {
			ck_fix(c, r, "the firmware does not offer it (ACPI DMAR flags 0x%02x): enable "
				  "\"Interrupt Remapping\" in the firmware setup or update the firmware",
			    h->dmar_flags);
		} else {
			ck_fix(c, r, "enable \"Interrupt Remapping\" (with VT-d / IOMMU) in the firmware "
				  "setup, then reboot");
		}
		ck_fix(c, r, "last resort, insecure: options vfio_iommu_type1 "
			  "allow_unsafe_interrupts=1 in /etc/modprobe.d (a VM can then forge "
			  "interrupts)");
	}
}

/* The seed's case: the firmware asks the OS not to use x2APIC, so interrupt remapping runs in
 * xAPIC mode ("x2apic: IRQ remapping doesn't support X2APIC mode" in dmesg). */
void check_x2apic(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->dmar_flags < 0 || !(h->dmar_flags & DMAR_X2APIC_OPT_OUT))
		return;
	if (cmdline_has_value(h->cmdline, "intremap", "no_x2apic_optout")) {
		ck_add(c, "iommu.x2apic", CHECK_PASS, NULL, "the firmware opts out of x2APIC; "
		    "intremap=no_x2apic_optout overrides it");
		return;
	}
	r = ck_add(c, "iommu.x2apic", CHECK_INFO, NULL, "the firmware opts out of x2APIC (ACPI DMAR "
		"flags 0x%02x), so interrupt remapping runs in xAPIC mode (dmesg: \"x2apic: IRQ "
		"remapping doesn't support X2APIC mode\")", h->dmar_flags);
	ck_fix(c, r, "only if a passed-through GPU shows nothing or the guest hangs (the seed's case):");
	fix_cmdline(c, r, "intremap=no_x2apic_optout", NULL, false);
}

const char *fb_param(const struct hostinfo *h);

/* Parameters that say nothing about passthrough: never flagged when only the unused boot
 * loader's file has them. */
static bool generic_param(const char *w)
{
	static const char *const keys[] = { "root", "ro", "rw", "quiet", "splash", "boot",
					    "rootfstype", "rootflags", "rootdelay", "BOOT_IMAGE",
					    "initrd", "init" };
	size_t klen = strcspn(w, "=");

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strlen(keys[i]) == klen && !strncmp(w, keys[i], klen))
			return true;
	return false;
}

/* Parameters written to the file of the boot loader this host does not use: GRUB reads only
 * /etc/default/grub, systemd-boot only /etc/kernel/cmdline (pve-docs system-booting.adoc,
 * "Editing the Kernel Commandline"), so they never reach a kernel. */
void check_boot_other(struct ctx *c)
{
	const struct host_boot *b = &c->rep->boot;
	_cleanup_free_ struct host_boot *o = calloc(1, sizeof(*o));
	char copy[2 * HI_CMDLINE_MAX], missing[HI_CMDLINE_MAX] = "", *save = NULL;
	struct check_result *r;

	if (!o) {
		c->oom = true;
		return;
	}
	if (b->kind == BOOT_UNKNOWN || host_boot_read_other(c->sr, &c->rep->host, b, o) != 1)
		return;
	snprintf(copy, sizeof(copy), "%s", o->configured);
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char key[256], *eq;
		bool have;

		if (generic_param(w))
			continue;
		snprintf(key, sizeof(key), "%s", w);
		eq = strchr(key, '=');
		if (eq) {
			*eq = '\0';
			have = cmdline_has_value(b->configured, key, eq + 1);
		} else {
			have = cmdline_has(b->configured, key);
		}
		if (!have)
			add_words(missing, sizeof(missing), w);
	}
	if (!missing[0])
		return;
	r = ck_add(c, "boot.unused_loader", CHECK_WARN, NULL, "'%s'%s sets %s, but this host boots "
		"with %s, which never reads that file (%s changes nothing)", o->file,
		o->line ? "" : " (its GRUB_CMDLINE_LINUX)", missing, boot_kind_name(b->kind),
		o->refresh);
	ck_fix(c, r, "to have them, put them where %s reads the command line:", boot_kind_name(b->kind));
	fix_cmdline(c, r, missing, NULL, false);
}

/* The framebuffer parameters on a kernel whose firmware framebuffer is simpledrm. With
 * CONFIG_SYSFB_SIMPLEFB=y the kernel registers the firmware's screen as a simple-framebuffer
 * device (drivers/firmware/sysfb.c, sysfb_init), which simpledrm drives; video=efifb:off and
 * video=vesafb:off switch off only efifb and vesafb, nofb only old fbdev drivers, and
 * nomodeset keeps native DRM drivers off but leaves the firmware drivers, simpledrm among
 * them, running (Documentation/admin-guide/kernel-parameters.txt, "nomodeset"). Proxmox's
 * kernels set CONFIG_SYSFB_SIMPLEFB and CONFIG_DRM_SIMPLEDRM (pve-kernel's config options). */
void check_fb_params(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const struct host_boot *b = &c->rep->boot;
	char path[SR_PATH_MAX], found[256] = "", remove[64] = "", how[SR_PATH_MAX + 64];
	_cleanup_free_ char *config = NULL;
	size_t len;
	bool simple = false, other_video = false;
	struct check_result *r;
	const char *rel = h->release, *param;
	size_t rl = strlen(rel);

	if (!rel[0])
		return;
	if (sr_path(path, "/boot/config-%s", rel) == 0 &&
	    sr_read_all(c->sr, path, 1u << 22, &config, &len) == 0) {
		simple = strstr(config, "\nCONFIG_SYSFB_SIMPLEFB=y") != NULL;
		snprintf(how, sizeof(how), "'%s' has CONFIG_SYSFB_SIMPLEFB=y", path);
	} else if (rl > 4 && !strcmp(rel + rl - 4, "-pve")) {
		simple = true;
		snprintf(how, sizeof(how), "a Proxmox kernel, built with CONFIG_SYSFB_SIMPLEFB=y");
	} else if (sr_exists(c->sr, SYSFS_PLATFORM_DEVICES "/simple-framebuffer.0")) {
		simple = true;
		snprintf(how, sizeof(how), "the firmware framebuffer is simple-framebuffer.0");
	}
	if (!simple)
		return;
	{
		char copy[3 * HI_CMDLINE_MAX + 2], *save = NULL;

		snprintf(copy, sizeof(copy), "%s %s", h->cmdline, b->configured);
		for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			if (str_has_prefix(w, "video=efifb:") || str_has_prefix(w, "video=vesafb:")) {
				add_words(found, sizeof(found), w);
				add_words(remove, sizeof(remove), "video");
			} else if (str_has_prefix(w, "video=")) {
				other_video = true;
			} else if (!strcmp(w, "nofb")) {
				add_words(found, sizeof(found), w);
				add_words(remove, sizeof(remove), "nofb");
			} else if (!strcmp(w, "nomodeset")) {
				add_words(found, sizeof(found), w);
			}
		}
	}
	if (!found[0])
		return;
	param = fb_param(h);
	r = ck_add(c, "cmdline.fb_params", CHECK_INFO, NULL, "%s: they do not stop simpledrm, which "
		"drives the firmware framebuffer on kernel %s (%s)", found, rel, how);
	if (strstr(found, "nomodeset"))
		ck_fix(c, r, "nomodeset only keeps the GPUs' own drivers (amdgpu, nouveau, i915) off the "
			  "host; keep it only for that");
	if (!param) {
		/* fb_param knows the kernels the lab showed sysfb_init's blacklisting working on */
		ck_fix(c, r, "drop them%s; initcall_blacklist=sysfb_init is shown to work only on kernels "
			  "5.10 to 7.3 (kernel %s): the hookscript's handoff is enough",
		    other_video ? " (the efifb/vesafb video= settings by hand)" : "", rel);
		if (!other_video && remove[0])
			fix_cmdline(c, r, NULL, remove, false);
		return;
	}
	if (other_video)
		ck_fix(c, r, "drop the efifb/vesafb video= settings by hand (other video= settings "
			  "stay); what keeps the firmware framebuffer off the GPU is %s", param);
	else if (remove[0] || !cmdline_has(b->configured, "initcall_blacklist"))
		ck_fix(c, r, "what keeps the firmware framebuffer off the GPU on this kernel is %s "
			  "(the hookscript releases it at VM start anyway):", param);
	if (!other_video && (remove[0] || !cmdline_has(b->configured, "initcall_blacklist")))
		fix_cmdline(c, r, param, remove[0] ? remove : NULL, false);
}

void check_acs(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (!cmdline_has(h->cmdline, "pcie_acs_override")) {
		ck_add(c, "cmdline.acs_override", CHECK_PASS, NULL, "pcie_acs_override is not set");
		return;
	}
	r = ck_add(c, "cmdline.acs_override", CHECK_WARN, NULL, "pcie_acs_override is set: IOMMU "
		"groups are split on paper only, and a VM can reach host memory through devices "
		"that are not really isolated");
	ck_fix(c, r, "prefer a slot whose group is already isolated (see group.isolation); to stop "
		  "the override:");
	fix_cmdline(c, r, NULL, "pcie_acs_override", true);
}

void check_modules(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct hostmod m[BIND_NVFIO_MODULES];
	char msg[256] = "", missing[64] = "", kname[BIND_NVFIO_MODULES][32];
	const char *names[BIND_NVFIO_MODULES];
	struct check_result *r;
	int rc;

	/* the bind engine's list, as kmod names them (vfio_pci) */
	for (int i = 0; i < BIND_NVFIO_MODULES; i++) {
		str_copy(kname[i], sizeof(kname[i]), bind_vfio_modules[i].name);
		for (char *p = kname[i]; *p; p++)
			if (*p == '-')
				*p = '_';
		names[i] = kname[i];
	}

	if (!h->release[0]) {
		r = ck_add(c, "vfio.modules", CHECK_WARN, NULL, "cannot read the kernel release from "
			"'/proc/sys/kernel/osrelease'");
		ck_fix(c, r, "run the check on the host itself");
		return;
	}
	rc = hostinfo_modules(c->sr, h->release, names, BIND_NVFIO_MODULES, m);
	if (rc < 0) {
		r = ck_add(c, "vfio.modules", CHECK_WARN, NULL, "cannot look up modules in "
			"'/lib/modules/%s': %s", h->release, strerror(-rc));
		ck_fix(c, r, "the running kernel's modules are not installed: install its package "
			  "(proxmox-kernel-%s) or reboot into an installed kernel", h->release);
		return;
	}
	for (int i = 0; i < BIND_NVFIO_MODULES; i++) {
		size_t n = strlen(msg);

		snprintf(msg + n, sizeof(msg) - n, "%s%s (%s%s)", i ? ", " : "", names[i],
			 m[i].avail == HOSTMOD_BUILTIN ? "built in" :
			 m[i].avail == HOSTMOD_MODULE ? "module" : "missing",
			 m[i].loaded && m[i].avail == HOSTMOD_MODULE ? ", loaded" : "");
		if (m[i].avail <= 0)
			add_words(missing, sizeof(missing), names[i]);
	}
	if (!missing[0]) {
		ck_add(c, "vfio.modules", CHECK_PASS, NULL, "%s", msg);
		return;
	}
	r = ck_add(c, "vfio.modules", CHECK_FAIL, NULL, "%s: kernel %s cannot drive a device for a VM",
		msg, h->release);
	ck_fix(c, r, "boot a Proxmox kernel (apt install proxmox-default-kernel): it builds %s as "
		  "modules", missing);
}

/* amd_iommu=on: not a value the kernel knows (amd_iommu= takes off, force_isolation,
 * pgtbl_v1, ...); the AMD IOMMU is on by default. Guides copy it from intel_iommu=on. */
void check_amd_iommu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const struct host_boot *b = &c->rep->boot;
	bool running = h->cmdline_known && cmdline_has_value(h->cmdline, "amd_iommu", "on");
	bool configured = b->line && cmdline_has_value(b->configured, "amd_iommu", "on");
	struct check_result *r;

	if (!running && !configured)
		return;
	r = ck_add(c, "cmdline.amd_iommu", CHECK_INFO, NULL, "amd_iommu=on is set%s: the kernel has "
		"no such value and ignores it (the AMD IOMMU is on by default; amd_iommu=off is the "
		"switch)", running ? "" : " in the boot loader's configuration");
	fix_cmdline(c, r, NULL, "amd_iommu", false);
}

/* vfio_virqfd in /etc/modules (old guides): Linux 6.2 merged it into vfio, and on such a kernel
 * systemd-modules-load fails at every boot ("Failed to find module 'vfio_virqfd'"). */
void check_virqfd(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const char *names[] = { "vfio_virqfd" };
	struct check_result *r;
	struct hostmod m;
	int line = hostinfo_modules_file_line(c->sr, "/etc/modules", "vfio_virqfd");

	if (!line || !h->release[0] || hostinfo_modules(c->sr, h->release, names, 1, &m) < 0 ||
	    m.avail != HOSTMOD_MISSING)
		return;
	r = ck_add(c, "vfio.virqfd", CHECK_WARN, NULL, "'/etc/modules' line %d loads vfio_virqfd, "
		"which kernel %s does not have (merged into vfio since Linux 6.2): "
		"systemd-modules-load.service fails at every boot", line, h->release);
	ck_fix(c, r, "remove line %d from '/etc/modules' (what it did is part of vfio now)", line);
}
