/* dev_health.h - a device's health after a VM gave it back, and its mark. After post-stop (or
 * a reconcile) gave a device back, it is read again: its config space must be readable, its
 * vendor not 0xffff (a card that did not come out of its reset reads all ones), and the
 * driver it had before the VM must have it again. A device that fails is marked until the
 * host reboots: one small file per device, STATE_DIR/health/ADDRESS, with the boot it was
 * marked in (a mark of another boot is void; /run is a tmpfs, so a reboot removes it
 * anyway). pre-start refuses a marked device before it reads or changes anything; check and
 * list show the mark. Reads and one file write; nothing else is changed. */
#ifndef PGP_DEV_HEALTH_H
#define PGP_DEV_HEALTH_H

#include <stdint.h>

#include "dev_state.h"
#include "pci_dev.h"
#include "sysroot.h"

#define HEALTH_DIR STATE_DIR "/health"
#define HEALTH_BOOT_MAX 40 /* the kernel's boot_id: a UUID, 36 characters */

enum health_fault {
	HEALTH_OK = 0,
	HEALTH_CONFIG,    /* its config space cannot be read */
	HEALTH_FFFF,      /* its vendor reads 0xffff: it did not come back from its reset */
	HEALTH_NO_DRIVER, /* its driver did not take it back (the re-probe failed) */
};

/* The mark of one device (the file's name is the device's address). */
struct health_mark {
	char boot[HEALTH_BOOT_MAX]; /* the boot it was marked in ("" not known) */
	int vmid;                   /* the VM after which it failed */
	uint16_t vendor, device;    /* its ids as the state file recorded them */
	enum health_fault fault;    /* never HEALTH_OK */
	char driver[PCIDEV_NAME_MAX]; /* the driver it should have had ("" none) */
};

/* Text form (the file, tests and fuzzing):
 *   pve-gpu-passthrough-health 1
 *   boot 5f1c2d3e-...      ("-": not known)
 *   vmid 100
 *   id 1002:744c
 *   fault ffff            (config, ffff or driver)
 *   driver amdgpu         ("-": none)
 * each line once, in this order, nothing else. health_parse: 0 or -EINVAL. */
int health_format(const struct health_mark *m, char *buf, size_t size);
int health_parse(const char *text, struct health_mark *m);

/* This boot's id (/proc/sys/kernel/random/boot_id) into BUF, "" when it cannot be read. */
void health_boot_id(const struct sysroot *sr, char *buf, size_t size);

/* Reads device NAME again: HEALTH_OK, or its fault (DRIVER: the driver it should have, ""
 * none); -errno when it cannot tell (the device is gone). */
int health_probe(const struct sysroot *sr, const char *name, const char *driver);

/* Device NAME's mark: 1 marked in this boot (*M filled), 0 none (or one of another boot),
 * -EINVAL a mark file that is not valid (refused: treat the device as marked), -errno. */
int health_mark_load(const struct sysroot *sr, const char *name, struct health_mark *m);
/* Why a mark cannot be used (R < 0 from health_mark_load), for the messages. */
const char *health_mark_error(int r);
/* Writes NAME's mark (atomically, 0600). 0 or -errno. */
int health_mark_save(const struct sysroot *sr, const char *name, const struct health_mark *m);

/* What a fault means, for the messages: "its config space reads 0xffff". */
const char *health_fault_text(enum health_fault f);
/* The fix for a marked device, one clause: the host reboot, and what keeps it from coming
 * back (vendor-reset for the AMD ids it knows, else a reset_method, and reboot: 0). */
void health_fix(const char *name, const struct health_mark *m, char *buf, size_t size);

#endif
