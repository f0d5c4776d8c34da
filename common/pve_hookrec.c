/* pve_hookrec.c - attach's records about hookscripts and the "is this snippet still used"
 * scan (see pve_hookrec.h). Every file read here is hostile: bounded reads, strict syntax,
 * anything unexpected refused (-EBADMSG) or skipped and counted. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pve_conf.h"
#include "pve_hookrec.h"
#include "pve_storage.h"
#include "util.h"

int pve_snippet_volid_split(const char *volid, char *id, size_t idsize, const char **name)
{
	const char *colon = strchr(volid, ':'), *n;

	if (strlen(volid) >= VOLID_MAX || !colon || !str_has_prefix(colon + 1, "snippets/"))
		return -EINVAL;
	if (str_copy_n(id, idsize, volid, (size_t)(colon - volid)) < 0 || !pve_storage_id_valid(id))
		return -EINVAL;
	n = colon + 1 + strlen("snippets/");
	if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
		return -EINVAL;
	for (const char *p = n; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	if (name)
		*name = n;
	return 0;
}

bool pve_snippet_volid_valid(const char *volid)
{
	char id[PVE_STORAGE_ID_MAX];

	return pve_snippet_volid_split(volid, id, sizeof(id), NULL) == 0;
}

bool pve_snippet_volid_ours(const char *volid)
{
	char id[PVE_STORAGE_ID_MAX];
	const char *name;

	return pve_snippet_volid_split(volid, id, sizeof(id), &name) == 0 &&
	       !strcmp(name, SNIPPET_NAME);
}

int pve_snippet_path(const struct sysroot *sr, const char *volid, char out[SR_PATH_MAX])
{
	char id[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX];
	struct pve_storage s;
	const char *name;
	int r;

	r = pve_snippet_volid_split(volid, id, sizeof(id), &name);
	if (r == 0)
		r = pve_storage_load(sr, id, &s);
	if (r == 0)
		r = pve_storage_snippets_dir(&s, dir);
	if (r == 0)
		r = sr_path(out, "%s/%s", dir, name);
	return r;
}

int hookrec_parse(const char *text, char *volid, size_t size)
{
	const char *v;
	size_t n;

	if (!str_has_prefix(text, "hookscript: "))
		return -EBADMSG;
	v = text + strlen("hookscript: ");
	n = strcspn(v, "\n");
	if (v[n] == '\n' && v[n + 1])
		return -EBADMSG; /* one line only */
	if (n >= VOLID_MAX || str_copy_n(volid, size, v, n) < 0)
		return -EBADMSG;
	if (!pve_snippet_volid_valid(volid) || pve_snippet_volid_ours(volid))
		return -EBADMSG; /* ours would run itself */
	return 0;
}

/* One of attach's records read whole into BUF (SIZE bytes, NUL-terminated): its length, or
 * -errno; -EBADMSG for one that fills BUF or holds a NUL byte. */
static ssize_t record_read(const struct sysroot *sr, const char *path, char *buf, size_t size)
{
	ssize_t n = sr_read(sr, path, buf, size);

	if (n >= 0 && ((size_t)n >= size - 1 || memchr(buf, '\0', (size_t)n)))
		return -EBADMSG;
	return n;
}

