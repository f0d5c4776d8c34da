/* fuzz_vmconf.c - libFuzzer target for Proxmox VM configs and hostpci values (common/pveconf.c)
 * and our state files (common/state.c): no crash, bounded results, and a parsed state file
 * prints back to text that parses to the same state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pveconf.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pve_vmconf c;
	static struct handoff_state s, t;
	char *text, err[256], buf[16384];
	int line, n;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	if (pve_vmconf_parse(text, &c, &line, err, sizeof(err)) == 0 && c.nhostpci > PVE_MAX_HOSTPCI)
		__builtin_trap();
	{
		struct pve_hostpci h;

		if (pve_hostpci_parse(text, &h, err, sizeof(err)) == 0 && h.nids > PVE_MAX_IDS)
			__builtin_trap();
	}
	if (state_parse(text, &s) == 0) {
		n = state_format(&s, buf, sizeof(buf));
		if (n < 0 || state_parse(buf, &t) != 0 || memcmp(&s, &t, sizeof(s)) != 0)
			__builtin_trap();
	}
	free(text);
	return 0;
}
