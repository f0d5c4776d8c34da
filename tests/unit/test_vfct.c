/* test_vfct.c - the ACPI VFCT parser (common/dev_vfct.c) on synthetic hostile tables: the
 * kernel's match rules (bus, slot, function and ids; empty entries skipped; the first match
 * wins), its ATOM BIOS check, and every way a table can lie about lengths. Inputs are copied
 * into buffers of exactly their length, so a sanitizer build catches a read past the end. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "dev_vfct.h"

#define HDR 0x4c
#define ENTRY 0x1c
#define IMG 256

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An image of IMG bytes: 55 AA, the ATOM header offset 0x80 at 0x48, "ATOM" (or not) 4 bytes
 * into that header. */
static void put_atom(uint8_t *p, bool atom)
{
	memset(p, 0, IMG);
	p[0] = 0x55;
	p[1] = 0xaa;
	put16(p + 0x48, 0x80);
	memcpy(p + 0x84, atom ? "ATOM" : "XXXX", 4);
}

struct ent {
	uint32_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t length; /* 0: an empty entry */
	bool atom;
};

/* A table with N entries into a malloc'd buffer of exactly its length. */
static uint8_t *table(const struct ent *e, int n, size_t *len)
{
	size_t size = HDR, off = HDR;
	uint8_t *t;

	for (int i = 0; i < n; i++)
		size += ENTRY + e[i].length;
	t = calloc(1, size);
	memcpy(t, "VFCT", 4);
	put32(t + 4, (uint32_t)size);
	put32(t + 0x34, HDR);
	for (int i = 0; i < n; i++) {
		put32(t + off, e[i].bus);
		put32(t + off + 4, e[i].dev);
		put32(t + off + 8, e[i].fn);
		put16(t + off + 0x0c, e[i].vendor);
		put16(t + off + 0x0e, e[i].device);
		put32(t + off + 0x18, e[i].length);
		if (e[i].length)
			put_atom(t + off + ENTRY, e[i].atom);
		off += ENTRY + e[i].length;
	}
	*len = size;
	return t;
}

static const struct pci_addr c5 = { 0, 0xc5, 0, 0 };

TEST(vfct_first_entry_matching_bus_slot_function_and_ids_wins)
{
	const struct ent e[] = {
		{ 0xc5, 0, 0, 0x1002, 0x1681, IMG, true }, /* other ids */
		{ 0xc4, 0, 0, 0x1002, 0x15bf, IMG, true }, /* other bus */
		{ 0xc5, 0, 1, 0x1002, 0x15bf, IMG, true }, /* other function */
		{ 0xc5, 0, 0, 0x1002, 0x15bf, 0, false },  /* empty: skipped */
		{ 0xc5, 0, 0, 0x1002, 0x15bf, IMG, true },
		{ 0xc5, 0, 0, 0x1002, 0x15bf, IMG, false }, /* a later match never counts */
	};
	struct vfct_info *info = calloc(1, sizeof(*info));
	size_t len;
	uint8_t *t = table(e, 6, &len);

	CHECK_INT(vfct_parse(t, len, info), 0);
	CHECK_INT(info->n, 6);
	CHECK_INT(vfct_find(info, &c5, 0x1002, 0x15bf), 4);
	CHECK(info->e[4].atom);
	CHECK_INT(info->e[4].offset, HDR + 4 * ENTRY + 3 * IMG + ENTRY);
	CHECK(!info->e[5].atom);
	CHECK_INT(vfct_find(info, &c5, 0x1002, 0x73bf), -ENOENT);
	free(t);
	free(info);
}

TEST(vfct_lengths_that_lie_are_refused)
{
	const struct ent e[] = { { 0xc5, 0, 0, 0x1002, 0x15bf, IMG, true } };
	struct vfct_info *info = calloc(1, sizeof(*info));
	uint8_t *t, *cut;
	size_t len;

	t = table(e, 1, &len);
	/* the image length runs past the table's end */
	put32(t + HDR + 0x18, IMG + 1);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_IMAGE);
	CHECK_INT(info->n, 0);
	put32(t + HDR + 0x18, 0xffffffffu);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	put32(t + HDR + 0x18, IMG);
	/* the header claims more than there is */
	put32(t + 4, (uint32_t)len + 1);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_LENGTH);
	put32(t + 4, (uint32_t)len);
	/* an entry header cut by the table length */
	put32(t + 4, HDR + ENTRY - 1);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_ENTRY_HEADER);
	put32(t + 4, (uint32_t)len);
	/* images start past the end: no entries, valid */
	put32(t + 0x34, 0xfffffff0u);
	CHECK_INT(vfct_parse(t, len, info), 0);
	CHECK_INT(info->n, 0);
	put32(t + 0x34, HDR);
	CHECK_INT(vfct_parse(t, len, info), 0);
	/* shorter than the header, or another table */
	cut = malloc(HDR - 1);
	memcpy(cut, t, HDR - 1);
	CHECK_INT(vfct_parse(cut, HDR - 1, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_SHORT);
	memcpy(t, "IVRS", 4);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_SIGNATURE);
	CHECK_INT(vfct_parse(NULL, 0, info), -EBADMSG);
	free(cut);
	free(t);
	free(info);
}

TEST(vfct_empty_entries_are_bounded)
{
	/* VFCT_MAX_ENTRIES + 1 empty entries: each step moves by its header, the count stops */
	struct ent e[VFCT_MAX_ENTRIES + 1];
	struct vfct_info *info = calloc(1, sizeof(*info));
	uint8_t *t;
	size_t len;

	memset(e, 0, sizeof(e));
	t = table(e, VFCT_MAX_ENTRIES, &len);
	CHECK_INT(vfct_parse(t, len, info), 0);
	CHECK_INT(info->n, VFCT_MAX_ENTRIES);
	CHECK_INT(vfct_find(info, &(struct pci_addr){ 0 }, 0, 0), -ENOENT);
	free(t);
	t = table(e, VFCT_MAX_ENTRIES + 1, &len);
	CHECK_INT(vfct_parse(t, len, info), -EBADMSG);
	CHECK_INT(info->error, VFCT_ERR_TOO_MANY);
	free(t);
	free(info);
}

TEST(vfct_atom_check_is_the_kernels)
{
	uint8_t img[IMG];

	put_atom(img, true);
	CHECK(vfct_atom_bios(img, IMG));
	memcpy(img + 0x84, "MOTA", 4);
	CHECK(vfct_atom_bios(img, IMG));
	CHECK(!vfct_atom_bios(img, 0x87)); /* "MOTA" cut */
	CHECK(vfct_atom_bios(img, 0x88));
	put16(img + 0x48, 0);
	CHECK(!vfct_atom_bios(img, IMG));  /* no header offset */
	put16(img + 0x48, 0xfffe);
	CHECK(!vfct_atom_bios(img, IMG));  /* offset past the end */
	put16(img + 0x48, 0x80);
	img[1] = 0;
	CHECK(!vfct_atom_bios(img, IMG));  /* no 55 AA */
	CHECK(!vfct_atom_bios(img, 0x49));
}
