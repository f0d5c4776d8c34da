/* dev_handoff.c - see dev_handoff.h. The engine: collect the VM's devices, lock them, run the
 * table of steps (dev_ho.h) forward with the rollback in reverse (prepare), or in reverse
 * from the state file (release). */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev_lock.h"
#include "host_dev.h"
#include "parallel.h"
#include "pve_conf.h"
#include "sysfs.h"
#include "util.h"

/* The table: what the hook changes on the host, in the order prepare changes it (release
 * gives it back in the reverse order). A new transition is one file and one row here. */
static const struct ho_step *const ho_steps[] = {
	&ho_step_containers, /* containers using the GPU shut down (they hold its nodes) */
	&ho_step_health,  /* release: each device given back is read again (a bad one marked) */
	&ho_step_nvidia,  /* nvidia-persistenced stopped (it would hold the card) */
	&ho_step_reset,   /* reset_method set for the VM */
	&ho_step_console, /* the host console off the GPU */
	&ho_step_sriov,   /* post-stop: no dynamic id of vfio-pci left that takes an SR-IOV PF */
	&ho_step_bind,    /* the groups onto vfio-pci, proven through VFIO */
};
#define NSTEPS ((int)ARRAY_SIZE(ho_steps))
#define PICK_LOCK_MS 10000 /* another pre-start picks and locks in far less */

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

/* The dry run's write point: a refused write is logged as what would have been written. */
static void dry_write(void *data, const char *path, const char *value, int result, bool done)
{
	struct job *j = data;

	if (!done && result == 0)
		INFO(j, "would write '%s' to %s", *value == '\n' ? "\\n" : value, path);
}

const struct hook_opts *handoff_opts(const struct handoff_ops *ops, int vmid)
{
	return cfg_hook_opts(ops->cfg, vmid);
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
	j->pickfd = -1;
	j->opts = handoff_opts(ops, vmid);
	if (ops->exec)
		j->exec = *ops->exec;
	else
		j->exec = (struct quirks_exec){ .run = quirks_exec_real, .data = (void *)ops->sr };
}

/* ---- collect ---------------------------------------------------------------------------- */

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
	if ((r = ho_refuse_stuck(j, name)) < 0 || (r = ho_refuse_marked(j, name)) < 0)
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

/* A device another VM's handoff has: recorded in its state file, or locked by its hook now. */
static bool in_use(void *data, const char *dev)
{
	struct job *j = data;
	pid_t holder;
	int owner = 0, fd;

	if (state_owners(j->ops->sr, &dev, 1, j->vmid, &owner) == 0 && owner > 0)
		return true;
	if ((fd = devlock_take(j->ops->sr, dev, &holder)) == -EBUSY)
		return true;
	if (fd >= 0)
		close(fd);
	return false;
}

static int take_pick_lock(struct job *j)
{
	pid_t holder;

	j->pickfd = devlock_wait(j->ops->sr, DEVLOCK_PICK, PICK_LOCK_MS, &holder);
	if (j->pickfd >= 0)
		return 0;
	ERR(j, "cannot pick a mapping entry: %s holds %s/%s for longer than %d s",
	    holder ? "another hook" : "another process", DEVLOCK_DIR, DEVLOCK_PICK,
	    PICK_LOCK_MS / 1000);
	return j->pickfd;
}

/* ---- driver=keep entries and variant VFIO drivers -----------------------------------------
 * Proxmox leaves a driver=keep entry's devices alone, and so do we, unless a variant VFIO
 * driver is asked for such a device (ho_variant_asked) and matches it (bind_variant_matches):
 * then its IOMMU group is handed over like any other, that device to the variant (the rest of
 * the group to vfio-pci, as always). A device of an entry without driver=keep goes to vfio-pci
 * whatever is asked: Proxmox moves it there after us (its bind fails when driver_override
 * names another driver, and the VM would not start); one line says so with the fix. */

static struct member *member_of(struct job *j, const char *name)
{
	for (int i = 0; i < j->nmem; i++)
		if (!strcmp(j->mem[i].info.name, name))
			return &j->mem[i];
	return NULL;
}

