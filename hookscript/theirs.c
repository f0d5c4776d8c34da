/* theirs.c - the VM's own hookscript (see theirs.h). It is found the way Proxmox finds a
 * hookscript (the volume's storage, its snippets directory, a regular executable file) and
 * run through spawn_run: no shell, nothing of ours inherited, stdin from /dev/null. No
 * deadline: Proxmox runs a hookscript without one, and a script that waits for something
 * (a storage, a license server) must behave under ours as it did before attach.
 * Below a root (tests) it is run only when PGP_TEST_VM_HOOKSCRIPT=run: a fake tree's
 * script is a test's; otherwise the command is printed, not run. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn.h"
#include "theirs.h"

int theirs_find(const struct sysroot *sr, int vmid, struct theirs *t)
{
	int r;

	r = hookrec_load(sr, vmid, t->volid, sizeof(t->volid));
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "pve-gpu-passthrough: VM %d: cannot read its own hookscript's record "
				"'%s/%d': %s; 'pve-gpu-passthrough check %d' says how to fix it\n", vmid,
			HOOKREC_DIR, vmid, r == -EBADMSG ? "not a record of ours" : strerror(-r),
			vmid);
		return -1;
	}
	r = pve_snippet_path(sr, t->volid, t->path);
	if (r < 0) {
		fprintf(stderr, "pve-gpu-passthrough: VM %d: its own hookscript '%s': %s\n", vmid,
			t->volid, r == -ENOENT ? "its storage is not in /etc/pve/storage.cfg"
					     : strerror(-r));
		return -1;
	}
	return 1;
}

int theirs_run(const struct sysroot *sr, const struct theirs *t, int vmid, const char *phase,
	       bool dry_run)
{
	char vmid_s[16], real[SR_PATH_MAX], exe[SR_PATH_MAX * 2];
	struct stat st;
	int fd, r;

	snprintf(vmid_s, sizeof(vmid_s), "%d", vmid);
	/* Proxmox's own check (GuestHelpers::check_hookscript): a file, executable. */
	fd = sr_openat(sr, t->path, O_PATH | O_CLOEXEC, 0);
	r = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (r == 0 && (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)))
		r = -ENOEXEC;
	if (r == 0)
		r = sr_realpath(sr, t->path, real);
	if (r < 0) {
		fprintf(stderr, "pve-gpu-passthrough: VM %d: its own hookscript '%s' (%s) %s; "
				"Proxmox would not start the VM with it either\n", vmid, t->volid,
			t->path, r == -ENOENT ? "does not exist"
				 : r == -ENOEXEC ? "is not an executable file" : strerror(-r));
		return 1;
	}
	snprintf(exe, sizeof(exe), "%s%s", sr_is_host(sr) ? "" : sr->dir, real);
	if (dry_run) {
		printf("pve-gpu-passthrough: would run the VM's own hookscript: %s %s %s\n", exe,
		       vmid_s, phase);
		return 0;
	}
	if (!sr_is_host(sr) && strcmp(getenv("PGP_TEST_VM_HOOKSCRIPT") ?: "", "run")) {
		printf("pve-gpu-passthrough: not run (the root is '%s', not this machine's /): %s %s "
		       "%s\n", sr->dir, exe, vmid_s, phase);
		return 0;
	}
	fflush(stdout);
	r = spawn_run(&(struct spawn_cmd){ .argv = (const char *const[]){ exe, vmid_s, phase, NULL },
					   .timeout_ms = SPAWN_NO_DEADLINE,
					   .out = SPAWN_INHERIT, .err = SPAWN_INHERIT }, NULL);
	if (r == 0)
		return 0;
	if (r < 0)
		fprintf(stderr, "pve-gpu-passthrough: VM %d: cannot run its own hookscript '%s': "
				"%s\n", vmid, t->volid, strerror(-r));
	else
		fprintf(stderr, "pve-gpu-passthrough: VM %d: its own hookscript '%s' failed at %s "
				"(exit status %d)\n", vmid, t->volid, phase, r);
	return 1;
}
