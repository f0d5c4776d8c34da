/* host_dev.c - see host_dev.h. Reads only; every path goes through the sysroot. */
#define _GNU_SOURCE
#include "host_dev.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pciaddr.h"
#include "util.h"

#define HD_TEXT_MAX (8u << 20)  /* mountinfo of a host with many containers stays far below */
#define HD_MAX_ENTRIES 4096
#define HD_MAX_DEPTH 8          /* dm on md on partitions, bridge on bond on VLAN ... */
#define HD_MAX_VISITS 512       /* sysfs nodes looked at per mount or route */
#define HD_WHY_MAX 192
#define HD_MAX_NAMES 65536      /* entries of one directory walked (zvols: one per VM disk) */
#define HD_MAX_MOUNTS (1 << 20) /* lines in a mountinfo of at most HD_TEXT_MAX bytes */

struct hd_entry {
	char dev[PCI_ADDR_LEN];
	char why[HD_WHY_MAX];
};

struct hostdev {
	struct hd_entry *e;
	int n, cap;
};

/* A walk from one mount, swap area or route down to the PCI functions below it. */
struct walk {
	const struct sysroot *sr;
	struct hostdev *h;
	const char *what;  /* "backs /", "holds active swap", "carries the default route" */
	const char *top;   /* the name the walk started from, for "dm-0 on sda3" */
	const char *sep;   /* " on " for storage, " via " for networks */
	int visits;
};

/* Reads a whole proc/sys text file (procfs hands it out in several reads), bounded. */
static int read_text(const struct sysroot *sr, const char *path, size_t max, char **ret)
{
	size_t len;

	return sr_read_all(sr, path, max, ret, &len);
}