/* The N of the hostpciN without driver=keep whose host= ids name device NAME; -1 (a mapping). */
static int entry_of(const struct pve_vmconf *c, const char *name)
{
	struct pci_addr a;

	if (pci_addr_parse(name, &a) < 0)
		return -1;
	for (int i = 0; i < c->nhostpci; i++) {
		const struct pve_hostpci *h = &c->hostpci[i];

		for (int k = 0; !h->keep && !h->mdev && k < h->nids; k++)
			if (h->ids[k].addr.domain == a.domain && h->ids[k].addr.bus == a.bus &&
			    h->ids[k].addr.slot == a.slot &&
			    (!h->ids[k].has_func || h->ids[k].addr.func == a.func))
				return h->index;
	}
	return -1;
}

/* Device NAME of driver=keep entry E (not in ALL, the other entries' devices): in PASS 0 its
 * group is taken when its asked variant drives it (that device to the variant); in PASS 1 a
 * device with a variant asked that is not taken after all is said to be left as it is. */
static int keep_device(struct job *j, const struct pve_hostpci *e, const struct pve_devlist *all,
		       const char *name, int pass)
{
	char buf[PCIDEV_NAME_MAX];
	struct pci_dev_info info;
	struct member *m;
	const char *v;
	int r;

	for (int x = 0; x < all->n; x++)
		if (!strcmp(all->names[x], name))
			return 0; /* an entry without keep passes it: vfio-pci */
	if ((pass == 1 && member_of(j, name)) || pcidev_read(j->ops->sr, name, &info) < 0 ||
	    !(v = ho_variant_asked(j, &info, buf, sizeof(buf))))
		return 0; /* taken with a group, or left as it is, as Proxmox leaves it */
	r = bind_variant_matches(j->ops->sr, &info, v);
	if (pass == 0 && r > 0) {
		if (!member_of(j, info.name) && (r = add_group_of(j, info.name)) < 0)
			return r;
		if ((m = member_of(j, info.name)))
			str_copy(m->target, sizeof(m->target), v);
	} else if (pass == 1 && r < 0) {
		INFO(j, "hostpci%d: %s: cannot tell whether %s drives it (the modules of the running "
			"kernel: %s); driver=keep: left as it is", e->index, info.name, v, strerror(-r));
	} else if (pass == 1) {
		INFO(j, "hostpci%d: %s: %s does not drive it (no vfio_pci: alias of it in "
			"modules.alias); driver=keep: left as it is", e->index, info.name, v);
	}
	return 0;
}

static int collect_variants(struct job *j, const struct pve_vmconf *c,
			    const struct pve_devlist *all)
{
	char buf[PCIDEV_NAME_MAX], err[256], entry[24];
	const char *v;
	int r;

	for (int k = 0; k < all->n; k++) {
		struct member *m = member_of(j, all->names[k]);
		int n;

		if (!m || !(v = ho_variant_asked(j, &m->info, buf, sizeof(buf))) ||
		    bind_variant_matches(j->ops->sr, &m->info, v) <= 0)
			continue;
		if ((n = entry_of(c, m->info.name)) >= 0)
			snprintf(entry, sizeof(entry), "hostpci%d", n);
		else
			snprintf(entry, sizeof(entry), "its hostpci entry");
		WARN(j, "%s: %s is asked for it, but %s passes it without driver=keep: Proxmox binds "
			"it to vfio-pci (and fails if another driver is set), so it goes to vfio-pci; "
			"to have %s, add ,driver=keep to %s", m->info.name, v, entry, v, entry);
	}
	for (int i = 0; i < c->nhostpci; i++) {
		const struct pve_hostpci *e = &c->hostpci[i];
		struct pve_devlist list;

		if (!e->keep || e->mdev)
			continue;
		if (handoff_keep_devices(j->ops->sr, e, j->ops->node, j->vmid, &list, err,
					 sizeof(err)) < 0)
			continue; /* QEMU names what is missing; Proxmox does nothing for keep */
		/* the devices the variant drives first: their groups may take the others */
		for (int pass = 0; pass < 2; pass++)
			for (int k = 0; k < list.n; k++)
				if ((r = keep_device(j, e, all, list.names[k], pass)) < 0)
					return r;
	}
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
	if (!strcmp(c.lock, "backup") && j->opts->backup_refuse) {
		ERR(j, "VM %d: a backup starts it (lock: backup) and [hook] backup = refuse: its "
		       "GPU stays on the host and this backup fails; to back it up, set backup = "
		       "handoff in [vm:%d] or exclude it from the job", j->vmid, j->vmid);
		return -EPERM;
	}
	{
		struct pve_busy inuse = { .fn = in_use, .data = j };
		struct pve_devlist all;
		int idx = 0;

		/* a mapping's pick and the locks of what it picked, one pre-start at a time */
		for (int i = 0; i < c.nhostpci && j->pickfd < 0; i++)
			if (c.hostpci[i].mapping[0] && (r = take_pick_lock(j)) < 0)
				return r;
		r = pve_vmconf_expand_busy(j->ops->sr, &c, j->ops->node, &inuse, &all, &idx, err,
					   sizeof(err));
		if (r < 0) { /* a VF of [sriov]'s PF not made yet: made, then again */
			int made = ho_sriov_make_vfs(j, &c);

			if (made < 0)
				return made;
			if (made > 0 && j->ops->dry_run) {
				INFO(j, "dry run: the VFs are not made, so their handoff is not planned");
				return 0;
			}
			if (made > 0)
				r = pve_vmconf_expand_busy(j->ops->sr, &c, j->ops->node, &inuse, &all,
							   &idx, err, sizeof(err));
		}
		if (r < 0) {
			ERR(j, "hostpci%d: %s", idx, err);
			return r;
		}
		for (int k = 0; k < all.n; k++)
			if ((r = add_group_of(j, all.names[k])) < 0)
				return r;
		if ((r = collect_variants(j, &c, &all)) < 0)
			return r;
	}
	return 0;
}

