/* pve_lxc.c - see pve_lxc.h. */
#define _GNU_SOURCE
#include "pve_lxc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "pve_conf.h"
#include "sysfs.h"
#include "util.h"

#define LXC_DIR "/etc/pve/lxc"

static int errf(char *err, size_t size, int line, int *err_line, const char *fmt, const char *a)
{
	if (err_line)
		*err_line = line;
	if (err && size)
		snprintf(err, size, fmt, a);
	return -EINVAL;
}

/* A device path a config may name: "/dev/" then printable characters without spaces, commas
 * or "..", no empty component, bounded. */
static bool dev_path_valid(const char *p, size_t len)
{
	if (len < 6 || len >= LXC_PATH_MAX || strncmp(p, "/dev/", 5))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)p[i]) || p[i] == ',')
			return false;
	if (strstr(p, "/..") || strstr(p, "//") || strstr(p, "/./") || p[len - 1] == '/')
		return false;
	return true;
}

static int add_use(struct lxc_conf *c, enum lxc_use_kind kind, int line, int index,
		   const char *path, size_t plen)
{
	struct lxc_use *u;

	if (c->nuses >= LXC_MAX_USES)
		return -E2BIG;
	u = &c->uses[c->nuses++];
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	u->line = line;
	u->index = index;
	if (path)
		memcpy(u->path, path, plen); /* plen < LXC_PATH_MAX: checked by the caller */
	return 0;
}

/* "226", "*": the number or LXC_ANY. */
static int parse_num(const char *s, size_t len, unsigned *ret)
{
	unsigned long v = 0;

	if (len == 1 && *s == '*') {
		*ret = LXC_ANY;
		return 0;
	}
	if (len == 0 || len > 7)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 0xfffff)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* "c 226:* rwm", "a": the DRM and NVIDIA rules (and those granting every device); others
 * (a tty, a tun device, block devices) are not ours. 1 kept, 0 not ours, -EINVAL. */
static int parse_cgroup(const char *v, unsigned *major, unsigned *minor)
{
	const char *colon, *sp;

	if (!strcmp(v, "a") || str_has_prefix(v, "a ")) {
		*major = *minor = LXC_ANY;
		return 1;
	}
	if ((v[0] != 'c' && v[0] != 'b') || v[1] != ' ')
		return -EINVAL;
	colon = strchr(v + 2, ':');
	if (!colon)
		return -EINVAL;
	sp = strchr(colon, ' ');
	if (!sp)
		sp = colon + strlen(colon);
	if (parse_num(v + 2, (size_t)(colon - v - 2), major) < 0 ||
	    parse_num(colon + 1, (size_t)(sp - colon - 1), minor) < 0)
		return -EINVAL;
	if (v[0] == 'b')
		return 0;
	return *major == LXC_ANY || *major == LXC_MAJOR_DRM || *major == LXC_MAJOR_NVIDIA;
}

