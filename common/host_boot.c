/* host_boot.c - see host_boot.h. */
#define _GNU_SOURCE
#include "host_boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The systemd-boot loader interface's vendor GUID: systemd-boot sets LoaderInfo, GRUB not. */
#define LOADER_INFO "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

/* The kernel series the lab boots with initcall_blacklist=sysfb_init (tests/lab scenario
 * selftest-nosysfb, on 5.10, 6.1, 6.12, 7.3 and a Proxmox-configured 7.3): no firmware
 * framebuffer device or region is left on any of them. sysfb_init is a device_initcall in
 * drivers/firmware/sysfb.c (arch/x86/kernel/sysfb.c before 5.15) over that whole range. */
#define FB_PARAM_LAB_OLDEST 510 /* 5.10 */
#define FB_PARAM_LAB_NEWEST 703 /* 7.3 */

/* Proxmox's kernels turn the Intel IOMMU on by default from 6.8 on (pve-docs
 * qm-pci-passthrough.adoc: "intel_iommu=on ... is not necessary" with kernel 6.8 or newer). */
#define PVE_IOMMU_DEFAULT_ON 608

/* Reads a whole configuration file, bounded; a NUL byte in it is noted in UNSAFE (every
 * parser here, like the shell that sources the file, would stop or skip there, so an edit
 * could land where the boot loader does not read it). */
static int read_text(const struct sysroot *sr, const char *path, size_t max, char **ret,
		     char *unsafe, size_t usize)
{
	size_t len;
	int r = sr_read_all(sr, path, max, ret, &len);

	if (r == 0 && memchr(*ret, '\0', len) && !unsafe[0])
		snprintf(unsafe, usize, "'%s': the file holds a NUL byte", path);
	return r;
}

const char *boot_kind_name(enum boot_kind k)
{
	return k == BOOT_GRUB ? "GRUB" : k == BOOT_SYSTEMD_BOOT ? "systemd-boot" : "unknown";
}

/* A shell assignment "[export ]VAR=VALUE [# comment]" split into its parts. */
struct assign {
	size_t pre;      /* bytes up to and including '=' */
	char quote;      /* '"', '\'' or 0 */
	size_t vstart;   /* first byte of the value (after a quote) */
	size_t vlen;
	size_t post;     /* first byte after the value (and its closing quote) */
	bool closed;     /* a quoted value ends on this line */
};

static bool parse_assign(const char *line, const char *var, struct assign *a)
{
	const char *p = line;
	size_t n = strlen(var);

	while (*p == ' ' || *p == '\t')
		p++;
	if (str_has_prefix(p, "export "))
		p += 7;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, var, n) != 0 || p[n] != '=')
		return false;
	p += n + 1;
	a->pre = (size_t)(p - line);
	a->quote = (*p == '"' || *p == '\'') ? *p : 0;
	if (a->quote)
		p++;
	a->vstart = (size_t)(p - line);
	while (*p && (a->quote ? *p != a->quote : (*p != ' ' && *p != '\t' && *p != '#'))) {
		if (a->quote == '"' && *p == '\\' && p[1])
			p++;
		p++;
	}
	a->vlen = (size_t)(p - line) - a->vstart;
	a->closed = !a->quote || *p == a->quote;
	if (a->quote && *p == a->quote)
		p++;
	a->post = (size_t)(p - line);
	return true;
}

/* Notes in B->unsafe what in the parameters PARAMS (of PATH:LINENO) keeps an edit from being
 * certain: an odd number of '"' (the kernel's parser, like ours, would take what is added
 * after it as part of a quoted value) or, for GRUB, a backslash (the shell's escape). */
static void params_unsafe(struct host_boot *b, const char *params, bool shell, const char *path,
			  int lineno)
{
	const char *q = params;
	struct cmdline_param t;
	bool hash = false;
	int quotes = 0;

	for (const char *p = params; *p; p++)
		quotes += *p == '"';
	/* an edit can move such a word to the front of /etc/kernel/cmdline (no GRUB variable),
	 * where it would read as a comment */
	while (!b->var[0] && !hash && cmdline_next(&q, &t))
		hash = t.start[0] == '#';
	if (b->unsafe[0])
		return;
	if (hash)
		snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: a word starting with '#'",
			 path, lineno);
	else if (quotes % 2)
		snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: the command line has an "
			 "unclosed '\"'", path, lineno);
	else if (shell && strchr(params, '\\'))
		snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: the command line has a "
			 "backslash escape", path, lineno);
}

