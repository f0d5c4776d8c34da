/* dev_ho_bind.c - the bind row of the handoff (dev_ho.h): the members onto vfio-pci with the
 * bind engine (dev_bind.h), every IOMMU group at the same time (a thread each, parallel.h),
 * each group proven through VFIO; back to their own drivers after the VM. The check refuses
 * a group another QEMU has open, a GPU host processes use (or warns, holders = warn), and a
 * kernel without vfio-pci. A member may go to a variant VFIO driver instead (its target,
 * chosen by collect: a driver=keep entry's device the variant matches); the engine treats it
 * as vfio-pci. Records: "device NAME GROUP VENDOR DEVICE DRIVER OVERRIDE", "target NAME
 * VARIANT" for a variant. */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev_holders.h"
#include "dev_modload.h"
#include "dev_sriov.h"
#include "sysfs.h"
#include "util.h"

static void bind_note(void *data, enum bind_note what, int i, const char *module, const char *msg)
{
	struct job *j = data;
	const struct pci_dev_info *m = i >= 0 ? &j->mem[i].info : NULL;
	const struct bind_dev *d = i >= 0 ? &j->bd[i] : NULL;
	const struct hook_opts *o = j->opts;

	switch (what) {
	case BIND_NOTE_ALREADY:
		INFO(j, "%s %04x:%04x: already on %s", m->name, m->vendor, m->device, bind_target(d));
		break;
	case BIND_NOTE_MOVED:
		INFO(j, "%s %04x:%04x: %s -> %s%s", m->name, m->vendor, m->device,
		     or_none(m->driver), bind_target(d), j->ops->dry_run ? " (dry run)" : "");
		break;
	case BIND_NOTE_MODULE_LOADED:
		INFO(j, "module %s loaded", module);
		break;
	case BIND_NOTE_MODULE_DRY:
		INFO(j, "would load module %s", module);
		break;
	case BIND_NOTE_MODULE_FAILED:
		ERR(j, "%s", msg);
		break;
	case BIND_NOTE_FAILED:
		switch (d->step) {
		case BIND_STEP_OVERRIDE:
			ERR(j, "%s: cannot set driver_override: %s", d->name, strerror(-d->err));
			break;
		case BIND_STEP_UNBIND:
			if (d->err == -ETIMEDOUT)
				ERR(j, "%s: %s did not let go within %lu ms (something still uses the "
				       "device); the unbind continues in the background",
				    d->name, d->from, o->unbind_timeout_ms);
			else
				ERR(j, "%s: cannot unbind from %s: %s", d->name, d->from,
				    strerror(-d->err));
			break;
		case BIND_STEP_PROBE:
			if (d->err == -ETIMEDOUT)
				ERR(j, "%s: drivers_probe did not return within %lu ms (its old driver "
				       "still holds the device)", d->name, o->unbind_timeout_ms);
			else
				ERR(j, "%s: drivers_probe failed: %s", d->name, strerror(-d->err));
			break;
		case BIND_STEP_VERIFY:
			ERR(j, "%s: %s did not bind within %lu ms (now: %s); see dmesg", d->name,
			    bind_target(d), o->bind_timeout_ms, or_none(d->now));
			break;
		default:
			ERR(j, "%s: %s failed: %s", d->name, bind_step_name(d->step), strerror(-d->err));
			break;
		}
		break;
	}
}

static struct bind_ops bind_ops_of(struct job *j)
{
	return (struct bind_ops){
		.sr = j->ops->sr,
		.unbind_timeout_ms = j->opts->unbind_timeout_ms,
		.bind_timeout_ms = j->opts->bind_timeout_ms,
		.note = bind_note,
		.data = j,
	};
}

/* /dev nodes through which host processes use a GPU: its DRM nodes, its NVIDIA minor. */
static int gpu_nodes(struct job *j, const struct member *m, char (*paths)[64], int max)
{
	char path[SR_PATH_MAX], buf[4096];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (sysfs_pci_dev(path, m->info.name, "drm") == 0 && (d = sr_opendir(j->ops->sr, path))) {
		while ((de = readdir(d)) && n < max)
			if (str_has_prefix(de->d_name, "card") || str_has_prefix(de->d_name, "render"))
				snprintf(paths[n++], 64, "/dev/dri/%.50s", de->d_name);
		closedir(d);
	}
	if (!strcmp(m->info.driver, "nvidia") && n < max &&
	    sr_path(path, "/proc/driver/nvidia/gpus/%s/information", m->info.name) == 0 &&
	    sr_read(j->ops->sr, path, buf, sizeof(buf)) > 0) {
		const char *minor = strstr(buf, "Device Minor:");
		unsigned long v;

		if (minor && sscanf(minor, "Device Minor: %lu", &v) == 1 && v < 256)
			snprintf(paths[n++], 64, "/dev/nvidia%lu", v);
	}
	return n;
}

