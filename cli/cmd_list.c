/* cmd_list.c - `pve-gpu-passthrough list [--all] [--json]`: GPUs and other passthrough
 * candidates with their whole IOMMU groups, as a tree.
 *
 * A candidate is a display controller (class 0x03) or a device already given to vfio-pci
 * (bound, or driver_override). Its group is shown whole, because the group is what moves.
 * --all shows every device. The device facts are read once (common/pci_db.c); names come from
 * pci.ids through libpci.
 *
 * JSON (stable, "version": 1; new keys may be added, none renamed or removed):
 *   { "version": 1, "iommu": BOOL, "groups": [ { "group": N|null, "devices": [ {
 *       "address", "vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id",
 *       "class" (6 hex digits), "class_name", "vendor_name", "device_name" (null: unknown),
 *       "driver" (null: unbound), "driver_override" (null: unset), "boot_vga" (BOOL|null),
 *       "bridge", "display", "candidate" (BOOL), "host_critical" (reason|null),
 *       "sriov" ({"total_vfs": N, "num_vfs": N, "vfs": [ADDRESS...]} for an SR-IOV physical
 *       function, else null), "physfn" (a virtual function's PF address, else null),
 *       "vms" ([{"vmid": N, "mapping": NAME|null}]: the VMs of this node whose start takes
 *       it), "mapping_pool" ([{"vmid", "mapping"}]: VMs whose mapping may pick it),
 *       "used_by" ([{"kind": "vm"|"ct", "id": N, "entry": TEXT, "running": BOOL|null}]: the
 *       "used by" line's VMs and containers) } ] } ] }
 * In the text tree a PF's VFs are listed under it (each also appears in its own group), each
 * with the VMs that use it, or "free".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "host_dev.h"
#include "dev_state.h"
#include "pci_db.h"
#include "pve_conf.h"
#include "pve_lxc.h"
#include "pve_users.h"
#include "dev_health.h"
#include "dev_quirks.h"
#include "util.h"
#include "sysfs.h"

#define PROG "pve-gpu-passthrough"

#define C_BOLD "\033[1m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_OFF "\033[0m"

struct list_opts {
	bool all, json, color;
	char node[128]; /* the Proxmox node, for mappings and containers */
};

/* Device NAME's health mark (dev_health.h) as list shows it, in BUF: "its config space reads
 * 0xffff after VM 100"; false when it has none. */
static bool health_of(const struct sysroot *sr, const char *name, char *buf, size_t size)
{
	struct health_mark m;
	int r = health_mark_load(sr, name, &m);

	if (r > 0)
		snprintf(buf, size, "%s after VM %d", health_fault_text(m.fault), m.vmid);
	else if (r < 0)
		snprintf(buf, size, "its health mark cannot be used (%s)", health_mark_error(r));
	return r != 0;
}
static bool is_candidate(const struct pci_dev_info *d)
{
	return pcidev_is_display(d) || strcmp(d->driver, "vfio-pci") == 0 ||
	       strcmp(d->override, "vfio-pci") == 0;
}

/* A candidate of the same card as D in another IOMMU group (pcie_acs_override splitting a
 * card's functions, a card whose functions sit behind its own PCIe switch such as the Arc
 * A770's, or a card without ACS between them), or NULL. */
static const struct pci_dev_info *card_elsewhere(const struct pcidb *db, const struct pci_dev_info *d)
{
	if (d->iommu_group < 0 || d->is_bridge)
		return NULL;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[i];

		if (o != d && o->iommu_group >= 0 && o->iommu_group != d->iommu_group &&
		    !o->is_bridge && is_candidate(o) && pcidb_same_card(db, o, d))
			return o;
	}
	return NULL;
}

/* Whether group G is shown, and for the groupless pseudo-group which of its devices. */
static bool group_shown(const struct pcidb *db, const struct pcidb_group *g, bool all)
{
	if (all)
		return true;
	for (int i = g->first; i < g->first + g->n; i++)
		if (is_candidate(&db->dev[i]) || card_elsewhere(db, &db->dev[i]))
			return true;
	return false;
}

