/* fuzz_health.c - the health mark files (common/dev_health.c) pre-start reads for each device:
 * no crash; whatever parses has a fault, a VMID, a boot id of hex digits and dashes and a
 * driver name that may reach a message (kernel_name_valid), and prints back to text that parses
 * to the same mark. */
#include "fuzz.h"
#include "dev_health.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct health_mark m, t;
	static char buf[1024];
	char *text = fuzz_text(data, size, 4096);

	if (!text)
		return 0;
	if (health_parse(text, &m) == 0) {
		REQUIRE(m.fault > HEALTH_OK && m.fault <= HEALTH_NO_DRIVER);
		REQUIRE(m.vmid >= 100 && m.vmid <= 999999999);
		REQUIRE(!m.driver[0] || kernel_name_valid(m.driver));
		for (const char *p = m.boot; *p; p++)
			REQUIRE((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-');
		REQUIRE(health_format(&m, buf, sizeof(buf)) > 0);
		REQUIRE(health_parse(buf, &t) == 0);
		REQUIRE(memcmp(&m, &t, sizeof(m)) == 0);
	}
	free(text);
	return 0;
}