struct grub_scan {
	struct host_boot *b;
	char linux_params[HI_CMDLINE_MAX]; /* the last GRUB_CMDLINE_LINUX */
	bool found;
};

/* True when the unquoted value V (LEN bytes) holds what sh would not take literally: quotes
 * (a word that mixes quoted and unquoted parts), an escape, a glob or an operator. */
static bool unquoted_special(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] && strchr("\"'\\*?[]{}()<>;&|~", v[i]))
			return true;
	return false;
}

/* Why an assignment of VAR at PATH:LINENO cannot be rewritten with certainty ("" when it
 * can): grub-mkconfig sources these files with sh, so a value is taken literally only when
 * it is one word, closed on its line, with nothing for the shell to expand. */
static void assign_unsafe(const char *line, const struct assign *a, const char *var,
			  const char *path, int lineno, char *out, size_t size)
{
	const char *rest = line + a->post;
	size_t len = strlen(line);
	const char *why = NULL;

	if (!a->closed || (len && line[len - 1] == '\\'))
		why = "is split over lines";
	else if (a->quote != '\'' && (memchr(line + a->vstart, '$', a->vlen) ||
				       memchr(line + a->vstart, '`', a->vlen)))
		why = "is built from shell expansion";
	else if (!a->quote && unquoted_special(line + a->vstart, a->vlen))
		why = "is an unquoted word with shell quotes or special characters in it";
	else {
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (*rest && *rest != '#')
			why = "has more than one word after '='";
	}
	if (why && !out[0])
		snprintf(out, size, "'%s' line %d: %s %s", path, lineno, var, why);
}

static int grub_file(const struct sysroot *sr, const char *path, struct grub_scan *s)
{
	_cleanup_free_ char *text = NULL;
	int lineno = 0, r;

	r = read_text(sr, path, 1u << 20, &text, s->b->unsafe, sizeof(s->b->unsafe));
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		struct assign a;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (parse_assign(line, "GRUB_CMDLINE_LINUX_DEFAULT", &a)) {
			struct host_boot *b = s->b;

			if (s->found && !b->unsafe[0])
				snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: "
					 "GRUB_CMDLINE_LINUX_DEFAULT is set a second time (first in "
					 "'%s' line %d)", path, lineno, b->file, b->line);
			assign_unsafe(line, &a, "GRUB_CMDLINE_LINUX_DEFAULT", path, lineno, b->unsafe,
				      sizeof(b->unsafe));
			s->found = true;
			snprintf(b->file, sizeof(b->file), "%s", path);
			b->line = lineno;
			snprintf(b->text, sizeof(b->text), "%s", line);
			snprintf(b->params, sizeof(b->params), "%.*s", (int)a.vlen, line + a.vstart);
			params_unsafe(b, b->params, a.quote != '\'', path, lineno);
		} else if (parse_assign(line, "GRUB_CMDLINE_LINUX", &a)) {
			struct host_boot *b = s->b;

			b->linux_unsafe[0] = '\0';
			if (b->linux_line)
				snprintf(b->linux_unsafe, sizeof(b->linux_unsafe), "'%s' line %d: "
					 "GRUB_CMDLINE_LINUX is set a second time (first in '%s' line "
					 "%d)", path, lineno, b->linux_file, b->linux_line);
			assign_unsafe(line, &a, "GRUB_CMDLINE_LINUX", path, lineno, b->linux_unsafe,
				      sizeof(b->linux_unsafe));
			snprintf(s->linux_params, sizeof(s->linux_params), "%.*s", (int)a.vlen,
				 line + a.vstart);
			snprintf(b->linux_file, sizeof(b->linux_file), "%s", path);
			b->linux_line = lineno;
			snprintf(b->linux_text, sizeof(b->linux_text), "%s", line);
			snprintf(b->linux_params, sizeof(b->linux_params), "%s", s->linux_params);
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_grub(const struct sysroot *sr, struct host_boot *b)
{
	struct grub_scan s = { .b = b };
	char *names[64];
	struct dirent *de;
	int n = 0, r;
	DIR *d;

	snprintf(b->var, sizeof(b->var), "GRUB_CMDLINE_LINUX_DEFAULT");
	r = grub_file(sr, "/etc/default/grub", &s);
	if (r < 0)
		return r;
	/* grub-mkconfig sources /etc/default/grub.d/[*].cfg after it, in glob order. */
	d = sr_opendir(sr, "/etc/default/grub.d");
	if (d) {
		while ((de = readdir(d)) && n < 64) {
			size_t len = strlen(de->d_name);

			if (len > 4 && strcmp(de->d_name + len - 4, ".cfg") == 0)
				names[n++] = strdup(de->d_name);
			if (n > 0 && !names[n - 1])
				n--;
		}
		closedir(d);
		qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
		for (int i = 0; i < n; i++) {
			char path[SR_PATH_MAX];

			if (sr_path(path, "/etc/default/grub.d/%s", names[i]) == 0)
				grub_file(sr, path, &s);
			free(names[i]);
		}
	}
	if (!s.found) {
		snprintf(b->file, sizeof(b->file), "/etc/default/grub");
		b->line = 0;
	}
	snprintf(b->configured, sizeof(b->configured), "%s %s", s.linux_params, b->params);
	return 0;
}

static int read_kernel_cmdline(const struct sysroot *sr, const struct hostinfo *hi,
			       struct host_boot *b)
{
	_cleanup_free_ char *text = NULL;
	int lineno = 0, lines = 0, r;

	snprintf(b->file, sizeof(b->file), "/etc/kernel/cmdline");
	r = read_text(sr, b->file, 1u << 16, &text, b->unsafe, sizeof(b->unsafe));
	if (r < 0 && r != -ENOENT)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		const char *t = str_trim(line);

		if (!*t)
			continue;
		if (++lines == 2)
			/* proxmox-boot-tool hands the kernel the whole file as one line */
			snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: a second line (the "
				 "command line must be the file's only line)", b->file, lineno);
		if (t[0] == '#' && !b->unsafe[0])
			/* not a comment to proxmox-boot-tool, which hands the kernel the file */
			snprintf(b->unsafe, sizeof(b->unsafe), "'%s' line %d: a line starting with "
				 "'#' (the command line must be the file's only line)", b->file, lineno);
		if (t[0] == '#' || b->line)
			continue;
		b->line = lineno;
		snprintf(b->text, sizeof(b->text), "%s", line);
		snprintf(b->params, sizeof(b->params), "%s", str_trim(line));
		params_unsafe(b, b->params, false, b->file, lineno);
	}
	if (!b->line) {
		/* No file: proxmox-boot-tool falls back to the running command line; a new file
		 * starts from it, without what the boot loader added itself. */
		const char *p = hi->cmdline;
		struct cmdline_param t;
		size_t off = 0;

		while (cmdline_next(&p, &t)) {
			if (cmdline_key_eq(t.start, t.keylen, "BOOT_IMAGE", 10) ||
			    cmdline_key_eq(t.start, t.keylen, "initrd", 6))
				continue;
			if (off + t.len + 2 >= sizeof(b->params))
				break;
			off += (size_t)snprintf(b->params + off, sizeof(b->params) - off, "%s%.*s",
						off ? " " : "", (int)t.len, t.start);
		}
	}
	snprintf(b->configured, sizeof(b->configured), "%s", b->params);
	return 0;
}

