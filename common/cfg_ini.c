/* cfg_ini.c - see cfg_ini.h.
 *
 * Rules for loading the INI (it decides what a root-run tool does to the machine):
 *  1. The file is opened once; its permissions are checked on that same fd (fstat): a regular
 *     file, owned by root, not writable by group or other.
 *  2. Its size is bounded (CONFIG_MAX_SIZE) and it is read whole before inih sees it; NUL bytes
 *     and lines inih would silently cut (INI_MAX_LINE, 200) are errors with their line number.
 *  3. Every key is known and every value checked; every error is recorded as FILE:LINE (the
 *     first one also in err): a line that fails rule 4 is not given to inih (a bad section
 *     header becomes a section whose keys are ignored), so one error does not hide the next.
 *  4. Strict syntax, checked line by line before inih parses (Debian builds inih with
 *     continuation lines and ':' separators allowed): an indented line (inih would append it
 *     to the previous value), a ':' separator, a section other than [hook], [early], [sriov]
 *     and [vm:N] (even an empty one), text after a section's ']' and a key given twice in one
 *     section are errors.
 *  5. An explicit path that does not exist, or a link that dangles, is an error; only the
 *     default path may be absent (then the defaults apply).
 */
#define _GNU_SOURCE
#include "cfg_ini.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pve_conf.h"
#include "dev_quirks.h"
#include "util.h"

#define INI_LINE_LIMIT 199 /* inih's default INI_MAX_LINE (200) less the NUL */

enum {
	SET_UNBIND = 1 << 0,
	SET_BIND = 1 << 1,
	SET_RELEASE = 1 << 2,
	SET_RETURN = 1 << 3,
	SET_HOLDERS = 1 << 4,
	SET_PERSISTENCED = 1 << 5,
	SET_RESET_METHOD = 1 << 6,
	SET_CONTAINERS = 1 << 7,
	SET_VFIO_DRIVER = 1 << 13,
	SET_BACKUP = 1 << 12, /* high bit: other [hook] keys take the next free ones */
};

#define BAD_SECTION "!" /* what a refused section header becomes for inih */

struct parse_ctx {
	struct cfg *c;
	const char *name;
	char *err;
	size_t errsize;
	int line;         /* current line, tracked by our own reader */
	bool failed;
	bool quiet;       /* re-checking a line already reported */
	unsigned hook_set, early_set;    /* which keys [hook] and [early] set */
	unsigned sriov_set;              /* which keys [sriov] set */
	unsigned vm_set[CONFIG_MAX_VMS]; /* which keys each [vm:N] section set */
};

static int failf(struct parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(struct cfg *c, const char *file, int line, const char *text)
{
	struct config_error *e;

	if (c->nerrors++ >= CONFIG_MAX_ERRORS)
		return;
	e = &c->errors[c->nerrors - 1];
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = line;
	snprintf(e->text, sizeof(e->text), "%s", text);
}

static int failf(struct parse_ctx *p, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	if (p->quiet)
		return 0;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_error(p->c, p->name, p->line, text);
	if (!p->failed)
		snprintf(p->err, p->errsize, "%s:%d: %s", p->name, p->line, text);
	p->failed = true;
	return 0;
}

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->hook.unbind_timeout_ms = 10000;
	c->hook.bind_timeout_ms = 5000;
	c->hook.release_timeout_ms = 30000;
	c->hook.return_on_stop = true;
	c->hook.holders_refuse = true;
	snprintf(c->hook.vfio_driver, sizeof(c->hook.vfio_driver), "vfio-pci");
	snprintf(c->sriov.driver, sizeof(c->sriov.driver), "vfio-pci");
}

