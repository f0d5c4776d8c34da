/* check_cluster.c - the cluster checks of `check --cluster` (cluster.*), the backup jobs of a
 * VM (vm.backup, cluster.backup) and what `attach` warns about: for every VM with our
 * hookscript on every node, every node where it may run (its own, its HA group or node-affinity
 * rule, the nodes its mappings have entries for) must have the package (else the snippet
 * skips the handoff there), the hookscript's snippet (a storage that node may use, a copy on
 * node-local storage) and an entry of each of its mappings (else Proxmox refuses to start it
 * there). Reads pmxcfs through pve_cluster.h; prints nothing. */
#define _GNU_SOURCE
#include "check_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg_ini.h"
#include "pve_cluster.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "util.h"

#define MAPPING_FILE "/etc/pve/mapping/pci.cfg"

/* What the walk over one cluster shares. */
struct cl_ctx {
	struct ctx *c;
	const struct pve_cluster *cl;
	char *maps;             /* the mapping file's text, NULL when there is none */
	struct pve_mapping map; /* scratch */
	int problems;
};

static bool has_devices(const struct pve_vmconf *conf)
{
	for (int i = 0; i < conf->nhostpci; i++)
		if (!conf->hostpci[i].keep && !conf->hostpci[i].mdev)
			return true;
	return false;
}

/* The backup jobs that would start VM VMID of NODE (a stopped VM is started paused: its
 * pre-start runs with lock: backup) under ID ("vm.backup" or "cluster.backup"). */
void check_backup_jobs(struct ctx *c, const char *id, const struct pve_vmconf *conf,
		       const char *node, const char *subj)
{
	struct pve_backup_jobs jobs;
	struct cfg cfg;
	char err[256];
	bool refuse;
	struct check_result *r;
	int rc;

	if (!has_devices(conf) || !sr_exists(c->sr, "/etc/pve/jobs.cfg"))
		return; /* no backup jobs: nothing to say (a single node's check stays as it was) */
	rc = pve_backup_jobs_load(c->sr, conf->vmid, node, &jobs);
	if (rc < 0) {
		r = ck_add(c, id, CHECK_WARN, subj, "cannot read the backup jobs in /etc/pve/jobs.cfg: "
			   "%s", rc == -EINVAL ? "malformed" : strerror(-rc));
		ck_fix(c, r, "check /etc/pve/jobs.cfg (Datacenter > Backup)");
		return;
	}
	if (!jobs.n) {
		ck_add(c, id, CHECK_PASS, subj, "no backup job in /etc/pve/jobs.cfg starts it");
		return;
	}
	refuse = cfg_load(c->sr, c->o->config, &cfg, err, sizeof(err)) == 0 &&
		 cfg_hook_opts(&cfg, conf->vmid)->backup_refuse;
	for (int i = 0; i < jobs.n; i++) {
		const struct pve_backup_job *j = &jobs.jobs[i];
		char how[160];

		snprintf(how, sizeof(how), "backup job %s (%s%s%s%s)", j->id,
			 j->schedule[0] ? "schedule " : "", j->schedule, j->schedule[0] ? ", " : "",
			 j->by_pool ? "its pool" : j->all ? "all VMs" : "by VMID");
		if (j->by_pool) {
			r = ck_add(c, id, CHECK_INFO, subj, "%s backs up pool %s; whether VM %d is in "
				   "it is not read here: if it is, a backup of the stopped VM starts it%s",
				   how, j->pool, conf->vmid, refuse ? " and fails ([hook] backup = refuse)"
				   : " and its pre-start hands the GPU over ([hook] backup = handoff)");
			ck_fix(c, r, "pvesh get /pools/%s lists its members", j->pool);
		} else if (refuse) {
			r = ck_add(c, id, CHECK_WARN, subj, "%s starts VM %d when it is stopped, and its "
				   "pre-start refuses ([hook] backup = refuse): that backup fails",
				   how, conf->vmid);
			ck_fix(c, r, "exclude it: add %d to 'exclude' of 'vzdump: %s' in /etc/pve/jobs.cfg "
				   "(Datacenter > Backup > Edit), or set backup = handoff in [vm:%d] of "
				   "/etc/pve-gpu-passthrough.ini", conf->vmid, j->id, conf->vmid);
		} else {
			r = ck_add(c, id, CHECK_INFO, subj, "%s starts VM %d when it is stopped: its "
				   "pre-start takes the GPU from the host for the backup ([hook] backup = "
				   "handoff)", how, conf->vmid);
			ck_fix(c, r, "to keep the GPU on the host during backups: backup = refuse in "
				   "[vm:%d] (that backup then fails), or exclude the VM from the job",
				   conf->vmid);
		}
	}
}

