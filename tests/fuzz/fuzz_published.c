/* fuzz_published.c - what a node publishes in /etc/pve/nodes/NODE/pve-gpu-passthrough
 * (pve_published_parse): no crash; what is accepted has a version, an absolute hook path
 * without "/..", snippet volumes STORAGE:snippets/NAME (NAME a plain file name), and formats
 * back to a file that parses to the same facts. */
#include <errno.h>

#include "fuzz.h"
#include "pve_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_published p, q;
	static char buf[PVE_PUBLISH_MAX * 2];
	char *text = fuzz_text(data, size, PVE_PUBLISH_MAX * 2);
	int r;

	if (!text)
		return 0;
	r = pve_published_parse(text, &p);
	REQUIRE(r == 0 || r == -EINVAL || r == -E2BIG || r == -EFBIG);
	if (r == 0) {
		REQUIRE(p.version[0] && p.hook[0] == '/' && !strstr(p.hook, "/.."));
		REQUIRE(p.nsnippets >= 0 && p.nsnippets <= PVE_PUBLISH_MAX_SNIPPETS);
		for (int i = 0; i < p.nsnippets; i++) {
			const char *name = strstr(p.snippets[i], ":snippets/");

			/* a plain file name: no '/', not "." or ".." ("..x" is a name) */
			REQUIRE(name && !strchr(name + 10, '/') && strcmp(name + 10, ".") &&
				strcmp(name + 10, "..") && name[10]);
		}
		if (pve_published_format(&p, buf, sizeof(buf)) == 0) {
			REQUIRE(pve_published_parse(buf, &q) == 0);
			REQUIRE(!memcmp(&p, &q, sizeof(p)));
		}
	}
	free(text);
	return 0;
}
