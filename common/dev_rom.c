/* dev_rom.c - PCI option ROM parser and I/O. See dev_rom.h for the rules the parser keeps.
 *
 * Offsets into the image header (PCI Firmware Specification 3.0, 5.1.1):
 *   0x00 0x55 0xAA   0x02 init size (x86) / u16 init size (EFI)   0x18 u16 PCIR offset
 * EFI option ROM header (UEFI Specification, "PCI Option ROM" 14.4.2):
 *   0x04 u32 signature 0x0EF1   0x08 u16 subsystem   0x0A u16 machine type
 *   0x0C u16 compression type   0x16 u16 offset of the PE image
 * PCI data structure "PCIR" (5.1.2):
 *   0x04 vendor  0x06 device  0x08 device list pointer (rev 3)  0x0A structure length
 *   0x0C structure revision  0x0D class code (3 bytes)  0x10 image length (512 units)
 *   0x12 code revision  0x14 code type  0x15 indicator (bit 7: last image)
 */
#define _GNU_SOURCE
#include "dev_rom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "sysfs.h"

#define HDR_PCIR_PTR 0x18
#define HDR_SIZE 0x1a        /* through the PCIR pointer */
#define EFI_SIGNATURE 0x0ef1
#define PCIR_MIN_SIZE 0x18   /* through the indicator byte and max runtime length */
#define IMAGE_UNIT 512
#define FIND_MAX_CANDIDATES 64 /* full parses tried by rom_find_start() */

/* A bounded view of the input: every accessor checks the offset first. */
struct span {
	const uint8_t *p;
	size_t len;
};

/* True when N bytes at OFF lie inside the span (written so that it cannot overflow). */
static bool span_has(const struct span *s, size_t off, size_t n)
{
	return off <= s->len && n <= s->len - off;
}

static bool get_u8(const struct span *s, size_t off, uint8_t *v)
{
	if (!span_has(s, off, 1))
		return false;
	*v = s->p[off];
	return true;
}

static bool get_u16(const struct span *s, size_t off, uint16_t *v)
{
	if (!span_has(s, off, 2))
		return false;
	*v = (uint16_t)(s->p[off] | (s->p[off + 1] << 8));
	return true;
}

static bool get_u32(const struct span *s, size_t off, uint32_t *v)
{
	if (!span_has(s, off, 4))
		return false;
	*v = (uint32_t)s->p[off] | (uint32_t)s->p[off + 1] << 8 | (uint32_t)s->p[off + 2] << 16 |
	     (uint32_t)s->p[off + 3] << 24;
	return true;
}

static bool has_signature(const struct span *s, size_t off)
{
	return span_has(s, off, 2) && s->p[off] == 0x55 && s->p[off + 1] == 0xaa;
}

/* Records the first error; later ones do not overwrite it. Returns -EBADMSG. */
static int fail(struct rom_info *info, enum rom_error e, size_t off, int image)
{
	if (info->error == ROM_OK) {
		info->error = e;
		info->error_offset = off;
		info->error_image = image;
	}
	return -EBADMSG;
}

/* Reads the PCI 3.0 device list (u16 ids ending with 0). A list that does not fit inside the
 * image is ignored: it only widens id matching, so dropping it is the safe side. */
static void parse_device_list(const struct span *s, struct rom_image *img, uint16_t ptr)
{
	size_t at = img->pcir_offset + ptr, end = img->offset + img->length;
	uint16_t id;

	if (img->pcir_revision < 3 || ptr == 0)
		return;
	for (unsigned i = 0; i < ROM_MAX_DEVICE_LIST; i++, at += 2) {
		if (at + 2 > end || !get_u16(s, at, &id))
			break;
		if (id == 0)
			return;
		img->device_list[img->n_device_list++] = id;
	}
	/* No terminator in reach: keep nothing rather than a guess. */
	img->n_device_list = 0;
}

static void parse_efi(const struct span *s, struct rom_image *img)
{
	size_t o = img->offset;

	/* HDR_SIZE bytes were checked by parse_header(); the getters check again. */
	img->efi_ok = get_u16(s, o + 0x02, &img->efi_init_size) &&
		      get_u32(s, o + 0x04, &img->efi_signature) &&
		      get_u16(s, o + 0x08, &img->efi_subsystem) &&
		      get_u16(s, o + 0x0a, &img->efi_machine) &&
		      get_u16(s, o + 0x0c, &img->efi_compression) &&
		      get_u16(s, o + 0x16, &img->efi_image_offset) &&
		      img->efi_signature == EFI_SIGNATURE && img->efi_image_offset >= HDR_SIZE &&
		      img->efi_image_offset < img->length;
}

