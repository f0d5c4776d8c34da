/* setup_apply.c - see setup_plan.h: setup's transaction and its undo.
 *
 * The backups: SETUP_MANIFEST lists numbered runs, "file R N KIND present|absent PATH" (R.N.orig
 * is what PATH held just before run R, R.N.new what run R wrote) and "dir R PATH" (a directory
 * run R created). A manifest of the first format ("file N KIND STATE PATH", "dir PATH": one
 * backup for all runs, N.orig the text before the first run, N.new what the last one wrote) is
 * read as run 0 with those names, so it can still be undone.
 *
 * The refresh commands are run by absolute path with a fixed environment, and only when the
 * root is this machine's "/". */
#define _GNU_SOURCE
#include "setup_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_boot.h"
#include "host_info.h"
#include "spawn.h"
#include "util.h"

#define MAX_ENTRIES SETUP_UNDO_MAX /* in the manifest: files and directories of all runs */

struct entry {
	int run;           /* 0: a manifest of the first format */
	int n;             /* the file's number in its run; 0 for a directory */
	enum setup_kind kind;
	bool present;      /* the file existed before that run */
	bool dir;          /* a directory that run created (removed when empty) */
	char path[SR_PATH_MAX];
};

struct manifest {
	struct entry e[MAX_ENTRIES];
	int n;
};

static int parse_kind(const char *s, enum setup_kind *ret)
{
	for (int k = 0; k <= SETUP_SRIOV; k++)
		if (!strcmp(s, setup_kind_names[k])) {
			*ret = (enum setup_kind)k;
			return 0;
		}
	return -EINVAL;
}

/* One manifest line into E: 0, or -EINVAL. */
static int parse_entry(const char *line, struct entry *e)
{
	char kind[16], state[16];
	int off = 0;

	*e = (struct entry){ 0 };
	if (str_has_prefix(line, "dir ")) {
		e->dir = true;
		if (line[4] != '/' &&
		    (sscanf(line, "dir %d %n", &e->run, &off) != 1 || !off || e->run < 0 ||
		     e->run > 9999))
			return -EINVAL;
		return str_copy(e->path, sizeof(e->path), line + (off ? off : 4)) < 0 ||
		       e->path[0] != '/' ? -EINVAL : 0;
	}
	if (sscanf(line, "file %d %d %15s %15s %n", &e->run, &e->n, kind, state, &off) != 4 || !off) {
		/* the first format */
		e->run = 0;
		off = 0;
		if (sscanf(line, "file %d %15s %15s %n", &e->n, kind, state, &off) != 3 || !off)
			return -EINVAL;
	} else if (e->run < 0 || e->run > 9999) {
		return -EINVAL;
	}
	if (e->n < 1 || e->n > 99 || line[off] != '/' || parse_kind(kind, &e->kind) < 0 ||
	    (strcmp(state, "present") && strcmp(state, "absent")))
		return -EINVAL;
	e->present = !strcmp(state, "present");
	return str_copy(e->path, sizeof(e->path), line + off) < 0 ? -EINVAL : 0;
}

static int read_manifest(const struct sysroot *sr, struct manifest *m)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	m->n = 0;
	r = sr_read_file(sr, SETUP_MANIFEST, 1u << 20, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (m->n == MAX_ENTRIES)
			return -E2BIG;
		if (parse_entry(line, &m->e[m->n]) < 0)
			return -EINVAL;
		m->n++;
	}
	return 0;
}

/* Writes the first N entries of M (removes the manifest when N is 0). */
static int write_manifest(const struct sysroot *sr, const struct manifest *m, int n)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (!n) {
		r = sr_unlink(sr, SETUP_MANIFEST);
		return r == -ENOENT ? 0 : r;
	}
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# pve-gpu-passthrough setup: the runs 'setup --undo' takes back, newest last "
		   "(R.N.orig: the file before run R, R.N.new: what run R wrote)\n");
	for (int i = 0; i < n; i++) {
		const struct entry *e = &m->e[i];

		if (e->dir)
			fprintf(f, "dir %d %s\n", e->run, e->path);
		else
			fprintf(f, "file %d %d %s %s %s\n", e->run, e->n, setup_kind_names[e->kind],
				e->present ? "present" : "absent", e->path);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	return sr_write_file_atomic(sr, SETUP_MANIFEST, text, len, 0600);
}

