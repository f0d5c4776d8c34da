/* cmd_vm.c - `prepare VMID [--dry-run]` and `release VMID [--dry-run]`: what the hookscript
 * does at pre-start and post-stop, by hand (the same engine; --dry-run changes nothing and
 * prints every write it would make); `release --stale`: reconcile every state file (give back
 * the devices of VMs that are neither running nor starting; reconcile.h). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cfg_ini.h"
#include "dev_handoff.h"
#include "dev_reconcile.h"
#include "pve_conf.h"
#include "util.h"

static void print_line(void *ud, enum ho_level level, const char *msg)
{
	static const char *const prefix[] = { "", "warning: ", "error: " };

	fflush(stdout);
	fprintf(level == HO_ERROR ? stderr : stdout, "%s%s\n", prefix[level], msg);
}

static int run(struct cli_globals *g, int argc, char **argv, bool prepare)
{
	static const struct option opts[] = { { "dry-run", no_argument, NULL, 'n' },
					      { "stale", no_argument, NULL, 's' }, { 0 } };
	struct pgp_config cfg;
	int vmid = 0;
	char node[128], err[512];
	bool dry = false, stale = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 's' && !prepare)
			stale = true;
		else
			goto usage;
	}
	if (stale ? argc != optind || dry
		  : argc - optind != 1 || pve_vmid_parse(argv[optind], &vmid) < 0)
		goto usage;
	r = config_load(&g->root, g->config, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err);
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
	if (stale)
		r = reconcile_all(&ops, 0);
	else
		r = prepare ? handoff_prepare(&ops, vmid) : handoff_release(&ops, vmid);
	return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
usage:
	fprintf(stderr, "usage: pve-gpu-passthrough %s\n",
		prepare ? "prepare VMID [--dry-run]" : "release VMID [--dry-run] | release --stale");
	return CLI_EXIT_USAGE;
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
CLI_COMMAND(release, "release", cmd_release, "VMID [--dry-run] | --stale",
	    "give VMID's devices back now (what post-stop does); --stale: those of every VM "
	    "that is neither running nor starting");
