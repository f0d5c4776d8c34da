/* modload.c - see modload.h. */
#define _GNU_SOURCE
#include "modload.h"

#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "util.h"

int modload_dir(const struct sysroot *sr, char *buf, size_t size)
{
	struct utsname u;
	int n;

	if (uname(&u) < 0)
		return -errno;
	n = snprintf(buf, size, "%s/lib/modules/%s", sr->host ? "" : sr->dir, u.release);
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

	if (modload_dir(sr, dir, sizeof(dir)) < 0)
		return NULL;
	ctx = kmod_new(dir, NULL);
	if (ctx)
		kmod_set_log_fn(ctx, quiet_log, NULL);
	return ctx;
}

int modload_available(const struct sysroot *sr, const char *name)
{
	struct kmod_ctx *ctx = ctx_new(sr);
	struct kmod_list *list = NULL, *it;
	int r, found = 0;

	if (!ctx)
		return -ENOMEM;
	r = kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0)
		goto out;
	kmod_list_foreach(it, list) {
		struct kmod_module *m = kmod_module_get_module(it);

		if (kmod_module_get_path(m) || kmod_module_get_initstate(m) == KMOD_MODULE_BUILTIN)
			found = 1;
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	r = found;
out:
	kmod_unref(ctx);
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
	r = kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0 || !list) {
		snprintf(err, errsize, "module %s not found", name);
		r = r < 0 ? r : -ENOENT;
		goto out;
	}
	kmod_list_foreach(it, list) {
		struct kmod_module *m = kmod_module_get_module(it);

		r = kmod_module_probe_insert_module(m, 0, NULL, NULL, NULL, NULL);
		if (r < 0)
			snprintf(err, errsize, "cannot load %s: %s", kmod_module_get_name(m),
				 strerror(-r));
		kmod_module_unref(m);
		if (r < 0)
			break;
	}
	kmod_module_unref_list(list);
out:
	kmod_unref(ctx);
	return r;
}
