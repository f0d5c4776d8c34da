/* dev_health.c - see dev_health.h. The mark file is read as hostile input (/run is shared
 * with everything running as root): bounded, every line known, in its order, each value
 * checked; anything else is -EINVAL. */
#define _GNU_SOURCE
#include "dev_health.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev_quirks.h"
#include "pciaddr.h"
#include "sysfs.h"
#include "util.h"

#define HEALTH_MAX_BYTES 512

static const char *const fault_word[] = {
	[HEALTH_CONFIG] = "config", [HEALTH_FFFF] = "ffff", [HEALTH_NO_DRIVER] = "driver",
};

const char *health_fault_text(enum health_fault f)
{
	switch (f) {
	case HEALTH_CONFIG:
		return "its config space cannot be read";
	case HEALTH_FFFF:
		return "its config space reads 0xffff";
	case HEALTH_NO_DRIVER:
		return "its driver did not take it back";
	default:
		return "healthy";
	}
}

static bool boot_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= HEALTH_BOOT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == '-'))
			return false;
	return true;
}

int health_format(const struct health_mark *m, char *buf, size_t size)
{
	int n;

	if (m->fault <= HEALTH_OK || m->fault > HEALTH_NO_DRIVER || m->vmid <= 0 ||
	    (m->boot[0] && !boot_valid(m->boot)) || (m->driver[0] && !kernel_name_valid(m->driver)))
		return -EINVAL;
	n = snprintf(buf, size, "pve-gpu-passthrough-health 1\nboot %s\nvmid %d\nid %04x:%04x\n"
		     "fault %s\ndriver %s\n", m->boot[0] ? m->boot : "-", m->vmid, m->vendor,
		     m->device, fault_word[m->fault], m->driver[0] ? m->driver : "-");
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* The value of the line "KEY VALUE\n" at *P (advanced past it) into OUT; -EINVAL otherwise. */
static int line(const char **p, const char *key, char *out, size_t size)
{
	size_t k = strlen(key);
	const char *v, *nl;

	if (strncmp(*p, key, k) || (*p)[k] != ' ')
		return -EINVAL;
	v = *p + k + 1;
	nl = strchr(v, '\n');
	if (!nl || nl == v || (size_t)(nl - v) >= size || memchr(v, ' ', (size_t)(nl - v)))
		return -EINVAL;
	memcpy(out, v, (size_t)(nl - v));
	out[nl - v] = '\0';
	*p = nl + 1;
	return 0;
}

static int hex4(const char *s, uint16_t *ret)
{
	unsigned long v;

	if (strlen(s) != 4 || parse_ulong(s, 16, 0xffff, &v) < 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int health_parse(const char *text, struct health_mark *m)
{
	const char *p = text;
	char v[PCIDEV_NAME_MAX + 8];
	unsigned long n;
	int f = HEALTH_OK;

	memset(m, 0, sizeof(*m));
	if (line(&p, "pve-gpu-passthrough-health", v, sizeof(v)) || strcmp(v, "1"))
		return -EINVAL;
	if (line(&p, "boot", v, sizeof(v)) || (strcmp(v, "-") && !boot_valid(v)))
		return -EINVAL;
	if (strcmp(v, "-"))
		str_copy(m->boot, sizeof(m->boot), v);
	if (line(&p, "vmid", v, sizeof(v)) || v[0] == '0' || parse_ulong(v, 10, 999999999, &n) < 0 ||
	    n < 100)
		return -EINVAL;
	m->vmid = (int)n;
	if (line(&p, "id", v, sizeof(v)) || strlen(v) != 9 || v[4] != ':')
		return -EINVAL;
	v[4] = '\0';
	if (hex4(v, &m->vendor) || hex4(v + 5, &m->device))
		return -EINVAL;
	if (line(&p, "fault", v, sizeof(v)))
		return -EINVAL;
	for (int i = HEALTH_CONFIG; i <= HEALTH_NO_DRIVER; i++)
		if (!strcmp(v, fault_word[i]))
			f = i;
	if (f == HEALTH_OK)
		return -EINVAL;
	m->fault = (enum health_fault)f;
	if (line(&p, "driver", v, sizeof(v)) || (strcmp(v, "-") && !kernel_name_valid(v)) ||
	    strlen(v) >= sizeof(m->driver))
		return -EINVAL;
	if (strcmp(v, "-"))
		str_copy(m->driver, sizeof(m->driver), v);
	return *p ? -EINVAL : 0;
}

void health_boot_id(const struct sysroot *sr, char *buf, size_t size)
{
	if (sr_read_str(sr, "/proc/sys/kernel/random/boot_id", buf, size) < 0 || !boot_valid(buf))
		buf[0] = '\0';
}

int health_probe(const struct sysroot *sr, const char *name, const char *driver)
{
	char path[SR_PATH_MAX], now[PCIDEV_NAME_MAX];
	unsigned char cfg[4];
	ssize_t n;
	int fd, r;

	if ((r = sysfs_pci_dev(path, name, NULL)) < 0)
		return r;
	if (!sr_exists(sr, path))
		return -ENOENT;
	if ((r = sysfs_pci_dev(path, name, "config")) < 0)
		return r;
	fd = sr_openat(sr, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -ENOENT)
		return fd;
	n = fd < 0 ? -1 : pread(fd, cfg, sizeof(cfg), 0); /* the first bytes: vendor, device */
	if (fd >= 0)
		close(fd);
	if (n < 2)
		return HEALTH_CONFIG;
	if (cfg[0] == 0xff && cfg[1] == 0xff)
		return HEALTH_FFFF;
	if (*driver && (pcidev_driver(sr, name, now, sizeof(now)) < 0 || !now[0]))
		return HEALTH_NO_DRIVER;
	return HEALTH_OK;
}

/* STATE_DIR/health/NAME for a canonical PCI address NAME. */
static int mark_path(const char *name, char path[SR_PATH_MAX])
{
	struct pci_addr a;
	char canon[PCI_ADDR_LEN];

	if (pci_addr_parse(name, &a) < 0)
		return -EINVAL;
	pci_addr_fmt(&a, canon);
	if (strcmp(canon, name))
		return -EINVAL;
	return sr_path(path, "%s/%s", HEALTH_DIR, name);
}

int health_mark_load(const struct sysroot *sr, const char *name, struct health_mark *m)
{
	char path[SR_PATH_MAX], boot[HEALTH_BOOT_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = mark_path(name, path);

	if (r < 0)
		return r;
	r = sr_read_file(sr, path, HEALTH_MAX_BYTES, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	if (memchr(buf, '\0', len) || health_parse(buf, m) < 0)
		return -EINVAL;
	health_boot_id(sr, boot, sizeof(boot));
	return strcmp(boot, m->boot) ? 0 : 1; /* another boot's mark is void */
}

const char *health_mark_error(int r)
{
	return r == -EINVAL ? "it is not a valid mark" : sr_strerror(r);
}

int health_mark_save(const struct sysroot *sr, const char *name, const struct health_mark *m)
{
	char path[SR_PATH_MAX], buf[HEALTH_MAX_BYTES];
	int n = health_format(m, buf, sizeof(buf)), r;

	if (n < 0)
		return n;
	if ((r = mark_path(name, path)) < 0)
		return r;
	r = sr_mkdir_p(sr, HEALTH_DIR, 0700);
	return r < 0 ? r : sr_write_file_atomic(sr, path, buf, (size_t)n, 0600);
}

void health_fix(const char *name, const struct health_mark *m, char *buf, size_t size)
{
	const struct amd_generation *g = quirks_amd_generation(m->vendor, m->device);
	int n = snprintf(buf, size, "reboot the host (nothing else brings it back); so that it "
			 "comes back next time, ");

	if (n < 0 || (size_t)n >= size)
		return;
	if (g && g->reset == AMD_RESET_VENDOR_RESET)
		snprintf(buf + n, size - (size_t)n, "load vendor-reset (it has %s) and set "
			 "reset_method = device_specific in [vm:%d]", g->name, m->vmid);
	else
		snprintf(buf + n, size - (size_t)n, "set a reset_method %s has in [vm:%d] (its "
			 "methods: /sys/bus/pci/devices/%s/reset_method; vendor-reset has no reset "
			 "for %04x:%04x), and reboot: 0 in VM %d so that a guest reboot goes through "
			 "the hooks", name, m->vmid, name, m->vendor, m->device, m->vmid);
}
