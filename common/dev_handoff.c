/* dev_handoff.c - see dev_handoff.h. */
#define _GNU_SOURCE
#include "dev_handoff.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev_bind.h"
#include "dev_console.h"
#include "dev_lock.h"
#include "dev_holders.h"
#include "host_dev.h"
#include "parallel.h"
#include "pci_dev.h"
#include "pve_conf.h"
#include "dev_state.h"
#include "dev_quirks.h"
#include "util.h"
#include "dev_vfio.h"
#include "sysfs.h"

#define MAX_MEMBERS STATE_MAX_DEVS
#define MAX_GROUPS 16
#define VFIO_DRIVER BIND_VFIO

struct member {
	struct pci_dev_info info;
};

/* One IOMMU group's share of a run: its devices (indexes into mem/bd, or into the state
 * file's devs at release), handed over in its own thread (run_units). */
struct unit {
	int group;
	int n;
	int idx[MAX_MEMBERS];
	bool busy; /* release: still open by a process, left alone */
};

struct job {
	const struct handoff_ops *ops; /* the caller's, with sr below */
	struct handoff_ops myops;
	struct sysroot sr;             /* the caller's root behind our write point */
	struct sr_write_point wp;      /* dry run: refuses every write and logs it */
	int vmid;
	int nmem;
	struct member mem[MAX_MEMBERS];
	struct bind_dev bd[MAX_MEMBERS]; /* the members as the bind engine moves them */
	int ngroups;
	int groups[MAX_GROUPS];
	int nunits;
	struct unit units[MAX_MEMBERS]; /* one per group, in the order groups were collected */
	int failed; /* a group's handoff failed: the others stop at their next device (atomic) */
	struct console_plan con;
	int vt_done, fb_done; /* how many of con.vtcons / con.fbs were released */
	uint64_t con_moved;   /* the consoles of con.move_mask moved so far */
	char vgacon[PCI_ADDR_LEN]; /* the boot VGA device whose vgacon vfio-pci will remove */
	char other_fb[64];         /* another card's firmware framebuffer vfio-pci will remove */
	char other_fb_dev[PCI_ADDR_LEN];
	int lockfds[MAX_MEMBERS];
	int nlocks;
	struct handoff_state st;    /* the state file: prior content plus this run */
	struct handoff_state prior; /* the state file as an earlier pre-start left it */
	bool had_state;
	/* the hardware's needs (dev_quirks.h) */
	struct quirks_exec exec;
	pid_t persistenced;        /* nvidia-persistenced's pid when an NVIDIA member is ours */
	bool stop_persistenced;    /* ... and nvidia_persistenced = stop: stopped for the handoff */
	bool persistenced_stopped; /* it was (the rollback starts it again) */
	int undo[MAX_MEMBERS];       /* rollback / release: each member's give-back result */
	bool undo_stuck[MAX_MEMBERS]; /* rollback: its unbind never returned, left alone */
	pid_t undo_pid[MAX_MEMBERS];  /* ... the process left blocked in it (0 unknown) */
	bool reset_plan[MAX_MEMBERS];     /* the member's reset_method is set for the VM */
	char reset_orig[MAX_MEMBERS][128]; /* ... and what it was */
	bool reset_done[MAX_MEMBERS];
};

void handoff_logf(const struct handoff_ops *ops, enum ho_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (par_log_current())
		par_log_add(par_log_current(), (int)lvl, msg); /* a group's thread: kept in order */
	else if (ops->log)
		ops->log(ops->ud, lvl, msg);
}
#define INFO(j, ...) handoff_logf((j)->ops, HO_INFO, __VA_ARGS__)
#define WARN(j, ...) handoff_logf((j)->ops, HO_WARN, __VA_ARGS__)
#define ERR(j, ...) handoff_logf((j)->ops, HO_ERROR, __VA_ARGS__)

static int dev_path(char out[SR_PATH_MAX], const char *name, const char *attr)
{
	return sysfs_pci_dev(out, name, attr);
}

static const char *or_none(const char *s)
{
	return *s ? s : "no driver";
}

/* The dry run's write point: a refused write is logged as what would have been written. */
static void dry_write(void *data, const char *path, const char *value, int result, bool done)
{
	struct job *j = data;

	if (!done && result == 0)
		INFO(j, "would write '%s' to %s", *value == '\n' ? "\\n" : value, path);
}

/* Puts our write point in front of the caller's root; every sysfs write of the job passes it. */
static void job_init(struct job *j, const struct handoff_ops *ops, int vmid)
{
	j->sr = *ops->sr;
	j->wp.dry_run = ops->dry_run;
	j->wp.after = dry_write;
	j->wp.data = j;
	j->wp.next = ops->sr->wp;
	j->sr.wp = &j->wp;
	j->myops = *ops;
	j->myops.sr = &j->sr;
	j->ops = &j->myops;
	j->vmid = vmid;
	if (ops->exec)
		j->exec = *ops->exec;
	else
		j->exec = (struct quirks_exec){ .run = quirks_exec_real, .data = (void *)ops->sr };
}

static void bind_note(void *data, enum bind_note what, int i, const char *module, const char *msg)
{
	struct job *j = data;
	const struct pci_dev_info *m = i >= 0 ? &j->mem[i].info : NULL;
	const struct bind_dev *d = i >= 0 ? &j->bd[i] : NULL;
	const struct hook_opts *o = j->ops->opts;

	switch (what) {
	case BIND_NOTE_ALREADY:
		INFO(j, "%s %04x:%04x: already on vfio-pci", m->name, m->vendor, m->device);
		break;
	case BIND_NOTE_MOVED:
		INFO(j, "%s %04x:%04x: %s -> vfio-pci%s", m->name, m->vendor, m->device,
		     or_none(m->driver), j->ops->dry_run ? " (dry run)" : "");
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
			ERR(j, "%s: vfio-pci did not bind within %lu ms (now: %s); see dmesg", d->name,
			    o->bind_timeout_ms, or_none(d->now));
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
		.unbind_timeout_ms = j->ops->opts->unbind_timeout_ms,
		.bind_timeout_ms = j->ops->opts->bind_timeout_ms,
		.note = bind_note,
		.data = j,
	};
}

