/* pve_users.c - see pve_users.h. */
#define _GNU_SOURCE
#include "pve_users.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pve_conf.h"
#include "sysfs.h"
#include "util.h"

#define MAX_CONFIGS 10000

static int add(struct pve_user **list, int *n, const char *dev, const struct pve_vmconf *conf,
	       const struct pve_hostpci *h)
{
	struct pve_user *l;

	for (int i = 0; i < *n; i++)
		if (!strcmp((*list)[i].dev, dev) && (*list)[i].vmid == conf->vmid)
			return 0;
	if (!(l = realloc(*list, (size_t)(*n + 1) * sizeof(*l))))
		return -ENOMEM;
	*list = l;
	memset(&l[*n], 0, sizeof(l[*n]));
	str_copy(l[*n].dev, sizeof(l->dev), dev);
	str_copy(l[*n].mapping, sizeof(l->mapping), h->mapping);
	l[*n].index = h->index;
	l[*n].vmid = conf->vmid;
	l[(*n)++].onboot = conf->onboot;
	return 0;
}

static bool listed(const struct pve_devlist *l, const char *dev)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], dev))
			return true;
	return false;
}

/* The devices of every entry of mapping H for NODE that the VM's start does not take (a whole
 * slot: its functions present now, those a start of that entry would take). */
static int add_pool(const struct sysroot *sr, const char *node, const struct pve_vmconf *conf,
		    const struct pve_hostpci *h, const struct pve_devlist *all,
		    struct pve_mapping *map, struct pve_users *u)
{
	char err[256], name[PCI_ADDR_LEN], path[SR_PATH_MAX];
	int r = 0;

	if (pve_mapping_load(sr, h->mapping, node, map, NULL, err, sizeof(err)) < 0)
		return 0;
	for (int k = 0; k < map->nalts && r == 0; k++)
		for (int i = 0; i < map->alts[k].nids && r == 0; i++) {
			const struct pve_pci_id *id = &map->alts[k].ids[i];

			for (int f = 0; f < 8 && r == 0; f++) {
				struct pci_addr a = id->addr;

				if (id->has_func && f != a.func)
					continue;
				a.func = (uint8_t)f;
				pci_addr_fmt(&a, name);
				if (!id->has_func && (sysfs_pci_dev(path, name, NULL) < 0 ||
						      !sr_exists(sr, path)))
					continue;
				if (!listed(all, name))
					r = add(&u->pool, &u->npool, name, conf, h);
			}
		}
	return r;
}

/* The containers whose configs reach the nodes of DEVS, into U->cts. */
static int scan_cts(const struct sysroot *sr, const char *node, const char *const *devs, int ndev,
		    struct pve_users *u)
{
	int n;

	if (!(u->cts = calloc(PVE_USERS_MAX_CTS, sizeof(*u->cts))))
		return -ENOMEM;
	n = pve_lxc_users(sr, node, devs, ndev, u->cts, PVE_USERS_MAX_CTS, &u->ct_bad, u->ct_err,
			  sizeof(u->ct_err));
	if (n < 0)
		return n;
	u->ncts = n;
	return 0;
}

/* The devices of driver=keep entry H, expanded as without keep (its host= ids only). */
static int add_keep(const struct sysroot *sr, const struct pve_vmconf *conf,
		    const struct pve_hostpci *h, struct pve_users *u)
{
	struct pve_hostpci e = *h;
	struct pve_devlist l;
	char err[64];
	int r = 0;

	e.keep = false;
	if (pve_hostpci_expand(sr, &e, NULL, conf->vmid, &l, err, sizeof(err)) < 0)
		return 0;
	for (int k = 0; k < l.n && r == 0; k++)
		r = add(&u->keep, &u->nkeep, l.names[k], conf, &e);
	return r;
}

