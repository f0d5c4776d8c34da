/* cli.h - the admin CLI's command table. Each verb lives in its own cli/cmd_*.c and registers
 * itself with CLI_COMMAND(); main.c finds them through the linker section, so adding a verb
 * touches no other file. */
#ifndef PGP_CLI_H
#define PGP_CLI_H

#include <getopt.h>

#include "exitcode.h"
#include "sysroot.h"

/* Options every verb shares, parsed by main.c before the verb's own arguments. */
struct cli_globals {
	const char *sysroot;  /* --sysroot DIR (tests); NULL means "/" */
	struct sysroot root;  /* opened from sysroot */
	const char *node;     /* --node NAME: Proxmox node name (default: uname) */
	const char *config;   /* --config FILE: our INI (default /etc/pve-gpu-passthrough.ini) */
	int color;            /* 1 when stdout is a TTY and NO_COLOR is unset */
};

/* Every message of the CLI has one shape, on stderr: "pve-gpu-passthrough VERB: WHAT; FIX"
 * (VERB NULL: the program's own). */
void cli_err(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A bad command line of VERB, in one line: "pve-gpu-passthrough VERB: WHAT; see
 * 'pve-gpu-passthrough help VERB'"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The option getopt_long() just refused (main.c sets opterr = 0: the verbs say it in their
 * own shape): unknown, missing its value or given one it does not take. Returns
 * CLI_EXIT_USAGE. */
int cli_bad_option(const char *verb, char **argv, const struct option *opts);
/* Kept for callers that print their reason first: "pve-gpu-passthrough VERB: see
 * 'pve-gpu-passthrough help VERB'"; returns CLI_EXIT_USAGE. New code: cli_usage_error(). */
int cli_try_help(const char *verb);
/* An operand VERB does not take: says so; returns CLI_EXIT_USAGE. */
int cli_unexpected_arg(const char *verb, const char *arg);
/* Verbs that change the host call this once their command line is parsed and before anything
 * else: on this machine's own root, not root is one line and CLI_EXIT_FAIL; else 0. */
int cli_need_root(const struct cli_globals *g, const char *verb);

/* attach in a cluster (cmd_publish.c): publishes this node (unless DRY_RUN) and warns, on
 * stderr, about what `check --cluster` would say of VM VMID with hookscript VOLID. */
void cli_cluster_attach(struct cli_globals *g, int vmid, const char *volid, bool dry_run);

struct cli_command {
	const char *name;
	int (*run)(struct cli_globals *g, int argc, char **argv); /* argv[0] is the verb */
	const char *args;    /* one-line argument synopsis */
	const char *summary; /* one-line description */
};

#define CLI_COMMAND(id, vname, fn, vargs, vsummary)                                      \
	static const struct cli_command cli_cmd_##id                                    \
		__attribute__((used, section("pgp_cmds"), aligned(sizeof(void *)))) = { \
			vname, fn, vargs, vsummary                                      \
		}

/* Exit codes shared by the verbs (exitcode.h; documented in pve-gpu-passthrough(8)). */
enum {
	CLI_EXIT_OK = PGP_EXIT_OK,
	CLI_EXIT_FAIL = PGP_EXIT_FAILURE, /* the operation failed; for `check`: warnings */
	CLI_EXIT_USAGE = PGP_EXIT_USAGE,  /* bad command line */
};

#endif
