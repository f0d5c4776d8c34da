/* setup_plan.c - see setup_plan.h: the plan. The kernel command line change is the one
 * `check` asks for, all at once (checks_run, then host_boot_edit on the boot loader's line): no
 * second copy of that logic. The framebuffer parameter (initcall_blacklist=sysfb_init) removes
 * the host's boot console, so it is added only with no_fb, and only on kernels where it is
 * known to work (host_boot_fb_param). Files it may write: the boot loader's file (host_boot.h;
 * with GRUB also the GRUB_CMDLINE_LINUX line when a parameter to remove sits there), our own
 * SETUP_MODULES_FILE (the vfio modules at boot), with --early the [early] section of our
 * INI, and with --sriov its [sriov] section and the sysfsutils files (/etc/sysfs.conf,
 * /etc/sysfs.d/NAME.conf) whose lines set the same PF's sriov_* attributes: those lines go,
 * shown in the diff (the boot unit makes the VFs, with autoprobe off first). */
#define _GNU_SOURCE
#include "setup_plan.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg_ini.h"
#include "dev_bind.h"
#include "dev_quirks.h"
#include "host_boot.h"
#include "pci_db.h"
#include "pciaddr.h"
#include "util.h"

const char *const setup_kind_names[] = { "boot", "modules", "early", "sriov" };

static const struct setup_command cmd_update_grub = { "update-grub", { "update-grub", NULL } };
static const struct setup_command cmd_pbt_refresh = { "proxmox-boot-tool refresh",
						       { "proxmox-boot-tool", "refresh", NULL } };
static const struct setup_command cmd_initramfs = { "update-initramfs -u -k all",
						     { "update-initramfs", "-u", "-k", "all" } };

static void add_note(struct setup_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(struct setup_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nnotes >= (int)ARRAY_SIZE(p->notes))
		return;
	va_start(ap, fmt);
	vsnprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), fmt, ap);
	va_end(ap);
}

static void refuse(struct setup_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct setup_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->refused[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->refused, sizeof(p->refused), fmt, ap);
	va_end(ap);
}

void setup_plan_free(struct setup_plan *p)
{
	for (int i = 0; i < p->nch; i++) {
		free(p->ch[i].old);
		free(p->ch[i].new);
	}
	checks_free(p->rep);
	p->rep = NULL;
	p->nch = 0;
}

int setup_read_target(const struct sysroot *sr, const char *path, char **ret, size_t *ret_len,
		      mode_t *ret_mode, char *why, size_t wsize)
{
	struct stat st;
	int r;

	*ret = NULL;
	*ret_len = 0;
	*ret_mode = 0644;
	r = sr_lstat(sr, path, &st);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(why, wsize, "'%s': %s", path, sr_strerror(r));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, wsize, "'%s' line 1: the file is a symlink; setup replaces only "
			 "regular files", path);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, wsize, "'%s': not a regular file", path);
		return -SR_ENOTREG;
	}
	if (st.st_nlink > 1) {
		snprintf(why, wsize, "'%s' line 1: the file has %lu hard links; setup replaces only "
			 "files with one (a new file in its place would split them)", path,
			 (unsigned long)st.st_nlink);
		return -EMLINK;
	}
	if (st.st_uid != 0) {
		snprintf(why, wsize, "'%s' line 1: the file is owned by uid %u, not root", path,
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	r = sr_read_file(sr, path, SETUP_FILE_MAX, ret, ret_len);
	if (r < 0) {
		snprintf(why, wsize, "'%s': %s", path, sr_strerror(r));
		return r;
	}
	*ret_mode = st.st_mode & 07777;
	return 0;
}

static int read_target(const struct sysroot *sr, struct setup_plan *p, const char *path,
		       char **ret, size_t *ret_len, mode_t *ret_mode)
{
	char why[SETUP_LINE_MAX];
	int r = setup_read_target(sr, path, ret, ret_len, ret_mode, why, sizeof(why));

	if (r < 0)
		refuse(p, "%s", why);
	return r;
}

/* Adds the change of PATH to NEW (taking NEW) when it differs from the file. */
static int add_change(const struct sysroot *sr, struct setup_plan *p, enum setup_kind kind,
		      const char *path, char *new, size_t new_len)
{
	struct setup_change *c = &p->ch[p->nch];
	int r;

	if (p->nch >= SETUP_MAX_FILES) {
		free(new);
		return -E2BIG;
	}
	r = read_target(sr, p, path, &c->old, &c->old_len, &c->mode);
	if (r < 0) {
		free(new);
		return r;
	}
	if (c->old && c->old_len == new_len && memcmp(c->old, new, new_len) == 0) {
		free(c->old);
		c->old = NULL;
		free(new);
		return 0;
	}
	c->kind = kind;
	str_copy(c->path, sizeof(c->path), path);
	c->new = new;
	c->new_len = new_len;
	p->nch++;
	return 1;
}

/* Removes every word of LIST that starts with PREFIX; true when one was there. */
static bool drop_prefixed(char *list, const char *prefix)
{
	char copy[1024], *save = NULL;
	bool dropped = false;
	size_t off = 0;

	str_copy(copy, sizeof(copy), list);
	list[0] = '\0';
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (str_has_prefix(w, prefix)) {
			dropped = true;
			continue;
		}
		off += (size_t)snprintf(list + off, 1024 - off, "%s%s", off ? " " : "", w);
	}
	return dropped;
}

