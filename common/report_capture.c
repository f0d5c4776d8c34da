/* report_capture.c - see report_capture.h. The table of captures, the walk and the output;
 * pseudonyms and filters are in report_redact.c, the derived captures in report_derived.c.
 *
 * Rules for this file (it runs on the real host, as root):
 *  1. Nothing is written below the root: every access is a read through the sysroot (sr_*),
 *     and no attribute that acts when read or written (rom, reset, remove, config) is opened;
 *     files captured for their existence only are never opened for reading.
 *  2. Only what `captures[]` and the derived captures name is read, and every text passes
 *     through the filter of its capture before it reaches the report.
 *  3. Every read is bounded (REPORT_FILE_MAX; ROM files ROM_MAX_SIZE).
 *
 * The walk: a capture pattern is split into components; a component may hold shell wildcards
 * (fnmatch) and {a,b} alternatives. Each component is looked up with lstat below the root; a
 * symlink is written as a `link` line with its raw target and followed to its target's real
 * path, so files are always written at paths without symlinks in them and replay in any
 * order. A symlink at the end of a pattern is written, and its target directory made to
 * exist, but not followed (unless the capture says FOLLOW). Captures marked FLAT write what
 * they find at the path the pattern names, without the links on the way (/etc/pve/qemu-server
 * is a link to nodes/NODE/qemu-server, which would name the node).
 */
#define _GNU_SOURCE
#include "report_capture.h"
#include "report_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci_db.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "dev_state.h"
#include "dev_modload.h"
#include "dev_quirks.h"
#include "util.h"
#include "sysfs.h"

#define REPORT_DEPTH 40            /* symlinks followed for one path */
#define REPORT_TEXT_LINE 16000     /* fakesys reads a text line into 16 KiB */

/* Everything the report reads, one pattern per line. A new check that reads a new file adds
 * its line here (the round-trip test in tests/report/ shows what is missing). */
