/* pci_db.c - see pci_db.h. */
#define _GNU_SOURCE
#include "pci_db.h"

#include <errno.h>
#include <limits.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pcinames {
	struct pci_access *pacc;
	bool failed; /* the database could not be read: every name is unknown from now on */
};

/* libpci's error callback must not return (lib/pci.h declares it PCI_NONRET, and its callers
 * carry on with NULL pointers if it does): it jumps back to the name lookup that called libpci. The
 * callback has no user pointer, so the target lives in a thread-local. */
static __thread jmp_buf *names_jump;

static void __attribute__((noreturn, format(printf, 1, 2))) names_error(char *msg, ...)
{
	(void)msg;
	longjmp(*names_jump, 1);
}

/* Library code never logs: libpci's warnings (e.g. "cannot open pci.ids") mean "no names". */
static void __attribute__((format(printf, 1, 2))) names_quiet(char *msg, ...)
{
	(void)msg;
}

/* pci_lookup_name() behind setjmp: NULL (and *failed) when libpci gave up. */
static const char *guarded_lookup(struct pci_access *pacc, char *buf, int size, int flags,
				  unsigned a, unsigned b, bool *failed)
{
	const char *volatile name = NULL;
	jmp_buf jb;

	names_jump = &jb;
	if (setjmp(jb) == 0)
		name = pci_lookup_name(pacc, buf, size, flags, a, b);
	else
		*failed = true;
	names_jump = NULL;
	return name;
}

static struct pcinames *names_open(struct pcidb *db)
{
	struct pcinames *pn;

	if (db->names)
		return db->names;
	pn = calloc(1, sizeof(*pn));
	if (!pn)
		return NULL;
	db->names = pn;
	/* No setjmp guard here: pci_alloc() reports a failed allocation through libpci's
	 * generic error handler, which exits (lib/init.c), and our callback is installed only on
	 * the handle it returns, so a guard could never fire. */
	pn->pacc = pci_alloc();
	if (!pn->pacc) {
		pn->failed = true;
		return pn;
	}
	pn->pacc->error = names_error;
	pn->pacc->warning = names_quiet;
	pn->pacc->debug = names_quiet;
	/* No ~/.pciids-cache and no DNS: names come from the local database only. */
	pn->pacc->id_lookup_mode = 0;
	if (db->ids_path[0]) {
		char *path = strdup(db->ids_path);

		if (!path) {
			pn->failed = true;
			return pn;
		}
		pci_set_name_list_path(pn->pacc, path, 1);
	}
	return pn;
}

static void names_close(struct pcinames *pn)
{
	if (!pn)
		return;
	/* A database that failed mid-parse may leave libpci's state half built: leak it rather
	 * than hand it back to libpci. */
	if (pn->pacc && !pn->failed)
		pci_cleanup(pn->pacc);
	free(pn);
}

static const char *lookup(struct pcidb *db, char *buf, int size, int flags, unsigned a, unsigned b)
{
	struct pcinames *pn = names_open(db);
	const char *name;

	if (!pn || pn->failed || size < 2)
		return NULL;
	flags |= PCI_LOOKUP_NO_NUMBERS;
	if (!db->host)
		flags |= PCI_LOOKUP_NO_HWDB;
	name = guarded_lookup(pn->pacc, buf, size, flags, a, b, &pn->failed);
	return name && *name ? name : NULL;
}

const char *pcidb_vendor_name(struct pcidb *db, uint16_t vendor, char *buf, int size)
{
	return lookup(db, buf, size, PCI_LOOKUP_VENDOR, vendor, 0);
}

const char *pcidb_device_name(struct pcidb *db, uint16_t vendor, uint16_t device, char *buf,
			      int size)
{
	return lookup(db, buf, size, PCI_LOOKUP_DEVICE, vendor, device);
}

const char *pcidb_class_name(struct pcidb *db, uint32_t klass, char *buf, int size)
{
	char tail[16];
	const char *name = lookup(db, buf, size, PCI_LOOKUP_CLASS, klass >> 8, 0);
	size_t n, t;

	if (!name)
		return NULL;
	/* An unknown subclass comes back as the base class plus the number ("Unassigned class
	 * [ffff]"): keep the name, callers print numbers themselves. */
	snprintf(tail, sizeof(tail), " [%04x]", (unsigned)(klass >> 8) & 0xffff);
	n = strlen(name);
	t = strlen(tail);
	if (n > t && strcmp(name + n - t, tail) == 0 && name == buf)
		buf[n - t] = '\0';
	return name;
}

static int group_key(int g)
{
	return g < 0 ? INT_MAX : g;
}

static int cmp_group_addr(const void *a, const void *b)
{
	const struct pci_dev_info *x = a, *y = b;
	int gx = group_key(x->iommu_group), gy = group_key(y->iommu_group);

	if (gx != gy)
		return gx < gy ? -1 : 1;
	return pci_addr_cmp(&x->addr, &y->addr);
}

static int cmp_index_addr(const void *a, const void *b, void *ctx)
{
	const struct pci_dev_info *dev = ctx;

	return pci_addr_cmp(&dev[*(const int *)a].addr, &dev[*(const int *)b].addr);
}

int pcidb_load(const struct sysroot *sr, struct pcidb **ret)
{
	return pcidb_load_bounded(sr, NULL, 0, ret);
}

