/* checks.c - see checks.h. Each check_* function looks at facts already read (hostinfo, pcidb,
 * hostdev, iomem, the VM configs) and adds results; none of them writes anything. */
#define _GNU_SOURCE
#include "checks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bind.h"
#include "config.h"
#include "console.h"
#include "pveconf.h"
#include "pvestorage.h"
#include "rom.h"
#include "util.h"
#include "sysfs.h"

#define HOOK_NAME "pve-gpu-passthrough-hook"
#define INITRAMFS_HOOK "/usr/share/initramfs-tools/hooks/pve-gpu-passthrough"

/* A device some VM of this node passes through (every config, not only those checked). */
struct vm_user {
	char dev[PCI_ADDR_LEN];
	int vmid;
};

struct ctx {
	const struct sysroot *sr;
	const struct check_opts *o;
	struct check_report *rep;
	bool oom;
	char node[128];
	struct vm_user *users;
	int nusers;
	/* Set while checking a device no VM uses and nobody would pass through (the host's
	 * console GPU, a BMC's display): its WARN and FAIL results are INFO, saying why. */
	const char *demote;
};

static char *vfmt(struct ctx *c, const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0) {
		c->oom = true;
		return NULL;
	}
	return s;
}

static char *fmt(struct ctx *c, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(struct ctx *c, const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = vfmt(c, f, ap);
	va_end(ap);
	return s;
}

/* Adds a result; the returned pointer stays valid until the next add. NULL when out of
 * memory (then c->oom is set and later calls are no-ops). */
static struct check_result *add(struct ctx *c, const char *id, enum check_status st,
				const char *subject, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static struct check_result *add(struct ctx *c, const char *id, enum check_status st,
				const char *subject, const char *f, ...)
{
	struct check_report *rep = c->rep;
	struct check_result *r;
	va_list ap;

	if (c->oom)
		return NULL;
	if (rep->nres == rep->capres) {
		int cap = rep->capres ? rep->capres * 2 : 32;
		struct check_result *n = realloc(rep->res, (size_t)cap * sizeof(*n));

		if (!n) {
			c->oom = true;
			return NULL;
		}
		rep->res = n;
		rep->capres = cap;
	}
	r = &rep->res[rep->nres];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->status = st;
	snprintf(r->subject, sizeof(r->subject), "%s", subject ? subject : "");
	va_start(ap, f);
	r->message = vfmt(c, f, ap);
	va_end(ap);
	if (!r->message)
		return NULL;
	if (c->demote && st > CHECK_INFO) {
		char *m = fmt(c, "%s (%s, so this does not matter unless a VM takes it)", r->message,
			      c->demote);

		free(r->message);
		r->message = m;
		if (!m)
			return NULL;
		r->status = st = CHECK_INFO;
	}
	rep->nres++;
	rep->counts[st]++;
	return r;
}

/* Appends a line to the result's fix. */
static void fix(struct ctx *c, struct check_result *r, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static void fix(struct ctx *c, struct check_result *r, const char *f, ...)
{
	va_list ap;
	char *line, *all;

	if (!r)
		return;
	va_start(ap, f);
	line = vfmt(c, f, ap);
	va_end(ap);
	if (!line)
		return;
	if (!r->fix) {
		r->fix = line;
		return;
	}
	all = fmt(c, "%s\n%s", r->fix, line);
	free(line);
	if (all) {
		free(r->fix);
		r->fix = all;
	}
}

/* Adds each word of WORDS not yet in LIST (space-separated) to it. */
static void add_words(char *list, size_t size, const char *words)
{
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", words ? words : "");
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char padded[1100], haystack[1100];
		size_t n = strlen(list);

		snprintf(padded, sizeof(padded), " %s ", w);
		snprintf(haystack, sizeof(haystack), " %s ", list);
		if (strstr(haystack, padded))
			continue;
		if (n + strlen(w) + 2 > size)
			return;
		snprintf(list + n, size - n, "%s%s", n ? " " : "", w);
	}
}

/* True when every word of ADD is in the configured command line and no key of REMOVE is. */
static bool configured_already(const struct bootcfg *b, const char *add, const char *remove)
{
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", add ? add : "");
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		if (eq) {
			*eq = '\0';
			if (!cmdline_has_value(b->configured, w, eq + 1))
				return false;
		} else if (!cmdline_has(b->configured, w)) {
			return false;
		}
	}
	snprintf(copy, sizeof(copy), "%s", remove ? remove : "");
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (cmdline_has(b->configured, w))
			return false;
	return true;
}

/* The fix for a kernel command line change: ADD parameters, drop the keys in REMOVE. With
 * COMBINE the change also goes into the report's all-at-once edit. */
static void fix_cmdline(struct ctx *c, struct check_result *r, const char *add,
			const char *remove, bool combine)
{
	struct check_report *rep = c->rep;
	const struct bootcfg *b = &rep->boot;
	char line[2 * HI_CMDLINE_MAX];
	char what[600];

	if (!r)
		return;
	if (add && remove)
		snprintf(what, sizeof(what), "add %s and remove %s", add, remove);
	else if (add)
		snprintf(what, sizeof(what), "add %s", add);
	else
		snprintf(what, sizeof(what), "remove %s", remove);
	if (b->kind == BOOT_UNKNOWN) {
		fix(c, r, "%s on the kernel command line of your boot loader, then reboot", what);
		return;
	}
	if (combine) {
		add_words(rep->cmdline_add, sizeof(rep->cmdline_add), add);
		add_words(rep->cmdline_remove, sizeof(rep->cmdline_remove), remove);
	}
	if (b->line && configured_already(b, add, remove)) {
		fix(c, r, "'%s' line %d already has it (%s), but the running kernel was booted "
			  "without it:", b->file, b->line, what);
		fix(c, r, "run: %s, then reboot", b->refresh);
		r->run = fmt(c, "%s", b->refresh);
		return;
	}
	if (bootcfg_edit(b, add, remove, line, sizeof(line)) < 0) {
		fix(c, r, "%s in '%s', then run %s and reboot", what, b->file, b->refresh);
		return;
	}
	if (b->line)
		fix(c, r, "%s: edit '%s' line %d to read:", what, b->file, b->line);
	else
		fix(c, r, "%s: add this line to '%s':", what, b->file);
	fix(c, r, "    %s", line);
	fix(c, r, "then run: %s, and reboot", b->refresh);
	r->edit_file = fmt(c, "%s", b->file);
	r->edit_line = b->line;
	r->edit_old = fmt(c, "%s", b->line ? b->text : "");
	r->edit_new = fmt(c, "%s", line);
	r->run = fmt(c, "%s", b->refresh);
}

/* --- host ------------------------------------------------------------------------------- */

static void check_cpu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->cpu == CPU_INTEL || h->cpu == CPU_AMD) {
		add(c, "cpu.vendor", CHECK_PASS, NULL, "%s (%s)%s%s", cpu_vendor_name(h->cpu),
		    h->cpu_vendor_id, h->cpu_model[0] ? ": " : "", h->cpu_model);
		return;
	}
	if (!h->cpu_vendor_id[0]) {
		r = add(c, "cpu.vendor", CHECK_WARN, NULL, "cannot read the CPU vendor from '/proc/cpuinfo'");
		fix(c, r, "the checks below assume neither Intel nor AMD; run as root on the host itself");
		return;
	}
	r = add(c, "cpu.vendor", CHECK_INFO, NULL, "%s: neither Intel nor AMD", h->cpu_vendor_id);
	fix(c, r, "the IOMMU switches of this CPU are not known here; see its vendor's documentation");
}

static void check_boot(struct ctx *c)
{
	const struct bootcfg *b = &c->rep->boot;
	struct check_result *r;

	if (b->kind == BOOT_UNKNOWN) {
		r = add(c, "boot.loader", CHECK_WARN, NULL, "cannot tell the boot loader: %s", b->why);
		fix(c, r, "kernel command line changes below are given as parameters only: GRUB keeps "
			  "them in /etc/default/grub (then update-grub), systemd-boot in "
			  "/etc/kernel/cmdline (then proxmox-boot-tool refresh)");
		return;
	}
	if (b->line)
		add(c, "boot.loader", CHECK_PASS, NULL, "%s (%s): the command line is %s%s'%s' line %d, "
		    "applied with %s", boot_kind_name(b->kind), b->why, b->var[0] ? b->var : "",
		    b->var[0] ? " in " : "", b->file, b->line, b->refresh);
	else
		add(c, "boot.loader", CHECK_PASS, NULL, "%s (%s): '%s' sets no command line yet, "
		    "applied with %s", boot_kind_name(b->kind), b->why, b->file, b->refresh);
}

static void check_acpi(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const char *table = h->cpu == CPU_AMD ? "IVRS" : "DMAR";
	struct check_result *r;

	if (h->dmar || h->ivrs) {
		add(c, "iommu.acpi", CHECK_PASS, NULL, "the firmware describes an IOMMU (ACPI %s table)",
		    h->dmar ? "DMAR" : "IVRS");
		return;
	}
	if (!h->acpi_tables) {
		r = add(c, "iommu.acpi", CHECK_INFO, NULL, "cannot tell: '/sys/firmware/acpi/tables' is "
			"not there");
		fix(c, r, "nothing to do when iommu.enabled passes");
		return;
	}
	r = add(c, "iommu.acpi", CHECK_FAIL, NULL, "the firmware describes no IOMMU (no ACPI %s "
		"table): it is switched off in the firmware setup, or not supported", table);
	if (h->cpu == CPU_AMD)
		fix(c, r, "enable \"IOMMU\" (AMD-Vi) and \"SVM\" in the firmware (BIOS/UEFI) setup, "
			  "then reboot");
	else
		fix(c, r, "enable \"VT-d\" (Intel Virtualization Technology for Directed I/O) in the "
			  "firmware (BIOS/UEFI) setup, then reboot");
}

static void check_iommu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->iommu_groups > 0) {
		add(c, "iommu.enabled", CHECK_PASS, NULL, "on: %d IOMMU group%s%s%s%s", h->iommu_groups,
		    h->iommu_groups == 1 ? "" : "s", h->iommu_unit[0] ? " (" : "", h->iommu_unit,
		    h->iommu_unit[0] ? ")" : "");
		return;
	}
	r = add(c, "iommu.enabled", CHECK_FAIL, NULL, "off: '/sys/kernel/iommu_groups' is empty, so "
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
		fix(c, r, "the kernel command line switches it off:");
		fix_cmdline(c, r, h->cpu == CPU_INTEL ? "intel_iommu=on" : NULL,
			    remove[0] ? remove : NULL, true);
	} else if (h->cpu == CPU_INTEL && !cmdline_has_value(h->cmdline, "intel_iommu", "on")) {
		fix_cmdline(c, r, "intel_iommu=on", NULL, true);
	} else if (h->acpi_tables && !h->dmar && !h->ivrs) {
		fix(c, r, "switch it on in the firmware first (see iommu.acpi)");
	} else if (h->cpu == CPU_AMD) {
		fix(c, r, "AMD-Vi is on by default when the firmware enables it: check \"IOMMU\" in "
			  "the firmware setup, and 'dmesg | grep AMD-Vi' for errors");
	} else {
		fix(c, r, "check the firmware's IOMMU setting and 'dmesg | grep -i -e DMAR -e IOMMU'");
	}
}

