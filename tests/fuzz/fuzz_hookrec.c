/* fuzz_hookrec.c - attach's records (pve_hookrec.c): the VM's own hookscript record
 * (hookrec_parse) and the list of snippet copies (snipcopy_parse). No crash; a record that
 * parses names a valid snippet volume that is not ours (never our own hook, which would run
 * itself); every copy has an absolute path without "..", named like ours, within the bound. */
#include <errno.h>

#include "fuzz.h"
#include "pve_hookrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snippet_copy c[SNIPPET_RECORD_LINES];
	char *text = fuzz_text(data, size, SNIPPET_RECORD_MAX), volid[VOLID_MAX];
	int n, bad;

	if (!text)
		return 0;
	if (hookrec_parse(text, volid, sizeof(volid)) == 0) {
		REQUIRE(memchr(volid, '\0', sizeof(volid)));
		REQUIRE(pve_snippet_volid_valid(volid) && !pve_snippet_volid_ours(volid));
		REQUIRE(!strchr(strchr(volid, ':') + strlen(":snippets/"), '/'));
	}
	n = snipcopy_parse(text, c, SNIPPET_RECORD_LINES, &bad);
	REQUIRE(n >= 0 && n <= SNIPPET_RECORD_LINES && bad >= 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(c[i].path);

		REQUIRE(c[i].path[0] == '/' && !strstr(c[i].path, "/../"));
		REQUIRE(len > strlen(SNIPPET_NAME) &&
			!strcmp(c[i].path + len - strlen(SNIPPET_NAME), SNIPPET_NAME));
		REQUIRE(!c[i].volid[0] || pve_snippet_volid_ours(c[i].volid));
	}
	free(text);
	return 0;
}
