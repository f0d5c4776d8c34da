/* dev_ho_console.c - the console row of the handoff (dev_ho.h): the host console off the GPU
 * before the bind (fbcon vtconsoles unbound, firmware framebuffers released, consoles moved to
 * another card's framebuffer; console.h plans which) and back after the VM, with the last
 * device. Records: "vtcon N", "fb NAME DRIVER", the consoles moved and the vgacon lost. */
#define _GNU_SOURCE
#include "dev_ho.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host_iomem.h"
#include "util.h"

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

static int console_check(struct job *j)
{
	struct pci_dev_info infos[MAX_MEMBERS];
	int r;

	for (int i = 0; i < j->nmem; i++)
		infos[i] = j->mem[i].info;
	r = console_plan(j->ops->sr, infos, j->nmem, &j->con);
	plan_vgacon(j, infos);
	if (r < 0)
		ERR(j, "cannot read the console state: %s", strerror(-r));
	return r;
}

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

static int console_apply(struct job *j)
{
	j->nfbs_before = console_fw_fbs(j->ops->sr, j->fbs_before, CONSOLE_MAX);
	if (j->other_fb[0] && !j->ops->dry_run)
		WARN(j, "%s: " CONSOLE_OTHER_FB_LOST_MSG, j->other_fb_dev, j->other_fb);
	return release_consoles(j);
}

/* After the bind: no firmware framebuffer may be left in a BAR that QEMU will map. A
 * simple-framebuffer device (Proxmox's kernels) owns its region itself; vfio-pci removes it
 * for a VGA-class GPU, but not for a 3D or "other" display controller. */
int ho_console_fb_left(struct job *j, const struct unit *u)
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

/* Firmware framebuffers that the kernel removed while the devices moved, other than the ones
 * the hook released itself (post-stop speaks of those): said now, they cannot come back. */
void ho_console_report_removed(struct job *j)
{
	char now[CONSOLE_MAX][64];
	int n = console_fw_fbs(j->ops->sr, now, CONSOLE_MAX);

	for (int i = 0; i < j->nfbs_before && !j->ops->dry_run; i++) {
		bool here = false, ours = false;

		for (int k = 0; k < n && !here; k++)
			here = !strcmp(now[k], j->fbs_before[i]);
		for (int k = 0; k < j->con.nfbs && !ours; k++)
			ours = !strcmp(j->con.fbs[k], j->fbs_before[i]);
		if (!here && !ours)
			WARN(j, "firmware framebuffer %s was removed by the kernel when vfio-pci took "
				"the devices; it and the console on it come back only at the next boot",
			     j->fbs_before[i]);
	}
}

/* Moves the consoles in MASK back onto HOME's framebuffer once its driver has registered
 * one again (the kernel may have done it already: a primary card takes the consoles back). */
static void restore_con2fb(struct job *j, const char *home, uint64_t mask)
{
	uint64_t deadline = now_ms() + j->opts->bind_timeout_ms, done;
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
				"(its driver brings none back)", ttys, home, j->opts->bind_timeout_ms);
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

/* Rebinds the framebuffers and consoles S records, last first. Returns 0, or the -errno of the
 * first framebuffer or console that could not be rebound (each is warned about). */
