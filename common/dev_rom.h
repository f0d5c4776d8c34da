/* dev_rom.h - PCI option ROM (vBIOS) images: parse, judge, find, load, save and dump.
 *
 * A ROM file comes from the internet or from a card: it is hostile input. The parser
 *  1. checks every offset against the buffer size before it reads a byte there,
 *  2. decodes multi-byte fields little-endian, byte by byte (no struct overlays, no host order),
 *  3. walks at most ROM_MAX_IMAGES images, and every step moves forward by a non-zero length,
 *  4. accepts at most ROM_MAX_SIZE bytes.
 * Layout (PCI Firmware Specification 3.0, 5.1): each image starts with 0x55 0xAA and holds at
 * 0x18 the offset of its "PCIR" data structure, which gives the ids, class, image length (512-byte
 * units), code type and the last-image flag. Nothing here logs or exits; errors are negative errno.
 */
#ifndef PGP_DEV_ROM_H
#define PGP_DEV_ROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sysroot.h"

#define ROM_MAX_SIZE (16u << 20)   /* bytes accepted from a file or from sysfs */
#define ROM_MAX_IMAGES 32          /* images walked in one chain */
#define ROM_MAX_DEVICE_LIST 64     /* PCIR 3.0 device-list entries kept per image */

/* PCIR code types (PCI Firmware Specification 3.0, table 5-2). */
enum {
	ROM_CODE_X86 = 0,   /* Intel x86, PC-AT compatible ("legacy") */
	ROM_CODE_OF = 1,    /* Open Firmware */
	ROM_CODE_HPPA = 2,  /* Hewlett-Packard PA RISC */
	ROM_CODE_EFI = 3,   /* EFI image */
};

/* EFI PE/COFF subsystems and machine types used in EFI option ROM headers. */
enum {
	ROM_EFI_SUBSYS_APPLICATION = 10,
	ROM_EFI_SUBSYS_BOOT_DRIVER = 11,
	ROM_EFI_SUBSYS_RUNTIME_DRIVER = 12,
	ROM_EFI_MACHINE_IA32 = 0x014c,
	ROM_EFI_MACHINE_X64 = 0x8664,
	ROM_EFI_MACHINE_EBC = 0x0ebc,
	ROM_EFI_MACHINE_ARM64 = 0xaa64,
};

/* Why a chain is invalid (rom_error_str() words it). */
enum rom_error {
	ROM_OK = 0,
	ROM_ERR_EMPTY,            /* no bytes at all */
	ROM_ERR_TOO_BIG,          /* more than ROM_MAX_SIZE bytes */
	ROM_ERR_TRUNCATED_HEADER, /* the 0x1a-byte image header does not fit */
	ROM_ERR_NO_SIGNATURE,     /* no 0x55 0xAA where an image must start */
	ROM_ERR_PCIR_OUTSIDE,     /* the PCIR structure lies (partly) outside the file */
	ROM_ERR_PCIR_SIGNATURE,   /* no "PCIR" where the header points */
	ROM_ERR_ZERO_LENGTH,      /* PCIR image length 0 */
	ROM_ERR_IMAGE_TRUNCATED,  /* the image runs past the end of the file */
	ROM_ERR_PCIR_OUTSIDE_IMAGE, /* the PCIR structure is not inside its own image */
	ROM_ERR_TOO_MANY_IMAGES,  /* more than ROM_MAX_IMAGES without a last-image flag */
	ROM_ERR_CHECKSUM,         /* a legacy image's bytes do not sum to 0 */
	ROM_ERR_EFI_HEADER,       /* code type 3 without a sane EFI header (signature 0x0EF1) */
};

struct rom_image {
	size_t offset;           /* from the start of the buffer */
	size_t length;           /* bytes: PCIR image length * 512 */
	size_t pcir_offset;      /* absolute offset of "PCIR" */
	uint16_t vendor, device;
	uint32_t class_code;     /* base << 16 | sub << 8 | prog-if, e.g. 0x030000 */
	uint8_t pcir_revision;   /* PCIR structure revision (3 = PCI 3.0) */
	uint16_t code_revision;  /* vendor's revision level of the code */
	uint8_t code_type;       /* ROM_CODE_* */
	bool last;               /* indicator bit 7 */
	/* Legacy (x86) images: the sum of all image bytes must be 0 mod 256. */
	bool checksum_checked;
	bool checksum_ok;
	/* PCI 3.0 device list: further device ids the image supports. */
	uint16_t device_list[ROM_MAX_DEVICE_LIST];
	unsigned n_device_list;
	/* EFI images (code type 3), decoded from the header that follows 0x55 0xAA. */
	bool efi_ok;             /* signature 0x0EF1 and the PE image offset inside the image */
	uint32_t efi_signature;
	uint16_t efi_init_size;  /* 512-byte units */
	uint16_t efi_subsystem;
	uint16_t efi_machine;
	uint16_t efi_compression; /* 0 none, 1 EFI compression */
	uint16_t efi_image_offset;
};

