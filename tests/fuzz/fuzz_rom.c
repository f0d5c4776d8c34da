/* fuzz_rom.c - libFuzzer target for the option ROM parser (common/dev_rom.c). Besides "no crash,
 * no out-of-bounds access" (the sanitizers' part) it checks the parser's promises: a valid
 * chain lies inside the input, a found start really starts a valid chain, the verdict agrees
 * with the return code. Built and run by tests/fuzz/run.sh. */
#include "fuzz.h"
#include "dev_rom.h"

static void check_chain(const uint8_t *data, size_t size, const struct rom_info *info, int r)
{
	REQUIRE(info->n_images <= ROM_MAX_IMAGES);
	REQUIRE((r == 0) == (info->error == ROM_OK));
	REQUIRE((r == 0) == (rom_verdict(info) != ROM_INVALID));
	REQUIRE(rom_error_str(info->error) != NULL);
	for (unsigned i = 0; i < info->n_images; i++) {
		const struct rom_image *img = &info->images[i];

		REQUIRE(img->length > 0 && img->length % 512 == 0);
		REQUIRE(img->offset + img->length <= size);
		REQUIRE(img->pcir_offset + 0x18 <= img->offset + img->length);
		REQUIRE(memcmp(data + img->offset, "\x55\xaa", 2) == 0);
		REQUIRE(rom_code_type_str(img->code_type) && rom_efi_machine_str(img->efi_machine) &&
			rom_efi_subsystem_str(img->efi_subsystem));
		if (i + 1 < info->n_images)
			REQUIRE(info->images[i + 1].offset == img->offset + img->length);
	}
	if (r == 0) {
		REQUIRE(info->n_images > 0 && info->end <= size);
		if (size >= 4)
			(void)rom_matches_ids(info, (uint16_t)(data[0] | data[1] << 8),
					      (uint16_t)(data[2] | data[3] << 8));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rom_info info;
	size_t off = (size_t)-1;
	int r;

	r = rom_parse(data, size, &info);
	check_chain(data, size, &info, r);
	if (size > 2) {
		size_t start = (data[size - 1] | (size_t)data[size - 2] << 8) % size;

		r = rom_parse_at(data, size, start, &info);
		check_chain(data, size, &info, r);
	}
	r = rom_find_start(data, size, &off);
	if (r == 0) {
		REQUIRE(off < size);
		REQUIRE(rom_parse_at(data, size, off, &info) == 0);
		REQUIRE((info.images[0].class_code >> 16) == 0x03);
	}
	return 0;
}