/* One /proc scan for everything: the groups' VFIO nodes (another QEMU) and the GPUs' own
 * nodes (host processes); a scan opens a directory per process, so it is done once. */
static int check_holders(struct job *j)
{
	char paths[MAX_GROUPS + MAX_MEMBERS * 4][64], list[512];
	const char *pp[MAX_GROUPS + MAX_MEMBERS * 4];
	int owner[MAX_GROUPS + MAX_MEMBERS * 4]; /* -1 - group index, or member index */
	struct holder h[64];
	int np = 0, n;

	for (int g = 0; g < j->ngroups; g++) {
		snprintf(paths[np], sizeof(paths[0]), "/dev/vfio/%d", j->groups[g]);
		owner[np++] = -1 - g;
	}
	for (int i = 0; i < j->nmem; i++) {
		int k = gpu_nodes(j, &j->mem[i], paths + np, 4);

		for (int x = 0; x < k; x++)
			owner[np + x] = i;
		np += k;
	}
	for (int x = 0; x < np; x++)
		pp[x] = paths[x];
	n = holders_find(j->ops->sr, pp, np, h, (int)ARRAY_SIZE(h));
	if (n < 0) {
		ERR(j, "cannot scan /proc for processes using the devices: %s", strerror(-n));
		return n;
	}
	if (j->stop_persistenced) { /* it is stopped before the unbind */
		int k = 0;

		for (int i = 0; i < n; i++)
			if (h[i].pid != j->persistenced)
				h[k++] = h[i];
		n = k;
	}
	n = ho_containers_filter(j, h, n); /* shut down before the unbind */
	/* one verdict per group and per device, naming every holder */
	for (int x = 0; x < np; x++) {
		struct holder mine[64];
		int m = 0;
		bool first = true;

		for (int y = 0; y < x; y++)
			first &= owner[y] != owner[x];
		if (!first)
			continue;
		for (int i = 0; i < n; i++)
			for (int y = x; y < np; y++)
				if (m < (int)ARRAY_SIZE(mine) && owner[y] == owner[x] &&
				    !strcmp(h[i].path, paths[y]))
					mine[m++] = h[i];
		if (!m)
			continue;
		holders_format(mine, m, list, sizeof(list));
		if (owner[x] < 0) {
			ERR(j, "refusing: IOMMU group %d is open by %s: another VM is using it; stop "
			       "that VM first", j->groups[-1 - owner[x]], list);
			return -EBUSY;
		}
		if (j->opts->holders_refuse) {
			ERR(j, "refusing: %s is in use on the host by %s: stop them (display manager, "
			       "nvidia-persistenced, compute jobs) or set holders = warn",
			    j->mem[owner[x]].info.name, list);
			return -EBUSY;
		}
		WARN(j, "%s is in use on the host by %s; unbinding may wait for them",
		     j->mem[owner[x]].info.name, list);
	}
	return 0;
}

