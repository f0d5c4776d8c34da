/* cmd_setup.c - `setup [--dry-run] [--yes] [--json] [--early ADDR|ID...] [--no-fb]` and
 * `setup --undo`: the host side of passthrough done, not only described.
 *
 * Decisions (documented in pve-gpu-passthrough(8), "setup"):
 *  1. The kernel command line change is the one `check` asks for, all at once (checks_run,
 *     then bootcfg_edit on the boot loader's line): no second copy of that logic. The
 *     framebuffer parameter (initcall_blacklist=sysfb_init) removes the host's boot console,
 *     so it is added only with --no-fb, and only on kernels where it is known to work
 *     (bootcfg_fb_param).
 *  2. Files it may write: the boot loader's file (host_boot.h), our own
 *     /etc/modules-load.d/pve-gpu-passthrough.conf (the vfio modules at boot), and with
 *     --early the [early] section of our INI. Anything bootcfg_editable refuses, a file that
 *     is a symlink or not owned by root, is refused with one line naming it.
 *  3. Every change is shown first (a unified diff per file, the commands), then asked for
 *     (--yes: not asked; --dry-run and --json without --yes: stop there).
 *  4. Before a file changes, its original and what we write go to BACKUP_DIR, listed in
 *     MANIFEST; then the file is replaced atomically (sr_write_file_atomic: temp file, fsync,
 *     rename). A second setup keeps the first original. --undo puts back each original whose
 *     file still holds, byte for byte, what setup wrote; a file edited since is left alone and
 *     named.
 *  5. The refresh commands (update-initramfs -u -k all when the INI changed, then update-grub
 *     or proxmox-boot-tool refresh when the boot loader's file changed) are run by absolute
 *     path with a fixed environment, and only when the root is this machine's "/": below a
 *     test root they are listed as not run. A failing command restores the files as they were
 *     before this run and reruns the commands that had already succeeded.
 * Exit 0 done (or nothing to change), 1 refused or failed, 64 bad command line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_boot.h"
#include "cfg_ini.h"
#include "check_list.h"
#include "cli.h"
#include "dev_bind.h"
#include "json.h"
#include "pci_db.h"
#include "pciaddr.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"
#define BACKUP_DIR "/var/lib/pve-gpu-passthrough/backup"
#define MANIFEST BACKUP_DIR "/manifest"
#define MODULES_FILE "/etc/modules-load.d/pve-gpu-passthrough.conf"
#define FILE_MAX (1u << 20)
#define MAX_FILES 4
#define MAX_ENTRIES 16 /* in the manifest: files of several setups, directories */
#define OUTPUT_KEEP 4096 /* what a failed command printed, its last bytes */

enum file_kind { KIND_BOOT, KIND_MODULES, KIND_EARLY };
static const char *const kind_names[] = { "boot", "modules", "early" };

/* One file setup changes. */
struct change {
	enum file_kind kind;
	char path[SR_PATH_MAX];
	char *old;        /* the file as it is; NULL when it does not exist */
	size_t old_len;
	char *new;        /* what setup writes */
	size_t new_len;
	mode_t mode;      /* the mode it keeps (0644 for a new file) */
};

/* A refresh command. */
struct command {
	const char *text;         /* as shown: "update-grub" */
	const char *argv[4];      /* argv[0] is a name looked up in SBIN_DIRS */
};

static const struct command cmd_update_grub = { "update-grub", { "update-grub", NULL } };
static const struct command cmd_pbt_refresh = { "proxmox-boot-tool refresh",
						 { "proxmox-boot-tool", "refresh", NULL } };
static const struct command cmd_initramfs = { "update-initramfs -u -k all",
					       { "update-initramfs", "-u", "-k", "all" } };

struct plan {
	struct check_report *rep;
	char add[1024], remove[256];
	struct change ch[MAX_FILES];
	int nch;
	const struct command *cmds[2];
	int ncmds;
	char notes[4][512];
	int nnotes;
	char refused[SR_PATH_MAX + 256]; /* "" when nothing was refused */
};

struct setup_args {
	bool dry_run, yes, json, no_fb, undo;
	char **early;
	int nearly;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " setup [--dry-run] [--yes] [--json] [--no-fb] [--early ADDR|ID...]\n"
		     "       " PROG " setup --undo [--dry-run] [--yes]\n\n"
		     "Make the host changes check asks for: the kernel command line (with its boot\n"
		     "loader's refresh), the vfio modules at boot and, with --early, the [early]\n"
		     "section of the INI (then update-initramfs). Shows each change as a diff first.\n\n"
		     "  -n, --dry-run  show the changes, change nothing\n"
		     "  -y, --yes      do not ask\n"
		     "  -j, --json     the plan as JSON (changes nothing without --yes)\n"
		     "      --no-fb    also add initcall_blacklist=sysfb_init (no boot console on the GPU)\n"
		     "  -e, --early    bind these devices at boot: ADDR (a function, or BUS:SLOT for the\n"
		     "                 whole card) or vendor:device ID (one card only)\n"
		     "  -u, --undo     put back every file setup changed\n"
		     "  -h, --help     this text\n");
}

