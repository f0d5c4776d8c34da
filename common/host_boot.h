/* host_boot.h - the boot loader's side of the kernel command line, shared by `check` (which
 * says what to change) and `setup` (which changes it): which loader owns the next boot's
 * command line (GRUB, or systemd-boot through proxmox-boot-tool), the file and line that hold
 * it, whether that line can be rewritten with certainty, the line and the whole file with
 * parameters added or dropped, and the kernel facts that decide which parameters a host
 * needs (an IOMMU on by default, the framebuffer parameter known to work).
 * Library code: returns 0 or -errno, never prints. */
#ifndef PGP_HOST_BOOT_H
#define PGP_HOST_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "host_info.h"
#include "sysroot.h"

enum boot_kind { BOOT_UNKNOWN = 0, BOOT_GRUB, BOOT_SYSTEMD_BOOT };

/* Where the kernel command line of the next boot is configured. */
struct host_boot {
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
	/* GRUB: the last GRUB_CMDLINE_LINUX assignment (every boot entry gets it, the recovery
	 * entries too); linux_line 0 when there is none */
	char linux_file[SR_PATH_MAX];
	int linux_line;
	char linux_text[HI_CMDLINE_MAX];
	char linux_params[HI_CMDLINE_MAX];
	char linux_unsafe[SR_PATH_MAX + 160]; /* "" when that line can be edited with certainty */
	char refresh[64];         /* "update-grub" or "proxmox-boot-tool refresh" */
	char unsafe[SR_PATH_MAX + 160]; /* "" when the line can be edited with certainty, else
					 * one line naming the file and line and why not */
};

/* Finds the boot loader and the line holding the command line: systemd-boot when its
 * LoaderInfo EFI variable is there (or, without efivars, proxmox-boot-tool with
 * /etc/kernel/cmdline on an EFI boot), GRUB when /etc/default/grub exists (the last
 * assignment of GRUB_CMDLINE_LINUX_DEFAULT in it and /etc/default/grub.d/[*].cfg wins).
 * HI gives the EFI state and, for a missing /etc/kernel/cmdline, the running command line. */
int host_boot_read(const struct sysroot *sr, const struct hostinfo *hi, struct host_boot *ret);
const char *boot_kind_name(enum boot_kind k); /* "GRUB", "systemd-boot", "unknown" */

/* The command line kept for the boot loader this host does not use (pve-docs
 * system-booting.adoc: GRUB reads only GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub,
 * systemd-boot only /etc/kernel/cmdline): GRUB's files on a systemd-boot host,
 * /etc/kernel/cmdline on a GRUB host. 1 with RET filled as host_boot_read fills it for that
 * loader, 0 when there is no such file, -errno. */
int host_boot_read_other(const struct sysroot *sr, const struct hostinfo *hi,
			 const struct host_boot *used, struct host_boot *ret);

/* The line B->text rewritten with the parameters ADD (space-separated "key=value" or "key")
 * added and every parameter whose key is in REMOVE (space-separated keys) dropped. An added
 * key replaces the same key already there, except video= and initcall_blacklist=, which may
 * repeat. For a missing line (B->line 0) the whole new line. 0 or -ENOSPC. */
int host_boot_edit(const struct host_boot *b, const char *add, const char *remove, char *out,
		   size_t size);

/* GRUB: the GRUB_CMDLINE_LINUX line of B with every parameter whose key is in REMOVE dropped
 * (a parameter there is on every boot entry's command line, so dropping it from
 * GRUB_CMDLINE_LINUX_DEFAULT does nothing): 1 with OUT set when that line holds one of them,
 * 0 when it holds none (or B is not GRUB), -ENOSPC, or -EPERM with OUT saying why the line
 * cannot be rewritten with certainty (B->linux_unsafe). */
int host_boot_edit_linux(const struct host_boot *b, const char *remove, char *out, size_t size);

/* TEXT (B->linux_file's text, as it is or as host_boot_render made it) with its
 * GRUB_CMDLINE_LINUX line replaced by LINE: *RET malloc'd, NUL-terminated. -ESTALE when the
 * text has no such line. */
int host_boot_render_linux(const struct host_boot *b, const char *text, size_t len,
			   const char *line, char **ret, size_t *ret_len);

/* Whether B's file can be rewritten by a program with certainty: 0, or -EPERM with WHY (one
 * line naming the file and line) when the command line is set twice, built from shell
 * expansion or split over lines (GRUB), /etc/kernel/cmdline has more than one line, a
 * systemd-boot host keeps its ESPs without proxmox-boot-tool, the loader is unknown, or the
 * file is not owned by root. */
int host_boot_editable(const struct sysroot *sr, const struct host_boot *b, char *why, size_t size);

/* The whole of B's file with its command line replaced by LINE (as host_boot_edit made it; for
 * B->line 0 the line is appended, and a missing file is created with it). *RET is malloc'd
 * and NUL-terminated, *RET_LEN its length; *RET_OLD (when not NULL) is set to the file as it
 * is (NULL when it does not exist). */
int host_boot_render(const struct sysroot *sr, const struct host_boot *b, const char *line,
		     char **ret, size_t *ret_len, char **ret_old);

/* 1 when kernel RELEASE turns the Intel IOMMU on without intel_iommu=on
 * (CONFIG_INTEL_IOMMU_DEFAULT_ON=y in /boot/config-RELEASE; without that file, a Proxmox
 * kernel 6.8 or newer, whose default it is: pve-docs qm-pci-passthrough.adoc), with *HOW
 * saying which (static string); 0 when it does not or that cannot be told. */
int host_boot_iommu_default_on(const struct sysroot *sr, const char *release, const char **how);

/* The parameter that keeps the firmware from setting up a framebuffer on the boot GPU
 * ("initcall_blacklist=sysfb_init"), for the kernels the lab showed it working on; NULL for
 * others. */
const char *host_boot_fb_param(const char *release);

#endif
