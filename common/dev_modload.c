/* dev_modload.c - see dev_modload.h.
 *
 * libkmod is opened with dlopen() on first use instead of being linked: it pulls libcrypto,
 * libzstd and liblzma into every process that links it, which costs more than the whole
 * hookscript does for a VM without passthrough devices (the common case at every VM start).
 * Only the hook's device path ever loads modules. The CLI and the early binary link libkmod
 * anyway (the early binary must: the initramfs gets the libraries ldd names) and switch the
 * table to it with modload_use_linked(). */
#define _GNU_SOURCE
#include "dev_modload.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "util.h"

static struct {
	bool tried;
	const struct modload_api *api;
	struct modload_api dl;
} k;

void modload_set_api(const struct modload_api *api)
{
	k.api = api;
	k.tried = true;
}

static const struct modload_api *kmod_api(void)
{
	void *h;

	if (k.tried)
		return k.api;
	k.tried = true;
	h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
#define LOAD(f)                                                 \
	if (!(k.dl.f = (__typeof__(f) *)dlsym(h, #f))) \
		return NULL;
	MODLOAD_KMOD_FUNCS(LOAD)
#undef LOAD
	k.api = &k.dl;
	return k.api;
}

/* kmod_list_foreach() calls kmod_list_next; route it through the table. */
#define kmod_list_foreach_api(a, it, head) for (it = head; it; it = (a)->kmod_list_next(head, it))

/* The running release of the root: its /proc/sys/kernel/osrelease, else uname's (the host). */
static int root_release(const struct sysroot *sr, char *buf, size_t size)
{
	struct utsname u;

	if (sr_read_str(sr, "/proc/sys/kernel/osrelease", buf, size) > 0)
		return 0;
	if (!sr->host || uname(&u) < 0)
		return -ENOENT;
	return str_copy(buf, size, u.release);
}

/* The root-relative modules directory: MODDIR, else /lib/modules/RELEASE. */
static int rel_dir(const struct sysroot *sr, const char *release, const char *moddir,
		   char out[SR_PATH_MAX])
{
	char running[128];
	int r;

	if (moddir)
		return sr_path(out, "%s", moddir);
	if (!release) {
		r = root_release(sr, running, sizeof(running));
		if (r < 0)
			return r;
		release = running;
	}
	if (!release[0] || strpbrk(release, "/ \t\n"))
		return -EINVAL;
	return sr_path(out, "/lib/modules/%s", release);
}

/* libkmod opens the indexes itself: the directory inside the root, as a plain path. */
static int full_dir(const struct sysroot *sr, const char *rel, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%s", sr_is_host(sr) ? "" : sr->dir, rel);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int modload_dir(const struct sysroot *sr, char *buf, size_t size)
{
	char rel[SR_PATH_MAX];
	int r = rel_dir(sr, NULL, NULL, rel);

	return r < 0 ? r : full_dir(sr, rel, buf, size);
}

/* libkmod logs through syslog by default; we report errors ourselves. */
static void quiet_log(void *data, int priority, const char *file, int line, const char *fn,
		      const char *format, va_list args)
{
}

int modload_ctx_new(const struct sysroot *sr, const char *release, const char *moddir,
		    enum modload_config cfg, struct kmod_ctx **ret)
{
	static const char *const no_config[] = { NULL };
	const struct modload_api *a = kmod_api();
	char rel[SR_PATH_MAX], full[SR_PATH_MAX * 2], index[SR_PATH_MAX + 32];
	char etc[SR_PATH_MAX + 32], run[SR_PATH_MAX + 32], lib[SR_PATH_MAX + 32];
	const char *root_paths[] = { etc, run, lib, NULL };
	const char *const *paths = NULL;
	struct kmod_ctx *ctx;
	int r;

	if (!a)
		return -ENOSYS;
	r = rel_dir(sr, release, moddir, rel);
	if (r < 0)
		return r;
	/* libkmod needs the binary indexes; without them every lookup would come back empty. */
	if (snprintf(index, sizeof(index), "%s/modules.dep.bin", rel) >= (int)sizeof(index))
		return -ENAMETOOLONG;
	if (!sr_exists(sr, index))
		return -ENOENT;
	r = full_dir(sr, rel, full, sizeof(full));
	if (r < 0)
		return r;
	if (cfg == MODLOAD_NO_CONFIG) {
		paths = no_config;
	} else if (!sr_is_host(sr)) {
		/* Below a test root: its own modprobe.d, never the machine's. */
		snprintf(etc, sizeof(etc), "%s/etc/modprobe.d", sr->dir);
		snprintf(run, sizeof(run), "%s/run/modprobe.d", sr->dir);
		snprintf(lib, sizeof(lib), "%s/lib/modprobe.d", sr->dir);
		paths = root_paths;
	}
	ctx = a->kmod_new(full, paths);
	if (!ctx)
		return -ENOMEM;
	a->kmod_set_log_fn(ctx, quiet_log, NULL);
	*ret = ctx;
	return 0;
}

void modload_ctx_free(struct kmod_ctx *ctx)
{
	const struct modload_api *a = kmod_api();

	if (ctx && a)
		a->kmod_unref(ctx);
}

const char *modload_ctx_dirname(struct kmod_ctx *ctx)
{
	const struct modload_api *a = kmod_api();

	return a ? a->kmod_get_dirname(ctx) : "";
}

int modload_lookup(struct kmod_ctx *ctx, const char *name, modload_fn fn, void *data)
{
	const struct modload_api *a = kmod_api();
	struct kmod_list *list = NULL, *it;
	int r;

	if (!a)
		return -ENOSYS;
	r = a->kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0)
		return r;
	kmod_list_foreach_api(a, it, list) {
		struct kmod_module *m = a->kmod_module_get_module(it);

		/* a module found in modules.builtin has no file */
		r = fn(data, a->kmod_module_get_name(m), a->kmod_module_get_path(m));
		a->kmod_module_unref(m);
		if (r)
			break;
	}
	a->kmod_module_unref_list(list);
	return r;
}

int modload_insert(struct kmod_ctx *ctx, const char *name, char *err, size_t errsize)
{
	const struct modload_api *a = kmod_api();
	struct kmod_list *list = NULL, *it;
	int r;

	if (!a) {
		snprintf(err, errsize, "cannot load %s: libkmod is not available", name);
		return -ENOSYS;
	}
	r = a->kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0 || !list) {
		snprintf(err, errsize, "module %s not found", name);
		return r < 0 ? r : -ENOENT;
	}
	kmod_list_foreach_api(a, it, list) {
		struct kmod_module *m = a->kmod_module_get_module(it);

		r = a->kmod_module_probe_insert_module(m, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY, NULL,
						       NULL, NULL, NULL);
		if (r > 0)
			r = -EPERM; /* blacklisted */
		if (r < 0)
			snprintf(err, errsize, "cannot load %s: %s", a->kmod_module_get_name(m),
				 r == -EPERM ? "blacklisted" : strerror(-r));
		a->kmod_module_unref(m);
		if (r < 0)
			break;
	}
	a->kmod_module_unref_list(list);
	return r;
}

static int any_module(void *data, const char *name, const char *path)
{
	return 1;
}

int modload_available(const struct sysroot *sr, const char *name)
{
	struct kmod_ctx *ctx;
	int r = modload_ctx_new(sr, NULL, NULL, MODLOAD_ROOT_CONFIG, &ctx);

	if (r == -ENOENT)
		return 0; /* no modules for this kernel: nothing can be loaded */
	if (r < 0)
		return r;
	r = modload_lookup(ctx, name, any_module, NULL);
	modload_ctx_free(ctx);
	return r;
}

int modload_load(const struct sysroot *sr, const char *name, char *err, size_t errsize)
{
	struct kmod_ctx *ctx;
	int r;

	if (!sr->host) {
		snprintf(err, errsize, "not loading %s below a test root", name);
		return -EPERM;
	}
	r = modload_ctx_new(sr, NULL, NULL, MODLOAD_ROOT_CONFIG, &ctx);
	if (r < 0) {
		snprintf(err, errsize, "cannot read the kernel modules: %s", strerror(-r));
		return r;
	}
	r = modload_insert(ctx, name, err, errsize);
	modload_ctx_free(ctx);
	return r;
}

int modload_modname(const char *name, char *buf, size_t size)
{
	if (str_copy(buf, size, name) < 0)
		return -ENAMETOOLONG;
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
	return 0;
}