struct rom_info {
	size_t size;             /* bytes examined */
	size_t start;            /* offset of the first image */
	size_t end;              /* end of the last image parsed (trailing bytes follow) */
	unsigned n_images;
	struct rom_image images[ROM_MAX_IMAGES];
	bool no_last_flag;       /* the chain ended without an image marked last */
	enum rom_error error;    /* ROM_OK when valid */
	size_t error_offset;     /* where the error was found */
	int error_image;         /* index of the image at fault, -1 when none */
};

enum rom_verdict {
	ROM_INVALID = 0,         /* not a usable ROM */
	ROM_VALID_NO_EFI,        /* valid, but no image OVMF can run */
	ROM_VALID_OVMF,          /* valid and holds an x64 EFI driver image */
};

/* Parses the image chain at the start of BUF. Fills *ret (images up to the first structural
 * error, so callers can show them). Returns 0 when the chain is valid, -EBADMSG when it is not
 * (ret->error tells why), -EFBIG above ROM_MAX_SIZE, -EINVAL on bad arguments. */
int rom_parse(const uint8_t *buf, size_t len, struct rom_info *ret);
/* The same for a chain starting at offset START of BUF (offsets stay relative to BUF). */
int rom_parse_at(const uint8_t *buf, size_t len, size_t start, struct rom_info *ret);

/* True when the image is an EFI driver OVMF can load: EFI header ok, x64, boot or runtime
 * driver. */
bool rom_image_ovmf_usable(const struct rom_image *img);
/* Index of the first OVMF-usable image, or -ENOENT. */
int rom_find_ovmf_image(const struct rom_info *info);
/* ROM_INVALID, ROM_VALID_NO_EFI or ROM_VALID_OVMF for a parsed chain. */
enum rom_verdict rom_verdict(const struct rom_info *info);
/* True when the image lists VENDOR:DEVICE (its PCIR ids or its PCI 3.0 device list). */
bool rom_image_matches(const struct rom_image *img, uint16_t vendor, uint16_t device);
/* True when every x86 and EFI image of the chain is for VENDOR:DEVICE (and there is one). */
bool rom_matches_ids(const struct rom_info *info, uint16_t vendor, uint16_t device);

/* True for a valid chain of EFI images only, one of them OVMF-usable, and no x86 image: a GOP
 * driver ROM (UEFI display driver without a legacy video BIOS), such as the one AMD APU
 * passthrough guides put on the GPU's audio function. */
bool rom_is_gop_driver(const struct rom_info *info);

/* Finds the first offset where a valid chain starts whose first image is a display controller
 * (class 0x03xxxx): the image behind a vendor header such as NVIDIA's. Returns 0 and stores the
 * offset (0 when the file needs no stripping), -ENOENT when no valid chain follows. */
int rom_find_start(const uint8_t *buf, size_t len, size_t *ret_offset);

/* Names for display ("x86", "EFI", "x64", "boot service driver"); never NULL. */
const char *rom_error_str(enum rom_error e);
const char *rom_code_type_str(uint8_t code_type);
const char *rom_efi_machine_str(uint16_t machine);
const char *rom_efi_subsystem_str(uint16_t subsystem);

/* Reads a regular file below the root (at most ROM_MAX_SIZE bytes) into a malloc'd buffer.
 * Returns 0, -EFBIG when larger, -SR_ENOTREG when not a regular file (a FIFO is refused
 * without blocking), or -errno. */
int rom_load(const struct sysroot *sr, const char *path, uint8_t **ret_buf, size_t *ret_len);
/* Creates PATH below the root (never replaces an existing file or follows a symlink), writes
 * BUF, fsyncs. On failure the partial file is removed. Returns 0, -EEXIST or -errno. */
int rom_save(const struct sysroot *sr, const char *path, const uint8_t *buf, size_t len);

/* Reads the ROM of PCI device ADDR ("0000:01:00.0") through sysfs: writes "1" to its "rom"
 * attribute, reads it fully, and always writes "0" afterwards, even when the read failed.
 * Returns 0 with a malloc'd buffer, -ENOENT when the device has no "rom" attribute, -ENODATA
 * when it reads empty, or the read's -errno (-EIO: see rom dump in pve-gpu-passthrough(8)).
 * *reterr_restore receives the result of writing "0" (0 or -errno) whenever "1" was written. */
int rom_sysfs_dump(const struct sysroot *sr, const char *addr, uint8_t **ret_buf,
		   size_t *ret_len, int *reterr_restore);

#endif