/* ---- collect ---------------------------------------------------------------------------- */

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
static int refuse_stuck(struct job *j, const char *name)
{
	unsigned long ms = j->ops->opts->unbind_timeout_ms;
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

static int add_member(struct job *j, const char *name)
{
	struct member *m;
	int r;

	for (int i = 0; i < j->nmem; i++)
		if (!strcmp(j->mem[i].info.name, name))
			return 0;
	if (j->nmem >= MAX_MEMBERS) {
		ERR(j, "too many devices (more than %d)", MAX_MEMBERS);
		return -E2BIG;
	}
	if ((r = refuse_stuck(j, name)) < 0)
		return r;
	m = &j->mem[j->nmem];
	memset(m, 0, sizeof(*m));
	r = pcidev_read(j->ops->sr, name, &m->info);
	if (r < 0) {
		ERR(j, "cannot read %s: %s", name, strerror(-r));
		return r;
	}
	if (m->info.is_bridge)
		return 0; /* bridges stay with the host: VFIO accepts them on pcieport */
	j->nmem++;
	return 0;
}

static bool iommu_groups_exist(const struct sysroot *sr)
{
	DIR *d = sr_opendir(sr, "/sys/kernel/iommu_groups");
	struct dirent *de;
	bool any = false;

	if (!d)
		return false;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

static int add_group_of(struct job *j, const char *name)
{
	char members[MAX_MEMBERS][PCI_ADDR_LEN];
	int g = pcidev_group(j->ops->sr, name), n, r;

	if (g < 0) {
		if (!iommu_groups_exist(j->ops->sr))
			ERR(j, "refusing: the IOMMU is off (no IOMMU groups): enable VT-d/AMD-Vi in the "
			       "firmware and add intel_iommu=on (Intel) to the kernel command line; "
			       "see 'pve-gpu-passthrough check'");
		else
			ERR(j, "refusing: %s has no IOMMU group", name);
		return -ENODEV;
	}
	for (int i = 0; i < j->ngroups; i++)
		if (j->groups[i] == g)
			return 0;
	if (j->ngroups >= MAX_GROUPS) {
		ERR(j, "too many IOMMU groups (more than %d)", MAX_GROUPS);
		return -E2BIG;
	}
	j->groups[j->ngroups++] = g;
	n = pcidev_group_members(j->ops->sr, g, members, MAX_MEMBERS);
	if (n < 0) {
		ERR(j, "cannot list IOMMU group %d: %s", g, strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++)
		if ((r = add_member(j, members[i])) < 0)
			return r;
	return 0;
}

static int collect(struct job *j)
{
	struct pve_vmconf c;
	char err[256];
	int line = 0, r = 0;

	if (j->ops->vmconf && j->ops->vmconf->vmid == j->vmid)
		c = *j->ops->vmconf; /* read once per run: the caller has it */
	else
		r = pve_vmconf_load(j->ops->sr, j->vmid, &c, &line, err, sizeof(err));
	if (r < 0) {
		if (line)
			ERR(j, "VM %d config line %d: %s", j->vmid, line, err);
		else
			ERR(j, "VM %d: %s", j->vmid, err);
		return r;
	}
	{
		struct pve_devlist all;
		int idx = 0;

		r = pve_vmconf_expand(j->ops->sr, &c, j->ops->node, &all, &idx, err, sizeof(err));
		if (r < 0) {
			ERR(j, "hostpci%d: %s", idx, err);
			return r;
		}
		for (int k = 0; k < all.n; k++)
			if ((r = add_group_of(j, all.names[k])) < 0)
				return r;
	}
	return 0;
}

/* ---- groups at the same time ------------------------------------------------------------
 * A driver's unbind or probe can take seconds on a large card; groups are independent, so
 * each group's transition runs in its own thread (each wait with its own deadline), the
 * devices of one group one after the other as before. The log comes out group by group. */

static struct unit *unit_of(struct job *j, int group)
{
	for (int k = 0; k < j->nunits; k++)
		if (j->units[k].group == group)
			return &j->units[k];
	return NULL;
}

/* Adds device I (an index the unit's task understands) to GROUP's unit. */
static void unit_add(struct job *j, int group, int i)
{
	struct unit *u = unit_of(j, group);

	if (!u) {
		u = &j->units[j->nunits++];
		memset(u, 0, sizeof(*u));
		u->group = group;
	}
	u->idx[u->n++] = i;
}

struct unit_run {
	struct job *j;
	int (*fn)(struct job *j, struct unit *u);
	struct par_log logs[MAX_MEMBERS];
};

static int unit_task(void *ctx, int i)
{
	struct unit_run *ur = ctx;

	return ur->fn(ur->j, &ur->j->units[i]);
}

static void emit_line(void *ud, int level, const char *msg)
{
	struct job *j = ud;

	if (j->ops->log)
		j->ops->log(j->ops->ud, (enum ho_level)level, msg);
}

static void unit_joined(void *ctx, int i)
{
	struct unit_run *ur = ctx;

	par_log_flush(&ur->logs[i], emit_line, ur->j, HO_WARN);
}

/* Runs FN for every unit at the same time; 0, or the first unit's failure in unit order. One
 * unit runs in this thread and logs as it goes. */
static int run_units(struct job *j, int (*fn)(struct job *j, struct unit *u))
{
	struct unit_run *ur;
	int res[MAX_MEMBERS], r = 0;

	if (j->nunits == 1)
		return fn(j, &j->units[0]);
	ur = calloc(1, sizeof(*ur));
	if (!ur) { /* no memory for the log buffers: one group after the other */
		for (int k = 0; k < j->nunits; k++)
			if ((res[k] = fn(j, &j->units[k])) < 0 && r == 0)
				r = res[k];
		return r;
	}
	ur->j = j;
	ur->fn = fn;
	par_run(j->nunits, unit_task, ur, ur->logs, res, unit_joined);
	free(ur);
	/* the first real failure in unit order (a group stopped for another's is not one) */
	for (int k = 0; k < j->nunits; k++)
		if (res[k] < 0 && res[k] != -ECANCELED && r == 0)
			r = res[k];
	return r ? r : res[0] < 0 ? res[0] : 0;
}

/* ---- checks (nothing changes before they all pass) -------------------------------------- */

/* Locks device NAME for the job (pre-start and post-stop alike); the message names the hook
 * that holds it when the lock is taken, and the error itself when locking failed. */
static int lock_one(struct job *j, const char *name, bool release)
{
	char who[48] = "another hook";
	pid_t holder = 0;
	int fd = devlock_take(j->ops->sr, name, &holder);

	if (fd == -EBUSY) {
		if (holder > 0)
			snprintf(who, sizeof(who), "another hook (pid %d)", (int)holder);
		if (release)
			ERR(j, "%s is being handed over by %s; not giving it back now", name, who);
		else
			ERR(j, "refusing: %s is being handed over by %s; try again when it has "
			       "finished", name, who);
		return fd;
	}
	if (fd < 0) {
		ERR(j, "cannot lock %s: %s%s", name, strerror(-fd),
		    release ? "; not giving it back now" : "");
		return fd;
	}
	j->lockfds[j->nlocks++] = fd;
	return 0;
}

static int lock_all(struct job *j)
{
	for (int i = 0; i < j->nmem; i++) {
		int r = lock_one(j, j->mem[i].info.name, false);

		if (r < 0)
			return r;
	}
	return 0;
}

static void unlock_all(struct job *j)
{
	while (j->nlocks > 0)
		close(j->lockfds[--j->nlocks]);
}

/* /dev nodes through which host processes use a GPU: its DRM nodes, its NVIDIA minor. */
static int gpu_nodes(struct job *j, const struct member *m, char (*paths)[64], int max)
{
	char path[SR_PATH_MAX], buf[4096];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (dev_path(path, m->info.name, "drm") == 0 && (d = sr_opendir(j->ops->sr, path))) {
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
		if (j->ops->opts->holders_refuse) {
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

/* An SR-IOV PF with VFs enabled loses them when its driver lets go (the VFs are the PF
 * driver's); a VF itself is fine (its own group). */
static int check_sriov(struct job *j)
{
	for (int i = 0; i < j->nmem; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		struct sriov_info si;

		if (quirks_sriov(j->ops->sr, d->name, &si) < 0 || si.numvfs <= 0)
			continue;
		if (!strcmp(d->driver, VFIO_DRIVER))
			continue; /* already on vfio-pci: nothing is unbound */
		ERR(j, "refusing: %s is an SR-IOV physical function with %d VF%s enabled (driver %s): "
		       "binding it to vfio-pci would destroy them. Pass a VF instead (see "
		       "'pve-gpu-passthrough list'), or remove the VFs first: echo 0 > "
		       "/sys/bus/pci/devices/%s/sriov_numvfs",
		    d->name, si.numvfs, si.numvfs == 1 ? "" : "s", or_none(d->driver), d->name);
		return -EBUSY;
	}
	return 0;
}

/* The nvidia driver's unbind hangs or fails ("non-zero usage count") while the card is kept
 * initialised without an open file: by nvidia-persistenced, or by persistence mode. */
static int check_nvidia(struct job *j)
{
	const struct hook_opts *o = j->ops->opts;
	pid_t pid;

	for (int i = 0; i < j->nmem; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		int pm;

		if (strcmp(d->driver, "nvidia"))
			continue;
		if (!j->persistenced) {
			pid = quirks_nvidia_daemon(j->ops->sr);
			if (pid < 0) {
				ERR(j, "cannot scan /proc for nvidia-persistenced: %s", strerror(-pid));
				return pid;
			}
			j->persistenced = pid;
		}
		if (j->persistenced && o->persistenced_stop) {
			j->stop_persistenced = true;
			continue;
		}
		if (j->persistenced) {
			ERR(j, "refusing: %s is kept initialised by nvidia-persistenced (pid %d): the "
			       "nvidia driver would not let go of it (unbind hangs or fails with "
			       "'non-zero usage count'). Set nvidia_persistenced = stop (it is stopped "
			       "for the VM and started again after it), or: systemctl stop "
			       QUIRKS_PERSISTENCED_UNIT, d->name, (int)j->persistenced);
			return -EBUSY;
		}
		pm = quirks_nvidia_persistence(&j->exec, d->name);
		if (pm == 1) {
			ERR(j, "refusing: persistence mode is on for %s (no nvidia-persistenced runs): "
			       "the nvidia driver would not let go of it. Turn it off: nvidia-smi -i %s "
			       "-pm 0", d->name, d->name);
			return -EBUSY;
		}
	}
	if (j->stop_persistenced)
		INFO(j, "nvidia-persistenced (pid %d) keeps the NVIDIA GPU initialised: stopping it "
			"for the handoff (nvidia_persistenced = stop)", (int)j->persistenced);
	return 0;
}

/* [vm:N] reset_method: each display member's attribute must exist; what it is now is kept for
 * the state file. */
static int plan_reset(struct job *j)
{
	const char *want = j->ops->opts->reset_method;

	if (!*want)
		return 0;
	for (int i = 0; i < j->nmem; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		int r;

		if (!pcidev_is_display(d))
			continue;
		r = quirks_reset_method_read(j->ops->sr, d->name, j->reset_orig[i],
					     sizeof(j->reset_orig[i]));
		if (r == -ENOENT) {
			ERR(j, "refusing: reset_method = %s is set for VM %d, but %s has no reset_method "
			       "attribute (the kernel is older than 5.15)", want, j->vmid, d->name);
			return r;
		}
		if (r < 0) {
			ERR(j, "cannot read the reset_method of %s: %s", d->name, strerror(-r));
			return r;
		}
		j->reset_plan[i] = true;
	}
	return 0;
}

static int check_all(struct job *j)
{
	struct hostdev *hd = NULL;
	const char *names[MAX_MEMBERS];
	int reserved[MAX_MEMBERS], owners[MAX_MEMBERS];
	char why[256];
	int r;

	r = hostdev_scan(j->ops->sr, &hd);
	if (r < 0) {
		ERR(j, "cannot tell which devices the host needs: %s", strerror(-r));
		return r;
	}
	/* the reservations and the other VMs' state files are read once for all members */
	for (int i = 0; i < j->nmem; i++)
		names[i] = j->mem[i].info.name;
	if (pve_reserved_by_others(j->ops->sr, names, j->nmem, j->vmid, reserved) < 0)
		memset(reserved, 0, sizeof(reserved)); /* unreadable: as before, no reservation */
	if (state_owners(j->ops->sr, names, j->nmem, j->vmid, owners) < 0)
		memset(owners, 0, sizeof(owners));
	for (int i = 0; i < j->nmem && r == 0; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		int other;

		if (hostdev_is_critical(hd, d->name, why, sizeof(why)) > 0) {
			ERR(j, "refusing: %s (IOMMU group %d) %s: passing its group through would take "
			       "it from the host; move the GPU to a slot with its own group",
			    d->name, d->iommu_group, why);
			r = -EBUSY;
		} else if ((other = reserved[i]) > 0) {
			ERR(j, "refusing: %s is reserved by running VM %d", d->name, other);
			r = -EBUSY;
		} else if ((other = owners[i]) > 0) {
			ERR(j, "refusing: %s was handed over for VM %d and not given back yet; stop VM %d "
			       "(or run 'pve-gpu-passthrough release %d' if it is stopped)",
			    d->name, other, other, other);
			r = -EBUSY;
		}
	}
	hostdev_free(hd);
	if (r == 0)
		r = check_sriov(j);
	if (r == 0)
		r = check_nvidia(j);
	if (r == 0)
		r = plan_reset(j);
	if (r == 0)
		r = check_holders(j);
	if (r == 0)
		r = check_vfio_available(j);
	return r;
}

/* ---- state -------------------------------------------------------------------------------- */

/* A state file that cannot be used (R from state_load): its path and what is wrong with it
 * (the line, for one edited by hand), then WHAT follows. */
static void state_refused(struct job *j, int r, const char *what)
{
	char why[256];

	if (r != -EINVAL || state_explain(j->ops->sr, j->vmid, why, sizeof(why)) < 0)
		snprintf(why, sizeof(why), "%s", sr_strerror(r));
	ERR(j, "state file %s/%d.state of VM %d is refused: %s; %s", STATE_DIR, j->vmid, j->vmid,
	    why, what);
}

static int record_state(struct job *j)
{
	struct handoff_state *s = &j->st;

	/* devices: what an earlier pre-start recorded stays (its originals are the true ones) */
	for (int i = 0; i < j->nmem; i++) {
		const struct pci_dev_info *d = &j->mem[i].info;
		struct state_dev *sd;

		if (state_find(s, d->name))
			continue;
		if (s->ndevs >= STATE_MAX_DEVS)
			return -E2BIG;
		sd = &s->devs[s->ndevs++];
		memset(sd, 0, sizeof(*sd));
		strcpy(sd->name, d->name);
		sd->group = d->iommu_group;
		sd->vendor = d->vendor;
		sd->device = d->device;
		sd->was_vfio = !strcmp(d->driver, VFIO_DRIVER);
		if (!sd->was_vfio) {
			strcpy(sd->driver, d->driver);
			if (strcmp(d->override, VFIO_DRIVER))
				strcpy(sd->override, d->override);
		}
	}
	for (int i = 0; i < j->nmem; i++) {
		bool known = false;

		if (!j->reset_plan[i])
			continue;
		for (int k = 0; k < s->nresets && !known; k++)
			known = !strcmp(s->resets[k].name, j->mem[i].info.name);
		if (known || s->nresets >= STATE_MAX_DEVS)
			continue; /* an earlier pre-start's original is the true one */
		strcpy(s->resets[s->nresets].name, j->mem[i].info.name);
		strcpy(s->resets[s->nresets].method, j->reset_orig[i]);
		s->nresets++;
	}
	if (j->stop_persistenced)
		s->persistenced = true;
	for (int i = 0; i < j->con.nvtcons && s->nvtcons < STATE_MAX_CONS; i++)
		s->vtcons[s->nvtcons++] = j->con.vtcons[i];
	for (int i = 0; i < j->con.nfbs && s->nfbs < STATE_MAX_CONS; i++) {
		strcpy(s->fbs[s->nfbs], j->con.fbs[i]);
		strcpy(s->fb_drivers[s->nfbs], j->con.fb_drivers[i]);
		s->nfbs++;
	}
	if (j->vgacon[0] && !s->vgacon[0])
		str_copy(s->vgacon, sizeof(s->vgacon), j->vgacon);
	if (j->con.move_mask && !s->con_mask) {
		str_copy(s->con_home, sizeof(s->con_home), j->con.move_from);
		s->con_mask = j->con.move_mask;
	}
	if (j->ops->dry_run)
		return 0;
	return state_save(j->ops->sr, s);
}

/* ---- moving devices ----------------------------------------------------------------------- */

static int release_consoles(struct job *j)
{
	int r;

	if (j->con.nvtcons || j->con.nfbs || j->con.move_mask)
		INFO(j, "releasing the host console: %s", j->con.why);
	if (j->vgacon[0] && !j->ops->dry_run)
		WARN(j, "%s: " CONSOLE_VGACON_LOST_MSG, j->vgacon);
	if (j->con.move_mask) {
		char ttys[128];

		console_mask_format(j->con.move_mask, ttys, sizeof(ttys));
		r = console_con2fb_move(j->ops->sr, j->con.move_mask, j->con.move_to_fb, &j->con_moved);
		if (r < 0) {
			ERR(j, "cannot move the consoles %s from fb%d (%s) to fb%d (%s): %s", ttys,
			    j->con.move_from_fb, j->con.move_from, j->con.move_to_fb, j->con.move_to,
			    strerror(-r));
			return r;
		}
		if (!j->ops->dry_run)
			INFO(j, "consoles %s moved from fb%d (%s) to fb%d (%s)", ttys,
			     j->con.move_from_fb, j->con.move_from, j->con.move_to_fb, j->con.move_to);
	}
	for (; j->vt_done < j->con.nvtcons; j->vt_done++) {
		int vt = j->con.vtcons[j->vt_done];

		r = console_vtcon_bind(j->ops->sr, vt, false);
		if (r < 0) {
			ERR(j, "cannot unbind framebuffer console vtcon%d: %s", vt, strerror(-r));
			return r;
		}
		if (j->ops->dry_run) /* a dry run said what it would write */
			continue;
		if (r > 0) {
			WARN(j, "vtcon%d (framebuffer console) stays bound: no other console driver "
				"can take over, so fbcon keeps it on the remaining framebuffer", vt);
			continue;
		}
		INFO(j, "vtcon%d (framebuffer console) unbound", vt);
	}
	for (; j->fb_done < j->con.nfbs; j->fb_done++) {
		const char *fb = j->con.fbs[j->fb_done], *drv = j->con.fb_drivers[j->fb_done];

		r = console_fb_unbind(j->ops->sr, fb, drv);
		if (r < 0) {
			ERR(j, "cannot release firmware framebuffer %s: %s", fb, strerror(-r));
			return r;
		}
		if (!j->ops->dry_run)
			INFO(j, "firmware framebuffer %s released", fb);
	}
	return 0;
}

/* After the bind: no firmware framebuffer may be left in a BAR that QEMU will map. A
 * simple-framebuffer device (Proxmox's kernels) owns its region itself; vfio-pci removes it
 * for a VGA-class GPU, but not for a 3D or "other" display controller. */
static int check_no_fw_fb(struct job *j, const struct unit *u)
{
	for (int x = 0; x < u->n && !j->ops->dry_run; x++) {
		const struct pci_dev_info *d = &j->mem[u->idx[x]].info;
		struct iomem_entry fb;
		int bar, r;

		if (!pcidev_is_display(d))
			continue;
		r = console_fb_left(j->ops->sr, d, &fb, &bar);
		if (r < 0) {
			ERR(j, "cannot read /proc/iomem: %s", strerror(-r));
			return r;
		}
		if (r == 0)
			continue;
		ERR(j, "%s: firmware framebuffer %s [mem %#llx-%#llx] still sits in BAR %d after "
		       "vfio-pci took the device (class %06x: the kernel removes it only for a VGA "
		       "controller); QEMU could not map that BAR. fix: " CONSOLE_FB_LEFT_FIX,
		    d->name, fb.name, (unsigned long long)fb.start, (unsigned long long)fb.end, bar,
		    d->class);
		return -EBUSY;
	}
	return 0;
}

static int prove_group(struct job *j, const struct unit *u)
{
	const char *names[MAX_MEMBERS];
	char node[SR_PATH_MAX], list[512] = "";
	struct vfio_report rep;
	uint64_t deadline = now_ms() + j->ops->opts->bind_timeout_ms;
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

/* Gives one device back to DRIVER (may be ""), restoring OVERRIDE; used by rollback and
 * release. *STUCK is set when it is stuck: a step that takes its lock did not return (its
 * driver is inside remove(); the caller names it, this logs nothing for it). Returns 0 or
 * -errno (already logged). */
static int give_back(struct job *j, const char *name, const char *driver, const char *override,
		     bool *stuck, pid_t *left)
{
	struct bind_ops bo = bind_ops_of(j);
	struct bind_dev d = { 0 };
	int r;

	str_copy(d.name, sizeof(d.name), name);
	str_copy(d.driver, sizeof(d.driver), driver);
	str_copy(d.override, sizeof(d.override), override);
	r = bind_give_back(&bo, &d);
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
		ERR(j, "%s: cannot unbind from vfio-pci: %s", name, strerror(-r));
		break;
	case BIND_STEP_PROBE:
		if (r == -ETIMEDOUT)
			ERR(j, "%s: drivers_probe did not return within %lu ms (a driver still holds "
			       "the device)", name, j->ops->opts->unbind_timeout_ms);
		else
			ERR(j, "%s: drivers_probe failed: %s", name, strerror(-r));
		break;
	case BIND_STEP_VERIFY:
		ERR(j, "%s: %s did not take it back within %lu ms (now: %s); see dmesg", name, driver,
		    j->ops->opts->bind_timeout_ms, or_none(d.now));
		break;
	default:
		break; /* its driver could not be read: nothing was changed */
	}
	return r;
}

/* Moves the consoles in MASK back onto HOME's framebuffer once its driver has registered
 * one again (the kernel may have done it already: a primary card takes the consoles back). */
static void restore_con2fb(struct job *j, const char *home, uint64_t mask)
{
	uint64_t deadline = now_ms() + j->ops->opts->bind_timeout_ms, done;
	unsigned step = 0;
	char ttys[128];
	int fb, r;

	if (!mask)
		return;
	console_mask_format(mask, ttys, sizeof(ttys));
	while ((fb = console_fb_of(j->ops->sr, home)) < 0 && !j->ops->dry_run &&
	       backoff_wait(&step, deadline))
		;
	if (fb < 0) {
		if (!j->ops->dry_run)
			WARN(j, "consoles %s stay where they are: %s has no framebuffer after %lu ms "
				"(its driver brings none back)", ttys, home, j->ops->opts->bind_timeout_ms);
		return;
	}
	r = console_con2fb_move(j->ops->sr, mask, fb, &done);
	if (j->ops->dry_run)
		return;
	if (r < 0)
		WARN(j, "cannot move the consoles %s back to fb%d (%s): %s", ttys, fb, home,
		     strerror(-r));
	else
		INFO(j, "consoles %s back on fb%d (%s)", ttys, fb, home);
}

/* Returns 0, or the -errno of the first framebuffer or console that could not be rebound (each
 * is warned about). */
static int restore_consoles(struct job *j, const char (*fbs)[64], const char (*drivers)[64],
			    int nfbs, const int *vtcons, int nvt, const char *home, uint64_t mask)
{
	int first = 0;

	restore_con2fb(j, home, mask);
	for (int i = nfbs - 1; i >= 0; i--) {
		int r = console_fb_bind(j->ops->sr, fbs[i], drivers[i]);

		if (j->ops->dry_run && r >= 0)
			continue; /* a dry run said what it would write */
		if (r < 0 && !first)
			first = r;
		if (r < 0)
			WARN(j, "cannot rebind firmware framebuffer %s: %s", fbs[i], strerror(-r));
		else if (r > 0)
			INFO(j, "firmware framebuffer %s was removed by the kernel when vfio-pci took "
				"the GPU; it comes back only at the next boot (the GPU's own driver can "
				"carry the console)", fbs[i]);
		else
			INFO(j, "firmware framebuffer %s restored", fbs[i]);
	}
	for (int i = nvt - 1; i >= 0; i--) {
		int r = console_vtcon_bind(j->ops->sr, vtcons[i], true);

		if (j->ops->dry_run && r >= 0)
			continue;
		if (r == -ENOENT)
			INFO(j, "vtcon%d is gone: no framebuffer is left to carry a console", vtcons[i]);
		else if (r < 0)
			WARN(j, "cannot rebind console vtcon%d: %s", vtcons[i], strerror(-r));
		else
			INFO(j, "vtcon%d (framebuffer console) restored", vtcons[i]);
		if (r < 0 && r != -ENOENT && !first)
			first = r;
	}
	return first;
}

/* systemctl stop, then wait (with the unbind deadline) until the daemon has gone. */
static int stop_persistenced(struct job *j)
{
	uint64_t deadline = now_ms() + j->ops->opts->unbind_timeout_ms;
	unsigned step = 0;
	pid_t pid;
	int r;

	if (!j->stop_persistenced)
		return 0;
	if (j->ops->dry_run) {
		INFO(j, "would run systemctl stop " QUIRKS_PERSISTENCED_UNIT);
		return 0;
	}
	r = quirks_persistenced(&j->exec, false);
	if (r < 0) {
		ERR(j, "cannot stop nvidia-persistenced (systemctl stop " QUIRKS_PERSISTENCED_UNIT
		       "): %s", strerror(-r));
		return r;
	}
	j->persistenced_stopped = true;
	while ((pid = quirks_nvidia_daemon(j->ops->sr)) > 0 && backoff_wait(&step, deadline))
		;
	if (pid > 0) {
		ERR(j, "nvidia-persistenced (pid %d) is still running after systemctl stop (not "
		       "started by its systemd unit?): stop it, then start the VM", (int)pid);
		return -EBUSY;
	}
	INFO(j, "nvidia-persistenced stopped; it is started again when VM %d stops", j->vmid);
	return 0;
}

static void start_persistenced(struct job *j)
{
	int r;

	if (j->ops->dry_run) {
		INFO(j, "would run systemctl start " QUIRKS_PERSISTENCED_UNIT);
		return;
	}
	r = quirks_persistenced(&j->exec, true);
	if (r < 0)
		WARN(j, "cannot start nvidia-persistenced again (systemctl start "
			QUIRKS_PERSISTENCED_UNIT "): %s", strerror(-r));
	else
		INFO(j, "nvidia-persistenced started again");
}

static int set_resets(struct job *j)
{
	const char *want = j->ops->opts->reset_method;

	for (int i = 0; i < j->nmem; i++) {
		const char *name = j->mem[i].info.name;
		int r;

		if (!j->reset_plan[i])
			continue;
		r = quirks_reset_method_write(j->ops->sr, name, want);
		if (r < 0) {
			if (r == -EINVAL)
				ERR(j, "%s: the kernel refuses reset_method '%s' (the device has no such "
				       "method%s); its methods: %s", name, want,
				    strstr(want, "device_specific") ? ": is vendor-reset loaded?" : "",
				    j->reset_orig[i][0] ? j->reset_orig[i] : "none");
			else
				ERR(j, "%s: cannot set reset_method: %s", name, strerror(-r));
			return r;
		}
		j->reset_done[i] = true;
		if (r > 0 && !j->ops->dry_run)
			INFO(j, "%s: reset_method %s -> %s", name,
			     j->reset_orig[i][0] ? j->reset_orig[i] : "(off)", want);
	}
	return 0;
}

/* Puts back reset_method ORIG of NAME (after the VM, or in a rollback). */
static void restore_reset(struct job *j, const char *name, const char *orig)
{
	int r = quirks_reset_method_write(j->ops->sr, name, orig);

	if (r < 0)
		WARN(j, "%s: cannot restore reset_method '%s': %s", name, orig, strerror(-r));
	else if (r > 0 && !j->ops->dry_run)
		INFO(j, "%s: reset_method restored (%s)", name, *orig ? orig : "off");
}

/* Appends "; ITEM" (or the first ITEM) to a bounded list. */
static void list_add(char *list, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void list_add(char *list, size_t size, const char *fmt, ...)
{
	size_t off = strlen(list);
	va_list ap;

	if (off && off + 2 < size) {
		memcpy(list + off, "; ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(list + off, size - off, fmt, ap);
	va_end(ap);
}

/* A group's part of the rollback: what the engine did to its devices, last first. Each
 * device's result goes to j->undo[] (rollback() reads them in order, after every group). A
 * device whose unbind never returned is left alone: its old driver is inside remove() with
 * the device lock held, and kernels before 6.19 take that lock to read or write
 * driver_override too, so it is not touched at all until the driver lets go. */
static int undo_unit(struct job *j, struct unit *u)
{
	for (int x = u->n - 1; x >= 0; x--) {
		int i = u->idx[x];
		const struct bind_dev *d = &j->bd[i];

		j->undo[i] = 0;
		j->undo_stuck[i] = false;
		if (!d->override_set && !d->unbound && !d->moved)
			continue;
		if (d->step == BIND_STEP_UNBIND && d->err == -ETIMEDOUT) {
			j->undo_stuck[i] = true;
			j->undo_pid[i] = d->left_pid;
			continue;
		}
		j->undo[i] = give_back(j, d->name, d->driver, d->override, &j->undo_stuck[i],
				       &j->undo_pid[i]);
	}
	return 0;
}

/* Undoes what apply() did, every group at the same time. Returns 0 when the host is as it
 * was before, else the -errno of the first thing that could not be undone: one line then
 * names what is still changed and the command that finishes the job, and the state file stays
 * (as this run wrote it) for that command. */
static int rollback(struct job *j)
{
	char left[768] = "";
	int first = 0, r;

	WARN(j, "undoing the handoff of VM %d", j->vmid);
	run_units(j, undo_unit); /* every group, also those that succeeded */
	for (int i = j->nmem - 1; i >= 0; i--) {
		const struct bind_dev *d = &j->bd[i];
		char now[PCIDEV_NAME_MAX] = "";

		if (j->undo_stuck[i]) {
			/* the state file says so: every later access to it has a deadline */
			for (int k = 0; k < j->st.ndevs; k++)
				if (!strcmp(j->st.devs[k].name, d->name))
					stuck_mark(j->ops->sr, &j->st.devs[k], j->undo_pid[i]);
			list_add(left, sizeof(left), "%s: %s has not let go (its unbind did not "
				 "return; driver_override stays vfio-pci)", d->name, d->from);
			if (!first)
				first = -ETIMEDOUT;
		} else if (j->undo[i] < 0) {
			pcidev_driver(j->ops->sr, d->name, now, sizeof(now));
			list_add(left, sizeof(left), "%s on %s, not %s", d->name, or_none(now),
				 or_none(d->driver));
			if (!first)
				first = j->undo[i];
		}
	}
	r = restore_consoles(j, (const char(*)[64])j->con.fbs, (const char(*)[64])j->con.fb_drivers,
			     j->fb_done, j->con.vtcons, j->vt_done, j->con.move_from, j->con_moved);
	if (r < 0) {
		list_add(left, sizeof(left), "a framebuffer or console (above)");
		if (!first)
			first = r;
	}
	for (int i = j->nmem - 1; i >= 0; i--)
		if (j->reset_done[i])
			restore_reset(j, j->mem[i].info.name, j->reset_orig[i]);
	if (j->persistenced_stopped)
		start_persistenced(j);
	if (j->ops->dry_run)
		return 0;
	if (first) {
		/* the state file this run wrote holds the originals: release finishes from it
		 * (with the stuck devices marked, when it can be written) */
		state_save(j->ops->sr, &j->st);
		ERR(j, "still changed: %s; when the device is free, finish with: "
		       "pve-gpu-passthrough release %d", left, j->vmid);
		return first;
	}
	r = j->had_state ? state_save(j->ops->sr, &j->prior) /* as an earlier pre-start left it */
			 : state_remove(j->ops->sr, j->vmid);
	if (r < 0) {
		ERR(j, "the devices are back, but the state file %s/%d.state could not be %s: %s; "
		       "finish with: pve-gpu-passthrough release %d", STATE_DIR, j->vmid,
		    j->had_state ? "restored" : "removed", strerror(-r), j->vmid);
		return r;
	}
	return 0;
}

/* VGA text mode on a 6.0+ kernel: vfio-pci will remove the boot GPU's vgacon (console.h). */
static void plan_vgacon(struct job *j, const struct pci_dev_info *infos)
{
	char rel[128];

	if (sr_read_str(j->ops->sr, "/proc/sys/kernel/osrelease", rel, sizeof(rel)) <= 0)
		return;
	for (int i = 0; i < j->nmem && !j->vgacon[0]; i++)
		if (console_vgacon_lost(j->ops->sr, &infos[i], rel) == 1)
			str_copy(j->vgacon, sizeof(j->vgacon), infos[i].name);
	for (int i = 0; i < j->nmem && !j->other_fb[0]; i++)
		if (console_other_fb_lost(j->ops->sr, &infos[i], rel, j->other_fb) == 1)
			str_copy(j->other_fb_dev, sizeof(j->other_fb_dev), infos[i].name);
}

/* Firmware framebuffers that the kernel removed while the devices moved, other than the ones
 * the hook released itself (post-stop speaks of those): said now, they cannot come back. */
static void report_removed_fbs(struct job *j, char (*before)[64], int nbefore)
{
	char now[CONSOLE_MAX][64];
	int n = console_fw_fbs(j->ops->sr, now, CONSOLE_MAX);

	for (int i = 0; i < nbefore && !j->ops->dry_run; i++) {
		bool here = false, ours = false;

		for (int k = 0; k < n && !here; k++)
			here = !strcmp(now[k], before[i]);
		for (int k = 0; k < j->con.nfbs && !ours; k++)
			ours = !strcmp(j->con.fbs[k], before[i]);
		if (!here && !ours)
			WARN(j, "firmware framebuffer %s was removed by the kernel when vfio-pci took "
				"the devices; it and the console on it come back only at the next boot",
			     before[i]);
	}
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
		r = check_no_fw_fb(j, u);
	if (r == 0)
		r = prove_group(j, u);
	if (r < 0)
		__atomic_store_n(&j->failed, 1, __ATOMIC_SEQ_CST);
	return r;
}

static int apply(struct job *j)
{
	struct bind_ops bo = bind_ops_of(j);
	char fbs[CONSOLE_MAX][64];
	int r, nfbs = console_fw_fbs(j->ops->sr, fbs, CONSOLE_MAX);

	if (j->other_fb[0] && !j->ops->dry_run)
		WARN(j, "%s: " CONSOLE_OTHER_FB_LOST_MSG, j->other_fb_dev, j->other_fb);
	if ((r = stop_persistenced(j)) < 0)
		return r;
	if ((r = set_resets(j)) < 0)
		return r;
	j->nunits = 0;
	for (int i = 0; i < j->nmem; i++)
		unit_add(j, j->mem[i].info.iommu_group, i);
	if ((r = release_consoles(j)) < 0)
		return r;
	for (int i = 0; i < j->nmem; i++) {
		struct bind_dev *d = &j->bd[i];

		memset(d, 0, sizeof(*d));
		str_copy(d->name, sizeof(d->name), j->mem[i].info.name);
		str_copy(d->driver, sizeof(d->driver), j->mem[i].info.driver);
		str_copy(d->override, sizeof(d->override), j->mem[i].info.override);
	}
	/* overrides and modules for all, then every group at the same time */
	if ((r = bind_stage_vfio(&bo, j->bd, j->nmem)) < 0)
		return r;
	r = run_units(j, attach_unit);
	report_removed_fbs(j, fbs, nfbs); /* when every group is done: what the kernel took */
	return r;
}

int handoff_vm_load(const struct sysroot *sr, int vmid, struct pve_vmconf *c, char *err,
		    size_t errsize)
{
	int line = 0, r = pve_vmconf_load(sr, vmid, c, &line, err, errsize);

	if (r < 0)
		return r;
	for (int i = 0; i < c->nhostpci; i++)
		if (!c->hostpci[i].keep && !c->hostpci[i].mdev)
			return 1;
	return 0;
}

int handoff_vm_has_devices(const struct sysroot *sr, int vmid, char *err, size_t errsize)
{
	struct pve_vmconf c;

	return handoff_vm_load(sr, vmid, &c, err, errsize);
}

int handoff_prepare(const struct handoff_ops *ops, int vmid)
{
	struct job *j = calloc(1, sizeof(*j));
	int r;

	if (ops->left_changed)
		*ops->left_changed = false;
	if (!j)
		return -ENOMEM;
	job_init(j, ops, vmid);
	ops = j->ops;
	if ((r = collect(j)) < 0 || j->nmem == 0)
		goto out;
	if ((r = lock_all(j)) < 0)
		goto out;
	r = state_load(ops->sr, vmid, &j->st);
	if (r == 0) {
		j->had_state = true;
		j->prior = j->st;
	} else if (r == -ENOENT) {
		memset(&j->st, 0, sizeof(j->st));
		j->st.vmid = vmid;
	} else {
		state_refused(j, r, "remove it after checking the devices' drivers");
		goto out;
	}
	if ((r = check_all(j)) < 0)
		goto out;
	{
		struct pci_dev_info infos[MAX_MEMBERS];

		for (int i = 0; i < j->nmem; i++)
			infos[i] = j->mem[i].info;
		r = console_plan(ops->sr, infos, j->nmem, &j->con);
		plan_vgacon(j, infos);
	}
	if (r < 0) {
		ERR(j, "cannot read the console state: %s", strerror(-r));
		goto out;
	}
	if ((r = record_state(j)) < 0) {
		ERR(j, "cannot write the state file: %s", strerror(-r));
		goto out;
	}
	r = apply(j);
	if (r < 0 && rollback(j) < 0 && ops->left_changed)
		*ops->left_changed = true;
out:
	unlock_all(j);
	free(j);
	return r;
}

/* ---- release ------------------------------------------------------------------------------ */

static bool dev_present(const struct sysroot *sr, const char *name)
{
	char path[SR_PATH_MAX];

	return sysfs_pci_dev(path, name, NULL) == 0 && sr_exists(sr, path);
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

/* A group's part of the release: each of its devices back to its own driver. */
static int release_unit(struct job *j, struct unit *u)
{
	if (u->busy)
		return 0;
	for (int x = 0; x < u->n; x++) {
		int i = u->idx[x], e;
		const struct state_dev *d = &j->st.devs[i];

		j->undo[i] = 0;
		j->undo_stuck[i] = false;
		j->undo_pid[i] = 0;
		if (d->was_vfio) {
			INFO(j, "%s: stays on vfio-pci (it was there before VM %d started)", d->name,
			     j->vmid);
			continue;
		}
		/* the name comes from the state file (a canonical PCI address, dev_state.c): write
		 * only below a device that sysfs has now */
		if (!dev_present(j->ops->sr, d->name)) {
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
		/* Proxmox binds with new_id; that id would capture the device again on probe */
		e = bind_remove_vfio_id(j->ops->sr, d->vendor, d->device);
		if (e < 0) {
			ERR(j, "%s: cannot remove the dynamic id %04x:%04x from vfio-pci: %s (it would "
			       "take the device again); not giving it back", d->name, d->vendor,
			    d->device, strerror(-e));
		} else {
			e = give_back(j, d->name, d->driver, d->override, &j->undo_stuck[i],
				      &j->undo_pid[i]);
		}
		j->undo[i] = e;
	}
	return 0;
}

int handoff_release(const struct handoff_ops *ops, int vmid)
{
	struct job *j = calloc(1, sizeof(*j));
	struct handoff_state *s;
	int nkept = 0, r = 0;
	char left[768] = "";

	if (!j)
		return -ENOMEM;
	job_init(j, ops, vmid);
	ops = j->ops;
	s = &j->st;
	r = state_load(ops->sr, vmid, s);
	if (r == -ENOENT) {
		r = 0; /* nothing was handed over for this VM */
		goto out;
	}
	if (r < 0) {
		state_refused(j, r, "nothing is given back; fix or remove it after checking the "
				    "devices' drivers");
		goto out;
	}
	for (int i = 0; i < s->ndevs; i++)
		if ((r = lock_one(j, s->devs[i].name, true)) < 0)
			goto out;
	if (!ops->opts->return_on_stop) {
		INFO(j, "return_on_stop = no: devices of VM %d stay on vfio-pci", vmid);
		for (int k = 0; k < s->nresets; k++)
			if (dev_present(ops->sr, s->resets[k].name))
				restore_reset(j, s->resets[k].name, s->resets[k].method);
		if (s->persistenced)
			start_persistenced(j);
		if (!ops->dry_run && (r = state_remove(ops->sr, vmid)) < 0)
			ERR(j, "cannot remove the state file %s/%d.state: %s", STATE_DIR, vmid,
			    strerror(-r));
		goto out;
	}
	for (int i = 0; i < s->ndevs; i++)
		unit_add(j, s->devs[i].group, i);
	/* QEMU may still be going away (a killed VM): wait for the groups, with the deadline */
	if (!ops->dry_run)
		wait_units_closed(j, ops->opts->release_timeout_ms);
	run_units(j, release_unit); /* every group at the same time; results in j->undo[] */
	for (int i = 0; i < s->ndevs; i++) {
		const struct state_dev d = s->devs[i];

		if (unit_of(j, d.group)->busy) {
			s->devs[nkept++] = d;
			list_add(left, sizeof(left), "%s on vfio-pci (its group is open)", d.name);
			r = -EBUSY;
		} else if (j->undo_stuck[i]) {
			s->devs[nkept] = d;
			stuck_mark(ops->sr, &s->devs[nkept++], j->undo_pid[i]);
			list_add(left, sizeof(left), "%s: its driver has not let go (an unbind of it "
				 "did not return; not touched, nothing waits on it)", d.name);
			if (r == 0)
				r = -ETIMEDOUT;
		} else if (j->undo[i] < 0) {
			char now[PCIDEV_NAME_MAX] = "";

			pcidev_driver(ops->sr, d.name, now, sizeof(now));
			list_add(left, sizeof(left), "%s on %s, not %s", d.name, or_none(now),
				 or_none(d.driver));
			s->devs[nkept++] = d; /* kept for the next release */
			if (r == 0)
				r = j->undo[i];
		}
	}
	/* reset_method back on every device no longer held (a kept one keeps its record) */
	{
		int nres = 0;

		for (int k = 0; k < s->nresets; k++) {
			bool held = false;

			for (int i = 0; i < nkept && !held; i++)
				held = !strcmp(s->devs[i].name, s->resets[k].name);
			if (held) {
				s->resets[nres++] = s->resets[k];
				continue;
			}
			if (dev_present(ops->sr, s->resets[k].name))
				restore_reset(j, s->resets[k].name, s->resets[k].method);
		}
		s->nresets = nres;
	}
	/* the console comes back with the last device: while a device is still held, the state
	 * file keeps the consoles for the later release */
	if (!nkept) {
		restore_consoles(j, (const char(*)[64])s->fbs, (const char(*)[64])s->fb_drivers,
				 s->nfbs, s->vtcons, s->nvtcons, s->con_home, s->con_mask);
		if (s->vgacon[0] && !ops->dry_run)
			INFO(j, "%s: the VGA text console (vgacon) that vfio-pci removed at pre-start "
				"comes back only at the next boot", s->vgacon);
		if (s->persistenced)
			start_persistenced(j);
	}
	if (!ops->dry_run) {
		int e;

		if (nkept) {
			s->ndevs = nkept;
			e = state_save(ops->sr, s);
		} else {
			e = state_remove(ops->sr, vmid);
		}
		if (e < 0) {
			ERR(j, "cannot %s the state file %s/%d.state: %s", nkept ? "update" : "remove",
			    STATE_DIR, vmid, strerror(-e));
			if (r == 0)
				r = e;
		}
	}
	if (r < 0 && left[0])
		ERR(j, "still changed: %s; when the device is free, finish with: "
		       "pve-gpu-passthrough release %d", left, vmid);
out:
	unlock_all(j);
	free(j);
	return r;
}
