/* early.c - pve-gpu-passthrough-early: early binding at boot from the [early] section of our INI.
 *
 *   pve-gpu-passthrough-early [--sysroot DIR] [--config FILE] [--modules-dir DIR] COMMAND
 *
 *   bind    (the init-top boot script, before udev) every configured device that is present
 *           goes to vfio-pci: driver_override, load vfio, vfio_iommu_type1 and vfio-pci through
 *           libkmod, unbind a driver that already took it, drivers_probe, re-read the driver.
 *           One line per device on the console and in the kernel log, and a record in
 *           /run/pve-gpu-passthrough/early for `pve-gpu-passthrough early status`.
 *           Always exits 0: the boot must go on whatever happens here.
 *   check   (the initramfs hook; also `validate`) validate the INI and print the modprobe.d
 *           lines for id entries: options vfio-pci ids=... and softdep <driver> pre: vfio-pci
 *           for the drivers of the present devices, found from their modalias with libkmod in
 *           --modules-dir (the kernel the image is for). Exit 0: early binding configured;
 *           1: the INI is invalid (one line on stderr); 6: nothing configured (exitcode.h).
 *
 * --sysroot is for tests: every file is taken below DIR, and modules are never loaded (vfio-pci
 * must already be registered in the fake tree). Fault tests only: PGP_TEST_KILL_POINT=STEP[:N]
 * kills bind right after the Nth sysfs write to an attribute named STEP (sr_kill_point_parse).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "exitcode.h"
#include "early_bind.h"
#include "dev_modload.h"
#include "sysroot.h"
#include "util.h"

#define PROG "pve-gpu-passthrough-early"
#define MSG "pve-gpu-passthrough: " /* the console prefix admins grep for */

enum {
	EXIT_CONFIGURED = PGP_EXIT_OK,
	EXIT_INVALID = PGP_EXIT_FAILURE,
	EXIT_NOTHING = PGP_EXIT_NOTCONFIGURED,
	EXIT_USAGE = PGP_EXIT_USAGE,
};

static const char *arg_sysroot;
static const char *arg_config;
static const char *arg_moddir;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [--sysroot DIR] [--config FILE] [--modules-dir DIR] bind|check\n"
		"\n"
		"  bind     bind the devices of the [early] section to vfio-pci (boot script)\n"
		"  check    validate the INI and print the modprobe.d lines for its ids (build hook)\n"
		"\n"
		"See pve-gpu-passthrough(8).\n");
}

