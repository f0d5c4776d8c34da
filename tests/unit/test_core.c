/* test_core.c - rooted I/O, PCI addresses and parsing helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakesys.h"
#include "harness.h"
#include "pciaddr.h"
#include "sysfs.h"
#include "sysroot.h"
#include "util.h"

TEST(pci_addr_forms)
{
	struct pci_addr a;
	char buf[PCI_ADDR_LEN];
	bool fn;

	CHECK_INT(pci_addr_parse("0000:02:00.1", &a), 0);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "0000:02:00.1");
	CHECK_INT(pci_addr_parse("02:00.1", &a), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00", &a, &fn), 0);
	CHECK(!fn);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "0000:02:00.0");
	CHECK_INT(pci_addr_parse_loose("1234:f0:43.1", &a, &fn), 0);
	CHECK(fn);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "1234:f0:43.1");
	CHECK_INT(pci_addr_parse("10000:e0:06.0", &a), 0);
	pci_addr_fmt(&a, buf);
	CHECK_STR(buf, "10000:e0:06.0");
	CHECK_INT(pci_addr_parse_loose("2:00.0", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00.8", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("000:02:00.0", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("02:00.0x", &a, &fn), -EINVAL);
	CHECK_INT(pci_addr_parse_loose("", &a, &fn), -EINVAL);
}

TEST(sysfs_path_shapes)
{
	char p[SR_PATH_MAX];

	CHECK_INT(sysfs_pci_dev(p, "0000:01:00.0", NULL), 0);
	CHECK_STR(p, "/sys/bus/pci/devices/0000:01:00.0");
	CHECK_INT(sysfs_pci_dev(p, "0000:01:00.0", "driver_override"), 0);
	CHECK_STR(p, "/sys/bus/pci/devices/0000:01:00.0/driver_override");
	CHECK_INT(sysfs_platform_dev(p, "simple-framebuffer.0", "driver"), 0);
	CHECK_STR(p, "/sys/bus/platform/devices/simple-framebuffer.0/driver");
	CHECK_INT(sysfs_bus_driver(p, "pci", "vfio-pci", "bind"), 0);
	CHECK_STR(p, "/sys/bus/pci/drivers/vfio-pci/bind");
	CHECK_INT(sysfs_bus_driver(p, "platform", "simple-framebuffer", NULL), 0);
	CHECK_STR(p, "/sys/bus/platform/drivers/simple-framebuffer");
	CHECK_INT(sysfs_vtcon(p, 1, "bind"), 0);
	CHECK_STR(p, "/sys/class/vtconsole/vtcon1/bind");
	/* a name is one path component: nothing climbs out of the device directory */
	CHECK_INT(sysfs_pci_dev(p, "../../../etc", "passwd"), -EINVAL);
	CHECK_INT(sysfs_pci_dev(p, "..", NULL), -EINVAL);
	CHECK_INT(sysfs_pci_dev(p, "", "rom"), -EINVAL);
	CHECK_INT(sysfs_bus_driver(p, "pci/../..", "x", "bind"), -EINVAL);
	CHECK_INT(sysfs_vtcon(p, -1, "bind"), -EINVAL);
	char big[SR_PATH_MAX];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(sysfs_pci_dev(p, big, NULL), -ENAMETOOLONG);
}