int pve_users_scan(const struct sysroot *sr, const char *node, const char *const *devs, int ndev,
		   struct pve_users *u)
{
	_cleanup_free_ struct pve_hostpci_result *res = calloc(PVE_MAX_HOSTPCI, sizeof(*res));
	_cleanup_free_ struct pve_vmconf *conf = calloc(1, sizeof(*conf));
	_cleanup_free_ struct pve_devlist *all = calloc(1, sizeof(*all));
	_cleanup_free_ struct pve_mapping *map = calloc(1, sizeof(*map));
	struct dirent *de;
	int seen = 0, r = 0;
	DIR *d;

	memset(u, 0, sizeof(*u));
	if (!res || !conf || !all || !map)
		return -ENOMEM;
	if (!(d = sr_opendir(sr, "/etc/pve/qemu-server")))
		return ndev > 0 ? scan_cts(sr, node, devs, ndev, u) : 0;
	while (r == 0 && (de = readdir(d)) && seen < MAX_CONFIGS) {
		char num[16], err[64];
		int line, idx, vmid;
		size_t len = strlen(de->d_name);

		if (len < 6 || len > 14 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(num, sizeof(num), "%.*s", (int)(len - 5), de->d_name);
		if (pve_vmid_parse(num, &vmid) < 0)
			continue;
		seen++;
		if (pve_vmconf_load(sr, vmid, conf, &line, err, sizeof(err)) < 0)
			continue;
		pve_vmconf_expand_all(sr, conf, node, res, all, &idx);
		for (int i = 0; i < conf->nhostpci && r == 0; i++) {
			const struct pve_hostpci *h = &conf->hostpci[i];
			const struct pve_devlist *l = &res[i].devs;

			for (int k = 0; k < l->n && r == 0; k++)
				r = add(&u->use, &u->nuse, l->names[k], conf, h);
			if (r == 0 && h->mapping[0] && !h->keep && !h->mdev)
				r = add_pool(sr, node, conf, h, all, map, u);
			if (r == 0 && h->keep && !h->mdev && !h->mapping[0])
				r = add_keep(sr, conf, h, u);
		}
	}
	closedir(d);
	if (r == 0 && ndev > 0)
		r = scan_cts(sr, node, devs, ndev, u);
	if (r < 0)
		pve_users_free(u);
	return r;
}

void pve_users_free(struct pve_users *u)
{
	free(u->use);
	free(u->pool);
	free(u->cts);
	free(u->keep);
	memset(u, 0, sizeof(*u));
}

static int cmp_user(const void *a, const void *b)
{
	const struct pve_user *x = a, *y = b;
	int c = strcmp(x->mapping, y->mapping);

	return c ? c : (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

bool pve_users_keep_of(const struct pve_users *u, const char *dev, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < u->nkeep && off < size; i++)
		if (!strcmp(u->keep[i].dev, dev))
			off += (size_t)snprintf(buf + off, size - off, "%sVM %d", off ? ", " : "",
						u->keep[i].vmid);
	return buf[0] != '\0';
}

bool pve_users_of(const struct pve_users *u, const char *dev, char *buf, size_t size)
{
	struct pve_user found[32];
	int n = 0, nhost;

	buf[0] = '\0';
	/* host= users first, then the mappings (a start takes any free entry of one: the VMs of
	 * a mapping are shown on each of its devices alike); each sorted, the directory's order
	 * being the file system's */
	for (int i = 0; i < u->nuse && n < (int)ARRAY_SIZE(found); i++)
		if (!strcmp(u->use[i].dev, dev) && !u->use[i].mapping[0])
			found[n++] = u->use[i];
	nhost = n;
	for (int pass = 0; pass < 2; pass++) {
		const struct pve_user *l = pass ? u->pool : u->use;
		int cnt = pass ? u->npool : u->nuse;

		for (int i = 0; i < cnt && n < (int)ARRAY_SIZE(found); i++)
			if (!strcmp(l[i].dev, dev) && l[i].mapping[0])
				found[n++] = l[i];
	}
	qsort(found, (size_t)nhost, sizeof(found[0]), cmp_user);
	qsort(found + nhost, (size_t)(n - nhost), sizeof(found[0]), cmp_user);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(buf);

		if (i < nhost)
			snprintf(buf + len, size - len, "%sVM %d", len ? ", " : "", found[i].vmid);
		else if (i > nhost && !strcmp(found[i - 1].mapping, found[i].mapping))
			snprintf(buf + len, size - len, ", %d", found[i].vmid);
		else
			snprintf(buf + len, size - len, "%smapping %s: VM %d", len ? "; " : "",
				 found[i].mapping, found[i].vmid);
	}
	return n > 0;
}

bool pve_users_any_of(const struct pve_users *u, const char *dev, char *buf, size_t size)
{
	bool any = pve_users_of(u, dev, buf, size);
	char keep[128];
	int last = -1;

	if (pve_users_keep_of(u, dev, keep, sizeof(keep))) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s%s (driver=keep)", len ? "; " : "", keep);
		any = true;
	}