/* The backup of entry E: WHAT is "orig" or "new". */
static int backup_path(char out[SR_PATH_MAX], const struct entry *e, const char *what)
{
	if (!e->run)
		return sr_path(out, SETUP_BACKUP_DIR "/%d.%s", e->n, what);
	return sr_path(out, SETUP_BACKUP_DIR "/%d.%d.%s", e->run, e->n, what);
}

static bool same_text(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!a || !b)
		return !a && !b;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* --- the refresh commands ------------------------------------------------------------------ */

/* Runs CMD by absolute path with a fixed environment and a deadline (spawn_run), its output
 * into KEEP (the last bytes). The exit status, or -errno when it could not run or timed out. */
static int run_command(const struct setup_command *cmd, char *keep, size_t ksize)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	static const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	const char *argv[ARRAY_SIZE(cmd->argv) + 1] = { 0 };
	char path[256] = "";
	struct spawn_cmd sc = { .argv = argv, .envp = envp, .timeout_ms = SETUP_COMMAND_TIMEOUT_MS,
				.out = SPAWN_CAPTURE, .err = SPAWN_CAPTURE, .buf = keep,
				.bufsize = ksize, .keep_tail = true };

	keep[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !path[0]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], cmd->argv[0]);
		if (access(path, X_OK) < 0)
			path[0] = '\0';
	}
	if (!path[0])
		return -ENOENT;
	argv[0] = path;
	for (size_t i = 1; i < ARRAY_SIZE(cmd->argv) && cmd->argv[i]; i++)
		argv[i] = cmd->argv[i];
	return spawn_run(&sc, NULL);
}

void setup_command_error(const struct setup_command *cmd, int status, char *out, size_t size)
{
	if (status == -ENOENT)
		snprintf(out, size, "cannot run '%s': not found in /usr/sbin, /sbin, /usr/bin or /bin",
			 cmd->text);
	else if (status == -ETIMEDOUT)
		snprintf(out, size, "'%s' did not finish within %lu minutes: stopped; it printed:",
			 cmd->text, SETUP_COMMAND_TIMEOUT_MS / 60000);
	else if (status < 0)
		snprintf(out, size, "cannot run '%s': %s", cmd->text, strerror(-status));
	else
		snprintf(out, size, "'%s' failed with exit status %d; it printed:", cmd->text, status);
}

/* Runs CMDS in order (none below a test root: *NOT_RUN). The number that succeeded; on a
 * failure *FAILED is its index and *STATUS its exit status or -errno, OUT what it printed. */
static int run_commands(const struct sysroot *sr, const struct setup_command *const *cmds, int n,
			bool *not_run, int *failed, int *status, char *out, size_t osize)
{
	*failed = -1;
	if (!sr_is_host(sr)) {
		*not_run = true;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int r = run_command(cmds[i], out, osize);

		if (r != 0) {
			*failed = i;
			*status = r;
			return i;
		}
	}
	return n;
}

/* --- apply ---------------------------------------------------------------------------------- */

/* Whether C's file still holds what the plan was made from: 0, or -errno with WHY. */
static int verify(const struct sysroot *sr, const struct setup_change *c, char *why, size_t wsize)
{
	_cleanup_free_ char *cur = NULL;
	size_t len;
	mode_t mode;
	int r = setup_read_target(sr, c->path, &cur, &len, &mode, why, wsize);

	if (r < 0)
		return r;
	if (!same_text(cur, len, c->old, c->old_len)) {
		snprintf(why, wsize, "'%s' %s since setup read it: nothing was changed; run setup "
			 "again to see the new plan", c->path, !cur ? "was removed" :
			 c->old ? "was changed" : "was created");
		return -ESTALE;
	}
	return 0;
}

/* Puts the first UPTO files of P back as the plan found them. */
static void restore(const struct sysroot *sr, const struct setup_plan *p, int upto,
		    struct setup_applied *a)
{
	for (int i = 0; i < upto; i++) {
		const struct setup_change *c = &p->ch[i];
		int r = c->old ? sr_write_file_atomic(sr, c->path, c->old, c->old_len, c->mode) :
				 sr_unlink(sr, c->path);

		a->restore_err[i] = r == -ENOENT ? 0 : r;
	}
	a->nrestored = upto;
}

/* Takes run RUN (M's entries from NBEFORE on) out of the manifest and removes its backups. */
static void forget_run(const struct sysroot *sr, const struct manifest *m, int nbefore)
{
	char path[SR_PATH_MAX];

	write_manifest(sr, m, nbefore);
	for (int i = m->n - 1; i >= nbefore; i--) {
		if (m->e[i].dir) {
			sr_rmdir(sr, m->e[i].path); /* created by this run (restore emptied it) */
			continue;
		}
		if (backup_path(path, &m->e[i], "orig") == 0)
			sr_unlink(sr, path);
		if (backup_path(path, &m->e[i], "new") == 0)
			sr_unlink(sr, path);
	}
	if (!nbefore)
		sr_rmdir(sr, SETUP_BACKUP_DIR);
}

