/* test_spawn.c - the program runner: exit status, the deadline, no inherited fds, bounded
 * output, the error contract. Runs /bin/sh only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "spawn.h"
#include "util.h"

static int sh(const char *script, char *buf, size_t size, unsigned long timeout_ms,
	      struct spawn_result *res)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct spawn_cmd c = { .argv = argv, .timeout_ms = timeout_ms,
			       .out = buf ? SPAWN_CAPTURE : SPAWN_NULL,
			       .err = buf ? SPAWN_CAPTURE : SPAWN_NULL,
			       .buf = buf, .bufsize = size };

	return spawn_run(&c, res);
}

TEST(spawn_exit_status_and_output)
{
	struct spawn_result res;
	char out[64];

	CHECK_INT(sh("echo hello; echo err >&2; exit 3", out, sizeof(out), 10000, &res), 3);
	CHECK_INT(res.exit_status, 3);
	CHECK_INT(res.signal, 0);
	CHECK_STR(out, "hello\nerr\n");
	CHECK_INT(sh("exit 0", NULL, 0, 10000, NULL), 0);
	CHECK_INT(sh("kill -TERM $$", NULL, 0, 10000, &res), 128 + SIGTERM);
	CHECK_INT(res.signal, SIGTERM);
	CHECK_INT(res.exit_status, -1);
}

/* stderr into its own buffer (errbuf): apart from stdout, bounded by its head; with stdout
 * not captured at all, too. */
TEST(spawn_stderr_captured_apart)
{
	const char *argv[] = { "/bin/sh", "-c", "echo out; echo first >&2; echo 2nd-line-long >&2; "
						"echo more; exit 2", NULL };
	char out[64], err[16];
	struct spawn_cmd c = { .argv = argv, .timeout_ms = 10000, .out = SPAWN_CAPTURE,
			       .err = SPAWN_CAPTURE, .buf = out, .bufsize = sizeof(out),
			       .errbuf = err, .errbufsize = sizeof(err) };

	CHECK_INT(spawn_run(&c, NULL), 2);
	CHECK_STR(out, "out\nmore\n");
	CHECK_STR(err, "first\n2nd-line-");
	c.out = SPAWN_NULL;
	c.buf = NULL;
	c.bufsize = 0;
	CHECK_INT(spawn_run(&c, NULL), 2);
	CHECK_STR(err, "first\n2nd-line-");
	c.errbufsize = 0;
	CHECK_INT(spawn_run(&c, NULL), -EINVAL);
}

TEST(spawn_stdin_is_dev_null)
{
	char out[64];

	/* read gets end of file at once, not our stdin (the terminal or a pipe) */
	CHECK_INT(sh("if read x; then echo got; else echo eof; fi", out, sizeof(out), 10000, NULL),
		  0);
	CHECK_STR(out, "eof\n");
}

