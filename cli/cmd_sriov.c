/* cmd_sriov.c - `pve-gpu-passthrough sriov [apply|status] [--dry-run] [--json] [--timeout DUR]
 * [--pf ADDR]`:
 * the SR-IOV VFs of the INI's [sriov] section (common/dev_sriov.h). `status` (the default)
 * reads only; `apply` makes them, as pve-gpu-passthrough-sriov.service does at boot once the
 * PF's driver has bound: its udev rule starts pve-gpu-passthrough-sriov@ADDR.service for every
 * SR-IOV PF whose driver binds, and --pf ADDR makes that a no-op for a PF that is not the
 * INI's.
 *
 * Exit status: 0 the VFs are as the INI says (or there is no [sriov] section), 1 they are not
 * (status) or could not be made (apply; one line says why), 64 bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "cli.h"
#include "dev_sriov.h"
#include "json.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " sriov [apply|status] [--dry-run] [--json] [--timeout DUR]\n"
		     "                               [--pf ADDR]\n\n"
		     "The SR-IOV virtual functions (VFs) of the INI's [sriov] section.\n"
		     "  status   show the PF and its VFs against the INI (the default; reads only)\n"
		     "  apply    make them: sriov_drivers_autoprobe = 0, sriov_numvfs, then each VF\n"
		     "           to the INI's driver (what pve-gpu-passthrough-sriov@.service runs)\n\n"
		     "  -n, --dry-run       apply: print every write it would make; change nothing\n"
		     "  -j, --json          one JSON object on standard output\n"
		     "  -t, --timeout DUR   apply: how long the VFs may take to appear and bind\n"
		     "                      (default 30s)\n"
		     "  -p, --pf ADDR       only when the INI's PF is ADDR; else nothing to do (the\n"
		     "                      boot unit passes the PF whose driver bound)\n"
		     "  -h, --help          this text\n");
}

/* A dry run's write point: each refused write, printed. */
static void show_write(void *data, const char *path, const char *value, int result, bool done)
{
	if (!done && !*(bool *)data)
		printf("would write '%s' to %s\n", strcmp(value, "\n") ? value : "\\n", path);
}

static bool as_ini(const struct sriov_state *st, const struct sriov_opts *o)
{
	if (st->numvfs != o->vfs || st->nvfs != (int)o->vfs)
		return false;
	for (int i = 0; i < st->nvfs; i++)
		if (strcmp(st->vf[i].driver, o->driver))
			return false;
	return true;
}

static void print_json(const struct sriov_state *st, const struct sriov_opts *o, bool ok,
		       int changes, const char *err)
{
	printf("{\"pf\":");
	json_str(stdout, st->pf);
	printf(",\"pf_driver\":");
	json_str(stdout, st->pf_driver);
	printf(",\"totalvfs\":%u,\"numvfs\":%u,\"autoprobe\":%d,\"want\":{\"vfs\":%u,\"driver\":",
	       st->totalvfs, st->numvfs, st->autoprobe, o->vfs);
	json_str(stdout, o->driver);
	printf("},\"vfs\":[");
	for (int i = 0; i < st->nvfs; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, st->vf[i].name);
		printf(",\"driver\":");
		json_str(stdout, st->vf[i].driver);
		printf("}");
	}
	printf("],\"changes\":%d,\"ok\":%s,\"error\":", changes, ok ? "true" : "false");
	json_str(stdout, err ? err : "");
	printf("}\n");
}

static void print_text(const struct sriov_state *st, const struct sriov_opts *o)
{
	printf("PF %s (%s): %u of %u VFs, autoprobe %s; INI: %u VFs on %s\n", st->pf,
	       st->pf_driver[0] ? st->pf_driver : "no driver", st->numvfs, st->totalvfs,
	       st->autoprobe < 0 ? "-" : st->autoprobe ? "on" : "off", o->vfs, o->driver);
	for (int i = 0; i < st->nvfs; i++)
		printf("  VF %s  %s\n", st->vf[i].name,
		       st->vf[i].driver[0] ? st->vf[i].driver : "(no driver)");
}

