/* report_int.h - what the report's files share (report_capture.c: the table of captures, the
 * walk and the output; report_redact.c: pseudonyms and the filters that keep private values
 * out; report_derived.c: the captures derived from what the captured files name). Not for use
 * outside them: the one entry point is report_capture.h. */
#ifndef PGP_REPORT_INT_H
#define PGP_REPORT_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pciaddr.h"
#include "report_capture.h"
#include "sysroot.h"

#define REPORT_FILE_MAX (8u << 20) /* a text file; /proc/interrupts of a 512-CPU host fits */

/* How a capture writes what it finds. */
enum {
	C_TEXT = 0,     /* the file's content (through the filter) */
	C_EXISTS = 1,   /* an empty file: only its existence is read */
	C_MODE = 2,     /* and its permission bits */
	C_MTIME = 4,    /* and its modification time */
	C_FOLLOW = 8,   /* a symlink at the end is followed too */
	C_FLAT = 16,    /* written at the pattern's path, without the links on the way */
};

struct rctx;
typedef char *(*filter_fn)(struct rctx *c, const char *text);

struct capture {
	const char *pattern;
	unsigned how;
	filter_fn filter;
};



enum kind { K_DIR, K_LINK, K_FILE, K_MODE, K_MTIME };

struct ent {
	char *path;
	enum kind kind;
	char *data;   /* link target; file content */
	size_t len;
	long long num; /* mode, mtime */
};

/* One consistent replacement table (node names, MAC addresses). */
struct names {
	char **from, **to;
	int n;
};

struct rctx {
	const struct sysroot *sr;
	struct ent *e;
	int n, cap;
	struct names nodes, macs, paths; /* paths: mount points and swap files */
	char **vmconf_paths; /* VM configs found, for the derived captures */
	int nvmconf;
	struct report_stats st;
	char (*stuck)[PCI_ADDR_LEN]; /* devices a state file records as stuck */
	int nstuck;
	bool oom;
};


/* Adds one line of the report (copies PATH and DATA); c->oom after a failed allocation. */
void report_add(struct rctx *c, const char *path, enum kind k, const char *data, size_t len,
		long long num);
void report_add_file(struct rctx *c, const char *path, const char *data, size_t len);
/* Captures PATH (a pattern, as in captures[]) as HOW says, through FILTER. */
void report_capture_path(struct rctx *c, const char *path, unsigned how, filter_fn filter);

/* The pseudonym of node NAME: "pve" for the first (this host), then node2, node3, ...; NULL
 * when out of memory. */
const char *report_node_name(struct rctx *c, const char *name);
void report_names_free(struct names *t);
/* MAC addresses in TEXT replaced in place by their pseudonyms (same length). */
void report_redact_macs(struct rctx *c, char *text, size_t len);

/* The filters: each returns the text to write (malloc'd), NULL when out of memory. */
char *report_filter_mountinfo(struct rctx *c, const char *text);
char *report_filter_route(struct rctx *c, const char *text);
char *report_filter_route6(struct rctx *c, const char *text);
char *report_filter_cpuinfo(struct rctx *c, const char *text);
char *report_filter_interrupts(struct rctx *c, const char *text);
char *report_filter_vmconf(struct rctx *c, const char *text);
char *report_filter_storage(struct rctx *c, const char *text);
char *report_filter_mapping(struct rctx *c, const char *text);
/* A container config cut to its GPU lines (devN, lxc.mount.entry of /dev, cgroup device
 * rules) of the live section, every other line empty (the line numbers stay): no hostname,
 * storage or network. */
char *report_filter_lxc(struct rctx *c, const char *text);
char *report_filter_nvidia(struct rctx *c, const char *text);
char *report_filter_udev(struct rctx *c, const char *text);
char *report_filter_cmdline(struct rctx *c, const char *text);
char *report_filter_modprobe(struct rctx *c, const char *text);
char *report_filter_swaps(struct rctx *c, const char *text);

/* The derived captures (report_derived.c). */
void report_capture_udev(struct rctx *c);
void report_capture_dev_sources(struct rctx *c);
void report_capture_vm_files(struct rctx *c);
void report_capture_pci_names(struct rctx *c);
void report_capture_quirks(struct rctx *c);
/* Adds the VM config at REAL to those whose hookscripts and ROM files are captured (false:
 * out of memory, c->oom set). */
bool report_vmconf_add(struct rctx *c, const char *real);
/* report_cluster.c: the cluster's files as check --cluster reads them, node names replaced */
void report_capture_cluster(struct rctx *c);
void report_capture_modules(struct rctx *c, FILE *out, const char *release);

/* A growing string; NULL data after a failed append. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static inline void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static inline char *sb_done(struct sbuf *b)
{
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	if (!b->p)
		return strdup("");
	return b->p;
}

/* The next line of the text at *P: its start, its length without the newline, whether it had
 * one; false at the end. */
static inline bool next_line(const char **p, const char **line, size_t *len, bool *nl)
{
	if (!*p || !**p)
		return false;
	*line = *p;
	*len = strcspn(*p, "\n");
	*nl = (*p)[*len] == '\n';
	*p += *len + (*nl ? 1 : 0);
	return true;
}

#define FOR_LINES(text, line, len, nl)                                            \
	for (const char *it_##line = (text), *line; it_##line; it_##line = NULL)   \
		for (size_t len; it_##line; it_##line = NULL)                      \
			for (bool nl; next_line(&it_##line, &line, &len, &nl);)


#endif