/* A program that never ends is killed at the deadline, with what it started, and reaped. */
TEST(spawn_deadline_kills)
{
	char out[64], pidfile[512];
	const char *argv[] = { "/bin/sh", "-c", "sleep 1000 & echo $! >\"$0\"; echo started; sleep 1000",
			       pidfile, NULL };
	struct spawn_cmd c = { .argv = argv, .timeout_ms = 2000, .out = SPAWN_CAPTURE,
			       .buf = out, .bufsize = sizeof(out) };
	struct spawn_result res;
	unsigned long bg;
	uint64_t end;
	int status = 0;
	pid_t w;
	FILE *f;

	/* the orphaned background sleep becomes our child, so we can see it die */
	CHECK_INT(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", test_tmpdir());
	CHECK_INT(spawn_run(&c, &res), -ETIMEDOUT);
	CHECK_STR(out, "started\n");
	CHECK_INT(res.exit_status, -1);
	f = fopen(pidfile, "r");
	CHECK(f && fscanf(f, "%lu", &bg) == 1);
	fclose(f);
	/* the background sleep was killed with its group (it would sleep 1000 s otherwise):
	 * reaped by us (its shell died first) or by its shell (it died first) */
	end = now_ms() + 30000;
	while ((w = waitpid((pid_t)bg, &status, WNOHANG)) == 0 && now_ms() < end)
		usleep(10000);
	if (w == (pid_t)bg)
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	else
		CHECK(w < 0 && errno == ECHILD);
	CHECK(kill((pid_t)bg, 0) < 0 && errno == ESRCH);
}

/* Exits at once while a grandchild keeps the output pipe open: spawn returns at the exit. */
TEST(spawn_returns_at_exit_not_pipe_end)
{
	char out[64];
	unsigned long bg;

	CHECK_INT(sh("sleep 1000 & echo $!; exit 4", out, sizeof(out), 60000, NULL), 4);
	CHECK(sscanf(out, "%lu", &bg) == 1);
	kill((pid_t)bg, SIGKILL);
}

TEST(spawn_fds_not_inherited)
{
	int fd = open("/dev/null", O_RDONLY), keep = dup2(fd, 57);
	char script[128], out[64];

	CHECK(fd >= 3 && keep == 57);
	/* not O_CLOEXEC: only spawn's own closing keeps it from the child */
	snprintf(script, sizeof(script), "[ -e /proc/self/fd/%d ] && echo %d; [ -e /proc/self/fd/57 ] && echo 57; echo done", fd, fd);
	CHECK_INT(sh(script, out, sizeof(out), 10000, NULL), 0);
	CHECK_STR(out, "done\n");
	close(fd);
	close(keep);
}

TEST(spawn_output_bounded)
{
	struct spawn_result res;
	char out[16];

	/* 1 MiB: far past the pipe's buffer, so the child blocks unless we keep reading */
	CHECK_INT(sh("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo tail-end", out,
		     sizeof(out), 20000, &res), 0);
	CHECK(res.truncated);
	CHECK_INT(strlen(out), sizeof(out) - 1);
	CHECK_STR(out, "xxxxxxxxxxxxxxx");

	{
		const char *argv[] = { "/bin/sh", "-c",
				       "head -c 100000 /dev/zero | tr '\\0' x; echo; echo tail-end",
				       NULL };
		struct spawn_cmd c = { .argv = argv, .timeout_ms = 20000, .out = SPAWN_CAPTURE,
				       .buf = out, .bufsize = sizeof(out), .keep_tail = true };

		CHECK_INT(spawn_run(&c, &res), 0);
		CHECK(res.truncated);
		CHECK_STR(out, "xxxxx\ntail-end\n");
	}
}

TEST(spawn_errors)
{
	const char *missing[] = { "pgp-no-such-program-here", NULL };
	const char *notexec[] = { "/dev/null", NULL };
	const char *env[] = { "PATH=/nonexistent", NULL };
	const char *sh_name[] = { "sh", "-c", "exit 7", NULL };
	struct spawn_cmd c = { .argv = missing, .timeout_ms = 1000 };

	CHECK_INT(spawn_run(&c, NULL), -ENOENT);
	c.argv = notexec;
	CHECK_INT(spawn_run(&c, NULL), -EACCES);
	c.argv = sh_name;
	CHECK_INT(spawn_run(&c, NULL), 7); /* found in PATH */
	c.envp = env;
	CHECK_INT(spawn_run(&c, NULL), -ENOENT); /* the program's own PATH is searched */
	c.envp = NULL;
	c.timeout_ms = 0;
	CHECK_INT(spawn_run(&c, NULL), -EINVAL);
}

/* SPAWN_NO_DEADLINE (a VM's own hookscript): it runs to its end, however long that is; here a
 * child that outlives the runner's 60 s poll slice is not needed: the exit status and output
 * come back as with a deadline. */
TEST(spawn_no_deadline)
{
	struct spawn_result res;
	char out[64];

	CHECK_INT(sh("echo ran; exit 5", out, sizeof(out), SPAWN_NO_DEADLINE, &res), 5);
	CHECK_STR(out, "ran\n");
	CHECK_INT(sh("exit 0", NULL, 0, SPAWN_NO_DEADLINE, NULL), 0);
}
