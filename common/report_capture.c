/* report_capture.c - see report_capture.h.
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
#include "dev_modload.h"
#include "dev_quirks.h"
#include "util.h"
#include "sysfs.h"

#define REPORT_FILE_MAX (8u << 20) /* a text file; /proc/interrupts of a 512-CPU host fits */
#define REPORT_DEPTH 40            /* symlinks followed for one path */
#define REPORT_TEXT_LINE 16000     /* fakesys reads a text line into 16 KiB */

/* How a capture writes what it finds. */
enum {
	C_TEXT = 0,     /* the file's content (through the filter) */
	C_EXISTS = 1,   /* an empty file: only its existence is read */
	C_MODE = 2,     /* and its permission bits */
	C_MTIME = 4,    /* and its modification time */
	C_FOLLOW = 8,   /* a symlink at the end is followed too */
	C_FLAT = 16,    /* written at the pattern's path, without the links on the way */
};

struct rctx;
typedef char *(*filter_fn)(struct rctx *c, const char *text);

struct capture {
	const char *pattern;
	unsigned how;
	filter_fn filter;
};

static char *f_mountinfo(struct rctx *c, const char *text);
static char *f_route(struct rctx *c, const char *text);
static char *f_route6(struct rctx *c, const char *text);
static char *f_cpuinfo(struct rctx *c, const char *text);
static char *f_interrupts(struct rctx *c, const char *text);
static char *f_vmconf(struct rctx *c, const char *text);
static char *f_storage(struct rctx *c, const char *text);
static char *f_mapping(struct rctx *c, const char *text);
static char *f_nvidia(struct rctx *c, const char *text);

/* Everything the report reads, one pattern per line. A new check that reads a new file adds
 * its line here (the round-trip test in tests/report/ shows what is missing). */
static const struct capture captures[] = {
	/* PCI functions: pci_dev.c, check_list.c (reset_method), dev_handoff.c (drm) */
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
	{ "/proc/driver/nvidia/gpus/*/information", C_TEXT, f_nvidia },
	/* SR-IOV PFs and VFs (dev_quirks.c: check, list, the hookscript) */
	{ "/sys/bus/pci/devices/*/{sriov_totalvfs,sriov_numvfs,physfn}", C_TEXT, NULL },
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
	{ "/proc/cmdline", C_TEXT, NULL },
	{ "/proc/cpuinfo", C_TEXT, f_cpuinfo },
	{ "/proc/interrupts", C_TEXT, f_interrupts },
	{ "/proc/iomem", C_TEXT, NULL },
	/* modules loaded (host_info.c, dev_handoff.c); the installed ones are asked from libkmod */
	{ "/sys/module/*", C_EXISTS, NULL },
	{ "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", C_TEXT, NULL },
	{ "/sys/module/vendor_reset/taint", C_TEXT, NULL },
	{ "/etc/modules", C_TEXT, NULL },
	{ "/etc/modules-load.d/*.conf", C_TEXT, NULL },
	{ "/etc/modprobe.d/*.conf", C_TEXT, NULL },
	/* boot loader: host_info.c */
	{ "/etc/default/grub", C_TEXT, NULL },
	{ "/etc/default/grub.d/*.cfg", C_TEXT, NULL },
	{ "/etc/kernel/cmdline", C_TEXT, NULL },
	{ "/etc/kernel/proxmox-boot-uuids", C_EXISTS, NULL },
	/* our configuration and early binding: cfg_ini.c, check_list.c, early_bind.c, dev_state.c */
	{ "/etc/pve-gpu-passthrough.ini", C_TEXT | C_MODE | C_MTIME, NULL },
	{ "/usr/share/initramfs-tools/hooks/pve-gpu-passthrough", C_EXISTS | C_MODE, NULL },
	{ "/boot/initrd.img-*", C_EXISTS | C_MTIME, NULL },
	{ "/run/pve-gpu-passthrough/*", C_TEXT, NULL },
	/* what holds the host's disks and network: host_dev.c */
	{ "/proc/self/mountinfo", C_TEXT | C_FLAT, f_mountinfo }, /* not /proc/PID of the report */
	{ "/proc/swaps", C_TEXT, NULL },
	{ "/proc/net/route", C_TEXT | C_FLAT, f_route },
	{ "/proc/net/ipv6_route", C_TEXT | C_FLAT, f_route6 },
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
	/* Proxmox: pve_conf.c, pve_storage.c */
	{ "/etc/pve/qemu-server/*.conf", C_TEXT | C_FLAT, f_vmconf },
	{ "/etc/pve/storage.cfg", C_TEXT | C_FLAT, f_storage },
	{ "/etc/pve/mapping/pci.cfg", C_TEXT | C_FLAT, f_mapping },
	{ "/run/qemu-server/pci-id-reservations", C_TEXT, NULL },
};

