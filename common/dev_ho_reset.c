/* dev_ho_reset.c - the reset_method row of the handoff (dev_ho.h): [vm:N] reset_method sets each
 * display member's reset_method for the VM (before the bind: vfio-pci resets the card on
 * first use); what it was is recorded ("reset NAME METHOD") and put back after the VM. */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* [vm:N] reset_method: each display member's attribute must exist; what it is now is kept for
 * the state file. */
static int reset_check(struct job *j)
{
	const char *want = j->opts->reset_method;

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

static int reset_apply(struct job *j)
{
	const char *want = j->opts->reset_method;

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

/* Puts back reset_method ORIG of NAME (after the VM, or in a rollback): 0, or -errno (said). */
static int restore_reset(struct job *j, const char *name, const char *orig)
{
	int r = quirks_reset_method_write(j->ops->sr, name, orig);

	if (r < 0)
		ERR(j, "%s: cannot restore reset_method '%s': %s", name, orig, strerror(-r));
	else if (r > 0 && !j->ops->dry_run)
		INFO(j, "%s: reset_method restored (%s)", name, *orig ? orig : "off");
	return r < 0 ? r : 0;
}

static void reset_undo(struct job *j, struct ho_left *left)
{
	for (int i = j->nmem - 1; i >= 0; i--) {
		int r;

		if (!j->reset_done[i] ||
		    (r = restore_reset(j, j->mem[i].info.name, j->reset_orig[i])) == 0)
			continue;
		ho_left_add(left, r, "%s: reset_method is not '%s' again", j->mem[i].info.name,
			    j->reset_orig[i]);
	}
}

static int reset_save(struct job *j, struct handoff_state *s)
{
	for (int i = 0; i < j->nmem; i++) {
		bool known = false;

		if (!j->reset_plan[i])
			continue;
		for (int k = 0; k < s->nresets && !known; k++)
			known = !strcmp(s->resets[k].name, j->mem[i].info.name);
		if (known || s->nresets >= STATE_MAX_DEVS)
			continue; /* an earlier pre-start's original is the true one */
		_Static_assert(sizeof(s->resets[0].name) >= sizeof(j->mem[i].info.name) &&
				       sizeof(s->resets[0].method) >= sizeof(j->reset_orig[i]),
			       "state resets too short");
		strcpy(s->resets[s->nresets].name, j->mem[i].info.name);
		strcpy(s->resets[s->nresets].method, j->reset_orig[i]);
		s->nresets++;
	}
	return 0;
}

/* reset_method back on every recorded device but those still held: those and the ones that
 * fail keep their records. */
static void reset_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	int nres = 0;

	for (int k = 0; k < s->nresets; k++) {
		bool held = false;
		int r = 0;

		for (int i = 0; i < s->ndevs && !held; i++)
			held = !strcmp(s->devs[i].name, s->resets[k].name);
		if (!held && ho_dev_present(j->ops->sr, s->resets[k].name))
			r = restore_reset(j, s->resets[k].name, s->resets[k].method);
		if (r < 0)
			ho_left_add(left, r, "%s: reset_method is not '%s' again",
				    s->resets[k].name, s->resets[k].method);
		if (held || r < 0)
			s->resets[nres++] = s->resets[k];
	}
	s->nresets = nres;
}

const struct ho_step ho_step_reset = {
	.name = "reset_method",
	.check = reset_check,
	.apply = reset_apply,
	.undo = reset_undo,
	.save = reset_save,
	.restore = reset_restore,
};
