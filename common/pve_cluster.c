/* pve_cluster.c - see pve_cluster.h: the members file, the section configs of HA and backup
 * jobs, and what each node publishes. */
#define _GNU_SOURCE
#include "pve_cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pve_conf.h"
#include "pve_storage.h"
#include "util.h"

bool pve_node_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PVE_NODE_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* ---- .members: a small strict JSON reader --------------------------------------------- */

struct js {
	const char *p;
	int depth;
};

static void js_ws(struct js *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

/* A string into OUT (truncation is an error); escapes \" \\ \/ \b \f \n \r \t only. */
static int js_string(struct js *j, char *out, size_t size)
{
	size_t n = 0;

	if (*j->p != '"')
		return -EINVAL;
	j->p++;
	while (*j->p != '"') {
		char c = *j->p++;

		if (c == '\0' || (unsigned char)c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			c = *j->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			default: return -EINVAL;
			}
		}
		if (n + 1 >= size)
			return -EINVAL;
		out[n++] = c;
	}
	j->p++;
	out[n] = '\0';
	return 0;
}

/* A scalar: a number's integer value in *num (0 for others); *is_num says which. */
static int js_scalar(struct js *j, long *num, bool *is_num)
{
	*num = 0;
	*is_num = false;
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
		*num = j->p[0] == 't';
		j->p += 4;
		return 0;
	}
	if (!strncmp(j->p, "false", 5)) {
		j->p += 5;
		return 0;
	}
	if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		char *end;

		errno = 0;
		*num = strtol(j->p, &end, 10);
		if (end == j->p || errno)
			return -EINVAL;
		j->p = end;
		if (*j->p == '.' || *j->p == 'e' || *j->p == 'E') { /* fractions: skipped */
			j->p++;
			while ((*j->p >= '0' && *j->p <= '9') || *j->p == '+' || *j->p == '-')
				j->p++;
		}
		*is_num = true;
		return 0;
	}
	return -EINVAL;
}

/* What the walk is inside, to know what to keep. */
enum js_where { JS_TOP, JS_CLUSTER, JS_NODELIST, JS_NODE, JS_OTHER };

static int js_value(struct js *j, enum js_where w, struct pve_members *m);

/* An object's member "KEY": VALUE, the parts of .members kept in M by where W is. */
static int js_member(struct js *j, enum js_where w, struct pve_members *m)
{
	char key[PVE_NODE_NAME_MAX * 2];
	int r;

	if ((r = js_string(j, key, sizeof(key))) < 0)
		return r;
	js_ws(j);
	if (*j->p++ != ':')
		return -EINVAL;
	js_ws(j);
	if (w == JS_NODELIST) {
		if (!pve_node_valid(key))
			return -EINVAL;
		if (m->nnodes >= PVE_CLUSTER_MAX_NODES)
			return -E2BIG;
		for (int i = 0; i < m->nnodes; i++)
			if (!strcmp(m->nodes[i].name, key))
				return -EINVAL;
		memcpy(m->nodes[m->nnodes].name, key, strlen(key) + 1); /* valid: fits */
		m->nodes[m->nnodes].online = -1;
		m->nnodes++;
		if (*j->p != '{')
			return -EINVAL;
		return js_value(j, JS_NODE, m);
	}
	if (w == JS_TOP && !strcmp(key, "nodename")) {
		if ((r = js_string(j, m->local, sizeof(m->local))) == 0 && !pve_node_valid(m->local))
			r = -EINVAL;
		return r;
	}
	if (w == JS_TOP && !strcmp(key, "nodelist"))
		return *j->p == '{' ? js_value(j, JS_NODELIST, m) : -EINVAL;
	if (w == JS_TOP && !strcmp(key, "cluster"))
		return *j->p == '{' ? js_value(j, JS_CLUSTER, m) : -EINVAL;
	if (w == JS_CLUSTER && !strcmp(key, "name"))
		return js_string(j, m->cluster, sizeof(m->cluster));
	if (w == JS_NODE && !strcmp(key, "online")) {
		long v;
		bool num;

		r = js_scalar(j, &v, &num);
		m->nodes[m->nnodes - 1].online = v != 0;
		return r;
	}
	return js_value(j, JS_OTHER, m);
}