/* The snippets storage of volume VOL ("STORAGE:snippets/NAME") and the file's path. */
static int volume_path(const struct sysroot *sr, const char *vol, struct pve_storage *st,
		       char path[SR_PATH_MAX])
{
	const char *colon = strchr(vol, ':');
	char id[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX];
	int r;

	if (!colon || !str_has_prefix(colon + 1, "snippets/") || strchr(colon + 10, '/') ||
	    str_copy_n(id, sizeof(id), vol, (size_t)(colon - vol)) < 0)
		return -EINVAL;
	if ((r = pve_storage_load(sr, id, st)) < 0 || (r = pve_storage_snippets_dir(st, dir)) < 0)
		return r;
	return sr_path(path, "%s/%s", dir, colon + 10);
}

static bool exec_file(const struct sysroot *sr, const char *path)
{
	_cleanup_close_ int fd = sr_openat(sr, path, O_PATH, 0);
	struct stat sb;

	return fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0111);
}

/* A shared storage every node may use that holds snippets (for the fix), "" when none. */
struct shared_walk {
	const struct sysroot *sr;
	char *out;
	size_t size;
};

static int shared_cb(void *ud, const char *type, const char *id, const char *key,
		     const char *val)
{
	struct shared_walk *w = ud;
	struct pve_storage st;

	(void)type;
	(void)val;
	if (key || w->out[0] || !pve_storage_id_valid(id))
		return 0;
	if (pve_storage_load(w->sr, id, &st) == 0 && st.shared && !st.disabled && !st.nodes[0] &&
	    pve_storage_has_content(&st, "snippets"))
		snprintf(w->out, w->size, "%s", id);
	return 0;
}

static void shared_snippets(const struct sysroot *sr, char *out, size_t size)
{
	struct shared_walk w = { .sr = sr, .out = out, .size = size };
	char *text = NULL;

	out[0] = '\0';
	if (pve_conf_slurp(sr, PVE_STORAGE_CFG, PVE_STORAGE_CFG_MAX, &text) == 0)
		pve_section_walk(text, shared_cb, &w);
	free(text);
}

/* Whether node NI has volume VOL (storage ST; LOCAL_OK: the file is here). 1 yes, 0 no, -1
 * cannot be told (a storage this node cannot see, on a node that publishes nothing). */
static int node_has(const struct cl_ctx *x, int ni, const char *vol, const struct pve_storage *st,
		    bool local_ok)
{
	const char *node = x->cl->m.nodes[ni].name;

	if (!pve_storage_on_node(st, node) || st->disabled)
		return 0;
	/* what this node sees: its own storages, and a shared one it mounts too */
	if (!strcmp(node, x->c->node) || (st->shared && pve_storage_on_node(st, x->c->node)))
		return local_ok;
	if (x->cl->nodes[ni].rc < 0)
		return -1;
	for (int k = 0; k < x->cl->nodes[ni].pub.nsnippets; k++)
		if (!strcmp(x->cl->nodes[ni].pub.snippets[k], vol))
			return 1;
	return 0;
}

/* The mapping's vendor:device, from any node's entry ("VENDOR:DEVICE" when none). */
static const char *mapping_id(struct cl_ctx *x, const char *name)
{
	static char id[16];

	snprintf(id, sizeof(id), "VENDOR:DEVICE");
	for (int i = 0; x->maps && i < x->cl->m.nnodes; i++)
		if (pve_mapping_parse(x->maps, name, x->cl->m.nodes[i].name, &x->map) == 0 &&
		    x->map.nalts && x->map.alts[0].id[0]) {
			snprintf(id, sizeof(id), "%s", x->map.alts[0].id);
			break;
		}
	return id;
}