/* Modules whose installed form (module, built in, missing) the checks and the hook ask
 * libkmod for. */
static const char *const kmod_names[] = { "vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core",
					  "vendor_reset" };

/* --- what the report collects ------------------------------------------------------------ */

enum kind { K_DIR, K_LINK, K_FILE, K_MODE, K_MTIME };

struct ent {
	char *path;
	enum kind kind;
	char *data;   /* link target; file content */
	size_t len;
	long long num; /* mode, mtime */
};

/* One consistent replacement table (node names, MAC addresses). */
struct names {
	char **from, **to;
	int n;
};

struct rctx {
	const struct sysroot *sr;
	struct ent *e;
	int n, cap;
	struct names nodes, macs;
	char **vmconf_paths; /* VM configs found, for the derived captures */
	int nvmconf;
	struct report_stats st;
	bool oom;
};

static void add(struct rctx *c, const char *path, enum kind k, const char *data, size_t len,
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

/* The pseudonym of NAME in table T, in order of appearance: for node names "pve" (this host),
 * then node2, node3, ...; for MAC addresses 02:00:00:00:00:01, ... NULL when out of memory. */
static const char *pseudonym(struct rctx *c, struct names *t, const char *name, bool mac)
{
	char buf[64];
	char **nf, **nt;
	int k = t->n + 1;

	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->from[i], name))
			return t->to[i];
	nf = realloc(t->from, (size_t)(t->n + 1) * sizeof(*nf));
	if (nf)
		t->from = nf;
	nt = realloc(t->to, (size_t)(t->n + 1) * sizeof(*nt));
	if (nt)
		t->to = nt;
	if (!nf || !nt) {
		c->oom = true;
		return NULL;
	}
	if (mac)
		snprintf(buf, sizeof(buf), "02:00:00:%02x:%02x:%02x", (k >> 16) & 0xff, (k >> 8) & 0xff,
			 k & 0xff);
	else if (k == 1)
		snprintf(buf, sizeof(buf), "pve");
	else
		snprintf(buf, sizeof(buf), "node%d", k);
	t->from[t->n] = strdup(name);
	t->to[t->n] = strdup(buf);
	if (!t->from[t->n] || !t->to[t->n]) {
		free(t->from[t->n]);
		free(t->to[t->n]);
		c->oom = true;
		return NULL;
	}
	return t->to[t->n++];
}

static void names_free(struct names *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->from[i]);
		free(t->to[i]);
	}
	free(t->from);
	free(t->to);
}