static int restore_consoles(struct job *j, const struct handoff_state *s)
{
	int first = 0;

	restore_con2fb(j, s->con_home, s->con_mask);
	for (int i = s->nfbs - 1; i >= 0; i--) {
		const char *fb = s->fbs[i];
		int r = console_fb_bind(j->ops->sr, fb, s->fb_drivers[i]);

		if (j->ops->dry_run && r >= 0)
			continue; /* a dry run said what it would write */
		if (r < 0 && !first)
			first = r;
		if (r < 0)
			WARN(j, "cannot rebind firmware framebuffer %s: %s", fb, strerror(-r));
		else if (r > 0)
			INFO(j, "firmware framebuffer %s was removed by the kernel when vfio-pci took "
				"the GPU; it comes back only at the next boot (the GPU's own driver can "
				"carry the console)", fb);
		else
			INFO(j, "firmware framebuffer %s restored", fb);
	}
	for (int i = s->nvtcons - 1; i >= 0; i--) {
		int vt = s->vtcons[i], r = console_vtcon_bind(j->ops->sr, vt, true);

		if (j->ops->dry_run && r >= 0)
			continue;
		if (r == -ENOENT)
			INFO(j, "vtcon%d is gone: no framebuffer is left to carry a console", vt);
		else if (r < 0)
			WARN(j, "cannot rebind console vtcon%d: %s", vt, strerror(-r));
		else
			INFO(j, "vtcon%d (framebuffer console) restored", vt);
		if (r < 0 && r != -ENOENT && !first)
			first = r;
	}
	return first;
}

/* Adds the first NVT of the planned vtcons and NFB of its framebuffers to S's records. */
static void console_records(const struct job *j, struct handoff_state *s, int nvt, int nfb)
{
	for (int i = 0; i < nvt && s->nvtcons < STATE_MAX_CONS; i++)
		s->vtcons[s->nvtcons++] = j->con.vtcons[i];
	_Static_assert(sizeof(s->fbs[0]) >= sizeof(j->con.fbs[0]), "state fbs too short");
	_Static_assert(sizeof(s->fb_drivers[0]) >= sizeof(j->con.fb_drivers[0]),
		       "state fb_drivers too short");
	for (int i = 0; i < nfb && s->nfbs < STATE_MAX_CONS; i++) {
		strcpy(s->fbs[s->nfbs], j->con.fbs[i]);
		strcpy(s->fb_drivers[s->nfbs], j->con.fb_drivers[i]);
		s->nfbs++;
	}
}

/* The records of what this job has released so far (into S, empty). */
static void console_done(const struct job *j, struct handoff_state *s)
{
	console_records(j, s, j->vt_done, j->fb_done);
	str_copy(s->con_home, sizeof(s->con_home), j->con.move_from);
	s->con_mask = j->con_moved;
}

static void console_undo(struct job *j, struct ho_left *left)
{
	struct handoff_state *done = calloc(1, sizeof(*done));
	int r;

	if (!done) {
		ho_left_add(left, -ENOMEM, "a framebuffer or console (out of memory)");
		return;
	}
	console_done(j, done);
	r = restore_consoles(j, done);
	free(done);
	if (r < 0)
		ho_left_add(left, r, "a framebuffer or console (above)");
}

static int console_save(struct job *j, struct handoff_state *s)
{
	console_records(j, s, j->con.nvtcons, j->con.nfbs);
	if (j->vgacon[0] && !s->vgacon[0])
		str_copy(s->vgacon, sizeof(s->vgacon), j->vgacon);
	if (j->con.move_mask && !s->con_mask) {
		str_copy(s->con_home, sizeof(s->con_home), j->con.move_from);
		s->con_mask = j->con.move_mask;
	}
	return 0;
}

/* The console comes back with the last device: while a device is still held, the state file
 * keeps the consoles for the later release. Once rebound they leave the state file. */
static void console_restore(struct job *j, struct handoff_state *s, struct ho_left *left)
{
	(void)left; /* a console that cannot be rebound is warned about, nothing more */
	if (s->ndevs)
		return;
	restore_consoles(j, s);
	if (s->vgacon[0] && !j->ops->dry_run)
		INFO(j, "%s: the VGA text console (vgacon) that vfio-pci removed at pre-start "
			"comes back only at the next boot", s->vgacon);
	s->nfbs = s->nvtcons = 0;
	s->con_mask = 0;
	s->con_home[0] = s->vgacon[0] = '\0';
}

const struct ho_step ho_step_console = {
	.name = "console",
	.check = console_check,
	.apply = console_apply,
	.undo = console_undo,
	.save = console_save,
	.restore = console_restore,
	.with_devices = true,
};