static void check_intel_iommu(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->cpu != CPU_INTEL)
		return;
	if (cmdline_has_value(h->cmdline, "intel_iommu", "on")) {
		add(c, "cmdline.intel_iommu", CHECK_PASS, NULL, "intel_iommu=on is set");
		return;
	}
	if (h->iommu_groups > 0 && !cmdline_has(h->cmdline, "intel_iommu")) {
		r = add(c, "cmdline.intel_iommu", CHECK_WARN, NULL, "intel_iommu=on is not set: the "
			"IOMMU is on only because this kernel enables it by default; a kernel built "
			"otherwise turns it off");
		fix_cmdline(c, r, "intel_iommu=on", NULL, true);
		return;
	}
	r = add(c, "cmdline.intel_iommu", CHECK_FAIL, NULL, "intel_iommu=on is not set%s",
		cmdline_has(h->cmdline, "intel_iommu") ? " (intel_iommu has another value)" : "");
	fix_cmdline(c, r, "intel_iommu=on", NULL, true);
}

static void check_iommu_pt(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (cmdline_has_value(h->cmdline, "iommu", "pt")) {
		add(c, "cmdline.iommu_pt", CHECK_PASS, NULL, "iommu=pt is set");
		return;
	}
	r = add(c, "cmdline.iommu_pt", CHECK_INFO, NULL, "iommu=pt is not set: the host's own "
		"devices also go through IOMMU translation, which costs DMA performance");
	fix_cmdline(c, r, "iommu=pt", NULL, true);
}

static void check_intremap(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->intremap == 1) {
		add(c, "iommu.intremap", CHECK_PASS, NULL, "interrupt remapping is on (IR- interrupt "
		    "chips in '/proc/interrupts')");
	} else if (h->iommu_groups == 0) {
		r = add(c, "iommu.intremap", CHECK_INFO, NULL, "cannot tell while the IOMMU is off");
		fix(c, r, "check again once iommu.enabled passes");
	} else if (h->intremap < 0) {
		r = add(c, "iommu.intremap", CHECK_WARN, NULL, "cannot read '/proc/interrupts': %s",
			strerror(-h->intremap));
		fix(c, r, "run the check as root on the host itself");
	} else if (h->unsafe_interrupts == 1) {
		r = add(c, "iommu.intremap", CHECK_WARN, NULL, "interrupt remapping is off and vfio "
			"runs with allow_unsafe_interrupts=1: a VM can send the host interrupts it "
			"should not");
		fix(c, r, "enable \"Interrupt Remapping\" (with VT-d / IOMMU) in the firmware setup or "
			  "update the firmware, then drop allow_unsafe_interrupts");
	} else {
		r = add(c, "iommu.intremap", CHECK_FAIL, NULL, "interrupt remapping is off (no IR- "
			"interrupt chips in '/proc/interrupts'): vfio refuses to assign devices");
		if (cmdline_has_value(h->cmdline, "intremap", "off")) {
			fix(c, r, "the kernel command line switches it off:");
			fix_cmdline(c, r, NULL, "intremap", true);
		} else if (h->dmar_flags >= 0 && !(h->dmar_flags & DMAR_INTR_REMAP)) {
			fix(c, r, "the firmware does not offer it (ACPI DMAR flags 0x%02x): enable "
				  "\"Interrupt Remapping\" in the firmware setup or update the firmware",
			    h->dmar_flags);
		} else {
			fix(c, r, "enable \"Interrupt Remapping\" (with VT-d / IOMMU) in the firmware "
				  "setup, then reboot");
		}
		fix(c, r, "last resort, insecure: options vfio_iommu_type1 "
			  "allow_unsafe_interrupts=1 in /etc/modprobe.d (a VM can then forge "
			  "interrupts)");
	}
}

/* The seed's case: the firmware asks the OS not to use x2APIC, so interrupt remapping runs in
 * xAPIC mode ("x2apic: IRQ remapping doesn't support X2APIC mode" in dmesg). */
static void check_x2apic(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (h->dmar_flags < 0 || !(h->dmar_flags & DMAR_X2APIC_OPT_OUT))
		return;
	if (cmdline_has_value(h->cmdline, "intremap", "no_x2apic_optout")) {
		add(c, "iommu.x2apic", CHECK_PASS, NULL, "the firmware opts out of x2APIC; "
		    "intremap=no_x2apic_optout overrides it");
		return;
	}
	r = add(c, "iommu.x2apic", CHECK_INFO, NULL, "the firmware opts out of x2APIC (ACPI DMAR "
		"flags 0x%02x), so interrupt remapping runs in xAPIC mode (dmesg: \"x2apic: IRQ "
		"remapping doesn't support X2APIC mode\")", h->dmar_flags);
	fix(c, r, "only if a passed-through GPU shows nothing or the guest hangs (the seed's case):");
	fix_cmdline(c, r, "intremap=no_x2apic_optout", NULL, false);
}

static const char *fb_param(const struct hostinfo *h);

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
static void check_boot_other(struct ctx *c)
{
	const struct bootcfg *b = &c->rep->boot;
	_cleanup_free_ struct bootcfg *o = calloc(1, sizeof(*o));
	char copy[2 * HI_CMDLINE_MAX], missing[HI_CMDLINE_MAX] = "", *save = NULL;
	struct check_result *r;

	if (!o) {
		c->oom = true;
		return;
	}
	if (b->kind == BOOT_UNKNOWN || bootcfg_read_other(c->sr, &c->rep->host, b, o) != 1)
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
	r = add(c, "boot.unused_loader", CHECK_WARN, NULL, "'%s'%s sets %s, but this host boots "
		"with %s, which never reads that file (%s changes nothing)", o->file,
		o->line ? "" : " (its GRUB_CMDLINE_LINUX)", missing, boot_kind_name(b->kind),
		o->refresh);
	fix(c, r, "to have them, put them where %s reads the command line:", boot_kind_name(b->kind));
	fix_cmdline(c, r, missing, NULL, false);
}

/* The framebuffer parameters on a kernel whose firmware framebuffer is simpledrm. With
 * CONFIG_SYSFB_SIMPLEFB=y the kernel registers the firmware's screen as a simple-framebuffer
 * device (drivers/firmware/sysfb.c, sysfb_init), which simpledrm drives; video=efifb:off and
 * video=vesafb:off switch off only efifb and vesafb, nofb only old fbdev drivers, and
 * nomodeset keeps native DRM drivers off but leaves the firmware drivers, simpledrm among
 * them, running (Documentation/admin-guide/kernel-parameters.txt, "nomodeset"). Proxmox's
 * kernels set CONFIG_SYSFB_SIMPLEFB and CONFIG_DRM_SIMPLEDRM (pve-kernel's config options). */
static void check_fb_params(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	const struct bootcfg *b = &c->rep->boot;
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
	r = add(c, "cmdline.fb_params", CHECK_INFO, NULL, "%s: they do not stop simpledrm, which "
		"drives the firmware framebuffer on kernel %s (%s)", found, rel, how);
	if (strstr(found, "nomodeset"))
		fix(c, r, "nomodeset only keeps the GPUs' own drivers (amdgpu, nouveau, i915) off the "
			  "host; keep it only for that");
	if (!param) {
		/* fb_param knows the kernels the lab showed sysfb_init's blacklisting working on */
		fix(c, r, "drop them%s; initcall_blacklist=sysfb_init is shown to work only on kernels "
			  "5.10 to 7.3 (kernel %s): the hookscript's handoff is enough",
		    other_video ? " (the efifb/vesafb video= settings by hand)" : "", rel);
		if (!other_video && remove[0])
			fix_cmdline(c, r, NULL, remove, false);
		return;
	}
	if (other_video)
		fix(c, r, "drop the efifb/vesafb video= settings by hand (other video= settings "
			  "stay); what keeps the firmware framebuffer off the GPU is %s", param);
	else if (remove[0] || !cmdline_has(b->configured, "initcall_blacklist"))
		fix(c, r, "what keeps the firmware framebuffer off the GPU on this kernel is %s "
			  "(the hookscript releases it at VM start anyway):", param);
	if (!other_video && (remove[0] || !cmdline_has(b->configured, "initcall_blacklist")))
		fix_cmdline(c, r, param, remove[0] ? remove : NULL, false);
}

static void check_acs(struct ctx *c)
{
	const struct hostinfo *h = &c->rep->host;
	struct check_result *r;

	if (!cmdline_has(h->cmdline, "pcie_acs_override")) {
		add(c, "cmdline.acs_override", CHECK_PASS, NULL, "pcie_acs_override is not set");
		return;
	}
	r = add(c, "cmdline.acs_override", CHECK_WARN, NULL, "pcie_acs_override is set: IOMMU "
		"groups are split on paper only, and a VM can reach host memory through devices "
		"that are not really isolated");
	fix(c, r, "prefer a slot whose group is already isolated (see group.isolation); to stop "
		  "the override:");
	fix_cmdline(c, r, NULL, "pcie_acs_override", true);
}

static void check_modules(struct ctx *c)
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
		r = add(c, "vfio.modules", CHECK_WARN, NULL, "cannot read the kernel release from "
			"'/proc/sys/kernel/osrelease'");
		fix(c, r, "run the check on the host itself");
		return;
	}
	rc = hostinfo_modules(c->sr, h->release, names, BIND_NVFIO_MODULES, m);
	if (rc < 0) {
		r = add(c, "vfio.modules", CHECK_WARN, NULL, "cannot look up modules in "
			"'/lib/modules/%s': %s", h->release, strerror(-rc));
		fix(c, r, "the running kernel's modules are not installed: install its package "
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
		add(c, "vfio.modules", CHECK_PASS, NULL, "%s", msg);
		return;
	}
	r = add(c, "vfio.modules", CHECK_FAIL, NULL, "%s: kernel %s cannot drive a device for a VM",
		msg, h->release);
	fix(c, r, "boot a Proxmox kernel (apt install proxmox-default-kernel): it builds %s as "
		  "modules", missing);
}

/* Devices of the host matching vendor:device. */
static int count_ids(const struct pcidb *db, uint16_t v, uint16_t d, char *names, size_t size)
{
	int n = 0;

	names[0] = '\0';
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *p = &db->dev[db->byaddr[i]];
		size_t len = strlen(names);

		if (p->vendor != v || p->device != d)
			continue;
		if (len + PCI_ADDR_LEN + 2 < size)
			snprintf(names + len, size - len, "%s%s", n ? ", " : "", p->name);
		n++;
	}
	return n;
}

/* vfio-pci.ids= (or vfio_pci.ids=) of CMDLINE into IDS; false when absent. */
static bool cmdline_ids(const char *cmdline, char *ids, size_t size)
{
	char copy[HI_CMDLINE_MAX], *save = NULL;
	bool found = false;

	snprintf(copy, sizeof(copy), "%s", cmdline);
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (str_has_prefix(w, "vfio-pci.ids=") || str_has_prefix(w, "vfio_pci.ids=")) {
			snprintf(ids, size, "%s", w + 13);
			found = true; /* the last one counts */
		}
	return found;
}

/* Devices matching a "vvvv:dddd,vvvv:dddd" list (vfio-pci's ids= syntax). */
static int count_id_list(const struct pcidb *db, const char *list, char *names, size_t size)
{
	char copy[512], *save = NULL;
	int n = 0;

	names[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned v, d;
		char part[256];
		size_t len = strlen(names);

		if (sscanf(t, "%4x:%4x", &v, &d) != 2)
			continue;
		int k = count_ids(db, (uint16_t)v, (uint16_t)d, part, sizeof(part));
		if (k)
			snprintf(names + len, size - len, "%s%s", len ? ", " : "", part);
		n += k;
	}
	return n;
}