static const char *node_name(struct rctx *c, const char *name)
{
	return pseudonym(c, &c->nodes, name, false);
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
			add(c, cand, K_LINK, target, strlen(target), 0);
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

static bool is_hex(char ch)
{
	return isxdigit((unsigned char)ch) != 0;
}

/* MAC addresses (six colon-separated hex pairs standing alone) in TEXT, replaced in place by
 * their pseudonyms 02:00:00:00:00:NN (same length, locally administered). */
static void redact_macs(struct rctx *c, char *text, size_t len)
{
	for (size_t i = 0; i + 17 <= len; i++) {
		bool mac = (i == 0 || (!is_hex(text[i - 1]) && text[i - 1] != ':')) &&
			   (i + 17 == len || (!is_hex(text[i + 17]) && text[i + 17] != ':'));
		char name[18];
		const char *p;

		for (int k = 0; k < 17 && mac; k++)
			mac = k % 3 == 2 ? text[i + k] == ':' : is_hex(text[i + k]);
		if (!mac)
			continue;
		memcpy(name, text + i, 17);
		name[17] = '\0';
		for (char *q = name; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		p = pseudonym(c, &c->macs, name, true);
		if (!p)
			return;
		memcpy(text + i, p, 17);
		i += 16;
	}
}

static void add_file(struct rctx *c, const char *path, const char *data, size_t len)
{
	add(c, path, K_FILE, data, len, 0);
	if (!c->oom)
		c->st.files++;
}

/* The leaf PATH (real path REAL, stat ST) as capture CAP says. */
static void leaf(struct rctx *c, const struct capture *cap, const char *real, const char *path,
		 const struct stat *st)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	if (S_ISDIR(st->st_mode)) {
		add(c, path, K_DIR, NULL, 0, 0);
		return;
	}
	if (S_ISREG(st->st_mode) && !(cap->how & C_EXISTS)) {
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
		redact_macs(c, text, len);
	add_file(c, path, text ? text : "", len);
	if (cap->how & C_MODE)
		add(c, path, K_MODE, NULL, 0, (long long)(st->st_mode & 07777));
	if (cap->how & C_MTIME)
		add(c, path, K_MTIME, NULL, 0, (long long)st->st_mtim.tv_sec);
	if (str_has_prefix(path, "/etc/pve/qemu-server/") && !c->oom) {
		char **nv = realloc(c->vmconf_paths, (size_t)(c->nvmconf + 1) * sizeof(*nv));

		if (!nv || !(nv[c->nvmconf] = strdup(real))) {
			if (nv)
				c->vmconf_paths = nv;
			c->oom = true;
			return;
		}
		c->vmconf_paths = nv;
		c->nvmconf++;
		c->st.vms++;
	}
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
		add(c, cand, K_LINK, target, strlen(target), 0);
	if (resolve(c, cand, flat, treal, 0) < 0 || lstat_at(c, treal, &st) < 0)
		return; /* a dangling link is written as it is */
	if (last && !(cap->how & C_FOLLOW) && !flat) {
		if (S_ISDIR(st.st_mode))
			add(c, treal, K_DIR, NULL, 0, 0); /* readers test that the target exists */
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

static void capture_path(struct rctx *c, const char *path, unsigned how, filter_fn filter)
{
	const struct capture cap = { path, how, filter };

	capture(c, &cap);
}

/* --- filters ----------------------------------------------------------------------------- */

/* A growing string; NULL data after a failed append. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_done(struct sbuf *b)
{
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	if (!b->p)
		return strdup("");
	return b->p;
}

/* The next line of the text at *P: its start, its length without the newline, whether it had
 * one; false at the end. */
static bool next_line(const char **p, const char **line, size_t *len, bool *nl)
{
	if (!*p || !**p)
		return false;
	*line = *p;
	*len = strcspn(*p, "\n");
	*nl = (*p)[*len] == '\n';
	*p += *len + (*nl ? 1 : 0);
	return true;
}

#define FOR_LINES(text, line, len, nl)                                            \
	for (const char *it_##line = (text), *line; it_##line; it_##line = NULL)   \
		for (size_t len; it_##line; it_##line = NULL)                      \
			for (bool nl; next_line(&it_##line, &line, &len, &nl);)

/* mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS] - TYPE SOURCE SOPTS", of which host_dev.c
 * reads MAJ:MIN, POINT, TYPE and SOURCE. Options are dropped; a SOURCE that is neither a /dev
 * path nor a ZFS dataset (NFS and CIFS servers, fuse) becomes "none". */
static char *f_mountinfo(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		char buf[8192], *f[6], *save = NULL, *t, *type, *src;
		int i = 0;

		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (t = strtok_r(buf, " ", &save); t && i < 6; t = strtok_r(NULL, " ", &save))
			f[i++] = t;
		while (t && strcmp(t, "-") != 0)
			t = strtok_r(NULL, " ", &save);
		type = t ? strtok_r(NULL, " ", &save) : NULL;
		src = type ? strtok_r(NULL, " ", &save) : NULL;
		if (i < 6 || !src)
			continue;
		if (!str_has_prefix(src, "/dev/") && strcmp(type, "zfs") != 0)
			src = "none";
		sb_str(&b, f[0]);
		sb_str(&b, " ");
		sb_str(&b, f[1]);
		sb_str(&b, " ");
		sb_str(&b, f[2]);
		sb_str(&b, " / ");
		sb_str(&b, f[4]);
		sb_str(&b, " rw - ");
		sb_str(&b, type);
		sb_str(&b, " ");
		sb_str(&b, src);
		sb_str(&b, " rw\n");
	}
	return sb_done(&b);
}

/* /proc/net/route: the header and the default routes (all host_dev.c looks for), gateway
 * zeroed. */
static char *f_route(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };
	bool first = true;

	FOR_LINES(text, line, len, nl) {
		char buf[512], *col[16], *save = NULL;
		int n = 0;

		if (first) {
			sb_add(&b, line, len + (nl ? 1 : 0));
			first = false;
			continue;
		}
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (char *t = strtok_r(buf, "\t", &save); t && n < 16; t = strtok_r(NULL, "\t", &save))
			col[n++] = t;
		if (n < 8 || strtoul(col[1], NULL, 16) != 0 || strtoul(col[7], NULL, 16) != 0)
			continue;
		col[2] = "00000000";
		for (int i = 0; i < n; i++) {
			sb_str(&b, col[i]);
			sb_str(&b, i + 1 < n ? "\t" : "\n");
		}
	}
	return sb_done(&b);
}

/* /proc/net/ipv6_route: default routes only (a prefix would name the site), source and next
 * hop zeroed. Fields: dest plen src splen nexthop metric refcnt use flags iface. */
static char *f_route6(struct rctx *c, const char *text)
{
	static const char zero[] = "00000000000000000000000000000000";
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		char buf[512], *col[12], *save = NULL;
		int n = 0;

		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (char *t = strtok_r(buf, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
			col[n++] = t;
		if (n < 10 || strspn(col[0], "0") != strlen(col[0]) || strcmp(col[1], "00") != 0)
			continue;
		col[2] = (char *)zero;
		col[4] = (char *)zero;
		for (int i = 0; i < n; i++) {
			sb_str(&b, col[i]);
			sb_str(&b, i + 1 < n ? " " : "\n");
		}
	}
	return sb_done(&b);
}

/* /proc/cpuinfo: the first processor (host_info.c reads no further). */
static char *f_cpuinfo(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		sb_add(&b, line, len + (nl ? 1 : 0));
		if (len == 0)
			break;
	}
	return sb_done(&b);
}

/* /proc/interrupts, summed over the CPUs: "CPU0" and one count per line, the rest (irq chip,
 * hardware irq, names, which host_info.c searches for " IR-") as it is. */
static char *f_interrupts(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };
	bool first = true;
	int ncpu = 0;

	FOR_LINES(text, line, len, nl) {
		char buf[16];
		const char *p = line, *end = line + len;
		unsigned long long sum = 0;

		if (first) {
			for (const char *q = line; q < end; q++)
				if (!strncmp(q, "CPU", 3) && (q == line || q[-1] == ' '))
					ncpu++;
			sb_str(&b, "           CPU0\n");
			first = false;
			continue;
		}
		while (p < end && *p == ' ')
			p++;
		p += strcspn(p, ":");
		if (p >= end) {
			sb_add(&b, line, len + (nl ? 1 : 0));
			continue;
		}
		sb_add(&b, line, (size_t)(p + 1 - line));
		p++;
		for (int i = 0; i < ncpu && p < end; i++) {
			char *e;
			unsigned long long v;

			while (p < end && *p == ' ')
				p++;
			if (p >= end || !isdigit((unsigned char)*p))
				break;
			v = strtoull(p, &e, 10);
			sum += v;
			p = e;
		}
		snprintf(buf, sizeof(buf), " %10llu", sum);
		sb_str(&b, buf);
		sb_add(&b, p, (size_t)(end - p));
		if (nl)
			sb_str(&b, "\n");
	}
	return sb_done(&b);
}

static bool key_allowed(const char *key, size_t n)
{
	/* What pve_conf.c reads, and what the issue's checks name; nothing else of a VM config. */
	static const char *const keys[] = { "machine", "bios", "cpu", "memory", "ostype", "vga",
					    "hookscript", "lock", "template", "onboot",
					    "reboot" };

	if (n > 7 && !strncmp(key, "hostpci", 7) && strspn(key + 7, "0123456789") == n - 7)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strlen(keys[i]) == n && !strncmp(keys[i], key, n))
			return true;
	return false;
}

/* A VM config: the live section's allowed keys, line for line; "args: yes" when it has args.
 * Comments (the description), snapshots and every other key are dropped. */
static char *f_vmconf(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		const char *p = line;
		size_t k;

		while (p < line + len && (*p == ' ' || *p == '\t'))
			p++;
		if (*p == '[')
			break;
		k = 0;
		while (p + k < line + len && (islower((unsigned char)p[k]) || p[k] == '_' ||
					      p[k] == '-' || isdigit((unsigned char)p[k])))
			k++;
		if (p + k >= line + len || p[k] != ':')
			continue;
		if (k == 4 && !strncmp(p, "args", 4)) {
			sb_str(&b, "args: yes\n");
			continue;
		}
		if (!key_allowed(p, k) || len > 4000)
			continue;
		sb_add(&b, line, len);
		sb_str(&b, "\n");
	}
	return sb_done(&b);
}

/* Node names in a comma or blank separated LIST, replaced. */
static void add_nodes(struct rctx *c, struct sbuf *b, const char *list, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t w = 0;
		char name[128];
		const char *p;

		while (i < len && (list[i] == ',' || list[i] == ' ' || list[i] == ';')) {
			sb_add(b, list + i, 1);
			i++;
		}
		while (i + w < len && list[i + w] != ',' && list[i + w] != ' ' && list[i + w] != ';')
			w++;
		if (!w)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)w, list + i);
		p = node_name(c, name);
		sb_str(b, p ? p : "node");
		i += w;
	}
}

