/* cmd_attach.c - `attach VMID [--storage NAME] [--force] [--dry-run]` and `detach VMID
 * [--dry-run]`: wire our hookscript into a Proxmox VM, the way an admin would by hand.
 *
 * Decisions (documented in pve-gpu-passthrough(8), "attach"):
 *  1. The snippet STORAGE:snippets/pve-gpu-passthrough-hook is a copy of the static program
 *     snippet/main.c (installed as SNIPPET_SRC), a plain file: it runs the installed hook, or,
 *     on a node without the package (a restore, a failover), says so in one line and lets the
 *     start go on. A VM's hookscript line thus never makes it unstartable. The copies attach
 *     made are listed in SNIPPET_RECORD; the package's postinst refreshes them on upgrade.
 *  2. The VM is changed only through `qm set` (spawn_run: no shell, a deadline): /etc/pve is the
 *     cluster filesystem and qm takes the VM's config lock.
 *  3. A VM's own hookscript is kept: attach records it (HOOKREC_DIR/VMID, in /etc/pve so it
 *     follows the VM) and our hook runs it in every phase; detach puts it back. A file at the
 *     snippet path that is not our copy (nor an older version's symlink) is replaced only
 *     with --force.
 *  4. detach (and the package's purge) removes a copy only when no VM on any node names its
 *     volume any more, in its live configuration or a snapshot.
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
#include "pve_hookrec.h"
#include "pve_storage.h"
#include "spawn.h"
#include "sysroot.h"
#include "util.h"

#define HOOK_NAME SNIPPET_NAME
#define HOOK_TARGET "/usr/libexec/pve-gpu-passthrough/" HOOK_NAME
#define SNIPPET_SRC "/usr/libexec/pve-gpu-passthrough/pve-gpu-passthrough-snippet"
/* A copy is a static program of about 1 MB; a larger file is not ours. */
#define SNIPPET_MAX (8UL << 20)
#define PROG "pve-gpu-passthrough"
/* qm set waits at most 10 s for the VM's config lock; this leaves it room to finish. */
#define QM_TIMEOUT_S 120

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

/* Adds the copy VOLID at PATH to SNIPPET_RECORD (decision 1), once; a line of an older
 * version for the same path is replaced. */
static int record_snippet(const struct sysroot *sr, const char *volid, const char *path)
{
	static struct snippet_copy c[SNIPPET_RECORD_LINES];
	int n, bad, i;

	n = snipcopy_load(sr, c, SNIPPET_RECORD_LINES, &bad);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		if (!strcmp(c[i].path, path))
			break;
	if (i < n && !strcmp(c[i].volid, volid) && !bad)
		return 0;
	if (i == n && n == SNIPPET_RECORD_LINES)
		return -EFBIG;
	str_copy(c[i].volid, sizeof(c[i].volid), volid);
	str_copy(c[i].path, sizeof(c[i].path), path);
	return snipcopy_save(sr, c, i == n ? n + 1 : n);
}

/* Drops PATH from SNIPPET_RECORD. */
static int unrecord_snippet(const struct sysroot *sr, const char *path)
{
	static struct snippet_copy c[SNIPPET_RECORD_LINES];
	int n, bad, k = 0;

	n = snipcopy_load(sr, c, SNIPPET_RECORD_LINES, &bad);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (strcmp(c[i].path, path))
			c[k++] = c[i];
	return k == n && !bad ? 0 : snipcopy_save(sr, c, k);
}

enum snippet_kind { SNIP_NONE, SNIP_COPY, SNIP_OLD_LINK, SNIP_FOREIGN };

/* What is at PATH: nothing, our copy (DATA, LEN: its content, when the caller wants to compare;
 * freed by the caller), an older version's symlink, or someone else's file. */