/* ---- groups at the same time ------------------------------------------------------------
 * A driver's unbind or probe can take seconds on a large card; groups are independent, so
 * each group's transition runs in its own thread (each wait with its own deadline), the
 * devices of one group one after the other as before. The log comes out group by group. */

struct unit *ho_unit_of(struct job *j, int group)
{
	for (int k = 0; k < j->nunits; k++)
		if (j->units[k].group == group)
			return &j->units[k];
	return NULL;
}

void ho_unit_add(struct job *j, int group, int i)
{
	struct unit *u = ho_unit_of(j, group);

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

int ho_run_units(struct job *j, int (*fn)(struct job *j, struct unit *u))
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
	for (int k = 0; k < NSTEPS && r == 0; k++)
		if (ho_steps[k]->check)
			r = ho_steps[k]->check(j);
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

/* Every row's records over what an earlier pre-start left, then the file. */
static int record_state(struct job *j)
{
	for (int k = 0; k < NSTEPS; k++) {
		int r = ho_steps[k]->save ? ho_steps[k]->save(j, &j->st) : 0;

		if (r < 0)
			return r;
	}
	if (j->ops->dry_run)
		return 0;
	return state_save(j->ops->sr, &j->st);
}

void ho_left_add(struct ho_left *l, int err, const char *fmt, ...)
{
	size_t off = strlen(l->text), size = sizeof(l->text);
	va_list ap;

	if (err < 0 && !l->first)
		l->first = err;
	if (off && off + 2 < size) {
		memcpy(l->text + off, "; ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(l->text + off, size - off, fmt, ap);
	va_end(ap);
}

/* Undoes rows LAST..0 (what prepare applied, the failed row's part too), in reverse order.
 * Returns 0 when the host is as it was before, else the -errno of the first thing that could
 * not be undone: one line then names what is still changed and the command that finishes the
 * job, and the state file stays (as this run wrote it) for that command. */
static int rollback(struct job *j, int last)
{
	struct ho_left left = { .first = 0 };
	int r;

	WARN(j, "undoing the handoff of VM %d", j->vmid);
	for (int k = last; k >= 0; k--)
		if (ho_steps[k]->undo)
			ho_steps[k]->undo(j, &left);
	if (j->ops->dry_run)
		return 0;
	if (left.first) {
		/* the state file this run wrote holds the originals: release finishes from it
		 * (with the stuck devices marked, when it can be written) */
		state_save(j->ops->sr, &j->st);
		ERR(j, "still changed: %s; when the device is free, finish with: "
		       "pve-gpu-passthrough release %d", left.text, j->vmid);
		return left.first;
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

int handoff_vm_load(const struct sysroot *sr, int vmid, struct pve_vmconf *c, char *err,
		    size_t errsize)
{
	return handoff_vm_load_from(sr, vmid, NULL, c, err, errsize);
}

int handoff_vm_load_from(const struct sysroot *sr, int vmid, const char *from,
			 struct pve_vmconf *c, char *err, size_t errsize)
{
	int line = 0, r = -ENOENT;

	if (from && *from)
		r = pve_vmconf_load_node(sr, vmid, from, c, &line, err, errsize);
	if (r == -ENOENT)
		r = pve_vmconf_load(sr, vmid, c, &line, err, errsize);
	if (r < 0)
		return r;
	for (int i = 0; i < c->nhostpci; i++)
		if (!c->hostpci[i].keep && !c->hostpci[i].mdev)
			return 1;
	/* driver=keep entries only: a variant VFIO driver may be asked for them */
	for (int i = 0; i < c->nhostpci; i++)
		if (!c->hostpci[i].mdev)
			return 2;
	return 0;
}

int handoff_vm_has_devices(const struct sysroot *sr, int vmid, char *err, size_t errsize)
{
	struct pve_vmconf c;
	int r = handoff_vm_load(sr, vmid, &c, err, errsize);

	return r == 2 ? 0 : r;
}

bool handoff_variant_asked(const struct cfg *cfg, int vmid)
{
	return cfg_vfio_variant(cfg_hook_opts(cfg, vmid)->vfio_driver) ||
	       (cfg->sriov.set && cfg_vfio_variant(cfg->sriov.driver));
}

int handoff_prepare(const struct handoff_ops *ops, int vmid)
{
	struct job *j = calloc(1, sizeof(*j));
	int k, r;

	if (ops->left_changed)
		*ops->left_changed = false;
	if (!j)
		return -ENOMEM;
	job_init(j, ops, vmid);
	ops = j->ops;
	if ((r = collect(j)) < 0 || j->nmem == 0)
		goto out;
	r = lock_all(j);
	if (j->pickfd >= 0) { /* what it picked is locked now: the next start picks another */
		close(j->pickfd);
		j->pickfd = -1;
	}
	if (r < 0)
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
	if ((r = record_state(j)) < 0) {
		ERR(j, "cannot write the state file: %s", strerror(-r));
		goto out;
	}
	for (k = 0; k < NSTEPS && r == 0; k++)
		if (ho_steps[k]->apply)
			r = ho_steps[k]->apply(j);
	if (r < 0 && rollback(j, k - 1) < 0 && ops->left_changed)
		*ops->left_changed = true;
out:
	if (j->pickfd >= 0)
		close(j->pickfd);
	unlock_all(j);
	free(j);
	return r;
}

/* ---- release ------------------------------------------------------------------------------ */

int handoff_drop_pf_ids(const struct handoff_ops *ops)
{
	struct job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	job_init(j, ops, 0);
	r = ho_sriov_drop_ids(j, NULL);
	free(j);
	return r;
}

bool ho_dev_present(const struct sysroot *sr, const char *name)
{
	char path[SR_PATH_MAX];

	return sysfs_pci_dev(path, name, NULL) == 0 && sr_exists(sr, path);
}

int handoff_release(const struct handoff_ops *ops, int vmid)
{
	struct job *j = calloc(1, sizeof(*j));
	struct ho_left left = { .first = 0 };
	struct handoff_state *s;
	bool stay;
	int r;

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
	j->prior = *s; /* as loaded: the rows after the bind's restore see every device */
	for (int i = 0; i < s->ndevs; i++)
		if ((r = lock_one(j, s->devs[i].name, true)) < 0)
			goto out;
	stay = !j->opts->return_on_stop;
	if (stay) {
		INFO(j, "return_on_stop = no: devices of VM %d stay on vfio-pci", vmid);
		/* they stay, by choice: nothing to give back, and no console comes back to them
		 * later (only a record that fails below keeps the file) */
		s->ndevs = s->nvtcons = s->nfbs = 0;
		s->con_mask = 0;
		s->con_home[0] = s->vgacon[0] = '\0';
	}
	for (int k = NSTEPS - 1; k >= 0; k--)
		if (ho_steps[k]->restore && (!stay || !ho_steps[k]->with_devices))
			ho_steps[k]->restore(j, s, &left);
	r = left.first;
	if (!ops->dry_run) {
		/* kept while anything in it is still to give back */
		bool keep = s->ndevs || s->nresets || s->persistenced || s->nrecs;
		int e = keep ? state_save(ops->sr, s) : state_remove(ops->sr, vmid);

		if (e < 0) {
			ERR(j, "cannot %s the state file %s/%d.state: %s", keep ? "update" : "remove",
			    STATE_DIR, vmid, strerror(-e));
			if (r == 0)
				r = e;
		}
	}
	if (r < 0 && left.text[0])
		ERR(j, "still changed: %s; when the device is free, finish with: "
		       "pve-gpu-passthrough release %d", left.text, vmid);
out:
	unlock_all(j);
	free(j);
	return r;
}
