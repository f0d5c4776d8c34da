/* dev_vfct.c - the ACPI VFCT table. See dev_vfct.h for the layout and the rules the parser
 * keeps. */
#include "dev_vfct.h"

#include <errno.h>
#include <string.h>

#define ACPI_LENGTH 0x04
#define VFCT_IMAGE_OFFSET 0x34
#define VFCT_HEADER_SIZE 0x4c
#define ENTRY_HEADER_SIZE 0x1c
#define ATOM_HEADER_PTR 0x48

/* True when N bytes at OFF lie inside LEN bytes (written so that it cannot overflow). */
static bool has(size_t len, size_t off, size_t n)
{
	return off <= len && n <= len - off;
}

static uint16_t u16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool vfct_atom_bios(const uint8_t *img, size_t len)
{
	size_t hdr;

	/* the kernel reads both bytes at 0x48 after checking only 0x49 bytes: we ask for both */
	if (!img || len < ATOM_HEADER_PTR + 2 || img[0] != 0x55 || img[1] != 0xaa)
		return false;
	hdr = u16_at(img + ATOM_HEADER_PTR);
	if (hdr == 0 || !has(len, hdr + 4, 4))
		return false;
	return memcmp(img + hdr + 4, "ATOM", 4) == 0 || memcmp(img + hdr + 4, "MOTA", 4) == 0;
}

static int fail(struct vfct_info *info, enum vfct_error e, size_t off)
{
	info->error = e;
	info->error_offset = off;
	return -EBADMSG;
}

int vfct_parse(const uint8_t *buf, size_t len, struct vfct_info *ret)
{
	size_t off, end;

	if (!ret || (!buf && len > 0))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (len < VFCT_HEADER_SIZE)
		return fail(ret, VFCT_ERR_SHORT, 0);
	if (memcmp(buf, "VFCT", 4) != 0)
		return fail(ret, VFCT_ERR_SIGNATURE, 0);
	ret->table_length = u32_at(buf + ACPI_LENGTH);
	if (ret->table_length < VFCT_HEADER_SIZE || ret->table_length > len)
		return fail(ret, VFCT_ERR_LENGTH, ACPI_LENGTH);
	end = ret->table_length;
	off = u32_at(buf + VFCT_IMAGE_OFFSET);
	/* Each step moves forward by the entry header at least; the count is bounded too. */
	while (off < end) {
		struct vfct_entry *e;
		const uint8_t *h;

		if (ret->n == VFCT_MAX_ENTRIES)
			return fail(ret, VFCT_ERR_TOO_MANY, off);
		if (!has(end, off, ENTRY_HEADER_SIZE))
			return fail(ret, VFCT_ERR_ENTRY_HEADER, off);
		h = buf + off;
		e = &ret->e[ret->n];
		e->bus = u32_at(h);
		e->device = u32_at(h + 0x04);
		e->function = u32_at(h + 0x08);
		e->vendor = u16_at(h + 0x0c);
		e->device_id = u16_at(h + 0x0e);
		e->ssvid = u16_at(h + 0x10);
		e->ssid = u16_at(h + 0x12);
		e->revision = u32_at(h + 0x14);
		e->length = u32_at(h + 0x18);
		e->offset = off + ENTRY_HEADER_SIZE;
		if (!has(end, e->offset, e->length))
			return fail(ret, VFCT_ERR_IMAGE, off);
		e->atom = vfct_atom_bios(buf + e->offset, e->length);
		ret->n++;
		off = e->offset + e->length;
	}
	return 0;
}

int vfct_find(const struct vfct_info *info, const struct pci_addr *addr, uint16_t vendor,
	      uint16_t device)
{
	for (unsigned i = 0; i < info->n && i < VFCT_MAX_ENTRIES; i++) {
		const struct vfct_entry *e = &info->e[i];

		if (e->length && e->bus == addr->bus && e->device == addr->slot &&
		    e->function == addr->func && e->vendor == vendor && e->device_id == device)
			return (int)i;
	}
	return -ENOENT;
}

const char *vfct_error_str(enum vfct_error e)
{
	switch (e) {
	case VFCT_OK:
		return "valid";
	case VFCT_ERR_SHORT:
		return "shorter than the VFCT header";
	case VFCT_ERR_SIGNATURE:
		return "no VFCT signature";
	case VFCT_ERR_LENGTH:
		return "the table length does not match the data";
	case VFCT_ERR_ENTRY_HEADER:
		return "an image header runs past the table's end";
	case VFCT_ERR_IMAGE:
		return "an image runs past the table's end";
	case VFCT_ERR_TOO_MANY:
		return "too many images";
	}
	return "unknown error";
}
