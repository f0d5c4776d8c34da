/* cmd_publish.c - `publish [--dry-run]`: write what this node has (the package version, the
 * hookscript's path, the snippet volumes that hold our hook here) to
 * /etc/pve/nodes/NODE/pve-gpu-passthrough, so that `check --cluster` on any node knows it.
 * Run by the package's configure step (postinst), by `attach` after it placed the snippet,
 * and by hand. And cli_cluster_attach(): what `attach` warns about in a cluster.
 *
 * Exit status: 0 written or unchanged; 1 /etc/pve is not writable (no quorum: pmxcfs is
 * read-only) or has no directory for this node (not a Proxmox VE node); 64 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "check_list.h"
#include "cli.h"
#include "pve_cluster.h"
#include "pve_conf.h"
#include "pve_storage.h"

#define PROG "pve-gpu-passthrough"
#define HOOK_NAME "pve-gpu-passthrough-hook"
#define HOOK_TARGET "/usr/libexec/pve-gpu-passthrough/" HOOK_NAME

/* Publishes this node's facts; prints one line (QUIET: only errors, and none when the node
 * has no directory in /etc/pve). 0 or -errno. */
static int publish(struct cli_globals *g, const char *verb, bool dry_run, bool quiet)
{
	struct pve_published p;
	char node[128], text[PVE_PUBLISH_MAX + 1];
	int r;

	pve_node_name(g->node, node, sizeof(node));
	r = pve_published_collect(&g->root, node, PGP_VERSION, HOOK_TARGET, HOOK_NAME, &p);
	if (r < 0) {
		cli_err(verb, "cannot read what this node has ('%s'): %s; fix it, then run "
			      "pve-gpu-passthrough publish", PVE_STORAGE_CFG, strerror(-r));
		return r;
	}
	if (dry_run) {
		if (pve_published_format(&p, text, sizeof(text)) == 0)
			printf("would write /etc/pve/nodes/%s/%s:\n%s", node, PVE_PUBLISH_FILE, text);
		return 0;
	}
	r = pve_published_write(&g->root, node, &p);
	if (r == -EACCES || r == -EROFS || r == -EPERM) {
		cli_err(verb, "cannot write /etc/pve/nodes/%s/%s: %s; /etc/pve is read-only while "
			      "the cluster has no quorum: run pve-gpu-passthrough publish again then",
			node, PVE_PUBLISH_FILE, strerror(-r));
		return r;
	}
	if (r == -ENOENT) {
		if (quiet) /* attach below a root or on no Proxmox node: nothing to tell */
			return r;
		cli_err(verb, "no /etc/pve/nodes/%s: not a Proxmox VE node (or pve-cluster is not "
			      "running, or --node names another node)", node);
		return r;
	}
	if (r < 0) {
		cli_err(verb, "cannot write /etc/pve/nodes/%s/%s: %s", node, PVE_PUBLISH_FILE,
			strerror(-r));
		return r;
	}
	if (!quiet)
		printf("published /etc/pve/nodes/%s/%s: version %s, %d snippet volume%s\n", node,
		       PVE_PUBLISH_FILE, p.version, p.nsnippets, p.nsnippets == 1 ? "" : "s");
	return 0;
}

void cli_cluster_attach(struct cli_globals *g, int vmid, const char *volid, bool dry_run)
{
	struct check_opts o = { .config = g->config, .node = g->node };
	struct check_report *rep = NULL;
	int r;

	if (!dry_run)
		publish(g, "attach", false, true); /* the snippet is in place: say so */
	r = checks_cluster_vm(&g->root, &o, vmid, volid, &rep);
	if (r < 0) {
		fprintf(stderr, PROG " attach: warning: cannot check the cluster: %s\n", strerror(-r));
		return;
	}
	for (int i = 0; i < rep->nres; i++) {
		const struct check_result *c = &rep->res[i];

		if (c->status < CHECK_WARN)
			continue;
		fprintf(stderr, PROG " attach: warning: %s: %s\n", c->subject, c->message);
		for (const char *p = c->fix; p && *p;) {
			size_t n = strcspn(p, "\n");

			fprintf(stderr, "    fix: %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
	checks_free(rep);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " publish [--dry-run]\n\n"
		     "Write what this node has (package version, hookscript, the snippet volumes\n"
		     "holding our hook) to /etc/pve/nodes/NODE/" PVE_PUBLISH_FILE ", for\n"
		     "'check --cluster' on every node. The package does it when it is configured,\n"
		     "attach after placing the snippet.\n\n"
		     "  -n, --dry-run  print the file, write nothing\n"
		     "  -h, --help     this text\n");
}

static int cmd_publish(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool dry_run = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("publish", argv, opts);
		}
	}
	if (optind < argc)
		return cli_usage_error("publish", "unexpected argument '%s'", argv[optind]);
	if (!dry_run && (r = cli_need_root(g, "publish")))
		return r;
	return publish(g, "publish", dry_run, false) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

CLI_COMMAND(publish, "publish", cmd_publish, "[--dry-run]",
	    "tell the cluster what this node has (for check --cluster)");