/* The backups of run RUN and its manifest entries (appended to M). */
static int save_run(const struct sysroot *sr, const struct setup_plan *p, struct manifest *m,
		    int run, struct setup_applied *a)
{
	char path[SR_PATH_MAX];
	int r;

	for (int i = 0; i < p->nch; i++) {
		const struct setup_change *c = &p->ch[i];
		struct entry *e = &m->e[m->n++];

		*e = (struct entry){ .run = run, .n = i + 1, .kind = c->kind, .present = c->old != NULL };
		str_copy(e->path, sizeof(e->path), c->path);
		if (c->old) {
			r = backup_path(path, e, "orig");
			if (r == 0)
				r = sr_write_file_atomic(sr, path, c->old, c->old_len, 0600);
			if (r < 0) {
				snprintf(a->error, sizeof(a->error), "cannot save '%s' to '%s': %s",
					 c->path, path, strerror(-r));
				return r;
			}
		}
		r = backup_path(path, e, "new");
		if (r == 0)
			r = sr_write_file_atomic(sr, path, c->new, c->new_len, 0600);
		if (r < 0) {
			snprintf(a->error, sizeof(a->error), "cannot write '%s': %s", path, strerror(-r));
			return r;
		}
	}
	for (int i = 0; i < p->nch; i++) {
		char dir[SR_PATH_MAX], *slash;
		bool listed = false;

		str_copy(dir, sizeof(dir), p->ch[i].path);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			continue;
		*slash = '\0';
		for (int k = 0; k < m->n; k++)
			listed |= m->e[k].dir && m->e[k].run == run && !strcmp(m->e[k].path, dir);
		if (listed || sr_exists(sr, dir))
			continue;
		m->e[m->n] = (struct entry){ .run = run, .dir = true };
		str_copy(m->e[m->n++].path, sizeof(m->e[0].path), dir);
	}
	r = write_manifest(sr, m, m->n);
	if (r < 0)
		snprintf(a->error, sizeof(a->error), "cannot write '%s': %s", SETUP_MANIFEST,
			 strerror(-r));
	return r;
}

int setup_apply(const struct sysroot *sr, const struct setup_plan *p, struct setup_applied *a)
{
	_cleanup_free_ struct manifest *m = NULL;
	int nbefore, r;

	memset(a, 0, sizeof(*a));
	a->failed_cmd = -1;
	/* 1. every file still as the plan read it, before anything is written */
	for (int i = 0; i < p->nch; i++) {
		r = verify(sr, &p->ch[i], a->error, sizeof(a->error));
		if (r < 0)
			return r;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(a->error, sizeof(a->error), "out of memory");
		return -ENOMEM;
	}
	r = sr_mkdir_p(sr, "/var/lib/pve-gpu-passthrough", 0755);
	if (r == 0)
		r = sr_mkdir_p(sr, SETUP_BACKUP_DIR, 0700);
	if (r < 0) {
		snprintf(a->error, sizeof(a->error), "cannot create '%s': %s", SETUP_BACKUP_DIR,
			 strerror(-r));
		return r;
	}
	r = read_manifest(sr, m);
	if (r < 0) {
		snprintf(a->error, sizeof(a->error), "cannot read '%s': %s", SETUP_MANIFEST,
			 r == -EINVAL ? "a line setup does not write" : r == -E2BIG ?
			 "more runs than setup keeps (run setup --undo first)" : strerror(-r));
		return r;
	}
	nbefore = m->n;
	if (m->n + 2 * p->nch > MAX_ENTRIES) {
		snprintf(a->error, sizeof(a->error), "'%s' holds as many runs as setup keeps: run "
			 "setup --undo first", SETUP_MANIFEST);
		return -E2BIG;
	}
	a->run = 1;
	for (int i = 0; i < m->n; i++)
		if (m->e[i].run >= a->run)
			a->run = m->e[i].run + 1;
	/* 2. what each file holds now (this run's "before") and what it gets, then the files,
	 * each checked once more right before it is replaced */
	r = save_run(sr, p, m, a->run, a);
	if (r < 0) {
		forget_run(sr, m, nbefore);
		return r;
	}
	for (int i = 0; i < p->nch; i++) {
		const struct setup_change *c = &p->ch[i];
		char dir[SR_PATH_MAX], *slash;

		r = verify(sr, c, a->error, sizeof(a->error));
		if (r == 0) {
			str_copy(dir, sizeof(dir), c->path);
			slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = '\0';
				sr_mkdir_p(sr, dir, 0755);
			}
			r = sr_write_file_atomic(sr, c->path, c->new, c->new_len, c->mode);
			if (r < 0)
				snprintf(a->error, sizeof(a->error), "cannot write '%s': %s", c->path,
					 strerror(-r));
		}
		if (r < 0) {
			restore(sr, p, a->nwritten, a);
			forget_run(sr, m, nbefore);
			return r;
		}
		a->nwritten++;
	}
	/* 3. the refresh commands */
	a->ncmds_ok = run_commands(sr, p->cmds, p->ncmds, &a->commands_not_run, &a->failed_cmd,
				   &a->failed_status, a->output, sizeof(a->output));
	if (a->failed_cmd < 0)
		return 0;
	setup_command_error(p->cmds[a->failed_cmd], a->failed_status, a->error, sizeof(a->error));
	restore(sr, p, a->nwritten, a);
	forget_run(sr, m, nbefore);
	if (a->failed_cmd > 0) {
		char keep[SETUP_OUTPUT_KEEP];
		bool not_run;
		int failed, status;

		a->rerun_failed = a->failed_cmd - run_commands(sr, p->cmds, a->failed_cmd, &not_run,
							       &failed, &status, keep, sizeof(keep));
	}
	return -ECANCELED;
}

