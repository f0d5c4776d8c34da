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

/* Reads a whole proc/sys text file, bounded (sysroot.h: sr_read_all). */
static int read_text(const struct sysroot *sr, const char *path, size_t max, char **ret)
{
	size_t len;

	return sr_read_all(sr, path, max, ret, &len);
}

/* --- kernel command line ---------------------------------------------------------------- */

bool cmdline_next(const char **p, struct cmdline_param *t)
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

bool cmdline_key_eq(const char *a, size_t alen, const char *b, size_t blen)
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
	struct cmdline_param t;

	while (cmdline_next(&cmdline, &t))
		if (cmdline_key_eq(t.start, t.keylen, key, strlen(key)))
			return true;
	return false;
}

bool cmdline_has_value(const char *cmdline, const char *key, const char *value)
{
	size_t vlen = strlen(value);
	struct cmdline_param t;

	while (cmdline_next(&cmdline, &t)) {
		const char *v, *end;

		if (!cmdline_key_eq(t.start, t.keylen, key, strlen(key)) || t.keylen == t.len)
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

int hostinfo_modules_file_line(const struct sysroot *sr, const char *path, const char *module)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int n = 0;

	if (sr_read_file(sr, path, 1u << 20, &text, &len) < 0)
		return 0;
	/* every line counts, the empty ones too (the number is shown to the admin) */
	for (char *line = text, *next; line && *line; line = next) {
		size_t w;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		line += strspn(line, " \t");
		w = strcspn(line, " \t#;");
		if (w && cmdline_key_eq(line, w, module, strlen(module)))
			return n;
	}
	return 0;
}