static void add_note(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(struct plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nnotes >= (int)ARRAY_SIZE(p->notes))
		return;
	va_start(ap, fmt);
	vsnprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), fmt, ap);
	va_end(ap);
}

static void refuse(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->refused[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->refused, sizeof(p->refused), fmt, ap);
	va_end(ap);
}

static void plan_free(struct plan *p)
{
	for (int i = 0; i < p->nch; i++) {
		free(p->ch[i].old);
		free(p->ch[i].new);
	}
	checks_free(p->rep);
}

/* Reads PATH as it is (NULL when missing) with its mode; refuses a symlink, anything but a
 * regular file, and a file not owned by root. 0, or -errno with P->refused set. */
static int read_target(const struct sysroot *sr, struct plan *p, const char *path, char **ret,
		       size_t *ret_len, mode_t *ret_mode)
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
		refuse(p, "'%s': %s", path, sr_strerror(r));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		refuse(p, "'%s' line 1: the file is a symlink; setup replaces only regular files", path);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse(p, "'%s': not a regular file", path);
		return -SR_ENOTREG;
	}
	if (st.st_uid != 0) {
		refuse(p, "'%s' line 1: the file is owned by uid %u, not root", path,
		       (unsigned)st.st_uid);
		return -EPERM;
	}
	r = sr_read_file(sr, path, FILE_MAX, ret, ret_len);
	if (r < 0) {
		refuse(p, "'%s': %s", path, sr_strerror(r));
		return r;
	}
	*ret_mode = st.st_mode & 07777;
	return 0;
}

