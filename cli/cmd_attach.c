/* cmd_attach.c - `attach VMID [--storage NAME] [--force] [--dry-run]` and `detach VMID
 * [--dry-run]`: wire our hookscript into a Proxmox VM, the way an admin would by hand.
 *
 * Decisions (documented in pve-gpu-passthrough(8), "attach"):
 *  1. The snippet STORAGE:snippets/pve-gpu-passthrough-hook is a symlink to the installed
 *     hookscript, so a package upgrade reaches every attached VM without re-attaching.
 *     Proxmox's check (-f, -x) and exec follow symlinks.
 *  2. The VM is changed only through `qm set` (spawn_run: no shell, a deadline): /etc/pve is the
 *     cluster filesystem and qm takes the VM's config lock.
 *  3. attach refuses to replace a hookscript that is not ours, or a file at the snippet path
 *     that is not our symlink, unless --force. detach removes only our hookscript and leaves
 *     the snippet, which other VMs may use.
 *  4. Snippets created on a storage that is not shared are listed in SNIPPET_RECORD; purging
 *     the package removes exactly those (debian/pve-gpu-passthrough.postrm). On a shared
 *     storage the snippet stays: other nodes may still use it.
 * Every file is read and written below --sysroot; qm is run from PATH either way (the tests
 * put a fake qm there). The VM's config is only read (pve_vmconf_load, live section). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pve_conf.h"
#include "pve_storage.h"
#include "spawn.h"
#include "sysroot.h"
#include "util.h"

#define HOOK_NAME "pve-gpu-passthrough-hook"
#define HOOK_TARGET "/usr/libexec/pve-gpu-passthrough/" HOOK_NAME
#define SNIPPET_RECORD "/var/lib/pve-gpu-passthrough/snippets"
#define PROG "pve-gpu-passthrough"
/* qm set waits at most 10 s for the VM's config lock; this leaves it room to finish. */
#define QM_TIMEOUT_S 120

/* True when VOLID is STORAGE:snippets/pve-gpu-passthrough-hook on any valid storage id. */
static bool is_our_volid(const char *volid)
{
	const char *colon = strchr(volid, ':');
	char id[PVE_STORAGE_ID_MAX];

	if (!colon || str_copy_n(id, sizeof(id), volid, (size_t)(colon - volid)) < 0)
		return false;
	return pve_storage_id_valid(id) && strcmp(colon + 1, "snippets/" HOOK_NAME) == 0;
}

static const char *verb = "attach"; /* or "detach": the messages' prefix */

/* Prints the command and either runs it or, with DRY_RUN, stops there. */
static int run_qm(const struct sysroot *sr, char *const argv[], bool dry_run)
{
	int r;

	if (!dry_run && !sr_is_host(sr)) /* as setup: a fake root's VMs are not this node's */
		printf("not run (the root is '%s', not this machine's /):", sr->dir);
	else
		printf("%s", dry_run ? "would run:" : "running:");
	for (int i = 0; argv[i]; i++)
		printf(" %s", argv[i]);
	printf("\n");
	if (dry_run || !sr_is_host(sr))
		return 0;
	r = spawn_run(&(struct spawn_cmd){ .argv = (const char *const *)argv,
					   .timeout_ms = QM_TIMEOUT_S * 1000UL,
					   .out = SPAWN_INHERIT, .err = SPAWN_INHERIT }, NULL);
	if (r == -ENOENT) {
		fprintf(stderr, PROG " %s: cannot run 'qm': not found in PATH (this must run on a "
				"Proxmox VE node)\n", verb);
		return -1;
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, PROG " %s: 'qm %s %s' did not finish within %d s; it was stopped\n",
			verb, argv[1], argv[2], QM_TIMEOUT_S);
		return -1;
	}
	if (r < 0) {
		fprintf(stderr, PROG " %s: cannot run 'qm': %s\n", verb, strerror(-r));
		return -1;
	}
	if (r != 0) {
		fprintf(stderr, PROG " %s: 'qm %s %s' failed with exit status %d\n", verb, argv[1], argv[2], r);
		return -1;
	}
	return 0;
}

