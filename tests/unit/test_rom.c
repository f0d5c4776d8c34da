/* test_rom.c - the option ROM parser on synthetic hostile images, the header finder, file
 * load/save and the sysfs dump sequence on a fake tree. Inputs are copied into buffers of
 * exactly their length, so a sanitizer build catches any read past the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesys.h"
#include "harness.h"
#include "dev_rom.h"
#include "sysroot.h"

#define BLK 512
#define PCIR 0x1c /* where put_image() places the PCIR structure */

struct img_spec {
	unsigned blocks;
	uint8_t type;
	uint16_t vendor, device;
	uint32_t class_code;
	bool last;
	uint16_t machine; /* EFI only; 0 means x64 */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void fix_checksum(uint8_t *img, size_t len)
{
	uint8_t sum = 0;

	img[len - 1] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + img[i]);
	img[len - 1] = (uint8_t)(0x100 - sum);
}

/* Writes one image at P (which has room for s->blocks * 512 bytes). */
static void put_image(uint8_t *p, const struct img_spec *s)
{
	size_t len = (size_t)s->blocks * BLK;

	memset(p, 0, len);
	p[0] = 0x55;
	p[1] = 0xaa;
	p[2] = (uint8_t)s->blocks;
	put16(p + 0x18, PCIR);
	memcpy(p + PCIR, "PCIR", 4);
	put16(p + PCIR + 0x04, s->vendor);
	put16(p + PCIR + 0x06, s->device);
	put16(p + PCIR + 0x0a, 0x18);
	p[PCIR + 0x0c] = 3;
	p[PCIR + 0x0d] = s->class_code & 0xff;
	p[PCIR + 0x0e] = (s->class_code >> 8) & 0xff;
	p[PCIR + 0x0f] = (s->class_code >> 16) & 0xff;
	put16(p + PCIR + 0x10, (uint16_t)s->blocks);
	put16(p + PCIR + 0x12, 1);
	p[PCIR + 0x14] = s->type;
	p[PCIR + 0x15] = s->last ? 0x80 : 0;
	if (s->type == ROM_CODE_EFI) {
		put16(p + 0x02, (uint16_t)s->blocks);
		put16(p + 0x04, 0x0ef1);
		put16(p + 0x08, ROM_EFI_SUBSYS_BOOT_DRIVER);
		put16(p + 0x0a, s->machine ? s->machine : ROM_EFI_MACHINE_X64);
		put16(p + 0x16, 0x40);
		memcpy(p + 0x40, "MZ", 2);
	}
	if (s->type == ROM_CODE_X86)
		fix_checksum(p, len);
}

/* A GPU-like ROM: x86 image (2 blocks) then x64 EFI image (4 blocks). Returns its length. */
static size_t make_gpu_rom(uint8_t *buf, uint16_t vendor, uint16_t device)
{
	struct img_spec x86 = { 2, ROM_CODE_X86, vendor, device, 0x030000, false, 0 };
	struct img_spec efi = { 4, ROM_CODE_EFI, vendor, device, 0x030000, true, 0 };

	put_image(buf, &x86);
	put_image(buf + 2 * BLK, &efi);
	return 6 * BLK;
}

/* Parses a copy of exactly LEN bytes. */
static int parse_copy(const uint8_t *src, size_t len, struct rom_info *info)
{
	uint8_t *c = malloc(len ? len : 1);
	int r;

	CHECK(c);
	memcpy(c, src, len);
	r = rom_parse(c, len, info);
	free(c);
	return r;
}

static uint8_t buf[64 * BLK];
static struct rom_info info;

