/* sysroot.h - every file the project touches goes through a root directory.
 *
 * Rules for everything in this file (they protect the machine the tools run on):
 *  1. No code outside sysroot.c opens a host path directly: callers name paths as if the root
 *     were "/", and sysroot.c resolves them with openat() below the root's directory fd.
 *  2. Tests pass a temporary directory as the root, so they can never reach the real /sys.
 *  3. Every write is one write() of the whole value, checked for a short count, on an fd
 *     opened with O_CLOEXEC.
 *  4. Below a root that is not the real "/", opens use openat2(RESOLVE_IN_ROOT): even an
 *     absolute symlink in a test fixture cannot lead out of the tree.
 *  5. Every read is bounded: a value that does not fit the caller's buffer is an error
 *     (-EFBIG), never silently truncated.
 *  6. Every operation resolves its path as open does: exists, opendir and realpath through
 *     sr_openat; readlink, lstat, mkdir, unlink, rename and symlink on the last component in
 *     a parent directory opened through sr_openat. No call hands a root-relative path with
 *     more than one component to a plain *at() function.
 *  7. Where a file is expected (configs, state, ROMs) sr_read_file opens it without blocking
 *     and refuses anything but a regular file (-SR_ENOTREG) before reading.
 * All functions return 0 (or a length) on success and a negative errno on failure.
 */
#ifndef PGP_SYSROOT_H
#define PGP_SYSROOT_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SR_PATH_MAX 512
/* The errno (negated) for "a FIFO, device or directory where a file is expected". */
#define SR_ENOTREG EMEDIUMTYPE

struct sr_write_point;

struct sysroot {
	int fd;                   /* O_PATH|O_DIRECTORY fd of the root */
	bool host;                /* the root is the machine's real "/" */
	char dir[SR_PATH_MAX];    /* the root as given ("/" in production) */
	struct sr_write_point *wp; /* where writes pass first (NULL: plain writes); see below */
};

/* Opens DIR (NULL means "/") as the root. */
int sr_open(struct sysroot *sr, const char *dir);
void sr_close(struct sysroot *sr);
/* True when the root is the machine's real "/" (tests never are). */
bool sr_is_host(const struct sysroot *sr);

