/* pve_cluster.h - the Proxmox cluster as pmxcfs (/etc/pve) shows it to every node, for `check
 * --cluster`, `attach` and `publish`. Every file is hostile input: bounded, validated, fuzzed.
 *
 *   /etc/pve/.members              JSON written by pmxcfs: "nodename", and in a cluster
 *                                  "cluster" { "name", ... } and "nodelist" { NODE: { "id",
 *                                  "online", "ip" }, ... }; without "nodelist": a single node
 *   /etc/pve/nodes/NODE/qemu-server/VMID.conf   each node's VM configs
 *   /etc/pve/ha/resources.cfg      "vm: VMID" sections, optional "group NAME" (PVE 8)
 *   /etc/pve/ha/groups.cfg         "group: NAME", "nodes A[:PRIO],B", "restricted 0|1" (PVE 8)
 *   /etc/pve/ha/rules.cfg          "node-affinity: NAME", "resources vm:100,ct:101",
 *                                  "nodes A[:PRIO],B", "strict 0|1", "disable" (PVE 9)
 *   /etc/pve/jobs.cfg              "vzdump: ID", "all 1", "vmid 100,101", "exclude 102",
 *                                  "pool NAME", "node NODE", "enabled 0|1", "schedule ..."
 *   /etc/pve/nodes/NODE/pve-gpu-passthrough   what this package publishes about NODE (below)
 *
 * The section files are read the way PVE::SectionConfig reads them: "TYPE: ID" in column 0
 * opens a section, indented "KEY VALUE" lines (a bare KEY is 1) belong to it, '#' lines are
 * skipped. Library code: 0 or a negative errno, never logs. */
#ifndef PGP_PVE_CLUSTER_H
#define PGP_PVE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

#define PVE_CLUSTER_MAX_NODES 64
#define PVE_NODE_NAME_MAX 64
#define PVE_MEMBERS_MAX (64 * 1024)
#define PVE_SECTION_CFG_MAX (1 << 20)
#define PVE_PUBLISH_MAX 4096
#define PVE_PUBLISH_FILE "pve-gpu-passthrough" /* in /etc/pve/nodes/NODE/ */
#define PVE_PUBLISH_MAX_SNIPPETS 16

/* A Proxmox node name (pve-node: a DNS label: letters, digits, '-', not at either end). */
bool pve_node_valid(const char *name);

struct pve_members {
	char local[PVE_NODE_NAME_MAX];   /* "nodename" */
	char cluster[PVE_NODE_NAME_MAX]; /* the cluster's name, "" when none */
	int nnodes;                      /* 0: no nodelist (a single node) */
	struct {
		char name[PVE_NODE_NAME_MAX];
		int online;              /* 1, 0, or -1 when not said */
	} nodes[PVE_CLUSTER_MAX_NODES];
};
/* Parses .members TEXT (a small strict JSON reader: objects, strings without \u escapes of
 * NUL, numbers, true/false/null, arrays; depth at most 8). -EINVAL on bad JSON or an invalid
 * node name, -E2BIG beyond PVE_CLUSTER_MAX_NODES. */
int pve_members_parse(const char *text, struct pve_members *ret);

/* Calls CB for each property of each section of a SectionConfig TEXT: (TYPE, ID, KEY, VALUE)
 * with KEY NULL once when a section opens. A non-zero return of CB stops the walk and is
 * returned. -EINVAL for a line that is neither (an unindented line without "TYPE: ID"). */
typedef int (*pve_section_cb)(void *ud, const char *type, const char *id, const char *key,
			      const char *value);
int pve_section_walk(const char *text, pve_section_cb cb, void *ud);

/* True when LIST (',' ';' or blank separated) holds WORD; "NODE:PRIO" items match NODE (a
 * WORD with a ':', "vm:100", matches whole items only). */
bool pve_list_has(const char *list, const char *word);

/* Where HA lets VM VMID run. ha is false when the VM is not an HA resource. With restricted
 * (a restricted group or a strict node-affinity rule) only NODES (space-separated); otherwise
 * any node of the cluster (NODES then holds the preferred ones). FROM names where it came
 * from ("group G", "rule R", ""). */