int hookrec_load(const struct sysroot *sr, int vmid, char *volid, size_t size)
{
	char path[SR_PATH_MAX], buf[HOOKREC_MAX];
	ssize_t n;
	int r;

	r = sr_path(path, HOOKREC_DIR "/%d", vmid);
	if (r < 0)
		return r;
	n = record_read(sr, path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return hookrec_parse(buf, volid, size);
}

int hookrec_save(const struct sysroot *sr, int vmid, const char *volid)
{
	char path[SR_PATH_MAX], line[HOOKREC_MAX];
	int r;

	if (!pve_snippet_volid_valid(volid) || pve_snippet_volid_ours(volid))
		return -EINVAL;
	r = sr_path(path, HOOKREC_DIR "/%d", vmid);
	if (r < 0)
		return r;
	snprintf(line, sizeof(line), "hookscript: %s\n", volid);
	r = sr_mkdir_p(sr, HOOKREC_DIR, 0755);
	if (r < 0)
		return r;
	return sr_write_file_atomic(sr, path, line, strlen(line), 0644);
}

int hookrec_remove(const struct sysroot *sr, int vmid)
{
	char path[SR_PATH_MAX];
	int r;

	r = sr_path(path, HOOKREC_DIR "/%d", vmid);
	if (r < 0)
		return r;
	r = sr_unlink(sr, path);
	return r == -ENOENT ? 0 : r;
}

/* A copy's path: absolute, no "..", no whitespace or control characters, ours by name. */
static bool copy_path_valid(const char *p)
{
	size_t n = strlen(p), k = strlen("/" SNIPPET_NAME);

	if (p[0] != '/' || n <= k || n >= SR_PATH_MAX || strcmp(p + n - k, "/" SNIPPET_NAME))
		return false;
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

int snipcopy_parse(const char *text, struct snippet_copy *out, int max, int *bad)
{
	int n = 0;

	*bad = 0;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n"), sp;
		char line[VOLID_MAX + SR_PATH_MAX + 2];
		struct snippet_copy c = { 0 };

		if (len && len < sizeof(line)) {
			memcpy(line, l, len);
			line[len] = '\0';
			sp = strcspn(line, " ");
			if (line[sp]) { /* VOLID PATH */
				line[sp] = '\0';
				if (str_copy(c.volid, sizeof(c.volid), line) < 0 ||
				    !pve_snippet_volid_ours(c.volid))
					c.path[0] = '\0';
				else
					str_copy(c.path, sizeof(c.path), line + sp + 1);
			} else { /* PATH: an older version's symlink */
				str_copy(c.path, sizeof(c.path), line);
			}
			if (copy_path_valid(c.path) && n < max)
				out[n++] = c;
			else
				(*bad)++;
		} else if (len) {
			(*bad)++;
		}
		l += len;
		if (*l)
			l++;
	}
	return n;
}

int snipcopy_load(const struct sysroot *sr, struct snippet_copy *out, int max, int *bad)
{
	static char buf[SNIPPET_RECORD_MAX];
	ssize_t n;

	*bad = 0;
	n = record_read(sr, SNIPPET_RECORD, buf, sizeof(buf));
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return (int)n;
	return snipcopy_parse(buf, out, max, bad);
}

int snipcopy_save(const struct sysroot *sr, const struct snippet_copy *c, int n)
{
	static char buf[SNIPPET_RECORD_MAX];
	size_t len = 0;
	int r;

	if (n == 0) {
		r = sr_unlink(sr, SNIPPET_RECORD);
		return r == -ENOENT ? 0 : r;
	}
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%s%s%s\n", c[i].volid,
				 c[i].volid[0] ? " " : "", c[i].path);

		if (w < 0 || (size_t)w >= sizeof(buf) - len)
			return -EFBIG;
		len += (size_t)w;
	}
	r = sr_mkdir_p(sr, "/var/lib/pve-gpu-passthrough", 0755);
	if (r < 0)
		return r;
	return sr_write_file_atomic(sr, SNIPPET_RECORD, buf, len, 0644);
}

/* The hookscript lines of one VM config that name VOLID (the live section skipped with
 * SKIP_LIVE). */
static int count_in_conf(const char *text, const char *volid, bool skip_live)
{
	bool live = true;
	int n = 0;

	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n"), vl = strlen(volid);

		if (l[0] == '[')
			live = false;
		if (!(live && skip_live) && len > 11 && !strncmp(l, "hookscript:", 11)) {
			const char *v = l + 11, *end = l + len;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
				end--;
			if ((size_t)(end - v) == vl && !strncmp(v, volid, vl))
				n++;
		}
		l += len;
		if (*l)
			l++;
	}
	return n;
}

/* Adds the uses in DIR's *.conf files to *COUNT. */
static int count_in_dir(const struct sysroot *sr, const char *dir, const char *volid,
			int skip_vmid, int *count)
{
	static char buf[PVE_CONF_MAX];
	DIR *d = sr_opendir(sr, dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while ((e = readdir(d))) {
		char path[SR_PATH_MAX];
		size_t len = strlen(e->d_name);
		ssize_t n;
		int vmid;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") ||
		    sr_path(path, "%s/%s", dir, e->d_name) < 0)
			continue;
		n = sr_read(sr, path, buf, sizeof(buf));
		if (n == -ENOENT || n == -EISDIR)
			continue;
		if (n < 0) {
			r = (int)n; /* unreadable: it may use the snippet */
			break;
		}
		buf[(size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1] = '\0';
		vmid = atoi(e->d_name);
		*count += count_in_conf(buf, volid, vmid > 0 && vmid == skip_vmid);
	}
	closedir(d);
	return r;
}

int pve_hookscript_users(const struct sysroot *sr, const char *volid, int skip_vmid)
{
	DIR *d;
	struct dirent *e;
	int count = 0, r;

	r = count_in_dir(sr, "/etc/pve/qemu-server", volid, skip_vmid, &count);
	if (r < 0)
		return r;
	d = sr_opendir(sr, "/etc/pve/nodes");
	if (!d)
		return errno == ENOENT ? count : -errno;
	while ((e = readdir(d))) {
		char dir[SR_PATH_MAX];

		if (e->d_name[0] == '.' || sr_path(dir, "/etc/pve/nodes/%s/qemu-server", e->d_name) < 0)
			continue;
		r = count_in_dir(sr, dir, volid, skip_vmid, &count);
		if (r < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : count;
}