/* "options vfio-pci ids=..." in /etc/modprobe.d: the seed's method. The first file found. */
static bool modprobe_ids(const struct sysroot *sr, char *file, size_t fsize, char *ids, size_t isize)
{
	struct dirent *de;
	bool found = false;
	DIR *d = sr_opendir(sr, "/etc/modprobe.d");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[SR_PATH_MAX], text[16384], *save = NULL;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
		    sr_path(path, "/etc/modprobe.d/%s", de->d_name) < 0 ||
		    sr_read(sr, path, text, sizeof(text)) < 0)
			continue;
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char mod[64], rest[1024];
			const char *p;

			if (sscanf(line, " options %63s %1023[^\n]", mod, rest) != 2 ||
			    (strcmp(mod, "vfio-pci") != 0 && strcmp(mod, "vfio_pci") != 0))
				continue;
			p = strstr(rest, "ids=");
			if (!p)
				continue;
			snprintf(ids, isize, "%.*s", (int)strcspn(p + 4, " \t"), p + 4);
			snprintf(file, fsize, "%s", path);
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

static void check_early(struct ctx *c)
{
	const char *path = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	struct pcidb *db = c->rep->db;
	_cleanup_free_ struct pgp_config *cfg = calloc(1, sizeof(*cfg));
	char err[512] = "", ids[512], file[SR_PATH_MAX], cids[512] = "";
	const struct early_opts *e;
	struct check_result *r;
	long long t_ini, t_img;
	int rc;

	if (!cfg) {
		c->oom = true;
		return;
	}
	rc = config_load(c->sr, c->o->config, cfg, err, sizeof(err));
	if (rc < 0) {
		r = add(c, "early.configured", CHECK_FAIL, NULL, "%s", err);
		fix(c, r, "correct '%s' (see pve-gpu-passthrough.ini(5)); the hookscript and the "
			  "initramfs hook refuse it as it is", path);
		return;
	}
	e = &cfg->early;
	/* vfio-pci.ids= on the kernel command line: the kernel hands it to vfio-pci when the
	 * module loads, as modprobe.d's options do (Documentation/admin-guide/kernel-parameters.txt
	 * "<module>.<parameter>"). */
	if (cmdline_ids(c->rep->host.cmdline, cids, sizeof(cids))) {
		char names[512] = "";
		int n = count_id_list(db, cids, names, sizeof(names));

		r = add(c, "early.cmdline", CHECK_INFO, NULL, "the kernel command line binds ids %s "
			"to vfio-pci at boot (vfio-pci.ids=): %d device%s%s%s%s, identical cards "
			"included", cids, n, n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
		if (e->nids || e->naddrs)
			fix(c, r, "[early] in '%s' binds as well; to bind exactly one card, drop "
				  "vfio-pci.ids= and keep [early] addresses:", path);
		else
			fix(c, r, "to bind exactly one card instead, list its addresses under [early] "
				  "in '%s', run update-initramfs -u -k all, and drop vfio-pci.ids=:", path);
		fix_cmdline(c, r, NULL, cmdline_has(c->rep->host.cmdline, "vfio-pci.ids") ?
			    "vfio-pci.ids" : "vfio_pci.ids", false);
	}
	if (e->nids == 0 && e->naddrs == 0) {
		if (cids[0]) {
			/* early.cmdline said it */
		} else if (modprobe_ids(c->sr, file, sizeof(file), ids, sizeof(ids))) {
			r = add(c, "early.configured", CHECK_INFO, NULL, "'%s' binds ids %s to vfio-pci "
				"at boot: every device with those ids, identical cards included", file, ids);
			fix(c, r, "to bind exactly one card, list its addresses under [early] in '%s' "
				  "instead, remove the options line, and run update-initramfs -u -k all",
			    path);
		} else {
			r = add(c, "early.configured", CHECK_INFO, NULL, "no early binding: the "
				"hookscript moves devices to vfio-pci when their VM starts");
			fix(c, r, "only needed when a host driver will not let go of a card: add "
				  "addresses = ADDR under [early] in '%s', then run update-initramfs -u "
				  "-k all", path);
		}
		return;
	}
	if (modprobe_ids(c->sr, file, sizeof(file), ids, sizeof(ids))) {
		char names[512];
		int n = count_id_list(db, ids, names, sizeof(names));

		r = add(c, "early.modprobe", CHECK_INFO, NULL, "'%s' binds ids %s to vfio-pci at "
			"boot as well: %d device%s%s%s%s, identical cards included", file, ids, n,
			n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
		fix(c, r, "[early] in '%s' already binds what it names: remove the options line from "
			  "'%s' and run update-initramfs -u -k all", path, file);
	}
	/* ids select every matching device: say so when that is more than one. */
	for (int i = 0; i < e->nids; i++) {
		char names[512];
		int n = count_ids(db, e->ids[i].vendor, e->ids[i].device, names, sizeof(names));

		if (n > 1) {
			r = add(c, "early.configured", CHECK_WARN, NULL, "[early] ids %04x:%04x selects %d "
				"devices (%s): all of them go to vfio-pci at boot", e->ids[i].vendor,
				e->ids[i].device, n, names);
			fix(c, r, "to keep one on the host, use addresses = ... in '%s' line %d instead "
				  "of ids, then run update-initramfs -u -k all", path, e->line_ids);
			return;
		}
	}
	for (int i = 0; i < e->naddrs; i++) {
		char name[PCI_ADDR_LEN];

		pci_addr_fmt(&e->addrs[i], name);
		if (!pcidb_find(db, name)) {
			r = add(c, "early.configured", CHECK_WARN, NULL, "[early] addresses names %s, "
				"which is not on this host", name);
			fix(c, r, "correct '%s' line %d (pve-gpu-passthrough list --all shows the "
				  "addresses), then run update-initramfs -u -k all", path, e->line_addrs);
			return;
		}
	}
	add(c, "early.configured", CHECK_PASS, NULL, "[early] in '%s': %d id%s, %d address%s", path,
	    e->nids, e->nids == 1 ? "" : "s", e->naddrs, e->naddrs == 1 ? "" : "es");

	/* Is it in the initramfs the running kernel booted from? */
	if (!sr_exists(c->sr, INITRAMFS_HOOK)) {
		r = add(c, "early.initramfs", CHECK_FAIL, NULL, "the initramfs hook '%s' is missing, "
			"so [early] never reaches the initramfs", INITRAMFS_HOOK);
		fix(c, r, "reinstall the package (apt install --reinstall pve-gpu-passthrough), then "
			  "run update-initramfs -u -k all");
		return;
	}
	snprintf(file, sizeof(file), "/boot/initrd.img-%s", c->rep->host.release);
	if (hostinfo_mtime(c->sr, file, &t_img) < 0) {
		r = add(c, "early.initramfs", CHECK_WARN, NULL, "there is no '%s' for the running "
			"kernel", file);
		fix(c, r, "run: update-initramfs -u -k all");
		return;
	}
	if (hostinfo_mtime(c->sr, path, &t_ini) == 0 && t_ini > t_img) {
		r = add(c, "early.initramfs", CHECK_WARN, NULL, "'%s' is older than '%s': the boot "
			"binds what the file said before", file, path);
		fix(c, r, "run: update-initramfs -u -k all, then reboot");
		return;
	}
	add(c, "early.initramfs", CHECK_PASS, NULL, "'%s' was built after '%s' changed", file, path);
}

/* --- devices ---------------------------------------------------------------------------- */

static bool same_slot(const struct pci_dev_info *a, const struct pci_dev_info *b)
{
	return a->addr.domain == b->addr.domain && a->addr.bus == b->addr.bus &&
	       a->addr.slot == b->addr.slot;
}

/* --- device kinds and relevance ---------------------------------------------------------- */

/* Class 03 00: a VGA compatible controller, the only kind with the legacy VGA ranges that
 * x-vga=1 forwards (the kernel's vfio-pci offers its VGA region only for this class:
 * drivers/vfio/pci/vfio_pci_core.c vfio_pci_is_vga; QEMU's hw/vfio/pci.c vfio_populate_vga
 * then fails with "does not support requested feature x-vga"). 03 02 is a 3D controller,
 * 03 80 another display controller. */
static bool is_vga(const struct pci_dev_info *d)
{
	return (d->class >> 8) == 0x0300;
}

/* Intel's integrated GPU sits at 00:02.0 of segment 0 on every generation (the address
 * legacy-igd requires: qemu-server PCI.pm parse_hostpci_devices, QEMU docs/igd-assign.txt). */
static bool is_igpu(const struct pci_dev_info *d)
{
	return d->vendor == 0x8086 && pcidev_is_display(d) && d->addr.domain == 0 &&
	       d->addr.bus == 0 && d->addr.slot == 2 && d->addr.func == 0;
}

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

/* NVIDIA's NVSwitch (HGX A100/H100 boards) shows as a bridge of class 06 80. */
static bool is_nvswitch(const struct pci_dev_info *d)
{
	return d->vendor == 0x10de && (d->class >> 8) == 0x0680;
}

/* NVIDIA's datacenter GPUs (Tesla, A100, H100, L4, ...) are 3D controllers; GeForce and
 * workstation cards are VGA controllers. */
static bool is_nv_datacenter(const struct pci_dev_info *d)
{
	return d->vendor == 0x10de && (d->class >> 8) == 0x0302;
}

static bool is_windows(const char *ostype)
{
	/* Proxmox's ostype values for Windows: wxp w2k w2k3 w2k8 wvista win7 win8 win10 win11 */
	return ostype[0] == 'w';
}

static int add_user(struct ctx *c, const char *dev, int vmid)
{
	struct vm_user *n;

	for (int i = 0; i < c->nusers; i++)
		if (!strcmp(c->users[i].dev, dev) && c->users[i].vmid == vmid)
			return 0;
	n = realloc(c->users, (size_t)(c->nusers + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->users = n;
	snprintf(n[c->nusers].dev, sizeof(n->dev), "%s", dev);
	n[c->nusers++].vmid = vmid;
	return 0;
}

/* Every VM config of this node, expanded as a start would (errors: that VM is skipped). */
static int scan_vm_users(struct ctx *c)
{
	_cleanup_free_ struct pve_hostpci_result *res = calloc(PVE_MAX_HOSTPCI, sizeof(*res));
	_cleanup_free_ struct pve_vmconf *conf = calloc(1, sizeof(*conf));
	_cleanup_free_ struct pve_devlist *all = calloc(1, sizeof(*all));
	struct dirent *de;
	int seen = 0, r = 0;
	DIR *d;

	if (!res || !conf || !all)
		return -ENOMEM;
	d = sr_opendir(c->sr, "/etc/pve/qemu-server");
	if (!d)
		return 0;
	while (r == 0 && (de = readdir(d)) && seen < 10000) {
		char num[16], err[64];
		int line, idx, vmid;
		size_t len = strlen(de->d_name);

		if (len < 6 || len > 14 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(num, sizeof(num), "%.*s", (int)(len - 5), de->d_name);
		if (pve_vmid_parse(num, &vmid) < 0)
			continue;
		seen++;
		if (pve_vmconf_load(c->sr, vmid, conf, &line, err, sizeof(err)) < 0)
			continue;
		pve_vmconf_expand_all(c->sr, conf, c->node, res, all, &idx);
		for (int k = 0; k < all->n && r == 0; k++)
			r = add_user(c, all->names[k], (int)vmid);
	}
	closedir(d);
	return r;
}

/* The VMs using device NAME, as "VM 100, VM 105" (empty: none). */
static bool users_of(const struct ctx *c, const char *name, char *buf, size_t size)
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
static const char *not_a_candidate(const struct ctx *c, const struct pci_dev_info *d)
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

static void check_kind(struct ctx *c, const struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char name[256], cls[128];
	const char *dn = pcidb_device_name(c->rep->db, d->vendor, d->device, name, sizeof(name));
	const char *cn = pcidb_class_name(c->rep->db, d->class, cls, sizeof(cls));
	struct check_result *r;

	if (!dn)
		dn = "unknown device";
	if (is_igpu(d)) {
		r = add(c, "gpu.kind", CHECK_INFO, d->name, "%s: Intel integrated GPU: it has no ROM "
			"BAR (its video BIOS is part of the board's firmware)", dn);
		fix(c, r, "for a VM: hostpciN: 0000:00:02.0 (no romfile; rom dump cannot read an "
			  "iGPU); for its display at boot use legacy-igd=1, which needs machine "
			  "i440fx (pc) and vga: none");
	} else if (is_bmc_display(d)) {
		add(c, "gpu.kind", CHECK_INFO, d->name, "%s: the display of the server's BMC (its "
		    "remote console), not a passthrough candidate", dn);
	} else if (is_nv_datacenter(d)) {
		r = add(c, "gpu.kind", CHECK_INFO, d->name, "%s: NVIDIA datacenter GPU (%s, class "
			"%04x): no VGA, no display output", dn, cn ? cn : "3D controller",
			d->class >> 8);
		fix(c, r, "pass it without x-vga; the guest needs NVIDIA's datacenter driver (and, "
			  "on HGX boards with NVSwitch, Fabric Manager: see gpu.fabric)");
	} else if (!is_vga(d)) {
		r = add(c, "gpu.kind", CHECK_INFO, d->name, "%s: %s (class %04x), not a VGA "
			"controller: it has no legacy VGA, so it can be no VM's x-vga display", dn,
			cn ? cn : "display controller", d->class >> 8);
		fix(c, r, "pass it without x-vga=1");
	}
}

/* HGX boards: NVSwitches connect the GPUs; until NVIDIA Fabric Manager has set up the fabric
 * CUDA reports "system not yet initialized" (error 802) on every GPU (NVIDIA Fabric Manager
 * User Guide, "Full Passthrough" and "Shared NVSwitch" virtualization models). */
static void check_fabric(struct ctx *c)
{
	struct pcidb *db = c->rep->db;
	char list[512] = "", name[256];
	struct check_result *r;
	int n = 0;

	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		size_t len = strlen(list);

		if (!is_nvswitch(d))
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

		if (is_nvswitch(d)) {
			const char *dn = pcidb_device_name(db, d->vendor, d->device, name,
							   sizeof(name));

			r = add(c, "gpu.fabric", CHECK_INFO, NULL, "%d NVIDIA NVSwitch%s%s%s%s (%s): an "
				"HGX board whose GPUs stay unusable (CUDA error 802, \"system not yet "
				"initialized\") until NVIDIA Fabric Manager has set up the fabric", n,
				n == 1 ? "" : "es", dn ? " [" : "", dn ? dn : "", dn ? "]" : "", list);
			fix(c, r, "to pass all GPUs to one VM, pass the NVSwitches with them and run "
				  "nvidia-fabricmanager in the guest (Fabric Manager's \"full passthrough\" "
				  "model); for GPUs split across VMs, a service VM holding the NVSwitches "
				  "runs Fabric Manager (\"shared NVSwitch\" model)");
			return;
		}
	}
}

static int collect_members(struct ctx *c, struct check_device *cd)
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
		cm->companion = same_slot(m, cd->dev);
		if (c->rep->hd && !m->is_bridge)
			hostdev_is_critical(c->rep->hd, m->name, cm->critical, sizeof(cm->critical));
	}
	return 0;
}

static const char *drv(const struct pci_dev_info *d)
{
	return d->driver[0] ? d->driver : "no driver";
}

static void check_group(struct ctx *c, const struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	char with[1024] = "", foreign[1024] = "", crit[1024] = "";
	struct check_result *r;

	if (d->iommu_group < 0) {
		r = add(c, "group.isolation", CHECK_FAIL, d->name, "no IOMMU group: the IOMMU is off");
		fix(c, r, "switch the IOMMU on first (see iommu.enabled)");
		return;
	}
	for (int i = 0; i < cd->nmembers; i++) {
		const struct check_member *m = &cd->members[i];
		size_t n;

		if (m->dev->is_bridge)
			continue; /* bridges stay with the host; vfio does not need them */
		n = strlen(with);
		snprintf(with + n, sizeof(with) - n, "%s%s (%s%s)", n ? ", " : "", m->dev->name,
			 drv(m->dev), m->companion ? ", same card" : "");
		if (m->critical[0]) {
			n = strlen(crit);
			snprintf(crit + n, sizeof(crit) - n, "%s%s (%s), which %s", n ? "; " : "",
				 m->dev->name, drv(m->dev), m->critical);
		} else if (!m->companion) {
			n = strlen(foreign);
			snprintf(foreign + n, sizeof(foreign) - n, "%s%s (%s)", n ? ", " : "",
				 m->dev->name, drv(m->dev));
		}
	}
	if (crit[0]) {
		r = add(c, "group.isolation", CHECK_FAIL, d->name, "IOMMU group %d also holds %s: "
			"passing it through takes that from the host%s%s", d->iommu_group, crit,
			foreign[0] ? "; the group also holds " : "", foreign);
		fix(c, r, "put the card in another slot (slots wired to the CPU usually have a group of "
			  "their own) and run pve-gpu-passthrough list again, or move what the host "
			  "needs to another controller; the hookscript refuses this group");
		fix(c, r, "pcie_acs_override would only hide the sharing (see cmdline.acs_override)");
		return;
	}
	if (foreign[0]) {
		r = add(c, "group.isolation", CHECK_WARN, d->name, "IOMMU group %d also holds %s: "
			"they leave the host with it", d->iommu_group, foreign);
		fix(c, r, "Proxmox and the hookscript take the whole group: pass those devices to "
			  "the same VM, or put the card in a slot with a group of its own");
		return;
	}
	if (with[0] && !c->rep->hd) {
		r = add(c, "group.isolation", CHECK_WARN, d->name, "IOMMU group %d: with %s; cannot "
			"tell whether the host needs them ('/proc/self/mountinfo' is unreadable)",
			d->iommu_group, with);
		fix(c, r, "run the check as root on the host itself");
	} else if (with[0])
		add(c, "group.isolation", CHECK_PASS, d->name, "IOMMU group %d: with %s", d->iommu_group,
		    with);
	else if (cmdline_has(c->rep->host.cmdline, "pcie_acs_override"))
		add(c, "group.isolation", CHECK_INFO, d->name, "IOMMU group %d: alone in the grouping "
		    "pcie_acs_override makes, not one the hardware promises: DMA may still reach the "
		    "devices the override split off (see cmdline.acs_override)", d->iommu_group);
	else
		add(c, "group.isolation", CHECK_PASS, d->name, "IOMMU group %d: alone", d->iommu_group);
}

static void check_driver(struct ctx *c, const struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	const char *boot = d->boot_vga == 1 ? "; it is the boot GPU (host console)" : "";
	struct check_result *r;

	if (strcmp(d->driver, "vfio-pci") == 0) {
		add(c, "gpu.driver", CHECK_PASS, d->name, "on vfio-pci%s", boot);
		return;
	}
	if (!d->driver[0]) {
		add(c, "gpu.driver", CHECK_PASS, d->name, "no driver bound%s", boot);
		return;
	}
	r = add(c, "gpu.driver", CHECK_INFO, d->name, "on host driver %s%s", d->driver, boot);
	fix(c, r, "nothing to do for a VM with the hookscript: it moves the group to vfio-pci at VM "
		  "start and back after it stops%s", d->boot_vga == 1 ?
		  ", releasing the console first" : "");
}

/* The kernel series the lab boots with initcall_blacklist=sysfb_init (tests/lab scenario
 * selftest-nosysfb, on 5.10, 6.1, 6.12, 7.3 and a Proxmox-configured 7.3): no firmware
 * framebuffer device or region is left on any of them. sysfb_init is a device_initcall in
 * drivers/firmware/sysfb.c (arch/x86/kernel/sysfb.c before 5.15) over that whole range. */
#define FB_PARAM_LAB_OLDEST 510 /* 5.10 */
#define FB_PARAM_LAB_NEWEST 703 /* 7.3 */

/* The kernel parameter that keeps the firmware from setting up a framebuffer, for kernels on
 * which the lab showed it working; NULL elsewhere (the caller says what works there). */
static const char *fb_param(const struct hostinfo *h)
{
	int v = kernel_series(h->release);

	if (v < FB_PARAM_LAB_OLDEST || v > FB_PARAM_LAB_NEWEST)
		return NULL;
	return "initcall_blacklist=sysfb_init";
}

static void check_fb(struct ctx *c, struct check_device *cd)
{
	const struct pci_dev_info *d = cd->dev;
	struct check_result *r;

	if (!c->rep->iomem_ok) {
		r = add(c, "fb.bar_overlap", CHECK_WARN, d->name, "cannot read the addresses in "
			"'/proc/iomem'");
		fix(c, r, "run the check as root (/proc/iomem shows addresses only to root)");
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
		add(c, "fb.bar_overlap", CHECK_PASS, d->name, "no firmware framebuffer in its BARs");
		return;
	}
	enum console_fb_fate fate = console_fb_fate(d, cd->fb->name);

	r = add(c, "fb.bar_overlap", fate == CONSOLE_FB_STAYS ? CHECK_FAIL : CHECK_WARN, d->name,
		"firmware framebuffer %s [mem %#llx-%#llx] sits in BAR %d [mem %#llx-%#llx]: "
		"vfio-pci cannot claim the BAR (\"BAR %d: can't reserve\") while it is there",
		cd->fb->name, (unsigned long long)cd->fb->start, (unsigned long long)cd->fb->end,
		cd->fb_bar, (unsigned long long)d->res[cd->fb_bar].start,
		(unsigned long long)d->res[cd->fb_bar].end, cd->fb_bar);
	if (fate == CONSOLE_FB_STAYS) {
		fix(c, r, "it belongs to a simple-framebuffer device, which vfio-pci removes only "
			  "for a VGA controller (this is class %06x): the hookscript refuses to start "
			  "a VM with this GPU; " CONSOLE_FB_LEFT_FIX ":", d->class);
	} else if (fate == CONSOLE_FB_REMOVED) {
		fix(c, r, "the hookscript hands the GPU over anyway: vfio-pci removes the "
			  "simple-framebuffer device when it binds, for good (the host's boot console "
			  "on this GPU comes back only at the next boot); to keep the firmware from "
			  "setting it up at all:");
	} else {
		fix(c, r, "the hookscript releases it at VM start and gives it back after; to keep "
			  "the firmware from setting it up at all (the host then has no boot console "
			  "on this GPU):");
	}
	if (fb_param(&c->rep->host))
		/* a display that is no candidate does not get the change into the all-at-once
		 * edit */
		fix_cmdline(c, r, fb_param(&c->rep->host), NULL, !c->demote);
	else
		fix(c, r, "initcall_blacklist=sysfb_init is shown to work only on kernels 5.10 to 7.3 "
			  "(kernel %s): %s", c->rep->host.release[0] ? c->rep->host.release : "unknown",
		    fate == CONSOLE_FB_STAYS ? "let the card's own driver load once before the VM "
					       "starts instead" :
					       "the hookscript's handoff is enough");
}

/* VGA text mode: vgacon on the boot VGA device goes for good when vfio-pci takes it. */
static void check_vgacon(struct ctx *c, const struct check_device *cd)
{
	struct check_result *r;

	if (console_vgacon_lost(c->sr, cd->dev, c->rep->host.release) != 1)
		return;
	r = add(c, "console.vgacon", CHECK_WARN, cd->dev->name, CONSOLE_VGACON_LOST_MSG);
	fix(c, r, CONSOLE_VGACON_LOST_FIX);
}

/* Two VGA cards on a kernel before 6.12: vfio-pci removes the boot GPU's firmware framebuffer
 * when it takes the other card. */
static void check_other_fb(struct ctx *c, const struct check_device *cd)
{
	struct check_result *r;
	char fb[64];

	if (console_other_fb_lost(c->sr, cd->dev, c->rep->host.release, fb) != 1)
		return;
	r = add(c, "console.other_fb", CHECK_WARN, cd->dev->name, CONSOLE_OTHER_FB_LOST_MSG, fb);
	fix(c, r, CONSOLE_OTHER_FB_LOST_FIX);
}

static bool has_word(const char *list, const char *w)
{
	char padded[160], hay[300];

	snprintf(padded, sizeof(padded), " %s ", w);
	snprintf(hay, sizeof(hay), " %s ", list);
	return strstr(hay, padded) != NULL;
}

static void check_reset(struct ctx *c, struct check_device *cd)
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
			r = add(c, "gpu.reset", CHECK_WARN, d->name, "reset is switched off (reset_method "
				"is empty)");
			fix(c, r, "give the kernel its methods back: echo default > "
				  SYSFS_PCI_DEVICES "/%s/reset_method", d->name);
		} else if (has_word(m, "flr") || has_word(m, "af_flr") ||
			   has_word(m, "device_specific")) {
			add(c, "gpu.reset", CHECK_PASS, d->name, "reset methods: %s", m);
		} else if (amd_gpu) {
			r = add(c, "gpu.reset", CHECK_WARN, d->name, "reset methods: %s, none made for "
				"this card: AMD GPUs often fail on the second VM start (the AMD reset bug)",
				m);
			fix(c, r, "install vendor-reset (github.com/gnif/vendor-reset), load it before "
				  "vfio-pci, then: echo device_specific > "
				  SYSFS_PCI_DEVICES "/%s/reset_method", d->name);
		} else {
			r = add(c, "gpu.reset", CHECK_INFO, d->name, "reset methods: %s, no function "
				"level reset: the card is reset through its bus, every function together", m);
			fix(c, r, "nothing to do unless the guest sees a dead card after a VM restart; "
				  "then pass all functions of %.*s together (hostpciN: %.*s)",
			    (int)strlen(d->name) - 2, d->name, (int)strlen(d->name) - 2, d->name);
		}
		return;
	}
	if (d->has_reset) {
		add(c, "gpu.reset", CHECK_PASS, d->name, "resettable (the kernel is too old to show "
		    "reset_method)");
		return;
	}
	r = add(c, "gpu.reset", CHECK_WARN, d->name, "no reset: after a VM stops the card keeps the "
		"guest's state");
	if (amd_gpu)
		fix(c, r, "install vendor-reset (github.com/gnif/vendor-reset) for this AMD card");
	else
		fix(c, r, "if the guest shows nothing on its second start, reboot the host between "
			  "VM runs");
}