/* The one walk of both containers, at the opening '{' or '[': its members (js_member) or
 * elements (js_value, nothing kept) up to CLOSE, a comma between two, none after the last. */
static int js_container(struct js *j, char close, enum js_where w, struct pve_members *m)
{
	bool first = true;
	int r;

	j->p++;
	if (++j->depth > 8)
		return -EINVAL;
	for (;;) {
		js_ws(j);
		if (*j->p == close && first)
			break;
		r = close == '}' ? js_member(j, w, m) : js_value(j, JS_OTHER, m);
		if (r < 0)
			return r;
		first = false;
		js_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == close)
			break;
		return -EINVAL;
	}
	j->p++;
	j->depth--;
	return 0;
}

static int js_value(struct js *j, enum js_where w, struct pve_members *m)
{
	char skip[512];
	long num;
	bool is_num;

	js_ws(j);
	if (*j->p == '{')
		return js_container(j, '}', w, m);
	if (*j->p == '[')
		return js_container(j, ']', JS_OTHER, m);
	if (*j->p == '"')
		return js_string(j, skip, sizeof(skip));
	return js_scalar(j, &num, &is_num);
}

int pve_members_parse(const char *text, struct pve_members *ret)
{
	struct js j = { .p = text };
	int r;

	memset(ret, 0, sizeof(*ret));
	js_ws(&j);
	if (*j.p != '{')
		return -EINVAL;
	r = js_container(&j, '}', JS_TOP, ret);
	if (r < 0)
		return r;
	js_ws(&j);
	return *j.p ? -EINVAL : 0;
}

/* ---- section configs -------------------------------------------------------------------- */

int pve_section_walk(const char *text, pve_section_cb cb, void *ud)
{
	char type[64] = "", id[128] = "", line[4096];
	bool in = false;

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		char *s, *key, *val;

		if (n >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (line[0] == '#')
			continue;
		s = line + strspn(line, " \t");
		if (!*s) {
			in = false;
			continue;
		}
		if (s == line) { /* "TYPE: ID" */
			char *colon = strchr(line, ':');

			if (!colon || colon == line)
				return -EINVAL;
			*colon = '\0';
			val = colon + 1 + strspn(colon + 1, " \t");
			val[strcspn(val, " \t")] = '\0';
			if (!*val || str_copy(type, sizeof(type), line) < 0 ||
			    str_copy(id, sizeof(id), val) < 0)
				return -EINVAL;
			in = true;
			int r = cb(ud, type, id, NULL, NULL);

			if (r)
				return r;
			continue;
		}
		if (!in)
			continue; /* SectionConfig ignores what belongs to no section */
		key = s;
		val = s + strcspn(s, " \t");
		if (*val) {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		for (size_t k = strlen(val); k && (val[k - 1] == ' ' || val[k - 1] == '\t'); k--)
			val[k - 1] = '\0';
		int r = cb(ud, type, id, key, *val ? val : "1");

		if (r)
			return r;
	}
	return 0;
}

bool pve_list_has(const char *list, const char *word)
{
	size_t wn = strlen(word);
	bool whole = strchr(word, ':') != NULL; /* "vm:100" is a whole item */

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",; \t");
		size_t name = whole ? n : strcspn(p, ",; \t:");

		if (name > n)
			name = n;
		if (name == wn && wn && !strncmp(p, word, wn))
			return true;
		p += n;
		p += strspn(p, ",; \t");
	}
	return false;
}

static bool truthy(const char *v)
{
	return strcmp(v, "0") != 0;
}

/* "A:2,B" into "A B" (names only, each checked) appended to OUT. */
static int add_nodes(char *out, size_t size, const char *list)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",; \t"), name = strcspn(p, ",; \t:");
		char node[PVE_NODE_NAME_MAX];
		size_t len = strlen(out);

		if (name > n)
			name = n;
		if (name >= sizeof(node))
			return -EINVAL;
		memcpy(node, p, name);
		node[name] = '\0';
		if (!pve_node_valid(node))
			return -EINVAL;
		if (!pve_list_has(out, node) &&
		    snprintf(out + len, size - len, "%s%s", len ? " " : "", node) >= (int)(size - len))
			return -E2BIG;
		p += n;
		p += strspn(p, ",; \t");
	}
	return 0;
}

