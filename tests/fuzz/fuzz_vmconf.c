/* fuzz_vmconf.c - Proxmox VM configs and hostpci values (common/pve_conf.c): no crash; the
 * live section gives at most hostpci0..15, each index once and in order, every device list
 * bounded and every id a parsed address; an error names its line. */
#include <errno.h>

#include "fuzz.h"
#include "pve_conf.h"

static void check_hostpci(const struct pve_hostpci *h)
{
	REQUIRE(h->nids >= 0 && h->nids <= PVE_MAX_IDS);
	REQUIRE(memchr(h->mapping, '\0', sizeof(h->mapping)) && memchr(h->romfile, '\0', sizeof(h->romfile)));
	REQUIRE(h->mapping[0] ? h->nids == 0 : h->nids > 0);
	for (int i = 0; i < h->nids; i++)
		REQUIRE(h->ids[i].addr.func <= 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_vmconf c;
	static struct pve_hostpci h;
	char *text = fuzz_text(data, size, 65536), err[256];
	int line = -1, r;

	if (!text)
		return 0;
	r = pve_vmconf_parse(text, &c, &line, err, sizeof(err));
	if (r == 0) {
		REQUIRE(c.nhostpci >= 0 && c.nhostpci <= PVE_MAX_HOSTPCI);
		for (int i = 0; i < c.nhostpci; i++) {
			REQUIRE(c.hostpci[i].index >= 0 && c.hostpci[i].index < PVE_MAX_HOSTPCI);
			REQUIRE(i == 0 || c.hostpci[i - 1].index < c.hostpci[i].index);
			check_hostpci(&c.hostpci[i]);
		}
	} else {
		REQUIRE(r == -EINVAL && line >= 1);
	}
	if (pve_hostpci_parse(text, &h, err, sizeof(err)) == 0)
		check_hostpci(&h);
	free(text);
	return 0;
}