/* --- VMs -------------------------------------------------------------------------------- */

struct vmwork {
	struct pve_vmconf conf;
	int rc, err_line;
	char err[256];
	/* the whole-VM expansion the hook makes (pve_vmconf_expand_all), per entry */
	struct pve_hostpci_result res[PVE_MAX_HOSTPCI];
	struct pve_devlist all;
};

static bool is_q35(const char *machine)
{
	const char *m = str_has_prefix(machine, "type=") ? machine + 5 : machine;

	return strncmp(m, "q35", 3) == 0 || str_has_prefix(m, "pc-q35");
}

static void check_hookscript(struct ctx *c, const struct pve_vmconf *conf, const char *subj)
{
	const char *hs = conf->hookscript, *colon = strchr(hs, ':');
	char storage[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX], path[SR_PATH_MAX], real[SR_PATH_MAX];
	struct pve_storage st;
	struct check_result *r;
	long long unused;
	int rc;

	if (!hs[0]) {
		r = add(c, "vm.hookscript", CHECK_WARN, subj, "no hookscript: Proxmox binds the "
			"devices itself (by id, every identical card too), releases no console or "
			"framebuffer, and never gives the GPU back to the host");
		fix(c, r, "run: pve-gpu-passthrough attach %d", conf->vmid);
		return;
	}
	if (!colon || !str_has_prefix(colon + 1, "snippets/") || strchr(colon + 10, '/') ||
	    str_copy_n(storage, sizeof(storage), hs, (size_t)(colon - hs)) < 0) {
		r = add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' is not a snippets volume "
			"(STORAGE:snippets/NAME): Proxmox refuses to start the VM", hs);
		fix(c, r, "run: pve-gpu-passthrough attach %d --force", conf->vmid);
		return;
	}
	rc = pve_storage_load(c->sr, storage, &st);
	if (rc == -ENOENT) {
		r = add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s': there is no storage "
			"'%s' in '%s': Proxmox refuses to start the VM", hs, storage, PVE_STORAGE_CFG);
		fix(c, r, "run: pve-gpu-passthrough attach %d --force", conf->vmid);
		return;
	}
	if (rc == 0)
		rc = pve_storage_snippets_dir(&st, dir);
	if (rc == 0)
		rc = sr_path(path, "%s/%s", dir, colon + 10);
	if (rc < 0) {
		r = add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s': storage '%s' has no "
			"snippets directory (%s): Proxmox refuses to start the VM", hs, storage,
			strerror(-rc));
		fix(c, r, "run: pve-gpu-passthrough attach %d --force", conf->vmid);
		return;
	}
	if (hostinfo_mtime(c->sr, path, &unused) < 0) {
		r = add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' ('%s') does not exist: "
			"Proxmox refuses to start the VM", hs, path);
		fix(c, r, "run: pve-gpu-passthrough attach %d --force", conf->vmid);
		return;
	}
	if (sr_realpath(c->sr, path, real) < 0 || strcmp(strrchr(real, '/') + 1, HOOK_NAME) != 0) {
		r = add(c, "vm.hookscript", CHECK_WARN, subj, "hookscript '%s' is another script, not "
			"%s: devices are handed over by Proxmox alone", hs, HOOK_NAME);
		fix(c, r, "to use ours instead: pve-gpu-passthrough attach %d --force (replaces '%s')",
		    conf->vmid, hs);
		return;
	}
	{
		_cleanup_close_ int fd = sr_openat(c->sr, path, O_PATH, 0);
		struct stat sb;

		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 0111)) {
			r = add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' ('%s') is not an "
				"executable file: Proxmox refuses to start the VM", hs, real);
			fix(c, r, "reinstall the package (apt install --reinstall pve-gpu-passthrough)");
			return;
		}
	}
	add(c, "vm.hookscript", CHECK_PASS, subj, "hookscript '%s' is %s", hs, HOOK_NAME);
}

