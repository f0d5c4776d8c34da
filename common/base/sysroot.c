/* sysroot.c - rooted, bounded, single-write file access and the write points. See sysroot.h
 * for the rules; the timed write and read (a detached process) are in sysroot_timed.c. */
#define _GNU_SOURCE
#include "sysroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysroot_int.h"
#include "util.h"

/* Paths are given as absolute ("/sys/bus/pci"); below the root they are relative. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

int sr_open(struct sysroot *sr, const char *dir)
{
	if (!dir || !*dir)
		dir = "/";
	if (strlen(dir) >= sizeof(sr->dir))
		return -ENAMETOOLONG;
	sr->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sr->fd < 0)
		return -errno;
	/* never 0, 1 or 2: a program started with stdin (or stdout) closed would get its root
	 * there, and whatever later points those at /dev/null or closes them (the detached
	 * writer, the watcher) would lose the root */
	if (sr->fd < 3) {
		int high = fcntl(sr->fd, F_DUPFD_CLOEXEC, 3), e = errno;

		close(sr->fd);
		sr->fd = high;
		if (high < 0)
			return -e;
	}
	strcpy(sr->dir, dir);
	sr->wp = NULL;
	sr->host = false;
	sr->host = sr_is_host(sr);
	return 0;
}

void sr_close(struct sysroot *sr)
{
	if (sr->fd >= 0)
		close(sr->fd);
	sr->fd = -1;
}

