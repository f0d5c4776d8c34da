/* fuzz_iomem.c - /proc/iomem (iomem_parse): no crash; entries bounded, each range ordered,
 * names terminated; the firmware-framebuffer lookup only returns an overlapping entry. */
#include <errno.h>

#include "fuzz.h"
#include "host_iomem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iomem m = { 0 };
	char *text = fuzz_text(data, size, 1 << 20);
	const struct iomem_entry *e;

	if (!text)
		return 0;
	if (iomem_parse(text, &m) == 0) {
		REQUIRE(m.n >= 0 && m.n <= 65536);
		for (int i = 0; i < m.n; i++) {
			REQUIRE(m.e[i].start <= m.e[i].end && m.e[i].depth >= 0);
			REQUIRE(memchr(m.e[i].name, '\0', sizeof(m.e[i].name)));
		}
		if (m.n > 0) {
			uint64_t s = m.e[0].start, t = m.e[m.n - 1].end;

			e = iomem_fw_fb_in(&m, s < t ? s : t, s < t ? t : s);
			REQUIRE(!e || iomem_is_fw_fb(e->name));
		}
	}
	iomem_free(&m);
	free(text);
	return 0;
}
