/* main.c - `pve-gpu-passthrough [GLOBAL OPTIONS] VERB [ARGS]`: dispatch to the verbs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

/* Weak: the section exists only once a verb registers itself. */
extern const struct cli_command __start_pgp_cmds[] __attribute__((weak));
extern const struct cli_command __stop_pgp_cmds[] __attribute__((weak));

#define PROG "pve-gpu-passthrough"

/* The order `help` lists the verbs in: an admin's workflow. A verb not named here (a new one)
 * follows, in link order. */
static const char *const workflow[] = { "list",	   "check",   "setup",	"attach", "detach",
					"prepare", "release", "early",	"rom",	  "report",
					"sriov",   "publish", "help" };

static const struct cli_command *find(const char *name)
{
	for (const struct cli_command *c = __start_pgp_cmds; c < __stop_pgp_cmds; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static bool in_workflow(const char *name)
{
	for (size_t i = 0; i < sizeof(workflow) / sizeof(workflow[0]); i++)
		if (!strcmp(workflow[i], name))
			return true;
	return false;
}

static void usage(FILE *out)
{
	const struct cli_command *c;

	fprintf(out, "usage: " PROG " [--sysroot DIR] [--node NAME] [--config FILE] "
		     "COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(workflow) / sizeof(workflow[0]); i++)
		if ((c = find(workflow[i])))
			fprintf(out, "  %-8s %-28s %s\n", c->name, c->args, c->summary);
	for (c = __start_pgp_cmds; c < __stop_pgp_cmds; c++)
		if (!in_workflow(c->name))
			fprintf(out, "  %-8s %-28s %s\n", c->name, c->args, c->summary);
	fprintf(out, "\nglobal options (before COMMAND):\n"
		     "  --sysroot DIR   work on the host tree below DIR (a replayed report, tests);\n"
		     "                  no program (qm, update-grub, ...) is run there\n"
		     "  --node NAME     the Proxmox node name (default: this machine's)\n"
		     "  --config FILE   our INI (default /etc/pve-gpu-passthrough.ini)\n"
		     "  -h, --help      this text; '" PROG " help COMMAND' for one command\n"
		     "  -V, --version   the version\n"
		     "\nSee pve-gpu-passthrough(8).\n");
}

static void vmsg(const char *verb, const char *fmt, va_list ap, const char *tail)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fflush(stdout);
	fprintf(stderr, PROG "%s%s: %s%s\n", verb ? " " : "", verb ? verb : "", buf, tail);
}

void cli_err(const char *verb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(verb, fmt, ap, "");
	va_end(ap);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	char tail[96];
	va_list ap;

	snprintf(tail, sizeof(tail), "; see '" PROG " help%s%s'", verb ? " " : "", verb ? verb : "");
	va_start(ap, fmt);
	vmsg(verb, fmt, ap, tail);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

int cli_try_help(const char *verb)
{
	return cli_usage_error(verb, "bad command line");
}

int cli_unexpected_arg(const char *verb, const char *arg)
{
	return cli_usage_error(verb, "unexpected argument '%s'", arg);
}

int cli_bad_option(const char *verb, char **argv, const struct option *opts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool known = false;

	for (const struct option *o = opts; optopt && o && o->name; o++)
		if (o->val == optopt)
			known = true;
	if (known && arg[0] == '-' && arg[1] == '-' && strchr(arg, '='))
		return cli_usage_error(verb, "option '%.*s' takes no value",
				       (int)(strchr(arg, '=') - arg), arg);
	if (known)
		return cli_usage_error(verb, "option '%s' needs a value", arg);
	if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		return cli_usage_error(verb, "unknown option '-%c'", optopt);
	return cli_usage_error(verb, "unknown option '%s'", arg);
}

int cli_need_root(const struct cli_globals *g, const char *verb)
{
	if (!sr_is_host(&g->root) || geteuid() == 0)
		return 0;
	cli_err(verb, "changes the host, which needs root; run it as root");
	return CLI_EXIT_FAIL;
}

/* `help [COMMAND]`: the command list, or COMMAND's --help. */
static int cmd_help(struct cli_globals *g, int argc, char **argv)
{
	const struct cli_command *c;
	char *hargv[] = { NULL, "--help", NULL };

	if (argc == 1 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
					!strcmp(argv[1], "help")))) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_unexpected_arg("help", argv[2]);
	if (!(c = find(argv[1])))
		return cli_usage_error("help", "unknown command '%s'", argv[1]);
	hargv[0] = (char *)c->name;
	optind = 0;
	return c->run(g, 2, hargv);
}

CLI_COMMAND(help, "help", cmd_help, "[COMMAND]", "this list, or COMMAND's options");

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

	opterr = 0; /* every refused option is said in our own shape (cli_bad_option) */
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
			return cli_bad_option(NULL, argv, opts);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	g.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
	for (const struct cli_command *cmd = __start_pgp_cmds; cmd < __stop_pgp_cmds; cmd++) {
		if (strcmp(cmd->name, argv[optind]) != 0)
			continue;
		r = sr_open(&g.root, g.sysroot);
		if (r < 0) {
			cli_err(NULL, "cannot open root '%s': %s; check --sysroot",
				g.sysroot ? g.sysroot : "/", strerror(-r));
			return CLI_EXIT_FAIL;
		}
		/* getopt state is reset for the verb's own parsing. */
		int vargc = argc - optind;
		char **vargv = argv + optind;
		/* --json=pretty, for every verb with --json: the verb prints its compact JSON into
		 * memory, which is indented here */
		char *json = NULL;
		size_t jlen = 0;
		FILE *real = stdout, *mem = NULL;
		for (int i = 1; i < vargc && strcmp(vargv[i], "--"); i++)
			if (!strcmp(vargv[i], "--json=pretty") && !mem) {
				vargv[i] = (char *)"--json";
				if (!(mem = open_memstream(&json, &jlen))) {
					cli_err(cmd->name, "out of memory");
					return CLI_EXIT_FAIL;
				}
				stdout = mem;
			}
		optind = 0;
		r = cmd->run(&g, vargc, vargv);
		sr_close(&g.root);
		if (mem) {
			stdout = real;
			if (fclose(mem) == 0)
				json_pretty(stdout, json, jlen);
			free(json);
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cli_err(cmd->name, "write error on stdout");
			return CLI_EXIT_FAIL;
		}
		return r;
	}
	return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
}