/* Loads VM VMID's hookscript (live section only; "" when none), printing why when that fails.
 * DETACH adds the manual way out: a hostpci line we cannot parse must not trap the admin. */
static int load_vm(const struct cli_globals *g, int vmid, bool detach, char *hook, size_t size)
{
	struct pve_vmconf c;
	char path[SR_PATH_MAX], err[256] = "";
	int line = 0, r;

	r = pve_vmconf_load(&g->root, vmid, &c, &line, err, sizeof(err));
	if (r == -ENOENT) {
		fprintf(stderr, PROG " %s: VM %d does not exist on this node (no "
				"'/etc/pve/qemu-server/%d.conf')", verb,
			vmid, vmid);
		if (sr_path(path, "/etc/pve/lxc/%d.conf", vmid) == 0 && sr_exists(&g->root, path))
			fprintf(stderr, "; %d is a container, only VMs are supported", vmid);
		fputc('\n', stderr);
		return r;
	}
	if (r < 0) {
		if (line > 0)
			fprintf(stderr, PROG " %s: /etc/pve/qemu-server/%d.conf:%d: %s", verb, vmid, line,
				err);
		else
			fprintf(stderr, PROG " %s: %s", verb, err[0] ? err : strerror(-r));
		if (detach)
			fprintf(stderr, "; fix the config, or remove the hookscript by hand: qm set %d "
					"--delete hookscript", vmid);
		fputc('\n', stderr);
		return r;
	}
	r = str_copy(hook, size, c.hookscript);
	if (r < 0)
		fprintf(stderr, PROG " %s: VM %d: hookscript value too long\n", verb, vmid);
	return r;
}

/* Checks that storage S can hold our snippet on this node; prints why not. */
static int check_storage(const struct cli_globals *g, const struct pve_storage *s)
{
	char node[128], list[sizeof(s->content)];
	size_t n = 0;

	if (s->disabled) {
		fprintf(stderr, PROG " %s: storage '%s' is disabled (pvesm set %s --disable 0)\n", verb, s->id,
			s->id);
		return -1;
	}
	pve_node_name(g->node, node, sizeof(node));
	if (node[0] && !pve_storage_on_node(s, node)) {
		fprintf(stderr, PROG " %s: storage '%s' is not available on node '%s' (nodes %s)\n", verb,
			s->id, node, s->nodes);
		return -1;
	}
	if (!s->path[0]) {
		fprintf(stderr, PROG " %s: storage '%s' (type %s) has no directory, so it cannot hold "
				"snippets; use a directory storage such as 'local'\n", verb,
			s->id, s->type);
		return -1;
	}
	if (pve_storage_has_content(s, "snippets"))
		return 0;
	/* `pvesm set --content` replaces the list: repeat what is there, comma-separated. */
	for (const char *p = s->content; *p;) {
		size_t w = strcspn(p, ",; \t");

		if (w) {
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%.*s,", (int)w, p);
			if (n >= sizeof(list))
				n = sizeof(list) - 1;
		}
		p += w;
		p += strspn(p, ",; \t");
	}
	list[n] = '\0';
	fprintf(stderr, PROG " %s: storage '%s' does not allow snippets; enable them with: "
			"pvesm set %s --content %ssnippets", verb, s->id, s->id, list);
	if (!s->has_content)
		fprintf(stderr, " (it has no content line, so Proxmox uses the default list of "
				"type '%s': add the types it should keep)", s->type);
	fputc('\n', stderr);
	return -1;
}