/* One "key: value" line (both trimmed). 0 or -errno. */
static int parse_line(struct lxc_conf *c, int line, const char *key, const char *v, int *err_line,
		      char *err, size_t errsize)
{
	unsigned long n;
	int r;

	if (!strcmp(key, "hostname")) {
		str_copy_n(c->hostname, sizeof(c->hostname), v, strcspn(v, " \t"));
		return 0;
	}
	if (str_has_prefix(key, "dev") && isdigit((unsigned char)key[3])) {
		size_t len;

		if (parse_ulong(key + 3, 10, 255, &n) < 0)
			return 0; /* devices, devNAME: not a device line */
		if (str_has_prefix(v, "path="))
			v += 5;
		len = strcspn(v, ",");
		if (!dev_path_valid(v, len))
			return errf(err, errsize, line, err_line,
				    "%s: the device path is not a plain path below /dev", key);
		r = add_use(c, LXC_USE_DEV, line, (int)n, v, len);
		goto added;
	}
	if (!strcmp(key, "lxc.mount.entry")) {
		size_t len = strcspn(v, " \t");

		if (strncmp(v, "/dev/", 5) && strncmp(v, "/dev ", 5))
			return 0; /* a bind mount of a directory: storage, not a device */
		if (!str_has_prefix(v, "/dev/dri") && !str_has_prefix(v, "/dev/nvidia"))
			return 0; /* another device (a tty, a tun device): not a GPU */
		if (!dev_path_valid(v, len))
			return errf(err, errsize, line, err_line,
				    "%s: the source is not a plain path below /dev", key);
		r = add_use(c, LXC_USE_MOUNT, line, -1, v, len);
		goto added;
	}
	if (!strcmp(key, "lxc.cgroup2.devices.allow") || !strcmp(key, "lxc.cgroup.devices.allow")) {
		unsigned major, minor;

		r = parse_cgroup(v, &major, &minor);
		if (r < 0)
			return errf(err, errsize, line, err_line,
				    "%s: not a device rule ('c MAJOR:MINOR rwm' or 'a')", key);
		if (r == 0)
			return 0;
		r = add_use(c, LXC_USE_CGROUP, line, -1, NULL, 0);
		if (r == 0) {
			c->uses[c->nuses - 1].major = major;
			c->uses[c->nuses - 1].minor = minor;
			c->uses[c->nuses - 1].resolved = true;
		}
		goto added;
	}
	return 0;
added:
	if (r == -E2BIG) {
		if (err_line)
			*err_line = line;
		if (err && errsize)
			snprintf(err, errsize, "more than %d device entries", LXC_MAX_USES);
	}
	return r;
}

