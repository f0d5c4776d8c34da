/* main.c - the Proxmox hookscript: `pve-gpu-passthrough-hook VMID PHASE`.
 *
 * Proxmox runs it as root with stdin at EOF, LC_ALL=C, a minimal PATH and no timeout, and
 * shows its stdout/stderr in the VM's task log (post-stop through qmeventd: the journal).
 * pre-start hands the VM's GPUs to vfio-pci (a non-zero exit aborts the VM start); post-stop
 * gives them back; post-start and pre-stop do nothing of ours. A VM's own hookscript that
 * attach kept runs in every phase (theirs.c; pre-start: after ours, its failure undoes ours;
 * post-stop: before ours). A VM without passthrough devices costs one config read. Options before VMID are for tests and manual use:
 *   --sysroot DIR   act below DIR instead of /   --node NAME   Proxmox node name
 *   --config FILE   our INI                      --dry-run     change nothing, say what
 * Exit status (exitcode.h): 0 success or nothing to do; 1 failure: at pre-start refused or
 * failed with everything undone (the host as before), at post-stop something not given back
 * (named, with the command that finishes the job); 4 pre-start failed and could not undo
 * everything (what is still changed is named, with that command); 64 usage error.
 * Fault tests only: PGP_TEST_KILL_POINT=STEP[:N] kills the hook right after the Nth sysfs
 * write to an attribute named STEP (see sr_kill_point_parse); unset, nothing changes. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "exitcode.h"
#include "dev_handoff.h"
#include "dev_reconcile.h"
#include "pve_conf.h"
#include "dev_state.h"
#include "theirs.h"
#include "util.h"

enum {
	EXIT_OK = PGP_EXIT_OK,
	EXIT_FAILED = PGP_EXIT_FAILURE,
	EXIT_USAGE = PGP_EXIT_USAGE,
	EXIT_LEFT_CHANGED = PGP_EXIT_LEFT_CHANGED,
};

struct logger {
	bool syslog;
	int vmid;
};

static void log_line(void *ud, enum ho_level level, const char *msg)
{
	const struct logger *lg = ud;
	static const char *const prefix[] = { "", "warning: ", "error: " };
	FILE *out = level == HO_ERROR ? stderr : stdout;

	fflush(stdout);
	fprintf(out, "pve-gpu-passthrough: %s%s\n", prefix[level], msg);
	fflush(out);
	if (lg->syslog)
		syslog(level == HO_ERROR ? LOG_ERR : level == HO_WARN ? LOG_WARNING : LOG_INFO,
		       "VM %d: %s%s", lg->vmid, prefix[level], msg);
}

/* How long the watcher waits for Proxmox's start to end (its config lock): a start with PCI
 * devices may take minutes (qemu-server's start timeout is 120 s and more for large memory);
 * beyond that the package's timer (release --stale) takes over. */
#define WATCH_WAIT_MS (15UL * 60 * 1000)

/* pre-start of a VM with devices: first give back what VMs that are neither running nor
 * starting still hold (their failed starts left it), so their devices are free again. */
static void reconcile_first(const struct handoff_ops *ops, int vmid)
{
	if (!ops->dry_run)
		reconcile_all(ops, vmid);
}

/* After pre-start left a state file: a detached watcher gives the devices back if this start
 * fails after the hook (Proxmox then runs no post-stop). */
static void leave_watcher(const struct handoff_ops *ops, struct logger *lg, int vmid)
{
	char path[SR_PATH_MAX];
	int r;

	if (ops->dry_run || sr_path(path, STATE_DIR "/%d.state", vmid) < 0 ||
	    !sr_exists(ops->sr, path))
		return;
	fflush(stdout);
	fflush(stderr);
	/* The watcher closes every fd it inherits, the syslog socket too; glibc would close
	 * that fd number again on its next failed send, by then another file's (the config
	 * lock's). Closed here, the watcher's first syslog() opens its own. */
	if (lg->syslog)
		closelog();
	r = reconcile_watch(ops, vmid, WATCH_WAIT_MS);
	if (lg->syslog)
		openlog("pve-gpu-passthrough", LOG_PID, LOG_DAEMON);
	if (r < 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "cannot leave a watcher for a failed start (%s); "
			 "'pve-gpu-passthrough release --stale' gives the devices back then",
			 strerror(-r));
		log_line(lg, HO_WARN, msg);
	}
}