TEST(rom_legacy_and_efi_is_ovmf_usable)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);

	CHECK_INT(parse_copy(buf, len, &info), 0);
	CHECK_INT(info.n_images, 2);
	CHECK_INT(info.error, ROM_OK);
	CHECK_INT(info.images[0].code_type, ROM_CODE_X86);
	CHECK(info.images[0].checksum_checked && info.images[0].checksum_ok);
	CHECK_INT(info.images[0].vendor, 0x10de);
	CHECK_INT(info.images[0].device, 0x1b80);
	CHECK_INT(info.images[0].class_code, 0x030000);
	CHECK_INT(info.images[0].length, 2 * BLK);
	CHECK_INT(info.images[1].offset, 2 * BLK);
	CHECK(info.images[1].efi_ok);
	CHECK_INT(info.images[1].efi_machine, ROM_EFI_MACHINE_X64);
	CHECK(info.images[1].last);
	CHECK(!info.no_last_flag);
	CHECK_INT(info.end, len);
	CHECK_INT(rom_find_ovmf_image(&info), 1);
	CHECK_INT(rom_verdict(&info), ROM_VALID_OVMF);
	CHECK(rom_matches_ids(&info, 0x10de, 0x1b80));
	CHECK(!rom_matches_ids(&info, 0x10de, 0x1b81));
	CHECK(!rom_matches_ids(&info, 0x1002, 0x1b80));
}

TEST(rom_legacy_only_and_foreign_efi_are_not_ovmf_usable)
{
	struct img_spec x86 = { 2, ROM_CODE_X86, 0x1234, 0x1111, 0x030000, true, 0 };
	struct img_spec ia32 = { 2, ROM_CODE_EFI, 0x1234, 0x1111, 0x030000, true,
				 ROM_EFI_MACHINE_IA32 };

	put_image(buf, &x86);
	CHECK_INT(parse_copy(buf, 2 * BLK, &info), 0);
	CHECK_INT(rom_verdict(&info), ROM_VALID_NO_EFI);
	CHECK_INT(rom_find_ovmf_image(&info), -ENOENT);
	x86.last = false;
	put_image(buf, &x86);
	put_image(buf + 2 * BLK, &ia32);
	CHECK_INT(parse_copy(buf, 4 * BLK, &info), 0);
	CHECK_INT(info.n_images, 2);
	CHECK_INT(rom_verdict(&info), ROM_VALID_NO_EFI);
	/* An EFI application is not a driver either. */
	ia32.machine = ROM_EFI_MACHINE_X64;
	put_image(buf + 2 * BLK, &ia32);
	put16(buf + 2 * BLK + 0x08, ROM_EFI_SUBSYS_APPLICATION);
	CHECK_INT(parse_copy(buf, 4 * BLK, &info), 0);
	CHECK_INT(rom_verdict(&info), ROM_VALID_NO_EFI);
}

TEST(rom_empty_and_truncated_headers)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);

	CHECK_INT(parse_copy(buf, 0, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_EMPTY);
	CHECK_INT(rom_verdict(&info), ROM_INVALID);
	CHECK_INT(parse_copy(buf, 1, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_TRUNCATED_HEADER);
	CHECK_INT(parse_copy(buf, 0x19, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_TRUNCATED_HEADER);
	CHECK_INT(parse_copy(buf, PCIR + 8, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_PCIR_OUTSIDE);
	CHECK_INT(parse_copy(buf, BLK, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_IMAGE_TRUNCATED);
	/* Every prefix: valid only where the first image ends (it has no last flag), or one
	 * byte later: a lone 0x55 is no signature, so it is trailing data. */
	for (size_t n = 0; n < len; n++) {
		int r = parse_copy(buf, n, &info);

		if (n == 2 * BLK || n == 2 * BLK + 1) {
			CHECK_INT(r, 0);
			CHECK(info.no_last_flag);
			CHECK_INT(rom_verdict(&info), ROM_VALID_NO_EFI);
		} else {
			CHECK_INT(r, -EBADMSG);
			CHECK_INT(rom_verdict(&info), ROM_INVALID);
		}
	}
}

TEST(rom_pcir_pointing_outside)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);

	put16(buf + 0x18, 0xffff);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_PCIR_OUTSIDE);
	CHECK_INT(info.error_image, 0);
	/* The PCIR straddles the end of the file by one byte. */
	put16(buf + 0x18, (uint16_t)(len - 0x17));
	memcpy(buf + len - 0x17, "PCIR", 4);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_PCIR_OUTSIDE);
	/* Inside the file but in the next image, not its own. */
	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	memcpy(buf + 2 * BLK + 0x100, buf + PCIR, 0x18);
	put16(buf + 0x18, 2 * BLK + 0x100);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_PCIR_OUTSIDE_IMAGE);
	/* No "PCIR" where the pointer points. */
	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	put16(buf + 2 * BLK + 0x18, 0x40);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_PCIR_SIGNATURE);
	CHECK_INT(info.error_image, 1);
	CHECK_INT(info.n_images, 1);
}