static unsigned hook_bit(const char *key)
{
	return !strcmp(key, "unbind_timeout")	? SET_UNBIND
	       : !strcmp(key, "bind_timeout")	? SET_BIND
	       : !strcmp(key, "release_timeout") ? SET_RELEASE
	       : !strcmp(key, "return_on_stop")	? SET_RETURN
	       : !strcmp(key, "holders")	? SET_HOLDERS
	       : !strcmp(key, "nvidia_persistenced") ? SET_PERSISTENCED
	       : !strcmp(key, "containers") ? SET_CONTAINERS
	       : !strcmp(key, "reset_method") ? SET_RESET_METHOD
	       : !strcmp(key, "backup") ? SET_BACKUP
	       : !strcmp(key, "vfio_driver") ? SET_VFIO_DRIVER
						: 0;
}

/* The [hook] keys whose value is one of two words: the bool of struct hook_opts each sets, true
 * for word[yes]. No words: parse_bool's yes or no. */
static const struct {
	const char *key;
	const char *word[2]; /* in the order the error line names them */
	int yes;
	size_t off;
	unsigned bit;
} choice_keys[] = {
	{ "return_on_stop", { NULL, NULL }, 0, offsetof(struct hook_opts, return_on_stop),
	  SET_RETURN },
	{ "holders", { "refuse", "warn" }, 0, offsetof(struct hook_opts, holders_refuse),
	  SET_HOLDERS },
	{ "nvidia_persistenced", { "refuse", "stop" }, 1,
	  offsetof(struct hook_opts, persistenced_stop), SET_PERSISTENCED },
	{ "backup", { "handoff", "refuse" }, 1, offsetof(struct hook_opts, backup_refuse),
	  SET_BACKUP },
	{ "containers", { "refuse", "stop" }, 1, offsetof(struct hook_opts, containers_stop),
	  SET_CONTAINERS },
};

/* KEY = VALUE when KEY is one of choice_keys: 1 (set), or 0 (failf's); -1 for another key. */
static int choice_key(struct parse_ctx *p, struct hook_opts *o, unsigned *set, const char *key,
		      const char *value)
{
	for (size_t i = 0; i < ARRAY_SIZE(choice_keys); i++) {
		const char *const *w = choice_keys[i].word;
		bool *field = (bool *)((char *)o + choice_keys[i].off);

		if (strcmp(key, choice_keys[i].key))
			continue;
		if (!w[0]) {
			if (parse_bool(value, field) < 0)
				return failf(p, "%s: '%s' is not yes or no", key, value);
		} else if (!strcmp(value, w[0]) || !strcmp(value, w[1])) {
			*field = !strcmp(value, w[choice_keys[i].yes]);
		} else {
			return failf(p, "%s: '%s' is not '%s' or '%s'", key, value, w[0], w[1]);
		}
		*set |= choice_keys[i].bit;
		return 1;
	}
	return -1;
}

static int hook_key(struct parse_ctx *p, struct hook_opts *o, unsigned *set, const char *key,
		    const char *value)
{
	unsigned long ms;
	int r;

	if (*set & hook_bit(key))
		return failf(p, "duplicate key '%s' in this section", key);

	if (!strcmp(key, "unbind_timeout") || !strcmp(key, "bind_timeout") ||
	    !strcmp(key, "release_timeout")) {
		if (parse_duration_ms(value, &ms) < 0 || ms == 0)
			return failf(p, "%s: '%s' is not a duration (e.g. 10s, 500ms; at most 1h)",
				     key, value);
		if (key[0] == 'u') {
			o->unbind_timeout_ms = ms;
			*set |= SET_UNBIND;
		} else if (key[0] == 'b') {
			o->bind_timeout_ms = ms;
			*set |= SET_BIND;
		} else {
			o->release_timeout_ms = ms;
			*set |= SET_RELEASE;
		}
		return 1;
	}
	if ((r = choice_key(p, o, set, key, value)) >= 0)
		return r;
	if (!strcmp(key, "reset_method")) {
		if (!quirks_reset_method_valid(value) ||
		    str_copy(o->reset_method, sizeof(o->reset_method), value) < 0)
			return failf(p, "reset_method: '%s' is not 'default' or reset methods the "
				     "kernel knows (device_specific acpi flr af_flr pm bus cxl_bus)",
				     value);
		*set |= SET_RESET_METHOD;
		return 1;
	}
	if (!strcmp(key, "vfio_driver")) {
		if (!cfg_vfio_driver_valid(value))
			return failf(p, "vfio_driver: '%s' is not vfio-pci or a variant VFIO driver (a "
				     "name ending in vfio_pci, e.g. xe_vfio_pci)", value);
		snprintf(o->vfio_driver, sizeof(o->vfio_driver), "%s", value);
		*set |= SET_VFIO_DRIVER;
		return 1;
	}
	return failf(p, "unknown key '%s'", key);
}