	/* cts is in CTID order, one entry per container and device */
	for (int i = 0; i < u->ncts; i++) {
		size_t len = strlen(buf);

		if (strcmp(u->cts[i].dev, dev) || u->cts[i].ctid == last)
			continue;
		snprintf(buf + len, size - len, "%s%d", last >= 0 ? ", " : len ? "; CT " : "CT ",
			 u->cts[i].ctid);
		last = u->cts[i].ctid;
		any = true;
	}
	return any;
}

bool pve_users_pooled(const struct pve_users *u, int vmid, const char *mapping)
{
	for (int i = 0; i < u->npool; i++)
		if (u->pool[i].vmid == vmid && !strcmp(u->pool[i].mapping, mapping))
			return true;
	return false;
}

/* The VM users of DEV in L (N entries) into OUT (*COUNT of MAX): one per VM, its lowest
 * hostpci index. */
static void who_vms(const struct pve_user *l, int n, const char *dev, struct pve_user *out,
		    int *count, int max)
{
	for (int i = 0; i < n; i++) {
		int k;

		if (strcmp(l[i].dev, dev))
			continue;
		for (k = 0; k < *count && out[k].vmid != l[i].vmid; k++)
			;
		if (k < *count) {
			if (l[i].index < out[k].index)
				out[k] = l[i];
		} else if (*count < max) {
			out[(*count)++] = l[i];
		}
	}
}

static int cmp_vmid(const void *a, const void *b)
{
	const struct pve_user *x = a, *y = b;

	return (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

int pve_users_who(const struct pve_users *u, const char *dev, struct pve_dev_user *out, int max)
{
	/* every VM of DEV first, then the lowest VMIDs: not the directory's order */
	_cleanup_free_ struct pve_user *vms = calloc((size_t)(u->nuse + u->npool + 1), sizeof(*vms));
	int nvm = 0, n = 0;

	if (!vms)
		return -ENOMEM;
	who_vms(u->use, u->nuse, dev, vms, &nvm, u->nuse + u->npool);
	who_vms(u->pool, u->npool, dev, vms, &nvm, u->nuse + u->npool);
	qsort(vms, (size_t)nvm, sizeof(vms[0]), cmp_vmid);
	for (int i = 0; i < nvm && n < max; i++, n++) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].id = vms[i].vmid;
		if (vms[i].mapping[0])
			snprintf(out[n].what, sizeof(out[n].what), "mapping %.60s, hostpci%d",
				 vms[i].mapping, vms[i].index);
		else
			snprintf(out[n].what, sizeof(out[n].what), "hostpci%d", vms[i].index);
	}
	for (int i = 0; i < u->ncts && n < max; i++) {
		if (strcmp(u->cts[i].dev, dev))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].ct = true;
		out[n].id = u->cts[i].ctid;
		out[n].running = u->cts[i].running;
		memcpy(out[n].what, u->cts[i].what, sizeof(out[n].what));
		n++;
	}
	return n;
}