/* VALUE (a hostpciN value) with the items whose key is DROP removed and ADD appended; the
 * first item may be a bare host id. The result is valid until the next call. */
static const char *hostpci_edit(const char *value, const char *drop, const char *add_item)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	size_t n;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t klen = strcspn(t, "=");

		if (drop && strlen(drop) == klen && !strncmp(t, drop, klen) && t[klen] == '=')
			continue;
		n = strlen(out);
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", t);
	}
	n = strlen(out);
	if (add_item)
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", add_item);
	return out;
}

/* VALUE with its host ids replaced by HOST. */
static const char *hostpci_with_host(const char *value, const char *host)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	int i = 0;

	snprintf(out, sizeof(out), "%s", host);
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		size_t n = strlen(out);

		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "host="))
			continue;
		snprintf(out + n, sizeof(out) - n, ",%s", t);
	}
	return out;
}

/* A mapping entry: Proxmox's validation of every map entry of this node. Returns -EINVAL
 * (after a FAIL) when the start would stop there. */
static int check_mapping(struct ctx *c, const struct pve_hostpci *h, const char *subj)
{
	struct pve_map_problem p;
	struct check_result *r;
	char err[320];
	int rc = pve_mapping_validate(c->sr, h->mapping, c->node, &p, err, sizeof(err));

	if (rc == 0) {
		add(c, "vm.mapping", CHECK_PASS, subj, "mapping '%s': every entry for node '%s' "
		    "matches the hardware (id, subsystem-id, iommugroup)", h->mapping, c->node);
		return 0;
	}
	if (rc != -EINVAL)
		return 0; /* not found: vm.hostpci reports Proxmox's error */
	r = add(c, "vm.mapping", CHECK_FAIL, subj, "mapping '%s': %s: Proxmox refuses to start "
		"the VM, and the hookscript refuses it before binding anything", h->mapping, err);
	if (p.fixed[0]) {
		fix(c, r, "edit '/etc/pve/mapping/pci.cfg' line %d to read:", p.line);
		fix(c, r, "    \tmap %s", p.fixed);
		fix(c, r, "(or correct the entry for node '%s' in Datacenter > Resource Mappings)",
		    c->node);
	} else {
		fix(c, r, "'/etc/pve/mapping/pci.cfg' line %d (map %s) no longer describes this "
			  "host: correct its path in Datacenter > Resource Mappings "
			  "(pve-gpu-passthrough list shows the devices)", p.line, p.entry);
	}
	return -EINVAL;
}

/* Proxmox's legacy-igd rules (qemu-server PCI.pm parse_hostpci_devices), in its order. */
static void check_igd(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
		      const struct pve_devlist *l, bool q35, bool *seen, const char *subj)
{
	const struct pci_dev_info *d = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
	struct check_result *r;
	const char *why = NULL, *fixline = NULL;
	char fixbuf[1400];

	if (*seen) {
		why = "only one device can be assigned in legacy-igd mode";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "legacy-igd", NULL));
	} else if (strcmp(conf->vga, "none") != 0) {
		why = "legacy IGD assignment requires VGA mode to be 'none'";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --vga none", conf->vmid);
	} else if (!h->rombar) {
		why = "legacy IGD assignment requires rombar to be enabled";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "rombar", NULL));
	} else if (h->x_vga) {
		why = "legacy IGD assignment is not compatible with x-vga";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "x-vga", NULL));
	} else if (h->mdev) {
		why = "legacy IGD assignment is not compatible with mdev";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "mdev", NULL));
	} else if (q35) {
		why = "legacy IGD assignment is not compatible with q35";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --machine pc", conf->vmid);
		if (h->pcie)
			snprintf(fixbuf + strlen(fixbuf), sizeof(fixbuf) - strlen(fixbuf),
				 " --hostpci%d %s", h->index, hostpci_edit(h->value, "pcie", NULL));
	} else if (l->n > 1) {
		why = "legacy IGD assignment is not compatible with multifunction devices";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_with_host(h->value, "0000:00:02.0"));
	} else if (l->n == 1 && !str_has_prefix(l->names[0] + strlen(l->names[0]) - 4, "02.0")) {
		why = "legacy IGD assignment only works for devices on host bus 00:02.0";
		fixline = "pass the iGPU at 0000:00:02.0 in legacy-igd mode, other devices without it";
	}
	*seen = true;
	if (!why) {
		add(c, "vm.igd", CHECK_PASS, subj, "legacy-igd: machine i440fx, vga none, %s%s",
		    l->n ? l->names[0] : "the iGPU", d && !is_igpu(d) ? " (not an Intel iGPU)" : "");
		return;
	}
	r = add(c, "vm.igd", CHECK_FAIL, subj, "%s: Proxmox refuses to start the VM", why);
	if (fixline)
		fix(c, r, "%s", fixline);
	else
		fix(c, r, "run: %s", fixbuf);
}

/* A VM that passes some functions of a card but not all: when the card has no function-level
 * reset, its reset (a bus reset, every function at once) hits the functions left out too. */