/* Adds PATH to the list of snippets we created (see decision 4), once. */
static int record_snippet(const struct sysroot *sr, const char *path)
{
	char buf[16384], line[SR_PATH_MAX + 2];
	ssize_t n;
	int r;

	n = sr_read(sr, SNIPPET_RECORD, buf, sizeof(buf));
	if (n == -ENOENT) {
		buf[0] = '\0';
		n = 0;
	} else if (n < 0) {
		return (int)n;
	}
	r = sr_path(line, "%s\n", path);
	if (r < 0)
		return r;
	for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, strlen(line)) == 0)
			return 0;
	if ((size_t)n + strlen(line) >= sizeof(buf))
		return -EFBIG;
	strcat(buf, line);
	r = sr_mkdir_p(sr, "/var/lib/pve-gpu-passthrough", 0755);
	if (r < 0)
		return r;
	return sr_write_file_atomic(sr, SNIPPET_RECORD, buf, strlen(buf), 0644);
}

/* Makes DIR/pve-gpu-passthrough-hook our symlink. */
static int place_snippet(const struct cli_globals *g, const struct pve_storage *s,
			 const char *dir, bool force, bool dry_run)
{
	char path[SR_PATH_MAX], target[SR_PATH_MAX], tmp[64];
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int r;

	r = sr_path(path, "%s/%s", dir, HOOK_NAME);
	if (r < 0) {
		fprintf(stderr, PROG " %s: snippet path too long: '%s'\n", verb, dir);
		return -1;
	}
	/* The storage itself must be there (a network storage may not be mounted); its
	 * snippets directory is created like Proxmox does when activating the storage. */
	if (!sr_exists(&g->root, s->path)) {
		fprintf(stderr, PROG " %s: storage '%s': directory '%s' does not exist (is it mounted?)\n", verb,
			s->id, s->path);
		return -1;
	}
	if (!sr_exists(&g->root, dir)) {
		if (dry_run) {
			printf("would create directory %s\n", dir);
		} else if ((r = sr_mkdir_p(&g->root, dir, 0755)) < 0) {
			fprintf(stderr, PROG " %s: cannot create '%s': %s\n", verb, dir, strerror(-r));
			return -1;
		}
	}
	dfd = dry_run && !sr_exists(&g->root, dir) ? -ENOENT
						    : sr_openat(&g->root, dir, O_PATH | O_DIRECTORY, 0);
	if (dfd >= 0 && fstatat(dfd, HOOK_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode) &&
		    readlinkat(dfd, HOOK_NAME, target, sizeof(target)) == sizeof(HOOK_TARGET) - 1 &&
		    strncmp(target, HOOK_TARGET, sizeof(HOOK_TARGET) - 1) == 0)
			return 0; /* already ours */
		if (!force) {
			fprintf(stderr, PROG " %s: '%s' exists and is not a symlink to '%s'; move it "
					"away, or use --force to replace it\n", verb,
				path, HOOK_TARGET);
			return -1;
		}
		printf("replacing %s (--force)\n", path);
	} else if (dfd >= 0 && errno != ENOENT) {
		fprintf(stderr, PROG " %s: cannot inspect '%s': %s\n", verb, path, strerror(errno));
		return -1;
	} else if (dfd < 0 && dfd != -ENOENT) {
		fprintf(stderr, PROG " %s: cannot open '%s': %s\n", verb, dir, strerror(-dfd));
		return -1;
	}
	if (dry_run) {
		printf("would create symlink %s -> %s\n", path, HOOK_TARGET);
		return 0;
	}
	/* Atomic: a temporary link renamed over the final name. */
	snprintf(tmp, sizeof(tmp), ".%s.%ld", HOOK_NAME, (long)getpid());
	if (symlinkat(HOOK_TARGET, dfd, tmp) < 0) {
		fprintf(stderr, PROG " %s: cannot create a symlink in '%s': %s\n", verb, dir, strerror(errno));
		return -1;
	}
	if (renameat(dfd, tmp, dfd, HOOK_NAME) < 0) {
		fprintf(stderr, PROG " %s: cannot create '%s': %s\n", verb, path, strerror(errno));
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	printf("created symlink %s -> %s\n", path, HOOK_TARGET);
	return 0;
}