/* pre-start with nothing to hand over: the VM's own hookscript only. */
static int nothing_to_do(const struct sysroot *sr, const struct theirs *theirs, int has_theirs,
			 int vmid, bool dry_run)
{
	if (has_theirs > 0 && theirs_run(sr, theirs, vmid, "pre-start", dry_run)) {
		fprintf(stderr, "pve-gpu-passthrough: VM start aborted by its own hookscript; the "
				"host is as it was before\n");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

#define HOOK "pve-gpu-passthrough-hook"

static void help(void)
{
	printf("usage: " HOOK " [--sysroot DIR] [--node NAME] [--config FILE] [--dry-run] VMID PHASE\n\n"
	       "Proxmox runs it as VM VMID's hookscript: at pre-start it hands the VM's GPUs to\n"
	       "vfio-pci, at post-stop it gives them back. A hookscript of the VM's own that\n"
	       "attach kept runs in every phase.\n"
	       "Attach it with 'pve-gpu-passthrough attach VMID'. See pve-gpu-passthrough-hook(8).\n\n"
	       "  --sysroot DIR   work on the host tree below DIR (tests)\n"
	       "  --node NAME     the Proxmox node name (default: this machine's)\n"
	       "  --config FILE   our INI (default /etc/pve-gpu-passthrough.ini)\n"
	       "  --dry-run       print every change it would make; change nothing\n"
	       "  -h, --help      this text\n"
	       "  -V, --version   the version\n");
}

/* A bad command line, in one line (as the CLI's): what was wrong, and where to look. */
static int usage(const char *what, const char *arg)
{
	fprintf(stderr, HOOK ": %s%s%s%s; see '" HOOK " --help'\n", what, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sysroot", required_argument, NULL, 'R' }, { "node", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'C' },  { "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },	     { "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *root = NULL, *config = NULL, *node_arg = NULL, *phase;
	char node[128] = "", err[512];
	struct logger lg = { 0 };
	struct cfg cfg;
	struct sr_write_point kill = { 0 };
	struct sysroot sr;
	static struct pve_vmconf vmconf; /* pre-start: read once, for the fast path and the job */
	int vmid;
	bool dry_run = false, left_changed = false, theirs_failed = false, keep_only = false;
	struct theirs theirs;
	int c, r, has_theirs;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'R': root = optarg; break;
		case 'N': node_arg = optarg; break;
		case 'C': config = optarg; break;
		case 'n': dry_run = true; break;
		case 'h': help(); return EXIT_OK;
		case 'V': printf(HOOK " %s\n", PGP_VERSION); return EXIT_OK;
		default: return usage("unknown option or missing value", argv[optind - 1]);
		}
	}
	if (argc - optind < 2)
		return usage("expected VMID and PHASE", NULL);
	if (argc - optind > 2)
		return usage("unexpected argument", argv[optind + 2]);
	if (pve_vmid_parse(argv[optind], &vmid) < 0)
		return usage("invalid VMID", argv[optind]);
	phase = argv[optind + 1];
	lg.vmid = vmid;
	if (strcmp(phase, "pre-start") && strcmp(phase, "post-stop") &&
	    strcmp(phase, "post-start") && strcmp(phase, "pre-stop"))
		return usage("unknown phase (pre-start, post-start, pre-stop, post-stop)", phase);
	r = sr_open(&sr, root);
	if (r < 0) {
		fprintf(stderr, "pve-gpu-passthrough: cannot open root '%s': %s\n", root ? root : "/",
			strerror(-r));
		return EXIT_FAILED;
	}
	/* The VM's own hookscript, kept by attach: post-start and pre-stop are only its. */
	has_theirs = theirs_find(&sr, vmid, &theirs);
	if (has_theirs < 0 && !strcmp(phase, "pre-start"))
		return EXIT_FAILED; /* as Proxmox with a hookscript it cannot find */
	if (strcmp(phase, "pre-start") && strcmp(phase, "post-stop"))
		return has_theirs > 0 ? theirs_run(&sr, &theirs, vmid, phase, dry_run) : has_theirs < 0;
	if (!strcmp(phase, "post-stop")) /* theirs first: the reverse of pre-start */
		theirs_failed = has_theirs < 0 || (has_theirs > 0 &&
						   theirs_run(&sr, &theirs, vmid, phase, dry_run));
	if (sr_kill_point_parse(&kill, getenv("PGP_TEST_KILL_POINT")) < 0) {
		fprintf(stderr, "pve-gpu-passthrough: invalid PGP_TEST_KILL_POINT\n");
		return EXIT_USAGE;
	}
	if (kill.kill_step[0])
		sr.wp = &kill;
	/* the fast paths: nothing to hand over, nothing to give back */
	if (!strcmp(phase, "pre-start")) {
		/* a migration target reads the config on the source node (as qemu-server) */
		r = handoff_vm_load_from(&sr, lg.vmid, getenv("PVE_MIGRATED_FROM"), &vmconf, err,
					 sizeof(err));
		keep_only = r == 2;
		if (r == 0)
			return nothing_to_do(&sr, &theirs, has_theirs, vmid, dry_run);
		if (r < 0) {
			fprintf(stderr, "pve-gpu-passthrough: VM %d: %s\n", lg.vmid, err);
			return EXIT_FAILED;
		}
	} else {
		char path[SR_PATH_MAX];

		if (sr_path(path, STATE_DIR "/%d.state", lg.vmid) == 0 && !sr_exists(&sr, path)) {
			printf("pve-gpu-passthrough: VM %d: nothing was handed over (no %s); nothing "
			       "to do\n", lg.vmid, path);
			return theirs_failed ? EXIT_FAILED : EXIT_OK;
		}
	}

	lg.syslog = sr.host;
	if (lg.syslog)
		openlog("pve-gpu-passthrough", LOG_PID, LOG_DAEMON);
	r = cfg_load(&sr, config, &cfg, err, sizeof(err));
	if (r < 0 && keep_only) { /* driver=keep entries alone: left as they are */
		log_line(&lg, HO_WARN, err);
		return nothing_to_do(&sr, &theirs, has_theirs, vmid, dry_run);
	}
	if (keep_only && !handoff_variant_asked(&cfg, lg.vmid))
		return nothing_to_do(&sr, &theirs, has_theirs, vmid, dry_run);
	if (r < 0) {
		if (!strcmp(phase, "pre-start")) {
			log_line(&lg, HO_ERROR, err);
			return EXIT_FAILED;
		}
		log_line(&lg, HO_WARN, err); /* giving devices back matters more: use defaults */
		cfg_defaults(&cfg);
	}
	pve_node_name(node_arg, node, sizeof(node));
	struct handoff_ops ops = {
		.sr = &sr,
		.cfg = &cfg,
		.node = node,
		.dry_run = dry_run,
		.log = log_line,
		.ud = &lg,
		.vmconf = !strcmp(phase, "pre-start") ? &vmconf : NULL,
		.left_changed = &left_changed,
	};
	if (!strcmp(phase, "pre-start")) {
		reconcile_first(&ops, lg.vmid);
		r = handoff_prepare(&ops, lg.vmid);
		if (r == 0 && has_theirs > 0 && theirs_run(&sr, &theirs, vmid, phase, dry_run)) {
			/* Theirs refused the start: ours is undone, as Proxmox runs no post-stop. */
			log_line(&lg, HO_INFO, "the VM's own hookscript failed: giving the devices back");
			cfg.hook.return_on_stop = true; /* all of them, whatever post-stop would do */
			for (int i = 0; i < cfg.nvms; i++)
				cfg.vms[i].opts.return_on_stop = true;
			ops.vmconf = NULL;
			if (handoff_release(&ops, lg.vmid) < 0)
				left_changed = true;
			r = -ECANCELED;
		}
		leave_watcher(&ops, &lg, lg.vmid);
		if (r < 0)
			log_line(&lg, HO_ERROR, left_changed
				 ? "VM start aborted: the host is NOT as it was before (see above)"
				 : "VM start aborted: the host is as it was before");
	} else {
		r = handoff_release(&ops, lg.vmid);
	}
	sr_close(&sr);
	if (fflush(stdout) != 0)
		r = r < 0 ? r : -EIO;
	if (r < 0)
		return left_changed ? EXIT_LEFT_CHANGED : EXIT_FAILED;
	return theirs_failed ? EXIT_FAILED : EXIT_OK;
}