/* storage.cfg: section headers ("TYPE: ID") and the properties pve_storage.c reads; servers,
 * users, exports, pools and the rest are dropped; node names replaced. */
static char *f_storage(struct rctx *c, const char *text)
{
	static const char *const keys[] = { "path", "content", "shared", "disable", "content-dirs" };
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t ind = strspn(line, " \t"), k;
		const char *key = line + ind;

		if (ind >= len) {
			sb_str(&b, "\n");
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!ind) {
			sb_add(&b, line, len);
			sb_str(&b, "\n");
			continue;
		}
		k = strcspn(key, " \t\n");
		if (k == 5 && !strncmp(key, "nodes", 5)) {
			sb_add(&b, line, ind + k);
			sb_add(&b, key + k, strspn(key + k, " \t"));
			add_nodes(c, &b, key + k + strspn(key + k, " \t"),
				  len - ind - k - strspn(key + k, " \t"));
			sb_str(&b, "\n");
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (strlen(keys[i]) == k && !strncmp(keys[i], key, k)) {
				sb_add(&b, line, len);
				sb_str(&b, "\n");
				break;
			}
	}
	return sb_done(&b);
}

/* mapping/pci.cfg: mapping names and their "map" entries, node names replaced; descriptions
 * and comments dropped. A dropped line leaves an empty comment in its place (indented inside a
 * section, so the section goes on), so check's "line N" fixes name the same lines. */
