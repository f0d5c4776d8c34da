/* fuzz_storage.c - Proxmox's /etc/pve/storage.cfg (pve_storage_parse): no crash; a found
 * storage has terminated, bounded fields and a snippets directory that fits a path and never
 * climbs out with "..", for the storage id given on the input's first line ("ID") or
 * "local". */
#include <errno.h>
#include <stdio.h>

#include "fuzz.h"
#include "pve_storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_storage s;
	char *text = fuzz_text(data, size, PVE_STORAGE_CFG_MAX), id[PVE_STORAGE_ID_MAX] = "local";
	char dir[SR_PATH_MAX];
	int r;

	if (!text)
		return 0;
	if (sscanf(text, "%63s", id) != 1 || !pve_storage_id_valid(id))
		strcpy(id, "local");
	r = pve_storage_parse(text, id, &s);
	REQUIRE(r == 0 || r == -ENOENT || r == -ENAMETOOLONG || r == -EINVAL || r == -EBADMSG);
	if (r == 0) {
		REQUIRE(memchr(s.type, '\0', sizeof(s.type)) && memchr(s.id, '\0', sizeof(s.id)));
		REQUIRE(memchr(s.path, '\0', sizeof(s.path)) && memchr(s.content, '\0', sizeof(s.content)));
		REQUIRE(memchr(s.snippets_dir, '\0', sizeof(s.snippets_dir)));
		REQUIRE(!strstr(s.snippets_dir, "..")); /* Proxmox refuses it: so does the parser */
		REQUIRE(memchr(s.nodes, '\0', sizeof(s.nodes)));
		(void)pve_storage_has_content(&s, "snippets");
		(void)pve_storage_on_node(&s, "pve1");
		if (pve_storage_snippets_dir(&s, dir) == 0)
			REQUIRE(memchr(dir, '\0', sizeof(dir)) && dir[0]);
	}
	free(text);
	return 0;
}