static const struct capture captures[] = {
	/* PCI functions: pci_dev.c, check_device.c and dev_quirks.c (reset_method), dev_console.c
	 * and dev_quirks.c (drm) */
	{ SYSFS_PCI_DEVICES "/*/{vendor,device,class,subsystem_vendor,subsystem_device}", C_TEXT, NULL },
	{ SYSFS_PCI_DEVICES "/*/{driver_override,boot_vga,resource,reset_method,modalias}", C_TEXT, NULL },
	{ SYSFS_PCI_DEVICES "/*/{driver,iommu_group}", C_TEXT, NULL },
	{ SYSFS_PCI_DEVICES "/*/{reset,pci_bus}", C_EXISTS, NULL },
	/* Resizable BARs (vm.rebar) and mediated-device support (vm.mapping's mdev rule) */
	{ SYSFS_PCI_DEVICES "/*/resource[0-5]_resize", C_TEXT, NULL },
	{ SYSFS_PCI_DEVICES "/*/mdev_supported_types", C_EXISTS, NULL },
	{ SYSFS_PCI_DEVICES "/*/drm/*", C_EXISTS, NULL },
	{ "/sys/bus/pci/drivers/*", C_EXISTS, NULL },
	{ "/sys/bus/pci/drivers/vfio-pci/{bind,unbind,new_id,remove_id}", C_EXISTS, NULL },
	{ "/proc/driver/nvidia/gpus/*/information", C_TEXT, report_filter_nvidia },
	/* SR-IOV PFs and VFs (dev_quirks.c: check, list, the hookscript) */
	{ "/sys/bus/pci/devices/*/{sriov_totalvfs,sriov_numvfs,sriov_drivers_autoprobe,physfn}", C_TEXT, NULL },
	{ "/sys/bus/pci/devices/*/virtfn*", C_TEXT, NULL },
	/* IOMMU: pci_dev.c, host_info.c */
	{ "/sys/kernel/iommu_groups/*/devices/*", C_TEXT, NULL },
	{ "/sys/kernel/iommu_groups/*/type", C_TEXT, NULL },
	{ "/sys/class/iommu/*", C_TEXT, NULL },
	{ "/sys/firmware/acpi/tables/{DMAR,IVRS}", C_TEXT, NULL },
	{ "/sys/firmware/acpi/tables", C_EXISTS, NULL },
	{ "/sys/firmware/efi/efivars", C_EXISTS, NULL },
	{ "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", C_EXISTS, NULL },
	{ "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0a5d8c9e0b4", C_TEXT, NULL },
	/* kernel, CPU, interrupts, memory map: host_info.c, host_iomem.c */
	{ "/proc/sys/kernel/osrelease", C_TEXT, NULL },
	{ "/proc/cmdline", C_TEXT, report_filter_cmdline },
	{ "/proc/cpuinfo", C_TEXT, report_filter_cpuinfo },
	{ "/proc/interrupts", C_TEXT, report_filter_interrupts },
	{ "/proc/iomem", C_TEXT, NULL },
	/* modules loaded (host_info.c, dev_handoff.c); the installed ones are asked from libkmod;
	 * /etc/modules and modules-load.d: cli/cmd_setup.c; modprobe.d: check_early.c */
	{ "/sys/module/*", C_EXISTS, NULL },
	{ "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", C_TEXT, NULL },
	{ "/sys/module/vendor_reset/taint", C_TEXT, NULL },
	{ "/etc/modules", C_TEXT, NULL },
	{ "/etc/modules-load.d/*.conf", C_TEXT, NULL },
	{ "/etc/modprobe.d/*.conf", C_TEXT, report_filter_modprobe },
	/* the kernels installed and i915-sriov-dkms built for them: check_sriov.c */
	{ "/lib/modules/*", C_EXISTS, NULL },
	{ "/lib/modules/*/updates/dkms/i915.ko*", C_EXISTS, NULL },
	/* boot loader: host_boot.c, check_host.c */
	{ "/etc/default/grub", C_TEXT, report_filter_cmdline },
	{ "/etc/default/grub.d/*.cfg", C_TEXT, report_filter_cmdline },
	{ "/etc/kernel/cmdline", C_TEXT, report_filter_cmdline },
	{ "/etc/kernel/proxmox-boot-uuids", C_EXISTS, NULL },
	/* our configuration and early binding: cfg_ini.c, check_early.c, early_bind.c, dev_state.c */
	{ "/etc/pve-gpu-passthrough.ini", C_TEXT | C_MODE | C_MTIME, NULL },
	{ "/usr/share/initramfs-tools/hooks/pve-gpu-passthrough", C_EXISTS | C_MODE, NULL },
	{ "/boot/initrd.img-*", C_EXISTS | C_MTIME, NULL },
	{ "/run/pve-gpu-passthrough/*", C_TEXT, NULL },
	/* the health marks and the boot they belong to: dev_health.c (check, list, pre-start) */
	{ "/run/pve-gpu-passthrough/health/*", C_TEXT, NULL },
	{ "/proc/sys/kernel/random/boot_id", C_TEXT, NULL },
	/* what holds the host's disks and network: host_dev.c */
	{ "/proc/self/mountinfo", C_TEXT | C_FLAT, report_filter_mountinfo }, /* not /proc/PID of the report */
	{ "/proc/swaps", C_TEXT, report_filter_swaps },
	{ "/proc/net/route", C_TEXT | C_FLAT, report_filter_route },
	{ "/proc/net/ipv6_route", C_TEXT | C_FLAT, report_filter_route6 },
	{ "/sys/class/block/*/dev", C_TEXT, NULL },
	{ "/sys/class/block/*/slaves/*", C_TEXT, NULL },
	{ "/sys/dev/block/*", C_TEXT, NULL },
	{ "/sys/dev/block/*/slaves/*", C_TEXT, NULL },
	{ "/sys/class/net/*", C_TEXT, NULL },
	{ "/sys/class/net/*/lower_*", C_TEXT, NULL },
	{ "/sys/class/net/*/brif/*", C_TEXT, NULL },
	/* firmware framebuffers and consoles the hookscript releases: dev_console.c */
	{ SYSFS_VTCONSOLES "/*/{name,bind}", C_TEXT, NULL },
	{ SYSFS_PLATFORM_DEVICES "/*/driver", C_TEXT, NULL },
	{ SYSFS_PLATFORM_DEVICES "/*/graphics/*", C_EXISTS, NULL },
	{ SYSFS_PLATFORM_DEVICES "/*/drm", C_EXISTS, NULL },
	{ SYSFS_GRAPHICS "/*/device", C_TEXT, NULL },
	/* Proxmox: pve_conf.c, pve_storage.c, check_vm*.c */
	{ "/etc/pve/qemu-server/*.conf", C_TEXT | C_FLAT, report_filter_vmconf },
	{ "/etc/pve/storage.cfg", C_TEXT | C_FLAT, report_filter_storage },
	{ "/etc/pve/mapping/pci.cfg", C_TEXT | C_FLAT, report_filter_mapping },
	{ "/run/qemu-server/pci-id-reservations", C_TEXT, NULL },
	/* containers that use a GPU: pve_lxc.c */
	{ "/etc/pve/lxc/*.conf", C_TEXT | C_FLAT, report_filter_lxc },
	{ "/var/lib/lxc/*", C_EXISTS, NULL },
	{ "/sys/fs/cgroup/lxc/*/cgroup.events", C_TEXT, NULL },
	{ "/sys/class/drm/*/dev", C_TEXT, NULL },
	{ "/dev/dri/by-path/*", C_TEXT, NULL },
	{ "/dev/dri/*", C_EXISTS, NULL },
	{ "/dev/nvidia*", C_EXISTS, NULL },
};