static bool device_shown(const struct pcidb *db, const struct pcidb_group *g, int i, bool all)
{
	const struct pci_dev_info *d = &db->dev[i];

	if (all || g->group >= 0 || is_candidate(d))
		return true;
	/* Without an IOMMU every device is groupless: show the candidates and the other
	 * functions of their cards. */
	for (int j = g->first; j < g->first + g->n; j++)
		if (j != i && !d->is_bridge && is_candidate(&db->dev[j]) &&
		    pcidb_same_card(db, &db->dev[j], d))
			return true;
	return false;
}

struct names {
	char vendor[128], device[256], klass[128];
	const char *v, *d, *c;
};

static void get_names(struct pcidb *db, const struct pci_dev_info *d, struct names *n)
{
	n->v = pcidb_vendor_name(db, d->vendor, n->vendor, sizeof(n->vendor));
	n->d = pcidb_device_name(db, d->vendor, d->device, n->device, sizeof(n->device));
	n->c = pcidb_class_name(db, d->class, n->klass, sizeof(n->klass));
}

#define LIST_MAX_VFS 64
#define LIST_MAX_USERS 32 /* the VMs and containers shown per device */

/* ,"KEY":[{"vmid": N, "mapping": NAME|null}] for DEV's entries of L. */
static void json_user_list(const char *key, const struct pve_user *l, int n, const char *dev)
{
	bool first = true;

	printf(",\"%s\":[", key);
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i].dev, dev)) {
			printf("%s{\"vmid\":%d,\"mapping\":", first ? "" : ",", l[i].vmid);
			json_str(stdout, l[i].mapping[0] ? l[i].mapping : NULL);
			fputc('}', stdout);
			first = false;
		}
	fputc(']', stdout);
}

/* ,"used_by":[{"kind":"vm"|"ct","id":N,"entry":TEXT,"running":BOOL|null}]: the users of
 * DEV as the text's "used by" line shows them. */
static void json_used_by(const struct pve_users *vms, const char *dev)
{
	struct pve_dev_user u[LIST_MAX_USERS];
	int n = pve_users_who(vms, dev, u, (int)ARRAY_SIZE(u));

	fputs(",\"used_by\":[", stdout);
	for (int k = 0; k < n; k++) {
		printf("%s{\"kind\":\"%s\",\"id\":%d,\"entry\":", k ? "," : "",
		       u[k].ct ? "ct" : "vm", u[k].id);
		json_str(stdout, u[k].what);
		printf(",\"running\":%s}", !u[k].ct ? "null" : u[k].running ? "true" : "false");
	}
	fputc(']', stdout);
}

