/* cmd_early.c - `pve-gpu-passthrough early status [--image FILE]`: early binding at boot as
 * the host sees it now:
 *   - what the [early] section of the INI asks for (and the modprobe.d lines it makes);
 *   - what the current initramfs (/boot/initrd.img-<running kernel>) holds for it, listed with
 *     lsinitramfs (exec'd directly, no shell), and whether it is older than the INI;
 *   - whether each configured device is on vfio-pci now, what the boot did with it (the record
 *     the boot script leaves in /run), and whether its IOMMU group is viable.
 * Exit 0 when everything matches, 1 when something does not (each reason is printed, with
 * "run update-initramfs -u -k all" when the image is stale), 64 on a bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cfg_ini.h"
#include "early_bind.h"
#include "dev_modload.h"
#include "pci_dev.h"
#include "json.h"
#include "spawn.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"
#define LSINITRAMFS "/usr/bin/lsinitramfs"
#define LISTING_MAX (32 << 20)
#define LSINITRAMFS_TIMEOUT_S 120

#define MAX_PROBLEMS 32

struct status {
	const struct sysroot *sr;
	bool json; /* --json: no text report; the problems are printed as a list at the end */
	int problems;
	char problem[MAX_PROBLEMS][512]; /* for --json */
	bool stale; /* suggest update-initramfs */
};

