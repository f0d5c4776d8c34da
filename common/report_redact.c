/* report_redact.c - what keeps private values out of a report: the pseudonym tables (node
 * names, MAC addresses) and the filter of each captured file (see report_int.h). */
#define _GNU_SOURCE
#include "report_int.h"

#include <ctype.h>
#include <stdint.h>

#include "host_info.h"
#include "util.h"

static bool point_public(const char *point, const char *type, const char *src);
static void add_path(struct rctx *c, struct sbuf *b, const char *path);

enum pseudo { PSEUDO_NODE, PSEUDO_MAC, PSEUDO_PATH };

/* The pseudonym of NAME in table T, in order of appearance: for node names "pve" (this host),
 * then node2, node3, ...; for MAC addresses 02:00:00:00:00:01, ...; for paths /redacted/1, ...
 * NULL when out of memory. */
static const char *pseudonym(struct rctx *c, struct names *t, const char *name, enum pseudo kind)
{
	char buf[64];
	char **nf, **nt;
	int k = t->n + 1;

	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->from[i], name))
			return t->to[i];
	nf = realloc(t->from, (size_t)(t->n + 1) * sizeof(*nf));
	if (nf)
		t->from = nf;
	nt = realloc(t->to, (size_t)(t->n + 1) * sizeof(*nt));
	if (nt)
		t->to = nt;
	if (!nf || !nt) {
		c->oom = true;
		return NULL;
	}
	if (kind == PSEUDO_MAC)
		snprintf(buf, sizeof(buf), "02:00:00:%02x:%02x:%02x", (k >> 16) & 0xff, (k >> 8) & 0xff,
			 k & 0xff);
	else if (kind == PSEUDO_PATH)
		snprintf(buf, sizeof(buf), "/redacted/%d", k);
	else if (k == 1)
		snprintf(buf, sizeof(buf), "pve");
	else
		snprintf(buf, sizeof(buf), "node%d", k);
	t->from[t->n] = strdup(name);
	t->to[t->n] = strdup(buf);
	if (!t->from[t->n] || !t->to[t->n]) {
		free(t->from[t->n]);
		free(t->to[t->n]);
		c->oom = true;
		return NULL;
	}
	return t->to[t->n++];
}

void report_names_free(struct names *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->from[i]);
		free(t->to[i]);
	}
	free(t->from);
	free(t->to);
}

const char *report_node_name(struct rctx *c, const char *name)
{
	return pseudonym(c, &c->nodes, name, PSEUDO_NODE);
}

static bool is_hex(char ch)
{
	return isxdigit((unsigned char)ch) != 0;
}

/* MAC addresses (six colon-separated hex pairs standing alone) in TEXT, replaced in place by
 * their pseudonyms 02:00:00:00:00:NN (same length, locally administered). */
