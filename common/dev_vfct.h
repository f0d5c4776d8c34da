/* dev_vfct.h - the ACPI VFCT table ("VBIOS Fetch Table"): where the firmware of AMD APUs (and
 * some laptops' discrete GPUs) publishes the video BIOS of a GPU that has no ROM BAR.
 *
 * Layout (as the kernel's amdgpu_acpi_vfct_bios reads it):
 *   0x00 the 36-byte ACPI header ("VFCT", u32 table length at 0x04)
 *   0x24 TableUUID[16]   0x34 u32 VBIOSImageOffset   0x38 u32 Lib1ImageOffset   (0x4c bytes)
 *   at VBIOSImageOffset, entries: a 0x1c-byte header (u32 PCIBus, PCIDevice, PCIFunction;
 *   u16 VendorID, DeviceID, SSVID, SSID; u32 Revision, ImageLength) and ImageLength bytes of
 *   ROM; the next entry follows. Entries with ImageLength 0 are skipped.
 * The kernel takes the first entry whose bus number, slot, function, vendor and device id
 * equal the device's (the PCI domain is not compared), and uses it only when it passes its
 * ATOM BIOS check (55 AA, a header offset at 0x48, "ATOM" or "MOTA" 4 bytes into it).
 *
 * The table is hostile input like any ROM: every offset is checked against the buffer before
 * a byte there is read, fields are decoded little-endian byte by byte, at most VFCT_MAX_ENTRIES
 * entries are walked and each step moves forward by at least the 0x1c-byte header.
 * Nothing here logs or exits; errors are negative errno. */
#ifndef PGP_DEV_VFCT_H
#define PGP_DEV_VFCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pciaddr.h"

#define VFCT_PATH "/sys/firmware/acpi/tables/VFCT"
#define VFCT_MAX_ENTRIES 64

enum vfct_error {
	VFCT_OK = 0,
	VFCT_ERR_SHORT,          /* shorter than the 0x4c-byte table header */
	VFCT_ERR_SIGNATURE,      /* not "VFCT" */
	VFCT_ERR_LENGTH,         /* the header's table length is smaller than the header or
				  * larger than the data */
	VFCT_ERR_ENTRY_HEADER,   /* an entry header runs past the table's end */
	VFCT_ERR_IMAGE,          /* an image runs past the table's end */
	VFCT_ERR_TOO_MANY,       /* more than VFCT_MAX_ENTRIES entries */
};

struct vfct_entry {
	uint32_t bus, device, function; /* device: the slot number */
	uint16_t vendor, device_id, ssvid, ssid;
	uint32_t revision;
	size_t offset;                  /* of the image's first byte in the buffer */
	size_t length;                  /* image bytes (0: an empty entry the kernel skips) */
	bool atom;                      /* passes the kernel's ATOM BIOS check */
};

struct vfct_info {
	size_t table_length;            /* from the ACPI header */
	unsigned n;                     /* entries walked, empty ones included */
	struct vfct_entry e[VFCT_MAX_ENTRIES];
	enum vfct_error error;
	size_t error_offset;
};

/* Parses a VFCT table. Fills *ret with the entries read up to the first error. Returns 0,
 * -EBADMSG when the table is broken (ret->error says why; the entries before it stay), or
 * -EINVAL on bad arguments. */
int vfct_parse(const uint8_t *buf, size_t len, struct vfct_info *ret);

/* The index of the entry the kernel would take for the device at ADDR with VENDOR:DEVICE
 * (the first non-empty match of bus, slot, function and ids), or -ENOENT. */
int vfct_find(const struct vfct_info *info, const struct pci_addr *addr, uint16_t vendor,
	      uint16_t device);

/* True when an image passes the kernel's ATOM BIOS check. */
bool vfct_atom_bios(const uint8_t *img, size_t len);

const char *vfct_error_str(enum vfct_error e);

#endif
