/* dev_console.c - see dev_console.h. */
#define _GNU_SOURCE
#include "dev_console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/fb.h>
#include <sys/ioctl.h>

#include "dev_bind.h"
#include "host_iomem.h"
#include "util.h"
#include "sysfs.h"

static bool has_fb_child(const struct sysroot *sr, const char *platdev)
{
	char path[SR_PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool found = false;

	if (sysfs_platform_dev(path, platdev, "graphics") == 0 &&
	    (d = sr_opendir(sr, path))) {
		while ((de = readdir(d)))
			found |= str_has_prefix(de->d_name, "fb");
		closedir(d);
	}
	if (!found && sysfs_platform_dev(path, platdev, "drm") == 0)
		found = sr_exists(sr, path);
	return found;
}

/* Whether REAL (a resolved sysfs device path) is device NAME or a child of it (a drm card). */
static bool dev_is_or_below(const char *real, const char *name)
{
	char want[SR_PATH_MAX];
	size_t l = strlen(real), w;
	const char *at;

	if (sr_path(want, "/%s", name) < 0)
		return false;
	w = strlen(want);
	if (l >= w && !strcmp(real + l - w, want))
		return true;
	/* a child of it (drm/card0), not a device behind it (a bridge's secondary bus) */
	for (at = strstr(real, want); at; at = strstr(at + 1, want)) {
		char next[PCI_ADDR_LEN + 1];
		struct pci_addr a;
		size_t k = strcspn(at + w + 1, "/");

		if (at[w] != '/')
			continue;
		if (k >= sizeof(next))
			return true;
		memcpy(next, at + w + 1, k);
		next[k] = '\0';
		return pci_addr_parse(next, &a) < 0;
	}
	return false;
}

/* Calls FN for every registered framebuffer with its number and resolved device path; stops
 * at the first nonzero return and gives it back. */
static int fb_each(const struct sysroot *sr, int (*fn)(void *, int, const char *), void *arg)
{
	char path[SR_PATH_MAX], real[SR_PATH_MAX];
	struct dirent *de;
	DIR *d = sr_opendir(sr, SYSFS_GRAPHICS);
	int r = 0;

	if (!d)
		return 0;
	while (!r && (de = readdir(d))) {
		unsigned long num;

		if (!str_has_prefix(de->d_name, "fb") ||
		    parse_ulong(de->d_name + 2, 10, FB_MAX - 1, &num) < 0 ||
		    sr_path(path, SYSFS_GRAPHICS "/%s/device", de->d_name) < 0 ||
		    sr_realpath(sr, path, real) < 0)
			continue;
		r = fn(arg, (int)num, real);
	}
	closedir(d);
	return r;
}

struct fb_find {
	const char *dev;
	int num;
};

static int fb_find_cb(void *arg, int num, const char *real)
{
	struct fb_find *f = arg;

	if (!dev_is_or_below(real, f->dev))
		return 0;
	f->num = num;
	return 1;
}

int console_fb_of(const struct sysroot *sr, const char *dev)
{
	struct fb_find f = { dev, -1 };

	fb_each(sr, fb_find_cb, &f);
	return f.num < 0 ? -ENOENT : f.num;
}

/* A /dev/fb provided by the GPU's own driver (DRM fbdev emulation) also carries fbcon. */
static bool gpu_has_fbdev(const struct sysroot *sr, const char *name)
{
	return console_fb_of(sr, name) >= 0;
}

/* FBIOGET_CON2FBMAP on an open /dev/fbN: the fb number, -1 for none, or -errno. */
static int con2fb_get_fd(int fd, int console)
{
	struct fb_con2fbmap m = { .console = (unsigned)console };

	if (ioctl(fd, FBIOGET_CON2FBMAP, &m) < 0)
		return -errno;
	return m.framebuffer >= FB_MAX ? -1 : (int)m.framebuffer;
}

static int fb_node_open(const struct sysroot *sr, int fb, char node[SR_PATH_MAX])
{
	int r = sr_path(node, "/dev/fb%d", fb);

	return r < 0 ? r : sr_openat(sr, node, O_RDWR | O_NOCTTY, 0);
}

int console_con2fb_get(const struct sysroot *sr, int fb, int console)
{
	char node[SR_PATH_MAX];
	int fd, r;

	if (console < 1 || console > CONSOLE_NR)
		return -EINVAL;
	fd = fb_node_open(sr, fb, node);
	if (fd < 0)
		return fd;
	r = con2fb_get_fd(fd, console);
	close(fd);
	return r;
}

/* One open of /dev/fbTO for the whole series: each move makes fbcon redraw the foreground
 * console, which no caller can avoid, so what is ours stays one ioctl per read. */
int console_con2fb_move(const struct sysroot *sr, uint64_t mask, int to, uint64_t *done)
{
	char node[SR_PATH_MAX];
	int fd, r = 0;

	*done = 0;
	fd = fb_node_open(sr, to, node);
	if (fd < 0)
		return fd;
	for (int c = 1; c <= CONSOLE_NR && r == 0; c++) {
		struct fb_con2fbmap m = { .console = (unsigned)c, .framebuffer = (unsigned)to };
		uint64_t bit = UINT64_C(1) << (c - 1);
		char what[48];

		if (!(mask & bit))
			continue;
		r = con2fb_get_fd(fd, c);
		if (r == to) {
			*done |= bit;
			r = 0;
			continue;
		}
		if (r < -1)
			break;
		snprintf(what, sizeof(what), "con2fbmap tty%d fb%d", c, to);
		r = sr_ioctl_change_fd(sr, fd, node, FBIOPUT_CON2FBMAP, &m, what);
		if (r < 0)
			break;
		if (!sr_dry_run(sr)) {
			r = con2fb_get_fd(fd, c);
			if (r != to) {
				r = r < -1 ? r : -EIO; /* the kernel took it and did not move it */
				break;
			}
		}
		*done |= bit;
		r = 0;
	}
	close(fd);
	return r;
}

void console_mask_format(uint64_t mask, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int c = 1; c <= CONSOLE_NR && n < size; c++) {
		int e = c;

		if (!(mask & (UINT64_C(1) << (c - 1))))
			continue;
		while (e < CONSOLE_NR && (mask & (UINT64_C(1) << e)))
			e++;
		n += (size_t)snprintf(buf + n, size - n, e > c ? "%stty%d-tty%d" : "%stty%d",
				      n ? "," : "", c, e);
		c = e;
	}
}