static void check_functions(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			    const struct pve_devlist *l, const struct pve_devlist *all,
			    const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char left[256] = "", slot[PCI_ADDR_LEN], path[SR_PATH_MAX], methods[128] = "";
	const struct pci_dev_info *first = l->n ? pcidb_find(db, l->names[0]) : NULL;
	struct check_result *r;
	bool flr;

	if (!first || first->is_bridge)
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[db->byaddr[i]];
		bool in = false;
		size_t n;

		if (o == first || o->is_bridge || o->addr.domain != first->addr.domain ||
		    o->addr.bus != first->addr.bus || o->addr.slot != first->addr.slot)
			continue;
		for (int k = 0; k < all->n && !in; k++)
			in = !strcmp(all->names[k], o->name);
		if (in)
			continue;
		n = strlen(left);
		snprintf(left + n, sizeof(left) - n, "%s%s (%s)", n ? ", " : "", o->name, drv(o));
	}
	if (!left[0])
		return;
	/* Without reset_method (kernels before 5.15) the reset cannot be told: no warning. */
	if (sysfs_pci_dev(path, first->name, "reset_method") < 0 ||
	    sr_read_str(c->sr, path, methods, sizeof(methods)) < 0)
		return;
	flr = has_word(methods, "flr") || has_word(methods, "af_flr") ||
	      has_word(methods, "device_specific");
	if (flr)
		return;
	snprintf(slot, sizeof(slot), "%.*s", (int)strlen(first->name) - 2, first->name);
	r = add(c, "vm.functions", CHECK_WARN, subj, "passes %s but not %s of the same card, "
		"which resets as one (%s): the guest's resets reset the functions left out too",
		first->name, left, methods[0] ? methods : "no function-level reset");
	if (h->mapping[0])
		fix(c, r, "map the whole card: path=%s in mapping '%s' (Datacenter > Resource "
			  "Mappings)", slot, h->mapping);
	else
		fix(c, r, "pass the whole card: qm set %d --hostpci%d %s", conf->vmid, h->index,
		    hostpci_with_host(h->value, slot));
}

/* NVSwitches the VM does not pass while it passes datacenter GPUs. */
static void check_vm_fabric(struct ctx *c, const struct pve_vmconf *conf,
			    const struct pve_devlist *all, int next_index, const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char missing[512] = "", cmd[1024] = "";
	struct check_result *r;
	bool gpu = false;
	int nsw = 0, nmiss = 0;

	for (int k = 0; k < all->n; k++) {
		const struct pci_dev_info *d = pcidb_find(db, all->names[k]);

		gpu |= d && is_nv_datacenter(d);
	}
	if (!gpu)
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool in = false;

		if (!is_nvswitch(d))
			continue;
		nsw++;
		for (int k = 0; k < all->n && !in; k++)
			in = !strcmp(all->names[k], d->name);
		if (in)
			continue;
		if (nmiss < 8) {
			size_t n = strlen(missing), m = strlen(cmd);

			snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", d->name);
			if (next_index < PVE_MAX_HOSTPCI)
				snprintf(cmd + m, sizeof(cmd) - m, " --hostpci%d %s", next_index++,
					 d->name);
		}
		nmiss++;
	}
	if (!nsw)
		return;
	if (!nmiss) {
		r = add(c, "vm.fabric", CHECK_INFO, subj, "passes NVIDIA datacenter GPUs with all %d "
			"NVSwitches", nsw);
		fix(c, r, "run nvidia-fabricmanager in the guest, or CUDA reports error 802 (\"system "
			  "not yet initialized\")");
		return;
	}
	r = add(c, "vm.fabric", CHECK_WARN, subj, "passes NVIDIA datacenter GPUs of an HGX board "
		"but not its NVSwitch%s %s%s: without Fabric Manager on the switches CUDA reports "
		"error 802 (\"system not yet initialized\")", nmiss == 1 ? "" : "es", missing,
		nmiss > 8 ? ", ..." : "");
	if (cmd[0])
		fix(c, r, "to pass the whole board: qm set %d%s, then run nvidia-fabricmanager in the "
			  "guest; or run Fabric Manager in a service VM that holds the NVSwitches",
		    conf->vmid, cmd);
	else
		fix(c, r, "run Fabric Manager in a service VM that holds the NVSwitches");
}

static void check_romfile(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			  const struct pve_devlist *l, const char *subj)
{
	_cleanup_free_ struct rom_info *info = calloc(1, sizeof(*info));
	_cleanup_free_ uint8_t *buf = NULL;
	const struct pci_dev_info *first = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
	bool ovmf = strcmp(conf->bios, "ovmf") == 0;
	char path[SR_PATH_MAX];
	struct check_result *r;
	size_t len;
	int rc;

	if (!info) {
		c->oom = true;
		return;
	}
	/* Proxmox always passes romfile=/usr/share/kvm/VALUE to QEMU. */
	if (sr_path(path, "/usr/share/kvm/%s", h->romfile) < 0) {
		r = add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s' is too long", h->romfile);
		fix(c, r, "put the ROM in /usr/share/kvm under a short name and set romfile=NAME");
		return;
	}
	rc = rom_load(c->sr, path, &buf, &len);
	if (rc < 0) {
		r = add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s': %s: QEMU fails to start the "
			"VM", path, rc == -ENOENT ? "no such file" : sr_strerror(rc));
		if (first && is_igpu(first))
			fix(c, r, "an integrated GPU has no ROM BAR to dump: put its video BIOS, taken "
				  "from the board's firmware image, at '%s', or drop romfile= "
				  "(qm set %d --hostpci%d %s)", path, conf->vmid, h->index,
			    hostpci_edit(h->value, "romfile", NULL));
		else if (first)
			fix(c, r, "dump the card's ROM there: pve-gpu-passthrough rom dump %s -o '%s' "
				  "(or copy a ROM file there)", first->name, path);
		else
			fix(c, r, "copy the ROM file to '%s'", path);
		return;
	}
	rom_parse(buf, len, info);
	if (rom_verdict(info) == ROM_INVALID) {
		r = add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s' is not a valid ROM: %s", path,
			rom_error_str(info->error));
		fix(c, r, "see: pve-gpu-passthrough rom check '%s'; a header in front of the image "
			  "is cut with rom patch", path);
		return;
	}
	if (first && !rom_matches_ids(info, first->vendor, first->device)) {
		r = add(c, "vm.romfile", CHECK_WARN, subj, "romfile '%s' is for another card than %s "
			"[%04x:%04x]", path, first->name, first->vendor, first->device);
		fix(c, r, "use the ROM of this very card (pve-gpu-passthrough rom dump %s)", first->name);
		return;
	}
	if (ovmf && rom_verdict(info) != ROM_VALID_OVMF) {
		r = add(c, "vm.romfile", CHECK_WARN, subj, "romfile '%s' has no x64 EFI image, and the "
			"VM boots with OVMF: the screen stays dark until the guest's driver loads", path);
		fix(c, r, "find a ROM of this card with UEFI (GOP) support, check it with "
			  "pve-gpu-passthrough rom check FILE, and set romfile= to it");
		return;
	}
	add(c, "vm.romfile", CHECK_PASS, subj, "romfile '%s' is valid%s", path,
	    rom_verdict(info) == ROM_VALID_OVMF ? " and has an x64 EFI image" : "");
}

/* --- BARs and the guest's address space --------------------------------------------------- */

#define IORESOURCE_MEM_64 0x00100000
#define GIB (1ULL << 30)

/* "128 GiB", "512 MiB". */
static const char *human(unsigned long long v, char *buf, size_t size)
{
	if (v >= GIB && v % GIB == 0)
		snprintf(buf, size, "%llu GiB", v / GIB);
	else if (v >= GIB)
		snprintf(buf, size, "%.1f GiB", (double)v / (double)GIB);
	else
		snprintf(buf, size, "%llu MiB", v >> 20);
	return buf;
}

/* The host CPU's physical address bits ("address sizes : 46 bits physical"), 0 unknown. */
static int host_phys_bits(const struct ctx *c)
{
	_cleanup_free_ char *text = NULL;
	const char *p;
	size_t len;
	int bits;

	if (sr_read_all(c->sr, "/proc/cpuinfo", 1u << 22, &text, &len) < 0)
		return 0;
	p = strstr(text, "address sizes");
	if (!p || sscanf(p, "address sizes : %d bits physical", &bits) != 1 || bits < 32 ||
	    bits > 64)
		return 0;
	return bits;
}

struct guest_cpu {
	char type[64];      /* the CPU model */
	char phys[16];      /* phys-bits= ("host", a number, "" unset) */
	int guest_bits;     /* guest-phys-bits=, 0 unset */
	bool pdpe1gb;       /* +pdpe1gb in flags */
};

/* Proxmox's cpu option: "[cputype=]TYPE[,phys-bits=N|host][,guest-phys-bits=N][,flags=...]".
 * Without it qemu-server uses x86-64-v2-AES (get_default_cpu_type, KVM). */
static void parse_cpu(const char *cpu, struct guest_cpu *g)
{
	char buf[128], *save = NULL;
	int i = 0;

	memset(g, 0, sizeof(*g));
	snprintf(g->type, sizeof(g->type), "x86-64-v2-AES");
	snprintf(buf, sizeof(buf), "%s", cpu);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		unsigned long v;

		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "cputype="))
			snprintf(g->type, sizeof(g->type), "%s", strchr(t, '=') ? strchr(t, '=') + 1 : t);
		else if (str_has_prefix(t, "phys-bits="))
			snprintf(g->phys, sizeof(g->phys), "%s", t + 10);
		else if (str_has_prefix(t, "guest-phys-bits=") &&
			 parse_ulong(t + 16, 10, 64, &v) == 0)
			g->guest_bits = (int)v;
		else if (str_has_prefix(t, "flags="))
			g->pdpe1gb = strstr(t, "+pdpe1gb") != NULL;
	}
}

/* Proxmox's models built on qemu64 (qemu-server CPUConfig.pm $builtin_models_by_arch: the
 * x86-64-v2..v4 levels are "reported-model" qemu64 plus flags), and kvm64: no 1 GiB pages
 * (pdpe1gb) unless the flags add them. */
static bool lacks_1g_pages(const struct guest_cpu *g)
{
	return !g->pdpe1gb && (!strcmp(g->type, "qemu64") || !strcmp(g->type, "kvm64") ||
			       str_has_prefix(g->type, "x86-64-v"));
}

/* The cpu option with phys-bits=host (other settings kept), and +pdpe1gb when PDPE1GB. */
static void cpu_with_host_bits(const char *cpu, const struct guest_cpu *g, bool pdpe1gb,
			       char *out, size_t size)
{
	char buf[128], *save = NULL;
	bool flags = false;
	int i = 0;
	size_t n;

	snprintf(out, size, "%s", g->type);
	snprintf(buf, sizeof(buf), "%s", cpu);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "cputype=") ||
		    str_has_prefix(t, "phys-bits="))
			continue;
		n = strlen(out);
		snprintf(out + n, size - n, ",%s%s", t,
			 pdpe1gb && str_has_prefix(t, "flags=") ? ";+pdpe1gb" : "");
		flags |= str_has_prefix(t, "flags=");
	}
	n = strlen(out);
	if (strcmp(g->type, "host") != 0)
		snprintf(out + n, size - n, ",phys-bits=host");
	n = strlen(out);
	if (pdpe1gb && !flags)
		snprintf(out + n, size - n, ",flags=+pdpe1gb");
}

/* The guest's physical address bits: QEMU gives the host's with host-phys-bits (the default
 * of -cpu host and max: target/i386/host-cpu.c) or phys-bits=host, the number of phys-bits=N,
 * and otherwise 40 (TCG_PHYS_ADDR_BITS, target/i386/cpu.h). 0 when the host's are unknown. */
static int guest_phys_bits(const struct guest_cpu *g, int host_bits)
{
	unsigned long v;

	if (!strcmp(g->phys, "host") || !strcmp(g->type, "host") || !strcmp(g->type, "max"))
		return host_bits;
	if (g->phys[0] && parse_ulong(g->phys, 10, 64, &v) == 0)
		return (int)v;
	return 40;
}

