/* fuzz_members.c - pmxcfs's /etc/pve/.members (pve_members_parse, a small strict JSON
 * reader): no crash, no deep recursion; what it accepts is bounded and every node name is
 * a valid one (it becomes a path component of /etc/pve/nodes). */
#include <errno.h>

#include "fuzz.h"
#include "pve_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_members m;
	char *text = fuzz_text(data, size, PVE_MEMBERS_MAX);
	int r;

	if (!text)
		return 0;
	r = pve_members_parse(text, &m);
	REQUIRE(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r == 0) {
		REQUIRE(m.nnodes >= 0 && m.nnodes <= PVE_CLUSTER_MAX_NODES);
		REQUIRE(!m.local[0] || pve_node_valid(m.local));
		REQUIRE(memchr(m.cluster, '\0', sizeof(m.cluster)));
		for (int i = 0; i < m.nnodes; i++) {
			REQUIRE(pve_node_valid(m.nodes[i].name));
			REQUIRE(m.nodes[i].online >= -1 && m.nodes[i].online <= 1);
		}
	}
	free(text);
	return 0;
}