void report_add(struct rctx *c, const char *path, enum kind k, const char *data, size_t len,
		long long num)
{
	struct ent *e;

	if (c->oom)
		return;
	if (strpbrk(path, " \t\n") || (k == K_LINK && strpbrk(data, " \t\n"))) {
		c->st.skipped++;
		return;
	}
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 256;
		struct ent *ne = realloc(c->e, (size_t)cap * sizeof(*ne));

		if (!ne) {
			c->oom = true;
			return;
		}
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n];
	e->path = strdup(path);
	e->kind = k;
	e->len = len;
	e->num = num;
	e->data = NULL;
	if (data) {
		e->data = malloc(len + 1);
		if (e->data) {
			memcpy(e->data, data, len);
			e->data[len] = '\0';
		}
	}
	if (!e->path || (data && !e->data)) {
		free(e->path);
		free(e->data);
		c->oom = true;
		return;
	}
	c->n++;
}

/* --- the walk ---------------------------------------------------------------------------- */

static int join(char out[SR_PATH_MAX], const char *dir, const char *name)
{
	return sr_path(out, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
}

static int lstat_at(const struct rctx *c, const char *path, struct stat *st)
{
	_cleanup_close_ int fd = sr_openat(c->sr, path, O_PATH | O_NOFOLLOW, 0);

	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

/* Canonical form of PATH ("." and ".." applied, no symlinks looked at). */
static int lexical(const char *path, char out[SR_PATH_MAX])
{
	char tmp[SR_PATH_MAX];
	size_t len = 0;

	if (str_copy(tmp, sizeof(tmp), path) < 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			char *s = strrchr(out, '/');

			len = s ? (size_t)(s - out) : 0;
			out[len] = '\0';
			continue;
		}
		if (len + 1 + strlen(t) >= SR_PATH_MAX)
			return -ENAMETOOLONG;
		out[len++] = '/';
		strcpy(out + len, t);
		len += strlen(t);
	}
	if (!len)
		strcpy(out, "/");
	return 0;
}

/* Resolves PATH to the real path of what it names below the root, writing each symlink met
 * (unless FLAT). -ENOENT when something on the way is missing. */
static int resolve(struct rctx *c, const char *path, bool flat, char out[SR_PATH_MAX], int depth)
{
	char tmp[SR_PATH_MAX], cur[SR_PATH_MAX] = "/", cand[SR_PATH_MAX];

	if (depth > REPORT_DEPTH)
		return -ELOOP;
	if (lexical(path, tmp) < 0)
		return -ENAMETOOLONG;
	for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		char target[SR_PATH_MAX], next[SR_PATH_MAX];
		struct stat st;
		int r;

		if (join(cand, cur, t) < 0)
			return -ENAMETOOLONG;
		r = lstat_at(c, cand, &st);
		if (r < 0)
			return r;
		if (!S_ISLNK(st.st_mode)) {
			strcpy(cur, cand);
			continue;
		}
		r = sr_readlink(c->sr, cand, target, sizeof(target));
		if (r < 0)
			return r;
		if (!flat)
			report_add(c, cand, K_LINK, target, strlen(target), 0);
		if (target[0] == '/')
			r = str_copy(next, sizeof(next), target);
		else
			r = sr_path(next, "%s/../%s", cand, target);
		if (r < 0)
			return r;
		r = resolve(c, next, flat, cur, depth + 1);
		if (r < 0)
			return r;
	}
	strcpy(out, cur);
	return 0;
}