/* --early beside vfio-pci.ids= (below, with plan_early) */
static void early_addrs(struct setup_plan *p, const struct setup_opts *a, char *addrs,
			size_t size);
static bool boot_ids(const struct check_report *rep, char *ids, size_t size);
static bool ids_take_other(const struct pcidb *db, const char *list, const char *addrs,
			   char *keep, size_t ksize);

static int plan_cmdline(const struct sysroot *sr, struct setup_plan *p, const struct setup_opts *a)
{
	const struct check_report *rep = p->rep;
	const struct host_boot *b = &rep->boot;
	const char *fb = host_boot_fb_param(rep->host.release);
	char line[2 * HI_CMDLINE_MAX], lline[2 * HI_CMDLINE_MAX], why[SR_PATH_MAX + 256];
	bool changed;
	int lr;
	char *text = NULL, *old = NULL;
	size_t len;
	int r;

	str_copy(p->add, sizeof(p->add), rep->cmdline_add);
	str_copy(p->remove, sizeof(p->remove), rep->cmdline_remove);
	{
		/* --early ADDR: a vfio-pci.ids= that still takes an identical card goes (its other
		 * ids move to [early] ids: plan_early) */
		char addrs[CONFIG_MAX_EARLY * (PCI_ADDR_LEN + 1)], ids[512], keep[512];
		size_t n = strlen(p->remove);

		early_addrs(p, a, addrs, sizeof(addrs));
		if (addrs[0] && boot_ids(rep, ids, sizeof(ids)) &&
		    ids_take_other(rep->db, ids, addrs, keep, sizeof(keep)) && n + 14 < sizeof(p->remove))
			snprintf(p->remove + n, sizeof(p->remove) - n, "%svfio-pci.ids", n ? " " : "");
	}
	if (drop_prefixed(p->add, "initcall_blacklist=") && !a->no_fb)
		add_note(p, "initcall_blacklist=sysfb_init is left out: it removes the host's boot "
			    "console on the GPU (add it with --no-fb)");
	if (a->no_fb) {
		if (fb) {
			size_t n = strlen(p->add);

			snprintf(p->add + n, sizeof(p->add) - n, "%s%s", n ? " " : "", fb);
		} else {
			add_note(p, "--no-fb: initcall_blacklist=sysfb_init is shown to work only on "
				    "kernels 5.10 to 7.3 (kernel %s): not added",
				 rep->host.release[0] ? rep->host.release : "unknown");
		}
	}
	if (host_boot_editable(sr, b, why, sizeof(why)) < 0) {
		refuse(p, "%s", why);
		return -EPERM;
	}
	if (!p->add[0] && !p->remove[0])
		return 0;
	r = host_boot_edit(b, p->add[0] ? p->add : NULL, p->remove[0] ? p->remove : NULL, line,
			 sizeof(line));
	if (r < 0) {
		refuse(p, "'%s' line %d: the new command line does not fit", b->file, b->line);
		return r;
	}
	/* a parameter to remove in GRUB_CMDLINE_LINUX is taken out there */
	lr = host_boot_edit_linux(b, p->remove[0] ? p->remove : NULL, lline, sizeof(lline));
	if (lr == -EPERM) {
		refuse(p, "%s: setup cannot take %s out of it", lline, p->remove);
		return lr;
	}
	if (lr < 0) {
		refuse(p, "'%s' line %d: the new command line does not fit", b->linux_file,
		       b->linux_line);
		return lr;
	}
	changed = !b->line || strcmp(line, b->text) != 0;
	if (!changed && !lr)
		return 0;
	if (changed || !strcmp(b->linux_file, b->file)) {
		r = host_boot_render(sr, b, changed ? line : b->text, &text, &len, &old);
		free(old);
		if (r < 0) {
			refuse(p, "'%s': %s", b->file, r == -ESTALE ? "changed while setup read it" :
				  sr_strerror(r));
			return r;
		}
	}
	if (lr) {
		_cleanup_free_ char *base = NULL;
		bool same = !strcmp(b->linux_file, b->file);
		char *ltext = NULL;
		size_t llen = 0;

		if (!same) {
			r = sr_read_file(sr, b->linux_file, SETUP_FILE_MAX, &base, &llen);
			if (r < 0) {
				free(text);
				refuse(p, "'%s': %s", b->linux_file, sr_strerror(r));
				return r;
			}
		}
		r = host_boot_render_linux(b, same ? text : base, same ? len : llen, lline, &ltext,
					 &llen);
		if (r < 0) {
			free(text);
			refuse(p, "'%s': %s", b->linux_file, r == -ESTALE ?
				  "changed while setup read it" : sr_strerror(r));
			return r;
		}
		if (same) {
			free(text);
			text = ltext;
			len = llen;
		} else {
			r = add_change(sr, p, SETUP_BOOT, b->linux_file, ltext, llen);
			if (r < 0) {
				free(text);
				return r;
			}
		}
	}
	if (!text)
		return 0;
	return add_change(sr, p, SETUP_BOOT, b->file, text, len);
}

