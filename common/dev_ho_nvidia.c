/* dev_ho_nvidia.c - the nvidia-persistenced row of the handoff (dev_ho.h): the nvidia driver
 * does not let go of a card kept initialised by nvidia-persistenced or by persistence mode.
 * The check refuses that (or, with nvidia_persistenced = stop, plans to stop the daemon);
 * apply stops it (systemctl, fixed arguments) and records "persistenced 1"; it is started
 * again after the VM. */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* The nvidia driver's unbind hangs or fails ("non-zero usage count") while the card is kept
 * initialised without an open file: by nvidia-persistenced, or by persistence mode. */
static int nvidia_check(struct job *j)
{
	const struct hook_opts *o = j->opts;
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

/* systemctl stop, then wait (with the unbind deadline) until the daemon has gone. */
static int nvidia_apply(struct job *j)
{
	uint64_t deadline = now_ms() + j->opts->unbind_timeout_ms;
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

/* 0, or -errno when it could not be started again (said). */
static int start_persistenced(struct job *j)
{
	int r;

	if (j->ops->dry_run) {
		INFO(j, "would run systemctl start " QUIRKS_PERSISTENCED_UNIT);
		return 0;
	}
	r = quirks_persistenced(&j->exec, true);
	if (r < 0)
		ERR(j, "cannot start nvidia-persistenced again (systemctl start "
		       QUIRKS_PERSISTENCED_UNIT "): %s", strerror(-r));
	else
		INFO(j, "nvidia-persistenced started again");
	return r < 0 ? r : 0;
}

static void nvidia_undo(struct job *j, struct ho_left *left)
{
	int r;

	if (j->persistenced_stopped && (r = start_persistenced(j)) < 0)
		ho_left_add(left, r, "nvidia-persistenced is stopped");
}

static int nvidia_save(struct job *j, struct handoff_state *s)
{
	if (j->stop_persistenced)
		s->persistenced = true;
	return 0;
}

/* Started again with the last device given back; its record stays when that fails. */
static void nvidia_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	int r;

	if (s->ndevs || !s->persistenced)
		return;
	r = start_persistenced(j);
	if (r < 0)
		ho_left_add(left, r, "nvidia-persistenced is stopped");
	else
		s->persistenced = false;
}

const struct ho_step ho_step_nvidia = {
	.name = "nvidia-persistenced",
	.check = nvidia_check,
	.apply = nvidia_apply,
	.undo = nvidia_undo,
	.save = nvidia_save,
	.restore = nvidia_restore,
};