/* Calls FN on every comma-separated, trimmed item of VALUE. */
static int each_item(struct parse_ctx *p, const char *key, const char *value,
		     int (*fn)(struct parse_ctx *, const char *))
{
	char buf[256], *save = NULL;

	if (strlen(value) >= sizeof(buf))
		return failf(p, "%s: value too long", key);
	strcpy(buf, value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *item = str_trim(t);

		if (!*item)
			continue;
		if (!fn(p, item))
			return 0;
	}
	return 1;
}

/* "vvvv:dddd" (hex) into *V and *D; -EINVAL for anything else. */
static int parse_id(const char *item, unsigned long *v, unsigned long *d)
{
	char vs[5], ds[5];

	if (strlen(item) != 9 || item[4] != ':' || str_copy_n(vs, sizeof(vs), item, 4) < 0 ||
	    str_copy_n(ds, sizeof(ds), item + 5, 4) < 0 || parse_ulong(vs, 16, 0xffff, v) < 0 ||
	    parse_ulong(ds, 16, 0xffff, d) < 0)
		return -EINVAL;
	return 0;
}

static int early_id(struct parse_ctx *p, const char *item)
{
	struct early_opts *e = &p->c->early;
	unsigned long v, d;

	if (parse_id(item, &v, &d) < 0)
		return failf(p, "ids: '%s' is not a vendor:device id like 10de:0fc6", item);
	for (int i = 0; i < e->nids; i++)
		if (e->ids[i].vendor == v && e->ids[i].device == d)
			return 1;
	if (e->nids >= CONFIG_MAX_EARLY)
		return failf(p, "ids: more than %d ids", CONFIG_MAX_EARLY);
	e->ids[e->nids].vendor = (uint16_t)v;
	e->ids[e->nids].device = (uint16_t)d;
	e->nids++;
	return 1;
}

static int early_addr(struct parse_ctx *p, const char *item)
{
	struct early_opts *e = &p->c->early;
	struct pci_addr a;
	bool has_func;

	if (pci_addr_parse_loose(item, &a, &has_func) < 0 || !has_func)
		return failf(p, "addresses: '%s' is not a PCI address like 0000:02:00.0", item);
	for (int i = 0; i < e->naddrs; i++)
		if (pci_addr_eq(&e->addrs[i], &a))
			return 1;
	if (e->naddrs >= CONFIG_MAX_EARLY)
		return failf(p, "addresses: more than %d addresses", CONFIG_MAX_EARLY);
	e->addrs[e->naddrs++] = a;
	return 1;
}

static int early_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct early_opts *e = &p->c->early;
	unsigned bit = !strcmp(key, "ids") ? 1 : !strcmp(key, "addresses") ? 2
		       : !strcmp(key, "disable_vga") ? 4 : 0;

	if (p->early_set & bit)
		return failf(p, "duplicate key '%s' in [early]", key);
	p->early_set |= bit;

	if (!strcmp(key, "ids")) {
		e->line_ids = p->line;
		return each_item(p, key, value, early_id);
	}
	if (!strcmp(key, "addresses")) {
		e->line_addrs = p->line;
		return each_item(p, key, value, early_addr);
	}
	if (!strcmp(key, "disable_vga")) {
		if (parse_bool(value, &e->disable_vga) < 0)
			return failf(p, "disable_vga: '%s' is not yes or no", value);
		return 1;
	}
	return failf(p, "unknown key '%s'", key);
}