bool sr_is_host(const struct sysroot *sr)
{
	struct stat a, b;

	if (sr->host)
		return true;
	if (fstat(sr->fd, &a) < 0 || stat("/", &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int sr_path(char out[SR_PATH_MAX], const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, SR_PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (n >= SR_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int sr_openat(const struct sysroot *sr, const char *path, int flags, mode_t mode)
{
	int fd;

	if (sr->host) {
		fd = openat(sr->fd, rel(path), flags | O_CLOEXEC, mode);
	} else {
		struct open_how how = {
			.flags = (unsigned long long)(flags | O_CLOEXEC),
			.mode = (flags & O_CREAT) ? mode : 0,
			.resolve = RESOLVE_IN_ROOT,
		};
		/* The kernel answers EAGAIN when a rename or mount anywhere on the system raced
		 * with a ".." in the lookup (it cannot prove the walk stayed inside); retrying is
		 * the documented remedy, and a bounded number of tries keeps it from spinning. */
		int tries = 0;

		do
			fd = (int)syscall(SYS_openat2, sr->fd, rel(path), &how, sizeof(how));
		while (fd < 0 && errno == EAGAIN && ++tries < 100);
	}
	return fd < 0 ? -errno : fd;
}

/* Opens the directory that holds PATH's last component, resolved below the root exactly as
 * sr_openat resolves (RESOLVE_IN_ROOT: an absolute symlink or ".." in the parent stays inside),
 * and copies that component into LAST. The *at call on (fd, LAST) then acts on the entry
 * itself. "." and ".." cannot be a last component (-EINVAL): they name no entry to create,
 * remove or read as a link. */
static int open_parent(const struct sysroot *sr, const char *path, char last[NAME_MAX + 1])
{
	char dir[SR_PATH_MAX];
	const char *r = rel(path), *base;
	size_t len = strlen(r), n;

	while (len > 1 && r[len - 1] == '/')
		len--;
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, r, len);
	dir[len] = '\0';
	base = strrchr(dir, '/');
	base = base ? base + 1 : dir;
	n = strlen(base);
	if (n == 0 || n > NAME_MAX)
		return n ? -ENAMETOOLONG : -EINVAL;
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	memcpy(last, base, n + 1);
	if (base == dir)
		strcpy(dir, ".");
	else
		dir[base - dir - 1] = '\0';
	if (!dir[0])
		strcpy(dir, "/"); /* "/x": the parent is the root */
	return sr_openat(sr, dir, O_PATH | O_DIRECTORY, 0);
}

/* What is done to an entry itself, in the directory that holds it (open_parent). */
struct entry_op {
	enum { ENTRY_LSTAT, ENTRY_MKDIR, ENTRY_UNLINK, ENTRY_RMDIR, ENTRY_SYMLINK } what;
	struct stat *st;    /* ENTRY_LSTAT: filled */
	mode_t mode;        /* ENTRY_MKDIR */
	const char *target; /* ENTRY_SYMLINK */
};

/* Does OP to PATH's entry (not what a link there points to): 0 or -errno. */
static int on_entry(const struct sysroot *sr, const char *path, const struct entry_op *op)
{
	char last[NAME_MAX + 1];
	int dfd = open_parent(sr, path, last), r;

	if (dfd < 0)
		return dfd;
	switch (op->what) {
	case ENTRY_LSTAT:
		r = fstatat(dfd, last, op->st, AT_SYMLINK_NOFOLLOW);
		break;
	case ENTRY_MKDIR:
		r = mkdirat(dfd, last, op->mode);
		break;
	case ENTRY_UNLINK:
		r = unlinkat(dfd, last, 0);
		break;
	case ENTRY_RMDIR:
		r = unlinkat(dfd, last, AT_REMOVEDIR);
		break;
	default:
		r = symlinkat(op->target, dfd, last);
		break;
	}
	r = r < 0 ? -errno : 0;
	close(dfd);
	return r;
}

/* One bounded read of FD into buf; -EFBIG when more than size-1 bytes are there. */
static ssize_t read_bounded(int fd, char *buf, size_t size)
{
	ssize_t n, more;
	char extra;

	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	/* A full buffer may hide more data: one more byte tells (sysfs returns 0 at EOF). */
	if ((size_t)n == size - 1) {
		do
			more = read(fd, &extra, 1);
		while (more < 0 && errno == EINTR);
		if (more != 0)
			return -EFBIG;
	}
	return n;
}

ssize_t sr_int_strip(char *buf, ssize_t n)
{
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	return n;
}

ssize_t sr_read(const struct sysroot *sr, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if (size < 2)
		return -EINVAL;
	fd = sr_openat(sr, path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	n = read_bounded(fd, buf, size);
	close(fd);
	return n;
}

int sr_open_dir(const struct sysroot *sr, const char *path)
{
	return sr_openat(sr, path, O_PATH | O_DIRECTORY, 0);
}

/* NAME must be one path component: the *_at functions never leave their directory. */
static bool one_component(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, "..") != 0;
}

ssize_t sr_read_str_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if (size < 2 || !one_component(name))
		return -EINVAL;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read_bounded(fd, buf, size);
	close(fd);
	return n < 0 ? n : sr_int_strip(buf, n);
}

int sr_link_name_at(int dirfd, const char *name, char *buf, size_t size)
{
	char target[SR_PATH_MAX];
	const char *base;
	ssize_t n;

	if (!one_component(name))
		return -EINVAL;
	n = readlinkat(dirfd, name, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	target[n] = '\0';
	base = strrchr(target, '/');
	return str_copy(buf, size, base ? base + 1 : target);
}

int sr_readlink_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;

	if (!one_component(name) || size < 2)
		return -EINVAL;
	n = readlinkat(dirfd, name, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

bool sr_exists_at(int dirfd, const char *name)
{
	return one_component(name) && faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

ssize_t sr_read_str(const struct sysroot *sr, const char *path, char *buf, size_t size)
{
	ssize_t n = sr_read(sr, path, buf, size);

	return n < 0 ? n : sr_int_strip(buf, n);
}

int sr_read_fd_all(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 16 * 1024, len = 0;
	char *buf = malloc(cap), *nbuf;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			if (cap > max + 1) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int sr_write_fd_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sr_read_all(const struct sysroot *sr, const char *path, size_t max, char **ret, size_t *len)
{
	int fd = sr_openat(sr, path, O_RDONLY | O_NOCTTY, 0), r;

	if (fd < 0)
		return fd;
	r = sr_read_fd_all(fd, max, ret, len);
	close(fd);
	return r;
}

int sr_open_regular(const struct sysroot *sr, const char *path, int flags)
{
	struct stat st;
	int fd = sr_openat(sr, path, flags | O_NONBLOCK | O_NOCTTY, 0), fl, r = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -SR_ENOTREG;
	else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int sr_read_file(const struct sysroot *sr, const char *path, size_t max, char **ret, size_t *len)
{
	int fd = sr_open_regular(sr, path, O_RDONLY), r;

	if (fd < 0)
		return fd;
	r = sr_read_fd_all(fd, max, ret, len);
	close(fd);
	return r;
}

const char *sr_strerror(int r)
{
	return r == -SR_ENOTREG ? "not a regular file" : strerror(r < 0 ? -r : r);
}

int sr_read_ulong(const struct sysroot *sr, const char *path, int base, unsigned long *ret)
{
	char buf[64], *end;
	unsigned long v;
	ssize_t n;

	n = sr_read_str(sr, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || end == buf || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sr_int_write_raw(const struct sysroot *sr, const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, r = 0;

	/* O_TRUNC is ignored by sysfs and keeps plain-file fixtures exact. */
	fd = sr_openat(sr, path, O_WRONLY | O_TRUNC | O_NOCTTY, 0);
	if (fd < 0)
		return fd;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

int sr_write_file_atomic(const struct sysroot *sr, const char *path, const char *data,
			 size_t len, mode_t mode)
{
	char tmp[SR_PATH_MAX];
	int fd, r;

	r = sr_path(tmp, "%s.tmp.%ld", path, (long)getpid());
	if (r < 0)
		return r;
	fd = sr_openat(sr, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
	if (fd < 0)
		return fd;
	r = sr_write_fd_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	r = sr_rename(sr, tmp, path);
	if (r < 0)
		goto fail;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	sr_unlink(sr, tmp);
	return r;
}

int sr_readlink(const struct sysroot *sr, const char *path, char *buf, size_t size)
{
	ssize_t n;

	char last[NAME_MAX + 1];
	int dfd;

	if (size < 2)
		return -EINVAL;
	dfd = open_parent(sr, path, last);
	if (dfd < 0)
		return dfd;
	n = readlinkat(dfd, last, buf, size);
	if (n < 0)
		n = -errno;
	close(dfd);
	if (n < 0)
		return (int)n;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

int sr_link_name(const struct sysroot *sr, const char *path, char *buf, size_t size)
{
	char target[SR_PATH_MAX];
	const char *base;
	int r;

	r = sr_readlink(sr, path, target, sizeof(target));
	if (r < 0)
		return r;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

/* Appends component C (length n) to the canonical path OUT, handling "." and "..". */
static int push_component(char *out, size_t *len, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		while (*len > 1 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 1)
			(*len)--;
		out[*len] = '\0';
		return 0;
	}
	if (*len + 1 + n >= SR_PATH_MAX)
		return -ENAMETOOLONG;
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

int sr_realpath(const struct sysroot *sr, const char *path, char out[SR_PATH_MAX])
{
	char todo[SR_PATH_MAX * 2], link[SR_PATH_MAX], tmp[SR_PATH_MAX * 2];
	size_t len = 1;
	int hops = 0, r;

	if (strlen(path) >= sizeof(todo))
		return -ENAMETOOLONG;
	strcpy(todo, path);
	strcpy(out, "/");
	char *p = todo;
	while (*p) {
		char *slash;
		size_t n, save = len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		r = push_component(out, &len, p, n);
		if (r < 0)
			return r;
		p += n;
		if (n == 2 && p[-1] == '.' && p[-2] == '.')
			continue;
		r = sr_readlink(sr, out, link, sizeof(link));
		if (r == -EINVAL || r == -ENOENT)
			continue; /* not a link, or does not exist (resolved lexically) */
		if (r < 0)
			return r;
		if (++hops > 40)
			return -ELOOP;
		/* Restart with the link target followed by what was left. */
		if (snprintf(tmp, sizeof(tmp), "%s/%s", link, p) >= (int)sizeof(tmp))
			return -ENAMETOOLONG;
		if (link[0] == '/') {
			len = 1;
			strcpy(out, "/");
		} else {
			len = save;
			out[len] = '\0';
		}
		strcpy(todo, tmp);
		p = todo;
	}
	return 0;
}

bool sr_exists(const struct sysroot *sr, const char *path)
{
	/* O_PATH opens anything (even a file we may not read) and follows links inside the root */
	int fd = sr_openat(sr, path, O_PATH, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int sr_lstat(const struct sysroot *sr, const char *path, struct stat *st)
{
	return on_entry(sr, path, &(struct entry_op){ .what = ENTRY_LSTAT, .st = st });
}

DIR *sr_opendir(const struct sysroot *sr, const char *path)
{
	int fd = sr_openat(sr, path, O_RDONLY | O_DIRECTORY, 0);
	DIR *d;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

int sr_mkdir(const struct sysroot *sr, const char *path, mode_t mode)
{
	return on_entry(sr, path, &(struct entry_op){ .what = ENTRY_MKDIR, .mode = mode });
}

int sr_mkdir_p(const struct sysroot *sr, const char *path, mode_t mode)
{
	char buf[SR_PATH_MAX];
	char *p;
	int r;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, rel(path));
	/* Each prefix is created in its parent as resolved inside the root, so a link (absolute
	 * or "..") on the way is followed only as far as the root's own tree. */
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			r = sr_mkdir(sr, buf, mode);
			/* "a/.." or "a/." name an existing directory, not one to create */
			if (r < 0 && r != -EEXIST && !(r == -EINVAL && sr_exists(sr, buf)))
				return r;
			*p = c;
			if (!c)
				break;
		}
	}
	/* an existing non-directory (or a dangling link) at PATH is not success */
	r = sr_openat(sr, path, O_PATH | O_DIRECTORY, 0);
	if (r < 0)
		return r;
	close(r);
	return 0;
}

int sr_unlink(const struct sysroot *sr, const char *path)
{
	return on_entry(sr, path, &(struct entry_op){ .what = ENTRY_UNLINK });
}

int sr_rmdir(const struct sysroot *sr, const char *path)
{
	return on_entry(sr, path, &(struct entry_op){ .what = ENTRY_RMDIR });
}

int sr_rename(const struct sysroot *sr, const char *from, const char *to)
{
	char lfrom[NAME_MAX + 1], lto[NAME_MAX + 1];
	int dfrom, dto, r = 0;

	dfrom = open_parent(sr, from, lfrom);
	if (dfrom < 0)
		return dfrom;
	dto = open_parent(sr, to, lto);
	if (dto < 0) {
		close(dfrom);
		return dto;
	}
	if (renameat(dfrom, lfrom, dto, lto) < 0)
		r = -errno;
	close(dfrom);
	close(dto);
	return r;
}

int sr_symlink(const struct sysroot *sr, const char *target, const char *path)
{
	return on_entry(sr, path, &(struct entry_op){ .what = ENTRY_SYMLINK, .target = target });
}

/* ---- the write point ---------------------------------------------------------------------- */

/* SR_WP_WRITE: write it; SR_WP_TAKEN: a point handled it; 1 + SR_WP_TAKEN: refused (dry run);
 * -errno: a point failed it. */
#define WP_REFUSED (SR_WP_TAKEN + 1)

static int wp_before(const struct sysroot *sr, const char *path, const char *value)
{
	for (struct sr_write_point *p = sr->wp; p; p = p->next) {
		int r;

		if (p->dry_run)
			return WP_REFUSED;
		if (!p->before)
			continue;
		r = p->before(p->data, path, value);
		if (r != SR_WP_WRITE)
			return r;
	}
	return SR_WP_WRITE;
}

static const char *step_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int sr_int_wp_after(const struct sysroot *sr, const char *path, const char *value, int result,
		    bool done)
{
	for (struct sr_write_point *p = sr->wp; p; p = p->next) {
		if (p->after)
			p->after(p->data, path, value, result, done);
		/* the kill point: as if the program died right after the step took effect */
		/* groups are handed over in threads: the count is shared by all of them */
		if (done && result == 0 && p->kill_step[0] && !strcmp(p->kill_step, step_of(path)) &&
		    __atomic_add_fetch(&p->kill_seen, 1, __ATOMIC_SEQ_CST) >= p->kill_nth)
			raise(SIGKILL);
	}
	return result;
}

/* The write points before a change: 1 when the caller makes it (and then hands its result
 * to sr_int_wp_after), 0 when a point refused (dry run), took or failed it: sr_int_wp_after has run and
 * *ret is the change's result. */
int sr_int_wp_gate(const struct sysroot *sr, const char *path, const char *value, int *ret)
{
	int r = wp_before(sr, path, value);

	if (r == SR_WP_WRITE)
		return 1;
	*ret = sr_int_wp_after(sr, path, value, r < 0 ? r : 0, r == SR_WP_TAKEN);
	return 0;
}

int sr_write(const struct sysroot *sr, const char *path, const char *value)
{
	int r;

	if (!sr_int_wp_gate(sr, path, value, &r))
		return r;
	return sr_int_wp_after(sr, path, value, sr_int_write_raw(sr, path, value), true);
}

static int ioctl_raw(const struct sysroot *sr, const char *path, unsigned long req, void *arg)
{
	int fd = sr_openat(sr, path, O_RDWR | O_CLOEXEC | O_NOCTTY, 0), r = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, req, arg) < 0)
		r = -errno;
	close(fd);
	return r;
}

int sr_ioctl_read(const struct sysroot *sr, const char *path, unsigned long req, void *arg)
{
	return ioctl_raw(sr, path, req, arg);
}

int sr_ioctl_change(const struct sysroot *sr, const char *path, unsigned long req, void *arg,
		    const char *what)
{
	int r;

	if (!sr_int_wp_gate(sr, path, what, &r))
		return r;
	return sr_int_wp_after(sr, path, what, ioctl_raw(sr, path, req, arg), true);
}

int sr_ioctl_change_fd(const struct sysroot *sr, int fd, const char *path, unsigned long req,
		       void *arg, const char *what)
{
	int r;

	if (!sr_int_wp_gate(sr, path, what, &r))
		return r;
	r = ioctl(fd, req, arg) < 0 ? -errno : 0;
	return sr_int_wp_after(sr, path, what, r, true);
}

bool sr_dry_run(const struct sysroot *sr)
{
	for (const struct sr_write_point *p = sr->wp; p; p = p->next)
		if (p->dry_run)
			return true;
	return false;
}

int sr_kill_point_parse(struct sr_write_point *wp, const char *spec)
{
	const char *colon;
	unsigned long n = 1;
	size_t len;

	wp->kill_step[0] = '\0';
	wp->kill_nth = wp->kill_seen = 0;
	if (!spec || !*spec)
		return 0;
	colon = strchr(spec, ':');
	len = colon ? (size_t)(colon - spec) : strlen(spec);
	if (len == 0 || len >= sizeof(wp->kill_step) || memchr(spec, '/', len))
		return -EINVAL;
	if (colon && (parse_ulong(colon + 1, 10, 1000000, &n) < 0 || n == 0))
		return -EINVAL;
	memcpy(wp->kill_step, spec, len);
	wp->kill_step[len] = '\0';
	wp->kill_nth = (unsigned)n;
	return 0;
}