static char *f_mapping(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t ind = strspn(line, " \t");
		const char *t = line + ind;

		if (!ind) {
			if (len && line[0] != '#')
				sb_add(&b, line, len);
			else if (len)
				sb_str(&b, "#");
			sb_str(&b, "\n");
			continue;
		}
		if (ind >= len || strncmp(t, "map", 3) != 0 || (t[3] != ' ' && t[3] != '\t')) {
			sb_str(&b, "\t#\n");
			continue;
		}
		sb_add(&b, line, (size_t)(t + 3 - line));
		for (const char *p = t + 3, *end = line + len; p < end;) {
			size_t w = strcspn(p, ",\n");

			if (p + w > end)
				w = (size_t)(end - p);
			if (w > 5 && !strncmp(p + strspn(p, " \t"), "node=", 5)) {
				size_t lead = strspn(p, " \t");

				sb_add(&b, p, lead + 5);
				add_nodes(c, &b, p + lead + 5, w - lead - 5);
			} else {
				sb_add(&b, p, w);
			}
			p += w;
			if (p < end && *p == ',') {
				sb_str(&b, ",");
				p++;
			}
		}
		sb_str(&b, "\n");
	}
	return sb_done(&b);
}

/* NVIDIA's per-GPU information: only the device minor (dev_handoff.c); the UUID and serial
 * stay out. */