struct ha_walk {
	int vmid;
	char vmkey[32];         /* "vm:VMID" */
	bool in_res;            /* the current section is "vm: VMID" */
	char group[64];
	/* rules.cfg: the current node-affinity rule */
	char rule[64], rnodes[1024];
	bool rmatch, rstrict, rdisabled, rdone;
	struct pve_ha_vm *ret;
};

static int res_cb(void *ud, const char *type, const char *id, const char *key, const char *val)
{
	struct ha_walk *w = ud;

	if (!key) {
		w->in_res = !strcmp(type, "vm") && atoi(id) == w->vmid;
		if (w->in_res)
			w->ret->ha = true;
		return 0;
	}
	if (w->in_res && !strcmp(key, "group") && str_copy(w->group, sizeof(w->group), val) < 0)
		return -EINVAL;
	return 0;
}

static int group_cb(void *ud, const char *type, const char *id, const char *key,
		    const char *val)
{
	struct ha_walk *w = ud;
	struct pve_ha_vm *r = w->ret;

	if (!key || strcmp(type, "group") || strcmp(id, w->group))
		return 0;
	if (!strcmp(key, "nodes"))
		return add_nodes(r->nodes, sizeof(r->nodes), val);
	if (!strcmp(key, "restricted"))
		r->restricted = truthy(val);
	return 0;
}

/* A finished node-affinity rule that names the VM decides (the first one). */
static int rule_end(struct ha_walk *w)
{
	struct pve_ha_vm *r = w->ret;
	int rc = 0;

	if (w->rule[0] && w->rmatch && !w->rdisabled && !w->rdone) {
		r->nodes[0] = '\0';
		rc = add_nodes(r->nodes, sizeof(r->nodes), w->rnodes);
		r->restricted = w->rstrict;
		snprintf(r->from, sizeof(r->from), "HA rule %s", w->rule);
		w->rdone = true;
	}
	w->rule[0] = w->rnodes[0] = '\0';
	w->rmatch = w->rstrict = w->rdisabled = false;
	return rc;
}

static int rule_cb(void *ud, const char *type, const char *id, const char *key, const char *val)
{
	struct ha_walk *w = ud;
	int r;

	if (!key) {
		if ((r = rule_end(w)) < 0)
			return r;
		if (!strcmp(type, "node-affinity"))
			snprintf(w->rule, sizeof(w->rule), "%s", id);
		return 0;
	}
	if (!w->rule[0])
		return 0;
	if (!strcmp(key, "resources"))
		w->rmatch = pve_list_has(val, w->vmkey);
	else if (!strcmp(key, "nodes"))
		return str_copy(w->rnodes, sizeof(w->rnodes), val) < 0 ? -EINVAL : 0;
	else if (!strcmp(key, "strict"))
		w->rstrict = truthy(val);
	else if (!strcmp(key, "disable"))
		w->rdisabled = truthy(val);
	return 0;
}

int pve_ha_parse(const char *resources, const char *groups, const char *rules, int vmid,
		 struct pve_ha_vm *ret)
{
	struct ha_walk w = { .vmid = vmid, .ret = ret };
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(w.vmkey, sizeof(w.vmkey), "vm:%d", vmid);
	if (resources && (r = pve_section_walk(resources, res_cb, &w)) < 0)
		return r;
	if (!ret->ha)
		return 0;
	if (w.group[0] && groups) {
		snprintf(ret->from, sizeof(ret->from), "HA group %s", w.group);
		if ((r = pve_section_walk(groups, group_cb, &w)) < 0)
			return r;
	}
	if (rules) {
		if ((r = pve_section_walk(rules, rule_cb, &w)) < 0 || (r = rule_end(&w)) < 0)
			return r;
	}
	if (!ret->from[0])
		snprintf(ret->from, sizeof(ret->from), "HA, no group or rule");
	return 0;
}

/* A whole /etc/pve file below the root into *TEXT; a missing one is NULL and 0. */
static int slurp_opt(const struct sysroot *sr, const char *path, size_t max, char **text)
{
	int r = pve_conf_slurp(sr, path, max, text);

	if (r == -ENOENT) {
		*text = NULL;
		return 0;
	}
	return r;
}

