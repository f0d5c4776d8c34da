/* cmd_vm.c - `prepare VMID [--dry-run]` and `release VMID [--dry-run]`: what the hookscript
 * does at pre-start and post-stop, by hand (the same engine; --dry-run changes nothing and
 * prints every write it would make); `release --stale`: reconcile every state file (give back
 * the devices of VMs that are neither running nor starting; reconcile.h). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cfg_ini.h"
#include "dev_handoff.h"
#include "dev_reconcile.h"
#include "dev_state.h"
#include "json.h"
#include "pve_conf.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"

static int nlines; /* lines the engine printed: none is said as "nothing to do" */
static FILE *json_lines; /* --json: the lines as JSON objects, joined by commas */

static void print_line(void *ud, enum ho_level level, const char *msg)
{
	static const char *const prefix[] = { "", "warning: ", "error: " };
	static const char *const name[] = { "info", "warning", "error" };

	(void)ud;
	if (json_lines) {
		fprintf(json_lines, "%s{\"level\":\"%s\",\"message\":", nlines ? "," : "",
			name[level]);
		json_str(json_lines, msg);
		fputc('}', json_lines);
	}
	nlines++;
	if (json_lines && level != HO_ERROR)
		return; /* errors go to stderr also with --json */
	fflush(stdout);
	fprintf(level == HO_ERROR ? stderr : stdout, "%s%s\n", prefix[level], msg);
}

/* Says "nothing to do" as a line of the engine's would be said. */
static void say_nothing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_nothing(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_line(NULL, HO_INFO, msg);
}

static void usage(bool prepare)
{
	if (prepare)
		printf("usage: " PROG " prepare VMID [--dry-run]\n\n"
		       "Hand VM VMID's GPUs (every endpoint of their IOMMU groups) to vfio-pci now, as\n"
		       "the hookscript does at pre-start; a state file records what to give back.\n\n"
		       "  -n, --dry-run   print every change it would make; change nothing\n"
		       "  -j, --json      the lines as JSON (--json=pretty: indented)\n"
		       "  -h, --help      this text\n");
	else
		printf("usage: " PROG " release VMID [--dry-run]\n"
		       "   or: " PROG " release --stale [--dry-run]\n\n"
		       "Give back what VM VMID's state file records (what post-stop does); --stale:\n"
		       "the devices of every VM that is neither running nor starting.\n\n"
		       "  -n, --dry-run   print every change it would make; change nothing\n"
		       "      --stale     every state file of a VM that is not running or starting\n"
		       "  -j, --json      the lines as JSON (--json=pretty: indented)\n"
		       "  -h, --help      this text\n");
}

static int run(struct cli_globals *g, int argc, char **argv, bool prepare)
{
	static const struct option opts[] = { { "dry-run", no_argument, NULL, 'n' },
					      { "stale", no_argument, NULL, 's' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *verb = prepare ? "prepare" : "release";
	struct cfg cfg;
	int vmid = 0;
	char node[128], err[512];
	bool dry = false, stale = false, json = false;
	_cleanup_free_ char *jbuf = NULL;
	size_t jlen = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "njh", opts, NULL)) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 'j')
			json = true;
		else if (c == 's' && !prepare)
			stale = true;
		else if (c == 'h') {
			usage(prepare);
			return CLI_EXIT_OK;
		} else if (c == 's')
			return cli_usage_error(verb, "unknown option '--stale'");
		else
			return cli_bad_option(verb, argv, opts);
	}
	if (stale && optind < argc)
		return cli_usage_error(verb, "--stale takes no VMID (got '%s')", argv[optind]);
	if (!stale && optind >= argc)
		return cli_usage_error(verb, "expected a VMID%s", prepare ? "" : " or --stale");
	if (!stale && argc - optind > 1)
		return cli_unexpected_arg(verb, argv[optind + 1]);
	if (!stale && pve_vmid_parse(argv[optind], &vmid) < 0)
		return cli_usage_error(verb, "invalid VMID '%s' (a number from 100 to 999999999)",
				       argv[optind]);
	if (!dry && (r = cli_need_root(g, verb)))
		return r;
	r = cfg_load(&g->root, g->config, &cfg, err, sizeof(err));
	if (r < 0) {
		cli_err(verb, "%s; fix the INI (see pve-gpu-passthrough.ini(5))", err);
		return CLI_EXIT_FAIL;
	}
	pve_node_name(g->node, node, sizeof(node));
	struct handoff_ops ops = {
		.sr = &g->root,
		.cfg = &cfg,
		.node = node,
		.dry_run = dry,
		.log = print_line,
	};
	/* a dry run refuses every write from here on, locks included (dev_lock, reconcile) */
	struct sr_write_point dry_point = { .dry_run = true, .next = g->root.wp };
	if (dry)
		g->root.wp = &dry_point;
	nlines = 0;
	if (json && !(json_lines = open_memstream(&jbuf, &jlen))) {
		cli_err(verb, "out of memory");
		return CLI_EXIT_FAIL;
	}
	if (stale)
		r = reconcile_all(&ops, 0);
	else
		r = prepare ? handoff_prepare(&ops, vmid) : handoff_release(&ops, vmid);
	if (r >= 0 && nlines == 0) {
		if (stale)
			say_nothing("no VM has devices handed over (no state file in " STATE_DIR
				    "); nothing to do");
		else if (prepare)
			say_nothing("VM %d has no device to hand over; nothing to do", vmid);
		else
			say_nothing("nothing recorded for VM %d (no " STATE_DIR "/%d.state); nothing "
				    "to do", vmid, vmid);
	}
	g->root.wp = dry_point.next;
	if (json_lines) {
		fclose(json_lines);
		json_lines = NULL;
		printf("{\"command\":\"%s\",\"vmid\":", verb);
		if (stale)
			printf("null");
		else
			printf("%d", vmid);
		printf(",\"dry_run\":%s,\"lines\":[%.*s],\"exit\":%d}\n", dry ? "true" : "false",
		       (int)jlen, jbuf ? jbuf : "", r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK);
	}
	return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int cmd_prepare(struct cli_globals *g, int argc, char **argv)
{
	return run(g, argc, argv, true);
}

static int cmd_release(struct cli_globals *g, int argc, char **argv)
{
	return run(g, argc, argv, false);
}

CLI_COMMAND(prepare, "prepare", cmd_prepare, "VMID [--dry-run]",
	    "hand VMID's GPUs to vfio-pci now (what pre-start does)");
CLI_COMMAND(release, "release", cmd_release, "VMID | --stale [--dry-run]",
	    "give VMID's devices back now (what post-stop does); --stale: of every stopped VM");