/* Adds the change of PATH to NEW (taking NEW) when it differs from the file. */
static int add_change(const struct sysroot *sr, struct plan *p, enum file_kind kind,
		      const char *path, char *new, size_t new_len)
{
	struct change *c = &p->ch[p->nch];
	int r;

	if (p->nch >= MAX_FILES) {
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

static int plan_cmdline(const struct sysroot *sr, struct plan *p, const struct setup_args *a)
{
	const struct check_report *rep = p->rep;
	const struct bootcfg *b = &rep->boot;
	const char *fb = bootcfg_fb_param(rep->host.release);
	char line[2 * HI_CMDLINE_MAX], why[SR_PATH_MAX + 256];
	char *text = NULL, *old = NULL;
	size_t len;
	int r;

	str_copy(p->add, sizeof(p->add), rep->cmdline_add);
	str_copy(p->remove, sizeof(p->remove), rep->cmdline_remove);
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
	if (bootcfg_editable(sr, b, why, sizeof(why)) < 0) {
		refuse(p, "%s", why);
		return -EPERM;
	}
	if (!p->add[0] && !p->remove[0])
		return 0;
	r = bootcfg_edit(b, p->add[0] ? p->add : NULL, p->remove[0] ? p->remove : NULL, line,
			 sizeof(line));
	if (r < 0) {
		refuse(p, "'%s' line %d: the new command line does not fit", b->file, b->line);
		return r;
	}
	if (b->line && strcmp(line, b->text) == 0)
		return 0;
	r = bootcfg_render(sr, b, line, &text, &len, &old);
	free(old);
	if (r < 0) {
		refuse(p, "'%s': %s", b->file, r == -ESTALE ? "changed while setup read it" :
			  sr_strerror(r));
		return r;
	}
	return add_change(sr, p, KIND_BOOT, b->file, text, len);
}

static int plan_modules(const struct sysroot *sr, struct plan *p)
{
	char text[512];
	size_t off;

	off = (size_t)snprintf(text, sizeof(text),
			       "# The vfio modules at boot, for GPU passthrough. Written by "
			       "pve-gpu-passthrough setup;\n# 'pve-gpu-passthrough setup --undo' "
			       "removes it.\n");
	for (int i = 0; i < BIND_NVFIO_MODULES; i++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n",
					bind_vfio_modules[i].name);
		/* kmod names: vfio_pci */
		for (char *q = text + off - 2; q >= text && *q != '\n'; q--)
			if (*q == '-')
				*q = '_';
	}
	char *copy = strdup(text);

	if (!copy)
		return -ENOMEM;
	return add_change(sr, p, KIND_MODULES, MODULES_FILE, copy, off);
}

/* Resolves the --early arguments into the INI values ADDRS and IDS (comma-separated). */
static int early_values(struct plan *p, const struct setup_args *a, char *addrs, size_t asize,
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

/* The INI's text with its [early] section's ids/addresses replaced by NEWLINES. */
static char *ini_with_early(const char *old, size_t old_len, const char *newlines, size_t *ret_len)
{
	size_t cap = old_len + strlen(newlines) + 16, off = 0;
	char *out = malloc(cap);
	const char *s = old ? old : "", *end = s + old_len;
	bool in_early = false, placed = false;

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
			if (in_early && !placed) {
				off += (size_t)snprintf(out + off, cap - off, "%s", newlines);
				placed = true;
			}
			in_early = strncmp(t, "[early]", 7) == 0;
			memcpy(out + off, s, len);
			off += len;
			if (len && out[off - 1] != '\n')
				out[off++] = '\n';
			if (in_early && !placed) {
				off += (size_t)snprintf(out + off, cap - off, "%s", newlines);
				placed = true;
			}
			s = e;
			continue;
		}
		ini_key(s, len, key, sizeof(key));
		if (in_early && (!strcmp(key, "ids") || !strcmp(key, "addresses"))) {
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
		off += (size_t)snprintf(out + off, cap - off, "%s[early]\n%s", off ? "\n" : "",
					newlines);
	}
	out[off] = '\0';
	*ret_len = off;
	return out;
}

static int plan_early(const struct sysroot *sr, struct plan *p, const struct setup_args *a,
		      const char *config)
{
	char addrs[CONFIG_MAX_EARLY * (PCI_ADDR_LEN + 1)], ids[CONFIG_MAX_EARLY * 10 + 1];
	char lines[sizeof(addrs) + sizeof(ids) + 32];
	char *old = NULL, *text;
	size_t old_len, len;
	mode_t mode;
	int r;

	if (!a->nearly)
		return 0;
	r = early_values(p, a, addrs, sizeof(addrs), ids, sizeof(ids));
	if (r < 0)
		return r;
	snprintf(lines, sizeof(lines), "%s%s%s%s%s%s", ids[0] ? "ids = " : "", ids,
		 ids[0] ? "\n" : "", addrs[0] ? "addresses = " : "", addrs, addrs[0] ? "\n" : "");
	r = read_target(sr, p, config, &old, &old_len, &mode);
	if (r < 0)
		return r;
	text = ini_with_early(old, old_len, lines, &len);
	free(old);
	if (!text)
		return -ENOMEM;
	{
		/* what the hookscript and the initramfs will read must parse */
		_cleanup_free_ struct pgp_config *cfg = calloc(1, sizeof(*cfg));
		char err[256];

		if (!cfg) {
			free(text);
			return -ENOMEM;
		}
		if (config_parse(text, config, cfg, err, sizeof(err)) < 0) {
			refuse(p, "%s (the INI as setup would write it)", err);
			free(text);
			return -EINVAL;
		}
	}
	return add_change(sr, p, KIND_EARLY, config, text, len);
}

static int make_plan(struct cli_globals *g, const struct setup_args *a, struct plan *p)
{
	const struct sysroot *sr = &g->root;
	struct check_opts o = { .config = g->config, .node = g->node };
	const char *config = g->config ? g->config : CONFIG_DEFAULT_PATH;
	bool boot = false, early = false;
	int r;

	r = checks_run(sr, &o, &p->rep);
	if (r < 0)
		return r;
	if (plan_cmdline(sr, p, a) < 0 || plan_modules(sr, p) < 0 || plan_early(sr, p, a, config) < 0)
		return p->refused[0] ? 0 : -ENOMEM;
	for (int i = 0; i < p->nch; i++) {
		boot |= p->ch[i].kind == KIND_BOOT;
		early |= p->ch[i].kind == KIND_EARLY;
	}
	if (early)
		p->cmds[p->ncmds++] = &cmd_initramfs;
	if (boot)
		p->cmds[p->ncmds++] = p->rep->boot.kind == BOOT_SYSTEMD_BOOT ||
					      p->rep->boot.proxmox_boot_tool ?
					      &cmd_pbt_refresh : &cmd_update_grub;
	return 0;
}

/* --- showing ------------------------------------------------------------------------------ */

/* Splits TEXT into lines (pointers into it, the '\n' kept out); the count. */
static int split_lines(const char *text, size_t len, const char ***ret, size_t **ret_len)
{
	int n = 0, cap = 16;
	const char **l = malloc(sizeof(*l) * (size_t)cap);
	size_t *ll = malloc(sizeof(*ll) * (size_t)cap);
	const char *s = text ? text : "", *end = s + (text ? len : 0);

	if (!l || !ll) {
		free(l);
		free(ll);
		return -ENOMEM;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;

		if (n == cap) {
			const char **l2;
			size_t *ll2;

			cap *= 2;
			l2 = realloc(l, sizeof(*l) * (size_t)cap);
			if (l2)
				l = l2;
			ll2 = realloc(ll, sizeof(*ll) * (size_t)cap);
			if (ll2)
				ll = ll2;
			if (!l2 || !ll2) {
				free(l);
				free(ll);
				return -ENOMEM;
			}
		}
		l[n] = s;
		ll[n++] = (size_t)(e - s);
		s = nl ? nl + 1 : end;
	}
	*ret = l;
	*ret_len = ll;
	return n;
}

/* "START,COUNT" as diff -u writes it: ",1" left out, an empty range starts before line 1. */
static void hunk_range(FILE *out, int from, int count)
{
	if (count == 1)
		fprintf(out, "%d", from + 1);
	else
		fprintf(out, "%d,%d", count ? from + 1 : from, count);
}

/* A unified diff of C as one hunk: the lines between the first and the last that differ,
 * with 3 lines of context (setup's edits are one contiguous region per file). */
static void print_diff(FILE *out, const struct change *c)
{
	const char **a = NULL, **b = NULL;
	size_t *al = NULL, *bl = NULL;
	int na = split_lines(c->old, c->old_len, &a, &al);
	int nb = split_lines(c->new, c->new_len, &b, &bl);
	int pre = 0, suf = 0, from, ato, bto;

	if (na < 0 || nb < 0) {
		fprintf(out, "(out of memory)\n");
		goto out;
	}
	while (pre < na && pre < nb && al[pre] == bl[pre] && !memcmp(a[pre], b[pre], al[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && al[na - 1 - suf] == bl[nb - 1 - suf] &&
	       !memcmp(a[na - 1 - suf], b[nb - 1 - suf], al[na - 1 - suf]))
		suf++;
	from = pre > 3 ? pre - 3 : 0;
	ato = na - suf + 3 < na ? na - suf + 3 : na;
	bto = nb - suf + 3 < nb ? nb - suf + 3 : nb;
	fprintf(out, "--- %s\n+++ %s\n", c->old ? c->path : "/dev/null", c->path);
	fprintf(out, "@@ -");
	hunk_range(out, from, ato - from);
	fprintf(out, " +");
	hunk_range(out, from, bto - from);
	fprintf(out, " @@\n");
	for (int i = from; i < pre; i++)
		fprintf(out, " %.*s\n", (int)al[i], a[i]);
	for (int i = pre; i < na - suf; i++)
		fprintf(out, "-%.*s\n", (int)al[i], a[i]);
	for (int i = pre; i < nb - suf; i++)
		fprintf(out, "+%.*s\n", (int)bl[i], b[i]);
	for (int i = na - suf; i < ato; i++)
		fprintf(out, " %.*s\n", (int)al[i], a[i]);
out:
	free(a);
	free(al);
	free(b);
	free(bl);
}

static void print_plan(FILE *out, const struct plan *p)
{
	const struct check_report *rep = p->rep;

	fprintf(out, "setup: kernel %s, boot loader %s\n", rep->host.release[0] ? rep->host.release :
		"unknown", boot_kind_name(rep->boot.kind));
	for (int i = 0; i < p->nnotes; i++)
		fprintf(out, "note: %s\n", p->notes[i]);
	if (p->refused[0])
		return;
	for (int i = 0; i < p->nch; i++) {
		fputc('\n', out);
		print_diff(out, &p->ch[i]);
	}
	if (p->ncmds) {
		fprintf(out, "\nthen run:\n");
		for (int i = 0; i < p->ncmds; i++)
			fprintf(out, "    %s\n", p->cmds[i]->text);
	}
}

static void json_diff(FILE *out, const struct change *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m) {
		fprintf(out, "null");
		return;
	}
	print_diff(m, c);
	fclose(m);
	json_str(out, buf);
	free(buf);
}

static void print_json(FILE *out, const struct plan *p, bool applied, int rc)
{
	const struct bootcfg *b = &p->rep->boot;

	fprintf(out, "{\"version\":1,\"kernel\":");
	json_str(out, p->rep->host.release[0] ? p->rep->host.release : NULL);
	fprintf(out, ",\"boot\":{\"loader\":");
	json_str(out, b->kind == BOOT_GRUB ? "grub" : b->kind == BOOT_SYSTEMD_BOOT ? "systemd-boot" :
		 NULL);
	fprintf(out, ",\"file\":");
	json_str(out, b->kind == BOOT_UNKNOWN ? NULL : b->file);
	fprintf(out, ",\"line\":%d,\"refresh\":", b->line);
	json_str(out, b->refresh[0] ? b->refresh : NULL);
	fprintf(out, "},\"add\":");
	json_str(out, p->add);
	fprintf(out, ",\"remove\":");
	json_str(out, p->remove);
	fprintf(out, ",\"refused\":");
	json_str(out, p->refused[0] ? p->refused : NULL);
	fprintf(out, ",\"notes\":[");
	for (int i = 0; i < p->nnotes; i++) {
		fprintf(out, "%s", i ? "," : "");
		json_str(out, p->notes[i]);
	}
	fprintf(out, "],\"files\":[");
	for (int i = 0; !p->refused[0] && i < p->nch; i++) {
		fprintf(out, "%s{\"path\":", i ? "," : "");
		json_str(out, p->ch[i].path);
		fprintf(out, ",\"kind\":\"%s\",\"action\":\"%s\",\"diff\":", kind_names[p->ch[i].kind],
			p->ch[i].old ? "modify" : "create");
		json_diff(out, &p->ch[i]);
		fprintf(out, "}");
	}
	fprintf(out, "],\"commands\":[");
	for (int i = 0; !p->refused[0] && i < p->ncmds; i++) {
		fprintf(out, "%s", i ? "," : "");
		json_str(out, p->cmds[i]->text);
	}
	fprintf(out, "],\"applied\":%s,\"exit\":%d}\n", applied ? "true" : "false", rc);
}

/* --- doing ---------------------------------------------------------------------------------- */

/* Runs CMD by absolute path with a fixed environment, its output into KEEP (the last
 * OUTPUT_KEEP bytes). The exit status, or -errno when it could not run. */
static int run_refresh(const struct command *cmd, char *keep, size_t ksize)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	char path[256] = "", buf[1024];
	size_t have = 0;
	int pfd[2], status;
	pid_t pid;

	keep[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !path[0]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], cmd->argv[0]);
		if (access(path, X_OK) < 0)
			path[0] = '\0';
	}
	if (!path[0])
		return -ENOENT;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execve(path, (char *const *)cmd->argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* keep the tail: a chunk is smaller than KEEP, so it only pushes old bytes out */
		if ((size_t)n > ksize - 1)
			n = (ssize_t)(ksize - 1);
		if (have + (size_t)n > ksize - 1) {
			size_t drop = have + (size_t)n - (ksize - 1);

			memmove(keep, keep + drop, have - drop);
			have -= drop;
		}
		memcpy(keep + have, buf, (size_t)n);
		have += (size_t)n;
		keep[have] = '\0';
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void print_output(const char *text)
{
	const char *s = text;

	while (*s) {
		const char *nl = strchr(s, '\n');
		int len = nl ? (int)(nl - s) : (int)strlen(s);

		fprintf(stderr, "    %.*s\n", len, s);
		s += len + (nl ? 1 : 0);
	}
}

/* Runs the commands (only on this machine's own root). 0, or -1 after a failure with
 * *FAILED its index. */
static int run_all(const struct sysroot *sr, const struct command *const *cmds, int n, int *failed,
		   bool quiet)
{
	char keep[OUTPUT_KEEP];

	for (int i = 0; i < n; i++) {
		int r;

		if (!sr_is_host(sr)) {
			if (!quiet)
				printf("not run (the root is '%s', not this machine's /): %s\n", sr->dir,
				       cmds[i]->text);
			continue;
		}
		if (!quiet)
			printf("running: %s\n", cmds[i]->text);
		r = run_refresh(cmds[i], keep, sizeof(keep));
		if (r != 0) {
			if (r < 0)
				fprintf(stderr, PROG ": cannot run '%s': %s\n", cmds[i]->text,
					r == -ENOENT ? "not found in /usr/sbin, /sbin, /usr/bin or /bin" :
						       strerror(-r));
			else
				fprintf(stderr, PROG ": '%s' failed with exit status %d; it printed:\n",
					cmds[i]->text, r);
			print_output(keep);
			*failed = i;
			return -1;
		}
	}
	return 0;
}

/* The manifest: what --undo puts back. "file N KIND present|absent PATH" per file (N.orig is
 * the original, N.new what setup wrote). */
struct entry {
	int n;             /* 0 for a directory */
	enum file_kind kind;
	bool present;
	bool dir;          /* "dir PATH": a directory setup created (removed when empty) */
	char path[SR_PATH_MAX];
};

static int read_manifest(const struct sysroot *sr, struct entry *e, int max)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int n = 0, r;

	r = sr_read_file(sr, MANIFEST, 1u << 16, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		char kind[16], state[16];
		int off = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (n == max)
			return -E2BIG; /* more than setup ever writes */
		if (str_has_prefix(line, "dir /")) {
			e[n] = (struct entry){ .dir = true };
			if (str_copy(e[n].path, sizeof(e[n].path), line + 4) < 0)
				return -EINVAL;
			n++;
			continue;
		}
		e[n] = (struct entry){ 0 };
		if (sscanf(line, "file %d %15s %15s %n", &e[n].n, kind, state, &off) != 3 || !off ||
		    e[n].n < 1 || e[n].n > 99 || line[off] != '/')
			return -EINVAL;
		e[n].kind = !strcmp(kind, "boot") ? KIND_BOOT : !strcmp(kind, "early") ? KIND_EARLY :
			    KIND_MODULES;
		e[n].present = !strcmp(state, "present");
		if (str_copy(e[n].path, sizeof(e[n].path), line + off) < 0)
			return -EINVAL;
		n++;
	}
	return n;
}

