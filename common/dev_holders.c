/* dev_holders.c - see dev_holders.h. */
#define _GNU_SOURCE
#include "dev_holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysfs.h"
#include "util.h"

static bool is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Adds (pid, path) unless already there; returns the new count. */
static int add(const struct sysroot *sr, struct holder *out, int n, int max, pid_t pid,
	       const char *path)
{
	char p[SR_PATH_MAX];

	for (int i = 0; i < n; i++)
		if (out[i].pid == pid && !strcmp(out[i].path, path))
			return n;
	if (n >= max)
		return n;
	out[n].pid = pid;
	snprintf(out[n].path, sizeof(out[n].path), "%s", path);
	out[n].comm[0] = '\0';
	if (sr_path(p, "/proc/%d/comm", (int)pid) == 0)
		sr_read_str(sr, p, out[n].comm, sizeof(out[n].comm));
	if (!out[n].comm[0])
		snprintf(out[n].comm, sizeof(out[n].comm), "?");
	return n + 1;
}

/* Reads a directory with raw getdents64 into CB (one call per entry name): opendir()'s
 * fdopendir costs three more syscalls per directory, and a holders scan opens one directory
 * per process. Returns 0 or -errno. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int each_entry(int fd, void (*cb)(void *ud, const char *name), void *ud)
{
	char buf[8192] __attribute__((aligned(8)));

	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);

			if (de->d_name[0] != '.')
				cb(ud, de->d_name);
			off += de->d_reclen;
		}
	}
}

struct scan {
	const struct sysroot *sr;
	const char *const *paths;
	int npaths;
	struct holder *out;
	int max, n;
	pid_t self, pid;
	int fdfd; /* the process's fd directory, open */
};

/* One fd: one readlinkat in the open fd directory (no path walk per fd). */
static void one_fd(void *ud, const char *name)
{
	struct scan *s = ud;
	char target[SR_PATH_MAX];

	if (!is_pid(name) || sr_readlink_at(s->fdfd, name, target, sizeof(target)) < 0 ||
	    strncmp(target, "/dev/", 5))
		return;
	for (int i = 0; i < s->npaths; i++)
		if (!strcmp(target, s->paths[i]))
			s->n = add(s->sr, s->out, s->n, s->max, s->pid, s->paths[i]);
}

static void one_pid(void *ud, const char *name)
{
	struct scan *s = ud;
	char fddir[64];

	if (!is_pid(name))
		return;
	s->pid = (pid_t)atol(name);
	if (s->pid == s->self || snprintf(fddir, sizeof(fddir), "/proc/%s/fd", name) >= (int)sizeof(fddir))
		return;
	s->fdfd = sr_openat(s->sr, fddir, O_RDONLY | O_DIRECTORY, 0);
	if (s->fdfd < 0)
		return; /* gone meanwhile */
	each_entry(s->fdfd, one_fd, s);
	close(s->fdfd);
}

int holders_find(const struct sysroot *sr, const char *const *paths, int npaths,
		 struct holder *out, int max)
{
	const char *present[HOLDERS_MAX_PATHS];
	struct scan s = { .sr = sr, .paths = present, .out = out, .max = max, .self = getpid() };
	int fd, r;

	/* a node that is not there cannot be open under its name (an fd of a removed node
	 * reads "... (deleted)"): only the nodes that exist are looked for, and without any
	 * there is nothing to scan */
	if (npaths > HOLDERS_MAX_PATHS)
		return -E2BIG;
	for (int i = 0; i < npaths; i++)
		if (sr_exists(sr, paths[i]))
			present[s.npaths++] = paths[i];
	if (s.npaths == 0)
		return 0;
	fd = sr_openat(sr, "/proc", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	r = each_entry(fd, one_pid, &s);
	close(fd);
	return r < 0 ? r : s.n;
}

void holders_format(const struct holder *h, int n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++) {
		bool seen = false;

		for (int j = 0; j < i; j++)
			seen |= h[j].pid == h[i].pid;
		if (seen)
			continue;
		int k = snprintf(buf + off, size - off, "%s%d (%s)", off ? ", " : "", (int)h[i].pid,
				 h[i].comm);
		if (k < 0)
			break;
		off += (size_t)k;
	}
}

int holders_vfio_cdev(const struct sysroot *sr, const char *name, char *out, size_t size)
{
	char path[SR_PATH_MAX];
	struct dirent *de;
	int r = sysfs_pci_dev(path, name, "vfio-dev");
	DIR *d;

	if (r < 0)
		return r;
	d = sr_opendir(sr, path);
	if (!d)
		return -errno;
	r = -ENOENT;
	while (r == -ENOENT && (de = readdir(d)))
		if (!strncmp(de->d_name, "vfio", 4) && de->d_name[4] &&
		    strspn(de->d_name + 4, "0123456789") == strlen(de->d_name + 4))
			r = snprintf(out, size, "/dev/vfio/devices/%s", de->d_name) < (int)size
				    ? 0 : -ENAMETOOLONG;
	closedir(d);
	return r;
}

int holders_proc_start(const struct sysroot *sr, pid_t pid, unsigned long long *start)
{
	char path[SR_PATH_MAX], buf[1024], *p;
	int r = sr_path(path, "/proc/%d/stat", (int)pid);
	ssize_t n;

	if (r < 0)
		return r;
	n = sr_read(sr, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, the fields follow its last ')';
	 * the start time is field 22, the 20th after COMM */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (int f = 0; f < 20; f++) {
		p += strspn(p + 1, " ") + 1;
		if (f < 19)
			p += strcspn(p, " ");
	}
	errno = 0;
	*start = strtoull(p, NULL, 10);
	return errno || !*start ? -EINVAL : 0;
}
