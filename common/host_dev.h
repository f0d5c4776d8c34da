/* host_dev.h - which PCI functions the host cannot give away: the ones that back a mounted
 * filesystem (through partitions, device-mapper/LVM, md and ZFS pools), hold active swap, or
 * carry a default route (through bridges, bonds and VLANs). The CLI's `check` and the
 * hookscript's refusals share this.
 *
 * A block device or network interface belongs to the PCI function that is the last PCI address
 * in its resolved sysfs path (/sys/dev/block/MAJ:MIN, /sys/class/net/IF): a disk behind a bridge
 * belongs to its controller, not to the bridge above it.
 *
 * What is read, once per hostdev_scan():
 *   /proc/self/mountinfo            mounted filesystems (required)
 *   /proc/swaps                     active swap (absent: no swap)
 *   /proc/net/route, ipv6_route     default routes (absent: none)
 *   /sys/dev/block, /sys/class/block/NAME/slaves, /sys/class/net/IF/lower_*
 *   /run/udev/data/bMAJ:MIN         only for ZFS: which partitions are members of a pool
 */
#ifndef PGP_HOST_DEV_H
#define PGP_HOST_DEV_H

#include <stddef.h>

#include "sysroot.h"

struct hostdev;

/* Reads everything above below the root and records every critical PCI function with a
 * reason. Returns 0 with *ret set (free with hostdev_free), or -errno (-ENOENT when
 * /proc/self/mountinfo cannot be read: without it nothing can be said). */
int hostdev_scan(const struct sysroot *sr, struct hostdev **ret);
/* Accepts NULL; returns NULL. */
struct hostdev *hostdev_free(struct hostdev *h);

/* 1 when PCI_NAME ("0000:00:1f.2") is host-critical, with the first reason written into WHY
 * (e.g. "backs / (sda3)", "holds active swap (sda2)", "carries the default route (vmbr0 via
 * eno1)", with ", and N more" when there are several); 0 when it is not. WHY may be NULL. */
int hostdev_is_critical(const struct hostdev *h, const char *pci_name, char *why, size_t whysize);

/* Every recorded (device, reason) pair, in the order found: "/" first, then other mounts,
 * swap, routes. A device can appear several times. */
int hostdev_count(const struct hostdev *h);
const char *hostdev_device(const struct hostdev *h, int i);
const char *hostdev_reason(const struct hostdev *h, int i);

/* The parsers below work on a buffer (for tests and fuzzing); hostdev_scan reads the files. */
struct hostdev_mount {
	unsigned maj, min;
	char *point, *fstype, *source; /* into the text, octal escapes undone */
};
/* Splits /proc/self/mountinfo TEXT in place ("ID PARENT MAJ:MIN ROOT POINT OPTS [OPT...] -
 * TYPE SOURCE SOPTS" a line); lines that do not parse are skipped. *ret is malloc'd (free
 * it) and points into TEXT. */
int hostdev_parse_mountinfo(char *text, struct hostdev_mount **ret, int *ret_n);
/* The interfaces carrying a default route in /proc/net/route text V4 and
 * /proc/net/ipv6_route text V6 (either may be NULL; both are split in place), each once, at
 * most MAX, into IFS. Returns the count. */
int hostdev_parse_routes(char *v4, char *v6, char (*ifs)[32], int max);

/* One-shot form of hostdev_scan + hostdev_is_critical: 1, 0 or -errno. */
int hostdev_critical(const struct sysroot *sr, const char *pci_name, char *why, size_t whysize);

#endif