bool cfg_vfio_driver_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(((struct sriov_opts *)0)->driver))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return n >= 8 && (!strcmp(name + n - 8, "vfio_pci") || !strcmp(name + n - 8, "vfio-pci"));
}

bool cfg_vfio_variant(const char *name)
{
	return cfg_vfio_driver_valid(name) && strcmp(name, "vfio-pci") && strcmp(name, "vfio_pci");
}

/* [sriov]: pf (an address or a vendor:device id), vfs, driver. */
static int sriov_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct sriov_opts *o = &p->c->sriov;
	unsigned bit = !strcmp(key, "pf") ? 1 : !strcmp(key, "vfs") ? 2
		       : !strcmp(key, "driver") ? 4 : 0;
	unsigned long v, d;
	bool has_func;

	if (!bit)
		return failf(p, "unknown key '%s'", key);
	if (p->sriov_set & bit)
		return failf(p, "duplicate key '%s' in [sriov]", key);
	p->sriov_set |= bit;
	if (bit == 1) {
		if (parse_id(value, &v, &d) == 0) {
			o->by_id = true;
			o->vendor = (uint16_t)v;
			o->device = (uint16_t)d;
			return 1;
		}
		if (pci_addr_parse_loose(value, &o->pf, &has_func) < 0 || !has_func)
			return failf(p, "pf: '%s' is not a PCI address like 0000:00:02.0 or a "
				     "vendor:device id like 8086:a7a0", value);
		return 1;
	}
	if (bit == 2) {
		if (parse_ulong(value, 10, CONFIG_MAX_VFS, &v) < 0 || v == 0)
			return failf(p, "vfs: '%s' is not a number of VFs from 1 to %d", value,
				     CONFIG_MAX_VFS);
		o->vfs = (unsigned)v;
		return 1;
	}
	if (!cfg_vfio_driver_valid(value))
		return failf(p, "driver: '%s' is not vfio-pci or a variant VFIO driver (a name "
			     "ending in vfio_pci, e.g. xe_vfio_pci)", value);
	snprintf(o->driver, sizeof(o->driver), "%s", value);
	return 1;
}

static int vm_index(struct parse_ctx *p, const char *section)
{
	struct cfg *c = p->c;
	int vmid;

	if (pve_vmid_parse(section + 3, &vmid) < 0)
		return failf(p, "section [%s]: VMID must be a number from 100", section) - 1;
	for (int i = 0; i < c->nvms; i++)
		if (c->vms[i].vmid == vmid)
			return i;
	if (c->nvms >= CONFIG_MAX_VMS)
		return failf(p, "more than %d [vm:...] sections", CONFIG_MAX_VMS) - 1;
	c->vms[c->nvms].vmid = vmid;
	return c->nvms++;
}

/* Always returns 1 (success to inih): errors are recorded in the context with our own line
 * number. Keys of a section whose header was refused ("!") were reported with it. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	int i;

	if (!strcmp(section, BAD_SECTION))
		return 1;
	if (!strcmp(section, "hook"))
		hook_key(p, &p->c->hook, &p->hook_set, name, value);
	else if (!strcmp(section, "early"))
		early_key(p, name, value);
	else if (!strcmp(section, "sriov"))
		sriov_key(p, name, value);
	else if (!strncmp(section, "vm:", 3)) {
		if ((i = vm_index(p, section)) >= 0)
			hook_key(p, &p->c->vms[i].opts, &p->vm_set[i], name, value);
	} else
		failf(p, "unknown section [%s]", section);
	return 1;
}

static int check_line(struct parse_ctx *p, const char *line, size_t len);

/* Feeds inih one line at a time so that we know the line number of every call. A line that
 * fails check_line (reported before) goes to inih as an empty line, or as [!] for a section
 * header, so that it neither hides the lines after it nor gives its keys to another section. */
struct reader {
	const char *pos;
	struct parse_ctx *p;
};