static int plan_modules(const struct sysroot *sr, struct setup_plan *p)
{
	char text[512], name[64];
	size_t off;
	int n = 0;

	off = (size_t)snprintf(text, sizeof(text),
			       "# The vfio modules at boot, for GPU passthrough. Written by "
			       "pve-gpu-passthrough setup;\n# 'pve-gpu-passthrough setup --undo' "
			       "removes it.\n");
	for (int i = 0; i < BIND_NVFIO_MODULES; i++) {
		str_copy(name, sizeof(name), bind_vfio_modules[i].name);
		for (char *q = name; *q; q++) /* kmod names: vfio_pci */
			if (*q == '-')
				*q = '_';
		/* one that /etc/modules loads already is not named twice */
		if (hostinfo_modules_file_line(sr, "/etc/modules", name))
			continue;
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", name);
		n++;
	}
	if (!n)
		return 0; /* /etc/modules loads them all: no file of ours */
	char *copy = strdup(text);

	if (!copy)
		return -ENOMEM;
	return add_change(sr, p, SETUP_MODULES, SETUP_MODULES_FILE, copy, off);
}

/* Resolves the --early arguments into the INI values ADDRS and IDS (comma-separated). */
static int early_values(struct setup_plan *p, const struct setup_opts *a, char *addrs, size_t asize,
			char *ids, size_t isize)
{
	const struct pcidb *db = p->rep->db;

	addrs[0] = ids[0] = '\0';
	for (int i = 0; i < a->nearly; i++) {
		const char *s = a->early[i];
		struct pci_addr pa;
		bool has_func = false;
		unsigned long v, d;
		char *colon;
		int n = 0;

		if (pci_addr_parse_loose(s, &pa, &has_func) == 0) {
			for (int k = 0; k < db->ndev; k++) {
				const struct pci_dev_info *dev = &db->dev[db->byaddr[k]];
				size_t len = strlen(addrs);

				if (dev->addr.domain != pa.domain || dev->addr.bus != pa.bus ||
				    dev->addr.slot != pa.slot || (has_func && dev->addr.func != pa.func) ||
				    dev->is_bridge)
					continue;
				if (strstr(addrs, dev->name))
					continue;
				if (len + PCI_ADDR_LEN + 1 >= asize) {
					refuse(p, "--early: too many devices");
					return -E2BIG;
				}
				snprintf(addrs + len, asize - len, "%s%s", len ? "," : "", dev->name);
				n++;
			}
			if (!n) {
				refuse(p, "--early %s: no such device (pve-gpu-passthrough list --all "
					  "shows them)", s);
				return -ENOENT;
			}
			continue;
		}
		colon = strchr(s, ':');
		if (!colon || colon - s != 4 || strlen(colon + 1) != 4) {
			refuse(p, "--early %s: neither a PCI address nor a vendor:device id", s);
			return -EINVAL;
		}
		{
			char vs[5];

			memcpy(vs, s, 4);
			vs[4] = '\0';
			if (parse_ulong(vs, 16, 0xffff, &v) < 0 ||
			    parse_ulong(colon + 1, 16, 0xffff, &d) < 0) {
				refuse(p, "--early %s: neither a PCI address nor a vendor:device id", s);
				return -EINVAL;
			}
		}
		{
			char first[PCI_ADDR_LEN] = "", other[PCI_ADDR_LEN] = "";
			size_t len = strlen(ids);

			for (int k = 0; k < db->ndev; k++) {
				const struct pci_dev_info *dev = &db->dev[db->byaddr[k]];

				if (dev->vendor != v || dev->device != d)
					continue;
				if (!first[0])
					str_copy(first, sizeof(first), dev->name);
				else if (!other[0])
					str_copy(other, sizeof(other), dev->name);
			}
			if (!first[0]) {
				refuse(p, "--early %s: no device has this id", s);
				return -ENOENT;
			}
			if (other[0]) {
				/* an id binds every identical card: name the one meant */
				refuse(p, "--early %s: %s and %s both have this id (identical cards): "
					  "name the card by address (--early %.12s)", s, first, other,
				       first);
				return -EINVAL;
			}
			if (len + 11 >= isize) {
				refuse(p, "--early: too many ids");
				return -E2BIG;
			}
			snprintf(ids + len, isize - len, "%s%04lx:%04lx", len ? "," : "", v, d);
		}
	}
	return 0;
}