static void check_sum(const struct span *s, struct rom_image *img)
{
	uint8_t sum = 0;

	/* parse_image() has checked that the whole image lies inside the span. */
	for (size_t i = 0; i < img->length; i++)
		sum = (uint8_t)(sum + s->p[img->offset + i]);
	img->checksum_checked = true;
	img->checksum_ok = sum == 0;
}

/* Decodes the PCIR structure of the image at img->offset. */
static int parse_pcir(const struct span *s, struct rom_image *img, struct rom_info *info,
		      int idx)
{
	size_t p = img->pcir_offset;
	uint16_t len16 = 0, devlist = 0;
	uint8_t cc[3] = { 0 }, indicator = 0;

	if (!span_has(s, p, PCIR_MIN_SIZE))
		return fail(info, ROM_ERR_PCIR_OUTSIDE, p, idx);
	if (memcmp(s->p + p, "PCIR", 4) != 0)
		return fail(info, ROM_ERR_PCIR_SIGNATURE, p, idx);
	if (!get_u16(s, p + 0x04, &img->vendor) || !get_u16(s, p + 0x06, &img->device) ||
	    !get_u16(s, p + 0x08, &devlist) || !get_u8(s, p + 0x0c, &img->pcir_revision) ||
	    !get_u8(s, p + 0x0d, &cc[0]) || !get_u8(s, p + 0x0e, &cc[1]) ||
	    !get_u8(s, p + 0x0f, &cc[2]) || !get_u16(s, p + 0x10, &len16) ||
	    !get_u16(s, p + 0x12, &img->code_revision) || !get_u8(s, p + 0x14, &img->code_type) ||
	    !get_u8(s, p + 0x15, &indicator))
		return fail(info, ROM_ERR_PCIR_OUTSIDE, p, idx);
	img->class_code = (uint32_t)cc[2] << 16 | (uint32_t)cc[1] << 8 | cc[0];
	img->last = indicator & 0x80;
	img->length = (size_t)len16 * IMAGE_UNIT;
	if (img->length == 0)
		return fail(info, ROM_ERR_ZERO_LENGTH, p + 0x10, idx);
	if (!span_has(s, img->offset, img->length))
		return fail(info, ROM_ERR_IMAGE_TRUNCATED, img->offset, idx);
	if (p + PCIR_MIN_SIZE > img->offset + img->length)
		return fail(info, ROM_ERR_PCIR_OUTSIDE_IMAGE, p, idx);
	parse_device_list(s, img, devlist);
	return 0;
}

/* Parses one image at OFF into *img. Structural errors return -EBADMSG; content errors
 * (checksum, EFI header) are only recorded in *img and judged by the caller. */
static int parse_image(const struct span *s, size_t off, struct rom_image *img,
		       struct rom_info *info, int idx)
{
	uint16_t ptr;

	memset(img, 0, sizeof(*img));
	img->offset = off;
	if (!span_has(s, off, HDR_SIZE))
		return fail(info, ROM_ERR_TRUNCATED_HEADER, off, idx);
	if (!has_signature(s, off))
		return fail(info, ROM_ERR_NO_SIGNATURE, off, idx);
	if (!get_u16(s, off + HDR_PCIR_PTR, &ptr))
		return fail(info, ROM_ERR_TRUNCATED_HEADER, off, idx);
	img->pcir_offset = off + ptr;
	if (parse_pcir(s, img, info, idx) < 0)
		return -EBADMSG;
	if (img->code_type == ROM_CODE_X86)
		check_sum(s, img);
	else if (img->code_type == ROM_CODE_EFI)
		parse_efi(s, img);
	return 0;
}

/* After a structurally sound walk, the first image with bad content makes the chain invalid. */
static int judge_content(struct rom_info *info)
{
	for (unsigned i = 0; i < info->n_images; i++) {
		const struct rom_image *img = &info->images[i];

		if (img->checksum_checked && !img->checksum_ok)
			return fail(info, ROM_ERR_CHECKSUM, img->offset, (int)i);
		if (img->code_type == ROM_CODE_EFI && !img->efi_ok)
			return fail(info, ROM_ERR_EFI_HEADER, img->offset, (int)i);
	}
	return 0;
}