struct pve_ha_vm {
	bool ha;
	bool restricted;
	char nodes[1024];
	char from[96];
};
/* From the three HA files' TEXTs (each NULL when absent). -EINVAL on a malformed file. */
int pve_ha_parse(const char *resources, const char *groups, const char *rules, int vmid,
		 struct pve_ha_vm *ret);
int pve_ha_load(const struct sysroot *sr, int vmid, struct pve_ha_vm *ret);

/* The vzdump jobs of jobs.cfg that would back up VM VMID of node NODE. */
#define PVE_MAX_JOBS 32
struct pve_backup_job {
	char id[64];
	char schedule[64];
	char pool[64];     /* the job selects a pool: membership is not read ("maybe") */
	bool all;          /* all 1 */
	bool by_pool;      /* selected only through its pool: VMID may or may not be in it */
};
struct pve_backup_jobs {
	int n;
	struct pve_backup_job jobs[PVE_MAX_JOBS];
};
/* From jobs.cfg TEXT: the enabled vzdump jobs whose node (when set) is NODE and that select
 * VMID: "all 1" without VMID in "exclude", VMID in "vmid", or a "pool" (by_pool). -EINVAL on
 * a malformed file, -E2BIG beyond PVE_MAX_JOBS matches. */
int pve_backup_jobs_parse(const char *text, int vmid, const char *node,
			  struct pve_backup_jobs *ret);
int pve_backup_jobs_load(const struct sysroot *sr, int vmid, const char *node,
			 struct pve_backup_jobs *ret);

/* What a node publishes in /etc/pve/nodes/NODE/pve-gpu-passthrough ("KEY=VALUE" lines, at
 * most PVE_PUBLISH_MAX bytes; unknown keys are skipped, for newer versions):
 *   version=0.1+deb13          the package version
 *   hook=/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook
 *   snippet=local:snippets/pve-gpu-passthrough-hook   (a line per volume that holds our hook
 *                              on this node: node-local storages included) */
struct pve_published {
	char version[64];
	char hook[256];
	int nsnippets;
	char snippets[PVE_PUBLISH_MAX_SNIPPETS][128];
};
/* -EINVAL on a bad line or value (version outside [A-Za-z0-9.+~:-], hook not an absolute
 * path without "..", a snippet that is not STORAGE:snippets/NAME), -E2BIG beyond
 * PVE_PUBLISH_MAX_SNIPPETS. version and hook are required. */
int pve_published_parse(const char *text, struct pve_published *ret);
/* -ENOENT when NODE publishes nothing. */
int pve_published_load(const struct sysroot *sr, const char *node, struct pve_published *ret);
/* The file's text for P into BUF. -ENOSPC when it does not fit. */
int pve_published_format(const struct pve_published *p, char *buf, size_t size);
/* This node's facts: VERSION, HOOK, and every storage of storage.cfg with snippets content,
 * enabled on NODE, whose snippets directory holds an executable NAME (our hook's snippet). */
int pve_published_collect(const struct sysroot *sr, const char *node, const char *version,
			  const char *hook, const char *name, struct pve_published *ret);
/* Writes P as /etc/pve/nodes/NODE/pve-gpu-passthrough (a temporary file, then rename, as
 * pmxcfs allows). -EACCES/-EROFS/-EPERM when /etc/pve is not writable (no quorum, not
 * root), -ENOENT when the node's directory does not exist. Unchanged content: 0, no write. */
int pve_published_write(const struct sysroot *sr, const char *node, const struct pve_published *p);

/* The cluster, read once: the members, and what each node published. */
struct pve_cluster {
	struct pve_members m;
	bool single;               /* no nodelist: a single node (or no pmxcfs at all) */
	struct {
		int rc;                /* pve_published_load's result for the node */
		struct pve_published pub;
	} nodes[PVE_CLUSTER_MAX_NODES];
};
/* Reads .members (missing: a single node named LOCAL) and each node's published file.
 * -EINVAL when .members is malformed. */
int pve_cluster_load(const struct sysroot *sr, const char *local, struct pve_cluster *ret);
/* The node's index in C->m.nodes, -1 when it is no member. */
int pve_cluster_node(const struct pve_cluster *c, const char *name);

/* The VMIDs with a config in /etc/pve/nodes/NODE/qemu-server, sorted; at most MAX. */
int pve_node_vmids(const struct sysroot *sr, const char *node, int *vmids, int max);

#endif