static const struct option verb_opts[] = {
	{ "storage", required_argument, NULL, 's' },
	{ "force", no_argument, NULL, 'f' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static void usage(bool attach)
{
	if (attach)
		printf("usage: " PROG " attach VMID [--storage NAME] [--force] [--dry-run]\n\n"
		       "Make Proxmox run our hookscript for VM VMID: place it in the storage's\n"
		       "snippets directory and run 'qm set VMID --hookscript'.\n\n"
		       "  -s, --storage NAME   the storage that holds the snippet (default: local;\n"
		       "                       it needs the 'snippets' content type)\n"
		       "  -f, --force          replace another hookscript the VM has\n"
		       "  -n, --dry-run        print what it would do; change nothing\n"
		       "  -h, --help           this text\n");
	else
		printf("usage: " PROG " detach VMID [--dry-run]\n\n"
		       "Remove our hookscript from VM VMID ('qm set VMID --delete hookscript'); the\n"
		       "snippet stays for other VMs.\n\n"
		       "  -n, --dry-run   print what it would do; change nothing\n"
		       "  -h, --help      this text\n");
}

/* Parses the verb's options; returns 0, or CLI_EXIT_USAGE (printed), or -1 after --help. */
static int parse_args(int argc, char **argv, bool attach, const char **storage, bool *force,
		      bool *dry_run, int *vmid)
{
	int c;

	verb = attach ? "attach" : "detach";
	while ((c = getopt_long(argc, argv, attach ? "s:fnh" : "nh", verb_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!attach)
				return cli_usage_error(verb, "unknown option '--storage'");
			*storage = optarg;
			break;
		case 'f':
			if (!attach)
				return cli_usage_error(verb, "unknown option '--force'");
			*force = true;
			break;
		case 'n':
			*dry_run = true;
			break;
		case 'h':
			usage(attach);
			return -1;
		default:
			return cli_bad_option(verb, argv, verb_opts);
		}
	}
	if (optind >= argc)
		return cli_usage_error(verb, "expected a VMID");
	if (argc - optind > 1)
		return cli_unexpected_arg(verb, argv[optind + 1]);
	if (pve_vmid_parse(argv[optind], vmid) < 0)
		return cli_usage_error(verb, "invalid VMID '%s' (a number from 100 to 999999999)",
				       argv[optind]);
	if (*storage && !pve_storage_id_valid(*storage))
		return cli_usage_error(verb, "invalid storage name '%s'", *storage);
	return 0;
}

static int cmd_attach(struct cli_globals *g, int argc, char **argv)
{
	const char *storage = NULL;
	bool force = false, dry_run = false, attached;
	char hook[256], volid[128], dir[SR_PATH_MAX], vmid_s[16];
	struct pve_storage s;
	int vmid, r;

	r = parse_args(argc, argv, true, &storage, &force, &dry_run, &vmid);
	if (r)
		return r < 0 ? CLI_EXIT_OK : r;
	if (!dry_run && (r = cli_need_root(g, "attach")))
		return r;
	if (!storage)
		storage = "local";
	if (load_vm(g, vmid, false, hook, sizeof(hook)) < 0)
		return CLI_EXIT_FAIL;
	snprintf(volid, sizeof(volid), "%s:snippets/%s", storage, HOOK_NAME);
	attached = strcmp(hook, volid) == 0;
	if (hook[0] && !attached) {
		if (is_our_volid(hook)) {
			printf("VM %d uses our hookscript from '%s'; moving it to '%s'\n", vmid, hook,
			       volid);
		} else if (!force) {
			fprintf(stderr, PROG " %s: VM %d already has hookscript '%s'; use --force to "
					"replace it\n", verb,
				vmid, hook);
			return CLI_EXIT_FAIL;
		} else {
			printf("VM %d: replacing hookscript '%s' (--force)\n", vmid, hook);
		}
	}

	r = pve_storage_load(&g->root, storage, &s);
	if (r == -ENOENT) {
		fprintf(stderr, PROG " %s: storage '%s' does not exist in '%s'\n", verb, storage,
			PVE_STORAGE_CFG);
		return CLI_EXIT_FAIL;
	}
	if (r == -EBADMSG) {
		fprintf(stderr, PROG " %s: storage '%s' in '%s' has a content-dirs entry Proxmox "
				"rejects (a '..' or an over-long path); fix it first\n", verb, storage,
			PVE_STORAGE_CFG);
		return CLI_EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, PROG " %s: cannot read '%s': %s\n", verb, PVE_STORAGE_CFG, sr_strerror(r));
		return CLI_EXIT_FAIL;
	}
	if (check_storage(g, &s) < 0)
		return CLI_EXIT_FAIL;
	if (!sr_exists(&g->root, HOOK_TARGET)) {
		fprintf(stderr, PROG " %s: the hookscript '%s' is missing; is the package installed?\n", verb,
			HOOK_TARGET);
		return CLI_EXIT_FAIL;
	}
	r = pve_storage_snippets_dir(&s, dir);
	if (r < 0) {
		fprintf(stderr, PROG " %s: storage '%s': snippets directory: %s\n", verb, storage,
			strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (place_snippet(g, &s, dir, force, dry_run) < 0)
		return CLI_EXIT_FAIL;
	if (!s.shared && !dry_run) {
		char path[SR_PATH_MAX];

		r = sr_path(path, "%s/%s", dir, HOOK_NAME);
		if (r == 0)
			r = record_snippet(&g->root, path);
		if (r < 0)
			fprintf(stderr, PROG " %s: warning: cannot record the snippet in '%s': %s; "
					"purging the package will not remove it\n", verb,
				SNIPPET_RECORD, strerror(-r));
	}
	cli_cluster_attach(g, vmid, volid, dry_run); /* before the VM changes: what the cluster lacks */
	if (attached) {
		printf("VM %d already uses hookscript '%s'\n", vmid, volid);
		return CLI_EXIT_OK;
	}
	snprintf(vmid_s, sizeof(vmid_s), "%d", vmid);
	char *qm[] = { "qm", "set", vmid_s, "--hookscript", volid, NULL };
	if (run_qm(&g->root, qm, dry_run) < 0)
		return CLI_EXIT_FAIL;
	if (!dry_run && sr_is_host(&g->root))
		printf("VM %d: hookscript set to '%s'\n", vmid, volid);
	return CLI_EXIT_OK;
}

static int cmd_detach(struct cli_globals *g, int argc, char **argv)
{
	const char *storage = NULL;
	bool force = false, dry_run = false;
	char hook[256], vmid_s[16];
	int vmid, r;

	r = parse_args(argc, argv, false, &storage, &force, &dry_run, &vmid);
	if (r)
		return r < 0 ? CLI_EXIT_OK : r;
	if (!dry_run && (r = cli_need_root(g, "detach")))
		return r;
	if (load_vm(g, vmid, true, hook, sizeof(hook)) < 0)
		return CLI_EXIT_FAIL;
	if (!hook[0]) {
		printf("VM %d has no hookscript; nothing to do\n", vmid);
		return CLI_EXIT_OK;
	}
	if (!is_our_volid(hook)) {
		fprintf(stderr, PROG " %s: VM %d has hookscript '%s', which is not ours; leaving it "
				"alone\n", verb,
			vmid, hook);
		return CLI_EXIT_FAIL;
	}
	snprintf(vmid_s, sizeof(vmid_s), "%d", vmid);
	char *qm[] = { "qm", "set", vmid_s, "--delete", "hookscript", NULL };
	if (run_qm(&g->root, qm, dry_run) < 0)
		return CLI_EXIT_FAIL;
	if (!dry_run && sr_is_host(&g->root))
		printf("VM %d: hookscript '%s' removed (the snippet stays for other VMs)\n", vmid,
		       hook);
	return CLI_EXIT_OK;
}

CLI_COMMAND(attach, "attach", cmd_attach, "VMID [--storage S] [--force]",
	    "run our hookscript for VM VMID (via qm set)");
CLI_COMMAND(detach, "detach", cmd_detach, "VMID", "remove our hookscript from VM VMID");
