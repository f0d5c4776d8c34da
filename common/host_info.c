/* host_info.c - see host_info.h. */
#define _GNU_SOURCE
#include "host_info.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_modload.h"
#include "util.h"

#define HI_TEXT_MAX (8u << 20) /* /proc/interrupts on a 512-CPU host stays below this */

/* The systemd-boot loader interface's vendor GUID: systemd-boot sets LoaderInfo, GRUB not. */
#define LOADER_INFO "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

/* Reads a whole proc/sys text file, bounded (sysroot.h: sr_read_all). */
static int read_text(const struct sysroot *sr, const char *path, size_t max, char **ret)
{
	size_t len;

	return sr_read_all(sr, path, max, ret, &len);
}

/* --- kernel command line ---------------------------------------------------------------- */

/* One parameter of a command line: P advanced past it. Quotes group ("key=\"a b\""). */
struct param {
	const char *start;
	size_t len;     /* whole token */
	size_t keylen;  /* up to '=' or the end */
};

static bool next_param(const char **p, struct param *t)
{
	const char *s = *p;
	bool quoted = false;

	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s)
		return false;
	t->start = s;
	t->keylen = 0;
	for (; *s && (quoted || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
		if (*s == '"')
			quoted = !quoted;
		if (*s == '=' && !t->keylen)
			t->keylen = (size_t)(s - t->start);
	}
	t->len = (size_t)(s - t->start);
	if (!t->keylen)
		t->keylen = t->len;
	*p = s;
	return true;
}

static bool key_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return true;
}

bool cmdline_has(const char *cmdline, const char *key)
{
	struct param t;

	while (next_param(&cmdline, &t))
		if (key_eq(t.start, t.keylen, key, strlen(key)))
			return true;
	return false;
}

bool cmdline_has_value(const char *cmdline, const char *key, const char *value)
{
	size_t vlen = strlen(value);
	struct param t;

	while (next_param(&cmdline, &t)) {
		const char *v, *end;

		if (!key_eq(t.start, t.keylen, key, strlen(key)) || t.keylen == t.len)
			continue;
		v = t.start + t.keylen + 1;
		end = t.start + t.len;
		if (v < end && *v == '"') {
			v++;
			if (end > v && end[-1] == '"')
				end--;
		}
		while (v <= end) {
			const char *comma = memchr(v, ',', (size_t)(end - v));
			const char *item_end = comma ? comma : end;

			if ((size_t)(item_end - v) == vlen && strncmp(v, value, vlen) == 0)
				return true;
			if (!comma)
				break;
			v = comma + 1;
		}
	}
	return false;
}

/* --- host facts ------------------------------------------------------------------------- */

const char *cpu_vendor_name(enum cpu_vendor v)
{
	return v == CPU_INTEL ? "Intel" : v == CPU_AMD ? "AMD" : "other";
}

static void read_cpu(const struct sysroot *sr, struct hostinfo *hi)
{
	_cleanup_free_ char *text = NULL;

	/* The first processor block says it all. */
	if (read_text(sr, "/proc/cpuinfo", HI_TEXT_MAX, &text) < 0)
		return;
	for (char *line = text, *next; line && *line; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			break; /* end of the first processor */
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		if (strcmp(str_trim(line), "vendor_id") == 0)
			snprintf(hi->cpu_vendor_id, sizeof(hi->cpu_vendor_id), "%s", str_trim(colon + 1));
		else if (strcmp(str_trim(line), "model name") == 0)
			snprintf(hi->cpu_model, sizeof(hi->cpu_model), "%s", str_trim(colon + 1));
	}
	if (strcmp(hi->cpu_vendor_id, "GenuineIntel") == 0)
		hi->cpu = CPU_INTEL;
	else if (strcmp(hi->cpu_vendor_id, "AuthenticAMD") == 0 ||
		 strcmp(hi->cpu_vendor_id, "HygonGenuine") == 0)
		hi->cpu = CPU_AMD;
}