TEST(rom_zero_and_huge_lengths)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);

	put16(buf + PCIR + 0x10, 0);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_ZERO_LENGTH);
	put16(buf + PCIR + 0x10, 0xffff);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_IMAGE_TRUNCATED);
	/* Second image zero-length: the walk stops there too. */
	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	put16(buf + 2 * BLK + PCIR + 0x10, 0);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_ZERO_LENGTH);
	CHECK_INT(info.error_image, 1);
}

TEST(rom_too_big_is_refused_before_reading)
{
	uint8_t *big = calloc(1, ROM_MAX_SIZE + 1);

	CHECK(big);
	make_gpu_rom(big, 0x10de, 0x1b80);
	CHECK_INT(rom_parse(big, ROM_MAX_SIZE + 1, &info), -EFBIG);
	CHECK_INT(info.error, ROM_ERR_TOO_BIG);
	CHECK_INT(rom_find_start(big, ROM_MAX_SIZE + 1, &(size_t){ 0 }), -EFBIG);
	CHECK_INT(rom_parse(big, ROM_MAX_SIZE, &info), 0);
	free(big);
	CHECK_INT(rom_parse(NULL, 10, &info), -EINVAL);
}

TEST(rom_chain_without_last_flag_is_bounded)
{
	struct img_spec one = { 1, ROM_CODE_X86, 0x1234, 0x1111, 0x030000, false, 0 };

	/* 40 one-block images, none marked last: more than ROM_MAX_IMAGES. */
	for (unsigned i = 0; i < 40; i++)
		put_image(buf + i * BLK, &one);
	CHECK_INT(parse_copy(buf, 40 * BLK, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_TOO_MANY_IMAGES);
	CHECK_INT(info.n_images, ROM_MAX_IMAGES);
	/* Ten of them end at the file's end: valid, noted. */
	CHECK_INT(parse_copy(buf, 10 * BLK, &info), 0);
	CHECK_INT(info.n_images, 10);
	CHECK(info.no_last_flag);
	/* Garbage after an unterminated chain ends it too. */
	memset(buf + 10 * BLK, 0xff, BLK);
	CHECK_INT(parse_copy(buf, 11 * BLK, &info), 0);
	CHECK_INT(info.n_images, 10);
	CHECK_INT(info.end, 10 * BLK);
}

TEST(rom_bad_checksum_and_efi_header)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);

	buf[0x100] ^= 0x01;
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_CHECKSUM);
	CHECK_INT(info.error_image, 0);
	CHECK_INT(info.n_images, 2); /* the walk went on, so the images can be shown */
	CHECK(!info.images[0].checksum_ok);
	CHECK_INT(rom_verdict(&info), ROM_INVALID);

	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	put16(buf + 2 * BLK + 0x04, 0x0ef0);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_EFI_HEADER);
	CHECK_INT(info.error_image, 1);
	/* The PE image offset must lie inside the image. */
	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	put16(buf + 2 * BLK + 0x16, 4 * BLK);
	CHECK_INT(parse_copy(buf, len, &info), -EBADMSG);
	CHECK_INT(info.error, ROM_ERR_EFI_HEADER);
	/* The EFI image is not checksummed: a changed byte there is fine. */
	len = make_gpu_rom(buf, 0x10de, 0x1b80);
	buf[2 * BLK + 0x300] ^= 0x5a;
	CHECK_INT(parse_copy(buf, len, &info), 0);
}

