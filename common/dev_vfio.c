/* dev_vfio.c - see dev_vfio.h. */
#define _GNU_SOURCE
#include "dev_vfio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(struct vfio_report *rep, const char *stage, int err)
{
	rep->stage = stage;
	return err;
}

static int bar0_mmap(int dev)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR0_REGION_INDEX };
	void *p;

	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0)
		return -errno;
	if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP) || reg.size == 0)
		return -ENOTSUP;
	p = mmap(NULL, (size_t)reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)reg.offset);
	if (p == MAP_FAILED)
		return -errno;
	/* Touch it: a BAR another driver still claims fails here or at mmap (EBUSY). */
	((volatile uint8_t *)p)[0] = ((volatile uint8_t *)p)[0];
	munmap(p, (size_t)reg.size);
	return 0;
}

/* mmap every BAR that vfio-pci offers for mmap, as QEMU does at device realize: the kernel
 * claims the BAR (pci_request_selected_regions) at the first mmap, so a region something else
 * holds fails here. Nothing is read or written through the mapping. */
static int bars_mmap(int dev, int *bad_bar, int *nbars)
{
	for (unsigned i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		struct vfio_region_info reg = { .argsz = sizeof(reg), .index = i };
		void *p;

		if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0) {
			*bad_bar = (int)i;
			return -errno;
		}
		if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP) || reg.size == 0)
			continue;
		p = mmap(NULL, (size_t)reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
			 (off_t)reg.offset);
		if (p == MAP_FAILED) {
			*bad_bar = (int)i;
			return -errno;
		}
		munmap(p, (size_t)reg.size);
		(*nbars)++;
	}
	return 0;
}

static int dma_map(int container)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	size_t len = 1 << 20;
	void *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = 0;

	if (buf == MAP_FAILED)
		return -errno;
	map.vaddr = (uintptr_t)buf;
	map.size = len;
	map.iova = 0x100000;
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0)
		r = -errno;
	else {
		unmap.iova = map.iova;
		unmap.size = len;
		if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
			r = -errno;
	}
	munmap(buf, len);
	return r;
}

int vfio_prove(const struct sysroot *sr, int group, const char *const *devs, int ndev,
	       unsigned flags, struct vfio_report *rep)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int container = -1, grp = -1, r = 0, type;
	char path[SR_PATH_MAX];

	rep->stage = NULL;
	rep->bar0_mmap = 0;
	rep->bad_dev = rep->bad_bar = -1;
	rep->nbars = 0;
	container = sr_openat(sr, "/dev/vfio/vfio", O_RDWR, 0);
	if (container < 0)
		return fail(rep, "open /dev/vfio/vfio", container);
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		r = fail(rep, "api version", -EPROTO);
		goto out;
	}
	type = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU
	       : ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0 ? VFIO_TYPE1_IOMMU
									 : -1;
	if (type < 0) {
		r = fail(rep, "type1 iommu support (vfio_iommu_type1 loaded?)", -ENODEV);
		goto out;
	}
	r = sr_path(path, "/dev/vfio/%d", group);
	if (r < 0)
		goto out;
	grp = sr_openat(sr, path, O_RDWR, 0);
	if (grp < 0) {
		r = fail(rep, "open group", grp);
		goto out;
	}
	if (ioctl(grp, VFIO_GROUP_GET_STATUS, &st) < 0) {
		r = fail(rep, "group status", -errno);
		goto out;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		r = fail(rep, "viable", -EBUSY);
		goto out;
	}
	if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
		r = fail(rep, "set container", -errno);
		goto out;
	}
	if (ioctl(container, VFIO_SET_IOMMU, type) < 0) {
		r = fail(rep, "set iommu", -errno);
		goto out;
	}
	if ((flags & VFIO_PROVE_DMA_MAP) && (r = dma_map(container)) < 0) {
		fail(rep, "dma map", r);
		goto out;
	}
	for (int i = 0; i < ndev; i++) {
		int dev = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, devs[i]);

		if (dev < 0) {
			r = fail(rep, "get device fd", -errno);
			goto out;
		}
		if (i == 0 && (flags & VFIO_PROVE_MMAP_BAR0))
			rep->bar0_mmap = bar0_mmap(dev);
		if ((flags & VFIO_PROVE_MMAP_BARS) &&
		    (r = bars_mmap(dev, &rep->bad_bar, &rep->nbars)) < 0) {
			rep->bad_dev = i;
			close(dev);
			fail(rep, "mmap BAR", r);
			goto out;
		}
		close(dev);
	}
out:
	if (grp >= 0)
		close(grp);
	if (container >= 0)
		close(container);
	return r;
}
