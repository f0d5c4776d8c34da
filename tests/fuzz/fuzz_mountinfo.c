/* fuzz_mountinfo.c - /proc/self/mountinfo (hostdev_parse_mountinfo): no crash; every mount's
 * fields point into the text (escapes undone in place, never past it). */
#include "fuzz.h"
#include "host_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostdev_mount *m = NULL;
	char *text = fuzz_text(data, size, 1 << 20);
	int n = -1;

	if (!text)
		return 0;
	if (hostdev_parse_mountinfo(text, &m, &n) == 0) {
		REQUIRE(n >= 0);
		for (int i = 0; i < n; i++) {
			REQUIRE(m[i].point && m[i].fstype && m[i].source);
			REQUIRE(fuzz_inside(m[i].point, text, size) && fuzz_inside(m[i].fstype, text, size) &&
				fuzz_inside(m[i].source, text, size));
			REQUIRE(strlen(m[i].point) <= size && strlen(m[i].source) <= size);
		}
	}
	free(m);
	free(text);
	return 0;
}
