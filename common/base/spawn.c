/* spawn.c - runs a program with a deadline (see spawn.h).
 *
 * The child is its own process group, so a deadline kills what it started too (update-grub's
 * helpers). The wait is a poll() on a pidfd and the output pipes (stderr has its own with
 * errbuf), no SIGCHLD handler and no fixed sleep; on a kernel without pidfd_open (before 5.3)
 * the poll also wakes every SPAWN_NOPIDFD_MS to look. Once the program has exited the pipes are
 * drained without blocking: a grandchild that keeps one open cannot hold us past the program's
 * end. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define SPAWN_DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
/* Without a pidfd, how often the wait looks whether the program has exited. */
#define SPAWN_NOPIDFD_MS 20

extern char **environ;

/* The PATH in ENVP (or ours), else the default. */
static const char *env_path(const char *const *envp)
{
	const char *p = NULL;

	if (envp) {
		for (size_t i = 0; envp[i]; i++)
			if (str_has_prefix(envp[i], "PATH="))
				p = envp[i] + 5;
	} else {
		p = getenv("PATH");
	}
	return p && *p ? p : SPAWN_DEFAULT_PATH;
}

/* Finds NAME the way execvp would, into OUT. */
static int resolve(const char *name, const char *const *envp, char *out, size_t size)
{
	const char *dirs = env_path(envp);

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/'))
		return str_copy(out, size, name);
	while (*dirs) {
		size_t len = strcspn(dirs, ":");
		int n = snprintf(out, size, "%.*s/%s", (int)len, len ? dirs : ".", name);

		if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
			return 0;
		dirs += len + (dirs[len] == ':');
	}
	return -ENOENT;
}

/* The child, after fork(): only async-signal-safe calls. OUTFD and ERROUT are the capture
 * pipes of its stdout and stderr; ERRFD reports a failed exec. */
static void child(const struct spawn_cmd *cmd, const char *path, int outfd, int errout,
		  int errfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0)
		goto fail;
	if (cmd->out != SPAWN_INHERIT && dup2(cmd->out == SPAWN_CAPTURE ? outfd : null, 1) < 0)
		goto fail;
	if (cmd->err != SPAWN_INHERIT && dup2(cmd->err == SPAWN_CAPTURE ? errout : null, 2) < 0)
		goto fail;
	fds_close_except(errfd);
	execve(path, (char *const *)cmd->argv,
	       (char *const *)(cmd->envp ? cmd->envp : (const char *const *)environ));
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* A capture: BUF of SIZE bytes holds HAVE (and a NUL), its head or (TAIL) its tail. */
struct sink {
	char *buf;
	size_t size, have;
	bool tail;
	bool truncated; /* bytes were dropped */
};

/* Adds N bytes of CHUNK to the capture S. */
static void keep(struct sink *s, const char *chunk, size_t n)
{
	size_t room = s->size - 1;

	if (!s->tail) {
		size_t k = n < room - s->have ? n : room - s->have;

		memcpy(s->buf + s->have, chunk, k);
		s->have += k;
		s->truncated |= k < n;
	} else {
		if (n > room) {
			chunk += n - room;
			n = room;
			s->truncated = true;
		}
		if (s->have + n > room) {
			size_t drop = s->have + n - room;

			memmove(s->buf, s->buf + drop, s->have - drop);
			s->have -= drop;
			s->truncated = true;
		}
		memcpy(s->buf + s->have, chunk, n);
		s->have += n;
	}
	s->buf[s->have] = '\0';
}

/* Reads what the pipe FD holds now (it is non-blocking) into S; false at its end. */
static bool drain(struct sink *s, int fd)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		keep(s, chunk, (size_t)n);
	}
}

/* The parent's side of a capture pipe P (when there is one): its write end closed, its read
 * end non-blocking. */
static void reading_end(int p[2])
{
	if (p[1] < 0)
		return;
	close(p[1]);
	p[1] = -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
}

