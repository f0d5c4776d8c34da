/* setup_plan.h - `setup`'s work as a library: the plan (setup_plan.c: which files change and
 * how, from what `check` asks for), and the transaction that makes it (setup_apply.c: the
 * files re-read and compared with what the plan was made from, this run's backups, the
 * writes, the refresh commands) and takes it back (--undo, run by run, newest first).
 * Library code: returns 0 or -errno and fills result structures; never prints. The verb
 * (cli/cmd_setup.c) parses its command line and prints what these return. */
#ifndef PGP_SETUP_PLAN_H
#define PGP_SETUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "check_list.h"
#include "sysroot.h"

#define SETUP_BACKUP_DIR "/var/lib/pve-gpu-passthrough/backup"
#define SETUP_MANIFEST SETUP_BACKUP_DIR "/manifest"
#define SETUP_MODULES_FILE "/etc/modules-load.d/pve-gpu-passthrough.conf"
#define SETUP_FILE_MAX (1u << 20)
#define SETUP_MAX_FILES 8
#define SETUP_COMMAND_TIMEOUT_MS (15 * 60 * 1000ul) /* update-initramfs -k all, update-grub */
#define SETUP_OUTPUT_KEEP 4096 /* what a failed command printed, its last bytes */
#define SETUP_LINE_MAX (SR_PATH_MAX + 512) /* one message line */

enum setup_kind { SETUP_BOOT, SETUP_MODULES, SETUP_EARLY, SETUP_SRIOV };
extern const char *const setup_kind_names[]; /* "boot", "modules", "early", "sriov" */

/* One file setup changes. */
struct setup_change {
	enum setup_kind kind;
	char path[SR_PATH_MAX];
	char *old;        /* the file as the plan read it; NULL when it did not exist */
	size_t old_len;
	char *new;        /* what setup writes */
	size_t new_len;
	mode_t mode;      /* the mode it keeps (0644 for a new file) */
};

/* A refresh command. */
struct setup_command {
	const char *text;         /* as shown: "update-grub" */
	const char *argv[4];      /* argv[0] is a name looked up in /usr/sbin, /sbin, ... */
};

struct setup_opts {
	bool no_fb;
	char *const *early;       /* --early arguments */
	int nearly;
	const char *sriov;        /* --sriov ADDR=N, NULL without */
	const char *config;       /* the INI (NULL: CONFIG_DEFAULT_PATH) */
	const char *node;
};

struct setup_plan {
	struct check_report *rep;
	char add[1024], remove[256];
	struct setup_change ch[SETUP_MAX_FILES];
	int nch;
	const struct setup_command *cmds[2];
	int ncmds;
	char notes[4][512];
	int nnotes;
	char refused[SETUP_LINE_MAX]; /* "" when nothing was refused */
};

/* Examines the host (checks_run) and plans the changes into P (zeroed by the caller): 0 with
 * P->refused set when setup refuses (one line naming the file), -errno when the host cannot
 * be examined. */
int setup_plan_make(const struct sysroot *sr, const struct setup_opts *o, struct setup_plan *p);
void setup_plan_free(struct setup_plan *p);

/* The command that refreshes B's boot loader ("update-grub", "proxmox-boot-tool refresh"),
 * and the one that rebuilds the initramfs (after an [early] change). */
const struct setup_command *setup_boot_refresh(const struct host_boot *b);
const struct setup_command *setup_initramfs_refresh(void);

/* Reads PATH as it is now for a rewrite: NULL when missing, with its mode; refuses a symlink,
 * a file with more than one hard link (a rename would split it), anything but a regular
 * file, and a file not owned by root, with WHY (one line naming the file). */
int setup_read_target(const struct sysroot *sr, const char *path, char **ret, size_t *ret_len,
		      mode_t *ret_mode, char *why, size_t wsize);

/* What setup_apply did, for the caller to print. */
struct setup_applied {
	int run;                          /* this run's number in the manifest */
	int nwritten;                     /* P->ch[0 .. nwritten-1] were written */
	bool commands_not_run;            /* the root is not this machine's "/" */
	int ncmds_ok;                     /* commands that succeeded */
	int failed_cmd;                   /* index of the failed command, -1 */
	int failed_status;                /* its exit status, or -errno when it could not run */
	char output[SETUP_OUTPUT_KEEP];   /* the last bytes it printed */
	int nrestored;                    /* after a failure: P->ch[0 .. nrestored-1] put back */
	int restore_err[SETUP_MAX_FILES]; /* 0, or -errno for each of them */
	int rerun_failed;                 /* commands run again on the restored files: failed */
	char error[SETUP_LINE_MAX];       /* why it failed ("" on success) */
};

/* Makes the plan P: checks that every file still holds what the plan was made from (nothing is
 * written when one changed since), saves what each file held just before this run (one
 * numbered run in SETUP_MANIFEST), and then for each file checks it once more and replaces it
 * atomically; then runs the refresh commands (only when the root is this machine's "/"). On a
 * failure the files written are put back, the commands that had succeeded are run again and
 * this run is forgotten (earlier runs' backups untouched). 0, or -errno with A->error set. */
int setup_apply(const struct sysroot *sr, const struct setup_plan *p, struct setup_applied *a);

/* One line saying why CMD failed with STATUS (run_commands' exit status or -errno). */
void setup_command_error(const struct setup_command *cmd, int status, char *out, size_t size);

/* One file --undo looked at. */
enum setup_undo_action {
	SETUP_UNDO_RESTORED, SETUP_UNDO_REMOVED,          /* done (or, dry run, would be) */
	SETUP_UNDO_CHANGED, SETUP_UNDO_GONE,              /* changed/removed since that run: kept */
	SETUP_UNDO_LATER_KEPT,                           /* a later run's undo of it was refused */
	SETUP_UNDO_INCOMPLETE,                           /* the backup is incomplete: kept */
	SETUP_UNDO_UNSAFE,                               /* symlink, hard link, ...: kept */
	SETUP_UNDO_FAILED,                               /* the write failed: err */
};

struct setup_undo_file {
	int run;
	char path[SR_PATH_MAX];
	enum setup_undo_action action;
	bool created;                /* setup created it in that run */
	char backup[SR_PATH_MAX];    /* what it held before that run ("" when created) */
	char why[SETUP_LINE_MAX];    /* for SETUP_UNDO_UNSAFE */
	int err;
};

#define SETUP_UNDO_MAX 64

struct setup_undone {
	int nruns;                        /* runs in the manifest */
	struct setup_undo_file f[SETUP_UNDO_MAX];
	int nf;
	char dirs[4][SR_PATH_MAX];        /* directories removed (setup had created them) */
	int ndirs;
	const struct setup_command *cmds[2];
	int ncmds;
	bool commands_not_run;
	int failed_cmd;                   /* -1 */
	int failed_status;
	char output[SETUP_OUTPUT_KEEP];
	bool boot_unknown;                /* the boot loader cannot be told: no refresh command */
	bool manifest_write_failed;
};

/* --undo: takes back the runs in SETUP_MANIFEST, newest first. A file is put back (or, when
 * that run created it, removed) only when it holds exactly what that run wrote; otherwise it
 * is kept, and so are the older runs' changes of it. Then the refresh commands of what
 * changed. 0 when every file was taken back (or nothing was to do: U->nruns 0), 1 when some
 * were kept, -errno when the manifest cannot be read. */
int setup_undo(const struct sysroot *sr, bool dry_run, struct setup_undone *u);

#endif
