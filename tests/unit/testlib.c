/* testlib.c - see testlib.h and howorld.h. */
#include "testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakesys.h"
#include "harness.h"
#include "howorld.h"

struct sysroot test_root_with(const char *spec)
{
	static int n;
	char dir[300];
	struct sysroot sr;
	int line = 0;

	snprintf(dir, sizeof(dir), "%s/root%d", test_tmpdir(), n++);
	CHECK_INT(mkdir(dir, 0755), 0);
	if (fakesys_build(dir, spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&sr, dir), 0);
	return sr;
}

void capture_log(void *ud, enum ho_level level, const char *msg)
{
	struct capture *c = ud;
	int n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s%s\n",
			 level == HO_ERROR ? "E: " : level == HO_WARN ? "W: " : "", msg);

	if (n > 0 && (size_t)n < sizeof(c->text) - c->len)
		c->len += (size_t)n;
}

struct world *ho_world(const char *base, const char *extra, const struct cfg *cfg,
		       const struct quirks_exec *exec)
{
	static struct world w;
	char spec[8192], cmd[600];
	int line = 0;

	if (w.sr.fd > 0)
		sr_close(&w.sr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", test_tmpdir());
	CHECK_INT(system(cmd), 0);
	memset(&w, 0, sizeof(w));
	snprintf(spec, sizeof(spec), "%s%s", base, extra ? extra : "");
	if (fakesys_build(test_tmpdir(), spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&w.sr, test_tmpdir()), 0);
	fk_init(&w.k, test_tmpdir(), &w.sr);
	w.ops = (struct handoff_ops){ .sr = &w.sr, .cfg = cfg, .node = "pve", .log = capture_log,
				      .ud = &w.cap, .prove = fk_prove, .exec = exec,
				      .left_changed = &w.left_changed };
	return &w;
}

void ho_world_reset_log(struct world *w)
{
	memset(&w->cap, 0, sizeof(w->cap));
	w->k.log[0] = '\0';
}

void ho_world_prepare_killed(struct world *w, const char *point, int vmid)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		static struct sr_write_point kill;

		if (sr_kill_point_parse(&kill, point) < 0)
			_exit(2);
		kill.next = w->sr.wp;
		w->sr.wp = &kill;
		handoff_prepare(&w->ops, vmid);
		_exit(0); /* not reached: the kill point stops it */
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}
