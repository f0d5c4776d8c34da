/* host_info.h - facts about the host that decide whether passthrough can work, read below the
 * root: CPU vendor (/proc/cpuinfo), kernel release and command line (/proc), IOMMU
 * (/sys/kernel/iommu_groups, /sys/class/iommu, ACPI DMAR/IVRS), interrupt remapping
 * (/proc/interrupts "IR-" chips), the vfio modules (libkmod on /lib/modules/RELEASE), and the
 * kernel command line's parameter syntax. The boot loader's configuration: host_boot.h.
 * Library code: returns 0 or -errno, never prints. */
#ifndef PGP_HOST_INFO_H
#define PGP_HOST_INFO_H

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

#define HI_CMDLINE_MAX 4096

enum cpu_vendor { CPU_OTHER = 0, CPU_INTEL, CPU_AMD };

struct hostinfo {
	enum cpu_vendor cpu;
	char cpu_vendor_id[32];     /* "GenuineIntel", "AuthenticAMD"; "" unknown */
	char cpu_model[128];        /* "model name", "" unknown */
	char release[128];          /* /proc/sys/kernel/osrelease, "" unknown */
	char cmdline[HI_CMDLINE_MAX]; /* /proc/cmdline */
	bool cmdline_known;
	int iommu_groups;           /* entries of /sys/kernel/iommu_groups (0 when absent) */
	int iommu_units;            /* entries of /sys/class/iommu */
	char iommu_unit[32];        /* the first one by name ("dmar0", "ivhd0"), "" none */
	bool acpi_tables;           /* /sys/firmware/acpi/tables exists (otherwise: cannot tell) */
	bool dmar, ivrs;            /* the ACPI table is present */
	int dmar_flags;             /* DMAR flags byte (bit 0 INTR_REMAP, bit 1 X2APIC_OPT_OUT);
				     * -1 when unreadable */
	int intremap;               /* 1: "IR-" irq chips in /proc/interrupts, 0: none,
				     * -errno: unreadable */
	int unsafe_interrupts;      /* vfio_iommu_type1 allow_unsafe_interrupts: 1 on, 0 off,
				     * -1 not loaded and not on the command line */
	bool efi;                   /* booted through UEFI (/sys/firmware/efi) */
};

#define DMAR_INTR_REMAP 0x1
#define DMAR_X2APIC_OPT_OUT 0x2

/* Reads everything above; unreadable parts are left "unknown" as documented. 0 or -errno
 * (only for errors that are not "this file is not there"). */
int hostinfo_read(const struct sysroot *sr, struct hostinfo *ret);
const char *cpu_vendor_name(enum cpu_vendor v); /* "Intel", "AMD", "other" */

/* One parameter of a command line ("key=value", "key", quotes group: key="a b"). */
struct cmdline_param {
	const char *start;
	size_t len;     /* whole token */
	size_t keylen;  /* up to '=' or the end */
};
/* The next parameter of *P into *T, *P advanced past it; false at the end. */
bool cmdline_next(const char **p, struct cmdline_param *t);
/* Parameter keys compare with '-' and '_' equal, as the kernel does. */
bool cmdline_key_eq(const char *a, size_t alen, const char *b, size_t blen);

/* Kernel command line parameters. Keys compare with '-' and '_' equal, as the kernel does.
 * True when CMDLINE has KEY (with or without a value). */
bool cmdline_has(const char *cmdline, const char *key);
/* True when CMDLINE has KEY=VALUE, or KEY=a,VALUE,b (comma lists, as intel_iommu=on,sm_on). */
bool cmdline_has_value(const char *cmdline, const char *key, const char *value);

/* A vfio module: available as a module file or built in, and loaded. */
struct hostmod {
	const char *name;  /* "vfio_pci" */
	int avail;         /* HOSTMOD_* or -errno */
	bool loaded;       /* /sys/module/NAME (or, for vfio_pci, the vfio-pci driver) exists */
};
enum { HOSTMOD_MISSING = 0, HOSTMOD_MODULE = 1, HOSTMOD_BUILTIN = 2 };

/* Looks up N module NAMES with libkmod in /lib/modules/RELEASE below the root. -ENOENT when
 * that directory does not exist (then nothing is filled in). */
int hostinfo_modules(const struct sysroot *sr, const char *release, const char *const *names,
		     int n, struct hostmod *ret);

/* The newest modification time of PATH below the root in *ret (seconds); -errno. */
int hostinfo_mtime(const struct sysroot *sr, const char *path, long long *ret);
/* The line (from 1) of the modules-load.d(5) file PATH (/etc/modules) that names MODULE ('-'
 * and '_' equal); 0 when none names it or the file cannot be read. */
int hostinfo_modules_file_line(const struct sysroot *sr, const char *path, const char *module);

#endif
