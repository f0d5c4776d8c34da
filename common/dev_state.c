/* dev_state.c - see dev_state.h. Format, one record a line:
 *   pve-gpu-passthrough-state 1
 *   vmid 100
 *   device 0000:01:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0
 *   vtcon 1
 *   fb efi-framebuffer.0 efi-framebuffer
 *   con2fb 0000:01:00.0 7fffffffffffffff   (consoles moved off that card: bit N-1 is ttyN)
 *   vgacon 0000:01:00.0                    (its VGA text console went with vfio-pci)
 *   reset 0000:01:00.0 flr,bus       (reset_method as it was, words joined by ',')
 *   persistenced 1                   (nvidia-persistenced was stopped)
 *   rec KEY VALUE                    (a keyed record of a handoff step: dev_state.h)
 *   stuck 0000:01:00.0 1234 5678     (an unbind of that device never returned, after its
 *                                     device line: the pid left blocked in it and that
 *                                     process's start time, or 0 0)
 *   target 0000:01:00.0 xe_vfio_pci   (the variant VFIO driver it went to, after its device
 *                                     line; none: vfio-pci, as every file before it had)
 * "-" stands for an empty value. The parser is strict: the file is ours, but /run is shared
 * with everything running as root, so anything unexpected is an error, never a guess.
 * Every name read back becomes part of a sysfs path or a value written there, so each is
 * checked against what such a name can be (kernel_name_valid, a canonical PCI address), and
 * a device named twice is an error (release would lock against itself). */
#define _GNU_SOURCE
#include "dev_state.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "pve_conf.h"
#include "util.h"

#define STATE_MAX_BYTES 16384

static const char *dash(const char *s)
{
	return *s ? s : "-";
}

int state_format(const struct handoff_state *s, char *buf, size_t size)
{
	size_t off = 0;
	int n;

#define OUT(...)                                                              \
	do {                                                                  \
		n = snprintf(buf + off, size - off, __VA_ARGS__);             \
		if (n < 0 || (size_t)n >= size - off)                         \
			return -ENOSPC;                                       \
		off += (size_t)n;                                             \
	} while (0)
	OUT("pve-gpu-passthrough-state 1\nvmid %d\n", s->vmid);
	for (int i = 0; i < s->ndevs; i++) {
		const struct state_dev *d = &s->devs[i];

		OUT("device %s group %d id %04x:%04x driver %s override %s vfio %d\n", d->name,
		    d->group, d->vendor, d->device, dash(d->driver), dash(d->override), d->was_vfio);
	}
	for (int i = 0; i < s->ndevs; i++)
		if (s->devs[i].target[0])
			OUT("target %s %s\n", s->devs[i].name, s->devs[i].target);
	for (int i = 0; i < s->ndevs; i++)
		if (s->devs[i].stuck)
			OUT("stuck %s %d %llu\n", s->devs[i].name, s->devs[i].stuck_pid,
			    s->devs[i].stuck_start);
	for (int i = 0; i < s->nvtcons; i++)
		OUT("vtcon %d\n", s->vtcons[i]);
	for (int i = 0; i < s->nfbs; i++)
		OUT("fb %s %s\n", s->fbs[i], s->fb_drivers[i]);
	if (s->con_mask)
		OUT("con2fb %s %llx\n", s->con_home, (unsigned long long)s->con_mask);
	if (s->vgacon[0])
		OUT("vgacon %s\n", s->vgacon);
	for (int i = 0; i < s->nresets; i++) {
		char m[sizeof(s->resets[0].method)];

		snprintf(m, sizeof(m), "%s", dash(s->resets[i].method));
		for (char *c = m; *c; c++)
			if (*c == ' ')
				*c = ',';
		OUT("reset %s %s\n", s->resets[i].name, m);
	}
	if (s->persistenced)
		OUT("persistenced 1\n");
	for (int i = 0; i < s->nrecs; i++)
		OUT("rec %s %s\n", s->recs[i].key, s->recs[i].value);
#undef OUT
	return (int)off;
}

/* A word of the record: printable, no spaces, bounded. */
static int word(char **p, char *out, size_t size)
{
	char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	while (s[n] && s[n] != ' ') {
		if (!isgraph((unsigned char)s[n]))
			return -EINVAL;
		n++;
	}
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return 0;
}

