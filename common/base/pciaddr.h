/* pciaddr.h - PCI addresses ("0000:02:00.0") parsed strictly and printed canonically. */
#ifndef PGP_PCIADDR_H
#define PGP_PCIADDR_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_ADDR_LEN 17 /* "dddddddd:bb:ss.f" (an 8-digit VMD domain at most) + NUL */

struct pci_addr {
	uint32_t domain; /* 16 bits usually; VMD domains are longer ("10000:e0:06.0") */
	uint8_t bus, slot, func;
};

/* Parses a full address "dddd:bb:ss.f" (the form sysfs uses); hex of either case. */
int pci_addr_parse(const char *s, struct pci_addr *ret);
/* Parses "[dddd:]bb:ss[.f]" as users write it; *has_func tells whether .f was given.
 * A missing domain is 0. */
int pci_addr_parse_loose(const char *s, struct pci_addr *ret, bool *has_func);
/* Writes the canonical lower-case form into buf (PCI_ADDR_LEN bytes at least). */
void pci_addr_fmt(const struct pci_addr *a, char buf[PCI_ADDR_LEN]);
bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b);
int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b);

#endif
