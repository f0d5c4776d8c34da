/* cmd_setup.c - `setup [--dry-run] [--yes] [--json] [--early ADDR|ID...] [--no-fb]` and
 * `setup --undo`: the host side of passthrough done, not only described. The work is in
 * common/setup_plan.c (the plan) and common/setup_apply.c (the transaction and its undo); this
 * verb parses its command line, shows the plan (a unified diff per file, the commands), asks
 * (--yes: not asked; --dry-run and --json without --yes: stop there) and prints what was done.
 * Documented in pve-gpu-passthrough(8), "setup".
 * Exit 0 done (or nothing to change), 1 refused or failed, 64 bad command line. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "cli.h"
#include "json.h"
#include "setup_plan.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"

struct setup_args {
	bool dry_run, yes, json, undo;
	struct setup_opts o;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " setup [--dry-run] [--yes] [--json] [--no-fb] [--early ADDR|ID...]\n"
		     "       " PROG " setup [--dry-run] [--yes] [--json] [--no-fb] --sriov ADDR=N\n"
		     "       " PROG " setup --undo [--dry-run] [--yes]\n\n"
		     "Make the host changes check asks for: the kernel command line (with its boot\n"
		     "loader's refresh), the vfio modules at boot and, with --early, the [early]\n"
		     "section of the INI (then update-initramfs), with --sriov its [sriov] section.\n"
		     "Shows each change as a diff first.\n\n"
		     "  -n, --dry-run  show the changes, change nothing\n"
		     "  -y, --yes      do not ask\n"
		     "  -j, --json     the plan as JSON (changes nothing without --yes)\n"
		     "      --no-fb    also add initcall_blacklist=sysfb_init (no boot console on the GPU)\n"
		     "  -e, --early    bind these devices at boot: ADDR (a function, or BUS:SLOT for the\n"
		     "                 whole card) or vendor:device ID (one card only)\n"
		     "      --sriov ADDR=N  make N VFs of the SR-IOV PF at ADDR at every boot ([sriov]);\n"
		     "                 sysfsutils lines for that PF (/etc/sysfs.conf, /etc/sysfs.d) go\n"
		     "  -u, --undo     take back setup's runs, newest first (a file changed since is kept)\n"
		     "  -h, --help     this text\n");
}

/* --- showing ------------------------------------------------------------------------------ */

/* Splits TEXT into lines (pointers into it, the '\n' kept out); the count. */
static int split_lines(const char *text, size_t len, const char ***ret, size_t **ret_len)
{
	int n = 0, cap = 16;
	const char **l = malloc(sizeof(*l) * (size_t)cap);
	size_t *ll = malloc(sizeof(*ll) * (size_t)cap);
	const char *s = text ? text : "", *end = s + (text ? len : 0);

	if (!l || !ll) {
		free(l);
		free(ll);
		return -ENOMEM;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;

		if (n == cap) {
			const char **l2;
			size_t *ll2;

			cap *= 2;
			l2 = realloc(l, sizeof(*l) * (size_t)cap);
			if (l2)
				l = l2;
			ll2 = realloc(ll, sizeof(*ll) * (size_t)cap);
			if (ll2)
				ll = ll2;
			if (!l2 || !ll2) {
				free(l);
				free(ll);
				return -ENOMEM;
			}
		}
		l[n] = s;
		ll[n++] = (size_t)(e - s);
		s = nl ? nl + 1 : end;
	}
	*ret = l;
	*ret_len = ll;
	return n;
}

/* "START,COUNT" as diff -u writes it: ",1" left out, an empty range starts before line 1. */
static void hunk_range(FILE *out, int from, int count)
{
	if (count == 1)
		fprintf(out, "%d", from + 1);
	else
		fprintf(out, "%d,%d", count ? from + 1 : from, count);
}

/* A unified diff of C as one hunk: the lines between the first and the last that differ,
 * with 3 lines of context (setup's edits are one contiguous region per file). */
