/* pve_storage.c - see pve_storage.h. */
#define _GNU_SOURCE
#include "pve_storage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PVE_LOCAL_PATH "/var/lib/vz"

/* pve-storage Plugin.pm @SHARED_STORAGE: types parse_config always marks shared. */
static const char *const shared_types[] = {
	"iscsi", "nfs", "cifs", "rbd", "cephfs", "iscsidirect", "glusterfs", "zfs", "drbd", "pbs",
};

static bool is_id_char(char c, bool last)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !last && (c == '-' || c == '_' || c == '.');
}

bool pve_storage_id_valid(const char *id)
{
	size_t n = strlen(id);

	/* PVE::JSONSchema pve-storage-id: [a-z][a-z0-9\-\_\.]*[a-z0-9], case-insensitive. */
	if (n < 2 || n >= PVE_STORAGE_ID_MAX)
		return false;
	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_id_char(id[i], i == n - 1))
			return false;
	return true;
}

/* Does the list (separated by ',', ';' or blanks, as PVE::Tools::split_list) hold WORD? */
static bool list_has(const char *list, const char *word)
{
	size_t wn = strlen(word);
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",; \t");

		if (n == wn && strncmp(p, word, n) == 0)
			return true;
		p += n;
		p += strspn(p, ",; \t");
	}
	return false;
}

/* A boolean property: a bare key means 1 (SectionConfig), else Perl-ish truth of 0/1. */
static bool prop_bool(const char *value)
{
	bool b;

	if (!*value)
		return true;
	return parse_bool(value, &b) == 0 ? b : false;
}

/* One content-dirs entry (N bytes at P) as Plugin.pm's verify_dir_override accepts it:
 * "vtype=path" with a lowercase vtype and a path in which no two dots follow each other and
 * that does not end in a dot (so no ".." climbs out of the storage), under 1023 bytes, each
 * component under 255. */
