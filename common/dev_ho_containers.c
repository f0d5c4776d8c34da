/* dev_ho_containers.c - the containers row of the handoff (dev_ho.h): running containers (pct)
 * whose config uses a member's device nodes (pve_lxc.h). The check refuses them, named in one
 * line (containers = refuse, the default), or plans to shut them down (containers = stop);
 * apply runs "pct shutdown CTID --timeout T", then "pct stop CTID" when it did not stop in
 * time; post-stop starts them again once the devices are back and their nodes exist. Their
 * processes are then no holders of the GPU (the bind row's check). Containers that were not
 * running are never started; one started by hand meanwhile is left alone. Records:
 * "rec container CTID DEVICE..." (the members it uses, whose nodes post-stop waits for). */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pve_conf.h"
#include "pve_lxc.h"
#include "util.h"

#define CT_REC "container"
#define CT_MAX_DEVS 8

static int ct_index(const struct job *j, int ctid)
{
	for (int i = 0; i < j->ncts; i++)
		if (j->cts[i] == ctid)
			return i;
	return -1;
}

static int ct_check(struct job *j)
{
	const char *names[MAX_MEMBERS];
	struct lxc_user u[64];
	char err[320], list[640] = "";
	int n, nbad = 0;

	j->ncts = 0;
	for (int i = 0; i < j->nmem; i++)
		names[i] = j->mem[i].info.name;
	n = pve_lxc_users(j->ops->sr, j->ops->node, names, j->nmem, u, (int)ARRAY_SIZE(u), &nbad,
			  err, sizeof(err));
	if (n < 0) {
		ERR(j, "cannot read the containers' configs: %s", strerror(-n));
		return n;
	}
	if (nbad)
		WARN(j, "%d container config%s could not be read, so whether %s the GPU is not "
			"known: %s", nbad, nbad == 1 ? "" : "s", nbad == 1 ? "it uses" : "they use",
		     err);
	for (int k = 0; k < n; k++) {
		int i = ct_index(j, u[k].ctid);
		size_t off = strlen(list);

		if (!u[k].running)
			continue;
		if (i < 0) {
			if (j->ncts >= HO_MAX_CTS) {
				ERR(j, "refusing: more than %d running containers use the VM's GPU",
				    HO_MAX_CTS);
				return -E2BIG;
			}
			i = j->ncts++;
			j->cts[i] = u[k].ctid;
			j->ct_devs[i][0] = '\0';
			j->ct_stopped[i] = false;
		}
		if (strlen(j->ct_devs[i]) + PCI_ADDR_LEN + 1 < sizeof(j->ct_devs[i]) &&
		    !strstr(j->ct_devs[i], u[k].dev))
			snprintf(j->ct_devs[i] + strlen(j->ct_devs[i]),
				 sizeof(j->ct_devs[i]) - strlen(j->ct_devs[i]), "%s%s",
				 j->ct_devs[i][0] ? " " : "", u[k].dev);
		snprintf(list + off, sizeof(list) - off, "%s%d%s%s (%s: %s)", off ? ", " : "",
			 u[k].ctid, u[k].hostname[0] ? " " : "", u[k].hostname, u[k].dev, u[k].what);
	}
	if (!j->ncts)
		return 0;
	if (!j->opts->containers_stop) {
		ERR(j, "refusing: running container%s %s use%s the VM's GPU: shut %s down first "
		       "(pct shutdown CTID), or set containers = stop (they are shut down for the VM "
		       "and started again after it)", j->ncts == 1 ? "" : "s", list,
		    j->ncts == 1 ? "s" : "", j->ncts == 1 ? "it" : "them");
		return -EBUSY;
	}
	INFO(j, "running container%s %s use%s the GPU: shutting %s down for the VM "
		"(containers = stop)", j->ncts == 1 ? "" : "s", list, j->ncts == 1 ? "s" : "",
	     j->ncts == 1 ? "it" : "them");
	return 0;
}

int ho_containers_filter(struct job *j, struct holder *h, int n)
{
	int k = 0;

	if (!j->ncts)
		return n;
	for (int i = 0; i < n; i++) {
		int ctid = pve_lxc_of_pid(j->ops->sr, h[i].pid);

		if (ctid <= 0 || ct_index(j, ctid) < 0)
			h[k++] = h[i];
	}
	return k;
}