/* A device name as sysfs spells it: a full PCI address in canonical (lower-case) form. */
static bool canonical_pci(const char *s)
{
	char back[PCI_ADDR_LEN];
	struct pci_addr a;

	if (pci_addr_parse(s, &a) < 0)
		return false;
	pci_addr_fmt(&a, back);
	return strcmp(back, s) == 0;
}

static int word_num(char **p, unsigned long max, unsigned long *ret)
{
	char w[24];

	if (word(p, w, sizeof(w)) < 0)
		return -EINVAL;
	return parse_ulong(w, 10, max, ret);
}

static int expect(char **p, const char *kw)
{
	char w[24];

	return word(p, w, sizeof(w)) == 0 && !strcmp(w, kw) ? 0 : -EINVAL;
}

static int undash(char *s)
{
	if (!strcmp(s, "-"))
		s[0] = '\0';
	return 0;
}

static int parse_device(char *p, struct state_dev *d)
{
	char id[16], vs[8], ds[8];
	unsigned long g, v, dv, vf;

	memset(d, 0, sizeof(*d));
	if (word(&p, d->name, sizeof(d->name)) < 0 || !canonical_pci(d->name))
		return -EINVAL;
	if (expect(&p, "group") < 0 || word_num(&p, 1000000, &g) < 0 || expect(&p, "id") < 0 ||
	    word(&p, id, sizeof(id)) < 0 || strlen(id) != 9 || id[4] != ':')
		return -EINVAL;
	memcpy(vs, id, 4);
	vs[4] = '\0';
	memcpy(ds, id + 5, 4);
	ds[4] = '\0';
	if (parse_ulong(vs, 16, 0xffff, &v) < 0 || parse_ulong(ds, 16, 0xffff, &dv) < 0)
		return -EINVAL;
	if (expect(&p, "driver") < 0 || word(&p, d->driver, sizeof(d->driver)) < 0 ||
	    expect(&p, "override") < 0 || word(&p, d->override, sizeof(d->override)) < 0 ||
	    expect(&p, "vfio") < 0 || word_num(&p, 1, &vf) < 0 || *p)
		return -EINVAL;
	undash(d->driver);
	undash(d->override);
	if ((d->driver[0] && !kernel_name_valid(d->driver)) ||
	    (d->override[0] && !kernel_name_valid(d->override)))
		return -EINVAL;
	d->group = (int)g;
	d->vendor = (uint16_t)v;
	d->device = (uint16_t)dv;
	d->was_vfio = vf;
	return 0;
}

/* "reset DEV METHODS": a canonical address named once, methods of lower-case words. */
static int parse_reset(char *p, struct handoff_state *s)
{
	char *name = s->resets[s->nresets].name, *m = s->resets[s->nresets].method;

	if (word(&p, name, sizeof(s->resets[0].name)) < 0 || !canonical_pci(name) ||
	    word(&p, m, sizeof(s->resets[0].method)) < 0 || *p)
		return -EINVAL;
	for (int i = 0; i < s->nresets; i++)
		if (!strcmp(s->resets[i].name, name))
			return -EINVAL;
	undash(m);
	for (char *c = m; *c; c++) {
		if (*c == ',' && c > m && c[1] && c[1] != ',')
			*c = ' ';
		else if (!islower((unsigned char)*c) && *c != '_')
			return -EINVAL;
	}
	return 0;
}

static bool rec_key_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n >= STATE_KEY_MAX || !islower((unsigned char)k[0]))
		return false;
	for (; *k; k++)
		if (!islower((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_')
			return false;
	return true;
}

/* Printable words, one space between two, none at either end. */
static bool rec_value_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= STATE_VALUE_MAX || v[0] == ' ' || v[n - 1] == ' ')
		return false;
	for (const char *c = v; *c; c++)
		if (*c == ' ' ? c[1] == ' ' : !isgraph((unsigned char)*c))
			return false;
	return true;
}

int state_rec_add(struct handoff_state *s, const char *key, const char *value)
{
	if (!rec_key_valid(key) || !rec_value_valid(value))
		return -EINVAL;
	if (s->nrecs >= STATE_MAX_RECS)
		return -E2BIG;
	strcpy(s->recs[s->nrecs].key, key);
	strcpy(s->recs[s->nrecs].value, value);
	s->nrecs++;
	return 0;
}

const char *state_rec_get(const struct handoff_state *s, const char *key, int nth)
{
	for (int i = 0; i < s->nrecs; i++)
		if (!strcmp(s->recs[i].key, key) && nth-- == 0)
			return s->recs[i].value;
	return NULL;
}

