/* pve_conf.c - see pve_conf.h. Mirrors Proxmox's own rules (qemu-server PCI.pm, SectionConfig,
 * Mapping/PCI.pm) closely enough that we act on exactly the devices Proxmox will pass through. */
#define _GNU_SOURCE
#include "pve_conf.h"
#include "pve_cluster.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "pci_dev.h"
#include "util.h"
#include "sysfs.h"

#define RESERV_MAX (256 * 1024)

int pve_conf_errf(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Proxmox's PCIRE: lower-case hex only, optional domain of 4+ digits, one function digit. */
static int parse_pve_id(const char *s, bool need_domain, struct pve_pci_id *ret)
{
	for (const char *p = s; *p; p++)
		if (isupper((unsigned char)*p))
			return -EINVAL;
	if (need_domain && strchr(s, ':') == strrchr(s, ':'))
		return -EINVAL;
	return pci_addr_parse_loose(s, &ret->addr, &ret->has_func);
}

int pve_conf_parse_ids(const char *list, bool need_domain, struct pve_pci_id *ids, int *nids,
		       char *err, size_t errsize)
{
	char buf[512], *save = NULL;

	if (str_copy(buf, sizeof(buf), list) < 0)
		return pve_conf_errf(err, errsize, "device list too long");
	*nids = 0;
	for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		if (*nids >= PVE_MAX_IDS)
			return pve_conf_errf(err, errsize, "more than %d devices in '%s'", PVE_MAX_IDS, list);
		if (parse_pve_id(t, need_domain, &ids[*nids]) < 0)
			return pve_conf_errf(err, errsize, "'%s' is not a PCI id (%sbus:slot[.function], lower-case hex)",
				    t, need_domain ? "domain:" : "[domain:]");
		(*nids)++;
	}
	if (*nids == 0)
		return pve_conf_errf(err, errsize, "empty device list");
	return 0;
}

static int parse_flag(const char *key, const char *v, bool *ret, char *err, size_t errsize)
{
	if (parse_bool(v, ret) < 0)
		return pve_conf_errf(err, errsize, "%s: '%s' is not a boolean", key, v);
	return 0;
}

int pve_hostpci_parse(const char *value, struct pve_hostpci *h, char *err, size_t errsize)
{
	char buf[1024], *save = NULL;
	bool have_host = false;
	int r, i = 0;

	memset(h, 0, sizeof(*h));
	h->rombar = true;
	if (str_copy(buf, sizeof(buf), value) < 0)
		return pve_conf_errf(err, errsize, "value too long");
	snprintf(h->value, sizeof(h->value), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		char *eq = strchr(t, '=');
		const char *key = "host", *v = t;

		if (eq) {
			*eq = '\0';
			key = t;
			v = eq + 1;
		} else if (i != 0) {
			return pve_conf_errf(err, errsize, "'%s': only the first item may omit 'host='", t);
		}
		if (!strcmp(key, "host")) {
			if (have_host)
				return pve_conf_errf(err, errsize, "host given twice");
			r = pve_conf_parse_ids(v, false, h->ids, &h->nids, err, errsize);
			if (r < 0)
				return r;
			have_host = true;
		} else if (!strcmp(key, "mapping")) {
			if (str_copy(h->mapping, sizeof(h->mapping), v) < 0 || !*v)
				return pve_conf_errf(err, errsize, "mapping: bad name");
		} else if (!strcmp(key, "driver")) {
			if (strcmp(v, "vfio") && strcmp(v, "keep"))
				return pve_conf_errf(err, errsize, "driver: '%s' is not vfio or keep", v);
			h->keep = !strcmp(v, "keep");
		} else if (!strcmp(key, "mdev")) {
			h->mdev = true;
		} else if (!strcmp(key, "pcie")) {
			if ((r = parse_flag(key, v, &h->pcie, err, errsize)) < 0)
				return r;
		} else if (!strcmp(key, "x-vga")) {
			if ((r = parse_flag(key, v, &h->x_vga, err, errsize)) < 0)
				return r;
		} else if (!strcmp(key, "rombar")) {
			if ((r = parse_flag(key, v, &h->rombar, err, errsize)) < 0)
				return r;
		} else if (!strcmp(key, "romfile")) {
			if (str_copy(h->romfile, sizeof(h->romfile), v) < 0 || strpbrk(v, ";"))
				return pve_conf_errf(err, errsize, "romfile: bad value");
		} else if (!strcmp(key, "legacy-igd")) {
			if ((r = parse_flag(key, v, &h->legacy_igd, err, errsize)) < 0)
				return r;
		} else if (!strcmp(key, "vendor-id") ||
			   !strcmp(key, "device-id") || !strcmp(key, "sub-vendor-id") ||
			   !strcmp(key, "sub-device-id")) {
			/* accepted, irrelevant to the host side */
		} else {
			return pve_conf_errf(err, errsize, "unknown option '%s'", key);
		}
	}
	if (have_host && h->mapping[0])
		return pve_conf_errf(err, errsize, "cannot set both 'host' and 'mapping'");
	if (!have_host && !h->mapping[0])
		return pve_conf_errf(err, errsize, "neither 'host' nor 'mapping' given");
	return 0;
}