static int check_vfio_available(struct job *j)
{
	const char *missing = NULL;
	int r = bind_vfio_available(j->ops->sr, &missing);

	if (r <= 0) {
		ERR(j, "refusing: %s cannot be loaded (no module for this kernel%s%s)", missing,
		    r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return r < 0 ? r : -ENOENT;
	}
	return 0;
}

static int prove_group(struct job *j, const struct unit *u)
{
	const char *names[MAX_MEMBERS];
	char node[SR_PATH_MAX], list[512] = "";
	struct vfio_report rep;
	uint64_t deadline = now_ms() + j->opts->bind_timeout_ms;
	unsigned step = 0;
	int n = 0, r;
	size_t off = 0;

	for (int x = 0; x < u->n; x++) {
		names[n++] = j->mem[u->idx[x]].info.name;
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? " " : "",
					names[n - 1]);
	}
	if (j->ops->dry_run) {
		INFO(j, "would prove IOMMU group %d (%s) through VFIO", u->group, list);
		return 0;
	}
	sr_path(node, "/dev/vfio/%d", u->group);
	while (!sr_exists(j->ops->sr, node) && backoff_wait(&step, deadline))
		;
	r = (j->ops->prove ? j->ops->prove : vfio_prove)(j->ops->sr, u->group, names, n,
							 VFIO_PROVE_MMAP_BARS, &rep);
	if (r < 0 && rep.bad_dev >= 0) {
		ERR(j, "IOMMU group %d (%s) is not usable through VFIO: %s: BAR %d cannot be "
		       "mapped: %s (see dmesg: something else claims part of it)",
		    u->group, list, names[rep.bad_dev], rep.bad_bar, strerror(-r));
		return r;
	}
	if (r < 0) {
		ERR(j, "IOMMU group %d (%s) is not usable through VFIO: %s: %s", u->group, list,
		    rep.stage, strerror(-r));
		return r;
	}
	INFO(j, "IOMMU group %d (%s) ready: viable, device fds open, %d BAR%s mapped", u->group,
	     list, rep.nbars, rep.nbars == 1 ? "" : "s");
	return 0;
}

/* A group's part of the handoff: its devices onto vfio-pci, no firmware framebuffer left in
 * their BARs, the group proven through VFIO. */
static int attach_unit(struct job *j, struct unit *u)
{
	struct bind_ops bo = bind_ops_of(j);
	int r = 0;

	/* device by device, so that a failure elsewhere stops this group early: everything is
	 * undone then anyway (what was done here too, by the records) */
	for (int x = 0; x < u->n && r == 0; x++) {
		if (__atomic_load_n(&j->failed, __ATOMIC_SEQ_CST)) {
			INFO(j, "IOMMU group %d: stopped, another group failed", u->group);
			return -ECANCELED;
		}
		r = bind_attach_vfio(&bo, j->bd, &u->idx[x], 1);
	}
	if (r == 0)
		r = ho_console_fb_left(j, u);
	if (r == 0)
		r = prove_group(j, u);
	if (r < 0)
		__atomic_store_n(&j->failed, 1, __ATOMIC_SEQ_CST);
	return r;
}

/* A device recorded as stuck: true while the process left blocked in its unbind (or another
 * step that takes its lock) still lives: its driver is still inside remove(). */
static bool stuck_blocked(const struct sysroot *sr, const struct state_dev *d)
{
	unsigned long long start;

	return d->stuck && d->stuck_pid > 0 &&
	       holders_proc_start(sr, d->stuck_pid, &start) == 0 && start == d->stuck_start;
}

/* Records D as stuck, with PID the process left blocked (0 unknown) and its start time. */
static void stuck_mark(const struct sysroot *sr, struct state_dev *d, pid_t pid)
{
	unsigned long long start = 0;

	if (pid > 0 && holders_proc_start(sr, pid, &start) < 0) {
		pid = 0;
		start = 0;
	}
	if (pid <= 0 && stuck_blocked(sr, d))
		return; /* an earlier record still names the blocked process */
	d->stuck = true;
	d->stuck_pid = pid > 0 ? (int)pid : 0;
	d->stuck_start = pid > 0 ? start : 0;
}

/* A device that a state file records as stuck (an unbind of it never returned) is never read
 * while the process blocked in that unbind lives, and otherwise only with a deadline: reading
 * its attributes (driver_override) may wait for ever on the lock its driver holds in
 * remove(). -EBUSY (named in one line) while it is stuck. */
int ho_refuse_stuck(struct job *j, const char *name)
{
	unsigned long ms = j->opts->unbind_timeout_ms;
	struct state_dev rec;
	int vmid;

	if (state_stuck(j->ops->sr, &name, 1, &rec, &vmid) < 0 || !rec.stuck)
		return 0;
	if (stuck_blocked(j->ops->sr, &rec))
		ERR(j, "refusing: %s: an unbind of it never returned (pid %d is still blocked in it: "
		       "its driver is inside remove(), holding the device); when the driver lets go: "
		       "pve-gpu-passthrough release %d", name, rec.stuck_pid, vmid);
	else if (bind_stuck_still(j->ops->sr, name, ms) > 0)
		ERR(j, "refusing: %s: an unbind of it never returned and it still does not answer "
		       "within %lu ms (its driver is inside remove(), holding the device); when the "
		       "driver lets go: pve-gpu-passthrough release %d", name, ms, vmid);
	else
		return 0;
	return -EBUSY;
}

