/* modload.c - see modload.h.
 *
 * libkmod is opened with dlopen() on first use instead of being linked: it pulls libcrypto,
 * libzstd and liblzma into every process that links it, which costs more than the whole
 * hookscript does for a VM without passthrough devices (the common case at every VM start).
 * Only the hook's device path ever loads modules. */
#define _GNU_SOURCE
#include "modload.h"

#include <dlfcn.h>
#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "util.h"

#define KMOD_FUNCS(X)                                                                   \
	X(kmod_new) X(kmod_unref) X(kmod_set_log_fn) X(kmod_module_new_from_lookup)     \
	X(kmod_module_get_module) X(kmod_module_unref) X(kmod_module_unref_list)        \
	X(kmod_module_get_path) X(kmod_module_get_initstate) X(kmod_module_get_name)    \
	X(kmod_module_probe_insert_module) X(kmod_list_next)

static struct {
	bool tried, ok;
#define FIELD(f) __typeof__(f) *f;
	KMOD_FUNCS(FIELD)
#undef FIELD
} k;

static int kmod_open(void)
{
	void *h;

	if (k.tried)
		return k.ok ? 0 : -ENOSYS;
	k.tried = true;
	h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -ENOSYS;
#define LOAD(f)                                          \
	if (!(k.f = (__typeof__(f) *)dlsym(h, #f))) \
		return -ENOSYS;
	KMOD_FUNCS(LOAD)
#undef LOAD
	k.ok = true;
	return 0;
}

/* kmod_list_foreach() calls kmod_list_next; route it through the loaded library. */
#define kmod_list_foreach_dl(it, head) for (it = head; it; it = k.kmod_list_next(head, it))

int modload_dir(const struct sysroot *sr, char *buf, size_t size)
{
	char release[128];
	struct utsname u;
	int n;

	/* below a test root, the root's kernel: its /proc/sys/kernel/osrelease */
	if (sr->host || sr_read_str(sr, "/proc/sys/kernel/osrelease", release, sizeof(release)) <= 0) {
		if (uname(&u) < 0)
			return -errno;
		snprintf(release, sizeof(release), "%s", u.release);
	}
	n = snprintf(buf, size, "%s/lib/modules/%s", sr->host ? "" : sr->dir, release);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* libkmod logs through syslog by default; we report errors ourselves. */
static void quiet_log(void *data, int priority, const char *file, int line, const char *fn,
		      const char *format, va_list args)
{
}

static struct kmod_ctx *ctx_new(const struct sysroot *sr)
{
	char dir[SR_PATH_MAX];
	struct kmod_ctx *ctx;

	if (kmod_open() < 0 || modload_dir(sr, dir, sizeof(dir)) < 0)
		return NULL;
	ctx = k.kmod_new(dir, NULL);
	if (ctx)
		k.kmod_set_log_fn(ctx, quiet_log, NULL);
	return ctx;
}

int modload_available(const struct sysroot *sr, const char *name)
{
	struct kmod_ctx *ctx = ctx_new(sr);
	struct kmod_list *list = NULL, *it;
	int r, found = 0;

	if (!ctx)
		return -ENOMEM;
	r = k.kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0)
		goto out;
	kmod_list_foreach_dl(it, list) {
		struct kmod_module *m = k.kmod_module_get_module(it);

		if (k.kmod_module_get_path(m) || k.kmod_module_get_initstate(m) == KMOD_MODULE_BUILTIN)
			found = 1;
		k.kmod_module_unref(m);
	}
	k.kmod_module_unref_list(list);
	r = found;
out:
	k.kmod_unref(ctx);
	return r;
}

int modload_load(const struct sysroot *sr, const char *name, char *err, size_t errsize)
{
	struct kmod_ctx *ctx;
	struct kmod_list *list = NULL, *it;
	int r = 0;

	if (!sr->host) {
		snprintf(err, errsize, "not loading %s below a test root", name);
		return -EPERM;
	}
	ctx = ctx_new(sr);
	if (!ctx)
		return -ENOMEM;
	r = k.kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0 || !list) {
		snprintf(err, errsize, "module %s not found", name);
		r = r < 0 ? r : -ENOENT;
		goto out;
	}
	kmod_list_foreach_dl(it, list) {
		struct kmod_module *m = k.kmod_module_get_module(it);

		r = k.kmod_module_probe_insert_module(m, 0, NULL, NULL, NULL, NULL);
		if (r < 0)
			snprintf(err, errsize, "cannot load %s: %s", k.kmod_module_get_name(m),
				 strerror(-r));
		k.kmod_module_unref(m);
		if (r < 0)
			break;
	}
	k.kmod_module_unref_list(list);
out:
	k.kmod_unref(ctx);
	return r;
}