TEST(parse_numbers)
{
	unsigned long v;
	bool b;

	CHECK_INT(parse_ulong("42", 10, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(parse_ulong("101", 10, 100, &v), -ERANGE);
	CHECK_INT(parse_ulong("-1", 10, 100, &v), -EINVAL);
	CHECK_INT(parse_ulong("4x", 10, 100, &v), -EINVAL);
	CHECK_INT(parse_duration_ms("10", &v), 0);
	CHECK_INT(v, 10000);
	CHECK_INT(parse_duration_ms("250ms", &v), 0);
	CHECK_INT(v, 250);
	CHECK_INT(parse_duration_ms("2h", &v), -EINVAL);
	CHECK_INT(parse_duration_ms("99999", &v), -ERANGE);
	CHECK_INT(parse_bool("Yes", &b), 0);
	CHECK(b);
	CHECK_INT(parse_bool("off", &b), 0);
	CHECK(!b);
	CHECK_INT(parse_bool("maybe", &b), -EINVAL);
}

TEST(sysroot_reads_and_writes_below_root)
{
	struct sysroot sr;
	char buf[64];
	const char *spec = "pci 0000:00:02.0 vendor=1234 device=1111 class=030000 driver=bochs-drm "
			   "group=3 boot_vga=1\n";

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK(!sr_is_host(&sr));
	CHECK_INT(sr_read_str(&sr, "/sys/bus/pci/devices/0000:00:02.0/vendor", buf, sizeof(buf)), 6);
	CHECK_STR(buf, "0x1234");
	CHECK_INT(sr_link_name(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "bochs-drm");
	CHECK_INT(sr_link_name(&sr, "/sys/bus/pci/devices/0000:00:02.0/iommu_group", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "3");
	CHECK_INT(sr_write(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci"), 0);
	CHECK_INT(sr_read(&sr, "/sys/bus/pci/devices/0000:00:02.0/driver_override", buf, sizeof(buf)), 8);
	CHECK_STR(buf, "vfio-pci");
	/* bounded read: a value larger than the buffer is an error, not a truncation */
	CHECK_INT(sr_read(&sr, "/sys/bus/pci/devices/0000:00:02.0/vendor", buf, 4), -EFBIG);
	/* writing never creates files */
	CHECK_INT(sr_write(&sr, "/sys/bus/pci/devices/0000:00:02.0/nonexistent", "1"), -ENOENT);
	sr_close(&sr);
}

TEST(sysroot_realpath_stays_inside)
{
	struct sysroot sr;
	char out[SR_PATH_MAX];
	const char *spec = "pci 0000:00:1c.0 class=060400 bridge=1 group=5\n"
			   "pci 0000:01:00.0 class=010601 parent=0000:00:1c.0 group=6\n"
			   "link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda\n"
			   "dir /sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda\n"
			   "link /escape /etc\n";

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_realpath(&sr, "/sys/dev/block/8:0", out), 0);
	CHECK_STR(out, "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/ata1/block/sda");
	CHECK_INT(sr_realpath(&sr, "/sys/bus/pci/devices/0000:01:00.0/../0000:01:00.0", out), 0);
	CHECK_STR(out, "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0");
	/* an absolute link in a fixture resolves inside the root, never to the host */
	CHECK_INT(sr_realpath(&sr, "/escape/passwd", out), 0);
	CHECK_STR(out, "/etc/passwd");
	CHECK(sr_openat(&sr, "/escape/passwd", O_RDONLY, 0) < 0);
	sr_close(&sr);
}

TEST(atomic_write_replaces)
{
	struct sysroot sr;
	char buf[64];

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_mkdir_p(&sr, "/run/pve-gpu-passthrough", 0700), 0);
	CHECK_INT(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/x", "one\n", 4, 0600), 0);
	CHECK_INT(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/x", "two\n", 4, 0600), 0);
	CHECK_INT(sr_read(&sr, "/run/pve-gpu-passthrough/x", buf, sizeof(buf)), 4);
	CHECK_STR(buf, "two\n");
	sr_close(&sr);
}

/* The one write-everything loop (the atomic write, rom_save, rom dump to stdout): all of it,
 * or the write's error after what fitted (a full non-blocking pipe: a short write, then
 * EAGAIN), never a silent short write. */
TEST(write_fd_all_writes_everything_or_says_why)
{
	static char big[1 << 20], back[1 << 20];
	char path[600], buf[16] = "";
	int fd, pfd[2];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/f", test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(sr_write_fd_all(fd, "abc\n", 4), 0);
	CHECK_INT(sr_write_fd_all(fd, "", 0), 0);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_INT(read(fd, buf, sizeof(buf) - 1), 4);
	CHECK_STR(buf, "abc\n");
	CHECK_INT(sr_write_fd_all(fd, "x", 1), -EBADF); /* read-only */
	close(fd);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	CHECK_INT(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK_INT(sr_write_fd_all(pfd[1], big, sizeof(big)), -EAGAIN);
	n = read(pfd[0], back, sizeof(back));
	CHECK(n > 0 && (size_t)n < sizeof(big));
	CHECK(!memcmp(back, big, (size_t)n));
	close(pfd[0]);
	close(pfd[1]);
}

/* A tree whose links lead out of the root: "/run/pve-gpu-passthrough" is an absolute link to
 * a real directory outside, "/up" climbs out with "..", "/var/lib" is an absolute link too.
 * Every sysroot operation must act inside the root (or fail), never on OUTSIDE. */
TEST(sysroot_every_operation_confined)
{
	char root[300], out[300], p[700], buf[SR_PATH_MAX];
	struct sysroot sr;
	struct stat st;
	int fd;
	DIR *d;

	snprintf(root, sizeof(root), "%s/root", test_tmpdir());
	snprintf(out, sizeof(out), "%s/outside", test_tmpdir());
	CHECK_INT(mkdir(root, 0700), 0);
	CHECK_INT(mkdir(out, 0700), 0);
	snprintf(p, sizeof(p), "%s/victim", out);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "keep\n", 5) == 5);
	close(fd);
	snprintf(p, sizeof(p), "%s/lnk", out);
	CHECK_INT(symlink("target-outside", p), 0);
	snprintf(p, sizeof(p), "%s/run", root);
	CHECK_INT(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/run/pve-gpu-passthrough", root);
	CHECK_INT(symlink(out, p), 0);
	snprintf(p, sizeof(p), "%s/up", root);
	CHECK_INT(symlink("../outside", p), 0);
	snprintf(p, sizeof(p), "%s/var", root);
	CHECK_INT(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/var/lib", root);
	CHECK_INT(symlink(out, p), 0);

	CHECK_INT(sr_open(&sr, root), 0);
	CHECK(!sr_is_host(&sr));
	/* exists, lstat, readlink, realpath */
	CHECK(!sr_exists(&sr, "/run/pve-gpu-passthrough/victim"));
	CHECK(!sr_exists(&sr, "/up/victim"));
	CHECK(!sr_exists(&sr, "/run/../../outside/victim"));
	CHECK(sr_lstat(&sr, "/up/lnk", &st) < 0);
	CHECK(sr_lstat(&sr, "/run/pve-gpu-passthrough/lnk", &st) < 0);
	CHECK_INT(sr_lstat(&sr, "/run/pve-gpu-passthrough", &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK(sr_readlink(&sr, "/run/pve-gpu-passthrough/lnk", buf, sizeof(buf)) < 0);
	CHECK(sr_readlink(&sr, "/up/lnk", buf, sizeof(buf)) < 0);
	CHECK(sr_readlink(&sr, "/../../outside/lnk", buf, sizeof(buf)) < 0);
	CHECK_INT(sr_realpath(&sr, "/up/lnk", buf), 0);
	CHECK_STR(buf, "/outside/lnk");
	/* opendir */
	d = sr_opendir(&sr, "/run/pve-gpu-passthrough");
	CHECK(d == NULL);
	d = sr_opendir(&sr, "/up");
	CHECK(d == NULL);
	/* mkdir, mkdir_p, unlink, rename, symlink, the atomic write and open(O_CREAT) */
	CHECK(sr_mkdir(&sr, "/run/pve-gpu-passthrough/made", 0700) < 0);
	CHECK(sr_mkdir_p(&sr, "/run/pve-gpu-passthrough/a/b", 0700) < 0);
	CHECK(sr_mkdir_p(&sr, "/var/lib/pve-gpu-passthrough", 0700) < 0);
	CHECK(sr_mkdir_p(&sr, "/up/made", 0700) < 0);
	CHECK(sr_unlink(&sr, "/run/pve-gpu-passthrough/victim") < 0);
	CHECK(sr_unlink(&sr, "/up/victim") < 0);
	CHECK(sr_unlink(&sr, "/../outside/victim") < 0);
	CHECK(sr_rename(&sr, "/up/victim", "/stolen") < 0);
	CHECK(sr_rename(&sr, "/run", "/up/run") < 0);
	CHECK(sr_symlink(&sr, "/etc", "/run/pve-gpu-passthrough/new") < 0);
	CHECK(sr_symlink(&sr, "/etc", "/up/new") < 0);
	CHECK(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/victim", "x", 1, 0600) < 0);
	CHECK(sr_openat(&sr, "/run/pve-gpu-passthrough/lock", O_RDWR | O_CREAT, 0600) < 0);
	/* nothing outside changed */
	snprintf(p, sizeof(p), "%s/victim", out);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_size, 5);
	snprintf(p, sizeof(p), "%s/lnk", out);
	CHECK_INT(lstat(p, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	d = opendir(out);
	CHECK(d != NULL);
	{
		struct dirent *de;
		int n = 0;

		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		CHECK_INT(n, 2); /* victim and lnk, nothing made */
	}
	closedir(d);
	snprintf(p, sizeof(p), "%s/stolen", root);
	CHECK(access(p, F_OK) < 0);
	/* what resolves inside the root still works, through the same links */
	CHECK_INT(sr_mkdir_p(&sr, out, 0700), 0); /* the link's target, made inside the root */
	snprintf(p, sizeof(p), "%s%s", root, out);
	CHECK_INT(stat(p, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(sr_write_file_atomic(&sr, "/run/pve-gpu-passthrough/victim", "in\n", 3, 0600), 0);
	snprintf(p, sizeof(p), "%s%s/victim", root, out);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_size, 3);
	CHECK_INT(sr_symlink(&sr, "x", "/var/lib/l"), 0);
	CHECK_INT(sr_readlink(&sr, "/var/lib/l", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "x");
	CHECK_INT(sr_rename(&sr, "/var/lib/l", "/var/lib/m"), 0);
	CHECK_INT(sr_unlink(&sr, "/run/pve-gpu-passthrough/m"), 0);
	CHECK_INT(sr_unlink(&sr, "/run/pve-gpu-passthrough/victim"), 0);
	snprintf(p, sizeof(p), "%s/victim", out);
	CHECK_INT(stat(p, &st), 0); /* the real one is still there */
	sr_close(&sr);
}

/* A FIFO, a directory or a device where a file is expected is refused before anything
 * blocks (a FIFO without a writer blocks a plain open(O_RDONLY) forever). */
TEST(sysroot_read_file_refuses_non_regular)
{
	struct sysroot sr;
	char p[600], *text = NULL;
	size_t len;

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	snprintf(p, sizeof(p), "%s/fifo", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(sr_read_file(&sr, "/fifo", 1024, &text, &len), -SR_ENOTREG);
	CHECK_INT(sr_mkdir_p(&sr, "/dir", 0700), 0);
	CHECK_INT(sr_read_file(&sr, "/dir", 1024, &text, &len), -SR_ENOTREG);
	CHECK_INT(sr_open_regular(&sr, "/fifo", O_RDONLY), -SR_ENOTREG);
	CHECK_STR(sr_strerror(-SR_ENOTREG), "not a regular file");
	CHECK_INT(sr_write_file_atomic(&sr, "/file", "abc", 3, 0600), 0);
	CHECK_INT(sr_read_file(&sr, "/file", 1024, &text, &len), 0);
	CHECK_INT(len, 3);
	CHECK_STR(text, "abc");
	free(text);
	sr_close(&sr);
}

static char ioctl_seen[128];

static int ioctl_take(void *data, const char *path, const char *value)
{
	snprintf(ioctl_seen, sizeof(ioctl_seen), "%s %s", path, value);
	return SR_WP_TAKEN;
}

/* A console change through /dev (an ioctl) passes the write points like a sysfs write: a dry
 * run refuses it, a point can take it; without a point it is made (here on a regular file,
 * which has no such ioctl). */
TEST(sysroot_ioctl_change_passes_the_write_points)
{
	struct sysroot sr;
	struct sr_write_point wp = { 0 };
	int arg = 0;

	CHECK_INT(fakesys_build(test_tmpdir(), "file /dev/fb0 x\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_ioctl_change(&sr, "/dev/fb0", 0x4610, &arg, "con2fbmap tty1 fb0"), -ENOTTY);
	CHECK_INT(sr_ioctl_read(&sr, "/dev/fb0", 0x460F, &arg), -ENOTTY);
	sr.wp = &wp;
	wp.dry_run = true;
	CHECK_INT(sr_ioctl_change(&sr, "/dev/fb0", 0x4610, &arg, "con2fbmap tty1 fb0"), 0);
	wp.dry_run = false;
	wp.before = ioctl_take;
	CHECK_INT(sr_ioctl_change(&sr, "/dev/fb0", 0x4610, &arg, "con2fbmap tty1 fb0"), 0);
	CHECK_STR(ioctl_seen, "/dev/fb0 con2fbmap tty1 fb0");
	CHECK_INT(sr_ioctl_change(&sr, "/dev/fb9", 0x4610, &arg, "x"), 0); /* taken: not opened */
	sr.wp = NULL;
	CHECK_INT(sr_ioctl_change(&sr, "/dev/fb9", 0x4610, &arg, "x"), -ENOENT);
	sr_close(&sr);
}

/* A read that would block for ever (a FIFO here; driver_override while a driver is stuck in
 * remove() on a kernel before 6.19) ends at its deadline, the buffer untouched; a plain read
 * through the same process gives the value. */
TEST(sysroot_timed_read_ends_at_its_deadline)
{
	struct sysroot sr;
	char p[600], buf[32] = "before";
	int fd;

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	snprintf(p, sizeof(p), "%s/fifo", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(sr_read_str_timeout(&sr, "/fifo", buf, sizeof(buf), 100), -ETIMEDOUT);
	CHECK_STR(buf, "before");
	/* let the blocked reader go (a writer opens and closes: it reads EOF). On a loaded machine
	 * its process may not have reached its open yet: until it has, a non-blocking writer's
	 * open fails with ENXIO (polled for, 10 s at most) */
	for (int i = 0; (fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
			i < 1000; i++)
		poll(NULL, 0, 10);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(sr_write_file_atomic(&sr, "/attr", "vfio-pci\n", 9, 0600), 0);
	CHECK_INT(sr_read_str_timeout(&sr, "/attr", buf, sizeof(buf), 5000), 8);
	CHECK_STR(buf, "vfio-pci");
	CHECK_INT(sr_read_str_timeout(&sr, "/attr", buf, 4, 5000), -EFBIG);
	sr_close(&sr);
}

/* A program started with standard input closed (cron, a service with StandardInput=close):
 * the root must not become fd 0, which the timed writer closes in its process and the watcher
 * points at /dev/null; every timed write failed with EBADF then. */
TEST(sysroot_with_stdin_closed_keeps_its_root)
{
	char buf[32];
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct sysroot sr;

		close(STDIN_FILENO);
		if (sr_open(&sr, test_tmpdir()) < 0)
			_exit(2);
		if (sr_write_file_atomic(&sr, "/attr", "", 0, 0600) < 0)
			_exit(4);
		if (sr_write_timeout(&sr, "/attr", "vfio-pci", 5000) < 0)
			_exit(5);
		if (sr_read_str_timeout(&sr, "/attr", buf, sizeof(buf), 5000) != 8)
			_exit(6);
		_exit(0);
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	{
		struct sysroot sr;

		CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
		CHECK_INT(sr_read_str(&sr, "/attr", buf, sizeof(buf)), 8);
		CHECK_STR(buf, "vfio-pci");
		sr_close(&sr);
	}
}
