/* check_vm_fix.c - what the VM checks' fixes say: a hostpciN value edited (an item dropped or
 * added, its host ids replaced) for a "qm set" line, and the first free hostpci index. */
#define _GNU_SOURCE
#include "check_int.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

/* VALUE (a hostpciN value) with the items whose key is DROP removed and ADD appended; the
 * first item may be a bare host id. The result is valid until the next call. */
const char *hostpci_edit(const char *value, const char *drop, const char *add_item)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	size_t n;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t klen = strcspn(t, "=");

		if (drop && strlen(drop) == klen && !strncmp(t, drop, klen) && t[klen] == '=')
			continue;
		n = strlen(out);
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", t);
	}
	n = strlen(out);
	if (add_item)
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", add_item);
	return out;
}

/* VALUE with its host ids replaced by HOST. */
const char *hostpci_with_host(const char *value, const char *host)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	int i = 0;

	snprintf(out, sizeof(out), "%s", host);
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		size_t n = strlen(out);

		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "host="))
			continue;
		snprintf(out + n, sizeof(out) - n, ",%s", t);
	}
	return out;
}

/* The first hostpci index the VM does not use. */
int hostpci_next_free(const struct pve_vmconf *conf)
{
	for (int n = 0; n < PVE_MAX_HOSTPCI; n++) {
		bool used = false;

		for (int i = 0; i < conf->nhostpci && !used; i++)
			used = conf->hostpci[i].index == n;
		if (!used)
			return n;
	}
	return PVE_MAX_HOSTPCI;
}