int spawn_run(const struct spawn_cmd *cmd, struct spawn_result *res)
{
	bool own_err = cmd->err == SPAWN_CAPTURE && cmd->errbuf; /* stderr into errbuf */
	bool capture = cmd->out == SPAWN_CAPTURE || (cmd->err == SPAWN_CAPTURE && !own_err);
	struct sink out = { .buf = cmd->buf, .size = cmd->bufsize, .tail = cmd->keep_tail };
	struct sink errs = { .buf = cmd->errbuf, .size = cmd->errbufsize };
	struct spawn_result dummy;
	int pfd[2] = { -1, -1 }, qfd[2] = { -1, -1 }, efd[2] = { -1, -1 }, pidfd = -1, status;
	int err = 0, r;
	bool exited = false, killed = false;
	char path[4096];
	uint64_t deadline;
	ssize_t n;
	pid_t pid;

	if (!res)
		res = &dummy;
	res->exit_status = -1;
	res->signal = 0;
	res->truncated = false;
	if (!cmd->argv || !cmd->argv[0] || !cmd->timeout_ms ||
	    (capture && (!cmd->buf || !cmd->bufsize)) || (own_err && !cmd->errbufsize))
		return -EINVAL;
	if (capture)
		cmd->buf[0] = '\0';
	if (own_err)
		cmd->errbuf[0] = '\0';
	r = resolve(cmd->argv[0], cmd->envp, path, sizeof(path));
	if (r < 0)
		return r;
	if (pipe2(efd, O_CLOEXEC) < 0)
		return -errno;
	if ((capture && pipe2(pfd, O_CLOEXEC) < 0) || (own_err && pipe2(qfd, O_CLOEXEC) < 0)) {
		err = -errno;
		goto out;
	}
	deadline = now_ms() + cmd->timeout_ms;
	if (cmd->out == SPAWN_INHERIT || cmd->err == SPAWN_INHERIT)
		fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0)
		child(cmd, path, pfd[1], own_err ? qfd[1] : pfd[1], efd[1]);
	/* Set in the parent too: a kill at the deadline must not race the child's own setpgid. */
	setpgid(pid, pid);
	close(efd[1]);
	efd[1] = -1;
	reading_end(pfd);
	reading_end(qfd);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	while (!exited) {
		struct pollfd p[3] = { { .fd = pidfd, .events = POLLIN },
				       { .fd = pfd[0], .events = POLLIN },
				       { .fd = qfd[0], .events = POLLIN } };
		int64_t left = cmd->timeout_ms == SPAWN_NO_DEADLINE ? INT64_MAX
								    : (int64_t)(deadline - now_ms());
		int wait_ms = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (pidfd < 0 && wait_ms > SPAWN_NOPIDFD_MS)
			wait_ms = SPAWN_NOPIDFD_MS;
		if (poll(p, 3, wait_ms) < 0 && errno != EINTR) {
			err = -errno; /* cannot wait: stop it, reap it, say why */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		for (int i = 1; i < 3; i++) {
			int *fd = i == 1 ? &pfd[0] : &qfd[0];

			if (p[i].revents && !drain(i == 1 ? &out : &errs, *fd)) {
				close(*fd);
				*fd = -1;
			}
		}
		if (pidfd >= 0 && !p[0].revents)
			continue;
		r = (int)waitpid(pid, &status, WNOHANG);
		if (r == pid)
			exited = true;
		else if (r < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
	}
	if (!exited)
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) {
				err = -errno;
				goto out;
			}
	if (pfd[0] >= 0)
		drain(&out, pfd[0]);
	if (qfd[0] >= 0)
		drain(&errs, qfd[0]);
	res->truncated = out.truncated;
	if (killed || err < 0) {
		err = killed ? -ETIMEDOUT : err;
		goto out;
	}
	do
		n = read(efd[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		err = r > 0 ? -r : -ENOEXEC;
		goto out;
	}
	if (WIFEXITED(status)) {
		res->exit_status = WEXITSTATUS(status);
		err = res->exit_status;
	} else {
		res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		err = 128 + res->signal;
	}
out:
	closep(&pfd[0]);
	closep(&pfd[1]);
	closep(&qfd[0]);
	closep(&qfd[1]);
	closep(&efd[0]);
	closep(&efd[1]);
	closep(&pidfd);
	return err;
}