void report_redact_macs(struct rctx *c, char *text, size_t len)
{
	for (size_t i = 0; i + 17 <= len; i++) {
		bool mac = (i == 0 || (!is_hex(text[i - 1]) && text[i - 1] != ':')) &&
			   (i + 17 == len || (!is_hex(text[i + 17]) && text[i + 17] != ':'));
		char name[18];
		const char *p;

		for (int k = 0; k < 17 && mac; k++)
			mac = k % 3 == 2 ? text[i + k] == ':' : is_hex(text[i + k]);
		if (!mac)
			continue;
		memcpy(name, text + i, 17);
		name[17] = '\0';
		for (char *q = name; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		p = pseudonym(c, &c->macs, name, PSEUDO_MAC);
		if (!p)
			return;
		memcpy(text + i, p, 17);
		i += 16;
	}
}


/* mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS] - TYPE SOURCE SOPTS", of which host_dev.c
 * reads MAJ:MIN, POINT, TYPE and SOURCE. Options are dropped; a SOURCE that is neither a /dev
 * path nor a ZFS dataset (NFS and CIFS servers, fuse) becomes "none"; a POINT the admin named
 * becomes /redacted/N (point_public). */
char *report_filter_mountinfo(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		char buf[8192], *f[6], *save = NULL, *t, *type, *src;
		int i = 0;

		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (t = strtok_r(buf, " ", &save); t && i < 6; t = strtok_r(NULL, " ", &save))
			f[i++] = t;
		while (t && strcmp(t, "-") != 0)
			t = strtok_r(NULL, " ", &save);
		type = t ? strtok_r(NULL, " ", &save) : NULL;
		src = type ? strtok_r(NULL, " ", &save) : NULL;
		if (i < 6 || !src)
			continue;
		if (!str_has_prefix(src, "/dev/") && strcmp(type, "zfs") != 0)
			src = "none";
		sb_str(&b, f[0]);
		sb_str(&b, " ");
		sb_str(&b, f[1]);
		sb_str(&b, " ");
		sb_str(&b, f[2]);
		sb_str(&b, " / ");
		if (point_public(f[4], type, src))
			sb_str(&b, f[4]);
		else
			add_path(c, &b, f[4]);
		sb_str(&b, " rw - ");
		sb_str(&b, type);
		sb_str(&b, " ");
		sb_str(&b, src);
		sb_str(&b, " rw\n");
	}
	return sb_done(&b);
}

/* /proc/net/route: the header and the default routes (all host_dev.c looks for), gateway
 * zeroed. */
char *report_filter_route(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };
	bool first = true;

	FOR_LINES(text, line, len, nl) {
		char buf[512], *col[16], *save = NULL;
		int n = 0;

		if (first) {
			sb_add(&b, line, len + (nl ? 1 : 0));
			first = false;
			continue;
		}
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (char *t = strtok_r(buf, "\t", &save); t && n < 16; t = strtok_r(NULL, "\t", &save))
			col[n++] = t;
		if (n < 8 || strtoul(col[1], NULL, 16) != 0 || strtoul(col[7], NULL, 16) != 0)
			continue;
		col[2] = "00000000";
		for (int i = 0; i < n; i++) {
			sb_str(&b, col[i]);
			sb_str(&b, i + 1 < n ? "\t" : "\n");
		}
	}
	return sb_done(&b);
}

/* /proc/net/ipv6_route: default routes only (a prefix would name the site), source and next
 * hop zeroed. Fields: dest plen src splen nexthop metric refcnt use flags iface. */
char *report_filter_route6(struct rctx *c, const char *text)
{
	static const char zero[] = "00000000000000000000000000000000";
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		char buf[512], *col[12], *save = NULL;
		int n = 0;

		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (char *t = strtok_r(buf, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
			col[n++] = t;
		if (n < 10 || strspn(col[0], "0") != strlen(col[0]) || strcmp(col[1], "00") != 0)
			continue;
		col[2] = (char *)zero;
		col[4] = (char *)zero;
		for (int i = 0; i < n; i++) {
			sb_str(&b, col[i]);
			sb_str(&b, i + 1 < n ? " " : "\n");
		}
	}
	return sb_done(&b);
}

/* /proc/cpuinfo: the first processor (host_info.c reads no further). */
char *report_filter_cpuinfo(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		sb_add(&b, line, len + (nl ? 1 : 0));
		if (len == 0)
			break;
	}
	return sb_done(&b);
}

/* /proc/interrupts, summed over the CPUs: "CPU0" and one count per line, the rest (irq chip,
 * hardware irq, names, which host_info.c searches for " IR-") as it is. */