void state_rec_drop(struct handoff_state *s, const char *key)
{
	int n = 0;

	for (int i = 0; i < s->nrecs; i++)
		if (strcmp(s->recs[i].key, key))
			s->recs[n++] = s->recs[i];
	memset(&s->recs[n], 0, sizeof(s->recs[0]) * (size_t)(s->nrecs - n));
	s->nrecs = n;
}

/* One line of the file; *HEADER and *HAVE_VMID carry what earlier lines had. */
static int parse_line(char *line, struct handoff_state *s, bool *header, bool *have_vmid)
{
	char kw[32], *p = line;
	unsigned long v;

	if (word(&p, kw, sizeof(kw)) < 0)
		return -EINVAL;
	if (!*header) {
		if (strcmp(kw, "pve-gpu-passthrough-state") || word_num(&p, 1, &v) < 0 || v != 1)
			return -EINVAL;
		*header = true;
	} else if (!strcmp(kw, "vmid")) {
		if (*have_vmid || word_num(&p, 999999999, &v) < 0 || *p)
			return -EINVAL;
		s->vmid = (int)v;
		*have_vmid = true;
	} else if (!strcmp(kw, "device")) {
		if (s->ndevs >= STATE_MAX_DEVS || parse_device(p, &s->devs[s->ndevs]) < 0 ||
		    state_find(s, s->devs[s->ndevs].name))
			return -EINVAL;
		s->ndevs++;
	} else if (!strcmp(kw, "vtcon")) {
		if (s->nvtcons >= STATE_MAX_CONS || word_num(&p, 63, &v) < 0 || *p)
			return -EINVAL;
		for (int i = 0; i < s->nvtcons; i++)
			if (s->vtcons[i] == (int)v)
				return -EINVAL;
		s->vtcons[s->nvtcons++] = (int)v;
	} else if (!strcmp(kw, "fb")) {
		if (s->nfbs >= STATE_MAX_CONS || word(&p, s->fbs[s->nfbs], sizeof(s->fbs[0])) < 0 ||
		    word(&p, s->fb_drivers[s->nfbs], sizeof(s->fb_drivers[0])) < 0 || *p ||
		    !kernel_name_valid(s->fbs[s->nfbs]) ||
		    !kernel_name_valid(s->fb_drivers[s->nfbs]))
			return -EINVAL;
		for (int i = 0; i < s->nfbs; i++)
			if (!strcmp(s->fbs[i], s->fbs[s->nfbs]))
				return -EINVAL;
		s->nfbs++;
	} else if (!strcmp(kw, "con2fb")) {
		char mask[20];
		unsigned long long m;
		char *end;

		if (s->con_mask || word(&p, s->con_home, sizeof(s->con_home)) < 0 ||
		    !canonical_pci(s->con_home) || word(&p, mask, sizeof(mask)) < 0 || *p ||
		    !isxdigit((unsigned char)mask[0]))
			return -EINVAL;
		errno = 0;
		m = strtoull(mask, &end, 16);
		/* 63 consoles at most; bit 63 and an empty set are not a record we write */
		if (errno || *end || m == 0 || m >> 63)
			return -EINVAL;
		s->con_mask = m;
	} else if (!strcmp(kw, "vgacon")) {
		if (s->vgacon[0] || word(&p, s->vgacon, sizeof(s->vgacon)) < 0 || *p ||
		    !canonical_pci(s->vgacon))
			return -EINVAL;
	} else if (!strcmp(kw, "reset")) {
		if (s->nresets >= STATE_MAX_DEVS || parse_reset(p, s) < 0)
			return -EINVAL;
		s->nresets++;
	} else if (!strcmp(kw, "stuck")) {
		char name[PCI_ADDR_LEN];
		struct state_dev *d;
		unsigned long pid, start;

		if (word(&p, name, sizeof(name)) < 0 || word_num(&p, 4194304, &pid) < 0 ||
		    word_num(&p, ULONG_MAX, &start) < 0 || *p || (pid == 0) != (start == 0) ||
		    !(d = (struct state_dev *)state_find(s, name)) || d->stuck)
			return -EINVAL;
		d->stuck = true;
		d->stuck_pid = (int)pid;
		d->stuck_start = start;
	} else if (!strcmp(kw, "target")) {
		char name[PCI_ADDR_LEN], drv[PCIDEV_NAME_MAX];
		struct state_dev *d;

		/* a driver name written to driver_override and below drivers/: a variant's */
		if (word(&p, name, sizeof(name)) < 0 || word(&p, drv, sizeof(drv)) < 0 || *p ||
		    !kernel_name_valid(drv) || !cfg_vfio_variant(drv) ||
		    !(d = (struct state_dev *)state_find(s, name)) || d->target[0])
			return -EINVAL;
		strcpy(d->target, drv);
	} else if (!strcmp(kw, "persistenced")) {
		if (s->persistenced || word_num(&p, 1, &v) < 0 || v != 1 || *p)
			return -EINVAL;
		s->persistenced = true;
	} else if (!strcmp(kw, "rec")) {
		char key[STATE_KEY_MAX];

		if (word(&p, key, sizeof(key)) < 0 || *p != ' ' ||
		    state_rec_add(s, key, p + 1) < 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* state_parse; *BAD gets the number (from 1) of the first line refused, 0 when the whole text
 * is refused (no header or vmid, too long). */
static int parse_at(const char *text, struct handoff_state *s, int *bad)
{
	char buf[STATE_MAX_BYTES], *save = NULL;
	bool header = false, have_vmid = false;
	int r;

	*bad = 0;
	memset(s, 0, sizeof(*s));
	if (str_copy(buf, sizeof(buf), text) < 0)
		return -EFBIG;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		r = parse_line(line, s, &header, &have_vmid);
		if (r < 0) {
			/* strtok_r skips empty lines: count the line ends before this one */
			*bad = 1;
			for (const char *c = buf; c < line; c++)
				*bad += *c == '\0' || *c == '\n';
			return r;
		}
	}
	return header && have_vmid ? 0 : -EINVAL;
}

int state_parse(const char *text, struct handoff_state *s)
{
	int bad;

	return parse_at(text, s, &bad);
}



static int path_of(int vmid, char out[SR_PATH_MAX])
{
	return sr_path(out, STATE_DIR "/%d.state", vmid);
}

int state_explain(const struct sysroot *sr, int vmid, char *why, size_t size)
{
	char path[SR_PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	struct handoff_state *s;
	size_t len;
	int r = path_of(vmid, path), bad;

	if (r < 0)
		return r;
	r = sr_read_file(sr, path, STATE_MAX_BYTES - 1, &buf, &len);
	if (r < 0) {
		snprintf(why, size, "%s", r == -EFBIG ? "larger than a state file can be"
							  : sr_strerror(r));
		return 0;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(why, size, "it holds a NUL byte");
		return 0;
	}
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = parse_at(buf, s, &bad);
	if (r < 0 && bad > 0) {
		char *line = buf;

		for (int i = 1; i < bad && line; i++)
			line = (line = strchr(line, '\n')) ? line + 1 : NULL;
		if (line)
			line[strcspn(line, "\n")] = '\0';
		snprintf(why, size, "line %d is not a valid record: '%.120s'", bad, line ? line : "");
	} else if (r < 0) {
		snprintf(why, size, "no 'pve-gpu-passthrough-state 1' header or no vmid line");
	} else if (s->vmid != vmid) {
		snprintf(why, size, "it is for VM %d", s->vmid);
	} else {
		snprintf(why, size, "valid");
	}
	free(s);
	return 0;
}

int state_load(const struct sysroot *sr, int vmid, struct handoff_state *s)
{
	char path[SR_PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = path_of(vmid, path);

	if (r < 0)
		return r;
	r = sr_read_file(sr, path, STATE_MAX_BYTES - 1, &buf, &len);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	r = state_parse(buf, s);
	if (r == 0 && s->vmid != vmid)
		r = -EINVAL;
	return r;
}

int state_save(const struct sysroot *sr, const struct handoff_state *s)
{
	char path[SR_PATH_MAX], buf[STATE_MAX_BYTES];
	int n, r;

	n = state_format(s, buf, sizeof(buf));
	if (n < 0)
		return n;
	r = sr_mkdir_p(sr, STATE_DIR, 0700);
	if (r < 0)
		return r;
	r = path_of(s->vmid, path);
	return r < 0 ? r : sr_write_file_atomic(sr, path, buf, (size_t)n, 0600);
}

int state_remove(const struct sysroot *sr, int vmid)
{
	char path[SR_PATH_MAX];
	int r = path_of(vmid, path);

	if (r < 0)
		return r;
	r = sr_unlink(sr, path);
	return r == -ENOENT ? 0 : r;
}

const struct state_dev *state_find(const struct handoff_state *s, const char *name)
{
	for (int i = 0; i < s->ndevs; i++)
		if (!strcmp(s->devs[i].name, name))
			return &s->devs[i];
	return NULL;
}

/* Calls FN for every state file that loads, but SKIP_VMID's (0: none). 0, or -errno when the
 * state directory cannot be read. */
static int each_state(const struct sysroot *sr, int skip_vmid,
		      void (*fn)(const struct handoff_state *s, void *data), void *data)
{
	struct handoff_state *s = malloc(sizeof(*s));
	struct dirent *de;
	DIR *d;

	if (!s)
		return -ENOMEM;
	d = sr_opendir(sr, STATE_DIR);
	if (!d) {
		free(s);
		return errno == ENOENT ? 0 : -errno;
	}
	while ((de = readdir(d))) {
		char num[16];
		int other;
		const char *dot = strstr(de->d_name, ".state");

		if (!dot || dot[6] || str_copy_n(num, sizeof(num), de->d_name,
						 (size_t)(dot - de->d_name)) < 0 ||
		    pve_vmid_parse(num, &other) < 0 || other == skip_vmid)
			continue;
		if (state_load(sr, other, s) == 0)
			fn(s, data);
	}
	closedir(d);
	free(s);
	return 0;
}

struct owners_q {
	const char *const *names;
	int n;
	int *owners;
	struct state_dev *recs;
};

static void note_owners(const struct handoff_state *s, void *data)
{
	struct owners_q *q = data;

	for (int i = 0; i < q->n; i++)
		if (!q->owners[i] && state_find(s, q->names[i]))
			q->owners[i] = s->vmid;
}

int state_owners(const struct sysroot *sr, const char *const *names, int n, int vmid,
		 int *owners)
{
	struct owners_q q = { names, n, owners, NULL };

	for (int i = 0; i < n; i++)
		owners[i] = 0;
	return each_state(sr, vmid, note_owners, &q);
}

static void note_stuck(const struct handoff_state *s, void *data)
{
	struct owners_q *q = data;

	for (int i = 0; i < q->n; i++) {
		const struct state_dev *d = state_find(s, q->names[i]);

		if (d && d->stuck && !q->recs[i].stuck) {
			q->recs[i] = *d;
			q->owners[i] = s->vmid;
		}
	}
}

int state_stuck(const struct sysroot *sr, const char *const *names, int n,
		struct state_dev *recs, int *vmids)
{
	struct owners_q q = { names, n, vmids, recs };

	for (int i = 0; i < n; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		vmids[i] = 0;
	}
	return each_state(sr, 0, note_stuck, &q);
}

struct stuck_list {
	char (*names)[PCI_ADDR_LEN];
	int n, max;
};

static void list_stuck(const struct handoff_state *s, void *data)
{
	struct stuck_list *l = data;

	for (int i = 0; i < s->ndevs; i++) {
		bool seen = false;

		if (!s->devs[i].stuck)
			continue;
		for (int k = 0; k < l->n && !seen; k++)
			seen = !strcmp(l->names[k], s->devs[i].name);
		if (seen)
			continue;
		if (l->n >= l->max)
			return;
		str_copy(l->names[l->n++], PCI_ADDR_LEN, s->devs[i].name);
	}
}

int state_stuck_names(const struct sysroot *sr, char (*names)[PCI_ADDR_LEN], int max)
{
	struct stuck_list l = { names, 0, max };
	int r = each_state(sr, 0, list_stuck, &l);

	return r < 0 ? r : l.n;
}

int state_pcidb_load(const struct sysroot *sr, struct pcidb **ret)
{
	char stuck[STATE_MAX_DEVS][PCI_ADDR_LEN];
	int n = state_stuck_names(sr, stuck, STATE_MAX_DEVS);

	if (n < 0) /* no state directory (nothing was ever handed over) or unreadable */
		n = 0;
	return pcidb_load_bounded(sr, (const char(*)[PCI_ADDR_LEN])stuck, n, ret);
}

int state_owner(const struct sysroot *sr, const char *name, int vmid)
{
	int owner = 0, r = state_owners(sr, &name, 1, vmid, &owner);

	return r < 0 ? r : owner;
}