static void print_diff(FILE *out, const struct setup_change *c)
{
	const char **a = NULL, **b = NULL;
	size_t *al = NULL, *bl = NULL;
	int na = split_lines(c->old, c->old_len, &a, &al);
	int nb = split_lines(c->new, c->new_len, &b, &bl);
	int pre = 0, suf = 0, from, ato, bto;

	if (na < 0 || nb < 0) {
		fprintf(out, "(out of memory)\n");
		goto out;
	}
	while (pre < na && pre < nb && al[pre] == bl[pre] && !memcmp(a[pre], b[pre], al[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && al[na - 1 - suf] == bl[nb - 1 - suf] &&
	       !memcmp(a[na - 1 - suf], b[nb - 1 - suf], al[na - 1 - suf]))
		suf++;
	from = pre > 3 ? pre - 3 : 0;
	ato = na - suf + 3 < na ? na - suf + 3 : na;
	bto = nb - suf + 3 < nb ? nb - suf + 3 : nb;
	fprintf(out, "--- %s\n+++ %s\n", c->old ? c->path : "/dev/null", c->path);
	fprintf(out, "@@ -");
	hunk_range(out, from, ato - from);
	fprintf(out, " +");
	hunk_range(out, from, bto - from);
	fprintf(out, " @@\n");
	for (int i = from; i < pre; i++)
		fprintf(out, " %.*s\n", (int)al[i], a[i]);
	for (int i = pre; i < na - suf; i++)
		fprintf(out, "-%.*s\n", (int)al[i], a[i]);
	for (int i = pre; i < nb - suf; i++)
		fprintf(out, "+%.*s\n", (int)bl[i], b[i]);
	for (int i = na - suf; i < ato; i++)
		fprintf(out, " %.*s\n", (int)al[i], a[i]);
out:
	free(a);
	free(al);
	free(b);
	free(bl);
}

static void print_plan(FILE *out, const struct setup_plan *p)
{
	const struct check_report *rep = p->rep;

	fprintf(out, "setup: kernel %s, boot loader %s\n", rep->host.release[0] ? rep->host.release :
		"unknown", boot_kind_name(rep->boot.kind));
	for (int i = 0; i < p->nnotes; i++)
		fprintf(out, "note: %s\n", p->notes[i]);
	if (p->refused[0])
		return;
	for (int i = 0; i < p->nch; i++) {
		fputc('\n', out);
		print_diff(out, &p->ch[i]);
	}
	if (p->ncmds) {
		fprintf(out, "\nthen run:\n");
		for (int i = 0; i < p->ncmds; i++)
			fprintf(out, "    %s\n", p->cmds[i]->text);
	}
}

static void json_diff(FILE *out, const struct setup_change *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m) {
		fprintf(out, "null");
		return;
	}
	print_diff(m, c);
	fclose(m);
	json_str(out, buf);
	free(buf);
}

static void print_json(FILE *out, const struct setup_plan *p, bool applied, int rc)
{
	const struct host_boot *b = &p->rep->boot;

	fprintf(out, "{\"version\":1,\"kernel\":");
	json_str(out, p->rep->host.release[0] ? p->rep->host.release : NULL);
	fprintf(out, ",\"boot\":{\"loader\":");
	json_str(out, b->kind == BOOT_GRUB ? "grub" : b->kind == BOOT_SYSTEMD_BOOT ? "systemd-boot" :
		 NULL);
	fprintf(out, ",\"file\":");
	json_str(out, b->kind == BOOT_UNKNOWN ? NULL : b->file);
	fprintf(out, ",\"line\":%d,\"refresh\":", b->line);
	json_str(out, b->refresh[0] ? b->refresh : NULL);
	fprintf(out, "},\"add\":");
	json_str(out, p->add);
	fprintf(out, ",\"remove\":");
	json_str(out, p->remove);
	fprintf(out, ",\"refused\":");
	json_str(out, p->refused[0] ? p->refused : NULL);
	fprintf(out, ",\"notes\":[");
	for (int i = 0; i < p->nnotes; i++) {
		fprintf(out, "%s", i ? "," : "");
		json_str(out, p->notes[i]);
	}
	fprintf(out, "],\"files\":[");
	for (int i = 0; !p->refused[0] && i < p->nch; i++) {
		fprintf(out, "%s{\"path\":", i ? "," : "");
		json_str(out, p->ch[i].path);
		fprintf(out, ",\"kind\":\"%s\",\"action\":\"%s\",\"diff\":", setup_kind_names[p->ch[i].kind],
			p->ch[i].old ? "modify" : "create");
		json_diff(out, &p->ch[i]);
		fprintf(out, "}");
	}
	fprintf(out, "],\"commands\":[");
	for (int i = 0; !p->refused[0] && i < p->ncmds; i++) {
		fprintf(out, "%s", i ? "," : "");
		json_str(out, p->cmds[i]->text);
	}
	fprintf(out, "],\"applied\":%s,\"exit\":%d}\n", applied ? "true" : "false", rc);
}

/* --- what was done ---------------------------------------------------------------------- */

static void print_output(const char *text)
{
	const char *s = text;

	while (*s) {
		const char *nl = strchr(s, '\n');
		int len = nl ? (int)(nl - s) : (int)strlen(s);

		fprintf(stderr, "    %.*s\n", len, s);
		s += len + (nl ? 1 : 0);
	}
}

static void print_commands(FILE *out, const struct sysroot *sr,
			   const struct setup_command *const *cmds, int n, bool not_run)
{
	for (int i = 0; i < n; i++)
		if (not_run)
			fprintf(out, "not run (the root is '%s', not this machine's /): %s\n", sr->dir,
				cmds[i]->text);
		else
			fprintf(out, "running: %s\n", cmds[i]->text);
}

/* What setup_apply did (R its result), on OUT (stdout, or stderr under --json). */
static int print_applied(FILE *out, const struct sysroot *sr, const struct setup_plan *p,
			 const struct setup_applied *a, int r)
{
	for (int i = 0; i < a->nwritten; i++)
		fprintf(out, "wrote '%s'%s\n", p->ch[i].path, p->ch[i].old ? "" : " (new)");
	if (r == 0) {
		print_commands(out, sr, p->cmds, p->ncmds, a->commands_not_run);
		return CLI_EXIT_OK;
	}
	print_commands(out, sr, p->cmds, a->failed_cmd >= 0 ? a->failed_cmd + 1 : 0, false);
	fflush(out);
	fprintf(stderr, PROG " setup: %s\n", a->error);
	if (a->failed_cmd >= 0)
		print_output(a->output);
	for (int i = 0; i < a->nrestored; i++)
		if (a->restore_err[i] < 0)
			fprintf(stderr, PROG " setup: cannot restore '%s': %s\n", p->ch[i].path,
				strerror(-a->restore_err[i]));
		else
			fprintf(stderr, PROG " setup: restored '%s'%s\n", p->ch[i].path,
				p->ch[i].old ? "" : " (removed)");
	if (a->failed_cmd > 0) {
		fprintf(stderr, PROG " setup: running again what had succeeded, on the restored files:\n");
		for (int i = 0; i < a->failed_cmd; i++)
			fprintf(stderr, "    %s\n", p->cmds[i]->text);
		if (a->rerun_failed)
			fprintf(stderr, PROG " setup: %d of them failed again: run them yourself\n",
				a->rerun_failed);
	}
	return CLI_EXIT_FAIL;
}

static int undo(const struct sysroot *sr, bool dry_run)
{
	_cleanup_free_ struct setup_undone *u = calloc(1, sizeof(*u));
	char why[SETUP_LINE_MAX];
	int r;

	if (!u) {
		fprintf(stderr, PROG " setup: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	r = setup_undo(sr, dry_run, u);
	if (r < 0) {
		fprintf(stderr, PROG " setup: cannot read '%s': %s\n", SETUP_MANIFEST,
			r == -EINVAL ? "a line setup does not write: nothing was changed" :
				       strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (!u->nruns) {
		printf("nothing to undo: setup has changed no file ('%s' lists none)\n",
		       SETUP_MANIFEST);
		return CLI_EXIT_OK;
	}
	for (int i = 0; i < u->nf; i++) {
		const struct setup_undo_file *f = &u->f[i];
		char before[SR_PATH_MAX + 64];

		if (f->created)
			snprintf(before, sizeof(before), "setup created it in that run: not removed");
		else
			snprintf(before, sizeof(before), "as it was before that run: '%s'", f->backup);
		switch (f->action) {
		case SETUP_UNDO_RESTORED:
		case SETUP_UNDO_REMOVED:
			printf("%s%s '%s' (run %d)\n", dry_run ? "would " : "",
			       f->action == SETUP_UNDO_REMOVED ? (dry_run ? "remove" : "removed") :
			       (dry_run ? "restore" : "restored"), f->path, f->run);
			break;
		case SETUP_UNDO_CHANGED:
		case SETUP_UNDO_GONE:
			printf("left alone: '%s' %s since setup run %d wrote it (%s)\n", f->path,
			       f->action == SETUP_UNDO_GONE ? "was removed" : "was changed", f->run,
			       before);
			break;
		case SETUP_UNDO_LATER_KEPT:
			printf("left alone: '%s' as changed by setup run %d: a later run's change of it "
			       "was kept (%s)\n", f->path, f->run, before);
			break;
		case SETUP_UNDO_INCOMPLETE:
			fprintf(stderr, PROG " setup: the backup of '%s' (run %d) in '%s' is incomplete: left "
				"alone\n", f->path, f->run, SETUP_BACKUP_DIR);
			break;
		case SETUP_UNDO_UNSAFE:
			fprintf(stderr, PROG " setup: left alone: %s\n", f->why);
			break;
		case SETUP_UNDO_FAILED:
			fprintf(stderr, PROG " setup: cannot restore '%s': %s\n", f->path, strerror(-f->err));
			break;
		}
	}
	for (int i = 0; i < u->ndirs; i++)
		printf("removed '%s' (setup created it)\n", u->dirs[i]);
	if (u->manifest_write_failed)
		fprintf(stderr, PROG " setup: cannot rewrite '%s'\n", SETUP_MANIFEST);
	if (u->boot_unknown)
		fprintf(stderr, PROG " setup: cannot tell the boot loader any more: run update-grub or "
				"proxmox-boot-tool refresh yourself\n");
	if (u->failed_cmd >= 0) {
		print_commands(stdout, sr, u->cmds, u->failed_cmd + 1, false);
		fflush(stdout);
		setup_command_error(u->cmds[u->failed_cmd], u->failed_status, why, sizeof(why));
		fprintf(stderr, PROG " setup: %s\n", why);
		print_output(u->output);
		return CLI_EXIT_FAIL;
	}
	print_commands(stdout, sr, u->cmds, u->ncmds, u->commands_not_run);
	if (u->ncmds)
		printf("reboot to boot without the changes\n");
	return r ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static bool ask(void)
{
	char line[16];

	printf("\napply these changes? [y/N] ");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void print_after(const struct setup_plan *p)
{
	bool boot = false, modules = false, early = false, sriov = false;

	for (int i = 0; i < p->nch; i++) {
		boot |= p->ch[i].kind == SETUP_BOOT;
		modules |= p->ch[i].kind == SETUP_MODULES;
		early |= p->ch[i].kind == SETUP_EARLY;
		sriov |= p->ch[i].kind == SETUP_SRIOV;
	}
	printf("\nreboot for:");
	if (boot)
		printf(" the kernel command line (%s%s%s%s%s)", p->add[0] ? "add " : "", p->add,
		       p->add[0] && p->remove[0] ? ", " : "", p->remove[0] ? "remove " : "", p->remove);
	if (modules)
		printf("%s the vfio modules at boot", boot ? ";" : "");
	if (early)
		printf("%s early binding of the [early] devices", boot || modules ? ";" : "");
	if (sriov)
		printf("%s the [sriov] VFs (made at boot by pve-gpu-passthrough-sriov@PF.service; "
		       "now: " PROG " sriov apply)", boot || modules || early ? ";" : "");
	printf("\nthen run: " PROG " check (it verifies each change); "
	       PROG " setup --undo puts the files back\n");
}

static int cmd_setup(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-fb", no_argument, NULL, 'F' },
		{ "early", no_argument, NULL, 'e' },
		{ "sriov", required_argument, NULL, 'S' },
		{ "undo", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct setup_args a = { 0 };
	_cleanup_free_ struct setup_applied *done = NULL;
	struct setup_plan *p;
	bool early_opt = false;
	int c, r, rc;

	optind = 0; /* 0: glibc starts over, permuting (the verb dispatch parsed with "+") */
	while ((c = getopt_long(argc, argv, "nyjeuh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a.dry_run = true; break;
		case 'y': a.yes = true; break;
		case 'j': a.json = true; break;
		case 'F': a.o.no_fb = true; break;
		case 'e': early_opt = true; break;
		case 'S': a.o.sriov = optarg; break;
		case 'u': a.undo = true; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default:
			return cli_bad_option("setup", argv, opts);
		}
	}
	a.o.early = argv + optind;
	a.o.nearly = argc - optind;
	a.o.config = g->config;
	a.o.node = g->node;
	if (a.o.nearly && !early_opt)
		return cli_unexpected_arg("setup", argv[optind]); /* devices follow --early */
	if (early_opt && !a.o.nearly) {
		return cli_usage_error("setup", "--early needs at least one ADDR or ID");
	}
	if (a.o.nearly > CONFIG_MAX_EARLY) {
		return cli_usage_error("setup", "at most %d --early devices", CONFIG_MAX_EARLY);
	}
	if (a.o.sriov && a.o.nearly) {
		return cli_usage_error("setup", "--sriov and --early both edit the INI: one at a time");
	}
	if (a.undo && (a.o.nearly || a.o.sriov || a.o.no_fb || a.json)) {
		return cli_usage_error("setup", "--undo takes only --dry-run and --yes");
	}
	if (!a.dry_run && !(a.json && !a.yes) && (r = cli_need_root(g, "setup")))
		return r;
	/* the files keep their modes exactly (sr_write_file_atomic creates with MODE) */
	umask(0);
	if (a.undo)
		return undo(&g->root, a.dry_run);

	p = calloc(1, sizeof(*p));
	done = calloc(1, sizeof(*done));
	if (!p || !done) {
		fprintf(stderr, PROG " setup: out of memory\n");
		free(p);
		return CLI_EXIT_FAIL;
	}
	r = setup_plan_make(&g->root, &a.o, p);
	if (r < 0) {
		fprintf(stderr, PROG " setup: cannot examine the host: %s\n", strerror(-r));
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (a.json) {
		rc = p->refused[0] ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		if (!p->refused[0] && a.yes && p->nch && !a.dry_run) {
			/* the plan on stdout stays JSON: what was done goes to stderr */
			r = setup_apply(&g->root, p, done);
			rc = print_applied(stderr, &g->root, p, done, r);
			print_json(stdout, p, rc == 0, rc);
		} else {
			print_json(stdout, p, false, rc);
		}
		goto out;
	}
	print_plan(stdout, p);
	if (p->refused[0]) {
		fprintf(stderr, PROG " setup: refused: %s\n", p->refused);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (!p->nch) {
		printf("\nnothing to change: the host already has everything setup makes\n");
		if (p->rep->boot.kind != BOOT_UNKNOWN && (p->add[0] || p->remove[0]))
			printf("(the running kernel was booted without some of it: reboot, then run "
			       PROG " check)\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (a.dry_run) {
		printf("\n--dry-run: nothing was changed\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (!a.yes) {
		if (!isatty(0)) {
			fprintf(stderr, PROG " setup: not asking without a terminal: run it again "
					"with --yes to make these changes\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		if (!ask()) {
			printf("nothing was changed\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	printf("\n");
	r = setup_apply(&g->root, p, done);
	rc = print_applied(stdout, &g->root, p, done, r);
	if (rc == 0)
		print_after(p);
out:
	setup_plan_free(p);
	free(p);
	return rc;
}

CLI_COMMAND(setup, "setup", cmd_setup, "[--dry-run] [--early ADDR..]",
	    "make the host changes check asks for; --undo");