/* Long enough for any read that does not wait on a lock, short enough for `list`. */
#define PCIDB_SLOW_READ_MS 300

static unsigned long override_ms(const char (*slow)[PCI_ADDR_LEN], int nslow, const char *name)
{
	for (int k = 0; k < nslow; k++)
		if (!strcmp(slow[k], name))
			return PCIDB_SLOW_READ_MS;
	return 0;
}

int pcidb_load_bounded(const struct sysroot *sr, const char (*slow)[PCI_ADDR_LEN], int nslow,
		       struct pcidb **ret)
{
	_cleanup_free_ char(*names)[PCI_ADDR_LEN] = NULL;
	struct pcidb *db;
	int n, max = 1024;

	/* The list grows until it fits: a host can have thousands of functions (SR-IOV). */
	for (;;) {
		free(names);
		names = calloc((size_t)max, PCI_ADDR_LEN);
		if (!names)
			return -ENOMEM;
		n = pcidev_list(sr, names, max);
		if (n != -E2BIG || max >= PCIDB_MAX_DEVICES)
			break;
		max *= 4;
	}
	if (n < 0)
		return n;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->host = sr_is_host(sr);
	if (!db->host && sr_path(db->ids_path, "%s/usr/share/misc/pci.ids", sr->dir) < 0)
		db->ids_path[0] = '\0';
	db->dev = calloc((size_t)(n ? n : 1), sizeof(*db->dev));
	db->byaddr = calloc((size_t)(n ? n : 1), sizeof(*db->byaddr));
	db->grp = calloc((size_t)(n ? n : 1), sizeof(*db->grp));
	if (!db->dev || !db->byaddr || !db->grp) {
		pcidb_free(db);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int r = pcidev_read_bounded(sr, names[i], override_ms(slow, nslow, names[i]),
					    &db->dev[db->ndev]);

		if (r < 0) {
			if (!db->first_error)
				db->first_error = r;
			db->nerrors++;
			continue;
		}
		db->ndev++;
	}
	/* Sort once and index: every later question is a binary search, never a rescan. */
	qsort(db->dev, (size_t)db->ndev, sizeof(*db->dev), cmp_group_addr);
	for (int i = 0; i < db->ndev; i++) {
		db->byaddr[i] = i;
		if (db->ngrp == 0 || db->grp[db->ngrp - 1].group != db->dev[i].iommu_group) {
			db->grp[db->ngrp].group = db->dev[i].iommu_group < 0 ? -1 : db->dev[i].iommu_group;
			db->grp[db->ngrp].first = i;
			db->ngrp++;
		}
		db->grp[db->ngrp - 1].n++;
	}
	qsort_r(db->byaddr, (size_t)db->ndev, sizeof(*db->byaddr), cmp_index_addr, db->dev);
	*ret = db;
	return 0;
}

struct pcidb *pcidb_free(struct pcidb *db)
{
	if (db) {
		names_close(db->names);
		free(db->dev);
		free(db->byaddr);
		free(db->grp);
		free(db);
	}
	return NULL;
}

const struct pci_dev_info *pcidb_find(const struct pcidb *db, const char *name)
{
	struct pci_addr a;
	int lo = 0, hi = db->ndev - 1;

	if (pci_addr_parse(name, &a) < 0)
		return NULL;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = pci_addr_cmp(&db->dev[db->byaddr[mid]].addr, &a);

		if (c == 0)
			return &db->dev[db->byaddr[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The upstream port of a switch that belongs to D's card (see pcidb_card), or NULL. */
static const struct pci_dev_info *card_switch(const struct pcidb *db, const struct pci_dev_info *d)
{
	const struct pci_dev_info *down = d->parent[0] ? pcidb_find(db, d->parent) : NULL;
	const struct pci_dev_info *up = down && down->parent[0] ? pcidb_find(db, down->parent) : NULL;

	/* an upstream port sits below a root port; a bridge on a root bus is one itself */
	if (!up || !up->parent[0] || !down->is_bridge || !up->is_bridge)
		return NULL;
	return down->vendor == d->vendor && up->vendor == d->vendor ? up : NULL;
}

void pcidb_card(const struct pcidb *db, const struct pci_dev_info *d, char key[PCI_ADDR_LEN])
{
	const struct pci_dev_info *up = d->is_bridge ? NULL : card_switch(db, d);

	if (up)
		snprintf(key, PCI_ADDR_LEN, "%s", up->name);
	else
		snprintf(key, PCI_ADDR_LEN, "%04x:%02x:%02x", d->addr.domain, d->addr.bus,
			 d->addr.slot);
}

bool pcidb_same_card(const struct pcidb *db, const struct pci_dev_info *a,
		     const struct pci_dev_info *b)
{
	char ka[PCI_ADDR_LEN], kb[PCI_ADDR_LEN];

	pcidb_card(db, a, ka);
	pcidb_card(db, b, kb);
	return strcmp(ka, kb) == 0;
}

const struct pcidb_group *pcidb_group(const struct pcidb *db, int group)
{
	int key = group_key(group), lo = 0, hi = db->ngrp - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, g = group_key(db->grp[mid].group);

		if (g == key)
			return &db->grp[mid];
		if (g < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}