/* Gives one device back to DRIVER (may be ""), restoring OVERRIDE; used by rollback and
 * release. Returns 0 or -errno (already logged), the failed step in *STEP. *STUCK is set when
 * it is stuck: a step that takes its lock did not return (its driver is inside remove(); the
 * caller names it, this logs nothing for it), with the process left blocked in *LEFT. */
static int give_back(struct job *j, const char *name, const char *driver, const char *override,
		     const char *target, enum bind_step *step, bool *stuck, pid_t *left)
{
	struct bind_ops bo = bind_ops_of(j);
	struct bind_dev d = { 0 };
	int r;

	str_copy(d.name, sizeof(d.name), name);
	str_copy(d.driver, sizeof(d.driver), driver);
	str_copy(d.override, sizeof(d.override), override);
	str_copy(d.target, sizeof(d.target), target);
	r = bind_give_back(&bo, &d);
	*step = r < 0 ? d.step : BIND_STEP_NONE;
	*stuck = r == -ETIMEDOUT && (d.step == BIND_STEP_OVERRIDE || d.step == BIND_STEP_UNBIND ||
				     d.step == BIND_STEP_PROBE);
	*left = *stuck ? d.left_pid : 0;
	if (*stuck)
		return r;
	switch (r) {
	case BIND_BACK_ALREADY:
		INFO(j, "%s: back on %s", name, or_none(driver));
		return 0;
	case BIND_BACK_OTHER:
		WARN(j, "%s: now on %s; leaving it there", name, d.from);
		return 0;
	case BIND_BACK_NONE:
		INFO(j, "%s: %s -> no driver (as before)", name, or_none(d.from));
		return 0;
	case BIND_BACK_DONE:
		INFO(j, "%s: %s -> %s", name, or_none(d.from), driver);
		return 0;
	}
	switch (d.step) {
	case BIND_STEP_OVERRIDE:
		ERR(j, "%s: cannot restore driver_override: %s", name, strerror(-r));
		break;
	case BIND_STEP_UNBIND:
		ERR(j, "%s: cannot unbind from %s: %s", name, bind_target(&d), strerror(-r));
		break;
	case BIND_STEP_PROBE:
		if (r == -ETIMEDOUT)
			ERR(j, "%s: drivers_probe did not return within %lu ms (a driver still holds "
			       "the device)", name, j->opts->unbind_timeout_ms);
		else
			ERR(j, "%s: drivers_probe failed: %s", name, strerror(-r));
		break;
	case BIND_STEP_VERIFY:
		ERR(j, "%s: %s did not take it back within %lu ms (now: %s); see dmesg", name, driver,
		    j->opts->bind_timeout_ms, or_none(d.now));
		break;
	default:
		break; /* its driver could not be read: nothing was changed */
	}
	return r;
}

/* What a failed give back (at STEP) of NAME to DRIVER left, for the "still changed" line: the
 * driver it is on now when that is not DRIVER, and the override when that was not restored
 * (the give back restores it first: a failure there leaves vfio-pci in it). */
static void left_device(struct job *j, struct ho_left *left, int err, const char *name,
			const char *driver, const char *target, enum bind_step step)
{
	char now[PCIDEV_NAME_MAX] = "";
	const char *ov = step == BIND_STEP_OVERRIDE ? ", driver_override still " : "";
	const char *t = *ov ? (*target ? target : BIND_VFIO) : "";

	pcidev_driver(j->ops->sr, name, now, sizeof(now));
	if (strcmp(now, driver))
		ho_left_add(left, err, "%s on %s, not %s%s%s", name, or_none(now), or_none(driver),
			    ov, t);
	else if (*ov)
		ho_left_add(left, err, "%s on %s%s%s", name, or_none(now), ov, t);
	else
		ho_left_add(left, err, "%s not given back", name);
}