static void print_json(const struct sysroot *sr, struct pcidb *db, const struct hostdev *hd,
		       const struct pve_users *vms, const struct list_opts *o)
{
	bool first_group = true;

	printf("{\"version\":1,\"iommu\":%s,\"groups\":[",
	       db->ngrp > 0 && db->grp[0].group >= 0 ? "true" : "false");
	for (int gi = 0; gi < db->ngrp; gi++) {
		const struct pcidb_group *g = &db->grp[gi];
		bool first_dev = true;

		if (!group_shown(db, g, o->all))
			continue;
		printf("%s{\"group\":", first_group ? "" : ",");
		first_group = false;
		if (g->group >= 0)
			printf("%d", g->group);
		else
			fputs("null", stdout);
		fputs(",\"devices\":[", stdout);
		for (int i = g->first; i < g->first + g->n; i++) {
			const struct pci_dev_info *d = &db->dev[i];
			char why[256];
			struct names n;

			if (!device_shown(db, g, i, o->all))
				continue;
			get_names(db, d, &n);
			printf("%s{\"address\":\"%s\",\"vendor_id\":\"%04x\",\"device_id\":\"%04x\","
			       "\"subsystem_vendor_id\":\"%04x\",\"subsystem_device_id\":\"%04x\","
			       "\"class\":\"%06x\",\"class_name\":",
			       first_dev ? "" : ",", d->name, d->vendor, d->device, d->subvendor,
			       d->subdevice, d->class);
			first_dev = false;
			json_str(stdout, n.c);
			fputs(",\"vendor_name\":", stdout);
			json_str(stdout, n.v);
			fputs(",\"device_name\":", stdout);
			json_str(stdout, n.d);
			fputs(",\"driver\":", stdout);
			json_str(stdout, d->driver[0] ? d->driver : NULL);
			fputs(",\"driver_override\":", stdout);
			json_str(stdout, d->override[0] ? d->override : NULL);
			printf(",\"boot_vga\":%s,\"bridge\":%s,\"display\":%s,\"candidate\":%s,"
			       "\"host_critical\":",
			       d->boot_vga < 0 ? "null" : d->boot_vga ? "true" : "false",
			       d->is_bridge ? "true" : "false", pcidev_is_display(d) ? "true" : "false",
			       is_candidate(d) ? "true" : "false");
			json_str(stdout, hd && hostdev_is_critical(hd, d->name, why, sizeof(why)) == 1
						 ? why : NULL);
			if (health_of(sr, d->name, why, sizeof(why))) { /* only when marked */
				fputs(",\"health_mark\":", stdout);
				json_str(stdout, why);
			}
			{
				char vfs[LIST_MAX_VFS][PCI_ADDR_LEN];
				struct sriov_info si = { 0 };
				int nv = 0;

				if (quirks_sriov(sr, d->name, &si) == 0 && si.totalvfs > 0)
					nv = quirks_sriov_vfs(sr, d->name, vfs, LIST_MAX_VFS);
				if (si.totalvfs > 0) {
					printf(",\"sriov\":{\"total_vfs\":%d,\"num_vfs\":%d,\"vfs\":[",
					       si.totalvfs, si.numvfs);
					for (int k = 0; k < nv; k++)
						printf("%s\"%s\"", k ? "," : "", vfs[k]);
					fputs("]}", stdout);
				} else {
					fputs(",\"sriov\":null", stdout);
				}
				fputs(",\"physfn\":", stdout);
				json_str(stdout, si.is_vf ? si.pf : NULL);
			}
			/* the VMs whose start takes it, those whose mapping may pick it */
			json_user_list("vms", vms->use, vms->nuse, d->name);
			json_user_list("mapping_pool", vms->pool, vms->npool, d->name);
			json_used_by(vms, d->name);
			fputc('}', stdout);
		}
		fputs("]}", stdout);
	}
	fputs("]}\n", stdout);
}

/* An SR-IOV PF's VFs, one line each below it, with the VMs that use each (or "free"). */
static void print_vfs(const struct sysroot *sr, struct pcidb *db, const struct pve_users *vms,
		      const struct pci_dev_info *d, bool last)
{
	char who[256];

	char vfs[LIST_MAX_VFS][PCI_ADDR_LEN];
	int n = quirks_sriov_vfs(sr, d->name, vfs, LIST_MAX_VFS);

	for (int k = 0; k < n; k++) {
		const struct pci_dev_info *v = pcidb_find(db, vfs[k]);

		printf("%s   %s VF %s", last ? " " : "|", k == n - 1 ? "`-" : "|-", vfs[k]);
		if (v && v->iommu_group >= 0)
			printf(" (IOMMU group %d, %s)", v->iommu_group, v->driver[0] ? v->driver : "-");
		else if (v)
			printf(" (%s)", v->driver[0] ? v->driver : "-");
		printf("  %s\n", pve_users_any_of(vms, vfs[k], who, sizeof(who)) ? who : "free");
	}
}

