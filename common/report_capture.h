/* report_capture.h - a snapshot of what `list`, `check` and the hookscript read on a host,
 * written as a fake host tree spec (tests/fixture/fakesys.h), so that a bug report replays unchanged:
 * `fakesys ROOT REPORT` rebuilds the tree and `pve-gpu-passthrough --sysroot ROOT ...` prints
 * what it printed on the host.
 *
 * What is captured is an allowed list (report_capture.c: the table `captures[]`, one line per path
 * pattern, plus a few captures derived from what those files name: the VMs' hookscripts and
 * ROM files, udev data of block devices, /dev paths of mounts and swaps, pci.ids names, the
 * kernel's vfio modules). Privacy by the same list: VM configs keep only the keys the checks
 * read (args only as "yes"), storage.cfg and the PCI mappings only what the checks read, udev
 * data only ID_FS_TYPE and ID_FS_LABEL; node names become "pve", "node2", ...; MAC addresses
 * 02:00:00:00:00:01, ...; network mount sources and gateways are dropped; addresses and host
 * names in the kernel command line, the boot loader files and modprobe.d are replaced, and
 * modprobe.d's commands; mount points and swap files the admin named become /redacted/N.
 *
 * Rules: reads only (never writes below the root, never enables a ROM); every read bounded;
 * library code: returns -errno, prints nothing but the report itself into OUT. */
#ifndef PGP_REPORT_CAPTURE_H
#define PGP_REPORT_CAPTURE_H

#include <stdio.h>

#include "sysroot.h"

#define REPORT_FORMAT 1

struct report_opts {
	const char *node;    /* this host's Proxmox node name (NULL: from uname) */
	const char *version; /* the program's version, for the header */
};

struct report_stats {
	int files, links, dirs, modules; /* lines written, by kind */
	int vms;                         /* VM configs captured */
	int skipped;                     /* paths that a spec line cannot name (blanks in them) */
};

/* Writes the report of the host below SR into OUT. Returns 0 (with *st filled when given) or
 * -errno (-ENOMEM; a file that cannot be read is captured as an empty file, not an error). */
int report_write(const struct sysroot *sr, const struct report_opts *o, FILE *out,
		 struct report_stats *st);


#endif