/* pct VERB CTID [--timeout T]: 0, or -errno / -EIO with pct's last words in WHY. */
static int pct(struct job *j, const char *verb, int ctid, int timeout_s, char *why, size_t size)
{
	char id[16], t[16], out[512];
	const char *argv[] = { "pct", verb, id, timeout_s ? "--timeout" : NULL, t, NULL };
	int r;

	snprintf(id, sizeof(id), "%d", ctid);
	snprintf(t, sizeof(t), "%d", timeout_s);
	out[0] = '\0';
	r = j->exec.run(j->exec.data, argv, out, sizeof(out));
	if (r == 0)
		return 0;
	{ /* the last non-empty line pct printed */
		char *e = out + strlen(out), *l;

		while (e > out && (e[-1] == '\n' || e[-1] == ' '))
			*--e = '\0';
		l = strrchr(out, '\n');
		l = l ? l + 1 : out;
		if (r > 0)
			snprintf(why, size, "exit status %d%s%s", r, *l ? ": " : "", l);
		else
			snprintf(why, size, "%s", strerror(-r));
	}
	return r > 0 ? -EIO : r;
}

/* Polls (DEADLINE) until CTID runs no more: 0, or -EBUSY. */
static int wait_stopped(struct job *j, int ctid, uint64_t deadline)
{
	unsigned step = 0;
	int r;

	while ((r = pve_lxc_running(j->ops->sr, ctid)) > 0 && backoff_wait(&step, deadline))
		;
	return r > 0 ? -EBUSY : 0;
}

static int stop_one(struct job *j, int i)
{
	int ctid = j->cts[i];
	/* pct's own deadline, within what one program may take (QUIRKS_EXEC_TIMEOUT_S) */
	unsigned long t = (j->opts->unbind_timeout_ms + 999) / 1000;
	int timeout_s = t < 1 ? 1 : t > QUIRKS_EXEC_TIMEOUT_S - 5 ? QUIRKS_EXEC_TIMEOUT_S - 5 : (int)t;
	char why[320];
	int r;

	if (j->ops->dry_run) {
		INFO(j, "would run pct shutdown %d --timeout %d", ctid, timeout_s);
		return 0;
	}
	j->ct_stopped[i] = true; /* from here on, the rollback starts it again */
	r = pct(j, "shutdown", ctid, timeout_s, why, sizeof(why));
	if (r == 0)
		r = wait_stopped(j, ctid, now_ms() + j->opts->bind_timeout_ms);
	if (r < 0) {
		WARN(j, "container %d did not shut down within %d s (%s): stopping it (pct stop %d)",
		     ctid, timeout_s, r == -EBUSY ? "still running" : why, ctid);
		r = pct(j, "stop", ctid, 0, why, sizeof(why));
		if (r == 0)
			r = wait_stopped(j, ctid, now_ms() + j->opts->bind_timeout_ms);
		if (r < 0) {
			ERR(j, "cannot stop container %d (pct stop %d: %s)", ctid, ctid,
			    r == -EBUSY ? "still running" : why);
			return r;
		}
	}
	INFO(j, "container %d stopped; it is started again when VM %d stops", ctid, j->vmid);
	return 0;
}

static int ct_apply(struct job *j)
{
	for (int i = 0; i < j->ncts; i++) {
		int r = stop_one(j, i);

		if (r < 0)
			return r;
	}
	return 0;
}

/* The members' device nodes exist again (sysfs and /dev), and every node the container's
 * config names: the container can start and open them. */
static bool nodes_back(struct job *j, int ctid, char (*devs)[PCI_ADDR_LEN], int ndev)
{
	struct lxc_conf *c = malloc(sizeof(*c));
	char paths[1][LXC_PATH_MAX], path[SR_PATH_MAX];
	bool ok = true;
	int line;

	for (int d = 0; d < ndev && ok; d++) {
		struct lxc_node nodes[8];
		int n = pve_lxc_dev_nodes(j->ops->sr, devs[d], nodes, 8);

		ok = n > 0;
		for (int k = 0; k < n && ok; k++)
			ok = sr_path(path, nodes[k].major == LXC_MAJOR_NVIDIA ? "/dev/%s" : "/dev/dri/%s",
				     nodes[k].name) == 0 && sr_exists(j->ops->sr, path);
	}
	if (ok && c && pve_lxc_load(j->ops->sr, j->ops->node, ctid, c, &line, NULL, 0) == 0)
		ok = pve_lxc_missing(j->ops->sr, c, paths, 1) == 0;
	free(c);
	return ok;
}