/* Splits "key: value" per Proxmox (^([a-z][a-z_\-]*\d*):\s*(.+?)\s*$); 0 when not a setting. */
static int split_setting(char *line, char **key, char **value)
{
	char *p = line;

	if (!islower((unsigned char)*p))
		return 0;
	while (islower((unsigned char)*p) || *p == '_' || *p == '-')
		p++;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p != ':')
		return 0;
	*p = '\0';
	*key = line;
	*value = str_trim(p + 1);
	return **value ? 1 : 0;
}

/* The N of "hostpciN": decimal digits without a leading zero (but "0"), 0..15. */
static bool hostpci_key_index(const char *digits, unsigned long *ret)
{
	if (!isdigit((unsigned char)digits[0]) || (digits[0] == '0' && digits[1]))
		return false;
	return parse_ulong(digits, 10, PVE_MAX_HOSTPCI - 1, ret) == 0;
}

int pve_vmconf_parse(const char *text, struct pve_vmconf *c, int *err_line, char *err,
		     size_t errsize)
{
	const char *line = text;
	int lineno = 0, r;

	memset(c, 0, sizeof(*c));
	if (err_line)
		*err_line = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096], *key, *value;

		lineno++;
		if (len >= sizeof(buf)) {
			if (line[0] != '#') {
				if (err_line)
					*err_line = lineno;
				return pve_conf_errf(err, errsize, "line too long");
			}
			goto next; /* description lines may be long; we ignore them */
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		/* Proxmox matches sections and settings from column 0 (an indented line is one it
		 * cannot parse and skips); only trailing blanks are dropped */
		char *t = buf;
		if (*t == '[')
			break; /* the live configuration ends at the first section */
		if (!*t || *t == '#' || !split_setting(t, &key, &value))
			goto next; /* Proxmox too skips what it cannot parse */
		if (str_has_prefix(key, "hostpci")) {
			unsigned long n;
			struct pve_hostpci h;

			/* only hostpci0 .. hostpci15 as Proxmox names them: "hostpci00" or
			 * "hostpci015" is an unknown key to Proxmox, skipped */
			if (!hostpci_key_index(key + 7, &n))
				goto next;
			r = pve_hostpci_parse(value, &h, err, errsize);
			if (r < 0) {
				if (err_line)
					*err_line = lineno;
				if (err && errsize) {
					char tmp[256];

					snprintf(tmp, sizeof(tmp), "%s", err);
					snprintf(err, errsize, "%s: %s", key, tmp);
				}
				return r;
			}
			h.index = (int)n;
			/* a repeated key replaces the earlier one, as in Proxmox */
			int i;
			for (i = 0; i < c->nhostpci && c->hostpci[i].index != h.index; i++)
				;
			c->hostpci[i] = h;
			if (i == c->nhostpci)
				c->nhostpci++;
		} else if (!strcmp(key, "hookscript")) {
			str_copy(c->hookscript, sizeof(c->hookscript), value);
		} else if (!strcmp(key, "bios")) {
			str_copy(c->bios, sizeof(c->bios), value);
		} else if (!strcmp(key, "machine")) {
			str_copy(c->machine, sizeof(c->machine), value);
		} else if (!strcmp(key, "lock")) {
			str_copy(c->lock, sizeof(c->lock), value);
		} else if (!strcmp(key, "vga")) {
			str_copy(c->vga, sizeof(c->vga), value);
		} else if (!strcmp(key, "ostype")) {
			str_copy(c->ostype, sizeof(c->ostype), value);
		} else if (!strcmp(key, "cpu")) {
			str_copy(c->cpu, sizeof(c->cpu), value);
		} else if (!strcmp(key, "template")) {
			parse_bool(value, &c->is_template);
		} else if (!strcmp(key, "onboot")) {
			parse_bool(value, &c->onboot);
		} else if (!strcmp(key, "reboot")) {
			bool on = true;

			parse_bool(value, &on);
			c->no_reboot = !on;
		} else if (!strcmp(key, "args")) {
			str_copy(c->args, sizeof(c->args), value);
		} else if (!strcmp(key, "memory")) {
			/* "4096" or, since qemu-server 8.1, "current=4096[,...]" */
			const char *v = str_has_prefix(value, "current=") ? value + 8 : value;
			char num[24];

			snprintf(num, sizeof(num), "%.*s", (int)strcspn(v, ","), v);
			if (parse_ulong(num, 10, 1UL << 30, &c->memory_mb) < 0)
				c->memory_mb = 0;
		}
next:
		line += len + (nl ? 1 : 0);
	}
	/* Proxmox processes hostpciN in key order */
	for (int i = 1; i < c->nhostpci; i++)
		for (int j = i; j > 0 && c->hostpci[j - 1].index > c->hostpci[j].index; j--) {
			struct pve_hostpci tmp = c->hostpci[j];

			c->hostpci[j] = c->hostpci[j - 1];
			c->hostpci[j - 1] = tmp;
		}
	return 0;
}