int pve_ha_load(const struct sysroot *sr, int vmid, struct pve_ha_vm *ret)
{
	char *res = NULL, *groups = NULL, *rules = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = slurp_opt(sr, "/etc/pve/ha/resources.cfg", PVE_SECTION_CFG_MAX, &res)) == 0 &&
	    (r = slurp_opt(sr, "/etc/pve/ha/groups.cfg", PVE_SECTION_CFG_MAX, &groups)) == 0 &&
	    (r = slurp_opt(sr, "/etc/pve/ha/rules.cfg", PVE_SECTION_CFG_MAX, &rules)) == 0)
		r = pve_ha_parse(res, groups, rules, vmid, ret);
	free(res);
	free(groups);
	free(rules);
	return r;
}

/* ---- backup jobs ------------------------------------------------------------------------ */

struct job_walk {
	int vmid;
	const char *node;
	char vm[16];
	bool in, enabled, node_ok, all, excluded, listed;
	struct pve_backup_job cur;
	struct pve_backup_jobs *ret;
};

static int job_end(struct job_walk *w)
{
	bool pick = w->in && w->enabled && w->node_ok &&
		    ((w->all && !w->excluded) || w->listed || (w->cur.pool[0] && !w->excluded));

	if (pick) {
		if (w->ret->n >= PVE_MAX_JOBS)
			return -E2BIG;
		w->cur.all = w->all && !w->listed;
		w->cur.by_pool = !w->all && !w->listed;
		w->ret->jobs[w->ret->n++] = w->cur;
	}
	w->in = false;
	return 0;
}

static int job_cb(void *ud, const char *type, const char *id, const char *key, const char *val)
{
	struct job_walk *w = ud;
	int r;

	if (!key) {
		if ((r = job_end(w)) < 0)
			return r;
		w->in = !strcmp(type, "vzdump");
		memset(&w->cur, 0, sizeof(w->cur));
		w->enabled = w->node_ok = true;
		w->all = w->excluded = w->listed = false;
		if (w->in && str_copy(w->cur.id, sizeof(w->cur.id), id) < 0)
			return -EINVAL;
		return 0;
	}
	if (!w->in)
		return 0;
	if (!strcmp(key, "enabled"))
		w->enabled = truthy(val);
	else if (!strcmp(key, "all"))
		w->all = truthy(val);
	else if (!strcmp(key, "vmid"))
		w->listed = pve_list_has(val, w->vm);
	else if (!strcmp(key, "exclude"))
		w->excluded = pve_list_has(val, w->vm);
	else if (!strcmp(key, "node"))
		w->node_ok = !strcmp(val, w->node);
	else if (!strcmp(key, "pool"))
		return str_copy(w->cur.pool, sizeof(w->cur.pool), val) < 0 ? -EINVAL : 0;
	else if (!strcmp(key, "schedule"))
		return str_copy(w->cur.schedule, sizeof(w->cur.schedule), val) < 0 ? -EINVAL : 0;
	return 0;
}

int pve_backup_jobs_parse(const char *text, int vmid, const char *node,
			  struct pve_backup_jobs *ret)
{
	struct job_walk w = { .vmid = vmid, .node = node, .ret = ret };
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(w.vm, sizeof(w.vm), "%d", vmid);
	r = pve_section_walk(text, job_cb, &w);
	return r < 0 ? r : job_end(&w);
}

int pve_backup_jobs_load(const struct sysroot *sr, int vmid, const char *node,
			 struct pve_backup_jobs *ret)
{
	char *text = NULL;
	int r = slurp_opt(sr, "/etc/pve/jobs.cfg", PVE_SECTION_CFG_MAX, &text);

	memset(ret, 0, sizeof(*ret));
	if (r == 0 && text)
		r = pve_backup_jobs_parse(text, vmid, node, ret);
	free(text);
	return r;
}

/* ---- what a node publishes -------------------------------------------------------------- */

static bool version_valid(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      strchr(".+~:-", *v)))
			return false;
	return true;
}

static bool hook_valid(const char *h)
{
	if (h[0] != '/' || strstr(h, "/..") || strstr(h, "//"))
		return false;
	for (; *h; h++)
		if ((unsigned char)*h <= ' ' || *h == 0x7f)
			return false;
	return true;
}