static int cmd_sriov(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pf", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct cfg cfg;
	static struct sriov_state st;
	bool dry = false, json = false, apply = false;
	unsigned long timeout_ms = 30000;
	char err[512] = "", pf[PCI_ADDR_LEN], only[PCI_ADDR_LEN] = "";
	struct pci_addr a;
	bool has_func;
	int c, r, changes = 0;

	while ((c = getopt_long(argc, argv, "njt:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry = true;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			if (parse_duration_ms(optarg, &timeout_ms) < 0 || !timeout_ms)
				return cli_usage_error("sriov", "--timeout: '%s' is not a duration "
						       "(e.g. 30s)", optarg);
			break;
		case 'p':
			if (pci_addr_parse_loose(optarg, &a, &has_func) < 0 || !has_func)
				return cli_usage_error("sriov", "--pf: '%s' is not a PCI address like "
						       "0000:00:02.0", optarg);
			pci_addr_fmt(&a, only);
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("sriov", argv, opts);
		}
	}
	if (optind < argc) {
		if (!strcmp(argv[optind], "apply"))
			apply = true;
		else if (strcmp(argv[optind], "status"))
			return cli_usage_error("sriov", "unknown subcommand '%s' (expected apply or "
					       "status)", argv[optind]);
		if (++optind < argc)
			return cli_unexpected_arg("sriov", argv[optind]);
	}
	if (dry && !apply)
		return cli_usage_error("sriov", "--dry-run goes with apply");
	if (apply && !dry && (r = cli_need_root(g, "sriov")))
		return r;
	if ((r = cfg_load(&g->root, g->config, &cfg, err, sizeof(err))) < 0) {
		cli_err("sriov", "%s", err);
		return CLI_EXIT_FAIL;
	}
	if (!cfg.sriov.set) {
		if (json)
			printf("{\"pf\":null,\"ok\":true}\n");
		else
			printf("no [sriov] section in the INI: no VFs to make\n");
		return CLI_EXIT_OK;
	}
	if (only[0]) {
		if (sriov_find_pf(&g->root, &cfg.sriov, pf, err, sizeof(err)) < 0) {
			cli_err("sriov", "%s", err);
			return CLI_EXIT_FAIL;
		}
		if (strcmp(pf, only)) {
			if (json)
				printf("{\"pf\":null,\"ok\":true}\n");
			else
				printf("%s is not the INI's [sriov] PF (%s): nothing to do\n", only, pf);
			return CLI_EXIT_OK;
		}
	}
	if (apply) {
		struct sr_write_point dry_point = { .dry_run = true, .after = show_write,
						    .data = &json, .next = g->root.wp };
		struct sriov_ops ops = { .sr = &g->root, .timeout_ms = timeout_ms };

		if (dry)
			g->root.wp = &dry_point;
		r = sriov_apply(&ops, &cfg.sriov, &st, &changes, err, sizeof(err));
		if (dry)
			g->root.wp = dry_point.next;
	} else {
		r = sriov_find_pf(&g->root, &cfg.sriov, pf, err, sizeof(err));
		if (r == 0 && (r = sriov_read(&g->root, pf, &st)) < 0)
			snprintf(err, sizeof(err), "PF %s: cannot read its state: %s", pf,
				 strerror(-r));
		if (r == 0 && !as_ini(&st, &cfg.sriov)) {
			snprintf(err, sizeof(err), "PF %s: the VFs are not as the INI says%s", st.pf,
				 st.numvfs != cfg.sriov.vfs ? " (see '" PROG " sriov apply')" : "");
			r = -EAGAIN;
		}
	}
	if (json)
		print_json(&st, &cfg.sriov, r == 0, changes, r < 0 ? err : NULL);
	else if (st.pf[0])
		print_text(&st, &cfg.sriov);
	if (r < 0) {
		if (!json)
			cli_err("sriov", "%s", err);
		return CLI_EXIT_FAIL;
	}
	if (!json && apply)
		printf(dry ? "--dry-run: %d change%s, nothing was changed\n"
			   : "%d change%s made\n", changes, changes == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

CLI_COMMAND(sriov, "sriov", cmd_sriov, "[apply|status] [--dry-run]",
	    "SR-IOV VFs from the INI's [sriov]");
