/* labtool.c - the lab's helper, run inside the guest (static):
 *   labtool vfio GROUP DEV [DEV...] [--bar0]
 *       prints "vfio ok" or "vfio FAIL <stage>: <error>", and with --bar0 "bar0 mmap ok|FAIL
 *       <error>"; exit 0 only when every requested step worked (the product's own prover).
 *   labtool time CMD [ARGS...]
 *       runs CMD (output discarded), prints its wall time in microseconds, exits with its status.
 *   labtool min to-vfio|to-host VTCON GROUP DEV...
 *       the benchmark baseline: only the sysfs writes a handoff needs (fbcon vtconsole,
 *       driver_override, unbind, drivers_probe) and, for to-vfio, the hook's VFIO proof of the
 *       group (device fds, every BAR mapped). VTCON "move:OTHER" moves the consoles instead,
 *       as the hook does when another card OTHER has a framebuffer: every console to OTHER's
 *       framebuffer (to-vfio), back to the first DEV's once it is bound again (to-host);
 *       no checks, no state, no waiting. The drivers (and vfio-pci) must be loaded.
 *   labtool con2fb
 *       prints which framebuffer carries each framebuffer console, one line per framebuffer:
 *       "con2fb tty1-tty63 fb1 0000:01:00.0" ("con2fb none" without framebuffers).
 *   labtool trylock FILE
 *       exit 0 when an exclusive flock on FILE can be taken now (it is let go at once), 1 when
 *       another process holds it, 2 on error (the hook's device locks, Proxmox's config lock).
 *   labtool locked FILE CMD [ARGS...]
 *       runs CMD while holding an exclusive flock on FILE (created), as Proxmox holds a VM's
 *       config lock for a whole start; exits with CMD's status. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fb.h>
#include <sys/ioctl.h>

#define FB_MAXN 32 /* FB_MAX */
#define NCONS 63   /* MAX_NR_CONSOLES */

#include "dev_vfio.h"

static int timed(char **argv)
{
	struct timespec a, b;
	int st;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld\n", (long)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

static int put(struct sysroot *sr, const char *fmt, const char *arg, const char *value)
{
	char path[SR_PATH_MAX];

	snprintf(path, sizeof(path), fmt, arg);
	return sr_write(sr, path, value) < 0;
}

/* The framebuffer number of PCI device DEV (its DRM driver's fbdev), -1 without one. */
static int fb_of(const char *dev)
{
	char link[64], real[PATH_MAX];
	int found = -1;

	for (int fb = 0; fb < FB_MAXN && found < 0; fb++) {
		const char *base;

		snprintf(link, sizeof(link), "/sys/class/graphics/fb%d/device", fb);
		if (!realpath(link, real))
			continue;
		base = strrchr(real, '/');
		if (base && !strcmp(base + 1, dev))
			found = fb;
	}
	return found;
}

/* Every console to DEV's framebuffer: one FBIOPUT_CON2FBMAP each, on one open node. */
static int move_consoles(const char *dev)
{
	int fb = fb_of(dev), fd, bad = 0;
	char node[32];

	if (fb < 0)
		return 1;
	snprintf(node, sizeof(node), "/dev/fb%d", fb);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 1;
	for (int c = 1; c <= NCONS; c++) {
		struct fb_con2fbmap m = { .console = (unsigned)c, .framebuffer = (unsigned)fb };

		bad |= ioctl(fd, FBIOPUT_CON2FBMAP, &m) < 0;
	}
	close(fd);
	return bad;
}

static int minimal(struct sysroot *sr, int argc, char **argv)
{
	bool to_vfio = !strcmp(argv[2], "to-vfio");
	const char *vt = argv[3], **devs = (const char **)argv + 5;
	int ndev = argc - 5, bad = 0;
	struct vfio_report rep;

	bool move = !strncmp(vt, "move:", 5);

	if (to_vfio)
		bad |= move ? move_consoles(vt + 5) : put(sr, "/sys/class/vtconsole/vtcon%s/bind", vt, "0");
	for (int i = 0; i < ndev; i++) {
		bad |= put(sr, "/sys/bus/pci/devices/%s/driver_override", devs[i], to_vfio ? "vfio-pci" : "\n");
		bad |= put(sr, "/sys/bus/pci/devices/%s/driver/unbind", devs[i], devs[i]);
	}
	for (int i = 0; i < ndev; i++)
		bad |= sr_write(sr, "/sys/bus/pci/drivers_probe", devs[i]) < 0;
	if (to_vfio)
		/* the hook's own proof: every BAR of every member mapped (the ratio then measures
		 * only the hook's overhead, not a lighter proof) */
		bad |= vfio_prove(sr, atoi(argv[4]), devs, ndev, VFIO_PROVE_MMAP_BARS, &rep) < 0;
	else
		bad |= move ? move_consoles(devs[0]) : put(sr, "/sys/class/vtconsole/vtcon%s/bind", vt, "1");
	return bad;
}

/* Independent of the product's console.c on purpose: the lab checks it. */
static int con2fb(struct sysroot *sr)
{
	uint64_t on[FB_MAXN] = { 0 };
	int fd = -1, printed = 0;

	for (int fb = 0; fb < FB_MAXN && fd < 0; fb++) {
		char node[32];

		snprintf(node, sizeof(node), "/dev/fb%d", fb);
		fd = open(node, O_RDONLY | O_CLOEXEC);
	}
	for (int c = 1; fd >= 0 && c <= NCONS; c++) {
		struct fb_con2fbmap m = { .console = (unsigned)c };

		if (ioctl(fd, FBIOGET_CON2FBMAP, &m) == 0 && m.framebuffer < FB_MAXN)
			on[m.framebuffer] |= UINT64_C(1) << (c - 1);
	}
	if (fd >= 0)
		close(fd);
	for (int fb = 0; fb < FB_MAXN; fb++) {
		char link[SR_PATH_MAX], real[SR_PATH_MAX];
		const char *base;

		if (!on[fb])
			continue;
		snprintf(link, sizeof(link), "/sys/class/graphics/fb%d/device", fb);
		base = sr_realpath(sr, link, real) == 0 ? strrchr(real, '/') : NULL;
		printf("con2fb");
		for (int c = 1; c <= NCONS; c++) {
			int e = c;

			if (!(on[fb] & (UINT64_C(1) << (c - 1))))
				continue;
			while (e < NCONS && (on[fb] & (UINT64_C(1) << e)))
				e++;
			printf(e > c ? " tty%d-tty%d" : " tty%d", c, e);
			c = e;
		}
		printf(" fb%d %s\n", fb, base ? base + 1 : "-");
		printed++;
	}
	if (!printed)
		printf("con2fb none\n");
	return 0;
}

static int trylock(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 2;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return 1;
	close(fd);
	return 0;
}

static int locked(const char *path, char **argv)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), st;
	pid_t pid;

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