int rom_parse_at(const uint8_t *buf, size_t len, size_t start, struct rom_info *ret)
{
	struct span s = { buf, len };
	size_t off = start;
	int r;

	if (!ret || (!buf && len > 0))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->size = len;
	ret->start = ret->end = start;
	ret->error_image = -1;
	if (len > ROM_MAX_SIZE) {
		fail(ret, ROM_ERR_TOO_BIG, 0, -1);
		return -EFBIG;
	}
	if (start >= len)
		return fail(ret, len == 0 ? ROM_ERR_EMPTY : ROM_ERR_TRUNCATED_HEADER, start, -1);
	/* Each step moves forward by a non-zero length, and the count is bounded too. */
	for (unsigned i = 0;; i++) {
		struct rom_image *img;

		if (i == ROM_MAX_IMAGES)
			return fail(ret, ROM_ERR_TOO_MANY_IMAGES, off, -1);
		img = &ret->images[i];
		r = parse_image(&s, off, img, ret, (int)i);
		if (r < 0)
			return r;
		ret->n_images = i + 1;
		off += img->length;
		ret->end = off;
		if (img->last)
			break;
		/* Kernel and firmware stop where no further image starts; so do we, noting it. */
		if (!has_signature(&s, off)) {
			ret->no_last_flag = true;
			break;
		}
	}
	return judge_content(ret);
}

int rom_parse(const uint8_t *buf, size_t len, struct rom_info *ret)
{
	return rom_parse_at(buf, len, 0, ret);
}

bool rom_image_ovmf_usable(const struct rom_image *img)
{
	return img->code_type == ROM_CODE_EFI && img->efi_ok &&
	       img->efi_machine == ROM_EFI_MACHINE_X64 &&
	       (img->efi_subsystem == ROM_EFI_SUBSYS_BOOT_DRIVER ||
		img->efi_subsystem == ROM_EFI_SUBSYS_RUNTIME_DRIVER);
}

int rom_find_ovmf_image(const struct rom_info *info)
{
	for (unsigned i = 0; i < info->n_images && i < ROM_MAX_IMAGES; i++)
		if (rom_image_ovmf_usable(&info->images[i]))
			return (int)i;
	return -ENOENT;
}

enum rom_verdict rom_verdict(const struct rom_info *info)
{
	if (info->error != ROM_OK || info->n_images == 0)
		return ROM_INVALID;
	return rom_find_ovmf_image(info) >= 0 ? ROM_VALID_OVMF : ROM_VALID_NO_EFI;
}

bool rom_image_matches(const struct rom_image *img, uint16_t vendor, uint16_t device)
{
	if (img->vendor != vendor)
		return false;
	if (img->device == device)
		return true;
	for (unsigned i = 0; i < img->n_device_list && i < ROM_MAX_DEVICE_LIST; i++)
		if (img->device_list[i] == device)
			return true;
	return false;
}

bool rom_matches_ids(const struct rom_info *info, uint16_t vendor, uint16_t device)
{
	unsigned seen = 0;

	for (unsigned i = 0; i < info->n_images && i < ROM_MAX_IMAGES; i++) {
		const struct rom_image *img = &info->images[i];

		if (img->code_type != ROM_CODE_X86 && img->code_type != ROM_CODE_EFI)
			continue;
		if (!rom_image_matches(img, vendor, device))
			return false;
		seen++;
	}
	return seen > 0;
}

bool rom_is_gop_driver(const struct rom_info *info)
{
	if (rom_verdict(info) != ROM_VALID_OVMF)
		return false;
	for (unsigned i = 0; i < info->n_images && i < ROM_MAX_IMAGES; i++)
		if (info->images[i].code_type == ROM_CODE_X86)
			return false;
	return true;
}

/* A cheap look before a full parse: 0x55 0xAA, "PCIR" in reach, display class. */
static bool display_candidate(const struct span *s, size_t off)
{
	uint16_t ptr;
	size_t p;

	if (!has_signature(s, off) || !get_u16(s, off + HDR_PCIR_PTR, &ptr))
		return false;
	p = off + ptr;
	return span_has(s, p, PCIR_MIN_SIZE) && memcmp(s->p + p, "PCIR", 4) == 0 &&
	       s->p[p + 0x0f] == 0x03;
}

int rom_find_start(const uint8_t *buf, size_t len, size_t *ret_offset)
{
	struct span s = { buf, len };
	struct rom_info *info;
	unsigned tried = 0;
	int r = -ENOENT;

	if (!ret_offset || (!buf && len > 0))
		return -EINVAL;
	if (len > ROM_MAX_SIZE)
		return -EFBIG;
	info = malloc(sizeof(*info));
	if (!info)
		return -ENOMEM;
	/* The bound on full parses keeps a file full of fake candidates from costing
	 * FIND_MAX_CANDIDATES times more than one parse of the whole file. */
	for (size_t off = 0; off + HDR_SIZE <= len && tried < FIND_MAX_CANDIDATES; off++) {
		if (!display_candidate(&s, off))
			continue;
		tried++;
		if (rom_parse_at(buf, len, off, info) == 0) {
			*ret_offset = off;
			r = 0;
			break;
		}
	}
	free(info);
	return r;
}