/* A group's part of the rollback: what the engine did to its devices, last first. Each
 * device's result goes to j->undo[] (bind_undo reads them in order, after every group). A
 * device whose unbind never returned is left alone: its old driver is inside remove() with
 * the device lock held, and kernels before 6.19 take that lock to read or write
 * driver_override too, so it is not touched at all until the driver lets go. */
static int undo_unit(struct job *j, struct unit *u)
{
	for (int x = u->n - 1; x >= 0; x--) {
		int i = u->idx[x];
		const struct bind_dev *d = &j->bd[i];

		j->undo[i] = 0;
		j->undo_step[i] = BIND_STEP_NONE;
		j->undo_stuck[i] = false;
		j->undo_pid[i] = 0;
		if (!d->override_set && !d->unbound && !d->moved)
			continue;
		if (d->step == BIND_STEP_UNBIND && d->err == -ETIMEDOUT) {
			j->undo_stuck[i] = true;
			j->undo_pid[i] = d->left_pid;
			continue;
		}
		j->undo[i] = give_back(j, d->name, d->driver, d->override, d->target,
				       &j->undo_step[i], &j->undo_stuck[i], &j->undo_pid[i]);
	}
	return 0;
}

/* Waits until no process holds the units' VFIO nodes (/dev/vfio/GROUP, and each member's
 * /dev/vfio/devices/vfioN, which a QEMU using iommufd holds instead): one /proc scan per round
 * for all of them, until MS pass; a unit still held then is marked busy (and said so). */
static void wait_units_closed(struct job *j, unsigned long ms)
{
	uint64_t deadline = now_ms() + ms;
	unsigned step = 0;
	char nodes[2 * MAX_MEMBERS][40];
	int of[2 * MAX_MEMBERS]; /* the unit of each node */
	const char *pp[2 * MAX_MEMBERS];
	struct holder h[64];
	int n, np = 0;

	for (int k = 0; k < j->nunits; k++) {
		const struct unit *u = &j->units[k];

		j->units[k].busy = false;
		snprintf(nodes[np], sizeof(nodes[0]), "/dev/vfio/%d", u->group);
		of[np++] = k;
		for (int x = 0; x < u->n; x++)
			if (holders_vfio_cdev(j->ops->sr, j->st.devs[u->idx[x]].name, nodes[np],
					      sizeof(nodes[0])) == 0)
				of[np++] = k;
	}
	for (int i = 0; i < np; i++)
		pp[i] = nodes[i];
	do {
		n = holders_find(j->ops->sr, pp, np, h, (int)ARRAY_SIZE(h));
		if (n <= 0)
			return;
	} while (backoff_wait(&step, deadline));
	for (int k = 0; k < j->nunits; k++) {
		struct holder mine[ARRAY_SIZE(h)];
		char list[256];
		int m = 0;

		for (int i = 0; i < n; i++)
			for (int p = 0; p < np; p++)
				if (of[p] == k && !strcmp(h[i].path, nodes[p])) {
					mine[m++] = h[i];
					break;
				}
		if (!m)
			continue;
		j->units[k].busy = true;
		holders_format(mine, m, list, sizeof(list));
		ERR(j, "IOMMU group %d is still open by %s after %lu ms; leaving its devices on "
		       "vfio-pci (run 'pve-gpu-passthrough release %d' later)", j->units[k].group,
		    list, ms, j->vmid);
	}
}

/* The attribute a give-back step writes (or reads), for the messages. */
static const char *step_attr(enum bind_step step)
{
	switch (step) {
	case BIND_STEP_OVERRIDE:
		return "driver_override";
	case BIND_STEP_UNBIND:
		return "unbind";
	case BIND_STEP_PROBE:
		return "drivers_probe";
	default:
		return "a step that takes its lock";
	}
}