TEST(rom_device_list_widens_matching)
{
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80);
	uint8_t *x86 = buf;

	/* A PCI 3.0 device list at PCIR+0x40 in the x86 image: 1b81, 1b82, 0. */
	put16(x86 + PCIR + 0x08, 0x40);
	put16(x86 + PCIR + 0x40, 0x1b81);
	put16(x86 + PCIR + 0x42, 0x1b82);
	put16(x86 + PCIR + 0x44, 0);
	fix_checksum(x86, 2 * BLK);
	CHECK_INT(parse_copy(buf, len, &info), 0);
	CHECK_INT(info.images[0].n_device_list, 2);
	CHECK(rom_image_matches(&info.images[0], 0x10de, 0x1b82));
	/* Every x86 and EFI image must match: the EFI image has no list. */
	CHECK(!rom_matches_ids(&info, 0x10de, 0x1b82));
	CHECK(rom_matches_ids(&info, 0x10de, 0x1b80));
	/* A list running to the end of the image without its 0 is ignored. */
	put16(x86 + PCIR + 0x08, (uint16_t)(2 * BLK - PCIR - 2));
	memset(x86 + PCIR + 0x40, 0xee, 2 * BLK - PCIR - 0x40);
	fix_checksum(x86, 2 * BLK);
	CHECK_INT(parse_copy(buf, len, &info), 0);
	CHECK_INT(info.images[0].n_device_list, 0);
}

TEST(rom_find_start_strips_vendor_header)
{
	static uint8_t file[16 * BLK];
	struct img_spec nic = { 1, ROM_CODE_X86, 0x8086, 0x100e, 0x020000, true, 0 };
	const size_t hdr = 0x6a3; /* odd on purpose: headers need not be aligned */
	size_t off = 1, len;

	memset(file, 0, sizeof(file));
	memcpy(file, "NVGI", 4);
	file[0x10] = 0x55; /* a lone signature without PCIR */
	file[0x11] = 0xaa;
	put_image(file + 0x200, &nic); /* valid, but not a display controller */
	memcpy(file + hdr - 0x20, "VIDEO", 5);
	len = hdr + make_gpu_rom(file + hdr, 0x10de, 0x1b80);
	CHECK_INT(parse_copy(file, len, &info), -EBADMSG);
	CHECK_INT(rom_find_start(file, len, &off), 0);
	CHECK_INT(off, hdr);
	CHECK_INT(rom_parse(file + off, len - off, &info), 0);
	CHECK_INT(rom_verdict(&info), ROM_VALID_OVMF);
	/* Already clean: offset 0. */
	len = make_gpu_rom(file, 0x10de, 0x1b80);
	CHECK_INT(rom_find_start(file, len, &off), 0);
	CHECK_INT(off, 0);
	/* No valid display image after the header: refused. */
	memset(file, 0, sizeof(file));
	put_image(file + 0x200, &nic);
	len = hdr + make_gpu_rom(file + hdr, 0x10de, 0x1b80);
	put16(file + hdr + 2 * BLK + 0x04, 0); /* EFI signature gone */
	CHECK_INT(rom_find_start(file, len, &off), -ENOENT);
	CHECK_INT(rom_find_start(file, 0, &off), -ENOENT);
}

/* Random bytes and random mutations of a valid ROM: never a crash, and a chain judged valid
 * is self-consistent. The sanitizer build turns any out-of-bounds read into a failure. */