/* A line (or part of one) of the text report: on stdout, and not at all with --json. */
static void say(const struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct status *st, const char *fmt, ...)
{
	va_list ap;

	if (st->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void problem(struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct status *st, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	say(st, "  problem: %s\n", text);
	if (st->problems < MAX_PROBLEMS)
		memcpy(st->problem[st->problems], text, sizeof(text));
	st->problems++;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " early status [--image FILE] [--json]\n\n"
		     "Compare early binding (the [early] section of the INI), the initramfs image and\n"
		     "the running system; say what is stale and the command that fixes it.\n\n"
		     "  -i, --image FILE   the initramfs to read (default: the running kernel's)\n"
		     "  -j, --json         {\"ini\", \"image\", \"ok\", \"stale\", \"problems\": [...]}\n"
		     "                     (--json=pretty: indented)\n"
		     "  -h, --help         this text\n");
}

/* The modification time of PATH below the root; -errno when it cannot be read. */
static int mtime_of(const struct sysroot *sr, const char *path, struct timespec *ret)
{
	struct stat s;
	int fd = sr_openat(sr, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);

	if (fd < 0)
		return fd;
	if (fstat(fd, &s) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	if (!S_ISREG(s.st_mode))
		return -EINVAL;
	*ret = s.st_mtim;
	return 0;
}

static void fmt_time(const struct timespec *t, char *buf, size_t size)
{
	struct tm tm;

	if (!localtime_r(&t->tv_sec, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "@%lld", (long long)t->tv_sec);
}

static bool older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Runs lsinitramfs on FILE (a host path) and returns its output (malloc'd) in *ret; a longer
 * listing is cut at LISTING_MAX. WHY gets the first line of its stderr ("" for none): what
 * the caller's one line about a failure adds. */
static int list_image(const char *file, char **ret, char *why, size_t whysize)
{
	const char *argv[] = { LSINITRAMFS, file, NULL };
	char *buf = malloc(LISTING_MAX);
	struct spawn_cmd cmd = { .argv = argv, .timeout_ms = LSINITRAMFS_TIMEOUT_S * 1000UL,
				 .out = SPAWN_CAPTURE, .err = SPAWN_CAPTURE,
				 .buf = buf, .bufsize = LISTING_MAX,
				 .errbuf = why, .errbufsize = whysize };
	int r;

	why[0] = '\0';
	if (!buf)
		return -ENOMEM;
	r = spawn_run(&cmd, NULL);
	why[strcspn(why, "\n")] = '\0'; /* its first line is enough */
	if (r != 0) {
		free(buf);
		return r < 0 ? r : r == 127 ? -ENOENT : -EIO;
	}
	*ret = buf;
	return 0;
}

static void show_ini(struct status *st, const char *path, const struct cfg *c,
		     const struct early_sel *sel)
{
	const struct early_opts *e = &c->early;
	struct kmod_ctx *ctx = NULL;
	char addr[PCI_ADDR_LEN], conf[4096];
	int r;

	say(st, "INI %s\n", path);
	if (!early_configured(e)) {
		say(st, "  no early binding configured (no ids or addresses in [early])\n");
		return;
	}
	if (e->naddrs) {
		say(st, "  addresses  ");
		for (int i = 0; i < e->naddrs; i++) {
			pci_addr_fmt(&e->addrs[i], addr);
			say(st, "%s%s", i ? "," : "", addr);
		}
		say(st, "  (line %d)\n", e->line_addrs);
	}
	if (e->nids) {
		say(st, "  ids        ");
		for (int i = 0; i < e->nids; i++)
			say(st, "%s%04x:%04x", i ? "," : "", e->ids[i].vendor, e->ids[i].device);
		say(st, "  (line %d; every device with these ids)\n", e->line_ids);
		say(st, "  disable_vga %s\n", e->disable_vga ? "yes" : "no");
		r = early_kmod_new(st->sr, NULL, &ctx);
		if (r == 0) {
			r = early_modprobe_conf(st->sr, ctx, e, sel, conf, sizeof(conf));
			modload_ctx_free(ctx);
		}
		if (r < 0) {
			say(st, "  modprobe.d (cannot find the drivers: %s)\n", strerror(-r));
			return;
		}
		say(st, "  modprobe.d in the image:\n");
		for (char *save = NULL, *l = strtok_r(conf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			say(st, "    %s\n", l);
	}
}

static void show_image(struct status *st, const char *image, const char *ini_path,
		       bool configured)
{
	struct timespec ti, tc;
	struct early_image img;
	char when[64], host_path[SR_PATH_MAX * 2], why[160];
	_cleanup_free_ char *listing = NULL;
	bool has_ini = mtime_of(st->sr, ini_path, &tc) == 0;
	int r;

	say(st, "initramfs %s\n", image);
	r = mtime_of(st->sr, image, &ti);
	if (r < 0) {
		problem(st, "cannot read the image: %s", strerror(-r));
		if (configured)
			st->stale = true;
		return;
	}
	fmt_time(&ti, when, sizeof(when));
	say(st, "  built      %s\n", when);
	snprintf(host_path, sizeof(host_path), "%s%s", sr_is_host(st->sr) ? "" : st->sr->dir, image);
	r = list_image(host_path, &listing, why, sizeof(why));
	if (r < 0) {
		/* a failed run says why itself (a timeout or a missing lsinitramfs does not) */
		problem(st, "cannot list the image with " LSINITRAMFS ": %s",
			r == -EIO && *why ? why : strerror(-r));
		return;
	}
	early_image_scan(listing, &img);
	say(st, "  contains   binary %s, INI %s, boot script %s, vfio modules %s, modprobe.d %s\n",
	    img.binary ? "yes" : "no", img.ini ? "yes" : "no", img.script ? "yes" : "no",
	    early_image_has_vfio(&img) ? "yes" : "no", img.modprobe_conf ? "yes" : "no");
	if (configured && !(img.binary && img.ini && img.script)) {
		problem(st, "the image has no early binding");
		st->stale = true;
	} else if (configured && !early_image_has_vfio(&img)) {
		char names[128] = "";
		size_t off = 0;

		for (int i = 0; i < bind_nvfio_modules && off < sizeof(names); i++)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
						bind_vfio_modules[i].name);
		problem(st, "the image lacks vfio modules (%s)", names);
		st->stale = true;
	} else if (!configured && img.binary && img.ini) {
		say(st, "  note: the image still binds what an earlier INI asked for\n");
	}
	if (has_ini && older(&ti, &tc)) {
		problem(st, "the image is older than %s", ini_path);
		st->stale = true;
	}
}

static void show_devices(struct status *st, const struct early_sel *sel)
{
	char names[64][PCI_ADDR_LEN], msg[256];
	int shown_groups[EARLY_MAX_DEVS], ngroups = 0;

	say(st, "devices\n");
	for (int i = 0; i < sel->n; i++) {
		const struct early_dev *d = &sel->devs[i];
		const char *how = d->by_addr ? (d->by_id ? "address, id" : "address") : "id";
		char drv[PCIDEV_NAME_MAX] = "";
		int rec;

		if (!d->present) {
			say(st, "  %s  (%s)  not present\n", d->name, how);
			problem(st, "%s is not present on this host", d->name);
			continue;
		}
		pcidev_driver(st->sr, d->name, drv, sizeof(drv));
		rec = early_record_lookup(st->sr, d->name, msg, sizeof(msg));
		say(st, "  %s %04x:%04x  (%s)  %s", d->name, d->vendor, d->device, how,
		    drv[0] ? drv : "no driver");
		if (rec >= 0)
			say(st, "  [boot: %s]\n", early_outcome_name((enum early_outcome)rec));
		else
			say(st, "  [boot: no record]\n");
		if (strcmp(drv, EARLY_DRIVER) != 0)
			problem(st, "%s is not on vfio-pci%s%s", d->name, rec >= 0 ? "; at boot: " : "",
				rec >= 0 ? msg : "");
		else if (rec != EARLY_BOUND && rec != EARLY_ALREADY)
			say(st, "  note: %s is on vfio-pci, but not from early binding at this boot\n",
			    d->name);
	}
	/* Group viability: every endpoint of a group must be on vfio-pci (or unbound). Configured
	 * devices that are not were reported above; the others are named here. */
	for (int i = 0; i < sel->n; i++) {
		int g = sel->devs[i].iommu_group, n, others = 0;
		bool seen = false, viable = true;

		if (!sel->devs[i].present || g < 0)
			continue;
		for (int k = 0; k < ngroups; k++)
			seen = seen || shown_groups[k] == g;
		if (seen)
			continue;
		shown_groups[ngroups++] = g;
		n = pcidev_group_members(st->sr, g, names, 64);
		if (n < 0)
			continue;
		for (int m = 0; m < n; m++) {
			struct pci_dev_info info;
			bool configured = false;

			if (pcidev_read(st->sr, names[m], &info) < 0 || info.is_bridge ||
			    !info.driver[0] || !strcmp(info.driver, EARLY_DRIVER))
				continue;
			viable = false;
			for (int k = 0; k < sel->n; k++)
				configured = configured || !strcmp(sel->devs[k].name, names[m]);
			if (configured)
				continue;
			if (others++ == 0)
				say(st, "  note: IOMMU group %d is not viable for a VM yet:", g);
			say(st, " %s on %s", names[m], info.driver);
		}
		if (viable)
			say(st, "  IOMMU group %d: viable\n", g);
		else if (others)
			say(st, " (Proxmox moves the whole group at VM start; list them in addresses "
			    "to bind them at boot)\n");
	}
}

static int status_run(struct status *st, struct cli_globals *g, const char *ini,
		      const char *image);

static void print_json(const struct status *st, const char *ini, const char *image)
{
	fputs("{\"ini\":", stdout);
	json_str(stdout, ini);
	fputs(",\"image\":", stdout);
	json_str(stdout, image);
	printf(",\"ok\":%s,\"stale\":%s,\"problems\":[", st->problems ? "false" : "true",
	       st->stale ? "true" : "false");
	for (int i = 0; i < st->problems && i < MAX_PROBLEMS; i++) {
		if (i)
			putchar(',');
		json_str(stdout, st->problem[i]);
	}
	printf("]}\n");
}

static int early_status(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct status st;
	bool json = false;
	const char *ini = g->config ? g->config : CONFIG_DEFAULT_PATH, *image = NULL;
	char osrelease[128], image_buf[SR_PATH_MAX];
	int c, r;

	st = (struct status){ .sr = &g->root };
	while ((c = getopt_long(argc, argv, "i:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			image = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("early status", argv, opts);
		}
	}
	if (optind != argc)
		return cli_unexpected_arg("early status", argv[optind]);
	if (!image) {
		if (sr_read_str(&g->root, "/proc/sys/kernel/osrelease", osrelease,
				sizeof(osrelease)) <= 0 ||
		    strchr(osrelease, '/')) {
			fprintf(stderr, PROG " early status: cannot read the running kernel's release\n");
			return CLI_EXIT_FAIL;
		}
		if (sr_path(image_buf, "/boot/initrd.img-%s", osrelease) < 0)
			return CLI_EXIT_FAIL;
		image = image_buf;
	}
	st.json = json;
	r = status_run(&st, g, ini, image);
	if (json)
		print_json(&st, ini, image);
	return r;
}

/* Prints the text report (not with --json); CLI_EXIT_OK when there is no problem. */
static int status_run(struct status *st, struct cli_globals *g, const char *ini, const char *image)
{
	static struct cfg cfg;
	static struct early_sel sel;
	char err[512];
	int r;

	r = cfg_load(&g->root, g->config, &cfg, err, sizeof(err));
	if (r < 0) {
		say(st, "INI %s\n", ini);
		problem(st, "%s", err);
		say(st, "fix the INI, then run update-initramfs -u -k all\n");
		return CLI_EXIT_FAIL;
	}
	r = early_select(&g->root, &cfg.early, &sel);
	if (r < 0) {
		fprintf(stderr, PROG " early status: cannot list PCI devices: %s\n", strerror(-r));
		return CLI_EXIT_FAIL;
	}
	show_ini(st, ini, &cfg, &sel);
	show_image(st, image, ini, early_configured(&cfg.early));
	if (early_configured(&cfg.early)) {
		if (!early_enabled_on_cmdline(&g->root))
			problem(st, "this boot had pve-gpu-passthrough.early=0 on the kernel command "
				     "line");
		show_devices(st, &sel);
	}
	if (st->stale)
		say(st, "run update-initramfs -u -k all (the image does not match %s)\n", ini);
	if (st->problems == 0) {
		say(st, "ok\n");
		return CLI_EXIT_OK;
	}
	say(st, "%d problem%s\n", st->problems, st->problems == 1 ? "" : "s");
	return CLI_EXIT_FAIL;
}

static int cmd_early(struct cli_globals *g, int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error("early", "expected a subcommand: status");
	if (strcmp(argv[1], "status") != 0)
		return cli_usage_error("early", "unknown subcommand '%s' (only: status)", argv[1]);
	return early_status(g, argc - 1, argv + 1);
}

CLI_COMMAND(early, "early", cmd_early, "status [--image FILE]",
	    "early binding at boot: INI, initramfs, devices");
