/* report_cluster.c - the report's cluster part: what `check --cluster` reads, written so that
 * the report replays to the same cluster with node names replaced (this node "pve", others
 * node2, ...): .members (names and online only), each node's published file and VM configs
 * (the VM filter), the HA files and the vzdump jobs (only the keys the checks read; node
 * lists keep their priorities). On a single node only the vzdump jobs (vm.backup). */
#define _GNU_SOURCE
#include "report_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pve_cluster.h"
#include "pve_conf.h"
#include "util.h"

static const char *pseudo(struct rctx *c, const char *node)
{
	const char *p = report_node_name(c, node);

	return p ? p : "node";
}

/* "A:2,B" with each node name replaced. */
static void node_list(struct rctx *c, struct sbuf *b, const char *list)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",; \t"), name = strcspn(p, ",; \t:");
		char node[PVE_NODE_NAME_MAX];

		if (name > n)
			name = n;
		if (n) {
			snprintf(node, sizeof(node), "%.*s", (int)name, p);
			sb_str(b, pve_node_valid(node) ? pseudo(c, node) : "node");
			sb_add(b, p + name, n - name);
		}
		p += n;
		if (*p) {
			sb_add(b, p, 1);
			p++;
		}
	}
}

struct sect {
	struct rctx *c;
	struct sbuf b;
	const char *const *keys;      /* kept keys */
	const char *const *node_keys; /* kept keys whose value is a node list */
	const char *type;             /* only sections of this type ("" : all) */
	bool in;
};

static bool listed(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (!strcmp(*l, k))
			return true;
	return false;
}

static int sect_cb(void *ud, const char *type, const char *id, const char *key, const char *val)
{
	struct sect *s = ud;

	if (!key) {
		s->in = !s->type[0] || !strcmp(type, s->type);
		if (s->in) {
			sb_str(&s->b, s->b.len ? "\n" : "");
			sb_str(&s->b, type);
			sb_str(&s->b, ": ");
			sb_str(&s->b, id);
			sb_str(&s->b, "\n");
		}
		return 0;
	}
	if (!s->in)
		return 0;
	if (listed(s->node_keys, key)) {
		sb_str(&s->b, "\t");
		sb_str(&s->b, key);
		sb_str(&s->b, " ");
		node_list(s->c, &s->b, val);
		sb_str(&s->b, "\n");
	} else if (listed(s->keys, key)) {
		sb_str(&s->b, "\t");
		sb_str(&s->b, key);
		sb_str(&s->b, " ");
		sb_str(&s->b, val);
		sb_str(&s->b, "\n");
	}
	return 0;
}

/* The section config PATH with only KEYS (and NODE_KEYS, names replaced) of TYPE sections. */
static void section_file(struct rctx *c, const char *path, const char *type,
			 const char *const *keys, const char *const *node_keys)
{
	struct sect s = { .c = c, .keys = keys, .node_keys = node_keys, .type = type };
	char *text = NULL, *out;

	if (pve_conf_slurp(c->sr, path, PVE_SECTION_CFG_MAX, &text) < 0)
		return;
	if (pve_section_walk(text, sect_cb, &s) < 0) {
		free(s.b.p);
		free(text);
		return;
	}
	free(text);
	out = sb_done(&s.b);
	if (!out) {
		c->oom = true;
		return;
	}
	report_add_file(c, path, out, strlen(out));
	free(out);
}

void report_capture_cluster(struct rctx *c)
{
	static const char *const none[] = { NULL };
	static const char *const res_keys[] = { "group", "state", NULL };
	static const char *const group_keys[] = { "restricted", NULL };
	static const char *const rule_keys[] = { "resources", "strict", "disable", NULL };
	static const char *const job_keys[] = { "all", "vmid", "exclude", "pool", "enabled",
						"schedule", NULL };
	static const char *const nodes_key[] = { "nodes", NULL };
	static const char *const node_key[] = { "node", NULL };
	struct pve_members m;
	struct sbuf b = { 0 };
	char *text = NULL, *out;

	/* the backup jobs: vm.backup reads them on a single node too */
	section_file(c, "/etc/pve/jobs.cfg", "vzdump", job_keys, node_key);
	if (pve_conf_slurp(c->sr, "/etc/pve/.members", PVE_MEMBERS_MAX, &text) < 0)
		return;
	if (pve_members_parse(text, &m) < 0 || m.nnodes == 0) {
		free(text);
		return;
	}
	free(text);
	sb_str(&b, "{\"nodename\": \"");
	sb_str(&b, m.local[0] ? pseudo(c, m.local) : "pve");
	sb_str(&b, "\", \"cluster\": {\"name\": \"cluster\"}, \"nodelist\": {");
	for (int i = 0; i < m.nnodes; i++) {
		char item[160];

		snprintf(item, sizeof(item), "%s\"%s\": {\"online\": %d}", i ? ", " : "",
			 pseudo(c, m.nodes[i].name), m.nodes[i].online);
		sb_str(&b, item);
	}
	sb_str(&b, "}}\n");
	out = sb_done(&b);
	if (!out) {
		c->oom = true;
		return;
	}
	report_add_file(c, "/etc/pve/.members", out, strlen(out));
	free(out);
	for (int i = 0; i < m.nnodes && !c->oom; i++) {
		struct pve_published p;
		char path[SR_PATH_MAX], buf[PVE_PUBLISH_MAX + 1];
		const char *pn = pseudo(c, m.nodes[i].name);
		int vmids[512], n;

		if (pve_published_load(c->sr, m.nodes[i].name, &p) == 0 &&
		    pve_published_format(&p, buf, sizeof(buf)) == 0 &&
		    sr_path(path, "/etc/pve/nodes/%s/" PVE_PUBLISH_FILE, pn) == 0)
			report_add_file(c, path, buf, strlen(buf));
		n = pve_node_vmids(c->sr, m.nodes[i].name, vmids, (int)ARRAY_SIZE(vmids));
		for (int k = 0; k < n && !c->oom; k++) {
			char src[SR_PATH_MAX];
			char *conf = NULL, *f;

			if (sr_path(src, "/etc/pve/nodes/%s/qemu-server/%d.conf", m.nodes[i].name,
				    vmids[k]) < 0 ||
			    sr_path(path, "/etc/pve/nodes/%s/qemu-server/%d.conf", pn, vmids[k]) < 0 ||
			    pve_conf_slurp(c->sr, src, PVE_CONF_MAX, &conf) < 0)
				continue;
			f = report_filter_vmconf(c, conf);
			free(conf);
			report_vmconf_add(c, src); /* its hookscript's file too (vm_files) */
			if (f)
				report_add_file(c, path, f, strlen(f));
			free(f);
		}
	}
	section_file(c, "/etc/pve/ha/resources.cfg", "", res_keys, none);
	section_file(c, "/etc/pve/ha/groups.cfg", "group", group_keys, nodes_key);
	section_file(c, "/etc/pve/ha/rules.cfg", "node-affinity", rule_keys, nodes_key);
}