/* Entries of DIR (not starting with '.'); the smallest name into FIRST when given. */
static int count_entries(const struct sysroot *sr, const char *dir, char *first, size_t size)
{
	struct dirent *de;
	DIR *d = sr_opendir(sr, dir);
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* A name too long for FIRST is not a kernel iommu name; it still counts. */
		if (first && (n == 0 || strcmp(de->d_name, first) < 0) &&
		    str_copy(first, size, de->d_name) < 0)
			first[0] = '\0';
		n++;
	}
	closedir(d);
	return n;
}

static int dmar_flags(const struct sysroot *sr)
{
	_cleanup_close_ int fd = sr_openat(sr, "/sys/firmware/acpi/tables/DMAR", O_RDONLY, 0);
	unsigned char hdr[48];
	ssize_t n;

	if (fd < 0)
		return -1;
	/* ACPI DMAR: 36-byte table header, host address width (1 byte), flags (1 byte). */
	do
		n = read(fd, hdr, sizeof(hdr));
	while (n < 0 && errno == EINTR);
	if (n < 38 || memcmp(hdr, "DMAR", 4) != 0)
		return -1;
	return hdr[37];
}

int hostinfo_read(const struct sysroot *sr, struct hostinfo *hi)
{
	_cleanup_free_ char *irqs = NULL;
	char buf[16];
	int r;

	memset(hi, 0, sizeof(*hi));
	read_cpu(sr, hi);
	if (sr_read_str(sr, "/proc/sys/kernel/osrelease", hi->release, sizeof(hi->release)) < 0)
		hi->release[0] = '\0';
	hi->cmdline_known = sr_read_str(sr, "/proc/cmdline", hi->cmdline, sizeof(hi->cmdline)) >= 0;
	if (!hi->cmdline_known)
		hi->cmdline[0] = '\0';
	r = count_entries(sr, "/sys/kernel/iommu_groups", NULL, 0);
	if (r < 0)
		return r;
	hi->iommu_groups = r;
	r = count_entries(sr, "/sys/class/iommu", hi->iommu_unit, sizeof(hi->iommu_unit));
	if (r < 0)
		return r;
	hi->iommu_units = r;
	hi->acpi_tables = sr_exists(sr, "/sys/firmware/acpi/tables");
	hi->dmar = sr_exists(sr, "/sys/firmware/acpi/tables/DMAR");
	hi->ivrs = sr_exists(sr, "/sys/firmware/acpi/tables/IVRS");
	hi->dmar_flags = hi->dmar ? dmar_flags(sr) : -1;
	r = read_text(sr, "/proc/interrupts", HI_TEXT_MAX, &irqs);
	/* Remapped interrupts show irq chips named "IR-IO-APIC", "IR-PCI-MSI", "IR-PCI-MSIX". */
	hi->intremap = r < 0 ? r : strstr(irqs, " IR-") != NULL;
	hi->unsafe_interrupts = -1;
	if (sr_read_str(sr, "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", buf,
			sizeof(buf)) > 0)
		hi->unsafe_interrupts = buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
	else if (cmdline_has_value(hi->cmdline, "vfio_iommu_type1.allow_unsafe_interrupts", "1") ||
		 cmdline_has_value(hi->cmdline, "vfio_iommu_type1.allow_unsafe_interrupts", "Y") ||
		 cmdline_has_value(hi->cmdline, "vfio_iommu_type1.allow_unsafe_interrupts", "y"))
		hi->unsafe_interrupts = 1;
	hi->efi = sr_exists(sr, "/sys/firmware/efi");
	return 0;
}

/* --- modules ---------------------------------------------------------------------------- */

/* The first module NAME resolves to decides: a file, or built in (no file). */
static int first_module(void *data, const char *name, const char *path)
{
	*(int *)data = path ? HOSTMOD_MODULE : HOSTMOD_BUILTIN;
	return 1;
}