/* A group's part of the release: each of its devices back to its own driver. */
static int release_unit(struct job *j, struct unit *u)
{
	if (u->busy)
		return 0;
	for (int x = 0; x < u->n; x++) {
		int i = u->idx[x], e;
		const struct state_dev *d = &j->st.devs[i];

		j->undo[i] = 0;
		j->undo_step[i] = BIND_STEP_NONE;
		j->undo_stuck[i] = false;
		j->undo_pid[i] = 0;
		if (d->was_vfio) {
			INFO(j, "%s: stays on %s (it was there before VM %d started)", d->name,
			     d->target[0] ? d->target : VFIO_DRIVER, j->vmid);
			continue;
		}
		/* the name comes from the state file (a canonical PCI address, dev_state.c): write
		 * only below a device that sysfs has now */
		if (!ho_dev_present(j->ops->sr, d->name)) {
			WARN(j, "%s: not in " SYSFS_PCI_DEVICES " (removed?); nothing to give back; "
				"its record is dropped", d->name);
			continue;
		}
		/* its unbind is still blocked: not touched at all (kept, named by the caller) */
		if (stuck_blocked(j->ops->sr, d)) {
			j->undo_stuck[i] = true;
			j->undo_pid[i] = d->stuck_pid;
			continue;
		}
		/* Proxmox binds with new_id; that id would capture the device again on probe (a
		 * variant's device came from a driver=keep entry: Proxmox wrote no id for it) */
		e = d->target[0] ? 0 : bind_remove_vfio_id(j->ops->sr, d->vendor, d->device);
		if (e < 0)
			ERR(j, "%s: cannot remove the dynamic id %04x:%04x from vfio-pci: %s (it would "
			       "take the device again); not giving it back", d->name, d->vendor,
			    d->device, strerror(-e));
		else
			e = give_back(j, d->name, d->driver, d->override, d->target,
				      &j->undo_step[i], &j->undo_stuck[i], &j->undo_pid[i]);
		j->undo[i] = e;
	}
	return 0;
}

const char *handoff_variant_of(const struct sysroot *sr, const struct cfg *cfg,
			       const struct hook_opts *opts, const char *name, char *buf,
			       size_t size)
{
	const struct sriov_opts *so = &cfg->sriov;
	const char *v = opts->vfio_driver;
	char pf[PCI_ADDR_LEN], err[160];
	struct sriov_info si;

	if (!cfg_vfio_variant(v) && so->set && cfg_vfio_variant(so->driver) &&
	    quirks_sriov(sr, name, &si) == 0 && si.is_vf &&
	    sriov_find_pf(sr, so, pf, err, sizeof(err)) == 0 && !strcmp(si.pf, pf))
		v = so->driver;
	/* a module's name and its PCI driver's (KBUILD_MODNAME) */
	if (!cfg_vfio_variant(v) || modload_modname(v, buf, size) < 0)
		return NULL;
	return buf;
}

const char *ho_variant_asked(struct job *j, const struct pci_dev_info *d, char *buf,
			     size_t size)
{
	return handoff_variant_of(j->ops->sr, j->ops->cfg, j->opts, d->name, buf, size);
}

int handoff_keep_devices(const struct sysroot *sr, const struct pve_hostpci *h, const char *node,
			 int vmid, struct pve_devlist *l, char *err, size_t errsize)
{
	struct pve_hostpci e = *h;

	e.keep = false;
	return pve_hostpci_expand(sr, &e, node, vmid, l, err, errsize);
}

static int bind_check(struct job *j)
{
	int r = check_holders(j);

	return r < 0 ? r : check_vfio_available(j);
}

static int bind_apply(struct job *j)
{
	struct bind_ops bo = bind_ops_of(j);
	int r;

	j->nunits = 0;
	for (int i = 0; i < j->nmem; i++)
		ho_unit_add(j, j->mem[i].info.iommu_group, i);
	for (int i = 0; i < j->nmem; i++) {
		struct bind_dev *d = &j->bd[i];

		memset(d, 0, sizeof(*d));
		str_copy(d->name, sizeof(d->name), j->mem[i].info.name);
		str_copy(d->driver, sizeof(d->driver), j->mem[i].info.driver);
		str_copy(d->override, sizeof(d->override), j->mem[i].info.override);
		str_copy(d->target, sizeof(d->target), j->mem[i].target);
	}
	/* overrides and modules for all, then every group at the same time */
	if ((r = bind_stage_vfio(&bo, j->bd, j->nmem)) < 0)
		return r;
	r = ho_run_units(j, attach_unit);
	ho_console_report_removed(j); /* when every group is done: what the kernel took */
	return r;
}