char *report_filter_interrupts(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };
	bool first = true;
	int ncpu = 0;

	FOR_LINES(text, line, len, nl) {
		char buf[16];
		const char *p = line, *end = line + len;
		unsigned long long sum = 0;

		if (first) {
			for (const char *q = line; q < end; q++)
				if (!strncmp(q, "CPU", 3) && (q == line || q[-1] == ' '))
					ncpu++;
			sb_str(&b, "           CPU0\n");
			first = false;
			continue;
		}
		while (p < end && *p == ' ')
			p++;
		p += strcspn(p, ":");
		if (p >= end) {
			sb_add(&b, line, len + (nl ? 1 : 0));
			continue;
		}
		sb_add(&b, line, (size_t)(p + 1 - line));
		p++;
		for (int i = 0; i < ncpu && p < end; i++) {
			char *e;
			unsigned long long v;

			while (p < end && *p == ' ')
				p++;
			if (p >= end || !isdigit((unsigned char)*p))
				break;
			v = strtoull(p, &e, 10);
			sum += v;
			p = e;
		}
		snprintf(buf, sizeof(buf), " %10llu", sum);
		sb_str(&b, buf);
		sb_add(&b, p, (size_t)(end - p));
		if (nl)
			sb_str(&b, "\n");
	}
	return sb_done(&b);
}

/* True when the N bytes at S are one of the COUNT words of LIST. */
static bool one_of(const char *const *list, size_t count, const char *s, size_t n)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && !strncmp(list[i], s, n))
			return true;
	return false;
}

static bool key_allowed(const char *key, size_t n)
{
	/* What pve_conf.c reads, and what the issue's checks name; nothing else of a VM config. */
	static const char *const keys[] = { "machine", "bios", "cpu", "memory", "ostype", "vga",
					    "hookscript", "lock", "template", "onboot",
					    "reboot" };

	if (n > 7 && !strncmp(key, "hostpci", 7) && strspn(key + 7, "0123456789") == n - 7)
		return true;
	return one_of(keys, ARRAY_SIZE(keys), key, n);
}

/* A VM config: the live section's allowed keys, line for line; "args: yes" when it has args.
 * Comments (the description), snapshots and every other key are dropped. */
char *report_filter_vmconf(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		const char *p = line;
		size_t k;

		while (p < line + len && (*p == ' ' || *p == '\t'))
			p++;
		if (*p == '[')
			break;
		k = 0;
		while (p + k < line + len && (islower((unsigned char)p[k]) || p[k] == '_' ||
					      p[k] == '-' || isdigit((unsigned char)p[k])))
			k++;
		if (p + k >= line + len || p[k] != ':')
			continue;
		if (k == 4 && !strncmp(p, "args", 4)) {
			sb_str(&b, "args: yes\n");
			continue;
		}
		if (!key_allowed(p, k) || len > 4000)
			continue;
		sb_add(&b, line, len);
		sb_str(&b, "\n");
	}
	return sb_done(&b);
}

char *report_filter_lxc(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	(void)c;
	FOR_LINES(text, line, len, nl) {
		if (len && *line == '[')
			break;
		if (len > 1000 || !((len > 4 && !strncmp(line, "dev", 3) && isdigit((unsigned char)line[3])) ||
				    (len > 22 && !strncmp(line, "lxc.mount.entry: /dev/", 22)) ||
				    (len > 25 && !strncmp(line, "lxc.cgroup.devices.allow:", 25)) ||
				    (len > 26 && !strncmp(line, "lxc.cgroup2.devices.allow:", 26)))) {
			sb_str(&b, "\n"); /* an empty line: check's line numbers stay right */
			continue;
		}
		sb_add(&b, line, len);
		sb_str(&b, "\n");
	}
	return sb_done(&b);
}

/* Node names in a comma or blank separated LIST, replaced. */
static void add_nodes(struct rctx *c, struct sbuf *b, const char *list, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t w = 0;
		char name[128];
		const char *p;

		while (i < len && (list[i] == ',' || list[i] == ' ' || list[i] == ';')) {
			sb_add(b, list + i, 1);
			i++;
		}
		while (i + w < len && list[i + w] != ',' && list[i + w] != ' ' && list[i + w] != ';')
			w++;
		if (!w)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)w, list + i);
		p = report_node_name(c, name);
		sb_str(b, p ? p : "node");
		i += w;
	}
}

/* storage.cfg: section headers ("TYPE: ID") and the properties pve_storage.c reads; servers,
 * users, exports, pools and the rest are dropped; node names replaced. */