/* The plan's console move: another card (a PCI device not among DEVS) has a framebuffer. */
struct move_find {
	const struct pci_dev_info *devs;
	int n;
	int ours, other;
	char ours_dev[64], other_dev[64];
};

static int move_find_cb(void *arg, int num, const char *real)
{
	struct move_find *m = arg;
	const char *base = strrchr(real, '/');
	struct pci_addr a;

	for (int i = 0; i < m->n; i++)
		if (pcidev_is_display(&m->devs[i]) && dev_is_or_below(real, m->devs[i].name)) {
			if (m->ours < 0) {
				m->ours = num;
				str_copy(m->ours_dev, sizeof(m->ours_dev), m->devs[i].name);
			}
			return 0;
		}
	/* the other framebuffer must sit on a PCI device itself (a DRM driver's fbdev), not on a
	 * firmware framebuffer, which may be on the card being handed over */
	if (m->other < 0 && base && pci_addr_parse(base + 1, &a) == 0) {
		m->other = num;
		pci_addr_fmt(&a, m->other_dev);
	}
	return 0;
}

/* 1 when the consoles are known to be elsewhere (none on the card's framebuffer), 0 when
 * a move is planned or the console map cannot be read (the vtconsole plan stands). */
static int plan_move(const struct sysroot *sr, const struct pci_dev_info *devs, int n,
		     struct console_plan *p)
{
	struct move_find m = { devs, n, -1, -1, "", "" };
	char node[SR_PATH_MAX];
	int fd;

	fb_each(sr, move_find_cb, &m);
	if (m.ours < 0 || m.other < 0)
		return 0;
	fd = fb_node_open(sr, m.other, node);
	if (fd < 0)
		return 0; /* no /dev/fb node: no move, the vtconsole plan stands */
	for (int c = 1; c <= CONSOLE_NR; c++) {
		int fb = con2fb_get_fd(fd, c);

		if (fb < -1) {
			close(fd);
			p->move_mask = 0;
			return 0; /* no fbcon: no move, the vtconsole plan stands */
		}
		if (fb == m.ours)
			p->move_mask |= UINT64_C(1) << (c - 1);
	}
	close(fd);
	if (!p->move_mask)
		return 1;
	p->move_from_fb = m.ours;
	p->move_to_fb = m.other;
	str_copy(p->move_from, sizeof(p->move_from), m.ours_dev);
	str_copy(p->move_to, sizeof(p->move_to), m.other_dev);
	p->nvtcons = 0; /* fbcon stays, on the other card */
	return 0;
}