int hostinfo_modules(const struct sysroot *sr, const char *release, const char *const *names,
		     int n, struct hostmod *ret)
{
	struct kmod_ctx *ctx;
	int r;

	if (!release[0] || strchr(release, '/'))
		return -EINVAL;
	/* No modprobe.d: only "is there such a module" matters, not aliases an admin added. */
	r = modload_ctx_new(sr, release, NULL, MODLOAD_NO_CONFIG, &ctx);
	if (r < 0)
		return r == -ENOSYS ? -ENOMEM : r;
	for (int i = 0; i < n; i++) {
		char path[SR_PATH_MAX];
		int avail = HOSTMOD_MISSING;

		ret[i].name = names[i];
		r = modload_lookup(ctx, names[i], first_module, &avail);
		ret[i].avail = r < 0 ? r : avail;
		ret[i].loaded = sr_path(path, "/sys/module/%s", names[i]) == 0 && sr_exists(sr, path);
		if (strcmp(names[i], "vfio_pci") == 0 && sr_exists(sr, "/sys/bus/pci/drivers/vfio-pci"))
			ret[i].loaded = true;
	}
	modload_ctx_free(ctx);
	return 0;
}

int hostinfo_mtime(const struct sysroot *sr, const char *path, long long *ret)
{
	_cleanup_close_ int fd = sr_openat(sr, path, O_PATH, 0);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret = (long long)st.st_mtim.tv_sec;
	return 0;
}

/* --- boot loader ------------------------------------------------------------------------ */

const char *boot_kind_name(enum boot_kind k)
{
	return k == BOOT_GRUB ? "GRUB" : k == BOOT_SYSTEMD_BOOT ? "systemd-boot" : "unknown";
}

/* A shell assignment "[export ]VAR=VALUE [# comment]" split into its parts. */
struct assign {
	size_t pre;      /* bytes up to and including '=' */
	char quote;      /* '"', '\'' or 0 */
	size_t vstart;   /* first byte of the value (after a quote) */
	size_t vlen;
	size_t post;     /* first byte after the value (and its closing quote) */
};

static bool parse_assign(const char *line, const char *var, struct assign *a)
{
	const char *p = line;
	size_t n = strlen(var);

	while (*p == ' ' || *p == '\t')
		p++;
	if (str_has_prefix(p, "export "))
		p += 7;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, var, n) != 0 || p[n] != '=')
		return false;
	p += n + 1;
	a->pre = (size_t)(p - line);
	a->quote = (*p == '"' || *p == '\'') ? *p : 0;
	if (a->quote)
		p++;
	a->vstart = (size_t)(p - line);
	while (*p && (a->quote ? *p != a->quote : (*p != ' ' && *p != '\t' && *p != '#'))) {
		if (a->quote == '"' && *p == '\\' && p[1])
			p++;
		p++;
	}
	a->vlen = (size_t)(p - line) - a->vstart;
	if (a->quote && *p == a->quote)
		p++;
	a->post = (size_t)(p - line);
	return true;
}

struct grub_scan {
	struct bootcfg *b;
	char linux_params[HI_CMDLINE_MAX]; /* the last GRUB_CMDLINE_LINUX */
	bool found;
};