int pve_lxc_parse(const char *text, size_t len, struct lxc_conf *c, int *err_line, char *err,
		  size_t errsize)
{
	const char *p = text, *end = text + len;
	int line = 0, ctid = c->ctid;

	memset(c, 0, sizeof(*c));
	c->ctid = ctid;
	if (memchr(text, '\0', len))
		return errf(err, errsize, 0, err_line, "%s", "contains a NUL byte");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *colon;
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char buf[1024], *key, *v;
		int r;

		line++;
		if (ll && p[0] == '[')
			break; /* a snapshot or pending section: not the live config */
		if (ll >= sizeof(buf)) {
			/* long lines (a description) are not ours; one of ours would not fit */
			colon = memchr(p, ':', ll);
			if (colon && (str_has_prefix(p, "dev") || str_has_prefix(p, "lxc.")))
				return errf(err, errsize, line, err_line, "%s", "line too long");
			goto next;
		}
		memcpy(buf, p, ll);
		buf[ll] = '\0';
		if (buf[0] == '#' || !(colon = strchr(buf, ':')))
			goto next;
		*(char *)colon = '\0';
		key = buf;
		v = (char *)colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (char *t = v + strlen(v); t > v && isspace((unsigned char)t[-1]); *--t = '\0')
			;
		if ((r = parse_line(c, line, key, v, err_line, err, errsize)) < 0)
			return r;
	next:
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* The config's path: in /etc/pve/lxc, else below this node's directory. */
static int conf_path(const struct sysroot *sr, const char *node, int ctid, char *path)
{
	int r = sr_path(path, LXC_DIR "/%d.conf", ctid);

	if (r == 0 && !sr_exists(sr, path) && node)
		r = sr_path(path, "/etc/pve/nodes/%s/lxc/%d.conf", node, ctid);
	return r;
}

int pve_lxc_load(const struct sysroot *sr, const char *node, int ctid, struct lxc_conf *c,
		 int *err_line, char *err, size_t errsize)
{
	char path[SR_PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;

	if (err_line)
		*err_line = 0;
	if (ctid < 100 || ctid > 999999999)
		return -EINVAL;
	if ((r = conf_path(sr, node, ctid, path)) < 0)
		return r;
	r = sr_read_file(sr, path, LXC_CONF_MAX, &text, &len);
	if (r < 0) {
		if (err && errsize)
			snprintf(err, errsize, "cannot read '%s': %s", path,
				 r == -EFBIG ? "larger than 1 MiB" : sr_strerror(r));
		return r;
	}
	c->ctid = ctid;
	r = pve_lxc_parse(text, len, c, err_line, err, errsize);
	free(text);
	c->ctid = ctid;
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int list_dir(const struct sysroot *sr, const char *dir, int *ctids, int n, int max)
{
	struct dirent *de;
	DIR *d = sr_opendir(sr, dir);

	if (!d)
		return n;
	while ((de = readdir(d)) && n < max) {
		char num[16];
		size_t len = strlen(de->d_name);
		int ctid, dup = 0;

		if (len < 6 || len > 14 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		memcpy(num, de->d_name, len - 5);
		num[len - 5] = '\0';
		if (pve_vmid_parse(num, &ctid) < 0)
			continue;
		for (int i = 0; i < n; i++)
			dup |= ctids[i] == ctid;
		if (!dup)
			ctids[n++] = ctid;
	}
	closedir(d);
	return n;
}

int pve_lxc_list(const struct sysroot *sr, const char *node, int *ctids, int max)
{
	char path[SR_PATH_MAX];
	int n = list_dir(sr, LXC_DIR, ctids, 0, max);

	if (node && sr_path(path, "/etc/pve/nodes/%s/lxc", node) == 0)
		n = list_dir(sr, path, ctids, n, max);
	qsort(ctids, (size_t)n, sizeof(*ctids), cmp_int);
	return n;
}

int pve_lxc_running(const struct sysroot *sr, int ctid)
{
	char path[SR_PATH_MAX], buf[512];
	struct stat st;
	ssize_t n;
	int r;

	if ((r = sr_path(path, "/var/lib/lxc/%d", ctid)) < 0)
		return r;
	if (sr_lstat(sr, path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if ((r = sr_path(path, "/sys/fs/cgroup/lxc/%d/cgroup.events", ctid)) < 0)
		return r;
	n = sr_read_str(sr, path, buf, sizeof(buf));
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return (int)n;
	/* "populated 1": a process in it or below it */
	for (const char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (str_has_prefix(l, "populated "))
			return l[10] == '1';
	return 0;
}

int pve_lxc_of_pid(const struct sysroot *sr, pid_t pid)
{
	char path[SR_PATH_MAX], buf[4096];
	ssize_t n;
	int r;

	if ((r = sr_path(path, "/proc/%d/cgroup", (int)pid)) < 0)
		return r;
	n = sr_read(sr, path, buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		/* cgroup v2's "0::/lxc/200/ns/init.scope"; v1 lines "N:ctrl:/lxc/200/ns" */
		char *p = strstr(l, ":/lxc/"), *e;
		size_t skip = 6;
		char num[16];
		int ctid;

		if (!p) {
			p = strstr(l, ":/lxc.payload.");
			skip = 14;
		}
		if (!p || (strchr(l, '\n') && p > strchr(l, '\n')))
			continue;
		p += skip;
		e = p + strspn(p, "0123456789");
		if (e == p || e - p >= (long)sizeof(num) || (*e && *e != '/' && *e != '\n'))
			continue;
		memcpy(num, p, (size_t)(e - p));
		num[e - p] = '\0';
		if (pve_vmid_parse(num, &ctid) == 0)
			return ctid;
	}
	return 0;
}

/* "226:128\n" */
static int read_majmin(const struct sysroot *sr, const char *path, unsigned *major,
		       unsigned *minor)
{
	char buf[32];
	ssize_t n = sr_read_str(sr, path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	if (sscanf(buf, "%u:%u", major, minor) != 2 || *major > 0xfff || *minor > 0xfffff)
		return -EINVAL;
	return 0;
}

int pve_lxc_resolve(const struct sysroot *sr, struct lxc_use *u)
{
	char path[SR_PATH_MAX], target[SR_PATH_MAX];
	const char *name;
	struct stat st;
	unsigned long v;

	if (u->kind == LXC_USE_CGROUP || u->resolved)
		return 0;
	u->by_path[0] = '\0';
	if (!strcmp(u->path, "/dev/dri") || !strcmp(u->path, "/dev/dri/by-path")) {
		u->major = LXC_MAJOR_DRM;
		u->minor = LXC_ANY;
		u->resolved = true;
		return 0;
	}
	if (str_has_prefix(u->path, "/dev/dri/by-path/pci-")) {
		/* "pci-0000:03:00.0-render": the device is in the name, whatever node it has */
		struct pci_addr a;
		char bdf[PCI_ADDR_LEN + 1];

		if (str_copy_n(bdf, sizeof(bdf), u->path + 21, strcspn(u->path + 21, "-")) == 0 &&
		    pci_addr_parse(bdf, &a) == 0) {
			pci_addr_fmt(&a, u->by_path);
			u->resolved = true;
			return 0;
		}
		if (sr_readlink(sr, u->path, target, sizeof(target)) < 0)
			return -ENOENT;
		name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	} else {
		name = strrchr(u->path, '/') + 1;
	}
	/* the node itself, when it is there */
	if (sr_lstat(sr, u->path, &st) == 0 && S_ISCHR(st.st_mode)) {
		u->major = major(st.st_rdev);
		u->minor = minor(st.st_rdev);
		u->resolved = true;
		return 0;
	}
	if (str_has_prefix(u->path, "/dev/dri/")) {
		if (sr_path(path, "/sys/class/drm/%s/dev", name) < 0 ||
		    read_majmin(sr, path, &u->major, &u->minor) < 0)
			return -ENOENT;
		u->resolved = true;
		return 0;
	}
	if (str_has_prefix(u->path, "/dev/nvidia") && parse_ulong(u->path + 11, 10, 254, &v) == 0) {
		u->major = LXC_MAJOR_NVIDIA;
		u->minor = (unsigned)v;
		u->resolved = true;
		return 0;
	}
	return -ENOENT; /* another device (nvidiactl, a tty): no GPU node */
}

int pve_lxc_dev_nodes(const struct sysroot *sr, const char *name, struct lxc_node *out, int max)
{
	char path[SR_PATH_MAX], buf[4096];
	struct dirent *de;
	int n = 0, r;
	DIR *d;

	if ((r = sysfs_pci_dev(path, name, "drm")) < 0)
		return r;
	if ((d = sr_opendir(sr, path))) {
		while ((de = readdir(d)) && n < max) {
			char dev[SR_PATH_MAX];

			if (!str_has_prefix(de->d_name, "card") && !str_has_prefix(de->d_name, "render"))
				continue;
			if (strlen(de->d_name) >= sizeof(out[n].name) ||
			    snprintf(dev, sizeof(dev), "%s/%s/dev", path, de->d_name) >= (int)sizeof(dev) ||
			    read_majmin(sr, dev, &out[n].major, &out[n].minor) < 0)
				continue;
			strcpy(out[n].name, de->d_name);
			n++;
		}
		closedir(d);
	}
	if (n < max && sr_path(path, "/proc/driver/nvidia/gpus/%s/information", name) == 0 &&
	    sr_read_str(sr, path, buf, sizeof(buf)) > 0) {
		const char *m = strstr(buf, "Device Minor:");
		unsigned v;

		if (m && sscanf(m, "Device Minor: %u", &v) == 1 && v < 255) {
			snprintf(out[n].name, sizeof(out[n].name), "nvidia%u", v);
			out[n].major = LXC_MAJOR_NVIDIA;
			out[n].minor = v;
			n++;
		}
	}
	return n;
}

bool pve_lxc_use_hits(const struct lxc_use *u, const char *name, const struct lxc_node *nodes,
		      int n)
{
	if (!u->resolved)
		return false;
	if (u->by_path[0])
		return !strcmp(u->by_path, name);
	for (int i = 0; i < n; i++)
		if ((u->major == LXC_ANY || u->major == nodes[i].major) &&
		    (u->minor == LXC_ANY || u->minor == nodes[i].minor))
			return true;
	return false;
}

static void describe(const struct lxc_use *u, char *out, size_t size)
{
	char mm[2][16];

	if (u->kind == LXC_USE_DEV) {
		snprintf(out, size, "dev%d %s", u->index, u->path);
		return;
	}
	if (u->kind == LXC_USE_MOUNT) {
		snprintf(out, size, "lxc.mount.entry %s", u->path);
		return;
	}
	for (int k = 0; k < 2; k++) {
		unsigned v = k ? u->minor : u->major;

		if (v == LXC_ANY)
			snprintf(mm[k], sizeof(mm[k]), "*");
		else
			snprintf(mm[k], sizeof(mm[k]), "%u", v);
	}
	if (u->major == LXC_ANY && u->minor == LXC_ANY)
		snprintf(out, size, "lxc.cgroup2.devices.allow a");
	else
		snprintf(out, size, "lxc.cgroup2.devices.allow c %s:%s", mm[0], mm[1]);
}

int pve_lxc_users(const struct sysroot *sr, const char *node, const char *const *devs, int ndev,
		  struct lxc_user *out, int max, int *nbad, char *err, size_t errsize)
{
	struct lxc_node (*nodes)[8] = calloc((size_t)(ndev > 0 ? ndev : 1), sizeof(*nodes));
	int *nn = calloc((size_t)(ndev > 0 ? ndev : 1), sizeof(int));
	int *ctids = calloc(LXC_MAX_CTS, sizeof(int));
	struct lxc_conf *c = malloc(sizeof(*c));
	int nct, count = 0, r = 0;

	*nbad = 0;
	if (err && errsize)
		err[0] = '\0';
	if (!nodes || !nn || !ctids || !c || ndev > LXC_MAX_DEVS) {
		r = nodes && nn && ctids && c ? -E2BIG : -ENOMEM;
		goto out;
	}
	for (int i = 0; i < ndev; i++)
		if ((nn[i] = pve_lxc_dev_nodes(sr, devs[i], nodes[i], 8)) < 0)
			nn[i] = 0;
	nct = pve_lxc_list(sr, node, ctids, LXC_MAX_CTS);
	for (int k = 0; k < nct; k++) {
		char why[256];
		int line = 0, running = -1;

		if (pve_lxc_load(sr, node, ctids[k], c, &line, why, sizeof(why)) < 0) {
			if ((*nbad)++ == 0 && err && errsize) {
				if (line)
					snprintf(err, errsize, "CT %d: config line %d: %s", ctids[k],
						 line, why);
				else
					snprintf(err, errsize, "CT %d: %s", ctids[k], why);
			}
			continue;
		}
		for (int i = 0; i < ndev; i++) {
			for (int x = 0; x < c->nuses; x++) {
				struct lxc_use *u = &c->uses[x];
				struct lxc_user *o;

				if (pve_lxc_resolve(sr, u) < 0 || !pve_lxc_use_hits(u, devs[i], nodes[i], nn[i]))
					continue;
				if (count >= max)
					goto out;
				if (running < 0)
					running = pve_lxc_running(sr, ctids[k]) > 0;
				o = &out[count++];
				memset(o, 0, sizeof(*o));
				o->ctid = ctids[k];
				o->running = running;
				memcpy(o->hostname, c->hostname, sizeof(o->hostname));
				str_copy(o->dev, sizeof(o->dev), devs[i]);
				describe(u, o->what, sizeof(o->what));
				break; /* one entry per container and device: its first use */
			}
		}
	}
out:
	free(nodes);
	free(nn);
	free(ctids);
	free(c);
	return r < 0 ? r : count;
}

int pve_lxc_missing(const struct sysroot *sr, const struct lxc_conf *c,
		    char (*paths)[LXC_PATH_MAX], int max)
{
	int n = 0;

	for (int i = 0; i < c->nuses; i++) {
		const struct lxc_use *u = &c->uses[i];

		if (u->kind == LXC_USE_CGROUP || !strcmp(u->path, "/dev/dri") || sr_exists(sr, u->path))
			continue;
		if (n < max)
			memcpy(paths[n], u->path, LXC_PATH_MAX);
		n++;
	}
	return n;
}