int pve_conf_slurp(const struct sysroot *sr, const char *path, size_t max, char **ret)
{
	char *text = NULL;
	size_t len;
	int r = sr_read_file(sr, path, max, &text, &len);

	if (r < 0)
		return r;
	if (memchr(text, '\0', len)) {
		free(text);
		return -EINVAL;
	}
	*ret = text;
	return 0;
}

int pve_vmconf_load(const struct sysroot *sr, int vmid, struct pve_vmconf *c, int *err_line,
		    char *err, size_t errsize)
{
	return pve_vmconf_load_node(sr, vmid, NULL, c, err_line, err, errsize);
}

int pve_vmconf_load_node(const struct sysroot *sr, int vmid, const char *node,
			 struct pve_vmconf *c, int *err_line, char *err, size_t errsize)
{
	char path[SR_PATH_MAX], *text = NULL;
	int r;

	if (vmid < 100 || vmid > 999999999)
		return pve_conf_errf(err, errsize, "invalid VMID %d", vmid);
	if (node && !pve_node_valid(node))
		return pve_conf_errf(err, errsize, "invalid node name '%.64s'", node);
	r = node ? sr_path(path, "/etc/pve/nodes/%s/qemu-server/%d.conf", node, vmid)
		 : sr_path(path, "/etc/pve/qemu-server/%d.conf", vmid);
	if (r < 0)
		return r;
	r = pve_conf_slurp(sr, path, PVE_CONF_MAX, &text);
	if (r < 0) {
		if (err && errsize)
			snprintf(err, errsize, "cannot read '%s': %s", path,
				 r == -EINVAL ? "contains a NUL byte" : sr_strerror(r));
		return r;
	}
	r = pve_vmconf_parse(text, c, err_line, err, errsize);
	free(text);
	c->vmid = vmid;
	return r;
}

bool pve_pci_id_func(const struct pve_pci_id *id, int f, struct pci_addr *a)
{
	*a = id->addr;
	if (id->has_func)
		return f == a->func;
	a->func = (uint8_t)f;
	return true;
}

/* Appends every present device matching ID (a whole slot without function) to OUT. */
static int expand_id(const struct sysroot *sr, const struct pve_pci_id *id,
		     struct pve_devlist *out, char *err, size_t errsize)
{
	char name[PCI_ADDR_LEN], path[SR_PATH_MAX];
	int found = 0;

