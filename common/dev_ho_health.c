/* dev_ho_health.c - the health row of the handoff (dev_ho.h): after post-stop (or a
 * reconcile, or release) gave the devices back, each one is read again (dev_health.h); one
 * that did not come back (its config space unreadable or 0xffff, its driver not back) is
 * marked until the host reboots, and pre-start refuses a marked device at collect, before
 * it reads or changes anything (ho_refuse_marked). It changes nothing on the devices: its
 * row is first in the table, so at release it runs last, after the bind row gave them back.
 * The mark does not make post-stop fail (what was given back is back); a device its driver
 * did not take back fails post-stop already, in the bind row. */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <string.h>

#include "dev_health.h"
#include "util.h"

int ho_refuse_marked(struct job *j, const char *name)
{
	struct health_mark m;
	char fix[512];
	int r = health_mark_load(j->ops->sr, name, &m);

	if (r == 0)
		return 0;
	if (r < 0) {
		ERR(j, "refusing: %s: its health mark %s/%s cannot be used (%s); remove it once the "
		       "device is known to work", name, HEALTH_DIR, name, health_mark_error(r));
		return r == -EINVAL ? -EBUSY : r;
	}
	health_fix(name, &m, fix, sizeof(fix));
	ERR(j, "refusing: %s (%04x:%04x) did not come back after VM %d stopped (%s); it is marked "
	       "until the host reboots: %s", name, m.vendor, m.device, m.vmid,
	    health_fault_text(m.fault), fix);
	return -EBUSY;
}

/* A device of the state file as loaded (j->prior) that is still held now: its group still
 * open, or its unbind stuck; such a device is not read. */
static bool left_alone(struct job *j, const struct handoff_state *s, const char *name)
{
	const struct state_dev *d = state_find(s, name);
	const struct unit *u;

	if (!d)
		return false;
	u = ho_unit_of(j, d->group);
	return d->stuck || !u || u->busy;
}

/* Every device the release handled, read again; a bad one is marked (a WARN line each). */
static void health_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	char boot[HEALTH_BOOT_MAX];

	(void)left; /* a mark is not a failure of the give-back */
	health_boot_id(j->ops->sr, boot, sizeof(boot));
	for (int i = 0; i < j->prior.ndevs; i++) {
		const struct state_dev *d = &j->prior.devs[i];
		struct health_mark m = { .vmid = j->vmid, .vendor = d->vendor, .device = d->device };
		char fix[512];
		int f, r;

		if (d->was_vfio || left_alone(j, s, d->name) || !ho_dev_present(j->ops->sr, d->name))
			continue;
		f = health_probe(j->ops->sr, d->name, d->driver);
		if (f <= HEALTH_OK)
			continue; /* healthy, or gone */
		m.fault = (enum health_fault)f;
		str_copy(m.boot, sizeof(m.boot), boot);
		str_copy(m.driver, sizeof(m.driver), d->driver);
		if (j->ops->dry_run) {
			INFO(j, "would mark %s: %s", d->name, health_fault_text(m.fault));
			continue;
		}
		health_fix(d->name, &m, fix, sizeof(fix));
		r = health_mark_save(j->ops->sr, d->name, &m);
		if (r < 0)
			ERR(j, "%s did not come back after VM %d (%s), and its mark cannot be written "
			       "(%s): a start would use it as it is; fix: %s", d->name, j->vmid,
			    health_fault_text(m.fault), strerror(-r), fix);
		else
			WARN(j, "%s did not come back after VM %d (%s): marked until the host reboots, "
				"no VM start takes it; fix: %s", d->name, j->vmid,
			     health_fault_text(m.fault), fix);
	}
}

const struct ho_step ho_step_health = {
	.name = "health",
	/* no check (the refusal comes earlier, at collect: ho_refuse_marked), and nothing to
	 * apply, undo or save */
	.restore = health_restore,
	.with_devices = true,
};
