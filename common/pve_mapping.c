/* pve_mapping.c - Proxmox's PCI resource mappings (/etc/pve/mapping/pci.cfg): one parser of
 * the file (mapping_entries), Proxmox's validation of a mapping's entries against the
 * hardware, and the alternatives a start chooses from (see pve_conf.h). */
#define _GNU_SOURCE
#include "pve_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci_dev.h"
#include "sysfs.h"
#include "util.h"

#define MAPPING_FILE "/etc/pve/mapping/pci.cfg"
#define MAPPING_MAX (1 << 20)

/* One "map" entry of a mapping: "node=pve1,path=0000:01:00;0000:01:00.1,id=10de:2231,...". */
struct map_entry {
	char node[128];
	char path[512];
	char id[16];
	char subsys[16];      /* subsystem-id, "" when not given */
	char iommugroup[16];  /* "" when not given */
};

static int parse_map_entry(const char *value, struct map_entry *m)
{
	char buf[1024], *save = NULL;

	memset(m, 0, sizeof(*m));
	if (str_copy(buf, sizeof(buf), value) < 0)
		return -EINVAL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');

		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (!strcmp(t, "node") && str_copy(m->node, sizeof(m->node), eq + 1) < 0)
			return -EINVAL;
		if (!strcmp(t, "path") && str_copy(m->path, sizeof(m->path), eq + 1) < 0)
			return -EINVAL;
		if (!strcmp(t, "id") && str_copy(m->id, sizeof(m->id), eq + 1) < 0)
			return -EINVAL;
		if (!strcmp(t, "subsystem-id") && str_copy(m->subsys, sizeof(m->subsys), eq + 1) < 0)
			return -EINVAL;
		if (!strcmp(t, "iommugroup") && str_copy(m->iommugroup, sizeof(m->iommugroup), eq + 1) < 0)
			return -EINVAL;
	}
	return m->node[0] && m->path[0] && m->id[0] ? 0 : -EINVAL;
}

/* Reads /etc/pve/mapping/pci.cfg for mapping NAME, with the one message for each failure. */
static int read_mapping_file(const struct sysroot *sr, const char *name, char **text, char *err,
			     size_t errsize)
{
	int r = pve_conf_slurp(sr, MAPPING_FILE, MAPPING_MAX, text);

	if (r == -ENOENT) {
		pve_conf_errf(err, errsize, "PCI device mapping not found for '%s' (no mapping file)", name);
		return -ENODEV;
	}
	if (r < 0) {
		pve_conf_errf(err, errsize, "cannot read the PCI mapping file '/etc/pve/mapping/pci.cfg': %s",
		     r == -EINVAL ? "contains a NUL byte" : sr_strerror(r));
		return r;
	}
	return 0;
}

struct map_line {
	int line;
	char value[768];
};

/* The one parser of the mapping file: the map entries of mapping NAME for NODE in TEXT, with
 * their lines, and the section's mdev flag. SectionConfig's rules: a header alone on its
 * line in column 0, indented "key value" lines, a line starting with '#' (in any column) is
 * skipped and does not end the section, an empty line ends it. Returns how many, or -E2BIG. */
static int mapping_entries(const char *text, const char *name, const char *node,
			   struct map_line *out, int max, bool *mdev)
{
	const char *p = text;
	bool in = false;
	int lineno = 0, n = 0;

	*mdev = false;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[1024], *t, *v;
		struct map_entry m;

		lineno++;
		if (len >= sizeof(buf)) {
			p += len + (nl ? 1 : 0);
			continue; /* longer than any valid line: Proxmox fails to parse it too */
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (nl ? 1 : 0);
		t = str_trim(buf);
		if (*t == '#')
			continue;
		if (!*t) {
			in = false;
			continue;
		}
		if (buf[0] != ' ' && buf[0] != '\t') {
			in = !strcmp(t, name);
			continue;
		}
		if (!in)
			continue;
		v = t + strcspn(t, " \t");
		if (*v)
			*v++ = '\0';
		v = str_trim(v);
		if (!strcmp(t, "mdev")) {
			if (parse_bool(v, mdev) < 0)
				*mdev = false;
			continue;
		}
		if (strcmp(t, "map") != 0 || parse_map_entry(v, &m) < 0 || strcmp(m.node, node) != 0)
			continue; /* Proxmox warns about an unparsable entry and skips it */
		if (n >= max)
			return -E2BIG;
		out[n].line = lineno;
		snprintf(out[n].value, sizeof(out[n].value), "%s", v);
		n++;
	}
	return n;
}

