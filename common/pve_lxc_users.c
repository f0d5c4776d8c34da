/* pve_lxc_users.c - who uses a GPU (pve_lxc.h): the VMs that name it in a hostpci entry (or
 * through a mapping that may hand it to them) and the containers whose config reaches its
 * device nodes, for `list` and `check`. */
#define _GNU_SOURCE
#include "pve_lxc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pve_conf.h"
#include "util.h"

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The VMIDs of /etc/pve/qemu-server, sorted: the count (at most MAX). */
static int list_vms(const struct sysroot *sr, int *ids, int max)
{
	struct dirent *de;
	DIR *d = sr_opendir(sr, "/etc/pve/qemu-server");
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);
		char num[16];

		if (len < 6 || len > 14 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		snprintf(num, sizeof(num), "%.*s", (int)(len - 5), de->d_name);
		if (pve_vmid_parse(num, &ids[n]) == 0)
			n++;
	}
	closedir(d);
	qsort(ids, (size_t)n, sizeof(*ids), cmp_int);
	return n;
}

/* Whether ID (an address, or a whole slot) names device DEV. */
static bool id_names(const struct pve_pci_id *id, const char *dev)
{
	struct pci_addr a;

	if (pci_addr_parse(dev, &a) < 0)
		return false;
	return a.domain == id->addr.domain && a.bus == id->addr.bus && a.slot == id->addr.slot &&
	       (!id->has_func || a.func == id->addr.func);
}

static bool hostpci_names(const struct sysroot *sr, const char *node, const struct pve_hostpci *h,
			  const char *dev)
{
	struct pve_mapping *map;
	char err[256];
	bool hit = false;

	for (int i = 0; i < h->nids; i++)
		if (id_names(&h->ids[i], dev))
			return true;
	if (!h->mapping[0] || !(map = calloc(1, sizeof(*map))))
		return false;
	if (pve_mapping_load(sr, h->mapping, node, map, NULL, err, sizeof(err)) == 0)
		for (int a = 0; a < map->nalts && !hit; a++)
			for (int i = 0; i < map->alts[a].nids && !hit; i++)
				hit = id_names(&map->alts[a].ids[i], dev);
	free(map);
	return hit;
}

int pve_gpu_users(const struct sysroot *sr, const char *node, const char *const *devs, int ndev,
		  struct pve_gpu_user *out, int max, int *nbad, char *err, size_t errsize)
{
	struct pve_vmconf *c = malloc(sizeof(*c));
	struct lxc_user *cu = calloc((size_t)(max > 0 ? max : 1), sizeof(*cu));
	int *ids = calloc(LXC_MAX_CTS, sizeof(int));
	int nvm, count = 0, r = 0, ncu;

	if (!c || !cu || !ids) {
		r = -ENOMEM;
		goto out;
	}
	nvm = list_vms(sr, ids, LXC_MAX_CTS);
	for (int k = 0; k < nvm && count < max; k++) {
		int line;

		if (pve_vmconf_load(sr, ids[k], c, &line, NULL, 0) < 0)
			continue; /* `check VMID` says what is wrong with it */
		for (int i = 0; i < ndev; i++)
			for (int x = 0; x < c->nhostpci && count < max; x++) {
				const struct pve_hostpci *h = &c->hostpci[x];
				struct pve_gpu_user *o;

				if (h->keep || h->mdev || !hostpci_names(sr, node, h, devs[i]))
					continue;
				o = &out[count++];
				memset(o, 0, sizeof(*o));
				str_copy(o->dev, sizeof(o->dev), devs[i]);
				o->id = ids[k];
				if (h->mapping[0])
					snprintf(o->what, sizeof(o->what), "mapping %.60s, hostpci%d",
						 h->mapping, h->index);
				else
					snprintf(o->what, sizeof(o->what), "hostpci%d", h->index);
				break;
			}
	}
	ncu = pve_lxc_users(sr, node, devs, ndev, cu, max - count, nbad, err, errsize);
	if (ncu < 0) {
		r = ncu;
		goto out;
	}
	for (int k = 0; k < ncu; k++) {
		struct pve_gpu_user *o = &out[count++];

		memset(o, 0, sizeof(*o));
		memcpy(o->dev, cu[k].dev, sizeof(o->dev));
		o->ct = true;
		o->id = cu[k].ctid;
		o->running = cu[k].running;
		memcpy(o->what, cu[k].what, sizeof(o->what));
	}
out:
	free(c);
	free(cu);
	free(ids);
	return r < 0 ? r : count;
}
