/* test_setup.c - setup's transaction (common/setup_apply.c) on a fake root: a file edited
 * between the plan and the write (at the [y/N] prompt, or by apt under --yes) is refused with
 * its name and nothing is written; a second run that fails half-way leaves the first one's
 * backups alone, so --undo still takes the first back; hard-linked files are refused. The
 * plans are made by hand (the files and texts setup_plan_make would produce are not what is
 * tested here: tests/check/setup-* cover them). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "setup_plan.h"
#include "sysroot.h"
#include "testlib.h"
#include "util.h"

#define GRUB "/etc/default/grub"
#define INI "/etc/pve-gpu-passthrough.ini"

/* A plan of two changes: GRUB from G_OLD to G_NEW, INI from I_OLD (NULL: absent) to I_NEW. */
static void plan2(struct setup_plan *p, const char *g_old, const char *g_new, const char *i_old,
		  const char *i_new)
{
	memset(p, 0, sizeof(*p));
	p->ch[0] = (struct setup_change){ .kind = SETUP_BOOT, .path = GRUB, .mode = 0644,
					  .old = g_old ? strdup(g_old) : NULL,
					  .old_len = g_old ? strlen(g_old) : 0,
					  .new = strdup(g_new), .new_len = strlen(g_new) };
	p->ch[1] = (struct setup_change){ .kind = SETUP_EARLY, .path = INI, .mode = 0644,
					  .old = i_old ? strdup(i_old) : NULL,
					  .old_len = i_old ? strlen(i_old) : 0,
					  .new = strdup(i_new), .new_len = strlen(i_new) };
	p->nch = 2;
}

/* The file below the root as a string ("(absent)" when missing). */
static char *file_text(const struct sysroot *sr, const char *path)
{
	char *text = NULL;
	size_t len;

	if (sr_read_file(sr, path, 1u << 20, &text, &len) < 0)
		return strdup("(absent)");
	return text;
}

static void check_file(const struct sysroot *sr, const char *path, const char *want)
{
	char *text = file_text(sr, path);

	CHECK_STR(text, want);
	free(text);
}

static void put(const struct sysroot *sr, const char *path, const char *text)
{
	CHECK_INT(sr_write_file_atomic(sr, path, text, strlen(text), 0644), 0);
}

TEST(apply_refuses_a_file_changed_since_the_plan)
{
	struct sysroot sr = test_root_with("file " GRUB " GRUB_TIMEOUT=5\n");
	struct setup_plan p;
	struct setup_applied a;

	/* planned from "GRUB_TIMEOUT=5", then the admin (or apt) changes it at the prompt */
	plan2(&p, "GRUB_TIMEOUT=5\n", "GRUB_TIMEOUT=5\nX=1\n", NULL, "[early]\n");
	put(&sr, GRUB, "GRUB_TIMEOUT=1\n");
	CHECK_INT(setup_apply(&sr, &p, &a), -ESTALE);
	CHECK_STR(a.error, "'/etc/default/grub' was changed since setup read it: nothing was "
			   "changed; run setup again to see the new plan");
	CHECK_INT(a.nwritten, 0);
	check_file(&sr, GRUB, "GRUB_TIMEOUT=1\n");
	check_file(&sr, INI, "(absent)");
	CHECK(!sr_exists(&sr, SETUP_MANIFEST));

	/* the second file appeared meanwhile: the first is not written either */
	put(&sr, GRUB, "GRUB_TIMEOUT=5\n");
	put(&sr, INI, "[vm:105]\n");
	CHECK_INT(setup_apply(&sr, &p, &a), -ESTALE);
	CHECK_STR(a.error, "'/etc/pve-gpu-passthrough.ini' was created since setup read it: "
			   "nothing was changed; run setup again to see the new plan");
	check_file(&sr, GRUB, "GRUB_TIMEOUT=5\n");
	check_file(&sr, INI, "[vm:105]\n");

	/* unchanged: written, and this run's backup holds the text just before it */
	CHECK_INT(sr_unlink(&sr, INI), 0);
	CHECK_INT(setup_apply(&sr, &p, &a), 0);
	CHECK_INT(a.nwritten, 2);
	check_file(&sr, GRUB, "GRUB_TIMEOUT=5\nX=1\n");
	check_file(&sr, SETUP_BACKUP_DIR "/1.1.orig", "GRUB_TIMEOUT=5\n");
	setup_plan_free(&p);
	sr_close(&sr);
}