int console_vgacon_lost(const struct sysroot *sr, const struct pci_dev_info *dev,
			const char *release)
{
	struct dirent *de;
	DIR *d;
	bool vgacon = false;

	if ((dev->class >> 8) != 0x0300 || dev->boot_vga != 1 || kernel_series(release) < 600)
		return 0;
	d = sr_opendir(sr, SYSFS_VTCONSOLES);
	if (!d)
		return 0;
	while (!vgacon && (de = readdir(d))) {
		char path[SR_PATH_MAX], name[128];
		unsigned long num;

		if (str_has_prefix(de->d_name, "vtcon") &&
		    parse_ulong(de->d_name + 5, 10, 63, &num) == 0 &&
		    sysfs_vtcon(path, (int)num, "name") == 0 &&
		    sr_read_str(sr, path, name, sizeof(name)) > 0)
			vgacon = strstr(name, "VGA+") != NULL;
	}
	closedir(d);
	return vgacon;
}

/* The platform devices sysfb_init creates (drivers/firmware/sysfb.c): efi-, vesa-,
 * platform- or simple-framebuffer.N, and efi-display.N, the EFI device's announced new name. */
static bool is_fw_fb_device(const char *n)
{
	static const char *const prefixes[] = { "efi-framebuffer.", "vesa-framebuffer.",
						 "simple-framebuffer.", "platform-framebuffer.",
						 "efi-display." };

	return str_has_any_prefix(n, prefixes, ARRAY_SIZE(prefixes));
}

int console_fw_fbs(const struct sysroot *sr, char (*names)[64], int max)
{
	struct dirent *de;
	DIR *d = sr_opendir(sr, SYSFS_PLATFORM_DEVICES);
	int n = 0;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d)))
		if (is_fw_fb_device(de->d_name) && str_copy(names[n], 64, de->d_name) == 0)
			n++;
	closedir(d);
	return n;
}

int console_other_fb_lost(const struct sysroot *sr, const struct pci_dev_info *dev,
			  const char *release, char fb[64])
{
	char names[CONSOLE_MAX][64];
	int v = kernel_series(release), n;

	if ((dev->class >> 8) != 0x0300 || dev->boot_vga == 1 || v < 600 || v >= 612)
		return 0;
	n = console_fw_fbs(sr, names, CONSOLE_MAX);
	for (int i = 0; i < n; i++)
		if (has_fb_child(sr, names[i])) {
			str_copy(fb, 64, names[i]);
			return 1;
		}
	return 0;
}

enum console_fb_fate console_fb_fate(const struct pci_dev_info *dev, const char *region)
{
	/* sysfb_simplefb.c names the simple-framebuffer device's own resource "BOOTFB"; vfio-pci
	 * removes conflicting framebuffers (aperture_remove_conflicting_pci_devices) only for
	 * class 0x0300 (vfio_pci_vga_init). */
	if (strcmp(region, "BOOTFB") != 0)
		return CONSOLE_FB_RELEASED;
	return (dev->class >> 8) == 0x0300 ? CONSOLE_FB_REMOVED : CONSOLE_FB_STAYS;
}

int console_fb_left(const struct sysroot *sr, const struct pci_dev_info *dev,
		    struct iomem_entry *fb, int *bar)
{
	struct iomem m = { 0 };
	const struct iomem_entry *e = NULL;
	int r = iomem_read(sr, &m);

	if (r < 0)
		return r;
	for (int b = 0; b < 6 && !e; b++) {
		if (!(dev->res[b].flags & IORESOURCE_MEM) || dev->res[b].end <= dev->res[b].start)
			continue;
		e = iomem_fw_fb_in(&m, dev->res[b].start, dev->res[b].end);
		if (e) {
			*fb = *e;
			*bar = b;
		}
	}
	iomem_free(&m);
	return e != NULL;
}

int console_plan(const struct sysroot *sr, const struct pci_dev_info *devs, int n,
		 struct console_plan *p)
{
	struct iomem m = { 0 };
	const struct iomem_entry *fw = NULL;
	const char *fw_gpu = NULL, *fbdev_gpu = NULL;
	struct dirent *de;
	DIR *d;
	int r;