/* A line for the admin: on stdout (the console at boot) and, for bind, in the kernel log. */
static void say(const struct sysroot *sr, bool kmsg, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(const struct sysroot *sr, bool kmsg, int prio, const char *fmt, ...)
{
	char line[512], rec[520];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf(MSG "%s\n", line);
	fflush(stdout);
	/* /dev/kmsg keeps it for `journalctl -k -b` after the initramfs is gone. */
	if (kmsg && snprintf(rec, sizeof(rec), "<%d>" MSG "%s\n", prio, line) < (int)sizeof(rec))
		sr_write(sr, "/dev/kmsg", rec);
}

struct loader {
	const struct sysroot *sr;
	struct kmod_ctx *ctx;
	bool said; /* the modules directory could not be read: said once */
};

/* The bind engine's loader: called for each of its vfio modules that is not there yet. */
static int load_module(void *data, const char *name, char *err, size_t errsize)
{
	struct loader *ld = data;
	int r = 0;

	if (!sr_is_host(ld->sr))
		return 0; /* tests: never load anything; vfio-pci must be in the fake tree */
	if (!ld->ctx) {
		r = early_kmod_new(ld->sr, arg_moddir, &ld->ctx);
		if (r < 0) {
			if (!ld->said)
				say(ld->sr, true, 3, "cannot read the kernel modules: %s", strerror(-r));
			ld->said = true;
			snprintf(err, errsize, "cannot read the kernel modules: %s", strerror(-r));
			return r;
		}
	}
	r = modload_insert(ld->ctx, name, err, errsize);
	if (r < 0) {
		say(ld->sr, true, 3, "cannot load %s: %s", name, strerror(-r));
		snprintf(err, errsize, "cannot load %s: %s", name, strerror(-r));
	}
	return r;
}

static int cmd_bind(const struct sysroot *sr)
{
	static struct early_sel sel;
	static struct early_result res[EARLY_MAX_DEVS];
	static struct cfg cfg;
	struct loader ld = { .sr = sr };
	struct early_ops ops = { .load = load_module, .data = &ld };
	char err[512], line[256];
	int r;

	if (!early_enabled_on_cmdline(sr)) {
		say(sr, true, 5, "early binding disabled on the kernel command line");
		return 0;
	}
	r = cfg_load(sr, arg_config, &cfg, err, sizeof(err));
	if (r < 0) {
		say(sr, true, 3, "%s; no early binding", err);
		return 0;
	}
	if (!early_configured(&cfg.early))
		return 0;
	r = early_select(sr, &cfg.early, &sel);
	if (r < 0) {
		say(sr, true, 3, "cannot list PCI devices: %s; no early binding", strerror(-r));
		return 0;
	}
	for (int i = 0; i < sel.nid_unmatched; i++) {
		int k = sel.id_unmatched[i];

		say(sr, true, 4, "no device %04x:%04x present", cfg.early.ids[k].vendor,
		    cfg.early.ids[k].device);
	}
	early_bind(sr, &sel, &ops, res);
	for (int i = 0; i < sel.n; i++) {
		if (early_result_line(&sel.devs[i], &res[i], line, sizeof(line)) < 0)
			snprintf(line, sizeof(line), "%s: %s", sel.devs[i].name,
				 early_outcome_name(res[i].outcome));
		say(sr, true, res[i].outcome == EARLY_FAILED ? 3 : 5, "%s", line);
	}
	r = early_record_write(sr, &sel, res);
	if (r < 0)
		say(sr, false, 4, "cannot write %s: %s", EARLY_RECORD, strerror(-r));
	if (ld.ctx)
		modload_ctx_free(ld.ctx);
	return 0;
}

static int cmd_check(const struct sysroot *sr)
{
	static struct early_sel sel;
	static struct cfg cfg;
	const char *path = arg_config ? arg_config : CONFIG_DEFAULT_PATH;
	struct kmod_ctx *ctx = NULL;
	char err[512], conf[8192];
	int r;

	r = cfg_load(sr, arg_config, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_INVALID;
	}
	if (!cfg.from_file) {
		fprintf(stderr, "%s does not exist\n", path);
		return EXIT_NOTHING;
	}
	if (!early_configured(&cfg.early))
		return EXIT_NOTHING;
	r = early_select(sr, &cfg.early, &sel);
	if (r < 0) {
		fprintf(stderr, "cannot list PCI devices: %s\n", strerror(-r));
		return EXIT_INVALID;
	}
	for (int i = 0; i < sel.n; i++)
		if (!sel.devs[i].present)
			fprintf(stderr, "warning: %s (%s:%d) is not present on this host\n",
				sel.devs[i].name, path, cfg.early.line_addrs);
	if (cfg.early.nids == 0) {
		if (cfg.early.disable_vga)
			fprintf(stderr, "warning: disable_vga applies to ids only; ignored\n");
		return EXIT_CONFIGURED;
	}
	for (int i = 0; i < sel.nid_unmatched; i++) {
		int k = sel.id_unmatched[i];

		fprintf(stderr, "warning: no device %04x:%04x on this host: no softdep for its driver\n",
			cfg.early.ids[k].vendor, cfg.early.ids[k].device);
	}
	r = early_kmod_new(sr, arg_moddir, &ctx);
	if (r == 0) {
		r = early_modprobe_conf(sr, ctx, &cfg.early, &sel, conf, sizeof(conf));
		modload_ctx_free(ctx);
	}
	if (r < 0) {
		/* The options line alone still works when vfio-pci loads first. */
		fprintf(stderr, "warning: cannot find the drivers of the ids (%s): no softdeps\n",
			strerror(-r));
		struct early_sel none = { 0 };
		r = early_modprobe_conf(sr, NULL, &cfg.early, &none, conf, sizeof(conf));
		if (r < 0) {
			fprintf(stderr, "cannot generate modprobe.d lines: %s\n", strerror(-r));
			return EXIT_INVALID;
		}
	}
	printf("# generated by " PROG " from %s, [early] ids (line %d)\n%s", path,
	       cfg.early.line_ids, conf);
	return EXIT_CONFIGURED;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sysroot", required_argument, NULL, 'R' },
		{ "config", required_argument, NULL, 'C' },
		{ "modules-dir", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct sr_write_point kill = { 0 };
	struct sysroot sr;
	const char *cmd;
	int c, r;

	/* linked, not dlopen()ed: the initramfs gets the libraries ldd names, and no other */
	modload_use_linked();
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			arg_sysroot = optarg;
			break;
		case 'C':
			arg_config = optarg;
			break;
		case 'M':
			arg_moddir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", PGP_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "bind") && strcmp(cmd, "check") && strcmp(cmd, "validate")) {
		fprintf(stderr, PROG ": unknown command '%s'\nTry '" PROG " --help'.\n", cmd);
		return EXIT_USAGE;
	}
	r = sr_open(&sr, arg_sysroot);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot open root '%s': %s\n", arg_sysroot ? arg_sysroot : "/",
			strerror(-r));
		/* bind runs at boot: never stop it */
		return strcmp(cmd, "bind") ? EXIT_INVALID : 0;
	}
	if (sr_kill_point_parse(&kill, getenv("PGP_TEST_KILL_POINT")) == 0 && kill.kill_step[0])
		sr.wp = &kill;
	r = strcmp(cmd, "bind") ? cmd_check(&sr) : cmd_bind(&sr);
	sr_close(&sr);
	if (fflush(stdout) != 0 && strcmp(cmd, "bind"))
		return EXIT_INVALID;
	return r;
}
