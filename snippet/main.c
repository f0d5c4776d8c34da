/* main.c - the snippet `pve-gpu-passthrough attach` copies into a storage's snippets directory
 * (STORAGE:snippets/pve-gpu-passthrough-hook) as the VM's hookscript.
 *
 * Proxmox refuses to start a VM whose hookscript volume is missing or not executable, so what
 * the VM names must never depend on our package being installed on the node it starts on (a
 * restore, a migration, a failover). This program is a plain file there, linked statically:
 * it runs on any node. When the package is installed it becomes the installed hook (execv:
 * the same argv and environment, so the hook's exit status is Proxmox's answer); when it is not,
 * it says so in one line of the task log and exits 0, and the start goes on with Proxmox
 * binding the devices itself. Nothing else: no library of ours, no configuration read.
 * The marker below lets attach, the package's postinst and postrm tell a copy of this
 * program from an admin's file of the same name. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef SNIPPET_HOOK
#define SNIPPET_HOOK "/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-hook"
#endif

#include "pve_hookrec.h" /* SNIPPET_MARKER only: nothing of common/ is linked */

/* Searched for as a whole in the file by attach, the package's postinst and postrm. */
__attribute__((used)) static const char marker[] = SNIPPET_MARKER;

int main(int argc, char **argv)
{
	const char *hook = SNIPPET_HOOK;
	struct utsname u;
	char *dot;

	(void)argc;
#ifdef SNIPPET_TEST
	/* The test build only (tests/attach): the installed hook's path from the environment. */
	if (getenv("PGP_TEST_SNIPPET_HOOK"))
		hook = getenv("PGP_TEST_SNIPPET_HOOK");
#endif
	argv[0] = (char *)hook;
	execv(hook, argv);
	if (errno != ENOENT && errno != ENOTDIR) {
		/* There but not runnable: a broken install; still never block the start. */
		printf("pve-gpu-passthrough: cannot run %s (%s): GPU handoff skipped, Proxmox binds "
		       "the devices itself\n", hook, strerror(errno));
		return 0;
	}
	if (uname(&u) < 0)
		strcpy(u.nodename, "?");
	dot = strchr(u.nodename, '.');
	if (dot)
		*dot = '\0';
	printf("pve-gpu-passthrough is not installed on node %s: GPU handoff skipped, Proxmox "
	       "binds the devices itself\n", u.nodename);
	return 0;
}