/* --- undo ----------------------------------------------------------------------------------- */

/* A file as undo sees it while it goes back through the runs. */
struct undo_path {
	const char *path;
	bool loaded, blocked;
	char *cur;         /* NULL: it does not exist */
	size_t len;
	mode_t mode;
};

static struct undo_path *undo_path(struct undo_path *ps, int *n, const char *path)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(ps[i].path, path))
			return &ps[i];
	ps[*n] = (struct undo_path){ .path = path };
	return &ps[(*n)++];
}

static struct setup_undo_file *undo_file(struct setup_undone *u, const struct entry *e,
					 enum setup_undo_action action)
{
	struct setup_undo_file *f = &u->f[u->nf++];

	*f = (struct setup_undo_file){ .run = e->run, .action = action, .created = !e->present };
	str_copy(f->path, sizeof(f->path), e->path);
	if (e->present)
		backup_path(f->backup, e, "orig");
	return f;
}

/* Takes back entry E (a file of its run) from its file's state P: true when it was. */
static bool undo_entry(const struct sysroot *sr, bool dry_run, const struct entry *e,
		       struct undo_path *p, struct setup_undone *u)
{
	_cleanup_free_ char *wrote = NULL, *orig = NULL;
	size_t wrote_len = 0, orig_len = 0;
	char path[SR_PATH_MAX];
	struct setup_undo_file *f;
	int r;

	if (p->blocked) {
		undo_file(u, e, SETUP_UNDO_LATER_KEPT);
		return false;
	}
	p->blocked = true; /* until it is taken back */
	if (backup_path(path, e, "new") < 0 || sr_read_file(sr, path, SETUP_FILE_MAX, &wrote,
							     &wrote_len) < 0 ||
	    (e->present && (backup_path(path, e, "orig") < 0 ||
			    sr_read_file(sr, path, SETUP_FILE_MAX, &orig, &orig_len) < 0))) {
		undo_file(u, e, SETUP_UNDO_INCOMPLETE);
		return false;
	}
	if (!p->loaded) {
		char why[SETUP_LINE_MAX];

		r = setup_read_target(sr, e->path, &p->cur, &p->len, &p->mode, why, sizeof(why));
		if (r < 0) {
			f = undo_file(u, e, SETUP_UNDO_UNSAFE);
			str_copy(f->why, sizeof(f->why), why);
			return false;
		}
		p->loaded = true;
	}
	if (!p->cur || !same_text(p->cur, p->len, wrote, wrote_len)) {
		undo_file(u, e, p->cur ? SETUP_UNDO_CHANGED : SETUP_UNDO_GONE);
		return false;
	}
	r = 0;
	if (!dry_run)
		r = e->present ? sr_write_file_atomic(sr, e->path, orig, orig_len, p->mode) :
				 sr_unlink(sr, e->path);
	if (r < 0) {
		undo_file(u, e, SETUP_UNDO_FAILED)->err = r;
		return false;
	}
	undo_file(u, e, e->present ? SETUP_UNDO_RESTORED : SETUP_UNDO_REMOVED);
	free(p->cur);
	p->cur = orig; /* what the file holds now, for the older runs */
	p->len = orig_len;
	orig = NULL;
	p->blocked = false;
	if (!dry_run) {
		if (backup_path(path, e, "new") == 0)
			sr_unlink(sr, path);
		if (e->present && backup_path(path, e, "orig") == 0)
			sr_unlink(sr, path);
	}
	return true;
}