/* vfio-pci's ids= LIST (the command line's or modprobe.d's) against the --early addresses
 * ADDRS: true when one of its ids would still take, at boot, a card identical to one given by
 * address (a device with that id that ADDRS does not name, beside one it names). KEEP gets
 * the ids that take no such card (they move to [early] ids), comma-separated. */
static bool ids_take_other(const struct pcidb *db, const char *list, const char *addrs,
			   char *keep, size_t ksize)
{
	char copy[512], *save = NULL;
	bool other = false;

	keep[0] = '\0';
	str_copy(copy, sizeof(copy), list);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned v, d;
		bool named = false, not_named = false;
		size_t len = strlen(keep);

		if (sscanf(t, "%4x:%4x", &v, &d) != 2)
			continue;
		for (int k = 0; k < db->ndev; k++) {
			const struct pci_dev_info *dev = &db->dev[k];

			if (dev->vendor != v || dev->device != d)
				continue;
			if (strstr(addrs, dev->name))
				named = true;
			else
				not_named = true;
		}
		if (named && not_named)
			other = true;
		else if (not_named && len + 11 < ksize)
			snprintf(keep + len, ksize - len, "%s%04x:%04x", len ? "," : "", v, d);
	}
	return other;
}

/* The --early addresses, or "" (none, or a refusal early_values will repeat). */
static void early_addrs(struct setup_plan *p, const struct setup_opts *a, char *addrs,
			size_t size)
{
	char ids[CONFIG_MAX_EARLY * 10 + 1];

	if (!a->nearly || early_values(p, a, addrs, size, ids, sizeof(ids)) < 0)
		addrs[0] = '\0';
}

