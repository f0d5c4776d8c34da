/* dev_vfio.h - prove that an IOMMU group is usable through VFIO, the way QEMU will use it:
 * container, API version, type1 IOMMU, group VIABLE, set container and IOMMU, device fds. */
#ifndef PGP_DEV_VFIO_H
#define PGP_DEV_VFIO_H

#include "sysroot.h"

enum {
	VFIO_PROVE_DMA_MAP = 1 << 0,   /* also map and unmap 1 MiB of DMA */
	VFIO_PROVE_MMAP_BAR0 = 1 << 1, /* also mmap BAR0 of the first device and touch it */
	VFIO_PROVE_MMAP_BARS = 1 << 2, /* mmap every mappable BAR of every device, as QEMU
					* does; never touched (no access reaches the device) */
};

struct vfio_report {
	const char *stage; /* the step that failed (static string), NULL on success */
	int bar0_mmap;     /* with VFIO_PROVE_MMAP_BAR0: 0 ok, -errno failure */
	int bad_dev;       /* with VFIO_PROVE_MMAP_BARS: the device (index in DEVS) and BAR */
	int bad_bar;       /* whose mmap failed (stage "mmap BAR"), else -1 */
	int nbars;         /* BARs mapped */
};

/* Opens /dev/vfio/vfio and /dev/vfio/GROUP below the root and walks the steps above for every
 * device name in DEVS (NDEV of them). Everything opened is closed again. Returns 0, or -errno
 * with report->stage naming the failed step (-EBUSY with stage "viable" when a member of the
 * group is still on a host driver; -EBUSY with stage "mmap BAR" when something else, such as
 * a firmware framebuffer, still claims part of a BAR: vfio-pci then logs "BAR N: can't
 * reserve" and QEMU could not map it either). */
int vfio_prove(const struct sysroot *sr, int group, const char *const *devs, int ndev,
	       unsigned flags, struct vfio_report *report);

#endif
