/* fuzz_mapping.c - Proxmox's PCI mapping file /etc/pve/mapping/pci.cfg (pve_mapping_parse):
 * no crash; entries bounded, every alternative a parsed, non-empty device list with its id.
 * The mapping and node names come from the input's first line ("NAME NODE") when it has one,
 * so the fuzzer can make them match. */
#include <errno.h>
#include <stdio.h>

#include "fuzz.h"
#include "pve_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_mapping m;
	char *text = fuzz_text(data, size, 1 << 20), name[128] = "gpu", node[128] = "pve1";
	int r;

	if (!text)
		return 0;
	if (sscanf(text, "%127s %127s", name, node) != 2) {
		strcpy(name, "gpu");
		strcpy(node, "pve1");
	}
	r = pve_mapping_parse(text, name, node, &m);
	REQUIRE(r == 0 || r == -E2BIG);
	REQUIRE(m.nalts >= 0 && m.nalts <= m.nentries && m.nalts <= PVE_MAX_MAP_ALTS);
	for (int i = 0; i < m.nalts; i++) {
		REQUIRE(m.alts[i].nids >= 1 && m.alts[i].nids <= PVE_MAX_IDS);
		REQUIRE(memchr(m.alts[i].id, '\0', sizeof(m.alts[i].id)));
		for (int k = 0; k < m.alts[i].nids; k++)
			REQUIRE(m.alts[i].ids[k].addr.func <= 7);
	}
	free(text);
	return 0;
}
