/* theirs.h - the VM's own hookscript, kept by `attach` (pve_hookrec.h) and run by ours in
 * every phase (order and failure rules: pve-gpu-passthrough-hook(8), "The VM's own
 * hookscript"). */
#ifndef PGP_HOOK_THEIRS_H
#define PGP_HOOK_THEIRS_H

#include <stdbool.h>

#include "pve_hookrec.h"
#include "sysroot.h"

struct theirs {
	char volid[VOLID_MAX];
	char path[SR_PATH_MAX]; /* in the root */
};

/* Finds VM VMID's own hookscript: 1 (T filled), 0 (none recorded), or -1 (a record we cannot
 * follow: named on stderr, in one line). */
int theirs_find(const struct sysroot *sr, int vmid, struct theirs *t);
/* Runs it as Proxmox would (PATH VMID PHASE, our environment, no deadline, its output in the
 * task log); DRY_RUN prints it instead. Returns 0, or 1 after naming its failure in one line. */
int theirs_run(const struct sysroot *sr, const struct theirs *t, int vmid, const char *phase,
	       bool dry_run);

#endif