/* Is TEXT (LEN bytes) safe in a `rawfile` line: no NUL, no control bytes but tab and newline,
 * no backslash that fakesys would read as an escape, not too long. */
static bool text_safe(const char *text, size_t len)
{
	if (len > REPORT_TEXT_LINE)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\\' && i + 1 < len && (text[i + 1] == 'n' || text[i + 1] == 't'))
			return false;
		if (ch < 0x20 && ch != '\t' && ch != '\n')
			return false;
		if (ch == 0x7f)
			return false;
	}
	return true;
}

void report_add_file(struct rctx *c, const char *path, const char *data, size_t len)
{
	report_add(c, path, K_FILE, data, len, 0);
	if (!c->oom)
		c->st.files++;
}

/* Reading REAL waits on a device lock a stuck driver holds for ever: a stuck device's
 * driver_override (before Linux 6.19). */
static bool read_may_hang(const struct rctx *c, const char *real)
{
	const char *base = strrchr(real, '/'), *dev;

	if (!base || strcmp(base, "/driver_override") != 0)
		return false;
	for (dev = base; dev > real && dev[-1] != '/'; dev--)
		;
	for (int k = 0; k < c->nstuck; k++)
		if ((size_t)(base - dev) == strlen(c->stuck[k]) &&
		    !strncmp(dev, c->stuck[k], (size_t)(base - dev)))
			return true;
	return false;
}

/* The leaf PATH (real path REAL, stat ST) as capture CAP says. */
static void leaf(struct rctx *c, const struct capture *cap, const char *real, const char *path,
		 const struct stat *st)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	if (S_ISDIR(st->st_mode)) {
		report_add(c, path, K_DIR, NULL, 0, 0);
		return;
	}
	if (read_may_hang(c, real)) {
		char buf[PCIDEV_NAME_MAX];

		if (sr_read_str_timeout(c->sr, real, buf, sizeof(buf), 300) < 0)
			return; /* not recorded rather than recorded wrong */
		/* the bytes as read: the kernel ends the value with a newline */
		if (asprintf(&text, "%s\n", buf) < 0)
			text = NULL;
		len = text ? strlen(text) : 0;
	} else if (S_ISREG(st->st_mode) && !(cap->how & C_EXISTS)) {
		/* A ROM is binary and may be large; everything else is a bounded text. */
		size_t max = str_has_prefix(real, "/usr/share/kvm/") ? ROM_MAX_SIZE : REPORT_FILE_MAX;

		if (sr_read_all(c->sr, real, max, &text, &len) < 0) {
			text = NULL;
			len = 0;
		}
	}
	if (text && cap->filter) {
		char *f = cap->filter(c, text);

		free(text);
		text = f;
		len = f ? strlen(f) : 0;
		if (!f) {
			c->oom = true;
			return;
		}
	}
	if (text && text_safe(text, len) && !str_has_prefix(real, "/usr/share/kvm/"))
		report_redact_macs(c, text, len);
	report_add_file(c, path, text ? text : "", len);
	if (cap->how & C_MODE)
		report_add(c, path, K_MODE, NULL, 0, (long long)(st->st_mode & 07777));
	if (cap->how & C_MTIME)
		report_add(c, path, K_MTIME, NULL, 0, (long long)st->st_mtim.tv_sec);
	if (str_has_prefix(path, "/etc/pve/qemu-server/") && !c->oom && report_vmconf_add(c, real))
		c->st.vms++;
}

bool report_vmconf_add(struct rctx *c, const char *real)
{
	char **nv = realloc(c->vmconf_paths, (size_t)(c->nvmconf + 1) * sizeof(*nv));

	if (!nv || !(nv[c->nvmconf] = strdup(real))) {
		if (nv)
			c->vmconf_paths = nv;
		c->oom = true;
		return false;
	}
	c->vmconf_paths = nv;
	c->nvmconf++;
	return true;
}