const char *rom_error_str(enum rom_error e)
{
	switch (e) {
	case ROM_OK:
		return "valid";
	case ROM_ERR_EMPTY:
		return "the file is empty";
	case ROM_ERR_TOO_BIG:
		return "the file is larger than 16 MiB";
	case ROM_ERR_TRUNCATED_HEADER:
		return "the image header is truncated";
	case ROM_ERR_NO_SIGNATURE:
		return "no ROM signature 55 AA";
	case ROM_ERR_PCIR_OUTSIDE:
		return "the PCIR structure lies outside the file";
	case ROM_ERR_PCIR_SIGNATURE:
		return "no PCIR signature where the header points";
	case ROM_ERR_ZERO_LENGTH:
		return "the image length is zero";
	case ROM_ERR_IMAGE_TRUNCATED:
		return "the image runs past the end of the file";
	case ROM_ERR_PCIR_OUTSIDE_IMAGE:
		return "the PCIR structure lies outside its image";
	case ROM_ERR_TOO_MANY_IMAGES:
		return "too many images (no last-image flag)";
	case ROM_ERR_CHECKSUM:
		return "bad checksum";
	case ROM_ERR_EFI_HEADER:
		return "bad EFI image header";
	}
	return "unknown error";
}

const char *rom_code_type_str(uint8_t code_type)
{
	switch (code_type) {
	case ROM_CODE_X86:
		return "x86";
	case ROM_CODE_OF:
		return "Open Firmware";
	case ROM_CODE_HPPA:
		return "PA-RISC";
	case ROM_CODE_EFI:
		return "EFI";
	}
	return "other";
}

const char *rom_efi_machine_str(uint16_t machine)
{
	switch (machine) {
	case ROM_EFI_MACHINE_IA32:
		return "IA32";
	case ROM_EFI_MACHINE_X64:
		return "x64";
	case ROM_EFI_MACHINE_EBC:
		return "EBC";
	case ROM_EFI_MACHINE_ARM64:
		return "ARM64";
	}
	return "unknown";
}

const char *rom_efi_subsystem_str(uint16_t subsystem)
{
	switch (subsystem) {
	case ROM_EFI_SUBSYS_APPLICATION:
		return "application";
	case ROM_EFI_SUBSYS_BOOT_DRIVER:
		return "boot service driver";
	case ROM_EFI_SUBSYS_RUNTIME_DRIVER:
		return "runtime driver";
	}
	return "unknown";
}

/* sysfs binary attributes such as "rom" hand out at most a page per read(): read to the end. */
static int read_all(int fd, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
	char *buf;
	int r = sr_read_fd_all(fd, max, &buf, ret_len);

	if (r == 0)
		*ret_buf = (uint8_t *)buf;
	return r;
}

int rom_load(const struct sysroot *sr, const char *path, uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* a FIFO would block a plain open: sr_open_regular refuses it without waiting */
	fd = sr_open_regular(sr, path, O_RDONLY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((unsigned long long)st.st_size > ROM_MAX_SIZE)
		return -EFBIG;
	/* The size may change under us; read_all() enforces the bound on what it reads. */
	return read_all(fd, ROM_MAX_SIZE, ret_buf, ret_len);
}

int rom_save(const struct sysroot *sr, const char *path, const uint8_t *buf, size_t len)
{
	int fd, r;

	fd = sr_openat(sr, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return fd;
	r = sr_write_fd_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	if (r < 0)
		sr_unlink(sr, path);
	return r;
}

int rom_sysfs_dump(const struct sysroot *sr, const char *addr, uint8_t **ret_buf,
		   size_t *ret_len, int *reterr_restore)
{
	char path[SR_PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, r;

	*reterr_restore = 0;
	r = sysfs_pci_dev(path, addr, "rom");
	if (r < 0)
		return r;
	if (!sr_exists(sr, path))
		return -ENOENT;
	/* The kernel disables the ROM only for exactly "0\n" (pci_write_rom tests a 2-byte
	 * write starting with '0'; a bare "0" enables it). The lab's rom-dump scenario showed a
	 * bare "0" leaving the ROM BAR enabled. */
	r = sr_write(sr, path, "1\n");
	if (r < 0)
		return r;
	fd = sr_openat(sr, path, O_RDONLY | O_NOCTTY, 0);
	if (fd < 0) {
		r = fd;
	} else {
		r = read_all(fd, ROM_MAX_SIZE, &buf, &len);
		close(fd);
	}
	/* Always disable the ROM BAR again, whatever the read did. */
	*reterr_restore = sr_write(sr, path, "0\n");
	if (r == 0 && len == 0) {
		free(buf);
		r = -ENODATA;
	}
	if (r < 0)
		return r;
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}