static int write_manifest(const struct sysroot *sr, const struct entry *e, int n)
{
	char text[MAX_ENTRIES * (SR_PATH_MAX + 40) + 128];
	size_t off;

	if (!n) {
		int r = sr_unlink(sr, MANIFEST);

		return r == -ENOENT ? 0 : r;
	}
	off = (size_t)snprintf(text, sizeof(text), "# pve-gpu-passthrough setup: the files "
				"'setup --undo' puts back (N.orig: before, N.new: what setup wrote)\n");
	for (int i = 0; i < n && off < sizeof(text); i++)
		if (e[i].dir)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "dir %s\n", e[i].path);
		else
			off += (size_t)snprintf(text + off, sizeof(text) - off, "file %d %s %s %s\n",
						e[i].n, kind_names[e[i].kind],
						e[i].present ? "present" : "absent", e[i].path);
	if (off >= sizeof(text))
		return -ENOSPC;
	return sr_write_file_atomic(sr, MANIFEST, text, off, 0600);
}

static int backup_path(char out[SR_PATH_MAX], int n, const char *what)
{
	return sr_path(out, BACKUP_DIR "/%d.%s", n, what);
}

/* Puts the files of P back as they were before this run. */
static void restore(const struct sysroot *sr, const struct plan *p, int upto)
{
	for (int i = 0; i < upto; i++) {
		const struct change *c = &p->ch[i];
		int r = c->old ? sr_write_file_atomic(sr, c->path, c->old, c->old_len, c->mode) :
				 sr_unlink(sr, c->path);

		if (r < 0 && r != -ENOENT)
			fprintf(stderr, PROG ": cannot restore '%s': %s\n", c->path, strerror(-r));
		else
			fprintf(stderr, PROG ": restored '%s'%s\n", c->path, c->old ? "" : " (removed)");
	}
}

