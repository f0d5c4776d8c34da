/* main.c - `pve-gpu-passthrough [GLOBAL OPTIONS] VERB [ARGS]`: dispatch to the verbs. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Weak: the section exists only once a verb registers itself. */
extern const struct cli_command __start_pgp_cmds[] __attribute__((weak));
extern const struct cli_command __stop_pgp_cmds[] __attribute__((weak));

static void usage(FILE *out)
{
	fprintf(out, "usage: pve-gpu-passthrough [--sysroot DIR] [--node NAME] [--config FILE] "
		     "COMMAND [ARGS]\n\ncommands:\n");
	for (const struct cli_command *c = __start_pgp_cmds; c < __stop_pgp_cmds; c++)
		fprintf(out, "  %-8s %-28s %s\n", c->name, c->args, c->summary);
	fprintf(out, "\nSee pve-gpu-passthrough(8).\n");
}

int cli_try_help(const char *verb)
{
	fprintf(stderr, "Try 'pve-gpu-passthrough %s --help'.\n", verb);
	return CLI_EXIT_USAGE;
}

int cli_unexpected_arg(const char *verb, const char *arg)
{
	fprintf(stderr, "pve-gpu-passthrough %s: unexpected argument '%s'\n", verb, arg);
	return cli_try_help(verb);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sysroot", required_argument, NULL, 'R' },
		{ "node", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct cli_globals g = { 0 };
	const char *no_color = getenv("NO_COLOR");
	int c, r;

	/* '+': stop at the verb, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			g.sysroot = optarg;
			break;
		case 'N':
			g.node = optarg;
			break;
		case 'C':
			g.config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pve-gpu-passthrough %s\n", PGP_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'pve-gpu-passthrough --help'.\n");
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	g.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
	for (const struct cli_command *cmd = __start_pgp_cmds; cmd < __stop_pgp_cmds; cmd++) {
		if (strcmp(cmd->name, argv[optind]) != 0)
			continue;
		r = sr_open(&g.root, g.sysroot);
		if (r < 0) {
			fprintf(stderr, "pve-gpu-passthrough: cannot open root '%s': %s\n",
				g.sysroot ? g.sysroot : "/", strerror(-r));
			return CLI_EXIT_FAIL;
		}
		/* getopt state is reset for the verb's own parsing. */
		int vargc = argc - optind;
		char **vargv = argv + optind;
		optind = 0;
		r = cmd->run(&g, vargc, vargv);
		sr_close(&g.root);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "pve-gpu-passthrough: write error on stdout\n");
			return CLI_EXIT_FAIL;
		}
		return r;
	}
	fprintf(stderr, "pve-gpu-passthrough: unknown command '%s'\nTry 'pve-gpu-passthrough --help'.\n",
		argv[optind]);
	return CLI_EXIT_USAGE;
}