/* One VM with our hookscript: VOL (its hookscript, or what attach would set), HOME its node. */
static void cluster_vm(struct cl_ctx *x, const struct pve_vmconf *conf, const char *home,
		       const char *vol, const char *id_missing)
{
	struct ctx *c = x->c;
	const struct pve_cluster *cl = x->cl;
	char why[PVE_CLUSTER_MAX_NODES][160], subj[48], path[SR_PATH_MAX], shared[PVE_STORAGE_ID_MAX];
	struct pve_ha_vm ha;
	struct pve_storage st;
	struct check_result *r;
	bool local_ok = false, vol_ok;
	int rc, vmid = conf->vmid;

	memset(why, 0, sizeof(why));
	/* where it may run, and why */
	if ((rc = pve_cluster_node(cl, home)) >= 0)
		snprintf(why[rc], sizeof(why[0]), "its node");
	rc = pve_ha_load(c->sr, vmid, &ha);
	if (rc < 0) {
		r = ck_add(c, "cluster.ha", CHECK_WARN, "", "cannot read the HA configuration in "
			   "/etc/pve/ha: %s", rc == -EINVAL ? "malformed" : strerror(-rc));
		ck_fix(c, r, "check it with: ha-manager config; ha-manager rules config");
	} else if (ha.ha) {
		for (int i = 0; i < cl->m.nnodes; i++)
			if (!why[i][0] && (!ha.restricted || pve_list_has(ha.nodes, cl->m.nodes[i].name)))
				snprintf(why[i], sizeof(why[0]), "%.96s%s", ha.from,
					 ha.restricted || pve_list_has(ha.nodes, cl->m.nodes[i].name)
					 ? "" : ": HA may recover it to any node");
	}
	for (int h = 0; h < conf->nhostpci; h++) {
		const char *m = conf->hostpci[h].mapping;

		for (int i = 0; m[0] && x->maps && i < cl->m.nnodes; i++)
			if (!why[i][0] && pve_mapping_parse(x->maps, m, cl->m.nodes[i].name, &x->map) == 0
			    && x->map.nentries)
				snprintf(why[i], sizeof(why[0]), "mapping %.64s has an entry for it", m);
	}

	vol_ok = volume_path(c->sr, vol, &st, path) == 0;
	if (vol_ok)
		local_ok = exec_file(c->sr, path);
	shared_snippets(c->sr, shared, sizeof(shared));
	for (int i = 0; i < cl->m.nnodes; i++) {
		const char *node = cl->m.nodes[i].name;
		bool own = !strcmp(node, home);
		int has;

		if (!why[i][0])
			continue;
		snprintf(subj, sizeof(subj), "vm %d on %.32s", vmid, node);
		if (cl->nodes[i].rc == -ENOENT) {
			x->problems++;
			r = ck_add(c, "cluster.package", CHECK_WARN, subj, "VM %d may run on %s (%s), "
				   "where pve-gpu-passthrough is not installed (nothing published in "
				   "/etc/pve/nodes/%s/%s): there the snippet skips the GPU handoff and "
				   "Proxmox binds the devices itself", vmid, node, why[i], node,
				   PVE_PUBLISH_FILE);
			ck_fix(c, r, "on %s: apt install pve-gpu-passthrough (installing publishes the "
				   "node; if it is installed: pve-gpu-passthrough publish)", node);
		} else if (cl->nodes[i].rc < 0) {
			x->problems++;
			r = ck_add(c, "cluster.package", CHECK_WARN, subj, "node %s: /etc/pve/nodes/%s/%s "
				   "is unreadable or invalid (%s)", node, node, PVE_PUBLISH_FILE,
				   strerror(-cl->nodes[i].rc));
			ck_fix(c, r, "on %s: pve-gpu-passthrough publish", node);
		}
		if (!vol_ok) {
			if (own) {
				x->problems++;
				r = ck_add(c, id_missing, CHECK_FAIL, subj, "VM %d's hookscript '%s' names "
					   "no snippets storage there is: Proxmox refuses to start it",
					   vmid, vol);
				ck_fix(c, r, "on %s: pve-gpu-passthrough attach %d", node, vmid);
				ck_fix(c, r, "or drop it: qm set %d --delete hookscript", vmid);
			}
			continue;
		}
		has = node_has(x, i, vol, &st, local_ok);
		if (has == 0 && !pve_storage_on_node(&st, node)) {
			x->problems++;
			r = ck_add(c, own ? id_missing : "cluster.snippet", CHECK_FAIL, subj, "VM %d %s "
				   "%s (%s), but storage %s of its hookscript '%s' is %s there: Proxmox "
				   "refuses to start it there", vmid, own ? "is on" : "may run on", node,
				   why[i], st.id, vol, st.disabled ? "disabled" : "not available (nodes "
				   "restriction)");
			if (st.disabled)
				ck_fix(c, r, "pvesm set %s --disable 0", st.id);
			else
				ck_fix(c, r, "pvesm set %s --nodes %s,%s", st.id, st.nodes, node);
			if (shared[0] && strcmp(shared, st.id))
				ck_fix(c, r, "or keep the snippet on shared storage: "
					   "pve-gpu-passthrough attach %d --storage %s", vmid, shared);
		} else if (has == 0) {
			x->problems++;
			r = ck_add(c, own ? id_missing : "cluster.snippet", CHECK_FAIL, subj, "VM %d %s "
				   "%s (%s), but its hookscript '%s' does not exist there (%s%s): Proxmox "
				   "refuses to start it there", vmid, own ? "is on" : "may run on", node,
				   why[i], vol, path, st.shared ? "" : ", node-local storage");
			if (own) {
				ck_fix(c, r, "on %s: pve-gpu-passthrough attach %d", node, vmid);
				ck_fix(c, r, "or drop it: qm set %d --delete hookscript", vmid);
			} else {
				ck_fix(c, r, "on %s: copy it (scp -p root@%s:%s %s), then "
					   "pve-gpu-passthrough publish", node, home, path, path);
				if (shared[0])
					ck_fix(c, r, "or keep it on shared storage: pve-gpu-passthrough "
						   "attach %d --storage %s", vmid, shared);
			}
		} else if (has < 0) {
			x->problems++;
			r = ck_add(c, "cluster.snippet", CHECK_WARN, subj, "VM %d may run on %s (%s): "
				   "whether its hookscript '%s' exists there (%s storage %s) cannot "
				   "be told, as %s publishes nothing", vmid, node, why[i], vol,
				   st.shared ? "shared" : "node-local", st.id, node);
			ck_fix(c, r, "on %s: ls -l %s; then pve-gpu-passthrough publish", node, path);
		}
		for (int h = 0; h < conf->nhostpci; h++) {
			const char *m = conf->hostpci[h].mapping;

			if (!m[0] || (x->maps && pve_mapping_parse(x->maps, m, node, &x->map) == 0 &&
				      x->map.nentries))
				continue;
			x->problems++;
			r = ck_add(c, "cluster.mapping", CHECK_FAIL, subj, "VM %d %s %s (%s), but "
				   "mapping %s (hostpci%d) has no entry for %s: Proxmox refuses to start "
				   "it there (PCI device mapping not found)", vmid, own ? "is on" :
				   "may run on", node, why[i], m, conf->hostpci[h].index, node);
			ck_fix(c, r, "add to '%s' in %s: map id=%s,node=%s,path=ADDRESS (ADDRESS: the "
				   "card on %s, see pve-gpu-passthrough list there), or Datacenter > "
				   "Resource Mappings > %s > Add", m, MAPPING_FILE, mapping_id(x, m),
				   node, node, m);
		}
	}
}