/* The refresh commands after files of KINDS (a bit per setup_kind) were taken back. */
static void undo_commands(const struct sysroot *sr, unsigned kinds, struct setup_undone *u)
{
	if (kinds & (1u << SETUP_EARLY))
		u->cmds[u->ncmds++] = setup_initramfs_refresh();
	if (kinds & (1u << SETUP_BOOT)) {
		struct hostinfo *hi = calloc(1, sizeof(*hi));
		struct host_boot *b = calloc(1, sizeof(*b));

		if (!hi || !b || hostinfo_read(sr, hi) < 0 || host_boot_read(sr, hi, b) < 0 ||
		    b->kind == BOOT_UNKNOWN)
			u->boot_unknown = true;
		else
			u->cmds[u->ncmds++] = setup_boot_refresh(b);
		free(hi);
		free(b);
	}
}

int setup_undo(const struct sysroot *sr, bool dry_run, struct setup_undone *u)
{
	_cleanup_free_ struct manifest *m = calloc(1, sizeof(*m));
	_cleanup_free_ struct manifest *keep = calloc(1, sizeof(*keep));
	struct undo_path ps[MAX_ENTRIES];
	int nps = 0, r, newest = -1, kept_files = 0;
	unsigned kinds = 0;

	memset(u, 0, sizeof(*u));
	u->failed_cmd = -1;
	if (!m || !keep)
		return -ENOMEM;
	r = read_manifest(sr, m);
	if (r < 0)
		return r;
	for (int i = 0; i < m->n; i++)
		if (m->e[i].run > newest)
			newest = m->e[i].run;
	/* the runs, newest first; within a run, its files and then its directories */
	for (int run = newest; run >= 0; run--) {
		bool any = false;

		for (int i = 0; i < m->n; i++) {
			const struct entry *e = &m->e[i];

			if (e->run != run || e->dir)
				continue;
			any = true;
			if (undo_entry(sr, dry_run, e, undo_path(ps, &nps, e->path), u))
				kinds |= 1u << e->kind;
			else
				kept_files++;
		}
		for (int i = 0; i < m->n; i++) {
			const struct entry *e = &m->e[i];

			if (e->run != run || !e->dir)
				continue;
			any = true;
			if (dry_run)
				continue;
			r = sr_rmdir(sr, e->path);
			if (r == 0 && u->ndirs < (int)ARRAY_SIZE(u->dirs))
				str_copy(u->dirs[u->ndirs++], sizeof(u->dirs[0]), e->path);
		}
		u->nruns += any;
	}
	for (int i = 0; i < nps; i++)
		free(ps[i].cur);
	if (dry_run || !m->n)
		return kept_files ? 1 : 0;
	/* the manifest keeps what was not taken back, in its order */
	for (int i = 0; i < m->n; i++) {
		const struct entry *e = &m->e[i];
		bool kept = false;

		if (e->dir) {
			kept = sr_exists(sr, e->path); /* something else lives there now */
		} else {
			for (int k = 0; k < u->nf; k++)
				kept |= u->f[k].run == e->run && !strcmp(u->f[k].path, e->path) &&
					u->f[k].action != SETUP_UNDO_RESTORED &&
					u->f[k].action != SETUP_UNDO_REMOVED;
		}
		if (kept)
			keep->e[keep->n++] = *e;
	}
	if (write_manifest(sr, keep, keep->n) < 0)
		u->manifest_write_failed = true;
	if (!keep->n)
		sr_rmdir(sr, SETUP_BACKUP_DIR);
	if (!kinds)
		return kept_files ? 1 : 0;
	undo_commands(sr, kinds, u);
	run_commands(sr, u->cmds, u->ncmds, &u->commands_not_run, &u->failed_cmd, &u->failed_status,
		     u->output, sizeof(u->output));
	return kept_files || u->boot_unknown || u->failed_cmd >= 0 ? 1 : 0;
}