static int grub_file(const struct sysroot *sr, const char *path, struct grub_scan *s)
{
	_cleanup_free_ char *text = NULL;
	int lineno = 0, r;

	r = read_text(sr, path, 1u << 20, &text);
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		struct assign a;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (parse_assign(line, "GRUB_CMDLINE_LINUX_DEFAULT", &a)) {
			struct bootcfg *b = s->b;

			s->found = true;
			snprintf(b->file, sizeof(b->file), "%s", path);
			b->line = lineno;
			snprintf(b->text, sizeof(b->text), "%s", line);
			snprintf(b->params, sizeof(b->params), "%.*s", (int)a.vlen, line + a.vstart);
		} else if (parse_assign(line, "GRUB_CMDLINE_LINUX", &a)) {
			snprintf(s->linux_params, sizeof(s->linux_params), "%.*s", (int)a.vlen,
				 line + a.vstart);
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_grub(const struct sysroot *sr, struct bootcfg *b)
{
	struct grub_scan s = { .b = b };
	char *names[64];
	struct dirent *de;
	int n = 0, r;
	DIR *d;

	snprintf(b->var, sizeof(b->var), "GRUB_CMDLINE_LINUX_DEFAULT");
	r = grub_file(sr, "/etc/default/grub", &s);
	if (r < 0)
		return r;
	/* grub-mkconfig sources /etc/default/grub.d/[*].cfg after it, in glob order. */
	d = sr_opendir(sr, "/etc/default/grub.d");
	if (d) {
		while ((de = readdir(d)) && n < 64) {
			size_t len = strlen(de->d_name);

			if (len > 4 && strcmp(de->d_name + len - 4, ".cfg") == 0)
				names[n++] = strdup(de->d_name);
			if (n > 0 && !names[n - 1])
				n--;
		}
		closedir(d);
		qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
		for (int i = 0; i < n; i++) {
			char path[SR_PATH_MAX];

			if (sr_path(path, "/etc/default/grub.d/%s", names[i]) == 0)
				grub_file(sr, path, &s);
			free(names[i]);
		}
	}
	if (!s.found) {
		snprintf(b->file, sizeof(b->file), "/etc/default/grub");
		b->line = 0;
	}
	snprintf(b->configured, sizeof(b->configured), "%s %s", s.linux_params, b->params);
	return 0;
}

static int read_kernel_cmdline(const struct sysroot *sr, const struct hostinfo *hi, struct bootcfg *b)
{
	_cleanup_free_ char *text = NULL;
	int lineno = 0, r;

	snprintf(b->file, sizeof(b->file), "/etc/kernel/cmdline");
	r = read_text(sr, b->file, 1u << 16, &text);
	if (r < 0 && r != -ENOENT)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!*str_trim(line) || line[0] == '#')
			continue;
		b->line = lineno;
		snprintf(b->text, sizeof(b->text), "%s", line);
		snprintf(b->params, sizeof(b->params), "%s", str_trim(line));
		break;
	}
	if (!b->line) {
		/* No file: proxmox-boot-tool falls back to the running command line; a new file
		 * starts from it, without what the boot loader added itself. */
		const char *p = hi->cmdline;
		struct param t;
		size_t off = 0;

		while (next_param(&p, &t)) {
			if (key_eq(t.start, t.keylen, "BOOT_IMAGE", 10) ||
			    key_eq(t.start, t.keylen, "initrd", 6))
				continue;
			if (off + t.len + 2 >= sizeof(b->params))
				break;
			off += (size_t)snprintf(b->params + off, sizeof(b->params) - off, "%s%.*s",
						off ? " " : "", (int)t.len, t.start);
		}
	}
	snprintf(b->configured, sizeof(b->configured), "%s", b->params);
	return 0;
}

int bootcfg_read(const struct sysroot *sr, const struct hostinfo *hi, struct bootcfg *b)
{
	bool grub = sr_exists(sr, "/etc/default/grub");
	bool kcmd = sr_exists(sr, "/etc/kernel/cmdline");

	memset(b, 0, sizeof(*b));
	b->proxmox_boot_tool = sr_exists(sr, "/etc/kernel/proxmox-boot-uuids");
	if (sr_exists(sr, LOADER_INFO)) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "systemd-boot's LoaderInfo EFI variable is set";
	} else if (hi->efi && b->proxmox_boot_tool && kcmd) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "UEFI boot with proxmox-boot-tool and /etc/kernel/cmdline";
	} else if (grub) {
		b->kind = BOOT_GRUB;
		b->why = "/etc/default/grub exists";
	} else if (kcmd) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "/etc/kernel/cmdline exists";
	} else {
		b->kind = BOOT_UNKNOWN;
		b->why = "neither /etc/default/grub nor /etc/kernel/cmdline exists";
		return 0;
	}
	if (b->kind == BOOT_SYSTEMD_BOOT || b->proxmox_boot_tool)
		snprintf(b->refresh, sizeof(b->refresh), "proxmox-boot-tool refresh");
	else
		snprintf(b->refresh, sizeof(b->refresh), "update-grub");
	return b->kind == BOOT_GRUB ? read_grub(sr, b) : read_kernel_cmdline(sr, hi, b);
}

