/* dev_lock.c - see dev_lock.h. */
#define _GNU_SOURCE
#include "dev_lock.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int devlock_take(const struct sysroot *sr, const char *name, pid_t *holder)
{
	char path[SR_PATH_MAX], buf[32];
	int fd, r;
	ssize_t n;

	*holder = 0;
	r = sr_path(path, DEVLOCK_DIR "/%s", name);
	if (r < 0)
		return r;
	if (sr_dry_run(sr)) {
		/* a dry run creates nothing: it probes the lock where one exists; where none does,
		 * nobody holds it, and the caller gets an fd of the root to close */
		fd = sr_openat(sr, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
		if (fd == -ENOENT)
			return sr_openat(sr, "/", O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return fd;
	} else {
		r = sr_mkdir_p(sr, DEVLOCK_DIR, 0700);
		if (r < 0)
			return r;
		fd = sr_openat(sr, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0600);
		if (fd < 0)
			return fd;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			*holder = (pid_t)atol(buf);
		}
		close(fd);
		return r;
	}
	if (sr_dry_run(sr))
		return fd;
	/* Record who holds it, for the loser's message. */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		/* the lock itself is held; the pid is only informative */
	}
	return fd;
}

int devlock_wait(const struct sysroot *sr, const char *name, unsigned long ms, pid_t *holder)
{
	uint64_t deadline = now_ms() + ms;
	unsigned step = 0;
	int fd;

	while ((fd = devlock_take(sr, name, holder)) == -EBUSY && backoff_wait(&step, deadline))
		;
	return fd;
}
