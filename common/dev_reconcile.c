/* dev_reconcile.c - see dev_reconcile.h. */
#define _GNU_SOURCE
#include "dev_reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dev_state.h"
#include "pve_conf.h"
#include "util.h"

#define CMDLINE_MAX 65536 /* read of a QEMU's command line */

/* The VMID the NUL-separated command line names with "-id VMID" (qemu-server's first
 * option), -1 when it has none. */
static int cmdline_vm(const char *cmd, size_t len)
{
	const char *end = cmd + len, *prev = NULL;
	int id;

	for (const char *a = cmd; a < end; a += strlen(a) + 1) {
		if (prev && !strcmp(prev, "-id"))
			return pve_vmid_parse(a, &id) < 0 ? -1 : id;
		prev = a;
	}
	return -1;
}

/* Reads the first SIZE-1 bytes of PATH at most into BUF: their count, *MORE set when the file
 * goes on beyond them. */
static ssize_t read_prefix(const struct sysroot *sr, const char *path, char *buf, size_t size,
			   bool *more)
{
	size_t got = 0;
	ssize_t n;
	int fd = sr_openat(sr, path, O_RDONLY | O_NOCTTY, 0);

	*more = false;
	if (fd < 0)
		return fd;
	for (;;) {
		char extra;

		if (got < size - 1)
			n = read(fd, buf + got, size - 1 - got);
		else
			n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		if (got == size - 1) {
			*more = true;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

int vm_qemu_running(const struct sysroot *sr, int vmid)
{
	char path[SR_PATH_MAX], buf[32];
	_cleanup_free_ char *cmd = malloc(CMDLINE_MAX + 1);
	unsigned long pid;
	bool more;
	ssize_t n;
	int r;

	if (!cmd)
		return -ENOMEM;
	r = sr_path(path, PVE_QEMU_PIDFILE, vmid);
	if (r < 0)
		return r;
	r = (int)sr_read_str(sr, path, buf, sizeof(buf));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	/* a pidfile that is no pid names no process */
	if (parse_ulong(buf, 10, 4194304, &pid) < 0 || pid < 1)
		return 0;
	r = sr_path(path, "/proc/%lu/cmdline", pid);
	if (r < 0)
		return r;
	n = read_prefix(sr, path, cmd, CMDLINE_MAX + 1, &more);
	if (n == -ENOENT || n == -ESRCH)
		return 0; /* gone */
	if (n < 0)
		return (int)n; /* cannot be told: nothing is given back */
	/* qemu-server puts "-id VMID" first; a longer command line (many devices, disks) is
	 * still this VM's when its beginning says so */
	if (more) /* its last argument may be cut short ("-id" "10" of "100") */
		while (n > 0 && cmd[n - 1] != '\0')
			n--;
	r = cmdline_vm(cmd, (size_t)n);
	if (r >= 0)
		return r == vmid; /* another VM's QEMU (a reused pid) is not this one */
	return more ? -EFBIG : 0; /* no "-id" in what was read, the rest unread: cannot be told */
}

int vm_config_lock(const struct sysroot *sr, int vmid, unsigned long wait_ms)
{
	char path[SR_PATH_MAX];
	uint64_t deadline = now_ms() + wait_ms;
	long step_ms = 10;
	int fd, r;

	r = sr_path(path, PVE_CONF_LOCK, vmid);
	if (r < 0)
		return r;
	/* Proxmox creates the file the same way when it first locks the VM; a dry run creates
	 * nothing (no file in an existing directory: nobody holds the lock, an fd of the root) */
	if (sr_dry_run(sr)) {
		fd = sr_openat(sr, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
		if (fd == -ENOENT && sr_exists(sr, "/var/lock/qemu-server"))
			return sr_openat(sr, "/", O_RDONLY | O_DIRECTORY, 0);
	} else {
		fd = sr_openat(sr, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0644);
	}
	if (fd < 0)
		return fd;
	for (;;) {
		uint64_t now;
		struct timespec ts;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
		now = now_ms();
		if (now >= deadline) {
			close(fd);
			return -EBUSY;
		}
		/* a start can take minutes: back off to twice a second */
		if ((uint64_t)step_ms > deadline - now)
			step_ms = (long)(deadline - now);
		ts.tv_sec = step_ms / 1000;
		ts.tv_nsec = (step_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if (step_ms < 500)
			step_ms *= 2;
	}
}

/* One line per recorded device: left alone, and why. */
static void left_alone(const struct handoff_ops *ops, const struct handoff_state *s,
		       const char *why)
{
	for (int i = 0; i < s->ndevs; i++)
		handoff_logf(ops, HO_INFO, "%s: %s; left on vfio-pci", s->devs[i].name, why);
}

int reconcile_vm(const struct handoff_ops *ops, int vmid, unsigned long wait_ms)
{
	struct handoff_state *s = calloc(1, sizeof(*s));
	char why[160];
	int lock, r;

	if (!s)
		return -ENOMEM;
	r = state_load(ops->sr, vmid, s);
	if (r == -ENOENT) {
		r = 0; /* nothing handed over */
		goto out;
	}
	if (r < 0) {
		char what[256];

		if (r != -EINVAL || state_explain(ops->sr, vmid, what, sizeof(what)) < 0)
			snprintf(what, sizeof(what), "%s", sr_strerror(r));
		handoff_logf(ops, HO_ERROR, "state file %s/%d.state of VM %d is refused: %s; not reconciling "
		    "it (fix or remove it after checking the devices' drivers)", STATE_DIR, vmid, vmid,
		    what);
		goto out;
	}
	lock = vm_config_lock(ops->sr, vmid, wait_ms);
	if (lock == -EBUSY) {
		snprintf(why, sizeof(why), "VM %d is starting (its config lock is held)", vmid);
		left_alone(ops, s, why);
		r = 0;
		goto out;
	}
	if (lock == -ENOENT) {
		/* every Proxmox start locks the VM (its state file came from one): without the
		 * lock directory this is no Proxmox start, and whether one runs cannot be told */
		snprintf(why, sizeof(why), "no Proxmox config lock for VM %d (/var/lock/qemu-server "
			 "is missing): cannot tell whether it is starting", vmid);
		left_alone(ops, s, why);
		r = 0;
		goto out;
	}
	if (lock < 0) {
		handoff_logf(ops, HO_ERROR, "VM %d: cannot take its config lock: %s; not reconciling", vmid,
		    strerror(-lock));
		r = lock;
		goto out;
	}
	r = vm_qemu_running(ops->sr, vmid);
	if (r > 0) {
		snprintf(why, sizeof(why), "VM %d is running", vmid);
		left_alone(ops, s, why);
		r = 0;
	} else if (r == -EFBIG) {
		handoff_logf(ops, HO_ERROR, "VM %d: cannot tell whether it runs (the command line of the "
		    "process its pidfile names is over %d KiB and does not begin with '-id %d'); not "
		    "reconciling", vmid, CMDLINE_MAX / 1024, vmid);
	} else if (r < 0) {
		handoff_logf(ops, HO_ERROR, "VM %d: cannot tell whether it runs: %s; not reconciling", vmid,
		    strerror(-r));
	} else {
		/* with VMID's own options (return_on_stop = no: the release says they stay) */
		if (handoff_opts(ops, vmid)->return_on_stop)
			handoff_logf(ops, HO_INFO, "VM %d is not running: giving its devices back",
				     vmid);
		r = handoff_release(ops, vmid);
	}
	close(lock);
out:
	free(s);
	return r;
}

static int by_number(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int reconcile_all(const struct handoff_ops *ops, int skip_vmid)
{
	int vmids[256], n = 0, first = 0, r;
	struct dirent *de;
	DIR *d = sr_opendir(ops->sr, STATE_DIR);

	if (!d && errno != ENOENT)
		return -errno;
	while (d && (de = readdir(d)) && n < (int)ARRAY_SIZE(vmids)) {
		char num[16];
		const char *dot = strrchr(de->d_name, '.');
		int v;

		/* VMID.state only (not the atomic writes' VMID.state.tmp.PID) */
		if (!dot || strcmp(dot, ".state") || (size_t)(dot - de->d_name) >= sizeof(num))
			continue;
		memcpy(num, de->d_name, (size_t)(dot - de->d_name));
		num[dot - de->d_name] = '\0';
		if (pve_vmid_parse(num, &v) < 0 || v == skip_vmid)
			continue;
		vmids[n++] = v;
	}
	if (d)
		closedir(d);
	qsort(vmids, (size_t)n, sizeof(vmids[0]), by_number);
	for (int i = 0; i < n; i++)
		if ((r = reconcile_vm(ops, vmids[i], 0)) < 0 && !first)
			first = r;
	/* also when no VM was left: a dynamic id that takes an SR-IOV PF is never kept */
	if ((r = handoff_drop_pf_ids(ops)) < 0 && !first)
		first = r;
	return first;
}

int reconcile_watch(const struct handoff_ops *ops, int vmid, unsigned long wait_ms)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null;

		/* detach: a session of its own, and a grandchild that init adopts */
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		/* Proxmox reads the hook's stdout and stderr until both reach EOF: hold none of
		 * the caller's fds (nor its device locks), only the root */
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			_exit(1);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		fds_close_except(ops->sr->fd);
		if (chdir("/") < 0)
			_exit(1);
		_exit(reconcile_vm(ops, vmid, wait_ms) < 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}
