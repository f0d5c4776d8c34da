/* pve_lxc.h - Proxmox containers (pct) that use a GPU: their configs (/etc/pve/lxc/CTID.conf,
 * live section only), tied to the PCI devices whose device nodes they name, and whether they
 * run. Containers reach a GPU in these forms:
 *
 *   devN: [path=]/dev/dri/renderD128[,gid=104,mode=0666,uid=..,deny-write=..]   (PVE 8.1+)
 *   devN: /dev/nvidia0
 *   lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir
 *   lxc.mount.entry: /dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file
 *   lxc.cgroup2.devices.allow: c 226:* rwm          (DRM; c 195:* rwm for NVIDIA; v1's
 *                                                    lxc.cgroup.devices.allow alike)
 *
 * A node is tied to a device by major:minor (the node's own, or the one sysfs gives for its
 * name) or by a /dev/dri/by-path/pci-BDF-* name, never by the number in "renderD128": that
 * number can belong to another card after drivers rebind. A container runs when
 * /var/lib/lxc/CTID exists and its cgroup (/sys/fs/cgroup/lxc/CTID, cgroup v2) is populated:
 * Proxmox's own view, read below the root without running a program.
 *
 * Every config is hostile input: bounded size, no NUL byte, device paths only below /dev
 * (no "..", printable, bounded), errors with line numbers. Library code: 0 or -errno, no
 * printing. */
#ifndef PGP_PVE_LXC_H
#define PGP_PVE_LXC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pciaddr.h"
#include "sysroot.h"

#define LXC_CONF_MAX (1 << 20) /* pmxcfs' own limit on a file */
#define LXC_MAX_USES 32
#define LXC_MAX_CTS 512
#define LXC_MAX_DEVS 1024 /* the PCI devices one pve_lxc_users call ties to containers */
#define LXC_PATH_MAX 64
#define LXC_MAJOR_DRM 226
#define LXC_MAJOR_NVIDIA 195
#define LXC_ANY (~0u) /* a "*" major or minor */

enum lxc_use_kind {
	LXC_USE_DEV,    /* devN: PATH */
	LXC_USE_MOUNT,  /* lxc.mount.entry: PATH ... */
	LXC_USE_CGROUP, /* lxc.cgroup[2].devices.allow: c MAJOR:MINOR */
};

/* One way the container reaches a device node. */
struct lxc_use {
	enum lxc_use_kind kind;
	int line;                 /* its line in the config */
	int index;                /* N of devN (-1 for the others) */
	char path[LXC_PATH_MAX];  /* the node or directory below /dev ("" for cgroup rules) */
	/* what it grants, by major:minor (LXC_ANY: every one); a path gets these from
	 * pve_lxc_resolve, a cgroup rule from the config itself */
	unsigned major, minor;
	bool resolved;            /* major:minor (or by_path) are known */
	char by_path[PCI_ADDR_LEN]; /* a /dev/dri/by-path/pci-BDF-* name: that device */
};

struct lxc_conf {
	int ctid;
	char hostname[64];
	int nuses;
	struct lxc_use uses[LXC_MAX_USES];
};

/* Parses config TEXT (everything before the first "[...]" line): the GPU-relevant lines above
 * (and hostname); every other line is left alone. -EINVAL with *err_line and err for a devN
 * path outside /dev or malformed, a cgroup rule that does not parse, or a NUL byte; -E2BIG
 * beyond LXC_MAX_USES. Mount entries whose source is not below /dev are not devices:
 * skipped. */
int pve_lxc_parse(const char *text, size_t len, struct lxc_conf *ret, int *err_line, char *err,
		  size_t errsize);
/* Reads and parses container CTID's config on NODE (its file in /etc/pve/lxc, else in
 * /etc/pve/nodes/NODE/lxc); at most LXC_CONF_MAX bytes (-EFBIG beyond). */
int pve_lxc_load(const struct sysroot *sr, const char *node, int ctid, struct lxc_conf *ret,
		 int *err_line, char *err, size_t errsize);
/* The containers of NODE (/etc/pve/lxc and /etc/pve/nodes/NODE/lxc, each CTID once), sorted;
 * the count (at most MAX) or -errno. No directory: 0. */
int pve_lxc_list(const struct sysroot *sr, const char *node, int *ctids, int max);
/* 1 when container CTID runs, 0 when not, -errno. */
int pve_lxc_running(const struct sysroot *sr, int ctid);
/* The container process PID runs in (its cgroup below /lxc/CTID or /lxc.payload.CTID), 0
 * when none, -errno (-ENOENT: no such process). */
int pve_lxc_of_pid(const struct sysroot *sr, pid_t pid);

/* Ties U's path to major:minor now: the node's own when it exists (a character device),
 * else what /sys/class/drm/NAME/dev says, /dev/nvidiaN as 195:N, a directory (/dev/dri) as
 * every DRM node; a /dev/dri/by-path name to its PCI device. 0, -ENOENT (nothing says which
 * device it is now: the node is missing). */
int pve_lxc_resolve(const struct sysroot *sr, struct lxc_use *u);

/* The device nodes of PCI device NAME now: its DRM nodes (drm/ in sysfs, dev files) and an
 * NVIDIA card's /dev/nvidiaN. The count (at most MAX) or -errno. */
struct lxc_node {
	char name[32]; /* "renderD128", "card0", "nvidia0" */
	unsigned major, minor;
};
int pve_lxc_dev_nodes(const struct sysroot *sr, const char *name, struct lxc_node *out, int max);

/* Whether resolved use U grants a node of PCI device NAME (NODES: its nodes). */
bool pve_lxc_use_hits(const struct lxc_use *u, const char *name, const struct lxc_node *nodes,
		      int n);

/* One container using one device. */
struct lxc_user {
	int ctid;
	bool running;
	char hostname[64];
	char dev[PCI_ADDR_LEN];  /* the PCI device */
	char what[96];           /* the config entry: "dev0 /dev/dri/renderD128", "lxc.mount.entry
				  * /dev/dri", "lxc.cgroup2.devices.allow c 226:*" */
};
/* Every container of NODE whose config uses one of the N PCI devices DEVS (at most
 * LXC_MAX_DEVS, else -E2BIG): at most MAX entries (one per container and device, containers in
 * CTID order). A container whose config cannot be read or parsed is skipped; *NBAD counts them
 * and ERR gets the first one's reason ("CT 200: ..."). The count or -errno. */
int pve_lxc_users(const struct sysroot *sr, const char *node, const char *const *devs, int n,
		  struct lxc_user *out, int max, int *nbad, char *err, size_t errsize);
/* The uses of C whose node does not exist now (a devN path, or a mount entry of a single
 * node): what a running container has lost. The count; PATHS gets at most MAX of them. */
int pve_lxc_missing(const struct sysroot *sr, const struct lxc_conf *c,
		    char (*paths)[LXC_PATH_MAX], int max);

#endif