TEST(rom_random_bytes_and_mutations)
{
	unsigned seed = 12345;
	size_t off;

	for (int round = 0; round < 3000; round++) {
		size_t len = (size_t)rand_r(&seed) % (8 * BLK);

		if (round % 2 == 0) {
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rand_r(&seed);
			if (len >= 2 && round % 4 == 0) {
				buf[0] = 0x55;
				buf[1] = 0xaa;
			}
		} else {
			len = make_gpu_rom(buf, 0x10de, 0x1b80);
			for (int k = rand_r(&seed) % 8; k >= 0; k--)
				buf[(size_t)rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		}
		if (parse_copy(buf, len, &info) == 0) {
			CHECK(info.n_images >= 1 && info.n_images <= ROM_MAX_IMAGES);
			CHECK(info.end <= len);
			CHECK(rom_verdict(&info) != ROM_INVALID);
		}
		uint8_t *c = malloc(len ? len : 1);

		CHECK(c);
		memcpy(c, buf, len);
		if (rom_find_start(c, len, &off) == 0)
			CHECK(off < len);
		free(c);
	}
}

TEST(rom_names)
{
	CHECK_STR(rom_code_type_str(ROM_CODE_EFI), "EFI");
	CHECK_STR(rom_code_type_str(0x70), "other");
	CHECK_STR(rom_efi_machine_str(0x8664), "x64");
	CHECK_STR(rom_efi_machine_str(0xaa64), "ARM64");
	CHECK_STR(rom_efi_subsystem_str(11), "boot service driver");
	CHECK_STR(rom_error_str(ROM_ERR_CHECKSUM), "bad checksum");
	CHECK_STR(rom_error_str((enum rom_error)999), "unknown error");
}

TEST(rom_load_and_save_never_replace)
{
	struct sysroot sr;
	uint8_t *back = NULL;
	size_t len = make_gpu_rom(buf, 0x10de, 0x1b80), back_len = 0;
	char p[512];

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(rom_save(&sr, "/out.rom", buf, len), 0);
	CHECK_INT(rom_save(&sr, "/out.rom", buf, 1), -EEXIST);
	CHECK_INT(rom_load(&sr, "/out.rom", &back, &back_len), 0);
	CHECK_INT(back_len, len);
	CHECK(memcmp(back, buf, len) == 0);
	free(back);
	snprintf(p, sizeof(p), "%s/link.rom", test_tmpdir());
	CHECK(symlink("out.rom", p) == 0);
	CHECK_INT(rom_save(&sr, "/link.rom", buf, 1), -EEXIST);
	CHECK_INT(rom_load(&sr, "/", &back, &back_len), -SR_ENOTREG);
	snprintf(p, sizeof(p), "%s/fifo.rom", test_tmpdir());
	CHECK(mkfifo(p, 0600) == 0);
	CHECK_INT(rom_load(&sr, "/fifo.rom", &back, &back_len), -SR_ENOTREG); /* at once */
	CHECK_INT(rom_load(&sr, "/missing.rom", &back, &back_len), -ENOENT);
	snprintf(p, sizeof(p), "%s/big.rom", test_tmpdir());
	CHECK(truncate(p, 0) < 0); /* absent */
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)ROM_MAX_SIZE + 1) == 0);
	close(fd);
	CHECK_INT(rom_load(&sr, "/big.rom", &back, &back_len), -EFBIG);
	sr_close(&sr);
}

#define ROM_ATTR "/sys/bus/pci/devices/0000:01:00.0/rom"

TEST(rom_sysfs_dump_enables_reads_and_restores)
{
	const char *spec = "pci 0000:01:00.0 vendor=10de device=1b80 class=030000 "
			   "rom=f0000000:20000 driver=vfio-pci group=1\n"
			   "pci 0000:02:00.0 vendor=8086 device=10d3 class=020000 group=2\n";
	struct sysroot sr;
	uint8_t *data = NULL;
	size_t len = 0;
	char content[64];
	int restore = 99;

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(sr_write(&sr, ROM_ATTR, "card data"), 0);
	/* A plain file stands in for the attribute, so the read returns what was written last:
	 * "1\n" proves the ROM was enabled before the read; "0\n" at the end that it was disabled
	 * (the kernel disables it only for exactly "0\n"). */
	CHECK_INT(rom_sysfs_dump(&sr, "0000:01:00.0", &data, &len, &restore), 0);
	CHECK_INT(restore, 0);
	CHECK_INT(len, 2);
	CHECK(data[0] == '1' && data[1] == '\n');
	free(data);
	CHECK_INT(sr_read(&sr, ROM_ATTR, content, sizeof(content)), 2);
	CHECK_STR(content, "0\n");
	/* No ROM attribute: nothing written anywhere, -ENOENT. */
	restore = 99;
	CHECK_INT(rom_sysfs_dump(&sr, "0000:02:00.0", &data, &len, &restore), -ENOENT);
	CHECK_INT(restore, 0);
	CHECK(!sr_exists(&sr, "/sys/bus/pci/devices/0000:02:00.0/rom"));
	CHECK_INT(rom_sysfs_dump(&sr, "0000:09:00.0", &data, &len, &restore), -ENOENT);
	sr_close(&sr);
}
