/* dev_lock.h - per-device locks so that two hooks never work on one device at once. A lock is
 * an flock on /run/pve-gpu-passthrough/lock/<address>; the loser fails at once (no waiting).
 * Locks go away with the process, so a killed hook never leaves one behind. */
#ifndef PGP_DEV_LOCK_H
#define PGP_DEV_LOCK_H

#include <sys/types.h>

#include "sysroot.h"

#define DEVLOCK_DIR "/run/pve-gpu-passthrough/lock"

/* Takes the lock of device NAME; returns the held fd (close it to release), -EBUSY when another
 * process holds it (*holder set to its pid when known, else 0), or -errno. */
int devlock_take(const struct sysroot *sr, const char *name, pid_t *holder);

#endif