static char *read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	size_t len, full;
	const char *nl;
	int bad;

	if (!*r->pos)
		return NULL;
	nl = strchr(r->pos, '\n');
	full = nl ? (size_t)(nl - r->pos + 1) : strlen(r->pos);
	r->p->line++;
	r->p->quiet = true;
	len = nl ? full - 1 : full;
	bad = len > INI_LINE_LIMIT - 1 || check_line(r->p, r->pos, len) < 0;
	r->p->quiet = false;
	if (bad || full >= (size_t)num) {
		snprintf(str, (size_t)num, "%s\n", r->pos[0] == '[' ? "[" BAD_SECTION "]" : "");
		r->pos += full;
		return str;
	}
	memcpy(str, r->pos, full);
	str[full] = '\0';
	r->pos += full;
	return str;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* The strict syntax of rule 4 for one line of LEN bytes; 0 or failf's -EINVAL. */
static int check_line(struct parse_ctx *p, const char *line, size_t len)
{
	size_t i = 0, end = len, n;

	while (end > 0 && is_blank(line[end - 1]))
		end--;
	if (end == 0)
		return 0; /* blank */
	if (is_blank(line[0])) {
		while (is_blank(line[i]))
			i++;
		if (line[i] == ';' || line[i] == '#')
			return 0; /* an indented comment is still a comment to inih */
		failf(p, "indented line: continuation lines are not allowed (start every key and "
			 "section in the first column)");
		return -EINVAL;
	}
	if (line[0] == ';' || line[0] == '#')
		return 0;
	if (line[0] == '[') {
		const char *close = memchr(line, ']', end);
		char sec[64];

		if (!close || (size_t)(close - line) != end - 1) {
			failf(p, "a section header is '[name]' alone on its line");
			return -EINVAL;
		}
		n = (size_t)(close - line) - 1;
		if (n >= sizeof(sec)) {
			failf(p, "unknown section (name too long)");
			return -EINVAL;
		}
		memcpy(sec, line + 1, n);
		sec[n] = '\0';
		if (str_has_prefix(sec, "vm:")) {
			int vmid;

			if (pve_vmid_parse(sec + 3, &vmid) < 0) {
				failf(p, "section [%s]: VMID must be a number from 100", sec);
				return -EINVAL;
			}
		} else if (!strcmp(sec, "sriov")) {
			if (!p->c->sriov.set)
				p->c->sriov.line = p->line;
			p->c->sriov.set = true;
		} else if (strcmp(sec, "hook") && strcmp(sec, "early")) {
			failf(p, "unknown section [%s]", sec);
			return -EINVAL;
		}
		return 0;
	}
	n = strcspn(line, "=:");
	if (n >= end) {
		failf(p, "syntax error (expected [section] or key = value)");
		return -EINVAL;
	}
	if (line[n] == ':') {
		failf(p, "':' is not a separator here; write 'key = value'");
		return -EINVAL;
	}
	return 0;
}

/* Syntax errors (found first, line by line) and inih's come in two passes: file order. */
static void sort_errors(struct cfg *c)
{
	int n = c->nerrors < CONFIG_MAX_ERRORS ? c->nerrors : CONFIG_MAX_ERRORS;

	for (int i = 1; i < n; i++) {
		struct config_error e = c->errors[i];
		int j = i;

		for (; j > 0 && c->errors[j - 1].line > e.line; j--)
			c->errors[j] = c->errors[j - 1];
		c->errors[j] = e;
	}
}