/* Under a GPU: the VMs (hostpci, mappings) and containers that use it. */
static void print_users(const struct pve_users *vms, const struct pci_dev_info *d, bool last)
{
	struct pve_dev_user u[LIST_MAX_USERS];
	int n = pve_users_who(vms, d->name, u, (int)ARRAY_SIZE(u));

	if (n <= 0)
		return;
	printf("%s   used by: ", last ? " " : "|");
	for (int k = 0; k < n; k++) {
		if (u[k].ct)
			printf("%sCT %d (%s, %s)", k ? ", " : "", u[k].id, u[k].what,
			       u[k].running ? "running" : "stopped");
		else
			printf("%sVM %d (%s)", k ? ", " : "", u[k].id, u[k].what);
	}
	fputc('\n', stdout);
}

static void print_text(const struct sysroot *sr, struct pcidb *db, const struct hostdev *hd,
		       const struct pve_users *vms, const struct list_opts *o)
{
	size_t wdrv = 1;
	int shown = 0, hidden = 0;

	/* One pass to align the driver column over everything shown. */
	for (int gi = 0; gi < db->ngrp; gi++) {
		const struct pcidb_group *g = &db->grp[gi];

		if (!group_shown(db, g, o->all)) {
			hidden++;
			continue;
		}
		for (int i = g->first; i < g->first + g->n; i++)
			if (device_shown(db, g, i, o->all) && strlen(db->dev[i].driver) > wdrv)
				wdrv = strlen(db->dev[i].driver);
	}
	for (int gi = 0; gi < db->ngrp; gi++) {
		const struct pcidb_group *g = &db->grp[gi];
		int last = -1;

		if (!group_shown(db, g, o->all))
			continue;
		for (int i = g->first; i < g->first + g->n; i++)
			if (device_shown(db, g, i, o->all))
				last = i;
		if (g->group >= 0)
			printf("%sIOMMU group %d%s\n", o->color ? C_BOLD : "", g->group,
			       o->color ? C_OFF : "");
		else if (db->grp[0].group >= 0)
			/* the IOMMU is on: these devices are outside it (the AMD IOMMU's own
			 * function, devices behind no translating unit) */
			printf("%sno IOMMU group%s (not translated by the IOMMU)\n",
			       o->color ? C_BOLD : "", o->color ? C_OFF : "");
		else
			printf("%sno IOMMU group%s (the IOMMU is off)\n", o->color ? C_BOLD : "",
			       o->color ? C_OFF : "");
		for (int i = g->first; i < g->first + g->n; i++) {
			const struct pci_dev_info *d = &db->dev[i];
			bool vfio = strcmp(d->driver, "vfio-pci") == 0;
			char why[256];
			struct names n;

			if (!device_shown(db, g, i, o->all))
				continue;
			shown++;
			get_names(db, d, &n);
			printf("%s %s [%04x:%04x] %s%-*s%s  ", i == last ? "`-" : "|-", d->name,
			       d->vendor, d->device, o->color && vfio ? C_GREEN : "", (int)wdrv,
			       d->driver[0] ? d->driver : "-", o->color && vfio ? C_OFF : "");
			if (n.c)
				printf("%s [%04x]: ", n.c, d->class >> 8);
			else
				printf("Class [%04x]: ", d->class >> 8);
			if (n.v)
				fputs(n.v, stdout);
			else
				printf("Vendor %04x", d->vendor);
			if (n.d)
				printf(" %s", n.d);
			else
				printf(" Device %04x", d->device);
			if (d->boot_vga == 1)
				fputs("  [boot VGA]", stdout);
			if (d->is_bridge)
				fputs("  [bridge]", stdout);
			if (d->override[0])
				printf("  [override %s]", d->override);
			if (d->override_unknown)
				fputs("  [stuck: driver_override did not answer]", stdout);
			{
				const struct pci_dev_info *o2 = card_elsewhere(db, d);
				struct sriov_info s1, s2;

				/* a VF and its PF share the slot but are no card to pass
				 * together: the [SR-IOV ...] marks below say what they are */
				if (o2 && ((quirks_sriov(sr, d->name, &s1) == 0 && s1.is_vf) ||
					   (quirks_sriov(sr, o2->name, &s2) == 0 && s2.is_vf &&
					    !strcmp(s2.pf, d->name))))
					o2 = NULL;
				if (o2)
					printf("  [same card as %s in group %d]", o2->name,
					       o2->iommu_group);
			}
			if (hd && hostdev_is_critical(hd, d->name, why, sizeof(why)) == 1)
				printf("  %s[host: %s]%s", o->color ? C_RED : "", why,
				       o->color ? C_OFF : "");
			if (health_of(sr, d->name, why, sizeof(why)))
				printf("  %s[marked: %s; reboot the host]%s", o->color ? C_RED : "",
				       why, o->color ? C_OFF : "");
			{
				struct sriov_info si;

				if (quirks_sriov(sr, d->name, &si) < 0)
					memset(&si, 0, sizeof(si));
				if (si.is_vf)
					printf("  [SR-IOV VF of %s]", si.pf);
				if (si.totalvfs > 0)
					printf("  [SR-IOV PF: %d of %d VFs enabled]", si.numvfs,
					       si.totalvfs);
				if (si.numvfs > 0 && pve_users_of(vms, d->name, why, sizeof(why)))
					printf("  [passed by %s: refused while it has VFs]", why);
				fputc('\n', stdout);
				if (pcidev_is_display(d))
					print_users(vms, d, i == last);
				if (si.numvfs > 0)
					print_vfs(sr, db, vms, d, i == last);
			}
		}
	}
	if (shown == 0)
		printf("no GPUs or passthrough candidates found%s\n",
		       o->all ? "" : " (--all shows every device)");
	else if (hidden > 0)
		printf("(%d more IOMMU group%s without GPUs: --all shows every device)\n", hidden,
		       hidden == 1 ? "" : "s");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " list [--all] [--json]\n\n"
		     "GPUs and passthrough candidates with their IOMMU groups.\n\n"
		     "  -a, --all    every PCI device, not only GPUs and vfio-pci devices\n"
		     "  -j, --json   machine-readable output\n"
		     "  -h, --help   this text\n");
}