	for (int f = 0; f < 8; f++) {
		struct pci_addr a;

		if (!pve_pci_id_func(id, f, &a))
			continue;
		pci_addr_fmt(&a, name);
		if (sysfs_pci_dev(path, name, NULL) < 0 || !sr_exists(sr, path))
			continue;
		for (int i = 0; i < out->n; i++)
			if (!strcmp(out->names[i], name))
				return pve_conf_errf(err, errsize, "device '%s' listed more than once", name);
		if (out->n >= (int)ARRAY_SIZE(out->names))
			return pve_conf_errf(err, errsize, "too many devices");
		strcpy(out->names[out->n++], name);
		found++;
	}
	if (!found) {
		pci_addr_fmt(&id->addr, name);
		if (!id->has_func)
			name[strlen(name) - 2] = '\0';
		pve_conf_errf(err, errsize, "no PCI device found for '%s'", name);
		return -ENODEV;
	}
	return 0;
}

static bool pid_alive(const struct sysroot *sr, unsigned long pid)
{
	char path[SR_PATH_MAX];

	return sr_path(path, "/proc/%lu", pid) == 0 && sr_exists(sr, path);
}

int pve_reserved_by_others(const struct sysroot *sr, const char *const *names, int n, int vmid,
			   int *owners)
{
	char *text = NULL, *save = NULL;
	int r;

	for (int i = 0; i < n; i++)
		owners[i] = 0;
	r = pve_conf_slurp(sr, "/run/qemu-server/pci-id-reservations", RESERV_MAX, &text);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char id[64], how[64];
		unsigned long v, other;
		int k = -1;

		if (sscanf(line, "%63s %lu %63s", id, &other, how) != 3 || (int)other == vmid)
			continue;
		for (int i = 0; i < n && k < 0; i++)
			if (!owners[i] && !strcmp(id, names[i]))
				k = i;
		if (k < 0)
			continue;
		if (!strncmp(how, "time:", 5) && parse_ulong(how + 5, 10, ~0UL, &v) == 0 &&
		    v > (unsigned long)time(NULL))
			owners[k] = (int)other;
		else if (!strncmp(how, "pid:", 4) && parse_ulong(how + 4, 10, ~0UL, &v) == 0 &&
			 pid_alive(sr, v))
			owners[k] = (int)other;
	}
	free(text);
	return 0;
}

int pve_reserved_by_other(const struct sysroot *sr, const char *name, int vmid)
{
	int who = 0, r = pve_reserved_by_others(sr, &name, 1, vmid, &who);

	return r < 0 ? r : who;
}

