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
/* devlock_take, polled until MS pass while another process holds it (-EBUSY then). For the
 * short critical sections that serialise hooks (DEVLOCK_PICK), not for devices. */
int devlock_wait(const struct sysroot *sr, const char *name, unsigned long ms, pid_t *holder);

/* Held while a pre-start picks its mapping entries and locks them: two starts of VMs that use
 * one mapping pick different entries. */
#define DEVLOCK_PICK "mapping-pick"

#endif