static int cmd_list(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct list_opts o = { .color = g->color };
	struct pve_users vms;
	const char *gpus[LXC_MAX_DEVS];
	struct hostdev *hd = NULL;
	struct pcidb *db = NULL;
	int c, r, ngpu;

	while ((c = getopt_long(argc, argv, "ajh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.all = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("list", argv, opts);
		}
	}
	if (optind < argc) {
		return cli_unexpected_arg("list", argv[optind]);
	}
	if (o.json)
		o.color = false;
	pve_node_name(g->node, o.node, sizeof(o.node));
	r = state_pcidb_load(&g->root, &db);
	if (r < 0) {
		fprintf(stderr, PROG " list: cannot read '" SYSFS_PCI_DEVICES "': %s\n", strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (db->nerrors)
		fprintf(stderr, PROG " list: warning: %d PCI device%s could not be read: %s\n",
			db->nerrors, db->nerrors == 1 ? "" : "s", strerror(-db->first_error));
	r = hostdev_scan(&g->root, &hd);
	if (r < 0)
		fprintf(stderr, PROG " list: warning: cannot tell which devices the host needs: "
				"'/proc/self/mountinfo': %s\n", strerror(-r));
	/* one scan of the VMs, and of the containers for the GPUs (their DRM and NVIDIA nodes) */
	ngpu = 0;
	for (int i = 0; i < db->ndev && ngpu < LXC_MAX_DEVS; i++)
		if (pcidev_is_display(&db->dev[i]))
			gpus[ngpu++] = db->dev[i].name;
	r = pve_users_scan(&g->root, o.node, gpus, ngpu, &vms);
	if (r < 0)
		fprintf(stderr, PROG " list: warning: cannot read who uses the devices: %s\n",
			strerror(-r));
	if (o.json)
		print_json(&g->root, db, hd, &vms, &o);
	else
		print_text(&g->root, db, hd, &vms, &o);
	pve_users_free(&vms);
	hostdev_free(hd);
	pcidb_free(db);
	return CLI_EXIT_OK;
}

CLI_COMMAND(list, "list", cmd_list, "[--all] [--json]", "GPUs and candidates by IOMMU group");