/* Up to 16 alternatives of a "{a,b,c}" component (or the component itself). */
static int alternatives(const char *comp, char alt[16][128])
{
	const char *open = strchr(comp, '{'), *close = open ? strchr(open, '}') : NULL;
	int n = 0;

	if (!open || !close) {
		return str_copy(alt[0], sizeof(alt[0]), comp) < 0 ? 0 : 1;
	}
	for (const char *p = open + 1; p <= close && n < 16;) {
		size_t w = strcspn(p, ",}");

		if (p + w > close)
			break;
		if (snprintf(alt[n], sizeof(alt[n]), "%.*s%.*s%s", (int)(open - comp), comp, (int)w, p,
			     close + 1) < (int)sizeof(alt[n]))
			n++;
		p += w + 1;
	}
	return n;
}

static void walk(struct rctx *c, const struct capture *cap, char comps[][128], int ncomps, int i,
		 const char *real, const char *shown);

/* The component NAME of directory REAL (shown as SHOWN): one step of the walk. */
static void step(struct rctx *c, const struct capture *cap, char comps[][128], int ncomps, int i,
		 const char *real, const char *shown, const char *name)
{
	char cand[SR_PATH_MAX], show[SR_PATH_MAX], target[SR_PATH_MAX], treal[SR_PATH_MAX];
	bool last = i == ncomps - 1, flat = cap->how & C_FLAT;
	struct stat st;

	if (join(cand, real, name) < 0 || join(show, shown, name) < 0 || lstat_at(c, cand, &st) < 0)
		return;
	if (!S_ISLNK(st.st_mode)) {
		if (last)
			leaf(c, cap, cand, flat ? show : cand, &st);
		else if (S_ISDIR(st.st_mode))
			walk(c, cap, comps, ncomps, i + 1, cand, flat ? show : cand);
		return;
	}
	if (sr_readlink(c->sr, cand, target, sizeof(target)) < 0)
		return;
	if (!flat)
		report_add(c, cand, K_LINK, target, strlen(target), 0);
	if (resolve(c, cand, flat, treal, 0) < 0 || lstat_at(c, treal, &st) < 0)
		return; /* a dangling link is written as it is */
	if (last && !(cap->how & C_FOLLOW) && !flat) {
		if (S_ISDIR(st.st_mode))
			report_add(c, treal, K_DIR, NULL, 0, 0); /* readers test that the target exists */
		if (!c->oom)
			c->st.links++;
		return;
	}
	if (last)
		leaf(c, cap, treal, flat ? show : treal, &st);
	else if (S_ISDIR(st.st_mode))
		walk(c, cap, comps, ncomps, i + 1, treal, flat ? show : treal);
}

static void walk(struct rctx *c, const struct capture *cap, char comps[][128], int ncomps, int i,
		 const char *real, const char *shown)
{
	char alt[16][128];
	int nalt = alternatives(comps[i], alt);
	bool glob = false;

	for (int k = 0; k < nalt; k++)
		glob |= strpbrk(alt[k], "*?[") != NULL;
	if (!glob) {
		for (int k = 0; k < nalt && !c->oom; k++)
			step(c, cap, comps, ncomps, i, real, shown, alt[k]);
		return;
	}
	DIR *d = sr_opendir(c->sr, real);
	struct dirent *de;
	char **names = NULL;
	int n = 0;

	if (!d)
		return;
	/* Names first: the walk below opens more directories. */
	while ((de = readdir(d))) {
		bool match = false;
		char **nn;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (int k = 0; k < nalt && !match; k++)
			match = fnmatch(alt[k], de->d_name, FNM_PERIOD) == 0;
		if (!match)
			continue;
		nn = realloc(names, (size_t)(n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			if (nn)
				names = nn;
			c->oom = true;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	for (int k = 0; k < n; k++) {
		if (!c->oom)
			step(c, cap, comps, ncomps, i, real, shown, names[k]);
		free(names[k]);
	}
	free(names);
}

/* Captures PATTERN as CAP says. */
static void capture(struct rctx *c, const struct capture *cap)
{
	char comps[32][128], tmp[SR_PATH_MAX];
	int n = 0;

	if (str_copy(tmp, sizeof(tmp), cap->pattern) < 0)
		return;
	for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 32 || str_copy(comps[n], sizeof(comps[n]), t) < 0)
			return;
		n++;
	}
	if (n > 0)
		walk(c, cap, comps, n, 0, "/", "/");
}

void report_capture_path(struct rctx *c, const char *path, unsigned how, filter_fn filter)
{
	const struct capture cap = { path, how, filter };

	capture(c, &cap);
}


/* --- output ------------------------------------------------------------------------------ */

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	return r ? r : (int)x->kind - (int)y->kind;
}

