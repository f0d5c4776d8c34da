/* sysroot_timed.c - the timed write and read of the sysroot (sr_write_timeout,
 * sr_read_str_timeout, sr_last_left_pid): the write or read is made by a detached process,
 * started with clone(CLONE_VM) by a short-lived thread, so that a caller can give up at its
 * deadline while the process stays blocked in the kernel. The write still passes the write
 * points (sr_int_wp_gate, sr_int_wp_after in sysroot.c, shared through sysroot_int.h). */
#define _GNU_SOURCE
#include "sysroot.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sysroot_int.h"
#include "util.h"

/* The write of sr_write_timeout (and the read of sr_read_str_timeout) is made by a process of
 * its own, which may stay blocked in the kernel after the caller has given up and exited, as a
 * forked child could. It is started with
 * clone(CLONE_VM) instead of fork(): it shares this process's memory, so starting it copies no
 * page tables. fork() of a process whose threads hand over several IOMMU groups at once costs
 * each thread 10-30 ms under emulation, and more the more threads fork at the same time; this
 * costs about as much as starting a thread.
 *
 * A short-lived thread of its own starts and reaps the process. The process runs with that
 * thread's TLS (errno), never with the caller's, so a write that fails late cannot change the
 * caller's errno. The caller waits for the thread with its deadline. The block holds copies of
 * everything the process reads (the caller may have returned, even exited, while it writes),
 * and the buffer a read fills (copied out only when the read ended in time); it is freed by
 * whichever of the caller and the thread lets go last: the thread does so only after the
 * process has exited. */
#define DW_STACK (64 * 1024)

struct detached_write {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int refs;
	bool done;
	int result;
	bool read;      /* a read of up to size-1 bytes into value, not a write of value */
	size_t size;    /* value's size */
	ssize_t child_result; /* set by the process before it exits */
	atomic_int closed;    /* set by the process once it holds none of the caller's files */
	pid_t pid;            /* the process, once started */
	void *stack;
	struct sysroot sr; /* a copy, without write points: the process only writes */
	char path[SR_PATH_MAX];
	char value[];
};

static void dw_put(struct detached_write *w)
{
	if (atomic_fetch_sub(&w->refs, 1) != 1)
		return;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	munmap(w->stack, DW_STACK);
	free(w);
}

/* The process: nothing of the caller's but the root, neither the caller's output (Proxmox
 * reads the hook's until EOF) nor the device locks (a stuck writer must not keep later hooks
 * from the device). Only system calls: no allocation, no stdio. */
static int dw_process(void *arg)
{
	struct detached_write *w = arg;

	for (int fd = 0; fd < 3; fd++)
		if (fd != w->sr.fd) /* sr_open keeps the root above 2; a copy made otherwise */
			close(fd);
	fds_close_except(w->sr.fd);
	atomic_store(&w->closed, 1);
	syscall(SYS_futex, &w->closed, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	w->child_result = w->read ? sr_read(&w->sr, w->path, w->value, w->size)
				  : sr_int_write_raw(&w->sr, w->path, w->value);
	_exit(0);
}

static void *dw_thread(void *arg)
{
	struct detached_write *w = arg;
	int status = 0, r;
	pid_t pid = clone(dw_process, (char *)w->stack + DW_STACK, CLONE_VM | SIGCHLD, w);

	pthread_mutex_lock(&w->mu);
	w->pid = pid > 0 ? pid : 0;
	pthread_mutex_unlock(&w->mu);
	if (pid < 0) {
		r = -errno;
	} else {
		pid_t got;

		do
			got = waitpid(pid, &status, 0);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			r = -errno;
		else if (!WIFEXITED(status))
			r = -EIO;
		else
			r = (int)w->child_result; /* a read's length fits: size is small */
	}
	pthread_mutex_lock(&w->mu);
	w->result = r;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	dw_put(w);
	return NULL;
}

/* A process left blocked must not keep the caller's files (its output, a config lock) after
 * the caller has given up: on a loaded machine it may not have run its first lines yet. Waits
 * for that, at most DW_CLOSE_MS more (a futex wait with a deadline). */
#define DW_CLOSE_MS 2000
static void wait_closed(struct detached_write *w)
{
	uint64_t deadline = now_ms() + DW_CLOSE_MS, now;
	struct timespec left;
	bool done;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		done = w->done; /* also when clone failed: no process */
		pthread_mutex_unlock(&w->mu);
		if (done || atomic_load(&w->closed) || (now = now_ms()) >= deadline)
			return;
		left.tv_sec = (time_t)((deadline - now) / 1000);
		left.tv_nsec = (long)((deadline - now) % 1000) * 1000000;
		syscall(SYS_futex, &w->closed, FUTEX_WAIT, 0, &left, NULL, 0);
	}
}

static __thread pid_t sr_left_pid;

pid_t sr_last_left_pid(void)
{
	return sr_left_pid;
}

/* A write of VALUE, or (OUT not NULL) a read of up to SIZE-1 bytes into OUT, made by the
 * detached process; the caller gives up at DEADLINE. */
static int detached(const struct sysroot *sr, const char *path, const char *value, char *out,
		    size_t size, uint64_t deadline)
{
	size_t vlen = out ? size : strlen(value) + 1;
	struct detached_write *w;
	struct timespec until;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (strlen(path) >= sizeof(w->path))
		return -ENAMETOOLONG;
	if (out && (size < 2 || size > INT_MAX))
		return -EINVAL;
	w = calloc(1, sizeof(*w) + vlen);
	if (!w)
		return -ENOMEM;
	w->stack = mmap(NULL, DW_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (w->stack == MAP_FAILED) {
		r = -errno;
		free(w);
		return r;
	}
	w->sr = *sr;
	w->sr.wp = NULL;
	w->read = out != NULL;
	w->size = vlen;
	strcpy(w->path, path);
	if (!out)
		memcpy(w->value, value, vlen);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_init(&w->refs, 2);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, DW_STACK);
	r = -pthread_create(&t, &attr, dw_thread, w);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		atomic_store(&w->refs, 1);
		dw_put(w);
		return r;
	}
	until.tv_sec = (time_t)(deadline / 1000);
	until.tv_nsec = (long)(deadline % 1000) * 1000000;
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_clockwait(&w->cv, &w->mu, CLOCK_MONOTONIC, &until) == ETIMEDOUT)
			break;
	r = w->done ? w->result : -ETIMEDOUT;
	sr_left_pid = w->done ? 0 : w->pid;
	if (w->done && out && r >= 0)
		memcpy(out, w->value, (size_t)r + 1);
	pthread_mutex_unlock(&w->mu);
	if (r == -ETIMEDOUT)
		wait_closed(w);
	dw_put(w);
	return r;
}

ssize_t sr_read_str_timeout(const struct sysroot *sr, const char *path, char *buf, size_t size,
			    unsigned long ms)
{
	int r = detached(sr, path, NULL, buf, size, now_ms() + ms);

	return r < 0 ? r : sr_int_strip(buf, r);
}

int sr_write_timeout(const struct sysroot *sr, const char *path, const char *value,
		     unsigned long ms)
{
	uint64_t deadline = now_ms() + ms;
	int r;

	if (!sr_int_wp_gate(sr, path, value, &r))
		return r;
	r = detached(sr, path, value, NULL, 0, deadline);
	/* a write still blocked in the process may yet take effect: report it as not done */
	return sr_int_wp_after(sr, path, value, r, r != -ETIMEDOUT);
}