/* snprintf into a path buffer; -ENAMETOOLONG when it does not fit. */
int sr_path(char out[SR_PATH_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* open() below the root; returns an fd or -errno. O_CLOEXEC is always added. */
int sr_openat(const struct sysroot *sr, const char *path, int flags, mode_t mode);
/* Reads the whole file into buf (NUL-terminated) with one bounded read; returns the length,
 * -EFBIG when the file does not fit in size-1 bytes. */
ssize_t sr_read(const struct sysroot *sr, const char *path, char *buf, size_t size);
/* Like sr_read, then strips trailing whitespace. */
ssize_t sr_read_str(const struct sysroot *sr, const char *path, char *buf, size_t size);
/* Reads FD to its end into a malloc'd buffer of at most MAX bytes, NUL-terminated (the NUL is
 * not counted in *len); -EFBIG beyond MAX. For files whose size is unknown or zero in stat
 * (procfs, sysfs binary attributes, which hand out a page per read). */
int sr_read_fd_all(int fd, size_t max, char **ret, size_t *len);
/* Writes all LEN bytes of BUF to FD, a file or a pipe, again after a short write or EINTR
 * (never a sysfs attribute: it takes one write(), sr_write); 0, or -errno (-EIO when a write
 * takes nothing). */
int sr_write_fd_all(int fd, const void *buf, size_t len);
/* Opens PATH below the root and reads it whole, as sr_read_fd_all. */
int sr_read_all(const struct sysroot *sr, const char *path, size_t max, char **ret, size_t *len);
/* Opens a file expected to be a regular file (O_NONBLOCK, so a FIFO cannot block the open)
 * and checks it on that fd: returns the fd (blocking again) or -SR_ENOTREG for a FIFO,
 * device, socket or directory. */
int sr_open_regular(const struct sysroot *sr, const char *path, int flags);
/* sr_read_all for a file that must be regular (sr_open_regular). */
int sr_read_file(const struct sysroot *sr, const char *path, size_t max, char **ret, size_t *len);
/* strerror(-r), with "not a regular file" for -SR_ENOTREG. */
const char *sr_strerror(int r);
/* A directory below the root (O_PATH), to read many attributes of one device without
 * resolving its path again for each: the *_at functions take a single file name. */
int sr_open_dir(const struct sysroot *sr, const char *path);
/* sr_read_str for NAME in DIRFD (trailing whitespace stripped). */
ssize_t sr_read_str_at(int dirfd, const char *name, char *buf, size_t size);
/* sr_link_name for NAME in DIRFD. */
int sr_link_name_at(int dirfd, const char *name, char *buf, size_t size);
/* sr_readlink for NAME in DIRFD (the raw target). */
int sr_readlink_at(int dirfd, const char *name, char *buf, size_t size);
bool sr_exists_at(int dirfd, const char *name);
/* Reads a number written in hex ("0x10de") or decimal. */
int sr_read_ulong(const struct sysroot *sr, const char *path, int base, unsigned long *ret);
/* One write() of the whole string to an existing file (sysfs attribute). */
int sr_write(const struct sysroot *sr, const char *path, const char *value);
/* Creates or replaces a regular file atomically (PATH.tmp.PID, fsync, rename); the new file
 * gets MODE less the umask (there is no default mode). */
int sr_write_file_atomic(const struct sysroot *sr, const char *path, const char *data,
			 size_t len, mode_t mode);
/* The last path component of a symlink's target ("../../bus/pci/drivers/vfio-pci" ->
 * "vfio-pci"); -ENOENT when there is no link. */
int sr_link_name(const struct sysroot *sr, const char *path, char *buf, size_t size);
/* The raw target of a symlink. */
int sr_readlink(const struct sysroot *sr, const char *path, char *buf, size_t size);
/* Resolves every symlink in PATH inside the root (like realpath under chroot); the result is
 * an absolute path relative to the root. */
int sr_realpath(const struct sysroot *sr, const char *path, char out[SR_PATH_MAX]);
/* True when PATH (links followed inside the root) exists. */
bool sr_exists(const struct sysroot *sr, const char *path);
/* fstatat(AT_SYMLINK_NOFOLLOW) of PATH's last component: a link itself, dangling or not. */
int sr_lstat(const struct sysroot *sr, const char *path, struct stat *st);
/* opendir() below the root; NULL with errno set on failure. */
DIR *sr_opendir(const struct sysroot *sr, const char *path);
int sr_mkdir(const struct sysroot *sr, const char *path, mode_t mode);
/* Creates PATH and its parents; 0 when it is (now) a directory, -ENOTDIR (or another errno)
 * when something else is there. */
int sr_mkdir_p(const struct sysroot *sr, const char *path, mode_t mode);
int sr_unlink(const struct sysroot *sr, const char *path);
/* Removes the empty directory PATH (-ENOTEMPTY when it is not empty). */
int sr_rmdir(const struct sysroot *sr, const char *path);
int sr_rename(const struct sysroot *sr, const char *from, const char *to);
/* Creates the symlink PATH -> TARGET (TARGET is stored as given, not resolved). */
int sr_symlink(const struct sysroot *sr, const char *target, const char *path);

/* An ioctl on a device node below the root (a console change through /dev/fbN): the
 * changing one passes the write points like sr_write, with WHAT as the value they see (a
 * dry run refuses it); the reading one does not. */
int sr_ioctl_read(const struct sysroot *sr, const char *path, unsigned long req, void *arg);
int sr_ioctl_change(const struct sysroot *sr, const char *path, unsigned long req, void *arg,
		    const char *what);
/* sr_ioctl_change on FD, the node PATH opened by the caller (sr_openat): a series of changes
 * on one node (a console map, console by console) opens it once. */
int sr_ioctl_change_fd(const struct sysroot *sr, int fd, const char *path, unsigned long req,
		       void *arg, const char *what);

/* ---- the write point ---------------------------------------------------------------------
 * Every write to an existing file (sr_write, sr_write_timeout: sysfs attributes, /dev/kmsg)
 * passes through the write points of its sysroot before and after it is made. A point can
 * refuse every write (dry run), fail or take over one (tests: a fault, a fake kernel), see the
 * result (log, record), and stop the program right after a named step (a kill point for fault
 * tests). Points chain: an engine puts its own in front of its caller's (next). Writes may
 * come from several threads at once (the handoff moves IOMMU groups in parallel): a point's
 * functions must be thread-safe; the kill point's count is. All of it is
 * off unless a caller installs a point; production code installs one only for --dry-run and
 * when a test asks for a kill point (sr_kill_point_parse). */
enum {
	SR_WP_WRITE = 0, /* before(): go on and write */
	SR_WP_TAKEN = 1, /* before(): handled without writing the file; the write succeeds */
};

struct sr_write_point {
	/* Refuse every write: nothing is written and each write reports success. */
	bool dry_run;
	/* Before the write: SR_WP_WRITE, SR_WP_TAKEN, or -errno to fail it unwritten. */
	int (*before)(void *data, const char *path, const char *value);
	/* After it (or its refusal: done is false): the write's result, 0 or -errno. */
	void (*after)(void *data, const char *path, const char *value, int result, bool done);
	void *data;
	/* Kill point: SIGKILL right after the kill_nth (from 1) successful write whose step, the
	 * last component of the path ("driver_override", "unbind", "drivers_probe", "bind",
	 * "new_id", "remove_id"), is kill_step. Off while kill_step is empty. */
	char kill_step[32];
	unsigned kill_nth, kill_seen;
	struct sr_write_point *next; /* consulted after this one */
};

/* Sets the kill point of WP from SPEC, "STEP" or "STEP:N" (N >= 1; "STEP" is "STEP:1");
 * NULL or "" turns it off. -EINVAL on a malformed SPEC. */
int sr_kill_point_parse(struct sr_write_point *wp, const char *spec);
/* True when a write point of SR refuses writes (a dry run): callers skip waiting for effects
 * that cannot come. */
bool sr_dry_run(const struct sysroot *sr);
/* sr_write made by a process of its own that is given at most MS: a sysfs write can block for
 * ever in the kernel (a driver's remove callback waiting for its clients). On timeout the
 * process is left blocked (it holds none of our output) and -ETIMEDOUT is returned. It shares
 * the caller's memory (clone(CLONE_VM), not fork(): see sysroot.c). The write points run in
 * the caller, around it. */
int sr_write_timeout(const struct sysroot *sr, const char *path, const char *value,
		     unsigned long ms);
/* sr_read_str made by such a process, given at most MS: reading some attributes takes the
 * device's lock (driver_override before Linux 6.19), which a driver stuck in remove() holds
 * for ever. On timeout -ETIMEDOUT and BUF is left as it was. */
ssize_t sr_read_str_timeout(const struct sysroot *sr, const char *path, char *buf, size_t size,
			    unsigned long ms);
/* The pid of the process this thread's last sr_write_timeout or sr_read_str_timeout left
 * blocked (it timed out), 0 when it ended in time (or is unknown). While that process lives,
 * its write or read has not returned. */
pid_t sr_last_left_pid(void);

#endif