/* The configured command line's vfio-pci.ids= into IDS; false when it has none. */
static bool boot_ids(const struct check_report *rep, char *ids, size_t size)
{
	return cmdline_ids(rep->boot.configured[0] ? rep->boot.configured : rep->host.cmdline, ids,
			   size);
}

/* MODPROBE's text without the ids= of its "options vfio-pci" lines (a line left without
 * options goes); NULL without memory. */
static char *modprobe_without_ids(const char *old, size_t old_len, size_t *ret_len)
{
	char *out = malloc(old_len + 1);
	size_t off = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < old_len;) {
		const char *line = old + i, *nl = memchr(line, '\n', old_len - i);
		size_t n = nl ? (size_t)(nl - line) + 1 : old_len - i;
		char buf[1024], mod[64], rest[1024], kept[1024] = "", *save = NULL;

		i += n;
		if (n < sizeof(buf))
			str_copy_n(buf, sizeof(buf), line, n);
		if (n >= sizeof(buf) || sscanf(buf, " options %63s %1023[^\n]", mod, rest) != 2 ||
		    (strcmp(mod, "vfio-pci") && strcmp(mod, "vfio_pci")) || !strstr(rest, "ids=")) {
			memcpy(out + off, line, n);
			off += n;
			continue;
		}
		for (char *w = strtok_r(rest, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			if (!str_has_prefix(w, "ids="))
				snprintf(kept + strlen(kept), sizeof(kept) - strlen(kept), " %s", w);
		/* no longer than the line: its ids= word goes, one blank between the others */
		if (kept[0])
			off += (size_t)snprintf(out + off, old_len + 1 - off, "options %s%s\n", mod,
						kept);
	}
	out[off] = '\0';
	*ret_len = off;
	return out;
}

/* The key of an INI line ("ids" for "  ids = x"), "" for others. */
static void ini_key(const char *line, size_t len, char *key, size_t size)
{
	size_t i = 0, k = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < len && line[i] != '=' && line[i] != ' ' && line[i] != '\t' && k + 1 < size)
		key[k++] = line[i++];
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	key[i < len && line[i] == '=' ? k : 0] = '\0';
}

static bool one_of(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(key, *list))
			return true;
	return false;
}

static const char *const early_keys[] = { "ids", "addresses", NULL };
static const char *const sriov_keys[] = { "pf", "vfs", NULL };

/* The INI's text with the keys DROP (NULL-terminated) of its section SECTION ("[early]")
 * replaced by NEWLINES; the section is added at the end when there is none. */