int main(int argc, char **argv)
{
	const char *devs[16];
	struct vfio_report rep;
	struct sysroot sr;
	unsigned flags = VFIO_PROVE_DMA_MAP;
	int ndev = 0, r;

	if (argc >= 3 && !strcmp(argv[1], "time"))
		return timed(argv + 2);
	if (argc == 2 && !strcmp(argv[1], "con2fb")) {
		if (sr_open(&sr, "/") < 0)
			return 2;
		return con2fb(&sr);
	}
	if (argc == 3 && !strcmp(argv[1], "trylock"))
		return trylock(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "locked"))
		return locked(argv[2], argv + 3);
	if (argc >= 6 && !strcmp(argv[1], "min")) {
		if (sr_open(&sr, "/") < 0)
			return 2;
		return minimal(&sr, argc, argv);
	}
	if (argc < 4 || strcmp(argv[1], "vfio") != 0) {
		fprintf(stderr, "usage: labtool vfio GROUP DEV [DEV...] [--bar0] | time CMD... | "
				"min to-vfio|to-host VTCON GROUP DEV... | con2fb | trylock FILE | "
				"locked FILE CMD...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--bar0") == 0)
			flags |= VFIO_PROVE_MMAP_BAR0;
		else if (ndev < 16)
			devs[ndev++] = argv[i];
	}
	if (sr_open(&sr, "/") < 0)
		return 2;
	r = vfio_prove(&sr, atoi(argv[2]), devs, ndev, flags, &rep);
	if (r < 0) {
		printf("vfio FAIL %s: %s\n", rep.stage, strerror(-r));
		return 1;
	}
	printf("vfio ok\n");
	if (flags & VFIO_PROVE_MMAP_BAR0) {
		if (rep.bar0_mmap < 0) {
			printf("bar0 mmap FAIL %s\n", strerror(-rep.bar0_mmap));
			return 1;
		}
		printf("bar0 mmap ok\n");
	}
	return 0;
}