/* Every group at the same time, also those that succeeded; then one entry per device left. */
static void bind_undo(struct job *j, struct ho_left *left)
{
	if (!j->nunits)
		return; /* the devices were never staged */
	ho_run_units(j, undo_unit);
	for (int i = j->nmem - 1; i >= 0; i--) {
		const struct bind_dev *d = &j->bd[i];

		if (j->undo_stuck[i]) {
			/* the state file says so: every later access to it has a deadline */
			for (int k = 0; k < j->st.ndevs; k++)
				if (!strcmp(j->st.devs[k].name, d->name))
					stuck_mark(j->ops->sr, &j->st.devs[k], j->undo_pid[i]);
			ho_left_add(left, -ETIMEDOUT, "%s: %s has not let go (its unbind did not "
				    "return; driver_override stays vfio-pci)", d->name, d->from);
		}
		else if (j->undo[i] < 0)
			left_device(j, left, j->undo[i], d->name, d->driver, d->target,
				    j->undo_step[i]);
	}
}

/* What an earlier pre-start recorded stays (its originals are the true ones). */
static int bind_save(struct job *j, struct handoff_state *s)
{
	for (int i = 0; i < j->nmem; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		const char *t = j->mem[i].target[0] ? j->mem[i].target : VFIO_DRIVER;
		struct state_dev *sd;

		if (state_find(s, d->name))
			continue;
		if (s->ndevs >= STATE_MAX_DEVS)
			return -E2BIG;
		/* the copies below fit: the state keeps what pci_dev_info read, same sizes */
		_Static_assert(sizeof(sd->name) >= sizeof(d->name), "state_dev.name too short");
		_Static_assert(sizeof(sd->driver) >= sizeof(d->driver), "state_dev.driver too short");
		_Static_assert(sizeof(sd->override) >= sizeof(d->override),
			       "state_dev.override too short");
		sd = &s->devs[s->ndevs++];
		memset(sd, 0, sizeof(*sd));
		strcpy(sd->name, d->name);
		sd->group = d->iommu_group;
		sd->vendor = d->vendor;
		sd->device = d->device;
		strcpy(sd->target, j->mem[i].target);
		sd->was_vfio = !strcmp(d->driver, t); /* on its target already: "already there" */
		if (!sd->was_vfio) {
			strcpy(sd->driver, d->driver);
			if (strcmp(d->override, t))
				strcpy(sd->override, d->override);
		}
	}
	return 0;
}

/* Every group at the same time (QEMU may still be going away, a killed VM: each waits for its
 * group, with the deadline); S keeps the devices not given back. */
static void bind_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	int nkept = 0;

	for (int i = 0; i < s->ndevs; i++)
		ho_unit_add(j, s->devs[i].group, i);
	if (!j->ops->dry_run)
		wait_units_closed(j, j->opts->release_timeout_ms);
	ho_run_units(j, release_unit); /* results in j->undo[] */
	for (int i = 0; i < s->ndevs; i++) {
		const struct state_dev d = s->devs[i];

		if (ho_unit_of(j, d.group)->busy) {
			s->devs[nkept++] = d;
			ho_left_add(left, -EBUSY, "%s on vfio-pci (its group is open)", d.name);
		} else if (j->undo_stuck[i] && j->undo_step[i] != BIND_STEP_NONE) {
			/* timed out just now, with this VM's own unbind_timeout */
			s->devs[nkept] = d;
			stuck_mark(j->ops->sr, &s->devs[nkept++], j->undo_pid[i]);
			ho_left_add(left, -ETIMEDOUT, "%s: its driver has not let go (%s did not "
				    "return within %lu ms; not touched again, nothing waits on it)",
				    d.name, step_attr(j->undo_step[i]), j->opts->unbind_timeout_ms);
		} else if (j->undo_stuck[i]) {
			s->devs[nkept] = d;
			stuck_mark(j->ops->sr, &s->devs[nkept++], j->undo_pid[i]);
			ho_left_add(left, -ETIMEDOUT, "%s: its driver has not let go (an unbind of it "
				    "did not return; not touched, nothing waits on it)", d.name);
		} else if (j->undo[i] < 0) {
			left_device(j, left, j->undo[i], d.name, d.driver, d.target, j->undo_step[i]);
			s->devs[nkept++] = d; /* kept for the next release */
		}
	}
	s->ndevs = nkept;
}

const struct ho_step ho_step_bind = {
	.name = "bind",
	.check = bind_check,
	.apply = bind_apply,
	.undo = bind_undo,
	.save = bind_save,
	.restore = bind_restore,
	.with_devices = true,
};