TEST(a_failed_second_run_leaves_the_first_undoable)
{
	struct sysroot sr = test_root_with("file " GRUB " G0\n");
	_cleanup_free_ struct setup_undone *u = calloc(1, sizeof(*u));
	struct setup_plan p;
	struct setup_applied a;
	char blocker[SR_PATH_MAX];

	plan2(&p, "G0\n", "G1\n", NULL, "I1\n");
	CHECK_INT(setup_apply(&sr, &p, &a), 0);
	CHECK_INT(a.run, 1);
	setup_plan_free(&p);

	/* run 2: the grub file is written, then the INI's write fails (its temporary name is
	 * taken by a directory): the grub file is put back and run 2 forgotten */
	plan2(&p, "G1\n", "G2\n", "I1\n", "I2\n");
	snprintf(blocker, sizeof(blocker), INI ".tmp.%ld", (long)getpid());
	CHECK_INT(sr_mkdir(&sr, blocker, 0700), 0);
	CHECK(setup_apply(&sr, &p, &a) < 0);
	CHECK_INT(a.nwritten, 1);
	CHECK_INT(a.nrestored, 1);
	CHECK_INT(a.restore_err[0], 0);
	CHECK_CONTAINS(a.error, "cannot write '/etc/pve-gpu-passthrough.ini'");
	CHECK_INT(sr_rmdir(&sr, blocker), 0);
	check_file(&sr, GRUB, "G1\n");
	check_file(&sr, INI, "I1\n");
	setup_plan_free(&p);

	/* --undo takes run 1 back: nothing "was changed" */
	CHECK_INT(setup_undo(&sr, false, u), 0);
	CHECK_INT(u->nruns, 1);
	CHECK_INT(u->nf, 2);
	CHECK_INT(u->f[0].action, SETUP_UNDO_RESTORED);
	CHECK_INT(u->f[1].action, SETUP_UNDO_REMOVED);
	check_file(&sr, GRUB, "G0\n");
	check_file(&sr, INI, "(absent)");
	CHECK(!sr_exists(&sr, SETUP_MANIFEST));
	sr_close(&sr);
}

TEST(undo_goes_back_run_by_run_and_keeps_edits)
{
	struct sysroot sr = test_root_with("file " GRUB " T=5\n");
	_cleanup_free_ struct setup_undone *u = calloc(1, sizeof(*u));
	struct setup_plan p;
	struct setup_applied a;

	plan2(&p, "T=5\n", "T=5 A\n", NULL, "[early]\n");
	CHECK_INT(setup_apply(&sr, &p, &a), 0);
	setup_plan_free(&p);
	/* the admin edits both files between the runs */
	put(&sr, GRUB, "T=1 A\n");
	put(&sr, INI, "[early]\n[vm:105]\n");
	plan2(&p, "T=1 A\n", "T=1 A B\n", "[early]\n[vm:105]\n", "[early]\nx\n[vm:105]\n");
	CHECK_INT(setup_apply(&sr, &p, &a), 0);
	CHECK_INT(a.run, 2);
	setup_plan_free(&p);

	/* a dry run says what would happen, changes nothing */
	CHECK_INT(setup_undo(&sr, true, u), 1);
	CHECK_INT(u->nf, 4);
	check_file(&sr, GRUB, "T=1 A B\n");

	CHECK_INT(setup_undo(&sr, false, u), 1);
	CHECK_INT(u->nruns, 2);
	CHECK_INT(u->nf, 4);
	CHECK_INT(u->f[0].run, 2);
	CHECK_INT(u->f[0].action, SETUP_UNDO_RESTORED);
	CHECK_INT(u->f[1].action, SETUP_UNDO_RESTORED);
	CHECK_INT(u->f[2].run, 1);
	CHECK_INT(u->f[2].action, SETUP_UNDO_CHANGED); /* T=1 stays */
	CHECK_INT(u->f[3].action, SETUP_UNDO_CHANGED); /* the INI setup created is not removed */
	check_file(&sr, GRUB, "T=1 A\n");
	check_file(&sr, INI, "[early]\n[vm:105]\n");
	{
		char *m = file_text(&sr, SETUP_MANIFEST);

		CHECK_CONTAINS(m, "file 1 1 boot present " GRUB);
		free(m);
	}
	sr_close(&sr);
}

TEST(hard_links_are_refused)
{
	struct sysroot sr = test_root_with("file " GRUB " G0\n");
	char a[SR_PATH_MAX + 64], b[SR_PATH_MAX + 64], why[SETUP_LINE_MAX], *text = NULL;
	_cleanup_free_ struct setup_undone *u = calloc(1, sizeof(*u));
	struct setup_plan p;
	struct setup_applied ap;
	size_t len;
	mode_t mode;

	snprintf(a, sizeof(a), "%s" GRUB, sr.dir);
	snprintf(b, sizeof(b), "%s/etc/grub.keep", sr.dir);
	/* a link made after the plan: refused before anything is written */
	plan2(&p, "G0\n", "G1\n", NULL, "I\n");
	CHECK_INT(link(a, b), 0);
	CHECK_INT(setup_apply(&sr, &p, &ap), -EMLINK);
	CHECK_STR(ap.error, "'/etc/default/grub' line 1: the file has 2 hard links; setup replaces "
			    "only files with one (a new file in its place would split them)");
	check_file(&sr, INI, "(absent)");
	CHECK_INT(setup_read_target(&sr, GRUB, &text, &len, &mode, why, sizeof(why)), -EMLINK);
	CHECK(text == NULL);
	/* undo does not split one either */
	CHECK_INT(unlink(b), 0);
	CHECK_INT(setup_apply(&sr, &p, &ap), 0);
	CHECK_INT(link(a, b), 0);
	CHECK_INT(setup_undo(&sr, false, u), 1);
	CHECK_INT(u->f[0].action, SETUP_UNDO_UNSAFE);
	CHECK_CONTAINS(u->f[0].why, "2 hard links");
	check_file(&sr, GRUB, "G1\n");
	setup_plan_free(&p);
	sr_close(&sr);
}
