/* console.c - see console.h. */
#define _GNU_SOURCE
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "iomem.h"
#include "util.h"

static bool has_fb_child(const struct sysroot *sr, const char *platdev)
{
	char path[SR_PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool found = false;

	if (sr_path(path, "/sys/bus/platform/devices/%s/graphics", platdev) == 0 &&
	    (d = sr_opendir(sr, path))) {
		while ((de = readdir(d)))
			found |= str_has_prefix(de->d_name, "fb");
		closedir(d);
	}
	if (!found && sr_path(path, "/sys/bus/platform/devices/%s/drm", platdev) == 0)
		found = sr_exists(sr, path);
	return found;
}

/* A /dev/fb provided by the GPU's own driver (DRM fbdev emulation) also carries fbcon. */
static bool gpu_has_fbdev(const struct sysroot *sr, const char *name)
{
	char path[SR_PATH_MAX], real[SR_PATH_MAX], want[SR_PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d = sr_opendir(sr, "/sys/class/graphics");

	if (!d || sr_path(want, "/%s", name) < 0)
		goto out;
	while ((de = readdir(d)) && !found) {
		if (!str_has_prefix(de->d_name, "fb") ||
		    sr_path(path, "/sys/class/graphics/%s/device", de->d_name) < 0 ||
		    sr_realpath(sr, path, real) < 0)
			continue;
		size_t l = strlen(real), w = strlen(want);
		const char *at = strstr(real, want);
		/* the fb's device is the GPU itself, or a child of it (a drm card) */
		found = (l >= w && !strcmp(real + l - w, want)) || (at && at[w] == '/');
	}
out:
	if (d)
		closedir(d);
	return found;
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
	if ((d = sr_opendir(sr, "/sys/class/vtconsole"))) {
		while ((de = readdir(d)) && p->nvtcons < CONSOLE_MAX) {
			char path[SR_PATH_MAX], name[128];
			unsigned long num, bound;

			if (!str_has_prefix(de->d_name, "vtcon") ||
			    parse_ulong(de->d_name + 5, 10, 63, &num) < 0 ||
			    sr_path(path, "/sys/class/vtconsole/%s/name", de->d_name) < 0 ||
			    sr_read_str(sr, path, name, sizeof(name)) < 0 || !strstr(name, "frame buffer") ||
			    sr_path(path, "/sys/class/vtconsole/%s/bind", de->d_name) < 0 ||
			    sr_read_ulong(sr, path, 10, &bound) < 0 || !bound)
				continue;
			p->vtcons[p->nvtcons++] = (int)num;
		}
		closedir(d);
	}
	/* firmware framebuffers: only while their memory is inside the GPU's BAR (checked
	 * above) and they still provide a framebuffer (the 5.10 crash guard) */
	if (fw && (d = sr_opendir(sr, "/sys/bus/platform/devices"))) {
		while ((de = readdir(d)) && p->nfbs < CONSOLE_MAX) {
			char path[SR_PATH_MAX], drv[64];

			if (!is_fw_fb_device(de->d_name) ||
			    sr_path(path, "/sys/bus/platform/devices/%s/driver", de->d_name) < 0 ||
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
	int r = sr_path(path, "/sys/class/vtconsole/vtcon%d/bind", vtcon);

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
	r = sr_path(path, "/sys/bus/platform/devices/%s/driver", dev);
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
	r = sr_path(path, "/sys/bus/platform/devices/%s", dev);
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return 1; /* the kernel removed it (vfio-pci or a DRM driver took over) */
	r = sr_path(path, "/sys/bus/platform/devices/%s/driver", dev);
	if (r < 0)
		return r;
	if (sr_exists(sr, path))
		return 0;
	r = sr_path(path, "/sys/bus/platform/drivers/%s", driver);
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return -ENOENT; /* no such platform driver: nothing to write to */
	return bind_bind(sr, "platform", driver, dev);
}
