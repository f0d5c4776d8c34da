/* sysfs.h - the one place that spells the sysfs path shapes the tools read and write: a PCI
 * device's directory and attributes, a platform device's, a bus driver's, a vtconsole's.
 * Paths are root-relative (sysroot.h resolves them); each helper returns 0 or -ENAMETOOLONG,
 * and -EINVAL for a name that is not one path component. ATTR NULL or "" names the directory
 * itself; an ATTR may hold a '/' to name something below it ("drm/card0"). */
#ifndef PGP_SYSFS_H
#define PGP_SYSFS_H

#include "sysroot.h"

#define SYSFS_PCI_DEVICES "/sys/bus/pci/devices"
#define SYSFS_PLATFORM_DEVICES "/sys/bus/platform/devices"
#define SYSFS_VTCONSOLES "/sys/class/vtconsole"
#define SYSFS_GRAPHICS "/sys/class/graphics"

/* /sys/bus/pci/devices/DEV[/ATTR] */
int sysfs_pci_dev(char out[SR_PATH_MAX], const char *dev, const char *attr);
/* /sys/bus/platform/devices/DEV[/ATTR] */
int sysfs_platform_dev(char out[SR_PATH_MAX], const char *dev, const char *attr);
/* /sys/bus/BUS/drivers/DRIVER[/ATTR] */
int sysfs_bus_driver(char out[SR_PATH_MAX], const char *bus, const char *driver,
		     const char *attr);
/* /sys/class/vtconsole/vtconN[/ATTR] */
int sysfs_vtcon(char out[SR_PATH_MAX], int vt, const char *attr);

#endif