static int snippet_kind(const struct sysroot *sr, const char *path, char **data, size_t *len)
{
	char target[SR_PATH_MAX];
	struct stat st;
	ssize_t n;
	int r;

	r = sr_lstat(sr, path, &st);
	if (r == -ENOENT)
		return SNIP_NONE;
	if (r < 0)
		return r;
	if (S_ISLNK(st.st_mode))
		return sr_readlink(sr, path, target, sizeof(target)) == 0 &&
		       !strcmp(target, HOOK_TARGET) ? SNIP_OLD_LINK : SNIP_FOREIGN;
	if (!S_ISREG(st.st_mode) || (unsigned long)st.st_size > SNIPPET_MAX)
		return SNIP_FOREIGN;
	*data = malloc(SNIPPET_MAX + 1);
	if (!*data)
		return -ENOMEM;
	n = sr_read(sr, path, *data, SNIPPET_MAX + 1);
	if (n < 0)
		return (int)n;
	*len = (size_t)n;
	return memmem(*data, *len, SNIPPET_MARKER, strlen(SNIPPET_MARKER)) ? SNIP_COPY : SNIP_FOREIGN;
}

/* Makes DIR/pve-gpu-passthrough-hook our copy of SNIPPET_SRC (decision 1). */
static int place_snippet(const struct cli_globals *g, const struct pve_storage *s,
			 const char *dir, bool force, bool dry_run)
{
	_cleanup_free_ char *have = NULL, *want = NULL;
	char path[SR_PATH_MAX];
	size_t have_len = 0;
	ssize_t want_len;
	int kind, r;

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
	want = malloc(SNIPPET_MAX + 1);
	if (!want)
		return -1;
	want_len = sr_read(&g->root, SNIPPET_SRC, want, SNIPPET_MAX + 1);
	if (want_len < 0 || (size_t)want_len > SNIPPET_MAX ||
	    !memmem(want, (size_t)want_len, SNIPPET_MARKER, strlen(SNIPPET_MARKER))) {
		fprintf(stderr, PROG " %s: cannot read the snippet program '%s': %s; is the package "
				"installed?\n", verb, SNIPPET_SRC,
			want_len < 0 ? sr_strerror((int)want_len) : "not ours");
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
	kind = dry_run && !sr_exists(&g->root, dir) ? SNIP_NONE
						    : snippet_kind(&g->root, path, &have, &have_len);
	if (kind < 0) {
		fprintf(stderr, PROG " %s: cannot inspect '%s': %s\n", verb, path, strerror(-kind));
		return -1;
	}
	if (kind == SNIP_COPY && have_len == (size_t)want_len && !memcmp(have, want, have_len))
		return 0; /* already our current copy */
	if (kind == SNIP_FOREIGN) {
		if (!force) {
			fprintf(stderr, PROG " %s: '%s' exists and is not our snippet program; move it "
					"away, or use --force to replace it\n", verb, path);
			return -1;
		}
		printf("replacing %s (--force)\n", path);
	}
	if (dry_run) {
		printf("would %s %s (a copy of %s)\n", kind == SNIP_NONE ? "create" : "replace", path,
		       SNIPPET_SRC);
		return 0;
	}
	/* Atomic: a temporary file renamed over the final name (a symlink is replaced, not
	 * followed). */
	r = sr_write_file_atomic(&g->root, path, want, (size_t)want_len, 0755);
	if (r < 0) {
		fprintf(stderr, PROG " %s: cannot write '%s': %s\n", verb, path, strerror(-r));
		return -1;
	}
	printf("%s %s (a copy of %s)\n", kind == SNIP_NONE ? "created" : "updated", path, SNIPPET_SRC);
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
		       "Make Proxmox run our hookscript for VM VMID: copy the snippet program into\n"
		       "the storage's snippets directory and run 'qm set VMID --hookscript'. A\n"
		       "hookscript the VM already has is kept and run by ours in every phase.\n\n"
		       "  -s, --storage NAME   the storage that holds the snippet (default: local;\n"
		       "                       it needs the 'snippets' content type)\n"
		       "  -f, --force          replace a file at the snippet path that is not our\n"
		       "                       snippet program (the VM's own hookscript is kept\n"
		       "                       without it)\n"
		       "  -n, --dry-run        print what it would do; change nothing\n"
		       "  -h, --help           this text\n");
	else
		printf("usage: " PROG " detach VMID [--dry-run]\n\n"
		       "Remove our hookscript from VM VMID: put back the hookscript attach kept, or\n"
		       "'qm set VMID --delete hookscript'; the snippet goes when no VM uses it.\n\n"
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

static void remove_unused_copy(const struct cli_globals *g, const char *volid, int vmid,
			       bool dry_run);

/* Loads storage ID, printing why when that fails. */
static int load_storage(const struct cli_globals *g, const char *id, struct pve_storage *s)
{
	int r = pve_storage_load(&g->root, id, s);

	if (r == -ENOENT)
		fprintf(stderr, PROG " %s: storage '%s' does not exist in '%s'\n", verb, id,
			PVE_STORAGE_CFG);
	else if (r == -EBADMSG)
		fprintf(stderr, PROG " %s: storage '%s' in '%s' has a content-dirs entry Proxmox "
				"rejects (a '..' or an over-long path); fix it first\n", verb, id,
			PVE_STORAGE_CFG);
	else if (r < 0)
		fprintf(stderr, PROG " %s: cannot read '%s': %s\n", verb, PVE_STORAGE_CFG, sr_strerror(r));
	return r;
}

static int cmd_attach(struct cli_globals *g, int argc, char **argv)
{
	const char *storage = NULL;
	bool force = false, dry_run = false, attached, keep = false;
	char hook[256], volid[128], dir[SR_PATH_MAX], vmid_s[16], path[SR_PATH_MAX];
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
		if (pve_snippet_volid_ours(hook)) {
			printf("VM %d uses our hookscript from '%s'; moving it to '%s'\n", vmid, hook,
			       volid);
		} else if (!pve_snippet_volid_valid(hook)) {
			fprintf(stderr, PROG " %s: VM %d has hookscript '%s', which is not a snippet "
					"volume Proxmox would run; fix it first (qm set %d --delete "
					"hookscript)\n", verb, vmid, hook, vmid);
			return CLI_EXIT_FAIL;
		} else {
			keep = true;
		}
	}

	if (load_storage(g, storage, &s) < 0 || check_storage(g, &s) < 0)
		return CLI_EXIT_FAIL;
	if (!sr_exists(&g->root, HOOK_TARGET)) {
		fprintf(stderr, PROG " %s: the hookscript '%s' is missing; is the package installed?\n", verb,
			HOOK_TARGET);
		return CLI_EXIT_FAIL;
	}
	r = pve_storage_snippets_dir(&s, dir);
	if (r == 0)
		r = sr_path(path, "%s/%s", dir, HOOK_NAME);
	if (r < 0) {
		fprintf(stderr, PROG " %s: storage '%s': snippets directory: %s\n", verb, storage,
			strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (place_snippet(g, &s, dir, force, dry_run) < 0)
		return CLI_EXIT_FAIL;
	if (!dry_run && (r = record_snippet(&g->root, volid, path)) < 0)
		fprintf(stderr, PROG " %s: warning: cannot record the snippet in '%s': %s; the "
				"package's upgrades will not refresh it\n", verb, SNIPPET_RECORD,
			strerror(-r));
	cli_cluster_attach(g, vmid, volid, dry_run); /* before the VM changes: what the cluster lacks */
	if (attached) {
		printf("VM %d already uses hookscript '%s'\n", vmid, volid);
		return CLI_EXIT_OK;
	}
	/* Decision 3: the record first, so that the VM's first start with ours runs theirs. */
	if (keep) {
		printf("VM %d: keeping its own hookscript '%s': ours runs it in every phase, detach "
		       "puts it back\n", vmid, hook);
		if (dry_run) {
			printf("would write %s/%d\n", HOOKREC_DIR, vmid);
		} else if ((r = hookrec_save(&g->root, vmid, hook)) < 0) {
			fprintf(stderr, PROG " %s: cannot record VM %d's own hookscript in '%s/%d': %s; "
					"nothing changed\n", verb, vmid, HOOKREC_DIR, vmid, strerror(-r));
			return CLI_EXIT_FAIL;
		}
	}
	snprintf(vmid_s, sizeof(vmid_s), "%d", vmid);
	char *qm[] = { "qm", "set", vmid_s, "--hookscript", volid, NULL };
	if (run_qm(&g->root, qm, dry_run) < 0) {
		if (keep && !dry_run)
			hookrec_remove(&g->root, vmid); /* the VM still has its own */
		return CLI_EXIT_FAIL;
	}
	if (!dry_run && sr_is_host(&g->root))
		printf("VM %d: hookscript set to '%s'\n", vmid, volid);
	if (hook[0] && !keep) /* moved: the copy it used goes when no VM uses it any more */
		remove_unused_copy(g, hook, vmid, dry_run);
	return CLI_EXIT_OK;
}

/* Decision 4: removes the copy behind our VOLID when no VM names it any more (VMID's live
 * section, which detach is changing, not counted). */
static void remove_unused_copy(const struct cli_globals *g, const char *volid, int vmid,
			       bool dry_run)
{
	_cleanup_free_ char *data = NULL;
	char path[SR_PATH_MAX];
	size_t len;
	int users, kind, r;

	users = pve_hookscript_users(&g->root, volid, vmid);
	if (users != 0) {
		if (users > 0)
			printf("the snippet '%s' stays: %d other VM configuration%s name%s it\n", volid,
			       users, users == 1 ? "" : "s", users == 1 ? "s" : "");
		else
			printf("the snippet '%s' stays: cannot read the VM configurations (%s)\n",
			       volid, strerror(-users));
		return;
	}
	if (pve_snippet_path(&g->root, volid, path) < 0)
		return; /* the storage is gone: nothing of ours to remove */
	kind = snippet_kind(&g->root, path, &data, &len);
	if (kind != SNIP_COPY && kind != SNIP_OLD_LINK) {
		if (kind == SNIP_FOREIGN)
			printf("'%s' is not our snippet program; left alone\n", path);
		return;
	}
	if (dry_run) {
		printf("would remove %s (no VM uses it)\n", path);
		return;
	}
	r = sr_unlink(&g->root, path);
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, PROG " %s: warning: cannot remove '%s': %s\n", verb, path, strerror(-r));
		return;
	}
	unrecord_snippet(&g->root, path);
	printf("removed %s (no VM uses it)\n", path);
}

static int cmd_detach(struct cli_globals *g, int argc, char **argv)
{
	const char *storage = NULL;
	bool force = false, dry_run = false;
	char hook[256], vmid_s[16], theirs[VOLID_MAX];
	int vmid, r, rec;

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
	if (!pve_snippet_volid_ours(hook)) {
		fprintf(stderr, PROG " %s: VM %d has hookscript '%s', which is not ours; leaving it "
				"alone\n", verb,
			vmid, hook);
		return CLI_EXIT_FAIL;
	}
	rec = hookrec_load(&g->root, vmid, theirs, sizeof(theirs));
	if (rec < 0 && rec != -ENOENT) {
		fprintf(stderr, PROG " %s: cannot read VM %d's own hookscript's record '%s/%d': %s; "
				"look at it, then remove it or run: qm set %d --delete hookscript\n",
			verb, vmid, HOOKREC_DIR, vmid,
			rec == -EBADMSG ? "not a record of ours" : strerror(-rec), vmid);
		return CLI_EXIT_FAIL;
	}
	snprintf(vmid_s, sizeof(vmid_s), "%d", vmid);
	char *qm_del[] = { "qm", "set", vmid_s, "--delete", "hookscript", NULL };
	char *qm_back[] = { "qm", "set", vmid_s, "--hookscript", theirs, NULL };
	if (run_qm(&g->root, rec == 0 ? qm_back : qm_del, dry_run) < 0)
		return CLI_EXIT_FAIL;
	if (rec == 0 && !dry_run && (r = hookrec_remove(&g->root, vmid)) < 0)
		fprintf(stderr, PROG " %s: warning: cannot remove '%s/%d': %s\n", verb, HOOKREC_DIR,
			vmid, strerror(-r));
	if (!dry_run && sr_is_host(&g->root))
		printf(rec == 0 ? "VM %d: hookscript '%s' replaced by its own '%s'\n"
				: "VM %d: hookscript '%s' removed\n", vmid, hook, theirs);
	remove_unused_copy(g, hook, vmid, dry_run);
	return CLI_EXIT_OK;
}

CLI_COMMAND(attach, "attach", cmd_attach, "VMID [--storage S] [--force]",
	    "run our hookscript for VM VMID (via qm set)");
CLI_COMMAND(detach, "detach", cmd_detach, "VMID", "remove our hookscript from VM VMID");
