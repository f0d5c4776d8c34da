/* sysfs.c - see sysfs.h. */
#include "sysfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* DIR/NAME[/ATTR], NAME one path component. */
static int dev_path(char out[SR_PATH_MAX], const char *dir, const char *name, const char *attr)
{
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (attr && attr[0])
		return sr_path(out, "%s/%s/%s", dir, name, attr);
	return sr_path(out, "%s/%s", dir, name);
}

int sysfs_pci_dev(char out[SR_PATH_MAX], const char *dev, const char *attr)
{
	return dev_path(out, SYSFS_PCI_DEVICES, dev, attr);
}

int sysfs_platform_dev(char out[SR_PATH_MAX], const char *dev, const char *attr)
{
	return dev_path(out, SYSFS_PLATFORM_DEVICES, dev, attr);
}

int sysfs_bus_driver(char out[SR_PATH_MAX], const char *bus, const char *driver,
		     const char *attr)
{
	char dir[SR_PATH_MAX];
	int r;

	if (!bus[0] || strchr(bus, '/') || !strcmp(bus, ".") || !strcmp(bus, ".."))
		return -EINVAL;
	r = sr_path(dir, "/sys/bus/%s/drivers", bus);
	return r < 0 ? r : dev_path(out, dir, driver, attr);
}

int sysfs_vtcon(char out[SR_PATH_MAX], int vt, const char *attr)
{
	char name[24];

	if (vt < 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "vtcon%d", vt); /* fits: an int has at most 11 characters */
	return dev_path(out, SYSFS_VTCONSOLES, name, attr);
}