int host_boot_read(const struct sysroot *sr, const struct hostinfo *hi, struct host_boot *b)
{
	bool grub = sr_exists(sr, "/etc/default/grub");
	bool kcmd = sr_exists(sr, "/etc/kernel/cmdline");

	memset(b, 0, sizeof(*b));
	b->proxmox_boot_tool = sr_exists(sr, "/etc/kernel/proxmox-boot-uuids");
	if (sr_exists(sr, LOADER_INFO)) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "systemd-boot's LoaderInfo EFI variable is set";
	} else if (hi->efi && b->proxmox_boot_tool && kcmd) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "UEFI boot with proxmox-boot-tool and /etc/kernel/cmdline";
	} else if (grub) {
		b->kind = BOOT_GRUB;
		b->why = "/etc/default/grub exists";
	} else if (kcmd) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "/etc/kernel/cmdline exists";
	} else {
		b->kind = BOOT_UNKNOWN;
		b->why = "neither /etc/default/grub nor /etc/kernel/cmdline exists";
		return 0;
	}
	if (b->kind == BOOT_SYSTEMD_BOOT || b->proxmox_boot_tool)
		snprintf(b->refresh, sizeof(b->refresh), "proxmox-boot-tool refresh");
	else
		snprintf(b->refresh, sizeof(b->refresh), "update-grub");
	return b->kind == BOOT_GRUB ? read_grub(sr, b) : read_kernel_cmdline(sr, hi, b);
}

