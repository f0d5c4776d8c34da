/* dev_quirks.h - what specific kinds of card need, read from sysfs and procfs (and, for NVIDIA's
 * persistence mode, from the driver's own tool): SR-IOV physical and virtual functions, AMD
 * GPU generations and their reset (vendor-reset's device list), a device's reset_method, and
 * what keeps an NVIDIA card initialised without an open file (nvidia-persistenced, persistence
 * mode). The handoff (dev_handoff.h), `check` and `list` use it. Library code: reads, plus the one
 * reset_method write and the programs run through a struct quirks_exec; nothing printed. */
#ifndef PGP_DEV_QUIRKS_H
#define PGP_DEV_QUIRKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pciaddr.h"
#include "sysroot.h"

/* ---- SR-IOV ------------------------------------------------------------------------------ */

struct sriov_info {
	int totalvfs;          /* sriov_totalvfs: > 0 for a physical function (PF) */
	int numvfs;            /* sriov_numvfs: the VFs enabled now */
	bool is_vf;            /* a virtual function: it has a physfn link */
	char pf[PCI_ADDR_LEN]; /* a VF's PF */
};

/* SR-IOV facts of device NAME (all zero for a plain device). 0 or -errno (-ENOENT: no such
 * device). */
int quirks_sriov(const struct sysroot *sr, const char *name, struct sriov_info *ret);
/* The VFs of PF (its virtfnN links), in VF order; the count (at most MAX) or -errno. */
int quirks_sriov_vfs(const struct sysroot *sr, const char *pf, char (*vfs)[PCI_ADDR_LEN], int max);
/* How a PF driver creates VFs at boot, for drivers whose VFs users expect and do not find
 * (Intel i915 with i915-sriov-dkms, xe): "i915.max_vfs=7" style advice; NULL for others. */
const char *quirks_sriov_boot_param(const char *driver);

/* ---- AMD GPUs: generation and reset ------------------------------------------------------ */

enum amd_reset {
	AMD_RESET_VENDOR_RESET, /* vendor-reset has a reset for it: load it, device_specific */
	AMD_RESET_NOT_COVERED,  /* vendor-reset has none: the kernel's own methods are all */
};

struct amd_generation {
	const char *name;  /* "Polaris 10", "Navi 21" */
	const char *cards; /* "RX 470/480/570/580/590" */
	enum amd_reset reset;
};

/* The generation of an AMD (1002) device id: vendor-reset's own device list (every id it
 * handles) and the RDNA2 id blocks of the kernel's amdgpu table (which vendor-reset does not
 * handle). NULL when the id is in neither: not a GPU we know (then vendor-reset does not
 * handle it either). */
const struct amd_generation *quirks_amd_generation(uint16_t vendor, uint16_t device);

/* 1 when the firmware booted with Secure Boot on (the SecureBoot EFI variable), 0 when off
 * or not an EFI boot. */
int quirks_secure_boot(const struct sysroot *sr);

struct vendor_reset_state {
	bool loaded;         /* /sys/module/vendor_reset */
	bool tainted;        /* loaded, and its taint flags say unsigned ('E') */
	bool file;           /* a module file for the running kernel */
	int file_signed;     /* that file: 1 signed, 0 unsigned, -1 cannot tell (compressed) */
	char path[SR_PATH_MAX]; /* the file, below the root */
};
/* What the host has of vendor-reset. 0 or -errno. */
int quirks_vendor_reset(const struct sysroot *sr, struct vendor_reset_state *ret);

/* ---- reset_method -------------------------------------------------------------------------- */

/* True for a value the kernel accepts in reset_method: "default", or one or more distinct
 * method names from the kernel's list, space-separated. */
bool quirks_reset_method_valid(const char *value);
/* Device NAME's reset_method into BUF ("" when reset is off). -ENOENT when the kernel has no
 * such attribute (before 5.15). */
int quirks_reset_method_read(const struct sysroot *sr, const char *name, char *buf, size_t size);
/* Writes VALUE ("" switches reset off) when the attribute differs: 1 written, 0 already so,
 * -errno (-EINVAL: the kernel refuses a method the device does not have). */
int quirks_reset_method_write(const struct sysroot *sr, const char *name, const char *value);

/* ---- NVIDIA -------------------------------------------------------------------------------- */

#define QUIRKS_PERSISTENCED "nvidia-persistenced"
#define QUIRKS_PERSISTENCED_UNIT "nvidia-persistenced.service"

/* Runs ARGV (argv[0] an absolute path; no shell, a fixed environment) and puts its standard
 * output in OUT. Its exit status (>= 0), or -errno when it could not run. */
struct quirks_exec {
	int (*run)(void *data, const char *const *argv, char *out, size_t outsize);
	void *data;
};
/* The real runner (DATA: the struct sysroot; it refuses, -EPERM, below a root that is not the
 * running system: programs always act on it). A program gets at most TIMEOUT_S seconds.
 * Returns as spawn_run() does: its exit status, 128 + N for signal N, or -errno. */
int quirks_exec_real(void *data, const char *const *argv, char *out, size_t outsize);
#define QUIRKS_EXEC_TIMEOUT_S 30

/* The pid of the running nvidia-persistenced (a /proc scan), 0 when none, -errno. A process
 * counts only when its comm is the daemon's, it runs in nvidia-persistenced.service's cgroup
 * (/proc/PID/cgroup) and /proc/PID/exe is a program named nvidia-persistenced: a user's
 * process that names itself so is not it. */
pid_t quirks_nvidia_daemon(const struct sysroot *sr);
/* Persistence mode of the NVIDIA GPU NAME, asked from nvidia-smi: 1 on, 0 off, -errno when
 * it cannot be told (-ENOENT: no nvidia-smi). */
int quirks_nvidia_persistence(const struct quirks_exec *ex, const char *name);
/* systemctl stop|start nvidia-persistenced.service: 0, or -EIO (systemctl failed), -errno. */
int quirks_persistenced(const struct quirks_exec *ex, bool start);

#endif
