/* dev_ho.h - inside the handoff (dev_handoff.h): the job one run works on, and the table of
 * steps. Each thing the hook changes on the host and gives back is one row (struct ho_step) in
 * its own file (dev_ho_*.c), with the same operations:
 *
 *   check    reads only; may refuse (nothing has changed yet)
 *   apply    changes the host, recording in the job what it did
 *   undo     the rollback of apply (of whatever part of it was done)
 *   save     its records into the state file (over what an earlier pre-start left there)
 *   restore  post-stop, from the state file alone: gives back what it records; what cannot be
 *            given back stays in the state for the release that finishes
 *
 * handoff_prepare runs every check in table order, saves the state file, then every apply in
 * table order; on a failure the rows applied so far are undone in reverse order. handoff_release
 * runs every restore in reverse order. A row that goes with the devices (with_devices) is
 * skipped when return_on_stop = no keeps them on vfio-pci. A row leaves NULL each operation it
 * has nothing to do in (the runner skips it: a check or apply that passes, a save that adds
 * nothing). Not part of the library's API. */
#ifndef PGP_DEV_HO_H
#define PGP_DEV_HO_H

#include <stdbool.h>
#include <stdint.h>

#include "dev_bind.h"
#include "dev_console.h"
#include "dev_holders.h"
#include "dev_handoff.h"
#include "dev_quirks.h"
#include "dev_state.h"
#include "pci_dev.h"

#define MAX_MEMBERS STATE_MAX_DEVS
#define MAX_GROUPS 16
#define VFIO_DRIVER BIND_VFIO
#define HO_MAX_CTS 16

struct member {
	struct pci_dev_info info;
	/* the VFIO driver it goes to: "" vfio-pci, or the variant a driver=keep entry's device
	 * is asked and matched for (collect, ho_variant_target) */
	char target[PCIDEV_NAME_MAX];
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
	const struct hook_opts *opts;  /* VMID's own options ([vm:VMID], else [hook]) */
	int nmem;
	struct member mem[MAX_MEMBERS];
	int ngroups;
	int groups[MAX_GROUPS];
	int nunits;
	struct unit units[MAX_MEMBERS]; /* one per group, in the order groups were collected */
	int lockfds[MAX_MEMBERS];
	int nlocks;
	int pickfd; /* DEVLOCK_PICK while a mapping is picked and its devices locked, else -1 */
	struct handoff_state st;    /* the state file: prior content plus this run */
	struct handoff_state prior; /* the state file as an earlier pre-start left it (release: as
				    * loaded, before any row gave something back) */
	bool had_state;
	struct quirks_exec exec;    /* runs systemctl and nvidia-smi (dev_quirks.h) */
	/* the bind row (dev_ho_bind.c) */
	struct bind_dev bd[MAX_MEMBERS]; /* the members as the bind engine moves them */
	int failed; /* a group's handoff failed: the others stop at their next device (atomic) */
	int undo[MAX_MEMBERS];       /* rollback / release: each member's give-back result */
	enum bind_step undo_step[MAX_MEMBERS]; /* ... and the step that failed */
	bool undo_stuck[MAX_MEMBERS]; /* rollback: its unbind never returned, left alone */
	pid_t undo_pid[MAX_MEMBERS];  /* ... the process left blocked in it (0 unknown) */
	/* the console row (dev_ho_console.c) */
	struct console_plan con;
	int vt_done, fb_done; /* how many of con.vtcons / con.fbs were released */
	uint64_t con_moved;   /* the consoles of con.move_mask moved so far */
	char vgacon[PCI_ADDR_LEN]; /* the boot VGA device whose vgacon vfio-pci will remove */
	char other_fb[64];         /* another card's firmware framebuffer vfio-pci will remove */
	char other_fb_dev[PCI_ADDR_LEN];
	char fbs_before[CONSOLE_MAX][64]; /* the firmware framebuffers before apply */
	int nfbs_before;
	/* the nvidia-persistenced row (dev_ho_nvidia.c) */
	pid_t persistenced;        /* nvidia-persistenced's pid when an NVIDIA member is ours */
	bool stop_persistenced;    /* ... and nvidia_persistenced = stop: stopped for the handoff */
	bool persistenced_stopped; /* it was (the rollback starts it again) */
	/* the reset_method row (dev_ho_reset.c) */
	bool reset_plan[MAX_MEMBERS];     /* the member's reset_method is set for the VM */
	char reset_orig[MAX_MEMBERS][128]; /* ... and what it was */
	bool reset_done[MAX_MEMBERS];
	/* the containers row (dev_ho_containers.c) */
	int ncts;
	int cts[HO_MAX_CTS];              /* running containers using a member: shut down */
	char ct_devs[HO_MAX_CTS][64];     /* ... the members each uses, space-separated */
	bool ct_stopped[HO_MAX_CTS];      /* ... done (the rollback starts them again) */
};

