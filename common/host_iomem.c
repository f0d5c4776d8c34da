/* host_iomem.c - see host_iomem.h. Line format: "<indent>start-end : name", indent two spaces
 * a level. */
#define _GNU_SOURCE
#include "host_iomem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define IOMEM_MAX_BYTES (4 << 20)
#define IOMEM_MAX_ENTRIES 65536

static int parse_hex64(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	while (n < 17) {
		char c = **p;
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (n == 16)
			return -ERANGE;
		v = v << 4 | (uint64_t)d;
		(*p)++;
		n++;
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_line(const char *line, struct iomem_entry *e)
{
	const char *p = line;
	int spaces = 0;

	while (*p == ' ') {
		spaces++;
		p++;
	}
	e->depth = spaces / 2;
	if (parse_hex64(&p, &e->start) < 0 || *p++ != '-' || parse_hex64(&p, &e->end) < 0)
		return -EINVAL;
	if (strncmp(p, " : ", 3) != 0 || e->end < e->start)
		return -EINVAL;
	p += 3;
	/* Names are short kernel strings; a longer one is cut, never overflowing. */
	snprintf(e->name, sizeof(e->name), "%s", p);
	return 0;
}

int iomem_parse(const char *text, struct iomem *ret)
{
	struct iomem m = { 0 };
	int cap = 0, r = 0;
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256];

		if (len > 0) {
			if (len >= sizeof(buf)) {
				r = -EINVAL;
				break;
			}
			memcpy(buf, line, len);
			buf[len] = '\0';
			if (m.n == cap) {
				struct iomem_entry *e;

				if (cap >= IOMEM_MAX_ENTRIES) {
					r = -E2BIG;
					break;
				}
				cap = cap ? cap * 2 : 64;
				e = realloc(m.e, (size_t)cap * sizeof(*e));
				if (!e) {
					r = -ENOMEM;
					break;
				}
				m.e = e;
			}
			r = parse_line(buf, &m.e[m.n]);
			if (r < 0)
				break;
			m.n++;
		}
		line += len + (nl ? 1 : 0);
	}
	if (r < 0) {
		free(m.e);
		return r;
	}
	*ret = m;
	return 0;
}

int iomem_read(const struct sysroot *sr, struct iomem *ret)
{
	char *buf;
	/* /proc/iomem reports a size of 0: read it to its end, bounded */
	int r = sr_read_all(sr, "/proc/iomem", IOMEM_MAX_BYTES, &buf, NULL);

	if (r < 0)
		return r;
	r = iomem_parse(buf, ret);
	free(buf);
	return r;
}

void iomem_free(struct iomem *m)
{
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

bool iomem_is_fw_fb(const char *name)
{
	/* efifb/vesafb: the fbdev drivers' own claims (Debian's kernels); BOOTFB: the resource
	 * of a simple-framebuffer platform device itself (CONFIG_SYSFB_SIMPLEFB, every Proxmox
	 * kernel); simplefb/simpledrm, and since 6.16 efidrm/vesadrm, claim the region under
	 * their platform driver's name (simple-framebuffer, efi-framebuffer, vesa-framebuffer);
	 * efi-display is the EFI device's announced new name. */
	static const char *const names[] = { "efifb", "vesafb", "BOOTFB", "simplefb",
					      "simpledrm", "simple-framebuffer",
					      "efi-framebuffer", "vesa-framebuffer",
					      "efi-display" };

	return str_has_any_prefix(name, names, ARRAY_SIZE(names));
}

const struct iomem_entry *iomem_fw_fb_in(const struct iomem *m, uint64_t start, uint64_t end)
{
	for (int i = 0; i < m->n; i++) {
		const struct iomem_entry *e = &m->e[i];

		if (iomem_is_fw_fb(e->name) && e->start <= end && e->end >= start)
			return e;
	}
	return NULL;
}
