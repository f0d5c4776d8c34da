/* check_list.c - see check_list.h. Reads the facts (hostinfo, pcidb, hostdev, iomem, the VM
 * configs), then runs the checks from two tables: host_steps once, device_steps per device, then each
 * VM's checks. Each check function (check_host.c, check_early.c, check_device.c, check_vm.c)
 * looks at facts already read and adds results; none of them writes anything. A new check goes
 * into the file of its subject and into the table here. */
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
#include "dev_state.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "util.h"
#include "sysfs.h"

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
struct check_result *ck_add(struct ctx *c, const char *id, enum check_status st,
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
void ck_fix(struct ctx *c, struct check_result *r, const char *f, ...)
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
void add_words(char *list, size_t size, const char *words)
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
static bool configured_already(const struct host_boot *b, const char *add, const char *remove)
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
void fix_cmdline(struct ctx *c, struct check_result *r, const char *add,
			const char *remove, bool combine)
{
	struct check_report *rep = c->rep;
	const struct host_boot *b = &rep->boot;
	char line[2 * HI_CMDLINE_MAX], lline[2 * HI_CMDLINE_MAX];
	char what[600];
	bool changed;
	int lr;

	if (!r)
		return;
	if (add && remove)
		snprintf(what, sizeof(what), "add %s and remove %s", add, remove);
	else if (add)
		snprintf(what, sizeof(what), "add %s", add);
	else
		snprintf(what, sizeof(what), "remove %s", remove);
	if (b->kind == BOOT_UNKNOWN) {
		ck_fix(c, r, "%s on the kernel command line of your boot loader, then reboot", what);
		return;
	}
	if (combine) {
		add_words(rep->cmdline_add, sizeof(rep->cmdline_add), add);
		add_words(rep->cmdline_remove, sizeof(rep->cmdline_remove), remove);
	}
	if (b->line && configured_already(b, add, remove)) {
		ck_fix(c, r, "'%s' line %d already has it (%s), but the running kernel was booted "
			  "without it:", b->file, b->line, what);
		ck_fix(c, r, "run: %s, then reboot", b->refresh);
		r->run = fmt(c, "%s", b->refresh);
		return;
	}
	if (host_boot_edit(b, add, remove, line, sizeof(line)) < 0) {
		ck_fix(c, r, "%s in '%s', then run %s and reboot", what, b->file, b->refresh);
		return;
	}
	/* a parameter to remove may sit in GRUB_CMDLINE_LINUX, where dropping it from the
	 * other line does nothing */
	lr = host_boot_edit_linux(b, remove, lline, sizeof(lline));
	changed = !b->line || strcmp(line, b->text) != 0;
	if (lr == -EPERM) {
		ck_fix(c, r, "%s: remove it from GRUB_CMDLINE_LINUX in '%s' line %d by hand (%s), "
			  "then run %s and reboot", what, b->linux_file, b->linux_line, lline,
		       b->refresh);
		return;
	}
	if (lr < 0) {
		ck_fix(c, r, "%s in '%s', then run %s and reboot", what, b->linux_file, b->refresh);
		return;
	}
	if (changed && b->line)
		ck_fix(c, r, "%s: edit '%s' line %d to read:", what, b->file, b->line);
	else if (changed)
		ck_fix(c, r, "%s: add this line to '%s':", what, b->file);
	if (changed)
		ck_fix(c, r, "    %s", line);
	if (lr == 1) {
		ck_fix(c, r, "%s%s edit '%s' line %d (GRUB_CMDLINE_LINUX, on every boot entry) to "
			  "read:", changed ? "and" : what, changed ? "" : ":", b->linux_file,
		       b->linux_line);
		ck_fix(c, r, "    %s", lline);
	}
	ck_fix(c, r, "then run: %s, and reboot", b->refresh);
	if (combine)
		/* setup makes the all-at-once edit, the framebuffer parameter only when asked */
		ck_fix(c, r, "(or run: pve-gpu-passthrough setup%s)",
		       add && strstr(add, "initcall_blacklist=") ? " --no-fb" : "");
	r->edit_file = fmt(c, "%s", changed ? b->file : b->linux_file);
	r->edit_line = changed ? b->line : b->linux_line;
	r->edit_old = fmt(c, "%s", !changed ? b->linux_text : b->line ? b->text : "");
	r->edit_new = fmt(c, "%s", changed ? line : lline);
	r->run = fmt(c, "%s", b->refresh);
}

/* --- driver ----------------------------------------------------------------------------- */

/* The host checks, in the order of the report (check_host.c, then check_early.c). */
static const struct check_host_step host_steps[] = {
	{ "cpu", check_cpu },
	{ "boot", check_boot },
	{ "acpi", check_acpi },
	{ "iommu", check_iommu },
	{ "intel_iommu", check_intel_iommu },
	{ "iommu_pt", check_iommu_pt },
	{ "intremap", check_intremap },
	{ "x2apic", check_x2apic },
	{ "boot_other", check_boot_other },
	{ "fb_params", check_fb_params },
	{ "acs", check_acs },
	{ "modules", check_modules },
	{ "virqfd", check_virqfd },
	{ "amd_iommu", check_amd_iommu },
	{ "ini", check_ini },
	{ "early", check_early },
	{ "sriov", check_sriov_host },
	{ "containers", check_containers_host },
};

/* The checks of each device (check_device.c), in the order of the report. */
static const struct check_device_step device_steps[] = {
	{ "kind", true, check_kind },
	{ "group", false, check_group },
	{ "driver", true, check_driver },
	{ "fb", true, check_fb },
	{ "vgacon", true, check_vgacon },
	{ "other_fb", true, check_other_fb },
	{ "reset", false, check_reset },
	{ "vendor_reset", true, check_vendor_reset },
	{ "sriov", false, check_sriov },
	{ "nvidia_persistence", true, check_nvidia_persistence },
	{ "onboot", true, check_onboot },
	{ "health", false, check_health },
};

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
						   : pcidev_same_slot(x, d)))
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
	r = state_pcidb_load(sr, &rep->db);
	if (r < 0)
		goto fail;
	r = hostinfo_read(sr, &rep->host);
	if (r < 0)
		goto fail;
	r = host_boot_read(sr, &rep->host, &rep->boot);
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

	for (size_t i = 0; i < ARRAY_SIZE(host_steps); i++)
		host_steps[i].run(&c);

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
		for (size_t k = 0; k < ARRAY_SIZE(device_steps); k++)
			if (!device_steps[k].display_only || pcidev_is_display(cd->dev))
				device_steps[k].run(&c, cd);
		c.demote = NULL;
	}
	check_fabric(&c);
	for (int i = 0; i < o->nvmids; i++)
		check_vm(&c, &vw[i], o->vmids[i]);
	if (o->cluster)
		check_cluster(&c);
	free(vw);
	pve_users_free(&c.vms);
	if (c.oom) {
		checks_free(rep);
		return -ENOMEM;
	}
	*ret = rep;
	return 0;
fail:
	free(vw);
	pve_users_free(&c.vms);
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
	free(r->cluster);
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
	rc = host_boot_edit(&r->boot, r->cmdline_add[0] ? r->cmdline_add : NULL,
			  r->cmdline_remove[0] ? r->cmdline_remove : NULL, out, size);
	return rc < 0 ? rc : 1;
}
