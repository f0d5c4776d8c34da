/* dev_modload.h - the one libkmod wrapper: a context for a modules directory below a root, looking
 * modules and aliases up, and loading a module like `modprobe NAME`, with one rule for which
 * modprobe.d is read and one for the blacklist. Used by the hook (bind engine), check, report
 * and early binding. libkmod is reached through a table of its functions: dlopen()ed on first
 * use (the hook: see dev_modload.c), or the linked library once a program that links it anyway
 * (the CLI, the early binary) calls modload_use_linked(). */
#ifndef PGP_DEV_MODLOAD_H
#define PGP_DEV_MODLOAD_H

#include <libkmod.h>
#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

/* Which modprobe.d a context reads. */
enum modload_config {
	MODLOAD_NO_CONFIG,   /* none: only "is there such a module" matters, not an admin's aliases */
	MODLOAD_ROOT_CONFIG, /* the root's own (the machine's on the host; a test root's below it) */
};

/* The modules directory for the root: /lib/modules/<running release> below it (the root's
 * /proc/sys/kernel/osrelease, uname's on the host), as a path libkmod can open. */
int modload_dir(const struct sysroot *sr, char *buf, size_t size);
/* A quiet libkmod context for the modules directory MODDIR (root-relative), else that of
 * RELEASE, else the root's running kernel. -ENOENT when the directory or its index
 * (modules.dep.bin, without which every lookup comes back empty) is not there, -EINVAL
 * for a RELEASE that is not one path component, -ENOSYS when libkmod cannot be opened. */
int modload_ctx_new(const struct sysroot *sr, const char *release, const char *moddir,
		    enum modload_config cfg, struct kmod_ctx **ret);
void modload_ctx_free(struct kmod_ctx *ctx);
/* The modules directory CTX reads, as libkmod opens it (the root's directory in front). */
const char *modload_ctx_dirname(struct kmod_ctx *ctx);

/* What a module name or alias resolves to, one call per module: its name, and its file
 * relative to nothing (libkmod's absolute path) or NULL when it is built in (found in
 * modules.builtin). A non-zero return stops the walk and is returned. */
typedef int (*modload_fn)(void *data, const char *name, const char *path);
/* Walks the modules NAME (a module name or an alias such as a modalias) resolves to; returns
 * the callback's stop value, 0, or -errno. */
int modload_lookup(struct kmod_ctx *ctx, const char *name, modload_fn fn, void *data);

/* Loads NAME and what it needs (dependencies, softdeps, options from modprobe.d) through CTX,
 * as modprobe does for a name on its command line: the blacklist applies to aliases only
 * (KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY), -EPERM when it keeps the module out. -errno with
 * ERR filled. */
int modload_insert(struct kmod_ctx *ctx, const char *name, char *err, size_t errsize);

/* 1 when NAME is built in or has a module file for the root's kernel, 0 when not, -errno. */
/* NAME as a module's name (libkmod, KBUILD_MODNAME): '-' written '_', into BUF; -ENAMETOOLONG
 * when it does not fit. */
int modload_modname(const char *name, char *buf, size_t size);
int modload_available(const struct sysroot *sr, const char *name);
/* Loads NAME and what it needs. Refuses (-EPERM) below a root that is not the running system:
 * module loading always acts on the running kernel. */
int modload_load(const struct sysroot *sr, const char *name, char *err, size_t errsize);

/* Use the linked libkmod from now on instead of dlopen() (dev_modload_linked.c; a program that
 * calls it links libkmod). */
void modload_use_linked(void);

/* ---- internal: the table of libkmod functions (dev_modload.c, dev_modload_linked.c) ---- */
#define MODLOAD_KMOD_FUNCS(X)                                                           \
	X(kmod_new) X(kmod_unref) X(kmod_set_log_fn) X(kmod_module_new_from_lookup)     \
	X(kmod_module_get_module) X(kmod_module_unref) X(kmod_module_unref_list)        \
	X(kmod_module_get_path) X(kmod_module_get_name) X(kmod_module_probe_insert_module) \
	X(kmod_list_next) X(kmod_get_dirname)

struct modload_api {
#define MODLOAD_FIELD(f) __typeof__(f) *f;
	MODLOAD_KMOD_FUNCS(MODLOAD_FIELD)
#undef MODLOAD_FIELD
};
void modload_set_api(const struct modload_api *api);

#endif