static bool listed(const struct pve_devlist *l, const char *name)
{
	for (int i = 0; l && i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

/* TAKEN: devices earlier hostpci entries of the VM use; an alternative touching one is skipped,
 * as Proxmox's choose_hostpci_devices does. */
static int expand_mapping(const struct sysroot *sr, const struct pve_hostpci *h, const char *node,
			  int vmid, const struct pve_devlist *taken, const struct pve_busy *inuse,
			  struct pve_devlist *out, char *err, size_t errsize)
{
	struct pve_mapping *map = malloc(sizeof(*map));
	int r;

	out->n = 0;
	if (!map)
		return -ENOMEM;
	/* Proxmox validates every entry of this node before it chooses one. */
	r = pve_mapping_load(sr, h->mapping, node, map, NULL, err, errsize);
	if (r < 0) {
		free(map);
		return r;
	}
	r = -ENODEV;
	for (int k = 0; k < map->nalts; k++) {
		const struct pve_map_alt *a = &map->alts[k];
		bool busy = false, gone = false;

		out->n = 0;
		for (int i = 0; i < a->nids && !gone; i++)
			gone = expand_id(sr, &a->ids[i], out, NULL, 0) < 0;
		if (gone)
			continue;
		for (int i = 0; i < out->n && !busy; i++)
			busy = listed(taken, out->names[i]) ||
			       pve_reserved_by_other(sr, out->names[i], vmid) > 0 ||
			       (inuse && inuse->fn(inuse->data, out->names[i]));
		if (busy)
			continue;
		r = 0;
		break;
	}
	if (r == -ENODEV) { /* (a mapping without entries for NODE failed to load) */
		out->n = 0;
		pve_conf_errf(err, errsize, "could not find a free device for mapping '%s'", h->mapping);
	}
	free(map);
	return r;
}

int pve_hostpci_expand(const struct sysroot *sr, const struct pve_hostpci *h, const char *node,
		       int vmid, struct pve_devlist *out, char *err, size_t errsize)
{
	int r;

	out->n = 0;
	if (h->keep || h->mdev)
		return 0;
	if (h->mapping[0])
		return expand_mapping(sr, h, node, vmid, NULL, NULL, out, err, errsize);
	for (int i = 0; i < h->nids; i++) {
		r = expand_id(sr, &h->ids[i], out, err, errsize);
		if (r < 0)
			return r;
	}
	return 0;
}

void pve_node_name(const char *given, char *buf, size_t size)
{
	struct utsname u;

	if (given && given[0] && str_copy(buf, size, given) == 0)
		return;
	if (uname(&u) == 0) {
		u.nodename[strcspn(u.nodename, ".")] = '\0';
		if (u.nodename[0] && str_copy(buf, size, u.nodename) == 0)
			return;
	}
	str_copy(buf, size, "localhost");
}

int pve_vmid_parse(const char *s, int *ret)
{
	unsigned long v;

	if (!s || s[0] < '1' || s[0] > '9' || parse_ulong(s, 10, 999999999, &v) < 0 || v < 100)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

static int expand_all(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
		      const struct pve_busy *inuse, struct pve_hostpci_result *res,
		      struct pve_devlist *all, int *err_index)
{
	int first = 0;

	all->n = 0;
	for (int i = 0; i < c->nhostpci; i++) {
		const struct pve_hostpci *h = &c->hostpci[i];
		struct pve_hostpci_result *e = &res[i];
		struct pve_devlist *l = &e->devs;
		int r;

		e->err[0] = '\0';
		if (h->mapping[0] && !h->keep && !h->mdev)
			r = expand_mapping(sr, h, node, c->vmid, all, inuse, l, e->err,
					   sizeof(e->err));
		else
			r = pve_hostpci_expand(sr, h, node, c->vmid, l, e->err, sizeof(e->err));
		for (int k = 0; r == 0 && k < l->n; k++)
			if (listed(all, l->names[k]))
				r = pve_conf_errf(e->err, sizeof(e->err), "device '%s' assigned more than once",
					 l->names[k]);
		if (r == 0 && all->n + l->n > (int)ARRAY_SIZE(all->names))
			r = pve_conf_errf(e->err, sizeof(e->err), "too many devices");
		e->rc = r;
		if (r < 0) {
			l->n = 0;
			if (!first) {
				first = r;
				*err_index = h->index;
			}
			continue;
		}
		for (int k = 0; k < l->n; k++)
			strcpy(all->names[all->n++], l->names[k]);
	}
	return first;
}

int pve_vmconf_expand_all(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
			  struct pve_hostpci_result *res, struct pve_devlist *all, int *err_index)
{
	return expand_all(sr, c, node, NULL, res, all, err_index);
}

int pve_vmconf_expand(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
		      struct pve_devlist *ret, int *err_index, char *err, size_t errsize)
{
	return pve_vmconf_expand_busy(sr, c, node, NULL, ret, err_index, err, errsize);
}

int pve_vmconf_expand_busy(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
			   const struct pve_busy *inuse, struct pve_devlist *ret, int *err_index,
			   char *err, size_t errsize)
{
	_cleanup_free_ struct pve_hostpci_result *res = calloc(PVE_MAX_HOSTPCI, sizeof(*res));
	int r;

	if (!res)
		return -ENOMEM;
	*err_index = 0;
	r = expand_all(sr, c, node, inuse, res, ret, err_index);
	for (int i = 0; r < 0 && i < c->nhostpci; i++)
		if (res[i].rc < 0) {
			if (err && errsize)
				snprintf(err, errsize, "%s", res[i].err);
			break;
		}
	return r;
}

/* --- mapping validation (Proxmox's PVE::Mapping::PCI::assert_valid) ------------------------ */