/* After a failed run: the manifest as it was, and the backups of the files that were not in
 * it removed (the directory too when that leaves it empty). */
static void forget_run(const struct sysroot *sr, const struct entry *e, int ne,
		       const struct entry *before, int nbefore)
{
	char path[SR_PATH_MAX];

	write_manifest(sr, before, nbefore);
	for (int i = ne - 1; i >= nbefore; i--) {
		if (e[i].dir) {
			sr_rmdir(sr, e[i].path); /* created by this run (restore emptied it) */
			continue;
		}
		if (backup_path(path, e[i].n, "orig") == 0)
			sr_unlink(sr, path);
		if (backup_path(path, e[i].n, "new") == 0)
			sr_unlink(sr, path);
	}
	if (!nbefore)
		sr_rmdir(sr, BACKUP_DIR);
}

static int apply(const struct sysroot *sr, const struct plan *p)
{
	struct entry e[MAX_ENTRIES], before[MAX_ENTRIES];
	int ne, nbefore, r, failed = -1, written = 0;
	char path[SR_PATH_MAX];

	r = sr_mkdir_p(sr, "/var/lib/pve-gpu-passthrough", 0755);
	if (r == 0)
		r = sr_mkdir_p(sr, BACKUP_DIR, 0700);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot create '%s': %s\n", BACKUP_DIR, strerror(-r));
		return 1;
	}
	ne = read_manifest(sr, e, MAX_ENTRIES - 2 * MAX_FILES);
	if (ne < 0) {
		fprintf(stderr, PROG ": cannot read '%s': %s\n", MANIFEST, strerror(-ne));
		return 1;
	}
	memcpy(before, e, sizeof(e));
	nbefore = ne;
	/* 1. the backups and the manifest, before any file changes */
	for (int i = 0; i < p->nch; i++) {
		const struct change *c = &p->ch[i];
		int k, n = 1;

		for (k = 0; k < ne && (e[k].dir || strcmp(e[k].path, c->path)); k++)
			;
		if (k == ne) {
			for (int j = 0; j < ne; j++)
				if (e[j].n >= n)
					n = e[j].n + 1;
			e[ne] = (struct entry){ .n = n, .kind = c->kind, .present = c->old != NULL };
			str_copy(e[ne].path, sizeof(e[ne].path), c->path);
			ne++;
			if (c->old) {
				r = backup_path(path, n, "orig");
				if (r == 0)
					r = sr_write_file_atomic(sr, path, c->old, c->old_len, 0600);
				if (r < 0) {
					fprintf(stderr, PROG ": cannot save '%s' to '%s': %s\n", c->path,
						path, strerror(-r));
					return 1;
				}
			}
		}
		r = backup_path(path, e[k].n, "new");
		if (r == 0)
			r = sr_write_file_atomic(sr, path, c->new, c->new_len, 0600);
		if (r < 0) {
			fprintf(stderr, PROG ": cannot write '%s': %s\n", path, strerror(-r));
			return 1;
		}
	}
	for (int i = 0; i < p->nch; i++) {
		char dir[SR_PATH_MAX], *slash;

		str_copy(dir, sizeof(dir), p->ch[i].path);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir || ne >= (int)ARRAY_SIZE(e))
			continue;
		*slash = '\0';
		if (sr_exists(sr, dir))
			continue;
		e[ne] = (struct entry){ .dir = true };
		str_copy(e[ne++].path, sizeof(e[0].path), dir);
	}
	r = write_manifest(sr, e, ne);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot write '%s': %s\n", MANIFEST, strerror(-r));
		return 1;
	}
	/* 2. the files */
	for (int i = 0; i < p->nch; i++) {
		const struct change *c = &p->ch[i];
		char dir[SR_PATH_MAX], *slash;

		str_copy(dir, sizeof(dir), c->path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			sr_mkdir_p(sr, dir, 0755);
		}
		r = sr_write_file_atomic(sr, c->path, c->new, c->new_len, c->mode);
		if (r < 0) {
			fprintf(stderr, PROG ": cannot write '%s': %s\n", c->path, strerror(-r));
			restore(sr, p, written);
			forget_run(sr, e, ne, before, nbefore);
			return 1;
		}
		written++;
		printf("wrote '%s'%s\n", c->path, c->old ? "" : " (new)");
	}
	/* 3. the refresh commands */
	if (run_all(sr, p->cmds, p->ncmds, &failed, false) < 0) {
		restore(sr, p, written);
		forget_run(sr, e, ne, before, nbefore);
		if (failed > 0) {
			int dummy;

			fprintf(stderr, PROG ": running again what had succeeded, on the restored "
					"files:\n");
			for (int i = 0; i < failed; i++)
				fprintf(stderr, "    %s\n", p->cmds[i]->text);
			run_all(sr, p->cmds, failed, &dummy, true);
		}
		return 1;
	}
	return 0;
}

