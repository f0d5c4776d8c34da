/* pciaddr.c - see pciaddr.h. */
#include "pciaddr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Parses exactly N hex digits (N = 0: one or more, at most 8) from *p. */
static int hex_field(const char **p, int n, uint32_t *ret)
{
	uint32_t v = 0;
	int i = 0;

	while (isxdigit((unsigned char)(*p)[i]) && (n == 0 ? i < 9 : i < n)) {
		int c = tolower((unsigned char)(*p)[i]);

		v = v * 16 + (uint32_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
		i++;
	}
	if (i == 0 || (n && i != n) || (n == 0 && i > 8))
		return -EINVAL;
	*p += i;
	*ret = v;
	return 0;
}

int pci_addr_parse_loose(const char *s, struct pci_addr *ret, bool *has_func)
{
	const char *p = s;
	uint32_t a, b, c, f = 0;
	struct pci_addr out = { 0 };
	bool func = false;
	const char *colon1, *colon2;

	if (!s)
		return -EINVAL;
	colon1 = strchr(s, ':');
	colon2 = colon1 ? strchr(colon1 + 1, ':') : NULL;
	if (colon2) {
		/* domain given: 4 or more digits, as Proxmox requires */
		if (colon1 - s < 4 || hex_field(&p, 0, &a) < 0 || *p != ':')
			return -EINVAL;
		p++;
		out.domain = a;
	}
	if (hex_field(&p, 2, &b) < 0 || *p != ':')
		return -EINVAL;
	p++;
	/* Like Proxmox, accept any two hex digits for the slot: an impossible slot simply
	 * matches no device. */
	if (hex_field(&p, 2, &c) < 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (hex_field(&p, 1, &f) < 0 || f > 7)
			return -EINVAL;
		func = true;
	}
	if (*p)
		return -EINVAL;
	out.bus = (uint8_t)b;
	out.slot = (uint8_t)c;
	out.func = (uint8_t)f;
	*ret = out;
	if (has_func)
		*has_func = func;
	return 0;
}

int pci_addr_parse(const char *s, struct pci_addr *ret)
{
	bool func;
	int r;

	if (!s || strlen(s) < 12 || strlen(s) >= PCI_ADDR_LEN)
		return -EINVAL;
	r = pci_addr_parse_loose(s, ret, &func);
	if (r < 0)
		return r;
	return func ? 0 : -EINVAL;
}

void pci_addr_fmt(const struct pci_addr *a, char buf[PCI_ADDR_LEN])
{
	snprintf(buf, PCI_ADDR_LEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->func & 7);
}

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b)
{
	return pci_addr_cmp(a, b) == 0;
}

int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->func != b->func)
		return a->func < b->func ? -1 : 1;
	return 0;
}
