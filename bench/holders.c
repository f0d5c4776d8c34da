/* holders.c - `holders DIR N1 N2 ...`: the holder scan (holders_find) on a fake /proc below
 * DIR grown to N1, then N2, ... processes of BENCH_FDS (50) fds each, one of which holds the
 * GPU's render node; prints "N MICROSECONDS" (median of BENCH_RUNS scans) per size. The fds
 * link to what a host's processes hold: /dev/null, sockets, pipes, anon inodes, files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dev_holders.h"
#include "sysroot.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Adds processes FROM..TO-1 (pids from 1000) with NFD fds each below DIR/proc. */
static void grow(int dirfd, int from, int to, int nfd)
{
	static const char *const kinds[] = { "socket:[%d]", "pipe:[%d]", "anon_inode:[eventfd]",
					     "/dev/null", "/var/log/syslog.%d", "/dev/pts/%d" };
	char p[128], t[64];

	for (int i = from; i < to; i++) {
		int pid = 1000 + i, fd;

		snprintf(p, sizeof(p), "proc/%d", pid);
		if (mkdirat(dirfd, p, 0755) < 0)
			die("mkdir");
		snprintf(p, sizeof(p), "proc/%d/fd", pid);
		if (mkdirat(dirfd, p, 0755) < 0)
			die("mkdir");
		snprintf(p, sizeof(p), "proc/%d/comm", pid);
		fd = openat(dirfd, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "worker\n", 7) != 7)
			die("comm");
		close(fd);
		for (int k = 0; k < nfd; k++) {
			snprintf(t, sizeof(t), kinds[k % 6], pid * 64 + k);
			if (i == 7 && k == 9) /* one process uses the GPU */
				snprintf(t, sizeof(t), "/dev/dri/renderD128");
			snprintf(p, sizeof(p), "proc/%d/fd/%d", pid, k);
			if (symlinkat(t, dirfd, p) < 0)
				die("symlink");
		}
	}
}

int main(int argc, char **argv)
{
	const char *paths[] = { "/dev/vfio/29", "/dev/dri/card0", "/dev/dri/renderD128" };
	int runs = getenv("BENCH_RUNS") ? atoi(getenv("BENCH_RUNS")) : 9;
	int nfd = getenv("BENCH_FDS") ? atoi(getenv("BENCH_FDS")) : 50;
	int dirfd, have = 0;
	struct sysroot sr;

	if (argc < 3 || runs < 1 || nfd < 10) {
		fprintf(stderr, "usage: holders DIR N...\n");
		return 2;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		die(argv[1]);
	mkdirat(dirfd, "proc", 0755);
	mkdirat(dirfd, "dev", 0755);
	mkdirat(dirfd, "dev/dri", 0755);
	mkdirat(dirfd, "dev/vfio", 0755);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = openat(dirfd, paths[i] + 1, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			die(paths[i]);
		close(fd);
	}
	if (sr_open(&sr, argv[1]) < 0)
		die("sr_open");
	for (int a = 2; a < argc; a++) {
		int n = atoi(argv[a]);
		double *t = calloc((size_t)runs, sizeof(*t));
		struct holder h[8];

		if (n <= have || !t) {
			fprintf(stderr, "holders: sizes must grow\n");
			return 2;
		}
		grow(dirfd, have, n, nfd);
		have = n;
		for (int r = 0; r < runs; r++) {
			struct timespec x, y;
			int k;

			clock_gettime(CLOCK_MONOTONIC, &x);
			k = holders_find(&sr, paths, 3, h, 8);
			clock_gettime(CLOCK_MONOTONIC, &y);
			if (k != 1 || h[0].pid != 1007) {
				fprintf(stderr, "holders: found %d holders, expected pid 1007\n", k);
				return 1;
			}
			t[r] = (double)(y.tv_sec - x.tv_sec) * 1e6 + (double)(y.tv_nsec - x.tv_nsec) / 1e3;
		}
		qsort(t, (size_t)runs, sizeof(*t), cmp);
		printf("%d %.0f\n", n, t[runs / 2]);
		fflush(stdout);
		free(t);
	}
	sr_close(&sr);
	close(dirfd);
	return 0;
}