static void put_escaped(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			fputs("\\n", out);
		else if (s[i] == '\t')
			fputs("\\t", out);
		else
			fputc(s[i], out);
	}
}

static void print_ent(struct rctx *c, FILE *out, const struct ent *e)
{
	switch (e->kind) {
	case K_DIR:
		fprintf(out, "dir %s\n", e->path);
		c->st.dirs++;
		break;
	case K_LINK:
		fprintf(out, "link %s %s\n", e->path, e->data);
		break;
	case K_FILE:
		if (text_safe(e->data, e->len)) {
			fprintf(out, "rawfile %s%s", e->path, e->len ? " " : "");
			put_escaped(out, e->data, e->len);
		} else {
			fprintf(out, "hexfile %s ", e->path);
			for (size_t i = 0; i < e->len; i++)
				fprintf(out, "%02x", (unsigned char)e->data[i]);
		}
		fputc('\n', out);
		break;
	case K_MODE:
		fprintf(out, "mode %s %llo\n", e->path, e->num);
		break;
	case K_MTIME:
		fprintf(out, "mtime %s %lld\n", e->path, e->num);
		break;
	}
}

int report_write(const struct sysroot *sr, const struct report_opts *o, FILE *out,
		 struct report_stats *ret_st)
{
	struct rctx c = { .sr = sr };
	char node[128] = "", release[128] = "";
	int r = 0;

	char stuck[STATE_MAX_DEVS][PCI_ADDR_LEN];

	c.nstuck = state_stuck_names(sr, stuck, STATE_MAX_DEVS);
	if (c.nstuck < 0)
		c.nstuck = 0;
	c.stuck = stuck;
	pve_node_name(o ? o->node : NULL, node, sizeof(node));
	/* This node is "pve" in the report, other nodes node2, node3, ... */
	if (node[0])
		report_node_name(&c, node);
	for (size_t i = 0; i < ARRAY_SIZE(captures) && !c.oom; i++)
		capture(&c, &captures[i]);
	report_capture_udev(&c);
	report_capture_dev_sources(&c);
	report_capture_cluster(&c); /* before vm_files: other nodes' hookscripts too */
	report_capture_vm_files(&c);
	report_capture_pci_names(&c);
	report_capture_quirks(&c);
	if (c.oom) {
		r = -ENOMEM;
		goto out;
	}
	qsort(c.e, (size_t)c.n, sizeof(*c.e), cmp_ent);
	fprintf(out, "# pve-gpu-passthrough report, format %d, pve-gpu-passthrough %s\n",
		REPORT_FORMAT, o && o->version ? o->version : "?");
	fputs("# What list, check and the hookscript read on one host, as a fake host tree\n"
	      "# (tests/fixture/fakesys.h). Replay: fakesys ROOT THIS-FILE, then\n"
	      "#   pve-gpu-passthrough --sysroot ROOT --node pve check\n"
	      "# Redacted: VM configs hold only the keys the checks read; node names, MAC\n"
	      "# addresses, gateways, network mount sources, addresses and host names in the\n"
	      "# kernel command line, boot loader files and modprobe.d, and mount points the\n"
	      "# admin named are replaced; no serial numbers.\n",
	      out);
	fprintf(out, "# node: %s\n", node[0] ? "pve" : "unknown");
	for (int i = 0; i < c.n; i++) {
		if (i > 0 && !strcmp(c.e[i].path, c.e[i - 1].path) && c.e[i].kind == c.e[i - 1].kind)
			continue;
		print_ent(&c, out, &c.e[i]);
	}
	if (sr_read_str(sr, "/proc/sys/kernel/osrelease", release, sizeof(release)) > 0)
		report_capture_modules(&c, out, release);
	if (c.oom)
		r = -ENOMEM;
	else if (ferror(out))
		r = -EIO;
out:
	for (int i = 0; i < c.n; i++) {
		free(c.e[i].path);
		free(c.e[i].data);
	}
	free(c.e);
	for (int i = 0; i < c.nvmconf; i++)
		free(c.vmconf_paths[i]);
	free(c.vmconf_paths);
	report_names_free(&c.nodes);
	report_names_free(&c.macs);
	report_names_free(&c.paths);
	if (r == 0 && ret_st)
		*ret_st = c.st;
	return r;
}