int cfg_parse(const char *text, const char *name, struct cfg *c, char *err,
		 size_t errsize)
{
	struct parse_ctx p = { .c = c, .name = name, .err = err, .errsize = errsize };
	struct reader rd = { .pos = text, .p = &p };
	const char *line = text;
	int r;

	cfg_defaults(c);
	c->from_file = true;
	if (errsize)
		err[0] = '\0';
	/* inih cuts long lines silently and would misreport the rest as a new line. */
	for (p.line = 1; *line; p.line++) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > INI_LINE_LIMIT - 1)
			failf(&p, "line longer than %d characters", INI_LINE_LIMIT - 1);
		else
			check_line(&p, line, len);
		if (!nl)
			break;
		line = nl + 1;
	}
	p.line = 0;
	r = ini_parse_stream(read_line, &rd, handler, &p);
	if (r < 0)
		return -ENOMEM;
	if (r > 0) {
		p.line = r;
		failf(&p, "syntax error (expected [section] or key = value)");
	}
	if (c->sriov.set && (p.sriov_set & 3) != 3 && !p.failed) { /* else likely a typo above */
		p.line = c->sriov.line;
		failf(&p, "[sriov] needs both pf and vfs");
	}
	if (p.failed) {
		sort_errors(c);
		snprintf(err, errsize, "%s:%d: %s", name, c->errors[0].line, c->errors[0].text);
		return -EINVAL;
	}
	/* [vm:N] sections inherit every key they did not set from [hook], wherever it stood. */
	for (int i = 0; i < c->nvms; i++) {
		struct hook_opts *o = &c->vms[i].opts;
		unsigned set = p.vm_set[i];

		if (!(set & SET_UNBIND))
			o->unbind_timeout_ms = c->hook.unbind_timeout_ms;
		if (!(set & SET_BIND))
			o->bind_timeout_ms = c->hook.bind_timeout_ms;
		if (!(set & SET_RELEASE))
			o->release_timeout_ms = c->hook.release_timeout_ms;
		if (!(set & SET_RETURN))
			o->return_on_stop = c->hook.return_on_stop;
		if (!(set & SET_HOLDERS))
			o->holders_refuse = c->hook.holders_refuse;
		if (!(set & SET_PERSISTENCED))
			o->persistenced_stop = c->hook.persistenced_stop;
		if (!(set & SET_BACKUP))
			o->backup_refuse = c->hook.backup_refuse;
		if (!(set & SET_CONTAINERS))
			o->containers_stop = c->hook.containers_stop;
		if (!(set & SET_RESET_METHOD))
			memcpy(o->reset_method, c->hook.reset_method, sizeof(o->reset_method));
		if (!(set & SET_VFIO_DRIVER))
			memcpy(o->vfio_driver, c->hook.vfio_driver, sizeof(o->vfio_driver));
	}
	return 0;
}

int cfg_load(const struct sysroot *sr, const char *path, struct cfg *c, char *err,
		size_t errsize)
{
	char buf[CONFIG_MAX_SIZE + 1];
	struct stat st;
	ssize_t n;
	int fd;

	bool explicit = path != NULL;

	if (!path)
		path = CONFIG_DEFAULT_PATH;
	cfg_defaults(c);
	fd = sr_openat(sr, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd == -ENOENT) {
		if (sr_lstat(sr, path, &st) == 0 && S_ISLNK(st.st_mode)) {
			snprintf(err, errsize, "%s: cannot open: a symlink to nothing", path);
			return -ENOENT;
		}
		if (explicit) {
			snprintf(err, errsize, "%s: cannot open: %s", path, strerror(ENOENT));
			return -ENOENT;
		}
		return 0; /* no file at the default path: the defaults */
	}
	if (fd < 0) {
		snprintf(err, errsize, "%s: cannot open: %s", path, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsize, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errsize, "%s: must be owned by root and not writable by group or other",
			 path);
		close(fd);
		return -EPERM;
	}
	if (st.st_size > CONFIG_MAX_SIZE) {
		snprintf(err, errsize, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
		close(fd);
		return -EFBIG;
	}
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errsize, "%s: read error", path);
		return -EIO;
	}
	if (len > CONFIG_MAX_SIZE) {
		snprintf(err, errsize, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
		return -EFBIG;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		snprintf(err, errsize, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	return cfg_parse(buf, path, c, err, errsize);
}

const struct hook_opts *cfg_hook_opts(const struct cfg *c, int vmid)
{
	for (int i = 0; i < c->nvms; i++)
		if (c->vms[i].vmid == vmid)
			return &c->vms[i].opts;
	return &c->hook;
}
