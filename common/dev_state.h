/* dev_state.h - what a pre-start did, so post-stop can undo exactly that: the devices with the
 * driver and driver_override they had, the vtconsoles and firmware framebuffers released.
 * One file per VM, /run/pve-gpu-passthrough/VMID.state, written atomically; /run is a tmpfs,
 * so a reboot (which resets every binding anyway) also forgets every state. */
#ifndef PGP_DEV_STATE_H
#define PGP_DEV_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pci_db.h"
#include "pci_dev.h"
#include "pciaddr.h"
#include "sysroot.h"

#define STATE_DIR "/run/pve-gpu-passthrough"
#define STATE_MAX_DEVS 32
#define STATE_MAX_CONS 16
#define STATE_MAX_RECS 16
#define STATE_KEY_MAX 24
#define STATE_VALUE_MAX 160

/* A keyed record ("rec KEY VALUE" in the file): how a handoff step (dev_ho.h) keeps what it
 * must give back without a field of its own here. KEY: a lower-case word ([a-z0-9_], a letter
 * first); VALUE: printable words separated by single spaces. The step that reads it back
 * treats it as hostile input (the file is in /run, shared with everything running as root). */
struct state_rec {
	char key[STATE_KEY_MAX];
	char value[STATE_VALUE_MAX];
};

struct state_dev {
	char name[PCI_ADDR_LEN];
	int group;
	uint16_t vendor, device;
	char driver[PCIDEV_NAME_MAX];   /* the host driver it had ("" none) */
	char override[PCIDEV_NAME_MAX]; /* the driver_override it had ("" none) */
	bool was_vfio;     /* already on its target before us: stays there */
	/* the variant VFIO driver it was handed to ("" vfio-pci): a driver=keep entry's device
	 * that [vm:N] vfio_driver or [sriov] driver asks a variant for (dev_ho_bind.c) */
	char target[PCIDEV_NAME_MAX];
	/* an unbind of it never returned (its driver's remove() may still hold the device lock,
	 * which reading driver_override takes before Linux 6.19): every later access to it has
	 * a deadline */
	bool stuck;
	/* ... and the process left blocked in it with its start time (holders_proc_start): while
	 * that process lives the device is not touched at all (0: not known) */
	int stuck_pid;
	unsigned long long stuck_start;
};

struct handoff_state {
	int vmid;
	int ndevs;
	struct state_dev devs[STATE_MAX_DEVS];
	int nvtcons;
	int vtcons[STATE_MAX_CONS];
	int nfbs;
	char fbs[STATE_MAX_CONS][64];
	char fb_drivers[STATE_MAX_CONS][64];
	/* consoles moved off a card's framebuffer onto another card's (console.h): the card
	 * (a canonical PCI address) and the consoles (bit N-1 for ttyN); con_mask 0: none */
	char con_home[PCI_ADDR_LEN];
	uint64_t con_mask;
	/* the boot VGA device whose VGA text console vfio-pci removed ("" none) */
	char vgacon[PCI_ADDR_LEN];
	/* reset_method values a [vm:N] reset_method replaced: put back at post-stop */
	int nresets;
	struct {
		char name[PCI_ADDR_LEN];
		char method[128]; /* as it was ("" : reset was off) */
	} resets[STATE_MAX_DEVS];
	bool persistenced; /* nvidia-persistenced was stopped for the handoff: start it again */
	/* the keyed records, in the order they were added */
	int nrecs;
	struct state_rec recs[STATE_MAX_RECS];
};

/* Text form (for the file, tests and fuzzing). state_parse refuses (-EINVAL) any name that
 * fails kernel_name_valid (util.h), a device that is not a canonical PCI address, and a device,
 * framebuffer or vtcon named twice. */
int state_format(const struct handoff_state *s, char *buf, size_t size);
int state_parse(const char *text, struct handoff_state *s);
/* Why VMID's state file is refused, in WHY (its line number and text, or what is missing;
 * "valid" when it is not refused). 0, or -errno when not even that can be said. */
int state_explain(const struct sysroot *sr, int vmid, char *why, size_t size);
/* -ENOENT when VMID has no state. */
int state_load(const struct sysroot *sr, int vmid, struct handoff_state *s);
int state_save(const struct sysroot *sr, const struct handoff_state *s);
int state_remove(const struct sysroot *sr, int vmid);
/* The VMID (other than VMID) whose state holds device NAME, 0 when none. */
int state_owner(const struct sysroot *sr, const char *name, int vmid);
/* The same for N devices from one pass over the state files: OWNERS[i] for NAMES[i]. 0 or
 * -errno (the state directory unreadable). */
int state_owners(const struct sysroot *sr, const char *const *names, int n, int vmid,
		 int *owners);
/* Which of N devices some state file (any VM's) records as stuck: RECS[i] its record there
 * (.stuck false: none), VMIDS[i] the VM whose file it is (0: none). 0 or -errno. */
int state_stuck(const struct sysroot *sr, const char *const *names, int n,
		struct state_dev *recs, int *vmids);
/* The devices some state file records as stuck, each once: the count (the first MAX) or -errno. Readers of driver_override give these a deadline (bind.h). */
int state_stuck_names(const struct sysroot *sr, char (*names)[PCI_ADDR_LEN], int max);
/* pcidb_load for programs that may meet a stuck device (list, check, report): the devices a
 * state file records as stuck get their driver_override read with a deadline. */
int state_pcidb_load(const struct sysroot *sr, struct pcidb **ret);
const struct state_dev *state_find(const struct handoff_state *s, const char *name);

/* Adds the record KEY VALUE (a key may have several). 0, -EINVAL (a key or value the file
 * cannot hold, as above), -E2BIG (full). */
int state_rec_add(struct handoff_state *s, const char *key, const char *value);
/* The value of the Nth (from 0) record named KEY, NULL when there is none. */
const char *state_rec_get(const struct handoff_state *s, const char *key, int nth);
/* Removes every record named KEY. */
void state_rec_drop(struct handoff_state *s, const char *key);

#endif
