/* dev_holders.h - which processes hold given device nodes open (/proc/PID/fd/N links): the GPU's
 * /dev/dri and /dev/nvidia nodes before a handoff, /dev/vfio/N (QEMU) before giving back. */
#ifndef PGP_DEV_HOLDERS_H
#define PGP_DEV_HOLDERS_H

#include <sys/types.h>

#include "sysroot.h"

struct holder {
	pid_t pid;
	char comm[32];
	char path[64]; /* the node it holds */
};

#define HOLDERS_MAX_PATHS 256

/* Scans every process below the root (except the caller) for open fds whose link target is
 * one of PATHS (at most HOLDERS_MAX_PATHS). Fills at most MAX entries (one per pid and path);
 * returns the count or -errno. Only the paths that exist are looked for: when none does,
 * /proc is not read at all. The cost is one directory read per process and one readlinkat
 * per fd. */
int holders_find(const struct sysroot *sr, const char *const *paths, int npaths,
		 struct holder *out, int max);
/* Formats holders as "1234 (Xorg), 99 (kodi)" into buf. */
void holders_format(const struct holder *h, int n, char *buf, size_t size);

/* The VFIO device node of PCI device NAME on vfio-pci (a kernel with CONFIG_VFIO_DEVICE_CDEV):
 * "/dev/vfio/devices/vfioN" from its vfio-dev/vfioN in sysfs, which a QEMU using iommufd
 * holds instead of /dev/vfio/GROUP. 0, -ENOENT when it has none, -errno. */
int holders_vfio_cdev(const struct sysroot *sr, const char *name, char *out, size_t size);
/* The start time of process PID (field 22 of /proc/PID/stat, clock ticks since boot): with the
 * pid it names one process for good (a pid is reused, never with the same start). 0, -ENOENT
 * when there is no such process, -errno. */
int holders_proc_start(const struct sysroot *sr, pid_t pid, unsigned long long *start);

#endif
