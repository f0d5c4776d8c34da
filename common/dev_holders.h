/* dev_holders.h - which processes hold given device nodes open (/proc/PID/fd/N links): the GPU's
 * /dev/dri and /dev/nvidia nodes before a handoff, /dev/vfio/N (QEMU) before giving back. */
#ifndef PGP_HOLDERS_H
#define PGP_HOLDERS_H

#include <sys/types.h>

#include "sysroot.h"

struct holder {
	pid_t pid;
	char comm[32];
	char path[64]; /* the node it holds */
};

/* Scans every process below the root (except the caller) for open fds whose link target is
 * one of PATHS. Fills at most MAX entries (one per pid and path); returns the count or -errno. */
int holders_find(const struct sysroot *sr, const char *const *paths, int npaths,
		 struct holder *out, int max);
/* Formats holders as "1234 (Xorg), 99 (kodi)" into buf. */
void holders_format(const struct holder *h, int n, char *buf, size_t size);

#endif