/* Our hook's snippet: a hookscript volume whose file is named HOOK_NAME. */
static bool ours(const char *vol)
{
	const char *slash = strrchr(vol, '/');

	return slash && !strcmp(slash + 1, HOOK_NAME);
}

static int cluster_open(struct ctx *c, struct pve_cluster **cl, struct cl_ctx *x)
{
	int rc;

	*cl = calloc(1, sizeof(**cl));
	if (!*cl)
		return -ENOMEM;
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->cl = *cl;
	rc = pve_cluster_load(c->sr, c->node, *cl);
	if (rc < 0)
		return rc;
	rc = pve_conf_slurp(c->sr, MAPPING_FILE, PVE_CONF_MAX, &x->maps);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return 0;
}

void check_cluster(struct ctx *c)
{
	struct pve_cluster *cl = NULL;
	struct cl_ctx x;
	struct check_result *r;
	char list[1024] = "", pub[1024] = "", none[512] = "";
	int rc, nvms = 0;

	rc = cluster_open(c, &cl, &x);
	c->rep->cluster = cl;
	if (rc < 0) {
		r = ck_add(c, "cluster.nodes", CHECK_FAIL, NULL, "cannot read the cluster from /etc/pve "
			   "(.members, mapping/pci.cfg): %s", rc == -EINVAL ? "malformed" : strerror(-rc));
		ck_fix(c, r, "check that pve-cluster runs: systemctl status pve-cluster");
		free(x.maps);
		return;
	}
	if (cl->single) {
		ck_add(c, "cluster.nodes", CHECK_PASS, NULL, "single node (%s): no cluster in "
		       "/etc/pve/.members, nothing to check across nodes", cl->m.local);
		free(x.maps);
		return;
	}
	for (int i = 0; i < cl->m.nnodes; i++) {
		const char *n = cl->m.nodes[i].name;
		size_t k = strlen(list);

		snprintf(list + k, sizeof(list) - k, "%s%s%s%s", i ? ", " : "", n,
			 !strcmp(n, c->node) ? " (this node)" : "",
			 cl->m.nodes[i].online == 0 ? " (offline)" : "");
		k = strlen(cl->nodes[i].rc == 0 ? pub : none);
		if (cl->nodes[i].rc == 0)
			snprintf(pub + k, sizeof(pub) - k, "%s%s %s", k ? ", " : "", n,
				 cl->nodes[i].pub.version);
		else
			snprintf(none + k, sizeof(none) - k, "%s%s", k ? ", " : "", n);
	}
	ck_add(c, "cluster.nodes", CHECK_PASS, NULL, "cluster %s: %d nodes: %s; pve-gpu-passthrough "
	       "published by %s%s%s", cl->m.cluster[0] ? cl->m.cluster : "(unnamed)", cl->m.nnodes,
	       list, pub[0] ? pub : "no node", none[0] ? "; not by " : "", none);
	for (int i = 0; i < cl->m.nnodes; i++) {
		const char *node = cl->m.nodes[i].name;
		int vmids[512], n = pve_node_vmids(c->sr, node, vmids, (int)ARRAY_SIZE(vmids));

		for (int k = 0; k < n; k++) {
			struct pve_vmconf conf;
			char err[256], subj[48];
			int line = 0;

			if (pve_vmconf_load_node(c->sr, vmids[k], node, &conf, &line, err,
						 sizeof(err)) < 0 || !ours(conf.hookscript))
				continue;
			nvms++;
			cluster_vm(&x, &conf, node, conf.hookscript, "cluster.hookscript");
			snprintf(subj, sizeof(subj), "vm %d on %.32s", conf.vmid, node);
			check_backup_jobs(c, "cluster.backup", &conf, node, subj);
		}
	}
	if (!nvms)
		ck_add(c, "cluster.vms", CHECK_PASS, NULL, "no VM on any node has %s as its hookscript",
		       HOOK_NAME);
	else if (!x.problems)
		ck_add(c, "cluster.vms", CHECK_PASS, NULL, "%d VM%s with %s: every node where %s may run "
		       "has the package, the snippet and %s mappings' entries", nvms,
		       nvms == 1 ? "" : "s", HOOK_NAME, nvms == 1 ? "it" : "they",
		       nvms == 1 ? "its" : "their");
	free(x.maps);
}

int checks_cluster_vm(const struct sysroot *sr, const struct check_opts *o, int vmid,
		      const char *volume, struct check_report **ret)
{
	struct check_report *rep = calloc(1, sizeof(*rep));
	struct ctx c = { .sr = sr, .o = o, .rep = rep };
	struct pve_cluster *cl = NULL;
	struct pve_vmconf conf;
	struct cl_ctx x;
	char err[256];
	int line = 0, rc;

	if (!rep)
		return -ENOMEM;
	pve_node_name(o->node, c.node, sizeof(c.node));
	rc = cluster_open(&c, &cl, &x);
	rep->cluster = cl;
	if (rc == 0)
		rc = pve_vmconf_load(sr, vmid, &conf, &line, err, sizeof(err));
	if (rc == 0 && !cl->single)
		cluster_vm(&x, &conf, c.node, volume, "cluster.hookscript");
	free(x.maps);
	if (rc == 0 && c.oom)
		rc = -ENOMEM;
	if (rc < 0) {
		checks_free(rep);
		return rc;
	}
	*ret = rep;
	return 0;
}