	memset(p, 0, sizeof(*p));
	r = iomem_read(sr, &m);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		if (!pcidev_is_display(&devs[i]))
			continue;
		for (int b = 0; b < 6 && !fw; b++)
			if (devs[i].res[b].end)
				fw = iomem_fw_fb_in(&m, devs[i].res[b].start, devs[i].res[b].end);
		if (fw && !fw_gpu)
			fw_gpu = devs[i].name;
		if (!fbdev_gpu && devs[i].driver[0] && gpu_has_fbdev(sr, devs[i].name))
			fbdev_gpu = devs[i].name;
	}
	if (fw)
		snprintf(p->why, sizeof(p->why), "firmware framebuffer '%s' holds %s", fw->name, fw_gpu);
	else if (fbdev_gpu)
		snprintf(p->why, sizeof(p->why), "%s drives a framebuffer console", fbdev_gpu);
	iomem_free(&m);
	if (!fw && !fbdev_gpu)
		return 0;

	/* fbcon's vtconsoles that are bound now */
	if ((d = sr_opendir(sr, SYSFS_VTCONSOLES))) {
		while ((de = readdir(d)) && p->nvtcons < CONSOLE_MAX) {
			char path[SR_PATH_MAX], name[128];
			unsigned long num, bound;

			if (!str_has_prefix(de->d_name, "vtcon") ||
			    parse_ulong(de->d_name + 5, 10, 63, &num) < 0 ||
			    sysfs_vtcon(path, (int)num, "name") < 0 ||
			    sr_read_str(sr, path, name, sizeof(name)) < 0 || !strstr(name, "frame buffer") ||
			    sysfs_vtcon(path, (int)num, "bind") < 0 ||
			    sr_read_ulong(sr, path, 10, &bound) < 0 || !bound)
				continue;
			p->vtcons[p->nvtcons++] = (int)num;
		}
		closedir(d);
	}
	/* two GPUs with the consoles on the other one: fbcon does not hold this card */
	if (fbdev_gpu && plan_move(sr, devs, n, p) == 1) {
		p->nvtcons = 0;
		if (!fw) {
			p->why[0] = '\0';
			return 0;
		}
	}
	/* firmware framebuffers: only while their memory is inside the GPU's BAR (checked
	 * above) and they still provide a framebuffer (the 5.10 crash guard) */
	if (fw && (d = sr_opendir(sr, SYSFS_PLATFORM_DEVICES))) {
		while ((de = readdir(d)) && p->nfbs < CONSOLE_MAX) {
			char path[SR_PATH_MAX], drv[64];

			if (!is_fw_fb_device(de->d_name) ||
			    sysfs_platform_dev(path, de->d_name, "driver") < 0 ||
			    sr_link_name(sr, path, drv, sizeof(drv)) < 0 || !has_fb_child(sr, de->d_name))
				continue;
			if (str_copy(p->fbs[p->nfbs], sizeof(p->fbs[0]), de->d_name) < 0 ||
			    str_copy(p->fb_drivers[p->nfbs], sizeof(p->fb_drivers[0]), drv) < 0)
				continue;
			p->nfbs++;
		}
		closedir(d);
	}
	return 0;
}

int console_vtcon_bind(const struct sysroot *sr, int vtcon, bool bind)
{
	char path[SR_PATH_MAX];
	unsigned long now;
	int r = sysfs_vtcon(path, vtcon, "bind");

	if (r < 0)
		return r;
	r = sr_read_ulong(sr, path, 10, &now);
	if (r == -ENOENT)
		return bind ? -ENOENT : 0; /* gone: nothing holds the GPU through it */
	if (r == 0 && (now != 0) == bind)
		return 0;
	r = sr_write(sr, path, bind ? "1" : "0");
	if (r < 0)
		return r;
	/* Read back: with no other console driver to take over, the kernel accepts the write
	 * and changes nothing (two GPUs, the other one's driver took the console first). */
	if (sr_read_ulong(sr, path, 10, &now) == 0 && (now != 0) != bind)
		return 1;
	return 0;
}

int console_fb_unbind(const struct sysroot *sr, const char *dev, const char *driver)
{
	char path[SR_PATH_MAX];
	int r;

	if (!kernel_name_valid(dev) || !kernel_name_valid(driver))
		return -EINVAL;
	r = sysfs_platform_dev(path, dev, "driver");
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return 0; /* already unbound or gone */
	r = bind_unbind(sr, "platform", driver, dev, 0);
	return r == -ENODEV ? 0 : r;
}

int console_fb_bind(const struct sysroot *sr, const char *dev, const char *driver)
{
	char path[SR_PATH_MAX];
	int r;

	/* DEV and DRIVER come back from a state file: each must be one path component, and
	 * the driver must be a platform driver that exists now, before its bind is written */
	if (!kernel_name_valid(dev) || !kernel_name_valid(driver))
		return -EINVAL;
	r = sysfs_platform_dev(path, dev, NULL);
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return 1; /* the kernel removed it (vfio-pci or a DRM driver took over) */
	r = sysfs_platform_dev(path, dev, "driver");
	if (r < 0)
		return r;
	if (sr_exists(sr, path))
		return 0;
	r = sysfs_bus_driver(path, "platform", driver, NULL);
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return -ENOENT; /* no such platform driver: nothing to write to */
	return bind_bind(sr, "platform", driver, dev);
}