/* The last component of PATH that is a PCI address, copied into OUT; false when none. */
static bool last_pci(const char *path, char out[PCI_ADDR_LEN])
{
	bool found = false;

	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		char comp[32];
		struct pci_addr a;

		if (n > 0 && n < sizeof(comp)) {
			memcpy(comp, p, n);
			comp[n] = '\0';
			if (pci_addr_parse(comp, &a) == 0) {
				pci_addr_fmt(&a, out);
				found = true;
			}
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return found;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int add_entry(struct hostdev *h, const char *dev, const char *why)
{
	for (int i = 0; i < h->n; i++)
		if (strcmp(h->e[i].dev, dev) == 0 && strcmp(h->e[i].why, why) == 0)
			return 0;
	if (h->n >= HD_MAX_ENTRIES)
		return -E2BIG;
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 16;
		struct hd_entry *ne = realloc(h->e, (size_t)cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		h->e = ne;
		h->cap = cap;
	}
	if (str_copy(h->e[h->n].dev, sizeof(h->e[h->n].dev), dev) < 0)
		return -ENAMETOOLONG;
	/* Reasons are built from bounded names; a cut reason is still a reason. */
	snprintf(h->e[h->n].why, sizeof(h->e[h->n].why), "%s", why);
	h->n++;
	return 0;
}

static int record(struct walk *w, const char *owner, const char *leaf)
{
	char why[HD_WHY_MAX];

	if (w->top && strcmp(w->top, leaf) != 0)
		snprintf(why, sizeof(why), "%s (%s%s%s)", w->what, w->top, w->sep, leaf);
	else
		snprintf(why, sizeof(why), "%s (%s)", w->what, leaf);
	return add_entry(w->h, owner, why);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of directory PATH not starting with '.', sorted (NULL-terminated, free with
 * free_names): the walks go in name order, so what they record does not depend on the order
 * a filesystem lists a directory in (sysfs and a copy of it differ). NULL when unreadable. */
static char **sorted_names(const struct sysroot *sr, const char *path)
{
	DIR *d = sr_opendir(sr, path);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t n = 0;

	if (!d)
		return NULL;
	while ((de = readdir(d)) && n < HD_MAX_NAMES) {
		if (de->d_name[0] == '.')
			continue;
		nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(de->d_name))) {
			v = nv ? nv : v;
			break;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (v) {
		v[n] = NULL;
		qsort(v, n, sizeof(*v), cmp_name);
	}
	return v;
}

static void free_names(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Block device at sysfs PATH: its owning PCI function, or (dm, md, bcache ...) the owners of
 * the devices in its slaves/ directory. */
static int walk_block(struct walk *w, const char *path, int depth)
{
	char real[SR_PATH_MAX], sub[SR_PATH_MAX], owner[PCI_ADDR_LEN];
	char **names;
	int r = 0;

	if (depth > HD_MAX_DEPTH || ++w->visits > HD_MAX_VISITS)
		return 0;
	if (sr_realpath(w->sr, path, real) < 0 || !sr_exists(w->sr, real))
		return 0; /* gone or not a kernel block device: nothing to say */
	if (last_pci(real, owner))
		return record(w, owner, base_name(real));
	if (sr_path(sub, "%s/slaves", real) < 0)
		return 0;
	names = sorted_names(w->sr, sub);
	for (size_t i = 0; r == 0 && names && names[i]; i++) {
		if (sr_path(sub, "/sys/class/block/%s", names[i]) < 0)
			continue;
		r = walk_block(w, sub, depth + 1);
	}
	free_names(names);
	return r;
}

/* Network interface IF: its owning PCI function, or the owners of its lower devices (bridge
 * ports, bond slaves, a VLAN's parent). */
static int walk_net(struct walk *w, const char *ifname, int depth)
{
	char path[SR_PATH_MAX], real[SR_PATH_MAX], owner[PCI_ADDR_LEN];
	bool lower = false;
	char **names;
	int r = 0;

	if (depth > HD_MAX_DEPTH || ++w->visits > HD_MAX_VISITS)
		return 0;
	if (sr_path(path, "/sys/class/net/%s", ifname) < 0 || sr_realpath(w->sr, path, real) < 0 ||
	    !sr_exists(w->sr, real))
		return 0;
	if (last_pci(real, owner))
		return record(w, owner, ifname);
	names = sorted_names(w->sr, real);
	if (!names)
		return 0;
	for (size_t i = 0; r == 0 && names[i]; i++) {
		if (!str_has_prefix(names[i], "lower_") || !names[i][6])
			continue;
		lower = true;
		r = walk_net(w, names[i] + 6, depth + 1);
	}
	free_names(names);
	if (lower || r < 0)
		return r;
	/* Kernels without adjacency links still list a bridge's ports in brif/. */
	if (sr_path(path, "%s/brif", real) < 0)
		return 0;
	names = sorted_names(w->sr, path);
	for (size_t i = 0; r == 0 && names && names[i]; i++)
		r = walk_net(w, names[i], depth + 1);
	free_names(names);
	return r;
}

/* Undoes the octal escapes the kernel uses in mountinfo and swaps ("\040" for a space). */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

/* Splits one mountinfo line in place: "ID PARENT MAJ:MIN ROOT POINT OPTS [OPT...] - TYPE SRC SOPTS". */
static bool parse_mount(char *line, struct hostdev_mount *m)
{
	char *f[8], *save = NULL, *tok;
	int i = 0;

	for (tok = strtok_r(line, " ", &save); tok && i < 6; tok = strtok_r(NULL, " ", &save))
		f[i++] = tok;
	if (i < 6 || sscanf(f[2], "%u:%u", &m->maj, &m->min) != 2)
		return false;
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return false;
	m->fstype = strtok_r(NULL, " ", &save);
	m->source = strtok_r(NULL, " ", &save);
	if (!m->fstype || !m->source)
		return false;
	m->point = f[4];
	unescape_octal(m->point);
	unescape_octal(m->source);
	return true;
}

/* Records the owners of the partitions whose udev data says they belong to ZFS pool POOL. */
static int walk_zfs_pool(struct walk *w, const char *pool)
{
	char path[SR_PATH_MAX], devno[32], label[300];
	char **names;
	int r = 0;

	if (snprintf(label, sizeof(label), "\nE:ID_FS_LABEL=%s\n", pool) >= (int)sizeof(label))
		return 0;
	names = sorted_names(w->sr, "/sys/class/block");
	for (size_t i = 0; r == 0 && names && names[i]; i++) {
		_cleanup_free_ char *data = NULL;
		const char *name = names[i];
		char top[300];

		if (sr_path(path, "/sys/class/block/%s/dev", name) < 0 ||
		    sr_read_str(w->sr, path, devno, sizeof(devno)) <= 0)
			continue;
		if (sr_path(path, "/run/udev/data/b%s", devno) < 0 ||
		    read_text(w->sr, path, 1u << 20, &data) < 0)
			continue;
		if (!strstr(data, "\nE:ID_FS_TYPE=zfs_member\n") && !str_has_prefix(data, "E:ID_FS_TYPE=zfs_member\n"))
			continue;
		if (!strstr(data, label) && !str_has_prefix(data, label + 1))
			continue;
		snprintf(top, sizeof(top), "zfs pool %s", pool);
		w->top = top;
		if (sr_path(path, "/sys/class/block/%s", name) == 0)
			r = walk_block(w, path, 0);
		w->top = NULL;
	}
	free_names(names);
	return r;
}

static int scan_mount(const struct sysroot *sr, struct hostdev *h, const struct hostdev_mount *m)
{
	char what[SR_PATH_MAX + 16], path[SR_PATH_MAX], real[SR_PATH_MAX];
	struct walk w = { .sr = sr, .h = h, .what = what, .sep = " on " };

	snprintf(what, sizeof(what), "backs %s", m->point);
	if (strcmp(m->fstype, "zfs") == 0) {
		char pool[256];

		if (str_copy_n(pool, sizeof(pool), m->source, strcspn(m->source, "/")) < 0 || !pool[0])
			return 0;
		return walk_zfs_pool(&w, pool);
	}
	if (m->maj != 0) {
		if (sr_path(path, "/sys/dev/block/%u:%u", m->maj, m->min) < 0)
			return 0;
		/* The name the mount starts from ("dm-0"), to say "dm-0 on sda3". */
		if (sr_realpath(sr, path, real) == 0)
			w.top = base_name(real);
		return walk_block(&w, path, 0);
	}
	/* btrfs and friends show an anonymous 0:N device; their source still names the disk. */
	if (str_has_prefix(m->source, "/dev/") && sr_realpath(sr, m->source, real) == 0 &&
	    sr_path(path, "/sys/class/block/%s", base_name(real)) == 0) {
		w.top = base_name(real);
		return walk_block(&w, path, 0);
	}
	return 0;
}

/* True when mounts A and B sit on the same storage: one device, or one ZFS pool. */
static bool same_backing(const struct hostdev_mount *a, const struct hostdev_mount *b)
{
	size_t pa, pb;

	if (a->maj != 0 || b->maj != 0)
		return a->maj == b->maj && a->min == b->min;
	if (strcmp(a->fstype, b->fstype) != 0)
		return false;
	if (strcmp(a->fstype, "zfs") != 0)
		return strcmp(a->source, b->source) == 0;
	pa = strcspn(a->source, "/");
	pb = strcspn(b->source, "/");
	return pa == pb && strncmp(a->source, b->source, pa) == 0;
}

int hostdev_parse_mountinfo(char *text, struct hostdev_mount **ret, int *ret_n)
{
	struct hostdev_mount *m = NULL;
	int n = 0, cap = 0;

	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (n == cap) {
			int nc = cap ? cap * 2 : 64;
			struct hostdev_mount *nm;

			if (nc > HD_MAX_MOUNTS) {
				free(m);
				return -E2BIG;
			}
			nm = realloc(m, (size_t)nc * sizeof(*nm));
			if (!nm) {
				free(m);
				return -ENOMEM;
			}
			m = nm;
			cap = nc;
		}
		if (parse_mount(line, &m[n]))
			n++;
	}
	*ret = m;
	*ret_n = n;
	return 0;
}

static int scan_mounts(const struct sysroot *sr, struct hostdev *h)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ struct hostdev_mount *m = NULL;
	int n = 0, r;

	r = read_text(sr, "/proc/self/mountinfo", HD_TEXT_MAX, &text);
	if (r < 0)
		return r;
	r = hostdev_parse_mountinfo(text, &m, &n);
	if (r < 0)
		return r;
	/* "/" first, so the reason a device is refused names the root filesystem. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			bool root = strcmp(m[i].point, "/") == 0, seen = false;

			if (root != (pass == 0))
				continue;
			/* Bind mounts and containers repeat a device many times; the first is enough. */
			for (int j = 0; j < i && !seen; j++)
				seen = same_backing(&m[i], &m[j]);
			if (seen && !(root && pass == 0))
				continue;
			r = scan_mount(sr, h, &m[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int scan_swaps(const struct sysroot *sr, struct hostdev *h)
{
	_cleanup_free_ char *text = NULL;
	int r = read_text(sr, "/proc/swaps", HD_TEXT_MAX, &text);

	if (r == -ENOENT)
		return 0; /* a kernel without swap support */
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		char *save = NULL, *file, *type, real[SR_PATH_MAX], path[SR_PATH_MAX];
		struct walk w = { .sr = sr, .h = h, .what = "holds active swap", .sep = " on " };

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line == text)
			continue; /* header */
		file = strtok_r(line, " \t", &save);
		type = strtok_r(NULL, " \t", &save);
		/* A swap file lives on a mounted filesystem, which is already recorded. */
		if (!file || !type || strcmp(type, "partition") != 0)
			continue;
		unescape_octal(file);
		if (sr_realpath(sr, file, real) < 0 ||
		    sr_path(path, "/sys/class/block/%s", base_name(real)) < 0)
			continue;
		w.top = base_name(real);
		r = walk_block(&w, path, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Interface names carrying a default route, from /proc/net/route and /proc/net/ipv6_route. */
/* Adds IFNAME to IFS (N used of MAX) unless it is there; returns the new count. */
static int add_iface(char (*ifs)[32], int n, int max, const char *ifname)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ifs[i], ifname) == 0)
			return n;
	if (n < max)
		snprintf(ifs[n++], 32, "%s", ifname);
	return n;
}

int hostdev_parse_routes(char *v4, char *v6, char (*ifs)[32], int max)
{
	int n = 0;

	for (char *line = v4, *next; line && *line; line = next) {
		char ifname[32];
		unsigned long dest, mask, flags;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex, header skipped) */
		if (sscanf(line, "%31s %lx %*x %lx %*d %*d %*d %lx", ifname, &dest, &flags, &mask) != 4)
			continue;
		if (dest != 0 || mask != 0 || !(flags & 0x1 /* RTF_UP */))
			continue;
		n = add_iface(ifs, n, max, ifname);
	}
	for (char *line = v6, *next; line && *line; line = next) {
		char dest[40], ifname[32];
		unsigned plen;
		unsigned long flags;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* dest plen src splen nexthop metric refcnt use flags iface */
		if (sscanf(line, "%39s %x %*s %*x %*s %*x %*x %*x %lx %31s", dest, &plen, &flags,
			   ifname) != 4)
			continue;
		if (plen != 0 || strspn(dest, "0") != strlen(dest) || !(flags & 0x1) ||
		    (flags & 0x200 /* RTF_REJECT */) || strcmp(ifname, "lo") == 0)
			continue;
		n = add_iface(ifs, n, max, ifname);
	}
	return n;
}

static int default_route_ifaces(const struct sysroot *sr, char (*ifs)[32], int max)
{
	_cleanup_free_ char *v4 = NULL;
	_cleanup_free_ char *v6 = NULL;
	int r;

	r = read_text(sr, "/proc/net/route", HD_TEXT_MAX, &v4);
	if (r < 0 && r != -ENOENT)
		return r;
	r = read_text(sr, "/proc/net/ipv6_route", HD_TEXT_MAX, &v6);
	if (r < 0 && r != -ENOENT)
		return r;
	return hostdev_parse_routes(v4, v6, ifs, max);
}

static int scan_routes(const struct sysroot *sr, struct hostdev *h)
{
	char ifs[16][32];
	int n = default_route_ifaces(sr, ifs, 16), r = 0;

	for (int i = 0; i < n && r == 0; i++) {
		struct walk w = { .sr = sr, .h = h, .what = "carries the default route",
				  .top = ifs[i], .sep = " via " };

		r = walk_net(&w, ifs[i], 0);
	}
	return n < 0 ? n : r;
}

int hostdev_scan(const struct sysroot *sr, struct hostdev **ret)
{
	struct hostdev *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	r = scan_mounts(sr, h);
	if (r == 0)
		r = scan_swaps(sr, h);
	if (r == 0)
		r = scan_routes(sr, h);
	if (r < 0) {
		hostdev_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

struct hostdev *hostdev_free(struct hostdev *h)
{
	if (h) {
		free(h->e);
		free(h);
	}
	return NULL;
}

int hostdev_is_critical(const struct hostdev *h, const char *pci_name, char *why, size_t whysize)
{
	int first = -1, more = 0;

	for (int i = 0; i < h->n; i++) {
		if (strcmp(h->e[i].dev, pci_name) != 0)
			continue;
		if (first < 0)
			first = i;
		else
			more++;
	}
	if (first < 0)
		return 0;
	if (why && whysize) {
		if (more)
			snprintf(why, whysize, "%s, and %d more", h->e[first].why, more);
		else
			snprintf(why, whysize, "%s", h->e[first].why);
	}
	return 1;
}

int hostdev_count(const struct hostdev *h)
{
	return h->n;
}

const char *hostdev_device(const struct hostdev *h, int i)
{
	return i >= 0 && i < h->n ? h->e[i].dev : NULL;
}

const char *hostdev_reason(const struct hostdev *h, int i)
{
	return i >= 0 && i < h->n ? h->e[i].why : NULL;
}

int hostdev_critical(const struct sysroot *sr, const char *pci_name, char *why, size_t whysize)
{
	struct hostdev *h;
	int r = hostdev_scan(sr, &h);

	if (r < 0)
		return r;
	r = hostdev_is_critical(h, pci_name, why, whysize);
	hostdev_free(h);
	return r;
}
