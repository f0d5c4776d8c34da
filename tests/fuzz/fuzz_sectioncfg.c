/* fuzz_sectioncfg.c - the section configs of the cluster (pve_section_walk): HA resources,
 * groups and node-affinity rules (pve_ha_parse) and the vzdump jobs of jobs.cfg
 * (pve_backup_jobs_parse). The input is split at its first two NUL bytes into resources,
 * groups and rules; the whole is also read as jobs.cfg. No crash; what is accepted is
 * bounded and names only valid nodes. */
#include <errno.h>

#include "fuzz.h"
#include "pve_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_ha_vm ha;
	static struct pve_backup_jobs jobs;
	char *text = fuzz_text(data, size, PVE_SECTION_CFG_MAX), *groups = NULL, *rules = NULL;
	size_t n;
	int r;

	if (!text)
		return 0;
	n = strlen(text);
	if (n < size) {
		groups = text + n + 1;
		n = strlen(groups);
		if (groups + n < text + size)
			rules = groups + n + 1;
	}
	r = pve_ha_parse(text, groups, rules, 100, &ha);
	REQUIRE(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r == 0) {
		char copy[sizeof(ha.nodes)], *save = NULL;

		REQUIRE(memchr(ha.nodes, '\0', sizeof(ha.nodes)) && memchr(ha.from, '\0', sizeof(ha.from)));
		memcpy(copy, ha.nodes, sizeof(copy));
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			REQUIRE(pve_node_valid(w));
	}
	r = pve_backup_jobs_parse(text, 100, "pve1", &jobs);
	REQUIRE(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r == 0) {
		REQUIRE(jobs.n >= 0 && jobs.n <= PVE_MAX_JOBS);
		for (int i = 0; i < jobs.n; i++)
			REQUIRE(memchr(jobs.jobs[i].id, '\0', sizeof(jobs.jobs[i].id)) &&
				memchr(jobs.jobs[i].pool, '\0', sizeof(jobs.jobs[i].pool)) &&
				memchr(jobs.jobs[i].schedule, '\0', sizeof(jobs.jobs[i].schedule)));
	}
	free(text);
	return 0;
}
