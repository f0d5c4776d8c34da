/* fuzz_state.c - our state files (common/dev_state.c), the file post-stop acts on: no crash;
 * whatever parses names only what may reach a sysfs path (canonical PCI addresses, driver and
 * framebuffer names of one path component, reset_method words, nothing twice); it prints back to text that parses
 * to the same state. */
#include "fuzz.h"
#include "pciaddr.h"
#include "dev_state.h"
#include "util.h"

static void check_names(const struct handoff_state *s)
{
	REQUIRE(s->ndevs >= 0 && s->ndevs <= STATE_MAX_DEVS);
	REQUIRE(s->nfbs >= 0 && s->nfbs <= STATE_MAX_CONS);
	REQUIRE(s->nvtcons >= 0 && s->nvtcons <= STATE_MAX_CONS);
	for (int i = 0; i < s->ndevs; i++) {
		const struct state_dev *d = &s->devs[i];
		struct pci_addr a;
		char back[PCI_ADDR_LEN];

		REQUIRE(pci_addr_parse(d->name, &a) == 0);
		pci_addr_fmt(&a, back);
		REQUIRE(strcmp(back, d->name) == 0);
		REQUIRE(!d->driver[0] || kernel_name_valid(d->driver));
		REQUIRE(!d->override[0] || kernel_name_valid(d->override));
		for (int k = 0; k < i; k++)
			REQUIRE(strcmp(s->devs[k].name, d->name) != 0);
	}
	for (int i = 0; i < s->nfbs; i++) {
		REQUIRE(kernel_name_valid(s->fbs[i]) && kernel_name_valid(s->fb_drivers[i]));
		REQUIRE(!strchr(s->fbs[i], '/') && !strchr(s->fb_drivers[i], '/'));
		for (int k = 0; k < i; k++)
			REQUIRE(strcmp(s->fbs[k], s->fbs[i]) != 0);
	}
	for (int i = 0; i < s->nvtcons; i++)
		REQUIRE(s->vtcons[i] >= 0 && s->vtcons[i] <= 63);
	/* reset_method values written back at post-stop: a canonical device named once, and
	 * only lower-case method words with single spaces between them */
	REQUIRE(s->nresets >= 0 && s->nresets <= STATE_MAX_DEVS);
	for (int i = 0; i < s->nresets; i++) {
		const char *m = s->resets[i].method;
		struct pci_addr a;
		char back[PCI_ADDR_LEN];

		REQUIRE(pci_addr_parse(s->resets[i].name, &a) == 0);
		pci_addr_fmt(&a, back);
		REQUIRE(strcmp(back, s->resets[i].name) == 0);
		for (int k = 0; k < i; k++)
			REQUIRE(strcmp(s->resets[k].name, s->resets[i].name) != 0);
		for (size_t k = 0; m[k]; k++)
			REQUIRE((m[k] >= 'a' && m[k] <= 'z') || m[k] == '_' ||
				(m[k] == ' ' && k > 0 && m[k + 1] && m[k + 1] != ' '));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct handoff_state s, t;
	static char buf[16384];
	char *text = fuzz_text(data, size, 65536);
	int n;

	if (!text)
		return 0;
	if (state_parse(text, &s) == 0) {
		check_names(&s);
		n = state_format(&s, buf, sizeof(buf));
		REQUIRE(n > 0);
		REQUIRE(state_parse(buf, &t) == 0);
		REQUIRE(memcmp(&s, &t, sizeof(s)) == 0);
	}
	free(text);
	return 0;
}
