/* holders.c - see holders.h. */
#define _GNU_SOURCE
#include "holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int holders_find(const struct sysroot *sr, const char *const *paths, int npaths,
		 struct holder *out, int max)
{
	struct dirent *de;
	pid_t self = getpid();
	DIR *proc;
	int n = 0;

	if (npaths == 0)
		return 0;
	proc = sr_opendir(sr, "/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		char fddir[SR_PATH_MAX];
		struct dirent *fe;
		DIR *fds;
		pid_t pid;

		if (!is_pid(de->d_name))
			continue;
		pid = (pid_t)atol(de->d_name);
		if (pid == self || sr_path(fddir, "/proc/%s/fd", de->d_name) < 0)
			continue;
		fds = sr_opendir(sr, fddir);
		if (!fds)
			continue; /* gone, or a kernel thread */
		while ((fe = readdir(fds))) {
			char link[SR_PATH_MAX], target[SR_PATH_MAX];

			if (!is_pid(fe->d_name) || sr_path(link, "%s/%s", fddir, fe->d_name) < 0 ||
			    sr_readlink(sr, link, target, sizeof(target)) < 0)
				continue;
			for (int i = 0; i < npaths; i++)
				if (!strcmp(target, paths[i]))
					n = add(sr, out, n, max, pid, paths[i]);
		}
		closedir(fds);
	}
	closedir(proc);
	return n;
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