int host_boot_read_other(const struct sysroot *sr, const struct hostinfo *hi,
			 const struct host_boot *used, struct host_boot *b)
{
	int r;

	memset(b, 0, sizeof(*b));
	if (used->kind == BOOT_SYSTEMD_BOOT && sr_exists(sr, "/etc/default/grub")) {
		b->kind = BOOT_GRUB;
		b->why = "/etc/default/grub exists";
		snprintf(b->refresh, sizeof(b->refresh), "update-grub");
		r = read_grub(sr, b);
	} else if (used->kind == BOOT_GRUB && sr_exists(sr, "/etc/kernel/cmdline")) {
		b->kind = BOOT_SYSTEMD_BOOT;
		b->why = "/etc/kernel/cmdline exists";
		snprintf(b->refresh, sizeof(b->refresh), "proxmox-boot-tool refresh");
		r = read_kernel_cmdline(sr, hi, b);
		if (r == 0 && !b->line)
			return 0; /* no command line in it */
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* Keys that may appear several times: a new value joins them instead of replacing them. */
static bool repeatable(const char *key, size_t len)
{
	return cmdline_key_eq(key, len, "video", 5) || cmdline_key_eq(key, len, "initcall_blacklist", 18);
}

static bool in_list(const char *list, const char *key, size_t len)
{
	struct cmdline_param t;

	while (cmdline_next(&list, &t))
		if (cmdline_key_eq(t.start, t.keylen, key, len))
			return true;
	return false;
}

/* True when token [s, s+len) equals some token of LIST. */
static bool same_token_in(const char *list, const char *s, size_t len)
{
	struct cmdline_param t;

	while (cmdline_next(&list, &t))
		if (t.len == len && strncmp(t.start, s, len) == 0)
			return true;
	return false;
}

int host_boot_edit(const struct host_boot *b, const char *add, const char *remove, char *out,
		   size_t size)
{
	char value[HI_CMDLINE_MAX * 2];
	const char *p = b->params;
	struct cmdline_param t;
	size_t off = 0;
	int n;

	value[0] = '\0';
	/* Keep what stays, in order. */
	while (cmdline_next(&p, &t)) {
		const char *q = add;
		struct cmdline_param u;
		bool drop = remove && in_list(remove, t.start, t.keylen);

		while (!drop && add && cmdline_next(&q, &u))
			if (cmdline_key_eq(t.start, t.keylen, u.start, u.keylen) &&
			    !repeatable(t.start, t.keylen))
				drop = !(u.len == t.len && strncmp(u.start, t.start, t.len) == 0);
		if (drop)
			continue;
		if (off + t.len + 2 > sizeof(value))
			return -ENOSPC;
		off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%.*s", off ? " " : "",
					(int)t.len, t.start);
	}
	/* Then what is new. */
	for (p = add; add && cmdline_next(&p, &t);) {
		if (same_token_in(value, t.start, t.len))
			continue;
		if (off + t.len + 2 > sizeof(value))
			return -ENOSPC;
		off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%.*s", off ? " " : "",
					(int)t.len, t.start);
	}
	if (b->kind != BOOT_GRUB)
		n = snprintf(out, size, "%s", value);
	else if (b->line == 0)
		n = snprintf(out, size, "%s=\"%s\"", b->var, value);
	else {
		struct assign a;
		char q;

		if (!parse_assign(b->text, b->var, &a))
			return -EINVAL;
		q = a.quote ? a.quote : '"';
		n = snprintf(out, size, "%.*s%c%s%c%s", (int)a.pre, b->text, q, value, q,
			     b->text + a.post);
	}
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

int host_boot_editable(const struct sysroot *sr, const struct host_boot *b, char *why, size_t size)
{
	struct stat st;
	int fd;

	if (b->kind == BOOT_UNKNOWN) {
		snprintf(why, size, "cannot tell the boot loader: %s", b->why);
		return -EPERM;
	}
	if (b->unsafe[0]) {
		snprintf(why, size, "%s", b->unsafe);
		return -EPERM;
	}
	if (b->kind == BOOT_SYSTEMD_BOOT && !b->proxmox_boot_tool) {
		snprintf(why, size, "'/etc/kernel/proxmox-boot-uuids' is missing: this systemd-boot "
			 "host's ESP is not managed by proxmox-boot-tool, so nothing known copies "
			 "'%s' to it", b->file);
		return -EPERM;
	}
	fd = sr_open_regular(sr, b->file, O_RDONLY);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(why, size, "'%s': %s", b->file, sr_strerror(fd));
		return -EPERM;
	}
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		snprintf(why, size, "'%s': %s", b->file, strerror(-e));
		return -EPERM;
	}
	close(fd);
	if (st.st_uid != 0) {
		snprintf(why, size, "'%s' line %d: the file is owned by uid %u, not root", b->file,
			 b->line ? b->line : 1, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* OLD (LEN bytes) with line LINENO (from 1) replaced by LINE, or LINE appended for LINENO 0. */
static int replace_line(const char *old, size_t len, int lineno, const char *line, char **ret,
			size_t *ret_len)
{
	size_t llen = strlen(line), off = 0, cap = len + llen + 3;
	const char *p = old ? old : "";
	char *out = malloc(cap);
	int n = 0;

	if (!out)
		return -ENOMEM;
	if (lineno == 0) {
		memcpy(out, p, len);
		off = len;
		if (off && out[off - 1] != '\n')
			out[off++] = '\n';
		memcpy(out + off, line, llen);
		off += llen;
		out[off++] = '\n';
	} else {
		const char *s = p, *end = p + len;
		bool done = false;

		while (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			const char *e = nl ? nl + 1 : end;

			if (++n == lineno) {
				memcpy(out + off, line, llen);
				off += llen;
				out[off++] = '\n';
				done = true;
			} else {
				memcpy(out + off, s, (size_t)(e - s));
				off += (size_t)(e - s);
			}
			s = e;
		}
		if (!done) {
			free(out);
			return -ESTALE; /* the file changed since host_boot_read */
		}
	}
	out[off] = '\0';
	*ret = out;
	*ret_len = off;
	return 0;
}

int host_boot_render(const struct sysroot *sr, const struct host_boot *b, const char *line,
		     char **ret, size_t *ret_len, char **ret_old)
{
	_cleanup_free_ char *old = NULL;
	size_t len = 0;
	int r;

	r = sr_read_file(sr, b->file, 1u << 20, &old, &len);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		old = NULL, len = 0;
	r = replace_line(old, len, b->line, line, ret, ret_len);
	if (r < 0)
		return r;
	if (ret_old) {
		*ret_old = old;
		old = NULL;
	}
	return 0;
}

int host_boot_edit_linux(const struct host_boot *b, const char *remove, char *out, size_t size)
{
	_cleanup_free_ struct host_boot *view = NULL;
	const char *p;
	struct cmdline_param t;
	bool holds = false;

	if (b->kind != BOOT_GRUB || !b->linux_line || !remove)
		return 0;
	for (p = b->linux_params; !holds && cmdline_next(&p, &t);)
		holds = in_list(remove, t.start, t.keylen);
	if (!holds)
		return 0;
	if (b->linux_unsafe[0]) {
		snprintf(out, size, "%s", b->linux_unsafe);
		return -EPERM;
	}
	view = malloc(sizeof(*view));
	if (!view)
		return -ENOMEM;
	*view = *b;
	snprintf(view->var, sizeof(view->var), "GRUB_CMDLINE_LINUX");
	view->line = b->linux_line;
	memcpy(view->text, b->linux_text, sizeof(view->text));
	memcpy(view->params, b->linux_params, sizeof(view->params));
	return host_boot_edit(view, NULL, remove, out, size) < 0 ? -ENOSPC : 1;
}

int host_boot_render_linux(const struct host_boot *b, const char *text, size_t len,
			   const char *line, char **ret, size_t *ret_len)
{
	if (!b->linux_line)
		return -EINVAL;
	return replace_line(text, len, b->linux_line, line, ret, ret_len);
}

int host_boot_iommu_default_on(const struct sysroot *sr, const char *release, const char **how)
{
	_cleanup_free_ char *config = NULL;
	char path[SR_PATH_MAX];
	size_t rl = strlen(release), len;

	if (!rl)
		return 0;
	if (sr_path(path, "/boot/config-%s", release) == 0 &&
	    sr_read_all(sr, path, 1u << 22, &config, &len) == 0) {
		/* Only the plain "on". Debian's kernels patch in a third choice,
		 * CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF ("on,intgpu_off": on, except for the
		 * integrated GPU; Debian bug 935270), which Debian 12 and 13 build with: it is
		 * not counted, so intel_iommu=on is asked for there, which also covers passing an
		 * iGPU. */
		if (strstr(config, "\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y")) {
			*how = "its config sets CONFIG_INTEL_IOMMU_DEFAULT_ON=y";
			return 1;
		}
		return 0;
	}
	if (rl > 4 && !strcmp(release + rl - 4, "-pve") &&
	    kernel_series(release) >= PVE_IOMMU_DEFAULT_ON) {
		*how = "a Proxmox kernel, 6.8 or newer";
		return 1;
	}
	return 0;
}

const char *host_boot_fb_param(const char *release)
{
	int v = kernel_series(release);

	if (v < FB_PARAM_LAB_OLDEST || v > FB_PARAM_LAB_NEWEST)
		return NULL;
	return "initcall_blacklist=sysfb_init";
}