static char *f_nvidia(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl)
		if (str_has_prefix(line, "Device Minor:")) {
			sb_add(&b, line, len);
			sb_str(&b, "\n");
		}
	return sb_done(&b);
}

/* udev data of a block device: only what host_dev.c looks for (S: lines name serials). */
static char *f_udev(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl)
		if (str_has_prefix(line, "E:ID_FS_TYPE=") || str_has_prefix(line, "E:ID_FS_LABEL="))
			sb_add(&b, line, len + (nl ? 1 : 0));
	return sb_done(&b);
}

/* --- derived captures -------------------------------------------------------------------- */

/* /run/udev/data/bMAJ:MIN of every block device (host_dev.c, ZFS pools). */
static void capture_udev(struct rctx *c)
{
	int n = c->n;

	for (int i = 0; i < n && !c->oom; i++) {
		const struct ent *e = &c->e[i];
		char path[SR_PATH_MAX], devno[32];
		size_t l = strlen(e->path);

		if (e->kind != K_FILE || l < 4 || strcmp(e->path + l - 4, "/dev") != 0 ||
		    !str_has_prefix(e->path, "/sys/devices/") || !e->data)
			continue;
		if (str_copy(devno, sizeof(devno), e->data) < 0)
			continue;
		str_trim(devno);
		if (!*devno || strspn(devno, "0123456789:") != strlen(devno) ||
		    sr_path(path, "/run/udev/data/b%s", devno) < 0)
			continue;
		capture_path(c, path, C_TEXT, f_udev);
	}
}

/* The /dev paths mounts and swap areas name (/dev/mapper/pve-root is a link to ../dm-0). */
static void capture_dev_sources(struct rctx *c)
{
	_cleanup_free_ char *mounts = NULL;
	_cleanup_free_ char *swaps = NULL;
	size_t len;

	if (sr_read_all(c->sr, "/proc/self/mountinfo", REPORT_FILE_MAX, &mounts, &len) < 0)
		mounts = NULL;
	if (sr_read_all(c->sr, "/proc/swaps", REPORT_FILE_MAX, &swaps, &len) < 0)
		swaps = NULL;
	FOR_LINES(mounts, line, len2, nl) {
		char buf[8192], src[SR_PATH_MAX];
		const char *dash;

		if (len2 >= sizeof(buf))
			continue;
		memcpy(buf, line, len2);
		buf[len2] = '\0';
		dash = strstr(buf, " - ");
		if (!dash || sscanf(dash, " - %*s %511s", src) != 1 ||
		    !str_has_prefix(src, "/dev/") || strchr(src, '\\'))
			continue;
		capture_path(c, src, C_EXISTS, NULL);
	}
	FOR_LINES(swaps, line, len2, nl) {
		char src[SR_PATH_MAX];

		if (len2 < sizeof(src) && sscanf(line, "%511s", src) == 1 && str_has_prefix(src, "/dev/") &&
		    !strchr(src, '\\'))
			capture_path(c, src, C_EXISTS, NULL);
	}
}