static bool dir_override_valid(const char *p, size_t n)
{
	size_t t = 0, comp = 0;

	while (t < n && p[t] >= 'a' && p[t] <= 'z')
		t++;
	if (!t || t >= n || p[t] != '=')
		return false;
	p += t + 1;
	n -= t + 1;
	if (!n || n >= 1023 || p[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.' && i + 1 < n && p[i + 1] == '.')
			return false;
		comp = p[i] == '/' ? 0 : comp + 1;
		if (comp >= 255)
			return false;
	}
	return true;
}

/* Applies one "KEY VALUE" line of the wanted section. */
static int apply_prop(struct pve_storage *s, const char *key, const char *value)
{
	if (strcmp(key, "path") == 0)
		return str_copy(s->path, sizeof(s->path), value);
	if (strcmp(key, "content") == 0) {
		s->has_content = true;
		return str_copy(s->content, sizeof(s->content), value);
	}
	if (strcmp(key, "nodes") == 0)
		return str_copy(s->nodes, sizeof(s->nodes), value);
	if (strcmp(key, "shared") == 0) {
		s->shared = prop_bool(value);
		return 0;
	}
	if (strcmp(key, "disable") == 0) {
		s->disabled = prop_bool(value);
		return 0;
	}
	if (strcmp(key, "content-dirs") == 0) {
		/* "vtype=relative/path,..."; the last snippets= entry wins, as in a Perl hash.
		 * Proxmox refuses the whole list when one entry is invalid; so do we. */
		const char *p = value;

		while (*p) {
			size_t n = strcspn(p, ",; \t");

			if (!dir_override_valid(p, n))
				return -EBADMSG;
			if (n > 9 && strncmp(p, "snippets=", 9) == 0) {
				int r = str_copy_n(s->snippets_dir, sizeof(s->snippets_dir), p + 9,
						   n - 9);
				if (r < 0)
					return r;
			}
			p += n;
			p += strspn(p, ",; \t");
		}
		return 0;
	}
	return 0; /* every other property is irrelevant here */
}

/* Parses a section header "TYPE: ID" (column 0). Returns false when LINE is not one. */
static bool parse_header(char *line, char **type, char **id)
{
	char *colon = strchr(line, ':');
	char *blank = strpbrk(line, " \t");
	char *rest;

	if (!colon || colon == line || (blank && blank < colon))
		return false;
	*colon = '\0';
	rest = str_trim(colon + 1);
	if (!*rest || strpbrk(rest, " \t"))
		return false;
	*type = line;
	*id = rest;
	return true;
}

int pve_storage_parse(const char *text, const char *id, struct pve_storage *ret)
{
	struct pve_storage s = { 0 };
	bool in_section = false, wanted = false, found = false;
	const char *p = text;
	char line[4096];
	int r;

	while (*p) {
		size_t n = strcspn(p, "\n");
		bool blank;

		/* An over-long line is cut. That is harmless: every value we keep has a much
		 * smaller field, so a cut value still fails str_copy() with -ENAMETOOLONG. */
		if (str_copy_n(line, sizeof(line), p, n) < 0)
			str_copy_n(line, sizeof(line), p, sizeof(line) - 1);
		p += n;
		if (*p == '\n')
			p++;
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		blank = line[strspn(line, " \t")] == '\0';

		if (blank) {
			in_section = wanted = false; /* an empty line ends the section */
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!in_section) {
			char *type, *sid;

			/* Outside a section, anything but a header is ignored (Proxmox warns). */
			if (!parse_header(line, &type, &sid))
				continue;
			in_section = true;
			wanted = !found && strcmp(sid, id) == 0;
			if (wanted) {
				found = true;
				for (char *c = type; *c; c++)
					if (*c >= 'A' && *c <= 'Z')
						*c = (char)(*c - 'A' + 'a');
				r = str_copy(s.type, sizeof(s.type), type);
				if (r < 0)
					return r;
				r = str_copy(s.id, sizeof(s.id), sid);
				if (r < 0)
					return r;
			}
			continue;
		}
		/* Inside a section only indented "KEY [VALUE]" lines count; others are ignored. */
		if (!wanted || (line[0] != ' ' && line[0] != '\t'))
			continue;
		char *key = line + strspn(line, " \t");
		char *value = key + strcspn(key, " \t");

		if (*value)
			*value++ = '\0';
		value = str_trim(value);
		r = apply_prop(&s, key, value);
		if (r < 0)
			return r;
	}

	if (strcmp(id, "local") == 0) {
		/* Plugin.pm parse_config: "make sure we have a reasonable 'local:' storage". */
		if (!found || strcmp(s.type, "dir") != 0 ||
		    (s.path[0] && strcmp(s.path, PVE_LOCAL_PATH) != 0)) {
			memset(&s, 0, sizeof(s));
			strcpy(s.type, "dir");
			strcpy(s.id, "local");
			strcpy(s.content, "backup,images,iso,rootdir,snippets,vztmpl");
			s.has_content = true;
			s.synthesized = true;
			found = true;
		}
		if (!s.path[0])
			strcpy(s.path, PVE_LOCAL_PATH);
		s.nodes[0] = '\0'; /* "remove node restrictions for local storage" */
	}
	if (!found)
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(shared_types); i++)
		if (strcmp(s.type, shared_types[i]) == 0)
			s.shared = true;
	*ret = s;
	return 0;
}

int pve_storage_load(const struct sysroot *sr, const char *id, struct pve_storage *ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	/* a FIFO or directory is refused without blocking (sr_read_file) */
	r = sr_read_file(sr, PVE_STORAGE_CFG, PVE_STORAGE_CFG_MAX, &buf, &len);
	if (r == -ENOENT)
		return pve_storage_parse("", id, ret);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	return pve_storage_parse(buf, id, ret);
}

bool pve_storage_has_content(const struct pve_storage *s, const char *type)
{
	return s->has_content && list_has(s->content, type);
}

bool pve_storage_on_node(const struct pve_storage *s, const char *node)
{
	return !s->nodes[0] || list_has(s->nodes, node);
}

int pve_storage_snippets_dir(const struct pve_storage *s, char out[SR_PATH_MAX])
{
	if (!s->path[0])
		return -ENOTDIR;
	/* Plugin.pm get_subdir: "$path/$subdir", the override taken as written. */
	return sr_path(out, "%s/%s", s->path, s->snippets_dir[0] ? s->snippets_dir : "snippets");
}
