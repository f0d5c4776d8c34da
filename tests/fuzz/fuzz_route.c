/* fuzz_route.c - /proc/net/route and /proc/net/ipv6_route (hostdev_parse_routes): no crash;
 * at most MAX interfaces, each named, terminated and listed once. The input is given to both
 * parsers (each gets its own copy). */
#include "fuzz.h"
#include "host_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ifs[16][32];
	char *v4 = fuzz_text(data, size, 1 << 20), *v6 = fuzz_text(data, size, 1 << 20);
	int n;

	if (v4 && v6) {
		memset(ifs, 0x55, sizeof(ifs));
		n = hostdev_parse_routes(v4, v6, ifs, 16);
		REQUIRE(n >= 0 && n <= 16);
		for (int i = 0; i < n; i++) {
			REQUIRE(memchr(ifs[i], '\0', sizeof(ifs[i])) && ifs[i][0]);
			for (int k = 0; k < i; k++)
				REQUIRE(strcmp(ifs[k], ifs[i]) != 0);
		}
	}
	free(v4);
	free(v6);
	return 0;
}