/* Starts CTID again once the nodes of DEVS are back: 0 or -errno (said). */
static int start_one(struct job *j, int ctid, char (*devs)[PCI_ADDR_LEN], int ndev)
{
	uint64_t deadline = now_ms() + j->opts->bind_timeout_ms;
	unsigned step = 0;
	char why[320];
	int r;

	if ((r = pve_lxc_running(j->ops->sr, ctid)) > 0) {
		INFO(j, "container %d is running already (started by hand?): left alone", ctid);
		return 0;
	}
	if (j->ops->dry_run) {
		INFO(j, "would run pct start %d", ctid);
		return 0;
	}
	while (!nodes_back(j, ctid, devs, ndev) && backoff_wait(&step, deadline))
		;
	if (!nodes_back(j, ctid, devs, ndev))
		WARN(j, "container %d: the GPU's device nodes are not all back after %lu ms; "
			"starting it anyway", ctid, j->opts->bind_timeout_ms);
	r = pct(j, "start", ctid, 0, why, sizeof(why));
	if (r < 0) {
		ERR(j, "cannot start container %d again (pct start %d: %s)", ctid, ctid, why);
		return r;
	}
	INFO(j, "container %d started again", ctid);
	return 0;
}

/* "DEV DEV" into DEVS: the count, or -EINVAL (a record is hostile input). */
static int parse_devs(const char *list, char (*devs)[PCI_ADDR_LEN], int max)
{
	int n = 0;

	while (*list) {
		char one[PCI_ADDR_LEN + 1];
		size_t len = strcspn(list, " ");
		struct pci_addr a;

		if (n >= max || str_copy_n(one, sizeof(one), list, len) < 0 ||
		    pci_addr_parse(one, &a) < 0)
			return -EINVAL;
		pci_addr_fmt(&a, devs[n++]);
		list += len;
		list += *list == ' ';
	}
	return n;
}

static int devs_of(const struct job *j, int i, char (*devs)[PCI_ADDR_LEN])
{
	return parse_devs(j->ct_devs[i], devs, CT_MAX_DEVS);
}

static void ct_undo(struct job *j, struct ho_left *left)
{
	for (int i = j->ncts - 1; i >= 0; i--) {
		char devs[CT_MAX_DEVS][PCI_ADDR_LEN];
		int r, n;

		if (!j->ct_stopped[i])
			continue;
		n = devs_of(j, i, devs);
		r = start_one(j, j->cts[i], devs, n < 0 ? 0 : n);
		if (r < 0)
			ho_left_add(left, r, "container %d is stopped (pct start %d)", j->cts[i],
				    j->cts[i]);
	}
}

/* A record of an earlier pre-start for the same container stays as it is. */
static int ct_save(struct job *j, struct handoff_state *s)
{
	for (int i = 0; i < j->ncts; i++) {
		char val[STATE_VALUE_MAX];
		const char *v;
		bool have = false;
		int r;

		for (int k = 0; (v = state_rec_get(s, CT_REC, k)); k++)
			have |= atoi(v) == j->cts[i];
		if (have)
			continue;
		snprintf(val, sizeof(val), "%d %s", j->cts[i], j->ct_devs[i]);
		if ((r = state_rec_add(s, CT_REC, val)) < 0)
			return r;
	}
	return 0;
}

/* With the devices back (none left in S): each recorded container is started again; what
 * cannot be started stays recorded. */
static void ct_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	char keep[STATE_MAX_RECS][STATE_VALUE_MAX];
	int nkeep = 0;
	const char *v;

	if (!state_rec_get(s, CT_REC, 0) || s->ndevs)
		return; /* nothing recorded, or the GPU is not back yet: they wait for it */
	for (int k = 0; (v = state_rec_get(s, CT_REC, k)); k++) {
		char id[16], devs[CT_MAX_DEVS][PCI_ADDR_LEN];
		size_t len = strcspn(v, " ");
		int ctid, n, r;

		n = len < sizeof(id) && str_copy_n(id, sizeof(id), v, len) == 0 &&
				    pve_vmid_parse(id, &ctid) == 0
			    ? parse_devs(v + len + (v[len] == ' '), devs, CT_MAX_DEVS)
			    : -EINVAL;
		if (n < 0) {
			WARN(j, "state file: the container record '%s' is not valid; dropped", v);
			continue;
		}
		if (!j->opts->return_on_stop) {
			INFO(j, "container %d is not started: its GPU stays on vfio-pci "
				"(return_on_stop = no); start it once the GPU is back: pct start %d",
			     ctid, ctid);
			continue;
		}
		r = start_one(j, ctid, devs, n);
		if (r < 0) {
			ho_left_add(left, r, "container %d is stopped (pct start %d)", ctid, ctid);
			str_copy(keep[nkeep++], sizeof(keep[0]), v);
		}
	}
	state_rec_drop(s, CT_REC);
	for (int k = 0; k < nkeep; k++)
		state_rec_add(s, CT_REC, keep[k]);
}

const struct ho_step ho_step_containers = {
	.name = "containers",
	.check = ct_check,
	.apply = ct_apply,
	.undo = ct_undo,
	.save = ct_save,
	.restore = ct_restore,
};