/* STORAGE:snippets/NAME with a valid storage id and a plain file name. */
static bool snippet_valid(const char *v)
{
	const char *colon = strchr(v, ':'), *name;
	char id[PVE_STORAGE_ID_MAX];

	if (!colon || str_copy_n(id, sizeof(id), v, (size_t)(colon - v)) < 0 ||
	    !pve_storage_id_valid(id) || !str_has_prefix(colon + 1, "snippets/"))
		return false;
	name = colon + 10;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (; *name; name++)
		if (*name == '/' || (unsigned char)*name <= ' ' || *name == 0x7f)
			return false;
	return true;
}

int pve_published_parse(const char *text, struct pve_published *ret)
{
	char line[512];

	memset(ret, 0, sizeof(*ret));
	if (strlen(text) > PVE_PUBLISH_MAX)
		return -EFBIG;
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		char *eq;

		if (n >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (!line[0] || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (!strcmp(line, "version")) {
			if (ret->version[0] || !version_valid(eq) ||
			    str_copy(ret->version, sizeof(ret->version), eq) < 0)
				return -EINVAL;
		} else if (!strcmp(line, "hook")) {
			if (ret->hook[0] || !hook_valid(eq) ||
			    str_copy(ret->hook, sizeof(ret->hook), eq) < 0)
				return -EINVAL;
		} else if (!strcmp(line, "snippet")) {
			if (ret->nsnippets >= PVE_PUBLISH_MAX_SNIPPETS)
				return -E2BIG;
			if (!snippet_valid(eq) ||
			    str_copy(ret->snippets[ret->nsnippets], sizeof(ret->snippets[0]), eq) < 0)
				return -EINVAL;
			ret->nsnippets++;
		}
		/* other keys: a newer version's, skipped */
	}
	return ret->version[0] && ret->hook[0] ? 0 : -EINVAL;
}

int pve_published_load(const struct sysroot *sr, const char *node, struct pve_published *ret)
{
	char path[SR_PATH_MAX], *text = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!pve_node_valid(node))
		return -EINVAL;
	if ((r = sr_path(path, "/etc/pve/nodes/%s/" PVE_PUBLISH_FILE, node)) < 0)
		return r;
	r = pve_conf_slurp(sr, path, PVE_PUBLISH_MAX, &text);
	if (r < 0)
		return r;
	r = pve_published_parse(text, ret);
	free(text);
	return r;
}

int pve_published_format(const struct pve_published *p, char *buf, size_t size)
{
	size_t n;
	int k = snprintf(buf, size, "# written by pve-gpu-passthrough publish\nversion=%s\nhook=%s\n",
			 p->version, p->hook);

	if (k < 0 || (size_t)k >= size)
		return -ENOSPC;
	n = (size_t)k;
	for (int i = 0; i < p->nsnippets; i++) {
		k = snprintf(buf + n, size - n, "snippet=%s\n", p->snippets[i]);
		if (k < 0 || (size_t)k >= size - n)
			return -ENOSPC;
		n += (size_t)k;
	}
	return 0;
}

struct ids_walk {
	char ids[PVE_PUBLISH_MAX_SNIPPETS * 4][PVE_STORAGE_ID_MAX];
	int n;
};

static int storage_ids_cb(void *ud, const char *type, const char *id, const char *key,
			  const char *val)
{
	struct ids_walk *w = ud;

	(void)type;
	(void)val;
	if (key || w->n >= (int)ARRAY_SIZE(w->ids))
		return 0;
	if (pve_storage_id_valid(id))
		snprintf(w->ids[w->n++], PVE_STORAGE_ID_MAX, "%s", id);
	return 0;
}