/* A sysfs id attribute ("0x10de") without its 0x, as Proxmox reads it; false when absent. */
static bool read_id_attr(const struct sysroot *sr, const char *dev, const char *attr, char *out,
			 size_t size)
{
	char path[SR_PATH_MAX], buf[32];

	if (sysfs_pci_dev(path, dev, attr) < 0 ||
	    sr_read_str(sr, path, buf, sizeof(buf)) < 0)
		return false;
	return str_copy(out, size, str_has_prefix(buf, "0x") ? buf + 2 : buf) == 0;
}

/* VALUE with every "0x" removed (Proxmox's s/0x//g before comparing). */
static void strip_0x(const char *value, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = value; *p && n + 1 < size; p++) {
		if (p[0] == '0' && p[1] == 'x') {
			p++;
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

/* The entry VALUE with id, subsystem-id and iommugroup set to what the hardware has now
 * (keys whose value is NULL dropped), other keys kept in their order. */
static void fixed_entry(const char *value, const char *id, const char *subsys, const char *group,
			char *out, size_t size)
{
	char buf[1024], *save = NULL;
	bool have_id = false, have_sub = false, have_grp = false;
	size_t n = 0;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const char *key = t, *v = strchr(t, '=');
		char item[600];

		if (str_has_prefix(key, "id=")) {
			have_id = true;
			v = id;
			key = "id";
		} else if (str_has_prefix(key, "subsystem-id=")) {
			have_sub = true;
			v = subsys;
			key = "subsystem-id";
		} else if (str_has_prefix(key, "iommugroup=")) {
			have_grp = true;
			v = group;
			key = "iommugroup";
		} else {
			v = NULL;
		}
		if (v)
			snprintf(item, sizeof(item), "%s=%s", key, v);
		else if (key == t)
			snprintf(item, sizeof(item), "%s", t);
		else
			continue; /* a key the hardware no longer has */
		n = strlen(out);
		snprintf(out + n, size - n, "%s%s", n ? "," : "", item);
	}
	n = strlen(out);
	if (!have_id && id)
		snprintf(out + n, size - n, ",id=%s", id);
	n = strlen(out);
	if (!have_grp && group)
		snprintf(out + n, size - n, ",iommugroup=%s", group);
	n = strlen(out);
	if (!have_sub && subsys)
		snprintf(out + n, size - n, ",subsystem-id=%s", subsys);
}

/* assert_valid for one entry: 0, or -EINVAL with Proxmox's message in MSG and the fixed entry
 * in FIXED ("" when an edit cannot help). */
static int map_entry_valid(const struct sysroot *sr, const char *name, const char *value,
			   bool mdev_cfg, char *msg, size_t msgsize, char *fixed, size_t fsize)
{
	struct map_entry m;
	struct pve_pci_id ids[PVE_MAX_IDS];
	char want_id[16] = "", want_sub[16] = "", want_grp[16] = "";
	bool want_has_sub = false, want_has_grp = false, fixable = true;
	int nids, bad = 0;

	fixed[0] = '\0';
	if (parse_map_entry(value, &m) < 0 || pve_conf_parse_ids(m.path, true, ids, &nids, NULL, 0) < 0)
		return 0; /* skipped as unparsable, as Proxmox does */
	for (int i = 0; i < nids; i++) {
		struct pci_addr a = ids[i].addr;
		struct pci_dev_info d;
		char dev[PCI_ADDR_LEN], path[SR_PATH_MAX], sv[16], sd[16];
		char exp_id[16], exp_sub[40] = "", exp_grp[16] = "", exp_mdev[4];
		bool has_sub, has_mdev;

		if (!ids[i].has_func)
			a.func = 0;
		pci_addr_fmt(&a, dev);
		if (pcidev_read(sr, dev, &d) < 0) {
			if (!bad)
				snprintf(msg, msgsize, "pci device '%s' not found", dev);
			return -EINVAL; /* the path names hardware that is gone: no edit of ids helps */
		}
		snprintf(exp_id, sizeof(exp_id), "%04x:%04x", d.vendor, d.device);
		has_sub = read_id_attr(sr, dev, "subsystem_vendor", sv, sizeof(sv)) &&
			  read_id_attr(sr, dev, "subsystem_device", sd, sizeof(sd));
		if (has_sub)
			snprintf(exp_sub, sizeof(exp_sub), "%s:%s", sv, sd);
		if (d.iommu_group >= 0)
			snprintf(exp_grp, sizeof(exp_grp), "%d", d.iommu_group);
		has_mdev = (sysfs_pci_dev(path, dev, "mdev_supported_types") == 0 &&
			    sr_exists(sr, path)) ||
			   (sysfs_pci_dev(path, dev, "nvidia") == 0 &&
			    sr_exists(sr, path));
		snprintf(exp_mdev, sizeof(exp_mdev), "%d", has_mdev ? 1 : 0);
		if (i == 0) {
			snprintf(want_id, sizeof(want_id), "%s", exp_id);
			snprintf(want_sub, sizeof(want_sub), "%.15s", exp_sub);
			snprintf(want_grp, sizeof(want_grp), "%s", exp_grp);
			want_has_sub = has_sub;
			want_has_grp = d.iommu_group >= 0;
		} else if (strcmp(want_id, exp_id) || strncmp(want_sub, exp_sub, 15)) {
			fixable = false; /* one id= cannot describe parts with different ids */
		}
		/* Proxmox's order: sorted property names. */
		static const char *const props[] = { "id", "iommugroup", "mdev", "subsystem-id" };
		for (size_t k = 0; k < ARRAY_SIZE(props) && !bad; k++) {
			const char *prop = props[k], *exp, *conf;

			if (!strcmp(prop, "iommugroup") && i > 0)
				continue; /* only the first device's group is checked */
			if (!strcmp(prop, "id")) {
				exp = exp_id;
				conf = m.id[0] ? m.id : NULL;
			} else if (!strcmp(prop, "iommugroup")) {
				exp = exp_grp[0] ? exp_grp : NULL;
				conf = m.iommugroup[0] ? m.iommugroup : NULL;
			} else if (!strcmp(prop, "mdev")) {
				exp = exp_mdev;
				conf = mdev_cfg ? "1" : "0";
			} else {
				exp = has_sub ? exp_sub : NULL;
				conf = m.subsys[0] ? m.subsys : NULL;
			}
			if (!exp && !conf)
				continue;
			if (exp && !conf) {
				snprintf(msg, msgsize, "missing expected property '%s' for device '%s'",
					 prop, dev);
				bad = 1;
			} else if (!exp && conf) {
				snprintf(msg, msgsize, "unexpected property '%s' configured for device "
					 "'%s'", prop, dev);
				bad = 1;
			} else {
				char e[48], c2[48];

				strip_0x(exp, e, sizeof(e));
				strip_0x(conf, c2, sizeof(c2));
				if (strcmp(e, c2) != 0) {
					snprintf(msg, msgsize, "'%s' does not match for '%s' (%s != %s)",
						 prop, name, e, c2);
					bad = 1;
				}
			}
			if (bad && !strcmp(prop, "mdev"))
				fixable = false; /* the section's flag, not the entry */
		}
	}
	if (!bad)
		return 0;
	if (fixable)
		fixed_entry(value, want_id, want_has_sub ? want_sub : NULL,
			    want_has_grp ? want_grp : NULL, fixed, fsize);
	return -EINVAL;
}

/* The alternatives of MAP from the entries LINES (N of them): nentries counts them all, nalts
 * those whose path parses. */
static void mapping_alts(const struct map_line *lines, int n, struct pve_mapping *map)
{
	map->nentries = n;
	map->nalts = 0;
	for (int i = 0; i < n; i++) {
		struct pve_map_alt *a = &map->alts[map->nalts];
		struct map_entry m;

		if (parse_map_entry(lines[i].value, &m) < 0 ||
		    pve_conf_parse_ids(m.path, true, a->ids, &a->nids, NULL, 0) < 0)
			continue; /* counts as an entry for the node, but gives no device */
		memcpy(a->id, m.id, sizeof(a->id));
		map->nalts++;
	}
}

int pve_mapping_parse(const char *text, const char *name, const char *node,
		      struct pve_mapping *ret)
{
	_cleanup_free_ struct map_line *lines = calloc(PVE_MAX_MAP_ALTS, sizeof(*lines));
	bool mdev;
	int n;

	ret->nalts = ret->nentries = 0;
	if (!lines)
		return -ENOMEM;
	n = mapping_entries(text, name, node, lines, PVE_MAX_MAP_ALTS, &mdev);
	if (n < 0)
		return n;
	mapping_alts(lines, n, ret);
	return 0;
}

/* Reads the mapping file once and finds NAME's entries for NODE (LINES, *N, *MDEV), with the
 * one message for each failure. */
static int mapping_read(const struct sysroot *sr, const char *name, const char *node,
			struct map_line *lines, int *n, bool *mdev, char *err, size_t errsize)
{
	char *text = NULL;
	int r = read_mapping_file(sr, name, &text, err, errsize);

	if (r < 0)
		return r;
	*n = mapping_entries(text, name, node, lines, PVE_MAX_MAP_ALTS, mdev);
	free(text);
	if (*n < 0)
		return pve_conf_errf(err, errsize, "mapping '%s': more than %d entries for node '%s'",
				     name, PVE_MAX_MAP_ALTS, node);
	if (*n == 0) {
		pve_conf_errf(err, errsize, "PCI device mapping not found for '%s' on node '%s'", name,
			      node);
		return -ENODEV;
	}
	return 0;
}

/* Proxmox's check of each of the N entries LINES of NAME against the hardware. */
static int mapping_check(const struct sysroot *sr, const char *name, const struct map_line *lines,
			 int n, bool mdev, struct pve_map_problem *prob, char *err, size_t errsize)
{
	char msg[256], fixed[768];

	for (int i = 0; i < n; i++) {
		if (map_entry_valid(sr, name, lines[i].value, mdev, msg, sizeof(msg), fixed,
				    sizeof(fixed)) == 0)
			continue;
		pve_conf_errf(err, errsize, "PCI device mapping invalid (hardware probably changed): %s",
			      msg);
		if (prob) {
			prob->line = lines[i].line;
			snprintf(prob->entry, sizeof(prob->entry), "%s", lines[i].value);
			snprintf(prob->fixed, sizeof(prob->fixed), "%s", fixed);
		}
		return -EINVAL;
	}
	return 0;
}

int pve_mapping_validate(const struct sysroot *sr, const char *name, const char *node,
			 struct pve_map_problem *prob, char *err, size_t errsize)
{
	return pve_mapping_load(sr, name, node, NULL, prob, err, errsize);
}

int pve_mapping_load(const struct sysroot *sr, const char *name, const char *node,
		     struct pve_mapping *map, struct pve_map_problem *prob, char *err,
		     size_t errsize)
{
	_cleanup_free_ struct map_line *lines = calloc(PVE_MAX_MAP_ALTS, sizeof(*lines));
	bool mdev = false;
	int r, n = 0;

	if (prob)
		memset(prob, 0, sizeof(*prob));
	if (map)
		map->nalts = map->nentries = 0;
	if (!lines)
		return -ENOMEM;
	r = mapping_read(sr, name, node, lines, &n, &mdev, err, errsize);
	if (r == 0)
		r = mapping_check(sr, name, lines, n, mdev, prob, err, errsize);
	if (r == 0 && map)
		mapping_alts(lines, n, map);
	return r;
}

int pve_mapping_paths(const struct sysroot *sr, const char *name, const char *node,
		      struct pve_mapping *map)
{
	_cleanup_free_ struct map_line *lines = calloc(PVE_MAX_MAP_ALTS, sizeof(*lines));
	char err[256];
	bool mdev = false;
	int r, n = 0;

	map->nalts = map->nentries = 0;
	if (!lines)
		return -ENOMEM;
	if ((r = mapping_read(sr, name, node, lines, &n, &mdev, err, sizeof(err))) == 0)
		mapping_alts(lines, n, map);
	return r;
}