static int undo(const struct sysroot *sr, const struct setup_args *a)
{
	struct entry e[MAX_ENTRIES], keep[MAX_ENTRIES];
	const struct command *cmds[2];
	bool boot = false, early = false, any = false;
	int ne, nkeep = 0, ncmds = 0, failed, rc = 0;
	char path[SR_PATH_MAX];
	_cleanup_free_ struct bootcfg *b = NULL;

	ne = read_manifest(sr, e, MAX_ENTRIES);
	if (ne < 0) {
		fprintf(stderr, PROG ": cannot read '%s': %s\n", MANIFEST, strerror(-ne));
		return CLI_EXIT_FAIL;
	}
	if (ne == 0) {
		printf("nothing to undo: setup has changed no file ('%s' lists none)\n", MANIFEST);
		return CLI_EXIT_OK;
	}
	for (int i = 0; i < ne; i++) {
		_cleanup_free_ char *cur = NULL, *wrote = NULL, *orig = NULL;
		size_t cur_len = 0, wrote_len = 0, orig_len = 0;
		struct stat st;
		mode_t mode = 0644;
		int r, rc_cur;

		if (e[i].dir)
			continue;
		rc_cur = sr_read_file(sr, e[i].path, FILE_MAX, &cur, &cur_len);
		if (backup_path(path, e[i].n, "new") < 0 ||
		    sr_read_file(sr, path, FILE_MAX, &wrote, &wrote_len) < 0 ||
		    (e[i].present && (backup_path(path, e[i].n, "orig") < 0 ||
				      sr_read_file(sr, path, FILE_MAX, &orig, &orig_len) < 0))) {
			fprintf(stderr, PROG ": the backup of '%s' in '%s' is incomplete: left alone\n",
				e[i].path, BACKUP_DIR);
			keep[nkeep++] = e[i];
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (rc_cur < 0 || cur_len != wrote_len || memcmp(cur, wrote, cur_len) != 0) {
			printf("left alone: '%s' %s since setup wrote it (its original: '%s')\n",
			       e[i].path, rc_cur == -ENOENT ? "was removed" : "was changed",
			       e[i].present ? path : "none, setup created it");
			keep[nkeep++] = e[i];
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (a->dry_run) {
			printf("would %s '%s'\n", e[i].present ? "restore" : "remove", e[i].path);
			keep[nkeep++] = e[i];
			continue;
		}
		if (sr_lstat(sr, e[i].path, &st) == 0)
			mode = st.st_mode & 07777;
		r = e[i].present ? sr_write_file_atomic(sr, e[i].path, orig, orig_len, mode) :
				   sr_unlink(sr, e[i].path);
		if (r < 0) {
			fprintf(stderr, PROG ": cannot restore '%s': %s\n", e[i].path, strerror(-r));
			keep[nkeep++] = e[i];
			rc = CLI_EXIT_FAIL;
			continue;
		}
		printf("%s '%s'\n", e[i].present ? "restored" : "removed", e[i].path);
		any = true;
		boot |= e[i].kind == KIND_BOOT;
		early |= e[i].kind == KIND_EARLY;
		if (backup_path(path, e[i].n, "new") == 0)
			sr_unlink(sr, path);
		if (e[i].present && backup_path(path, e[i].n, "orig") == 0)
			sr_unlink(sr, path);
	}
	if (a->dry_run)
		return rc;
	for (int i = 0; i < ne; i++) {
		int r;

		if (!e[i].dir)
			continue;
		r = sr_rmdir(sr, e[i].path);
		if (r == -ENOTEMPTY || r == -EEXIST)
			keep[nkeep++] = e[i]; /* something else lives there now */
		else if (r == 0)
			printf("removed '%s' (setup created it)\n", e[i].path);
	}
	if (write_manifest(sr, keep, nkeep) < 0)
		fprintf(stderr, PROG ": cannot rewrite '%s'\n", MANIFEST);
	if (!nkeep)
		sr_rmdir(sr, BACKUP_DIR);
	if (!any)
		return rc;
	if (early)
		cmds[ncmds++] = &cmd_initramfs;
	if (boot) {
		struct hostinfo *hi = calloc(1, sizeof(*hi));

		b = calloc(1, sizeof(*b));
		if (!hi || !b || hostinfo_read(sr, hi) < 0 || bootcfg_read(sr, hi, b) < 0 ||
		    b->kind == BOOT_UNKNOWN) {
			free(hi);
			fprintf(stderr, PROG ": cannot tell the boot loader any more: run update-grub "
					"or proxmox-boot-tool refresh yourself\n");
			return CLI_EXIT_FAIL;
		}
		free(hi);
		cmds[ncmds++] = b->kind == BOOT_SYSTEMD_BOOT || b->proxmox_boot_tool ?
					&cmd_pbt_refresh : &cmd_update_grub;
	}
	if (run_all(sr, cmds, ncmds, &failed, false) < 0)
		return CLI_EXIT_FAIL;
	if (boot || early)
		printf("reboot to boot without the changes\n");
	return rc;
}

static bool ask(void)
{
	char line[16];

	printf("\napply these changes? [y/N] ");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void print_after(const struct plan *p)
{
	bool boot = false, modules = false, early = false;

	for (int i = 0; i < p->nch; i++) {
		boot |= p->ch[i].kind == KIND_BOOT;
		modules |= p->ch[i].kind == KIND_MODULES;
		early |= p->ch[i].kind == KIND_EARLY;
	}
	printf("\nreboot for:");
	if (boot)
		printf(" the kernel command line (%s%s%s%s%s)", p->add[0] ? "add " : "", p->add,
		       p->add[0] && p->remove[0] ? ", " : "", p->remove[0] ? "remove " : "", p->remove);
	if (modules)
		printf("%s the vfio modules at boot", boot ? ";" : "");
	if (early)
		printf("%s early binding of the [early] devices", boot || modules ? ";" : "");
	printf("\nthen run: " PROG " check (it verifies each change); "
	       PROG " setup --undo puts the files back\n");
}

static int cmd_setup(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-fb", no_argument, NULL, 'F' },
		{ "early", no_argument, NULL, 'e' },
		{ "undo", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct setup_args a = { 0 };
	struct plan *p;
	bool early_opt = false;
	int c, r, rc;

	optind = 0; /* 0: glibc starts over, permuting (the verb dispatch parsed with "+") */
	while ((c = getopt_long(argc, argv, "nyjeuh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a.dry_run = true; break;
		case 'y': a.yes = true; break;
		case 'j': a.json = true; break;
		case 'F': a.no_fb = true; break;
		case 'e': early_opt = true; break;
		case 'u': a.undo = true; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default:
			return cli_bad_option("setup", argv, opts);
		}
	}
	a.early = argv + optind;
	a.nearly = argc - optind;
	if (a.nearly && !early_opt)
		return cli_unexpected_arg("setup", argv[optind]); /* devices follow --early */
	if (early_opt && !a.nearly) {
		return cli_usage_error("setup", "--early needs at least one ADDR or ID");
	}
	if (a.nearly > CONFIG_MAX_EARLY) {
		return cli_usage_error("setup", "at most %d --early devices", CONFIG_MAX_EARLY);
	}
	if (a.undo && (a.nearly || a.no_fb || a.json)) {
		return cli_usage_error("setup", "--undo takes only --dry-run and --yes");
	}
	if (!a.dry_run && !(a.json && !a.yes) && (r = cli_need_root(g, "setup")))
		return r;
	/* the files keep their modes exactly (sr_write_file_atomic creates with MODE) */
	umask(0);
	if (a.undo)
		return undo(&g->root, &a);

	p = calloc(1, sizeof(*p));
	if (!p) {
		fprintf(stderr, PROG ": out of memory\n");
		return CLI_EXIT_FAIL;
	}
	r = make_plan(g, &a, p);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot examine the host: %s\n", strerror(-r));
		plan_free(p);
		free(p);
		return CLI_EXIT_FAIL;
	}
	if (a.json) {
		rc = p->refused[0] ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		if (!p->refused[0] && a.yes && p->nch && !a.dry_run) {
			/* the plan on stdout stays JSON: what apply says goes to stderr */
			fflush(stdout);
			int saved = dup(1);

			if (saved >= 0 && dup2(2, 1) >= 0) {
				rc = apply(&g->root, p);
				fflush(stdout);
				dup2(saved, 1);
			} else {
				rc = CLI_EXIT_FAIL;
			}
			if (saved >= 0)
				close(saved);
			print_json(stdout, p, rc == 0, rc);
		} else {
			print_json(stdout, p, false, rc);
		}
		goto out;
	}
	print_plan(stdout, p);
	if (p->refused[0]) {
		fprintf(stderr, PROG ": setup refuses: %s\n", p->refused);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (!p->nch) {
		printf("\nnothing to change: the host already has everything setup makes\n");
		if (p->rep->boot.kind != BOOT_UNKNOWN && (p->add[0] || p->remove[0]))
			printf("(the running kernel was booted without some of it: reboot, then run "
			       PROG " check)\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (a.dry_run) {
		printf("\n--dry-run: nothing was changed\n");
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (!a.yes) {
		if (!isatty(0)) {
			fprintf(stderr, PROG ": setup: not asking without a terminal: run it again "
					"with --yes to make these changes\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		if (!ask()) {
			printf("nothing was changed\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	printf("\n");
	rc = apply(&g->root, p);
	if (rc == 0)
		print_after(p);
out:
	plan_free(p);
	free(p);
	return rc;
}

CLI_COMMAND(setup, "setup", cmd_setup, "[--dry-run] [--early ADDR..]",
	    "make the host changes check asks for; --undo");
