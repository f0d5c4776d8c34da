/* fuzz_vfct.c - libFuzzer target for the ACPI VFCT parser (common/dev_vfct.c). Besides "no
 * crash, no out-of-bounds access" (the sanitizers' part) it checks the parser's promises:
 * every entry and its image lie inside the table, entries follow each other without a gap,
 * the return code agrees with the error, and a found entry matches what was asked. Built and
 * run by tests/fuzz/run.sh (seed: tests/rom/vfct-780m.bin). */
#include "fuzz.h"
#include "dev_vfct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vfct_info info;
	struct pci_addr a = { 0 };
	int r, i;

	r = vfct_parse(data, size, &info);
	REQUIRE((r == 0) == (info.error == VFCT_OK));
	REQUIRE(vfct_error_str(info.error) != NULL);
	REQUIRE(info.n <= VFCT_MAX_ENTRIES);
	for (unsigned k = 0; k < info.n; k++) {
		const struct vfct_entry *e = &info.e[k];

		REQUIRE(e->offset >= 0x1c && e->offset <= info.table_length);
		REQUIRE(e->length <= info.table_length - e->offset);
		REQUIRE(info.table_length <= size);
		if (k + 1 < info.n)
			REQUIRE(info.e[k + 1].offset == e->offset + e->length + 0x1c);
		REQUIRE(e->atom == vfct_atom_bios(data + e->offset, e->length));
	}
	if (info.n > 0) {
		const struct vfct_entry *last = &info.e[info.n - 1];

		a.bus = (uint8_t)last->bus;
		a.slot = (uint8_t)last->device;
		a.func = (uint8_t)last->function;
		i = vfct_find(&info, &a, last->vendor, last->device_id);
		if (i >= 0) {
			const struct vfct_entry *e = &info.e[i];

			REQUIRE(e->length > 0 && e->bus == a.bus && e->device == a.slot &&
				e->function == a.func && e->vendor == last->vendor &&
				e->device_id == last->device_id);
		}
	}
	(void)vfct_atom_bios(data, size);
	return 0;
}