/* OVMF's 64-bit PCI window (edk2 OvmfPkg/Library/PlatformInitLib/MemDetect.c, in Proxmox's
 * pve-edk2-firmware since edk2-stable202305): the classic window is 32 GiB (PcdPciMmio64Size)
 * or opt/ovmf/X-PciMmio64Mb; when PlatformAddressWidthFromCpuid trusts the CPUID address width
 * (guest-phys-bits given, 41 bits or more, 36 or 39 with Intel's signature, 40 with AMD's:
 * QEMU reports the host's vendor under KVM) it caps it (GuestPhysBits, 46 with 4-level
 * paging, 40 without 1 GiB pages) and PlatformDynamicMmioWindow grows the window to 1/8 of
 * that address space. LO is the window, HI the same (kept for the message). Returns the bits
 * used. */
static int ovmf_window(const struct ctx *c, const struct pve_vmconf *conf,
		       const struct guest_cpu *g, int bits, unsigned long long *lo,
		       unsigned long long *hi)
{
	enum cpu_vendor v = c->rep->host.cpu;
	const char *x = strstr(conf->args, "opt/ovmf/X-PciMmio64Mb,string=");
	unsigned long long classic = 32 * GIB;
	unsigned long mb;
	char num[24];
	bool trusted;

	if (x) {
		x += strlen("opt/ovmf/X-PciMmio64Mb,string=");
		snprintf(num, sizeof(num), "%.*s", (int)strcspn(x, " ,'\""), x);
		if (parse_ulong(num, 10, 1UL << 40, &mb) == 0 && mb)
			classic = (unsigned long long)mb << 20;
	}
	trusted = g->guest_bits || bits >= 41 || (v == CPU_INTEL && (bits == 36 || bits == 39)) ||
		  (v == CPU_AMD && bits == 40);
	if (g->guest_bits && bits > g->guest_bits)
		bits = g->guest_bits;
	if (bits > 46)
		bits = 46;
	/* without 1 GiB pages (qemu-server warns the same for its qemu64-based models) */
	if (bits > 40 && lacks_1g_pages(g))
		bits = 40;
	*lo = *hi = classic;
	if (trusted && bits >= 36 && (1ULL << (bits - 3)) > classic)
		*lo = *hi = 1ULL << (bits - 3);
	return bits;
}

/* RAM above 4 GiB: QEMU keeps 2 GiB below 4 GiB on q35 once the VM has 2.75 GiB or more
 * (hw/i386/pc_q35.c), 3 GiB on i440fx from 3.5 GiB (hw/i386/pc_piix.c, gigabyte_align). */
static unsigned long long ram_above_4g(const struct pve_vmconf *conf, bool q35)
{
	unsigned long long ram = (unsigned long long)(conf->memory_mb ? conf->memory_mb : 512) << 20;
	unsigned long long low = ram;

	if (q35 && ram >= 0xb0000000ULL)
		low = 2 * GIB;
	else if (!q35 && ram >= 0xe0000000ULL)
		low = 3 * GIB;
	return ram - low;
}

static void check_bars(struct ctx *c, const struct pve_vmconf *conf, const struct pve_devlist *all,
		       bool q35, const char *subj)
{
	unsigned long long sum = 0, largest = 0, lo, hi, need;
	const char *large_dev = "";
	struct guest_cpu g;
	struct check_result *r;
	bool ovmf = strcmp(conf->bios, "ovmf") == 0;
	int hbits = host_phys_bits(c), bits, n = 0;
	char b1[32], b2[32], b3[32], cpu[256];

	for (int k = 0; k < all->n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, all->names[k]);

		for (int i = 0; d && i < 6; i++) {
			const struct pci_resource *b = &d->res[i];
			unsigned long long size = b->end > b->start ? b->end - b->start + 1 : 0;
			char path[SR_PATH_MAX], attr[32];

			if (!size || !(b->flags & IORESOURCE_MEM) || !(b->flags & IORESOURCE_MEM_64))
				continue;
			n++;
			sum += size;
			if (size > largest) {
				largest = size;
				large_dev = d->name;
			}
			/* resourceN_resize: the BAR is resizable (kernel 5.13+); one above the
			 * 256 MiB the PCIe spec's default allows was resized by the firmware */
			snprintf(attr, sizeof(attr), "resource%d_resize", i);
			if (size > (256ULL << 20) && sysfs_pci_dev(path, d->name, attr) == 0 &&
			    sr_exists(c->sr, path)) {
				r = add(c, "vm.rebar", CHECK_INFO, subj, "%s BAR %d is a Resizable BAR set to "
					"%s: the guest gets all of it", d->name, i, human(size, b1, sizeof(b1)));
				fix(c, r, "if the VM hangs at start or on a second start, or its driver "
					  "cannot map the BAR, switch Resizable BAR off in the host's firmware "
					  "setup (or write a smaller size to '%s' while the card has no driver)",
				    path);
			}
		}
	}
	if (!n)
		return;
	parse_cpu(conf->cpu, &g);
	bits = guest_phys_bits(&g, hbits);
	if (!bits) {
		r = add(c, "vm.bars", CHECK_INFO, subj, "64-bit BARs: %s in all, the largest %s; the "
			"host's physical address bits are unknown ('/proc/cpuinfo' has no address "
			"sizes), so the guest's window cannot be told", human(sum, b1, sizeof(b1)),
			human(largest, b2, sizeof(b2)));
		fix(c, r, "run the check on the host itself");
		return;
	}
	cpu_with_host_bits(conf->cpu, &g, ovmf && lacks_1g_pages(&g), cpu, sizeof(cpu));
	if (ovmf) {
		int used = ovmf_window(c, conf, &g, bits, &lo, &hi);

		need = sum;
		if (largest > hi || need > hi) {
			r = add(c, "vm.bars", CHECK_FAIL, subj, "64-bit BARs: %s in all, the largest %s "
				"(%s), but OVMF's 64-bit PCI window with %d physical address bits (CPU %s) "
				"is %s: the firmware cannot map them, the guest's driver fails",
				human(sum, b1, sizeof(b1)), human(largest, b2, sizeof(b2)), large_dev,
				used, g.type, human(hi, b3, sizeof(b3)));
			if (hbits > used && strcmp(g.phys, "host") && strcmp(g.type, "host") &&
			    (1ULL << ((hbits > 46 ? 46 : hbits) - 3)) >= need)
				fix(c, r, "give the guest the host's %d address bits%s: qm set %d --cpu %s",
				    hbits, lacks_1g_pages(&g) ? " and 1 GiB pages" : "", conf->vmid, cpu);
			else
				fix(c, r, "pass fewer devices to this VM, or a host CPU with more physical "
					  "address bits; the window cannot grow past 1/8 of the guest's "
					  "address space");
			return;
		}
		add(c, "vm.bars", CHECK_PASS, subj, "64-bit BARs: %s in all, the largest %s; OVMF's "
		    "64-bit PCI window with %d address bits (CPU %s): %s", human(sum, b1, sizeof(b1)),
		    human(largest, b2, sizeof(b2)), used, g.type, human(lo, b3, sizeof(b3)));
		return;
	}
	/* SeaBIOS (src/fw/pciinit.c, pci_bios_map_devices) puts the 64-bit BARs above 4 GiB and
	 * the RAM there, 1 GiB aligned, ending at 2^phys-bits (at most 2^44 for guests with less
	 * than 1 TiB of RAM); the guest cannot reach addresses above its physical address bits. */
	{
		unsigned long long top = 1ULL << (bits > 44 ? 44 : bits);
		unsigned long long base = 4 * GIB + ram_above_4g(conf, q35);

		need = (sum + GIB - 1) / GIB * GIB;
		if (base + need > top) {
			char b4[32];

			r = add(c, "vm.bars", CHECK_FAIL, subj, "64-bit BARs: %s in all, the largest %s, "
				"but SeaBIOS puts them above the guest's RAM (from %s) and below 2^%d = %s "
				"(%d address bits, CPU %s): they do not fit", human(sum, b1, sizeof(b1)),
				human(largest, b2, sizeof(b2)), human(base, b3, sizeof(b3)),
				bits > 44 ? 44 : bits, human(top, b4, sizeof(b4)), bits, g.type);
			if (hbits > bits && base + need <= (1ULL << (hbits > 44 ? 44 : hbits)))
				fix(c, r, "give the guest the host's %d address bits: qm set %d --cpu %s",
				    hbits, conf->vmid, cpu);
			else
				fix(c, r, "pass fewer devices to this VM, or give it less memory");
			return;
		}
		add(c, "vm.bars", CHECK_PASS, subj, "64-bit BARs: %s in all, the largest %s; with "
		    "SeaBIOS above the RAM and below 2^%d (%d address bits, CPU %s)",
		    human(sum, b1, sizeof(b1)), human(largest, b2, sizeof(b2)), bits > 44 ? 44 : bits,
		    bits, g.type);
	}
}