char *report_filter_storage(struct rctx *c, const char *text)
{
	static const char *const keys[] = { "path", "content", "shared", "disable", "content-dirs" };
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t ind = strspn(line, " \t"), k;
		const char *key = line + ind;

		if (ind >= len) {
			sb_str(&b, "\n");
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!ind) {
			sb_add(&b, line, len);
			sb_str(&b, "\n");
			continue;
		}
		k = strcspn(key, " \t\n");
		if (k == 5 && !strncmp(key, "nodes", 5)) {
			sb_add(&b, line, ind + k);
			sb_add(&b, key + k, strspn(key + k, " \t"));
			add_nodes(c, &b, key + k + strspn(key + k, " \t"),
				  len - ind - k - strspn(key + k, " \t"));
			sb_str(&b, "\n");
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (strlen(keys[i]) == k && !strncmp(keys[i], key, k)) {
				sb_add(&b, line, len);
				sb_str(&b, "\n");
				break;
			}
	}
	return sb_done(&b);
}

/* mapping/pci.cfg: mapping names and their "map" entries, node names replaced; descriptions
 * and comments dropped. A dropped line leaves an empty comment in its place (indented inside a
 * section, so the section goes on), so check's "line N" fixes name the same lines. */
char *report_filter_mapping(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t ind = strspn(line, " \t");
		const char *t = line + ind;

		if (!ind) {
			if (len && line[0] != '#')
				sb_add(&b, line, len);
			else if (len)
				sb_str(&b, "#");
			sb_str(&b, "\n");
			continue;
		}
		if (ind >= len || strncmp(t, "map", 3) != 0 || (t[3] != ' ' && t[3] != '\t')) {
			sb_str(&b, "\t#\n");
			continue;
		}
		sb_add(&b, line, (size_t)(t + 3 - line));
		for (const char *p = t + 3, *end = line + len; p < end;) {
			size_t w = strcspn(p, ",\n");

			if (p + w > end)
				w = (size_t)(end - p);
			if (w > 5 && !strncmp(p + strspn(p, " \t"), "node=", 5)) {
				size_t lead = strspn(p, " \t");

				sb_add(&b, p, lead + 5);
				add_nodes(c, &b, p + lead + 5, w - lead - 5);
			} else {
				sb_add(&b, p, w);
			}
			p += w;
			if (p < end && *p == ',') {
				sb_str(&b, ",");
				p++;
			}
		}
		sb_str(&b, "\n");
	}
	return sb_done(&b);
}

/* NVIDIA's per-GPU information: only the device minor (dev_handoff.c); the UUID and serial
 * stay out. */
char *report_filter_nvidia(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl)
		if (str_has_prefix(line, "Device Minor:")) {
			sb_add(&b, line, len);
			sb_str(&b, "\n");
		}
	return sb_done(&b);
}

/* udev data of a block device: only what host_dev.c looks for (S: lines name serials). */
char *report_filter_udev(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl)
		if (str_has_prefix(line, "E:ID_FS_TYPE=") || str_has_prefix(line, "E:ID_FS_LABEL="))
			sb_add(&b, line, len + (nl ? 1 : 0));
	return sb_done(&b);
}


/* --- command lines, boot loader files, modprobe.d ------------------------------------------ */

/* strcspn within the N bytes at P. */
static size_t span_not(const char *p, size_t n, const char *reject)
{
	size_t i = 0;

	while (i < n && !strchr(reject, p[i]))
		i++;
	return i;
}

/* The hex digits, colons and dots at P (an IPv6 address), within N bytes. */
static size_t span_hex(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (isxdigit((unsigned char)p[i]) || p[i] == ':' || p[i] == '.'))
		i++;
	return i;
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '-';
}

/* Length of a dotted IPv4 address at P (four numbers of 1-3 digits), 0 when there is none. */
static size_t ipv4_at(const char *p, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t d = 0;

		if (part && (i >= n || p[i++] != '.'))
			return 0;
		while (i < n && d < 4 && isdigit((unsigned char)p[i]))
			i++, d++;
		if (!d || d > 3)
			return 0;
	}
	return i < n && (isdigit((unsigned char)p[i]) || p[i] == '.') ? 0 : i;
}