int pve_published_collect(const struct sysroot *sr, const char *node, const char *version,
			  const char *hook, const char *name, struct pve_published *ret)
{
	struct ids_walk w = { .n = 0 };
	char *text = NULL;
	bool local = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!version_valid(version) || !hook_valid(hook) ||
	    str_copy(ret->version, sizeof(ret->version), version) < 0 ||
	    str_copy(ret->hook, sizeof(ret->hook), hook) < 0)
		return -EINVAL;
	r = slurp_opt(sr, PVE_STORAGE_CFG, PVE_STORAGE_CFG_MAX, &text);
	if (r == 0 && text)
		r = pve_section_walk(text, storage_ids_cb, &w);
	free(text);
	if (r < 0)
		return r;
	for (int i = 0; i < w.n; i++)
		local = local || !strcmp(w.ids[i], "local");
	if (!local && w.n < (int)ARRAY_SIZE(w.ids)) /* Proxmox always has "local" */
		snprintf(w.ids[w.n++], PVE_STORAGE_ID_MAX, "local");
	for (int i = 0; i < w.n && ret->nsnippets < PVE_PUBLISH_MAX_SNIPPETS; i++) {
		struct pve_storage st;
		char dir[SR_PATH_MAX], path[SR_PATH_MAX], vol[160];
		struct stat sb;
		_cleanup_close_ int fd = -1;

		if (pve_storage_load(sr, w.ids[i], &st) < 0 || st.disabled ||
		    !pve_storage_has_content(&st, "snippets") || !pve_storage_on_node(&st, node) ||
		    pve_storage_snippets_dir(&st, dir) < 0 || sr_path(path, "%s/%s", dir, name) < 0)
			continue;
		fd = sr_openat(sr, path, O_PATH, 0);
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 0111))
			continue;
		snprintf(vol, sizeof(vol), "%s:snippets/%s", w.ids[i], name);
		if (!snippet_valid(vol))
			continue;
		if (str_copy(ret->snippets[ret->nsnippets], sizeof(ret->snippets[0]), vol) == 0)
			ret->nsnippets++;
	}
	return 0;
}

int pve_published_write(const struct sysroot *sr, const char *node, const struct pve_published *p)
{
	char path[SR_PATH_MAX], dir[SR_PATH_MAX], text[PVE_PUBLISH_MAX + 1], *old = NULL;
	int r;

	if (!pve_node_valid(node))
		return -EINVAL;
	if ((r = pve_published_format(p, text, sizeof(text))) < 0 ||
	    (r = sr_path(dir, "/etc/pve/nodes/%s", node)) < 0 ||
	    (r = sr_path(path, "%s/" PVE_PUBLISH_FILE, dir)) < 0)
		return r;
	if (!sr_exists(sr, dir))
		return -ENOENT;
	if (pve_conf_slurp(sr, path, PVE_PUBLISH_MAX, &old) == 0 && !strcmp(old, text)) {
		free(old);
		return 0;
	}
	free(old);
	return sr_write_file_atomic(sr, path, text, strlen(text), 0640);
}

/* ---- the cluster ------------------------------------------------------------------------ */

int pve_cluster_load(const struct sysroot *sr, const char *local, struct pve_cluster *ret)
{
	char *text = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = slurp_opt(sr, "/etc/pve/.members", PVE_MEMBERS_MAX, &text);
	if (r == 0 && text)
		r = pve_members_parse(text, &ret->m);
	free(text);
	if (r < 0)
		return r;
	if (ret->m.nnodes == 0) {
		ret->single = true;
		if (!ret->m.local[0])
			snprintf(ret->m.local, sizeof(ret->m.local), "%s", local);
		snprintf(ret->m.nodes[0].name, PVE_NODE_NAME_MAX, "%s", ret->m.local);
		ret->m.nodes[0].online = 1;
		ret->m.nnodes = 1;
	}
	for (int i = 0; i < ret->m.nnodes; i++)
		ret->nodes[i].rc = pve_published_load(sr, ret->m.nodes[i].name, &ret->nodes[i].pub);
	return 0;
}

int pve_cluster_node(const struct pve_cluster *c, const char *name)
{
	for (int i = 0; i < c->m.nnodes; i++)
		if (!strcmp(c->m.nodes[i].name, name))
			return i;
	return -1;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int pve_node_vmids(const struct sysroot *sr, const char *node, int *vmids, int max)
{
	char path[SR_PATH_MAX];
	int n = 0, r;
	DIR *d;
	struct dirent *e;

	if (!pve_node_valid(node))
		return -EINVAL;
	if ((r = sr_path(path, "/etc/pve/nodes/%s/qemu-server", node)) < 0)
		return r;
	d = sr_opendir(sr, path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < max) {
		char id[16];
		const char *dot = strrchr(e->d_name, '.');
		int v;

		if (!dot || strcmp(dot, ".conf") ||
		    str_copy_n(id, sizeof(id), e->d_name, (size_t)(dot - e->d_name)) < 0 ||
		    pve_vmid_parse(id, &v) < 0)
			continue;
		vmids[n++] = v;
	}
	closedir(d);
	qsort(vmids, (size_t)n, sizeof(*vmids), cmp_int);
	return n;
}