/* Each VM's hookscript (its mode: check.c wants an executable) and ROM files. */
static void capture_vm_files(struct rctx *c)
{
	for (int i = 0; i < c->nvmconf && !c->oom; i++) {
		_cleanup_free_ char *text = NULL;
		_cleanup_free_ struct pve_vmconf *conf = calloc(1, sizeof(*conf));
		char path[SR_PATH_MAX];
		size_t len;
		int line;

		if (!conf) {
			c->oom = true;
			return;
		}
		if (sr_read_all(c->sr, c->vmconf_paths[i], REPORT_FILE_MAX, &text, &len) < 0 ||
		    pve_vmconf_parse(text, conf, &line, NULL, 0) < 0)
			continue;
		for (int j = 0; j < conf->nhostpci; j++)
			if (conf->hostpci[j].romfile[0] && !strstr(conf->hostpci[j].romfile, "..") &&
			    sr_path(path, "/usr/share/kvm/%s", conf->hostpci[j].romfile) == 0)
				capture_path(c, path, C_TEXT | C_FOLLOW, NULL);
		const char *hs = conf->hookscript, *colon = strchr(hs, ':');
		char storage[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX];
		struct pve_storage st;

		if (!colon || !str_has_prefix(colon + 1, "snippets/") || strchr(colon + 10, '/') ||
		    strstr(colon + 10, "..") || str_copy_n(storage, sizeof(storage), hs, (size_t)(colon - hs)) < 0 ||
		    pve_storage_load(c->sr, storage, &st) < 0 || pve_storage_snippets_dir(&st, dir) < 0 ||
		    sr_path(path, "%s/%s", dir, colon + 10) < 0)
			continue;
		capture_path(c, path, C_EXISTS | C_MODE | C_FOLLOW, NULL);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* pci.ids with exactly the names this host gives its devices (libpci reads the host's
 * database and udev's hwdb; the replay reads this file only). */
static void capture_pci_names(struct rctx *c)
{
	struct pcidb *db = NULL;
	struct sbuf b = { 0 };
	uint16_t last_vendor = 0;
	bool have_vendor = false;
	uint32_t *classes;
	int ncls = 0;

	if (pcidb_load(c->sr, &db) < 0)
		return;
	classes = calloc((size_t)(db->ndev ? db->ndev : 1), sizeof(*classes));
	if (!classes) {
		c->oom = true;
		pcidb_free(db);
		return;
	}
	sb_str(&b, "# The names this host's PCI devices had (pve-gpu-passthrough report)\n");
	/* byaddr is not sorted by vendor: one pass per vendor in order of first appearance */
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = db->dev[db->byaddr[j]].vendor == d->vendor;
		if (seen)
			continue;
		char vname[256], dname[256], line[600];
		const char *vn = pcidb_vendor_name(db, d->vendor, vname, sizeof(vname));

		last_vendor = d->vendor;
		have_vendor = vn != NULL;
		if (!have_vendor)
			continue;
		snprintf(line, sizeof(line), "%04x  %s\n", d->vendor, vn);
		sb_str(&b, line);
		for (int j = i; j < db->ndev; j++) {
			const struct pci_dev_info *x = &db->dev[db->byaddr[j]];
			bool dup = false;
			const char *dn;

			if (x->vendor != last_vendor)
				continue;
			for (int k = i; k < j && !dup; k++)
				dup = db->dev[db->byaddr[k]].vendor == x->vendor &&
				      db->dev[db->byaddr[k]].device == x->device;
			if (dup || !(dn = pcidb_device_name(db, x->vendor, x->device, dname, sizeof(dname))))
				continue;
			snprintf(line, sizeof(line), "\t%04x  %s\n", x->device, dn);
			sb_str(&b, line);
		}
	}
	for (int i = 0; i < db->ndev; i++) {
		uint32_t k = db->dev[i].class >> 8;
		bool seen = false;

		for (int j = 0; j < ncls && !seen; j++)
			seen = classes[j] == k;
		if (!seen)
			classes[ncls++] = k;
	}
	qsort(classes, (size_t)ncls, sizeof(*classes), cmp_u32);
	for (int i = 0; i < ncls; i++) {
		char name[256], line[600];
		const char *cn = pcidb_class_name(db, classes[i] << 8, name, sizeof(name));

		if (!cn)
			continue;
		/* One "C" line per base class (libpci refuses a database with duplicates); its own
		 * name is never printed, as every subclass asked for has its line. */
		if (i == 0 || classes[i - 1] >> 8 != classes[i] >> 8) {
			snprintf(line, sizeof(line), "C %02x  %s\n", classes[i] >> 8, cn);
			sb_str(&b, line);
		}
		snprintf(line, sizeof(line), "\t%02x  %s\n", classes[i] & 0xff, cn);
		sb_str(&b, line);
	}
	free(classes);
	pcidb_free(db);
	char *text = sb_done(&b);

	if (!text) {
		c->oom = true;
		return;
	}
	add_file(c, "/usr/share/misc/pci.ids", text, strlen(text));
	free(text);
}

/* What dev_quirks.c reads beyond plain files: a running nvidia-persistenced (its comm only, not
 * every process's), and whether vendor-reset's module file is signed (a stand-in file that
 * ends with the signature marker, or is empty: the module itself stays out). */
static void capture_quirks(struct rctx *c)
{
	static const char sig[] = "~Module signature appended~\n";
	struct vendor_reset_state vr;
	char path[SR_PATH_MAX];
	pid_t pid = quirks_nvidia_daemon(c->sr);

	if (pid > 0 && sr_path(path, "/proc/%d/comm", (int)pid) == 0)
		add_file(c, path, "nvidia-persiste\n", strlen("nvidia-persiste\n"));
	if (quirks_vendor_reset(c->sr, &vr) == 0 && vr.file && vr.file_signed >= 0 &&
	    !strpbrk(vr.path, " \t\n"))
		add_file(c, vr.path, vr.file_signed ? sig : "", vr.file_signed ? strlen(sig) : 0);
}

struct capture_kmod {
	struct rctx *c;
	FILE *out;
	const char *release, *dir;
};

/* The first module a name resolves to, as a `kmod` line. */
static int capture_module(void *data, const char *name, const char *path)
{
	struct capture_kmod *k = data;
	size_t dl = strlen(k->dir);

	if (path && !strncmp(path, k->dir, dl) && path[dl] == '/' && !strpbrk(path, " \t\n"))
		fprintf(k->out, "kmod %s module %s\n", k->release, path + dl + 1);
	else if (!path)
		fprintf(k->out, "kmod %s builtin %s\n", k->release, name);
	k->c->st.modules++;
	return 1;
}

/* How the running kernel has the vfio modules, as `kmod` lines (libkmod's indexes are
 * megabytes; the replay writes small ones from these lines). */
static void capture_modules(struct rctx *c, FILE *out, const char *release)
{
	struct capture_kmod k = { .c = c, .out = out, .release = release };
	struct kmod_ctx *ctx;
	int r;

	if (!release[0] || strpbrk(release, "/ \t"))
		return;
	r = modload_ctx_new(c->sr, release, NULL, MODLOAD_NO_CONFIG, &ctx);
	if (r < 0) {
		if (r == -ENOMEM)
			c->oom = true;
		return;
	}
	k.dir = modload_ctx_dirname(ctx);
	fprintf(out, "dir /lib/modules/%s\n", release);
	for (size_t i = 0; i < ARRAY_SIZE(kmod_names); i++)
		modload_lookup(ctx, kmod_names[i], capture_module, &k);
	modload_ctx_free(ctx);
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

	pve_node_name(o ? o->node : NULL, node, sizeof(node));
	/* This node is "pve" in the report, other nodes node2, node3, ... */
	if (node[0])
		node_name(&c, node);
	for (size_t i = 0; i < ARRAY_SIZE(captures) && !c.oom; i++)
		capture(&c, &captures[i]);
	capture_udev(&c);
	capture_dev_sources(&c);
	capture_vm_files(&c);
	capture_pci_names(&c);
	capture_quirks(&c);
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
	      "# addresses, gateways and network mount sources are replaced; no serial numbers.\n",
	      out);
	fprintf(out, "# node: %s\n", node[0] ? "pve" : "unknown");
	for (int i = 0; i < c.n; i++) {
		if (i > 0 && !strcmp(c.e[i].path, c.e[i - 1].path) && c.e[i].kind == c.e[i - 1].kind)
			continue;
		print_ent(&c, out, &c.e[i]);
	}
	if (sr_read_str(sr, "/proc/sys/kernel/osrelease", release, sizeof(release)) > 0)
		capture_modules(&c, out, release);
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
	names_free(&c.nodes);
	names_free(&c.macs);
	if (r == 0 && ret_st)
		*ret_st = c.st;
	return r;
}