/* What an undo or a restore could not give back: one "still changed" line, and the -errno of
 * the first failure. */
struct ho_left {
	char text[768];
	int first;
};
/* Appends "; ITEM" (or the first ITEM) to L's text; ERR (< 0) becomes L's first when it has
 * none. */
void ho_left_add(struct ho_left *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct ho_step {
	const char *name;
	/* each operation may be NULL: nothing to do there */
	int (*check)(struct job *j);
	int (*apply)(struct job *j);
	void (*undo)(struct job *j, struct ho_left *left);
	int (*save)(struct job *j, struct handoff_state *s); /* 0 or -errno */
	/* S->devs[0..S->ndevs) are the devices still held when it runs (the bind row, last in
	 * the table and so first at release, keeps there only those) */
	void (*restore)(struct job *j, struct handoff_state *s, struct ho_left *left);
	bool with_devices;
};

/* The rows, in table order (dev_handoff.c: ho_steps). */
extern const struct ho_step ho_step_nvidia, ho_step_reset, ho_step_console, ho_step_bind;
extern const struct ho_step ho_step_containers;

/* The containers row's part of the holders check (dev_ho_containers.c): drops from H the
 * holders that run in a container it shuts down; the new count. */
int ho_containers_filter(struct job *j, struct holder *h, int n);
extern const struct ho_step ho_step_health;
extern const struct ho_step ho_step_sriov;
/* The SR-IOV row's removal of vfio-pci's dynamic ids that match a PF with VFs (dev_ho_sriov.c);
 * what fails goes into LEFT when given. 0 or the first -errno. */
int ho_sriov_drop_ids(struct job *j, struct ho_left *left);
/* Pre-start, when C's devices do not all exist (dev_ho_sriov.c): an entry naming a VF of the
 * INI's [sriov] PF that is not made yet (the PF has fewer VFs than the INI asks) has the VFs
 * made by sriov_apply (deadline: bind_timeout; a PF without a driver is waited for as long,
 * then one error line and nothing written). 1 when they were made (a dry run: its writes
 * logged), 0 when no entry names such a VF (the PF is not read), -errno with one line. */
int ho_sriov_make_vfs(struct job *j, const struct pve_vmconf *c);

/* handoff_variant_of for device D of the job's VM (dev_ho_bind.c). */
const char *ho_variant_asked(struct job *j, const struct pci_dev_info *d, char *buf,
			     size_t size);

#define INFO(j, ...) handoff_logf((j)->ops, HO_INFO, __VA_ARGS__)
#define WARN(j, ...) handoff_logf((j)->ops, HO_WARN, __VA_ARGS__)
#define ERR(j, ...) handoff_logf((j)->ops, HO_ERROR, __VA_ARGS__)

static inline const char *or_none(const char *s)
{
	return *s ? s : "no driver";
}

/* Runs FN for every unit at the same time; 0, or the first unit's failure in unit order. One
 * unit runs in this thread and logs as it goes. */
int ho_run_units(struct job *j, int (*fn)(struct job *j, struct unit *u));
/* Adds device I (an index the unit's task understands) to GROUP's unit. */
void ho_unit_add(struct job *j, int group, int i);
struct unit *ho_unit_of(struct job *j, int group);
/* True when PCI device NAME is in sysfs now. */
bool ho_dev_present(const struct sysroot *sr, const char *name);

/* A device that a state file records as stuck (an unbind of it never returned): -EBUSY, said
 * in one line, while it still is (dev_ho_bind.c); collect calls it before reading the device. */
int ho_refuse_stuck(struct job *j, const char *name);
/* A device marked after a VM gave it back unhealthy (dev_health.h): -EBUSY, said in one line
 * with the fix; collect calls it before reading the device (dev_ho_health.c). */
int ho_refuse_marked(struct job *j, const char *name);

/* The console row's part of the bind (dev_ho_console.c): no firmware framebuffer may be left
 * in a BAR of U's devices (after their bind); the firmware framebuffers the kernel removed
 * while the devices moved are said (after every group). */
int ho_console_fb_left(struct job *j, const struct unit *u);
void ho_console_report_removed(struct job *j);

#endif
