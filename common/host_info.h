/* host_info.h - facts about the host that decide whether passthrough can work, read below the
 * root: CPU vendor (/proc/cpuinfo), kernel release and command line (/proc), IOMMU
 * (/sys/kernel/iommu_groups, /sys/class/iommu, ACPI DMAR/IVRS), interrupt remapping
 * (/proc/interrupts "IR-" chips), the vfio modules (libkmod on /lib/modules/RELEASE), and the
 * boot loader that owns the kernel command line (GRUB or systemd-boot through
 * proxmox-boot-tool) with the exact file and line, and how to rewrite it.
 * Library code: returns 0 or -errno, never prints. */
#ifndef PGP_HOSTINFO_H
#define PGP_HOSTINFO_H

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

enum boot_kind { BOOT_UNKNOWN = 0, BOOT_GRUB, BOOT_SYSTEMD_BOOT };

/* Where the kernel command line of the next boot is configured. */
struct bootcfg {
	enum boot_kind kind;
	const char *why;          /* how it was recognised (static string) */
	bool proxmox_boot_tool;   /* /etc/kernel/proxmox-boot-uuids: ESPs kept by the tool */
	char file[SR_PATH_MAX];   /* "/etc/default/grub", "/etc/default/grub.d/x.cfg",
				   * "/etc/kernel/cmdline"; "" for BOOT_UNKNOWN */
	int line;                 /* 1-based line to edit; 0: the file has none, add one */
	char text[HI_CMDLINE_MAX];   /* that line as it is ("" when line is 0) */
	char var[40];             /* GRUB variable ("GRUB_CMDLINE_LINUX_DEFAULT"), "" otherwise */
	char params[HI_CMDLINE_MAX]; /* the parameters on that line */
	char configured[2 * HI_CMDLINE_MAX]; /* every parameter the next boot gets from the
					      * configuration (GRUB: GRUB_CMDLINE_LINUX too) */
	char refresh[64];         /* "update-grub" or "proxmox-boot-tool refresh" */
};

/* Finds the boot loader and the line holding the command line: systemd-boot when its
 * LoaderInfo EFI variable is there (or, without efivars, proxmox-boot-tool with
 * /etc/kernel/cmdline on an EFI boot), GRUB when /etc/default/grub exists (the last
 * assignment of GRUB_CMDLINE_LINUX_DEFAULT in it and /etc/default/grub.d/[*].cfg wins).
 * HI gives the EFI state and, for a missing /etc/kernel/cmdline, the running command line. */
int bootcfg_read(const struct sysroot *sr, const struct hostinfo *hi, struct bootcfg *ret);
const char *boot_kind_name(enum boot_kind k); /* "GRUB", "systemd-boot", "unknown" */

/* The command line kept for the boot loader this host does not use (pve-docs
 * system-booting.adoc: GRUB reads only GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub,
 * systemd-boot only /etc/kernel/cmdline): GRUB's files on a systemd-boot host,
 * /etc/kernel/cmdline on a GRUB host. 1 with RET filled as bootcfg_read fills it for that
 * loader, 0 when there is no such file, -errno. */
int bootcfg_read_other(const struct sysroot *sr, const struct hostinfo *hi,
		       const struct bootcfg *used, struct bootcfg *ret);

/* The line B->text rewritten with the parameters ADD (space-separated "key=value" or "key")
 * added and every parameter whose key is in REMOVE (space-separated keys) dropped. An added
 * key replaces the same key already there, except video= and initcall_blacklist=, which may
 * repeat. For a missing line (B->line 0) the whole new line. 0 or -ENOSPC. */
int bootcfg_edit(const struct bootcfg *b, const char *add, const char *remove, char *out,
		 size_t size);

#endif