/* Length of an unbracketed IPv6 address at P (netconsole=@2001:db8::5/vmbr0), 0 when there is
 * none: hex groups of at most four digits joined by colons, with "::" or eight groups, and an
 * IPv4 tail allowed ("::ffff:192.0.2.1"). PCI addresses (0000:02:00.0), MAC addresses and
 * vendor:device ids have neither, and are kept. */
static size_t ipv6_at(const char *p, size_t n)
{
	size_t i = 0, colons = 0, digits = 0, k;
	bool dbl = false;

	while (i < n) {
		if (p[i] == ':') {
			if (i + 1 < n && p[i + 1] == ':') {
				if (dbl)
					return 0;
				dbl = true;
				colons++;
				i++;
			}
			colons++;
			digits = 0;
		} else if (isxdigit((unsigned char)p[i])) {
			if (++digits > 4)
				return 0;
		} else {
			break;
		}
		i++;
	}
	if (colons < 2 || (!dbl && colons != 7))
		return 0;
	if (i < n && p[i] == '.' && digits) { /* the IPv4 tail began with the last group */
		size_t back = digits;

		if ((k = ipv4_at(p + i - back, n - i + back)) == 0)
			return 0;
		i = i - back + k;
	}
	return i < n && (name_char(p[i]) || p[i] == '.') ? 0 : i;
}

/* Length of this host's name at P, with the domain that follows it ("zeus" or
 * "zeus.example.com"), 0 when it is not there. WHOLE: the bare name counts only when it is all
 * of P (a value "hostname=zeus"); a name followed by a domain counts anywhere. */
static size_t host_at(const struct rctx *c, const char *p, size_t n, bool whole)
{
	const char *host = c->nodes.n ? c->nodes.from[0] : NULL;
	size_t h = host ? strlen(host) : 0, i;

	if (!h || n < h || strncasecmp(p, host, h) != 0 || (h < n && name_char(p[h])))
		return 0;
	i = h;
	while (i + 1 < n && p[i] == '.' && name_char(p[i + 1])) {
		i++;
		while (i < n && name_char(p[i]))
			i++;
	}
	return i > h || (whole && h == n) ? i : 0;
}

/* Appends the N bytes at P with IPv4 addresses zeroed, IPv6 addresses emptied and
 * this host's name (with its domain) replaced by its pseudonym. */
static void add_scrubbed(struct rctx *c, struct sbuf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		bool start = i == 0 || !(name_char(p[i - 1]) || p[i - 1] == '.');
		size_t k;

		if (start && (k = ipv4_at(p + i, n - i))) {
			sb_str(b, "0.0.0.0");
			i += k;
		} else if (p[i] == '[' && (k = span_hex(p + i + 1, n - i - 1)) > 1 && i + 1 + k < n &&
			   p[i + 1 + k] == ']' && memchr(p + i + 1, ':', k)) {
			sb_str(b, "[::]");
			i += k + 2;
		} else if (start && p[i] != '[' && (k = ipv6_at(p + i, n - i))) {
			sb_str(b, "::");
			i += k;
		} else if (start && (k = host_at(c, p + i, n - i, false))) {
			const char *pseudo = report_node_name(c, c->nodes.from[0]);

			sb_str(b, pseudo ? pseudo : "pve");
			i += k;
		} else {
			sb_add(b, p + i, 1);
			i++;
		}
	}
}

static bool key_is(const char *t, size_t keylen, const char *key)
{
	return cmdline_key_eq(t, keylen, key, strlen(key));
}

/* ip= (the kernel's and dracut's nfsaddrs form): CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:
 * AUTOCONF:DNS0:DNS1:NTP. Addresses are zeroed, the host name replaced by a node pseudonym;
 * dracut's IFACE:METHOD[:MTU[:MAC]] form keeps its interface and method. */