static char *ini_with_section(const char *old, size_t old_len, const char *section,
			      const char *const *drop, const char *newlines, size_t *ret_len)
{
	size_t slen = strlen(section);
	size_t cap = old_len + strlen(newlines) + strlen(section) + 16, off = 0;
	char *out = malloc(cap);
	const char *s = old ? old : "", *end = s + old_len;
	bool in_sec = false, placed = false;

	if (!out)
		return NULL;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl + 1 : end;
		size_t len = (size_t)(e - s);
		char key[32];
		const char *t = s;

		while (t < e && (*t == ' ' || *t == '\t'))
			t++;
		if (t < e && *t == '[') {
			if (in_sec && !placed) {
				off += (size_t)snprintf(out + off, cap - off, "%s", newlines);
				placed = true;
			}
			in_sec = strncmp(t, section, slen) == 0;
			memcpy(out + off, s, len);
			off += len;
			if (len && out[off - 1] != '\n')
				out[off++] = '\n';
			if (in_sec && !placed) {
				off += (size_t)snprintf(out + off, cap - off, "%s", newlines);
				placed = true;
			}
			s = e;
			continue;
		}
		ini_key(s, len, key, sizeof(key));
		if (in_sec && key[0] && one_of(key, drop)) {
			s = e;
			continue;
		}
		memcpy(out + off, s, len);
		off += len;
		s = e;
	}
	if (!placed) {
		if (off && out[off - 1] != '\n')
			out[off++] = '\n';
		off += (size_t)snprintf(out + off, cap - off, "%s%s\n%s", off ? "\n" : "", section,
					newlines);
	}
	out[off] = '\0';
	*ret_len = off;
	return out;
}

/* Adds the comma-separated ids MORE to IDS (each once). */
static void add_ids(char *ids, size_t size, const char *more)
{
	char copy[512], *save = NULL;

	str_copy(copy, sizeof(copy), more);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(ids);

		if (!strstr(ids, t) && len + strlen(t) + 2 < size)
			snprintf(ids + len, size - len, "%s%s", len ? "," : "", t);
	}
}

/* --early ADDR beside a vfio-pci.ids= (command line or modprobe.d) that would still take the
 * identical card at boot: the command line's goes (plan_cmdline), modprobe.d's ids= is taken
 * out of its options line (the file is one more change), and the ids of theirs that take no
 * such card are added to IDS ([early] ids) so that they are still bound at boot. */
static int plan_early_ids(const struct sysroot *sr, struct setup_plan *p, const char *addrs,
			  char *ids, size_t isize)
{
	char list[512], keep[512], file[SR_PATH_MAX];
	int r;

	if (boot_ids(p->rep, list, sizeof(list)) &&
	    ids_take_other(p->rep->db, list, addrs, keep, sizeof(keep))) {
		add_note(p, "vfio-pci.ids=%s on the kernel command line would still bind the identical "
			    "card at boot: it goes%s%s", list, keep[0] ? "; [early] ids keeps " : "",
			 keep);
		add_ids(ids, isize, keep);
	}
	if (modprobe_ids(sr, file, sizeof(file), list, sizeof(list)) &&
	    ids_take_other(p->rep->db, list, addrs, keep, sizeof(keep))) {
		char *old = NULL, *text;
		size_t old_len, len;
		mode_t mode;

		if ((r = read_target(sr, p, file, &old, &old_len, &mode)) < 0)
			return r;
		text = old ? modprobe_without_ids(old, old_len, &len) : NULL;
		free(old);
		if (!text)
			return -ENOMEM;
		add_note(p, "'%s' binds ids %s to vfio-pci, the identical card too: its ids= goes%s%s",
			 file, list, keep[0] ? "; [early] ids keeps " : "", keep);
		add_ids(ids, isize, keep);
		if ((r = add_change(sr, p, SETUP_EARLY, file, text, len)) < 0)
			return r;
	}
	return 0;
}

/* The INI CONFIG with SECTION's keys DROP replaced by LINES, as a change of KIND; refused when
 * the result does not parse (what the hookscript, the boot unit and the initramfs read). */
static int plan_ini(const struct sysroot *sr, struct setup_plan *p, const char *config,
		    enum setup_kind kind, const char *section, const char *const *drop,
		    const char *lines)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	char *old = NULL, *text, err[256];
	size_t old_len, len;
	mode_t mode;
	int r;

	if (!cfg)
		return -ENOMEM;
	r = read_target(sr, p, config, &old, &old_len, &mode);
	if (r < 0)
		return r;
	text = ini_with_section(old, old_len, section, drop, lines, &len);
	free(old);
	if (!text)
		return -ENOMEM;
	if (cfg_parse(text, config, cfg, err, sizeof(err)) < 0) {
		refuse(p, "%s (the INI as setup would write it)", err);
		free(text);
		return -EINVAL;
	}
	return add_change(sr, p, kind, config, text, len);
}