int bootcfg_read_other(const struct sysroot *sr, const struct hostinfo *hi,
		       const struct bootcfg *used, struct bootcfg *b)
{
	int r;

	memset(b, 0, sizeof(*b));
	if (used->kind == BOOT_SYSTEMD_BOOT && sr_exists(sr, "/etc/default/grub")) {
		b->kind = BOOT_GRUB;
		b->why = "/etc/default/grub exists";
		snprintf(b->refresh, sizeof(b->refresh), "update-grub");
		r = read_grub(sr, b);
	} else if (used->kind == BOOT_GRUB && sr_exists(sr, "/etc/kernel/cmdline")) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "/etc/kernel/cmdline exists";
		snprintf(b->refresh, sizeof(b->refresh), "proxmox-boot-tool refresh");
		r = read_kernel_cmdline(sr, hi, b);
		if (r == 0 && !b->line)
			return 0; /* no command line in it */
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* Keys that may appear several times: a new value joins them instead of replacing them. */
static bool repeatable(const char *key, size_t len)
{
	return key_eq(key, len, "video", 5) || key_eq(key, len, "initcall_blacklist", 18);
}

static bool in_list(const char *list, const char *key, size_t len)
{
	struct param t;

	while (next_param(&list, &t))
		if (key_eq(t.start, t.keylen, key, len))
			return true;
	return false;
}

/* True when token [s, s+len) equals some token of LIST. */
static bool same_token_in(const char *list, const char *s, size_t len)
{
	struct param t;

	while (next_param(&list, &t))
		if (t.len == len && strncmp(t.start, s, len) == 0)
			return true;
	return false;
}

int bootcfg_edit(const struct bootcfg *b, const char *add, const char *remove, char *out,
		 size_t size)
{
	char value[HI_CMDLINE_MAX * 2];
	const char *p = b->params;
	struct param t;
	size_t off = 0;
	int n;

	value[0] = '\0';
	/* Keep what stays, in order. */
	while (next_param(&p, &t)) {
		const char *q = add;
		struct param u;
		bool drop = remove && in_list(remove, t.start, t.keylen);

		while (!drop && add && next_param(&q, &u))
			if (key_eq(t.start, t.keylen, u.start, u.keylen) &&
			    !repeatable(t.start, t.keylen))
				drop = !(u.len == t.len && strncmp(u.start, t.start, t.len) == 0);
		if (drop)
			continue;
		if (off + t.len + 2 > sizeof(value))
			return -ENOSPC;
		off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%.*s", off ? " " : "",
					(int)t.len, t.start);
	}
	/* Then what is new. */
	for (p = add; add && next_param(&p, &t);) {
		if (same_token_in(value, t.start, t.len))
			continue;
		if (off + t.len + 2 > sizeof(value))
			return -ENOSPC;
		off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%.*s", off ? " " : "",
					(int)t.len, t.start);
	}
	if (b->kind != BOOT_GRUB)
		n = snprintf(out, size, "%s", value);
	else if (b->line == 0)
		n = snprintf(out, size, "%s=\"%s\"", b->var, value);
	else {
		struct assign a;
		char q;

		if (!parse_assign(b->text, b->var, &a))
			return -EINVAL;
		q = a.quote ? a.quote : '"';
		n = snprintf(out, size, "%.*s%c%s%c%s", (int)a.pre, b->text, q, value, q,
			     b->text + a.post);
	}
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}
