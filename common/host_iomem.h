/* host_iomem.h - /proc/iomem parsed into a flat list with nesting depth, to find firmware
 * framebuffers (efifb, vesafb, BOOTFB, simplefb, simpledrm, efidrm, vesadrm) sitting inside a
 * GPU's BAR. */
#ifndef PGP_HOST_IOMEM_H
#define PGP_HOST_IOMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "sysroot.h"

struct iomem_entry {
	uint64_t start, end; /* inclusive, as printed */
	int depth;           /* indentation level (two spaces a level) */
	char name[64];
};

struct iomem {
	struct iomem_entry *e;
	int n;
};

/* Reads and parses /proc/iomem below the root (bounded: 4 MiB, 65536 entries). Lines that do
 * not parse are an error (-EINVAL): the file comes from the kernel. */
int iomem_read(const struct sysroot *sr, struct iomem *ret);
/* Parses TEXT (for tests and fuzzing). */
int iomem_parse(const char *text, struct iomem *ret);
void iomem_free(struct iomem *m);
/* True when NAME is a firmware framebuffer's resource name. */
bool iomem_is_fw_fb(const char *name);
/* The first firmware-framebuffer entry whose range overlaps [start, end], or NULL. */
const struct iomem_entry *iomem_fw_fb_in(const struct iomem *m, uint64_t start, uint64_t end);

#endif