static void add_ip_value(struct rctx *c, struct sbuf *b, const char *v, size_t n)
{
	bool kernel_form = !n || v[0] == ':' || v[0] == '[' || ipv4_at(v, span_not(v, n, ":")) > 0;
	int field = 0;

	for (size_t i = 0; i <= n;) {
		size_t w = 0;

		if (i < n && v[i] == '[') /* a bracketed IPv6 address holds colons */
			w = span_not(v + i, n - i, "]") + 1;
		if (i + w > n)
			w = n - i;
		w += span_not(v + i + w, n - i - w, ":");
		if (kernel_form && field == 4 && w) {
			char name[128];
			const char *pseudo;

			snprintf(name, sizeof(name), "%.*s", (int)span_not(v + i, w, "."), v + i);
			pseudo = report_node_name(c, name);
			sb_str(b, pseudo ? pseudo : "node");
		} else {
			add_scrubbed(c, b, v + i, w);
		}
		i += w;
		if (i >= n)
			break;
		sb_str(b, ":");
		i++;
		field++;
	}
}

/* One word of a command line or boot loader file (KEY=VALUE or a bare word), redacted. */
static void add_word(struct rctx *c, struct sbuf *b, const char *t, size_t n)
{
	size_t keylen = span_not(t, n, "=");
	const char *v = t + keylen + 1;
	size_t vn = keylen < n ? n - keylen - 1 : 0;
	char mac[18];

	if (keylen >= n) {
		add_scrubbed(c, b, t, n);
		return;
	}
	sb_add(b, t, keylen + 1);
	if (key_is(t, keylen, "ip") || key_is(t, keylen, "nfsaddrs")) {
		add_ip_value(c, b, v, vn);
	} else if (key_is(t, keylen, "nfsroot")) {
		sb_str(b, "none"); /* as mountinfo's network sources */
	} else if (key_is(t, keylen, "hostname") || key_is(t, keylen, "systemd.hostname")) {
		char name[128];
		const char *pseudo;

		snprintf(name, sizeof(name), "%.*s", (int)span_not(v, vn, "."), v);
		pseudo = report_node_name(c, name);
		sb_str(b, pseudo ? pseudo : "node");
	} else if (key_is(t, keylen, "BOOTIF") && vn == 20 && v[2] == '-') {
		/* BOOTIF=01-aa-bb-cc-dd-ee-ff: hardware type, then the MAC address with dashes */
		for (int i = 0; i < 17; i++)
			mac[i] = v[3 + i] == '-' ? ':' : v[3 + i];
		mac[17] = '\0';
		report_redact_macs(c, mac, 17);
		for (int i = 0; i < 17; i++)
			mac[i] = mac[i] == ':' ? '-' : mac[i];
		sb_add(b, v, 3);
		sb_add(b, mac, 17);
	} else if (key_is(t, keylen, "BOOT_IMAGE") || key_is(t, keylen, "initrd")) {
		sb_add(b, v, vn); /* a kernel's file name: its version is no address */
	} else if (vn && host_at(c, v, vn, true) == vn) {
		const char *pseudo = report_node_name(c, c->nodes.from[0]);

		sb_str(b, pseudo ? pseudo : "pve");
	} else {
		add_scrubbed(c, b, v, vn);
	}
}

/* Every word of TEXT (words end at blanks and quotes) through add_word. */
static void add_words(struct rctx *c, struct sbuf *b, const char *text, size_t len)
{
	static const char delim[] = " \t\n\"'";

	for (size_t i = 0; i < len;) {
		size_t d = 0, w = 0;

		while (i + d < len && strchr(delim, text[i + d]))
			d++;
		sb_add(b, text + i, d);
		i += d;
		while (i + w < len && !strchr(delim, text[i + w]))
			w++;
		if (w)
			add_word(c, b, text + i, w);
		i += w;
	}
}