static int plan_early(const struct sysroot *sr, struct setup_plan *p, const struct setup_opts *a,
		      const char *config)
{
	char addrs[CONFIG_MAX_EARLY * (PCI_ADDR_LEN + 1)], ids[CONFIG_MAX_EARLY * 10 + 1];
	char lines[sizeof(addrs) + sizeof(ids) + 32];
	int r;

	if (!a->nearly)
		return 0;
	r = early_values(p, a, addrs, sizeof(addrs), ids, sizeof(ids));
	if (r < 0)
		return r;
	if (addrs[0] && (r = plan_early_ids(sr, p, addrs, ids, sizeof(ids))) < 0)
		return r;
	snprintf(lines, sizeof(lines), "%s%s%s%s%s%s", ids[0] ? "ids = " : "", ids,
		 ids[0] ? "\n" : "", addrs[0] ? "addresses = " : "", addrs, addrs[0] ? "\n" : "");
	return plan_ini(sr, p, config, SETUP_EARLY, "[early]", early_keys, lines);
}

/* TEXT without its lines that set an attribute sriov_* of PF (a sysfsutils line such as
 * "bus/pci/devices/0000:00:02.0/sriov_numvfs = 7"; comments stay); NULL when none does. */
static char *without_pf_lines(const char *text, size_t len, const char *pf, size_t *ret_len)
{
	char *out = malloc(len + 1), needle[PCI_ADDR_LEN + 16];
	const char *s = text, *end = text + len;
	size_t off = 0;
	bool dropped = false;

	if (!out)
		return NULL;
	snprintf(needle, sizeof(needle), "%s/sriov_", pf);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *e = nl ? nl + 1 : end;
		const char *t = s;
		char line[1024];

		while (t < e && (*t == ' ' || *t == '\t'))
			t++;
		snprintf(line, sizeof(line), "%.*s", (int)(e - s), s);
		if (t < e && *t != '#' && strstr(line, needle)) {
			dropped = true;
		} else {
			memcpy(out + off, s, (size_t)(e - s));
			off += (size_t)(e - s);
		}
		s = e;
	}
	out[off] = '\0';
	*ret_len = off;
	if (!dropped) {
		free(out);
		return NULL;
	}
	return out;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sysfsutils files' lines for PF go (each file a change of kind sriov). */
static int plan_sysfsutils(const struct sysroot *sr, struct setup_plan *p, const char *pf)
{
	char paths[8][SR_PATH_MAX], *sorted[8];
	struct dirent *de;
	int n = 0, r = 0;
	DIR *d;

	str_copy(paths[n++], SR_PATH_MAX, "/etc/sysfs.conf");
	if ((d = sr_opendir(sr, "/etc/sysfs.d"))) {
		while ((de = readdir(d)) && n < (int)ARRAY_SIZE(paths)) {
			size_t len = strlen(de->d_name);

			if (len > 5 && !strcmp(de->d_name + len - 5, ".conf") &&
			    sr_path(paths[n], "/etc/sysfs.d/%s", de->d_name) == 0)
				n++;
		}
		closedir(d);
	}
	for (int i = 0; i < n; i++)
		sorted[i] = paths[i];
	qsort(sorted + 1, (size_t)(n - 1), sizeof(sorted[0]), cmp_name);
	for (int i = 0; i < n && r >= 0; i++) {
		char *old = NULL, *text;
		size_t old_len = 0, len;
		mode_t mode;

		if (!sr_exists(sr, sorted[i]))
			continue;
		if ((r = read_target(sr, p, sorted[i], &old, &old_len, &mode)) < 0)
			break;
		text = old ? without_pf_lines(old, old_len, pf, &len) : NULL;
		free(old);
		if (text)
			r = add_change(sr, p, SETUP_SRIOV, sorted[i], text, len);
	}
	return r < 0 ? r : 0;
}

