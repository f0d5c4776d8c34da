/* modload.h - kernel modules through libkmod: whether a module can be loaded, and loading it
 * (with its dependencies and softdeps) like `modprobe NAME`. */
#ifndef PGP_MODLOAD_H
#define PGP_MODLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

/* The modules directory for the root: /lib/modules/<running release> below it. */
int modload_dir(const struct sysroot *sr, char *buf, size_t size);
/* 1 when NAME is built in or has a module file for the root's kernel, 0 when not, -errno. */
int modload_available(const struct sysroot *sr, const char *name);
/* Loads NAME and what it needs. Refuses (-EPERM) below a root that is not the running system:
 * module loading always acts on the running kernel. */
int modload_load(const struct sysroot *sr, const char *name, char *err, size_t errsize);

#endif