static void check_vm(struct ctx *c, const struct vmwork *w, int vmid)
{
	const struct pve_vmconf *conf = &w->conf;
	bool q35 = is_q35(conf->machine), nvidia = false, hidden = false, igd_seen = false;
	char subj[48];
	struct check_result *r;
	int next_index = 0;

	snprintf(subj, sizeof(subj), "vm %d", vmid);
	if (w->rc == -ENOENT) {
		r = add(c, "vm.config", CHECK_FAIL, subj, "no VM %d on this node "
			"('/etc/pve/qemu-server/%d.conf')", vmid, vmid);
		fix(c, r, "check the VMID with: qm list");
		return;
	}
	if (w->rc < 0) {
		if (w->err_line)
			r = add(c, "vm.config", CHECK_FAIL, subj, "'/etc/pve/qemu-server/%d.conf' line "
				"%d: %s", vmid, w->err_line, w->err);
		else
			r = add(c, "vm.config", CHECK_FAIL, subj, "%s", w->err);
		fix(c, r, "correct the entry (qm config %d shows what Proxmox reads)", vmid);
		return;
	}
	add(c, "vm.config", CHECK_PASS, subj, "%d hostpci entr%s, machine %s, %s", conf->nhostpci,
	    conf->nhostpci == 1 ? "y" : "ies", conf->machine[0] ? conf->machine : "i440fx (default)",
	    strcmp(conf->bios, "ovmf") == 0 ? "OVMF (UEFI)" : "SeaBIOS");
	if (conf->nhostpci == 0) {
		r = add(c, "vm.hostpci", CHECK_INFO, subj, "no hostpci entries: nothing is passed "
			"through");
		fix(c, r, "add the card: qm set %d --hostpci0 BUS:SLOT,pcie=1 (pve-gpu-passthrough "
			  "list shows the candidates)", vmid);
	}
	for (int i = 0; i < conf->nhostpci; i++)
		if (conf->hostpci[i].index >= next_index)
			next_index = conf->hostpci[i].index + 1;
	for (int i = 0; i < conf->nhostpci; i++) {
		const struct pve_hostpci *h = &conf->hostpci[i];
		const struct pve_devlist *l = &w->res[i].devs;
		const struct pci_dev_info *first;
		char hsubj[48], devs[512] = "";

		snprintf(hsubj, sizeof(hsubj), "vm %d hostpci%d", vmid, h->index);
		if (h->keep || h->mdev) {
			r = add(c, "vm.hostpci", CHECK_INFO, hsubj, "%s: left to Proxmox, not checked",
				h->keep ? "driver=keep" : "mediated device");
			fix(c, r, "nothing to do");
			continue;
		}
		if (h->mapping[0] && check_mapping(c, h, hsubj) < 0)
			continue;
		if (w->res[i].rc < 0) {
			r = add(c, "vm.hostpci", CHECK_FAIL, hsubj, "%s: Proxmox refuses to start the VM",
				w->res[i].err[0] ? w->res[i].err : strerror(-w->res[i].rc));
			fix(c, r, "pve-gpu-passthrough list --all shows the devices; then: qm set %d "
				  "--hostpci%d ADDRESS,...", vmid, h->index);
			continue;
		}
		first = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
		for (int j = 0; j < l->n; j++) {
			const struct pci_dev_info *d = pcidb_find(c->rep->db, l->names[j]);
			size_t n = strlen(devs);

			snprintf(devs + n, sizeof(devs) - n, "%s%s", j ? " " : "", l->names[j]);
			/* Code 43 concerns GeForce (VGA class) cards, not datacenter GPUs */
			if (d && d->vendor == 0x10de && is_vga(d))
				nvidia = true;
		}
		add(c, "vm.hostpci", CHECK_PASS, hsubj, "passes %s", devs);
		if (h->pcie) {
			if (q35) {
				add(c, "vm.pcie", CHECK_PASS, hsubj, "pcie=1 on a q35 machine");
			} else {
				r = add(c, "vm.pcie", CHECK_FAIL, hsubj, "pcie=1 needs a q35 machine, this "
					"VM has %s: Proxmox refuses to start it", conf->machine[0] ?
					conf->machine : "i440fx (the default)");
				fix(c, r, "run: qm set %d --machine q35 (or drop pcie=1 from hostpci%d)",
				    vmid, h->index);
			}
		}
		if (h->legacy_igd)
			check_igd(c, conf, h, l, q35, &igd_seen, hsubj);
		if (h->x_vga && first && !is_vga(first)) {
			char cls[128];
			const char *cn = pcidb_class_name(c->rep->db, first->class, cls, sizeof(cls));

			/* Only VGA class devices get vfio's VGA region (see is_vga). */
			r = add(c, "vm.xvga", CHECK_FAIL, hsubj, "x-vga=1 on %s, a %s (class %04x), not a "
				"VGA controller: QEMU refuses to start (\"does not support requested "
				"feature x-vga\")", first->name, cn ? cn : "display controller",
				first->class >> 8);
			fix(c, r, "run: qm set %d --hostpci%d %s", vmid, h->index,
			    hostpci_edit(h->value, "x-vga", NULL));
		} else if (h->x_vga) {
			if (strcmp(conf->bios, "ovmf") == 0) {
				add(c, "vm.xvga", CHECK_PASS, hsubj, "x-vga=1 with OVMF: the card is the "
				    "primary display (it needs a ROM with an EFI image)");
			} else {
				r = add(c, "vm.xvga", CHECK_INFO, hsubj, "x-vga=1 with SeaBIOS: the card "
					"runs its legacy VGA BIOS, which many modern cards boot badly with");
				fix(c, r, "if the screen stays dark: qm set %d --bios ovmf, with an EFI "
					  "disk (qm set %d --efidisk0 STORAGE:1)", vmid, vmid);
			}
			hidden = true; /* Proxmox adds kvm=off with x-vga */
		}
		if (h->romfile[0])
			check_romfile(c, conf, h, l, hsubj);
		check_functions(c, conf, h, l, &w->all, hsubj);
	}
	check_bars(c, conf, &w->all, q35, subj);
	check_hookscript(c, conf, subj);
	check_vm_fabric(c, conf, &w->all, next_index, subj);
	/* The Code 43 of drivers before 465 was Windows-only (NVIDIA's GeForce driver 465 release
	 * notes: "GeForce GPU passthrough for Windows virtual machines"). */
	if (nvidia && is_windows(conf->ostype)) {
		if (strstr(conf->cpu, "hidden=1"))
			hidden = true;
		r = add(c, "vm.nvidia", CHECK_INFO, subj, "NVIDIA GPU: drivers before 465 stop with "
			"Code 43 when they see a hypervisor%s", hidden ?
			"; KVM is hidden from the guest (x-vga=1 or cpu hidden=1)" : "");
		fix(c, r, "nothing to do with drivers 465 and newer; for older ones hide KVM: "
			  "qm set %d --cpu host,hidden=1 (and patch the ROM if the card is the boot GPU: "
			  "pve-gpu-passthrough rom patch)", vmid);
	}
}

/* --- driver ----------------------------------------------------------------------------- */

static int add_device(struct ctx *c, const struct pci_dev_info *d, bool from_vm)
{
	struct check_report *rep = c->rep;
	struct check_device *n;

	for (int i = 0; i < rep->ndevs; i++)
		if (rep->devs[i].dev == d)
			return 0;
	n = realloc(rep->devs, (size_t)(rep->ndevs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	rep->devs = n;
	memset(&n[rep->ndevs], 0, sizeof(*n));
	n[rep->ndevs].dev = d;
	n[rep->ndevs].from_vm = from_vm;
	n[rep->ndevs].fb_bar = -1;
	rep->ndevs++;
	return 0;
}

/* True when a device already checked speaks for D: same IOMMU group (the group is what
 * moves), or, without groups, the same card. */
static bool covered(const struct check_report *rep, const struct pci_dev_info *d)
{
	for (int i = 0; i < rep->ndevs; i++) {
		const struct pci_dev_info *x = rep->devs[i].dev;

		if (x == d || (d->iommu_group >= 0 ? x->iommu_group == d->iommu_group
						   : same_slot(x, d)))
			return true;
	}
	return false;
}

int checks_run(const struct sysroot *sr, const struct check_opts *o, struct check_report **ret)
{
	struct check_report *rep = calloc(1, sizeof(*rep));
	struct ctx c = { .sr = sr, .o = o, .rep = rep };
	struct vmwork *vw = NULL;
	char node[128];
	int r;

	if (!rep)
		return -ENOMEM;
	r = pcidb_load(sr, &rep->db);
	if (r < 0)
		goto fail;
	r = hostinfo_read(sr, &rep->host);
	if (r < 0)
		goto fail;
	r = bootcfg_read(sr, &rep->host, &rep->boot);
	if (r < 0)
		goto fail;
	if (hostdev_scan(sr, &rep->hd) < 0)
		rep->hd = NULL;
	rep->iomem_ok = iomem_read(sr, &rep->iomem) == 0;
	/* Without CAP_SYS_ADMIN every range in /proc/iomem reads 00000000-00000000. */
	if (rep->iomem_ok) {
		bool any = false;

		for (int i = 0; i < rep->iomem.n && !any; i++)
			any = rep->iomem.e[i].end != 0;
		rep->iomem_ok = any;
	}

	/* The VMs first: their devices join the device checks. */
	pve_node_name(o->node, node, sizeof(node));
	vw = calloc((size_t)(o->nvmids ? o->nvmids : 1), sizeof(*vw));
	rep->vms = calloc((size_t)(o->nvmids ? o->nvmids : 1), sizeof(*rep->vms));
	if (!vw || !rep->vms) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < o->nvmids; i++) {
		struct vmwork *w = &vw[i];
		struct check_vm *vm = &rep->vms[rep->nvms++];

		vm->vmid = o->vmids[i];
		w->rc = pve_vmconf_load(sr, o->vmids[i], &w->conf, &w->err_line, w->err,
					sizeof(w->err));
		vm->loaded = w->rc == 0;
		if (!vm->loaded)
			continue;
		{
			int idx;

			/* the hook's walk: a mapping skips what earlier entries took */
			pve_vmconf_expand_all(sr, &w->conf, node, w->res, &w->all, &idx);
		}
		if (w->all.n) {
			vm->devs = calloc((size_t)w->all.n, PCI_ADDR_LEN);
			if (!vm->devs) {
				r = -ENOMEM;
				goto fail;
			}
		}
		for (int k = 0; k < w->all.n; k++)
			snprintf(vm->devs[vm->ndevs++], PCI_ADDR_LEN, "%s", w->all.names[k]);
	}
	snprintf(c.node, sizeof(c.node), "%s", node);
	if (scan_vm_users(&c) < 0) {
		r = -ENOMEM;
		goto fail;
	}

	check_cpu(&c);
	check_boot(&c);
	check_acpi(&c);
	check_iommu(&c);
	check_intel_iommu(&c);
	check_iommu_pt(&c);
	check_intremap(&c);
	check_x2apic(&c);
	check_boot_other(&c);
	check_fb_params(&c);
	check_acs(&c);
	check_modules(&c);
	check_early(&c);

	/* Every display controller, then what the VMs pass through, in address order. */
	for (int i = 0; i < rep->db->ndev; i++) {
		const struct pci_dev_info *d = &rep->db->dev[rep->db->byaddr[i]];

		if (pcidev_is_display(d) && add_device(&c, d, false) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	for (int i = 0; i < rep->nvms; i++)
		for (int j = 0; j < rep->vms[i].ndevs; j++) {
			const struct pci_dev_info *d = pcidb_find(rep->db, rep->vms[i].devs[j]);

			if (d && !d->is_bridge && !covered(rep, d) && add_device(&c, d, true) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
	for (int i = 0; i < rep->ndevs; i++) {
		struct check_device *cd = &rep->devs[i];

		if (collect_members(&c, cd) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		c.demote = cd->from_vm ? NULL : not_a_candidate(&c, cd->dev);
		if (pcidev_is_display(cd->dev))
			check_kind(&c, cd);
		check_group(&c, cd);
		if (pcidev_is_display(cd->dev)) {
			check_driver(&c, cd);
			check_fb(&c, cd);
			check_vgacon(&c, cd);
			check_other_fb(&c, cd);
		}
		check_reset(&c, cd);
		c.demote = NULL;
	}
	check_fabric(&c);
	for (int i = 0; i < o->nvmids; i++)
		check_vm(&c, &vw[i], o->vmids[i]);
	free(vw);
	free(c.users);
	if (c.oom) {
		checks_free(rep);
		return -ENOMEM;
	}
	*ret = rep;
	return 0;
fail:
	free(vw);
	free(c.users);
	checks_free(rep);
	return r;
}

struct check_report *checks_free(struct check_report *r)
{
	if (!r)
		return NULL;
	for (int i = 0; i < r->nres; i++) {
		free(r->res[i].message);
		free(r->res[i].fix);
		free(r->res[i].edit_file);
		free(r->res[i].edit_old);
		free(r->res[i].edit_new);
		free(r->res[i].run);
	}
	free(r->res);
	for (int i = 0; i < r->ndevs; i++)
		free(r->devs[i].members);
	free(r->devs);
	for (int i = 0; i < r->nvms; i++)
		free(r->vms[i].devs);
	free(r->vms);
	hostdev_free(r->hd);
	iomem_free(&r->iomem);
	pcidb_free(r->db);
	free(r);
	return NULL;
}

const char *check_status_name(enum check_status s)
{
	static const char *const names[] = { "PASS", "INFO", "WARN", "FAIL" };

	return s <= CHECK_FAIL ? names[s] : "?";
}

const char *check_status_key(enum check_status s)
{
	static const char *const names[] = { "pass", "info", "warn", "fail" };

	return s <= CHECK_FAIL ? names[s] : "?";
}

int checks_exit_code(const struct check_report *r)
{
	return r->counts[CHECK_FAIL] ? 2 : r->counts[CHECK_WARN] ? 1 : 0;
}

int checks_cmdline_edit(const struct check_report *r, char *out, size_t size)
{
	int rc;

	if (r->boot.kind == BOOT_UNKNOWN || (!r->cmdline_add[0] && !r->cmdline_remove[0]))
		return 0;
	rc = bootcfg_edit(&r->boot, r->cmdline_add[0] ? r->cmdline_add : NULL,
			  r->cmdline_remove[0] ? r->cmdline_remove : NULL, out, size);
	return rc < 0 ? rc : 1;
}