/* --sriov ADDR=N: [sriov] pf = ADDR, vfs = N in the INI (its driver key kept), and no
 * sysfsutils line for that PF. */
static int plan_sriov(const struct sysroot *sr, struct setup_plan *p, const struct setup_opts *a,
		      const char *config)
{
	const char *eq = a->sriov ? strchr(a->sriov, '=') : NULL;
	char addr[32], pf[PCI_ADDR_LEN], lines[96];
	struct sriov_info si;
	struct pci_addr pa;
	unsigned long n;
	bool has_func;
	int r;

	if (!a->sriov)
		return 0;
	if (!eq || (size_t)(eq - a->sriov) >= sizeof(addr) ||
	    parse_ulong(eq + 1, 10, CONFIG_MAX_VFS, &n) < 0 || n == 0) {
		refuse(p, "--sriov %s: give ADDR=N, the PF's address and a VF count from 1 to %d",
		       a->sriov, CONFIG_MAX_VFS);
		return -EINVAL;
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)(eq - a->sriov), a->sriov);
	if (pci_addr_parse_loose(addr, &pa, &has_func) < 0) {
		refuse(p, "--sriov %s: '%s' is not a PCI address", a->sriov, addr);
		return -EINVAL;
	}
	pci_addr_fmt(&pa, pf);
	if (quirks_sriov(sr, pf, &si) < 0) {
		refuse(p, "--sriov %s: no such device %s (pve-gpu-passthrough list --all shows the "
			  "addresses)", a->sriov, pf);
		return -ENODEV;
	}
	if (si.is_vf) {
		refuse(p, "--sriov %s: %s is a VF of %s; name the PF", a->sriov, pf, si.pf);
		return -EINVAL;
	}
	if (si.totalvfs <= 0 || n > (unsigned long)si.totalvfs) {
		if (si.totalvfs <= 0)
			refuse(p, "--sriov %s: %s cannot make VFs now (no sriov_totalvfs: load its "
				  "driver with SR-IOV first, see pve-gpu-passthrough check)", a->sriov,
			       pf);
		else
			refuse(p, "--sriov %s: %s offers at most %d VFs", a->sriov, pf, si.totalvfs);
		return -ERANGE;
	}
	snprintf(lines, sizeof(lines), "pf = %s\nvfs = %lu\n", pf, n);
	if ((r = plan_ini(sr, p, config, SETUP_SRIOV, "[sriov]", sriov_keys, lines)) < 0)
		return r;
	return plan_sysfsutils(sr, p, pf);
}

const struct setup_command *setup_boot_refresh(const struct host_boot *b)
{
	return b->kind == BOOT_SYSTEMD_BOOT || b->proxmox_boot_tool ? &cmd_pbt_refresh :
								      &cmd_update_grub;
}

const struct setup_command *setup_initramfs_refresh(void)
{
	return &cmd_initramfs;
}

int setup_plan_make(const struct sysroot *sr, const struct setup_opts *a, struct setup_plan *p)
{
	struct check_opts o = { .config = a->config, .node = a->node };
	const char *config = a->config ? a->config : CONFIG_DEFAULT_PATH;
	bool boot = false, early = false;
	int r;

	r = checks_run(sr, &o, &p->rep);
	if (r < 0)
		return r;
	if (plan_cmdline(sr, p, a) < 0 || plan_modules(sr, p) < 0 ||
	    plan_early(sr, p, a, config) < 0 || plan_sriov(sr, p, a, config) < 0)
		return p->refused[0] ? 0 : -ENOMEM;
	for (int i = 0; i < p->nch; i++) {
		boot |= p->ch[i].kind == SETUP_BOOT;
		early |= p->ch[i].kind == SETUP_EARLY;
	}
	if (early)
		p->cmds[p->ncmds++] = &cmd_initramfs;
	if (boot)
		p->cmds[p->ncmds++] = setup_boot_refresh(&p->rep->boot);
	return 0;
}