/* /proc/cmdline, /etc/kernel/cmdline, /etc/default/grub and grub.d: addresses (ip=, nfsroot=,
 * any IPv4 or IPv6 address) zeroed, this host's name with its domain and the
 * hostname= values replaced as node names are, BOOTIF's MAC address pseudonymised. The
 * parameters the checks read (iommu, vfio-pci.ids, video=, ...) stay as they are. */
char *report_filter_cmdline(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	add_words(c, &b, text, strlen(text));
	return sb_done(&b);
}

/* The install and remove commands modprobe.d may hold that are kept as they are: the ways to
 * keep a module from loading. */
static bool harmless_command(const char *cmd, size_t n)
{
	static const char *const keep[] = { "/bin/true", "/bin/false", "/usr/bin/true",
					    "/usr/bin/false", "true", "false" };

	while (n && (cmd[n - 1] == ' ' || cmd[n - 1] == '\t'))
		n--;
	return one_of(keep, ARRAY_SIZE(keep), cmd, n);
}

/* /etc/modprobe.d: words redacted as on the command line; an install or remove command (a
 * shell command line that may name anything) becomes /bin/true unless it only says no. */
char *report_filter_modprobe(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t ind = strspn(line, " \t"), k = strcspn(line + ind, " \t\n");
		const char *w2 = line + ind + k, *cmd;

		if ((k == 7 && !strncmp(line + ind, "install", 7)) ||
		    (k == 6 && !strncmp(line + ind, "remove", 6))) {
			w2 += strspn(w2, " \t");
			cmd = w2 + strcspn(w2, " \t\n");
			cmd += strspn(cmd, " \t");
			if (cmd < line + len && !harmless_command(cmd, (size_t)(line + len - cmd))) {
				add_words(c, &b, line, (size_t)(cmd - line));
				sb_str(&b, "/bin/true");
				if (nl)
					sb_str(&b, "\n");
				continue;
			}
		}
		add_words(c, &b, line, len + (nl ? 1 : 0));
	}
	return sb_done(&b);
}

/* Mount points that name nothing of the admin's: the system's own and Proxmox's. */
static bool point_public(const char *point, const char *type, const char *src)
{
	static const char *const fixed[] = { "/", "/boot", "/boot/efi", "/efi", "/home", "/tmp",
					     "/usr", "/opt", "/srv", "/var", "/var/lib/vz",
					     "/var/log", "/var/tmp", "/etc/pve", "/proc", "/sys",
					     "/dev", "/run" };
	static const char *const below[] = { "/proc/", "/sys/", "/dev/", "/run/" };

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (!strcmp(point, fixed[i]))
			return true;
	if (str_has_any_prefix(point, below, ARRAY_SIZE(below)))
		return true;
	/* a storage's own mount (its id is in storage.cfg already) */
	if (str_has_prefix(point, "/mnt/pve/") && point[9] && !strchr(point + 9, '/'))
		return true;
	/* a ZFS dataset at its default place (the dataset's name is its source) */
	return !strcmp(type, "zfs") && point[0] == '/' && !strcmp(point + 1, src);
}

/* A mount point or swap file the admin named, replaced by /redacted/N (the same path the same
 * pseudonym everywhere in the report). */
static void add_path(struct rctx *c, struct sbuf *b, const char *path)
{
	const char *p = pseudonym(c, &c->paths, path, PSEUDO_PATH);

	sb_str(b, p ? p : "/redacted/0");
}

/* /proc/swaps: a swap file's name (not a /dev path) replaced as mount points are. */
char *report_filter_swaps(struct rctx *c, const char *text)
{
	struct sbuf b = { 0 };

	FOR_LINES(text, line, len, nl) {
		size_t k = strcspn(line, " \t\n");
		char name[4096];

		if (line[0] != '/' || str_has_prefix(line, "/dev/") || k >= sizeof(name)) {
			sb_add(&b, line, len + (nl ? 1 : 0));
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)k, line);
		add_path(c, &b, name);
		sb_add(&b, line + k, len - k + (nl ? 1 : 0));
	}
	return sb_done(&b);
}
