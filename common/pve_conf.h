/* pve_conf.h - Proxmox VM configuration (/etc/pve/qemu-server/VMID.conf, live section only),
 * its hostpciN entries expanded the way Proxmox expands them, PCI resource mappings
 * (/etc/pve/mapping/pci.cfg) and Proxmox's PCI reservations (/run/qemu-server/...).
 * Every input is treated as hostile: bounded sizes, strict syntax, errors with line numbers. */
#ifndef PGP_PVE_CONF_H
#define PGP_PVE_CONF_H

#include <stdbool.h>

#include "pciaddr.h"
#include "sysroot.h"

#define PVE_MAX_HOSTPCI 16   /* hostpci0 .. hostpci15 */
#define PVE_MAX_IDS 16       /* ';'-joined ids in one entry */
#define PVE_CONF_MAX (1 << 20)

struct pve_pci_id {
	struct pci_addr addr;
	bool has_func; /* false: every function of bus:slot */
};
/* Function F (0..7) of what ID names, in *A: false when ID names another function. */
bool pve_pci_id_func(const struct pve_pci_id *id, int f, struct pci_addr *a);

struct pve_hostpci {
	int index;           /* N of hostpciN */
	char mapping[128];   /* mapping=NAME, "" for host= */
	int nids;            /* host= ids */
	struct pve_pci_id ids[PVE_MAX_IDS];
	bool keep;           /* driver=keep: Proxmox leaves it alone, so do we */
	bool mdev;           /* mdev=...: mediated device, left alone */
	bool pcie, x_vga, rombar;
	char romfile[256];   /* relative to /usr/share/kvm */
	bool legacy_igd;     /* legacy-igd=1 */
	char value[1024];    /* the value as written (for fixes that rewrite it) */
};

struct pve_vmconf {
	int vmid;
	int nhostpci;
	struct pve_hostpci hostpci[PVE_MAX_HOSTPCI];
	char hookscript[256];
	char bios[32];      /* "ovmf", "seabios" or "" */
	char machine[64];   /* "q35", "pc-q35-8.1", ... or "" */
	char lock[32];
	char vga[64];
	char ostype[32];
	char cpu[128];
	bool is_template;
	bool onboot;        /* onboot: 1, started when the node boots */
	bool no_reboot;     /* reboot: 0, a guest reboot stops the VM (the hooks run) */
	char args[1024];    /* extra QEMU arguments ("" when none, or too long to keep) */
	unsigned long memory_mb; /* memory (its current= value), 0 when not set */
};

/* Parses config TEXT (live section only: everything before the first "[...]" line).
 * Errors: -EINVAL with *err_line set and err (when given) describing the problem. */
int pve_vmconf_parse(const char *text, struct pve_vmconf *ret, int *err_line, char *err,
		     size_t errsize);
/* Loads /etc/pve/qemu-server/VMID.conf below the root and parses it. */
int pve_vmconf_load(const struct sysroot *sr, int vmid, struct pve_vmconf *ret, int *err_line,
		    char *err, size_t errsize);
/* The same from /etc/pve/nodes/NODE/qemu-server/VMID.conf (NODE NULL: this node's
 * /etc/pve/qemu-server): a migration target reads the config where it still is, on the
 * source node (qemu-server loads it with the migratedfrom node); `check --cluster` reads
 * every node's VMs. */
int pve_vmconf_load_node(const struct sysroot *sr, int vmid, const char *node,
			 struct pve_vmconf *c, int *err_line, char *err, size_t errsize);
/* Parses one hostpciN value ("0000:02:00,pcie=1,x-vga=1" or "mapping=gpu,pcie=1"). */
int pve_hostpci_parse(const char *value, struct pve_hostpci *ret, char *err, size_t errsize);

/* The map entries of one mapping for one node in /etc/pve/mapping/pci.cfg, in file order:
 *   NAME                     section header, column 0
 *   	map id=10de:2231,node=pve1,path=0000:01:00.0;0000:01:00.1
 * nentries counts every entry for the node, nalts those whose path parses. */
#define PVE_MAX_MAP_ALTS 64
struct pve_map_alt {
	int nids;
	struct pve_pci_id ids[PVE_MAX_IDS];
	char id[16]; /* vendor:device the mapping expects */
};
struct pve_mapping {
	int nentries, nalts;
	struct pve_map_alt alts[PVE_MAX_MAP_ALTS];
};
/* Parses mapping file TEXT for NAME on NODE (pve_mapping.c: the one parser of the file, a
 * line starting with '#' skipped wherever it is, as SectionConfig does); -E2BIG beyond
 * PVE_MAX_MAP_ALTS entries. */
int pve_mapping_parse(const char *text, const char *name, const char *node,
		      struct pve_mapping *ret);

/* One resolved device list of a hostpci entry (what Proxmox passes to QEMU). */
struct pve_devlist {
	int n;
	char names[PVE_MAX_IDS * 8][PCI_ADDR_LEN];
};

/* Expands ENTRY to the devices that exist now: ids without a function give every present
 * function of that slot (prefix match, sorted); a mapping picks the first map entry for NODE
 * whose devices are not reserved by another VM than VMID. -ENODEV (with err) when nothing
 * matches. driver=keep and mdev entries expand to an empty list. */
int pve_hostpci_expand(const struct sysroot *sr, const struct pve_hostpci *entry, const char *node,
		       int vmid, struct pve_devlist *ret, char *err, size_t errsize);

/* Expands every hostpci entry of C in order into RET (all devices, each once), as Proxmox
 * does for a start: a mapping skips alternatives that an earlier entry already uses, and a
 * device named twice is an error. On error *err_index is the failing entry's N. */
int pve_vmconf_expand(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
		      struct pve_devlist *ret, int *err_index, char *err, size_t errsize);
/* What the caller knows to be in use beyond Proxmox's reservations (another VM's handoff):
 * FN(DATA, device) true. */
struct pve_busy {
	bool (*fn)(void *data, const char *dev);
	void *data;
};
/* pve_vmconf_expand where a mapping also skips an entry with a device INUSE says is in use
 * (NULL: none), as Proxmox skips one it cannot reserve: the hookscript's pre-start. */
int pve_vmconf_expand_busy(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
			   const struct pve_busy *inuse, struct pve_devlist *ret, int *err_index,
			   char *err, size_t errsize);

/* The whole VM expanded per entry (pve_vmconf_expand_all), for reports that show every entry:
 * rc 0 with devs, or the entry's error (Proxmox's wording) in err. */
struct pve_hostpci_result {
	int rc;
	char err[320];
	struct pve_devlist devs;
};

/* pve_vmconf_expand's walk, kept going past a failing entry (which then contributes no
 * devices) so that each entry gets its result in RES[i] (i: position in C->hostpci). ALL gets
 * every device once. Returns the first error (Proxmox stops there), *err_index its hostpci N;
 * 0 when every entry expands. The hook and `check` both use this walk. */
int pve_vmconf_expand_all(const struct sysroot *sr, const struct pve_vmconf *c, const char *node,
			  struct pve_hostpci_result *res, struct pve_devlist *all, int *err_index);

/* An invalid map entry of a mapping, and how it must read for the hardware there now. */
struct pve_map_problem {
	int line;          /* its line in /etc/pve/mapping/pci.cfg; 0 when none */
	char entry[768];   /* the map entry's value as it is */
	char fixed[768];   /* the value as it must read ("" when no edit helps: a device is gone) */
};

/* Proxmox's validation of mapping NAME before a start (qemu-server parse_hostpci calls
 * PVE::Mapping::PCI::assert_valid for every map entry of NODE before choosing one): for each
 * path part (function .0 when none is given) the device must exist and its vendor:device
 * (id), subsystem vendor:device (subsystem-id) and, for the first part, IOMMU group
 * (iommugroup) must equal the entry's, each present on both sides or on neither, and the
 * section's mdev flag must match whether the device offers mediated devices. 0 when valid;
 * -EINVAL with err "PCI device mapping invalid (hardware probably changed): ..." and, when PROB
 * is given, the entry and its fix; -ENODEV when NODE has no entry ("PCI device mapping not
 * found for 'NAME'"). */
int pve_mapping_validate(const struct sysroot *sr, const char *name, const char *node,
			 struct pve_map_problem *prob, char *err, size_t errsize);
/* pve_mapping_validate and, when it passes, the alternatives into MAP (when given), from one
 * read of the mapping file: what a start does. */
int pve_mapping_load(const struct sysroot *sr, const char *name, const char *node,
		     struct pve_mapping *map, struct pve_map_problem *prob, char *err,
		     size_t errsize);
/* The alternatives of NAME for NODE as the file lists them, not validated against the host
 * (a device they name may be missing): for the hook's search of a VF not made yet. */
int pve_mapping_paths(const struct sysroot *sr, const char *name, const char *node,
		      struct pve_mapping *map);

/* The VMID holding a live Proxmox reservation of device NAME other than VMID (a time
 * reservation not yet expired, or a pid reservation whose pid is alive), 0 when none. */
int pve_reserved_by_other(const struct sysroot *sr, const char *name, int vmid);
/* The same for N devices at once, from one read of the reservations: OWNERS[i] is the VMID
 * holding NAMES[i] (0 when none). 0 or -errno. */
int pve_reserved_by_others(const struct sysroot *sr, const char *const *names, int n, int vmid,
			   int *owners);

/* The node name: GIVEN (--node) when it is set, else the one Proxmox uses, uname's nodename up
 * to the first '.'; "localhost" when neither fits BUF (the one fallback every program uses). */
void pve_node_name(const char *given, char *buf, size_t size);

/* A Proxmox VMID (pve-vmid): decimal 100 .. 999999999, no sign, no leading zero. 0 or
 * -EINVAL. The one parser for command lines, config sections, file names and state files. */
int pve_vmid_parse(const char *s, int *ret);

/* Shared by pve_conf.c and pve_mapping.c only. pve_conf_errf formats into ERR (when given) and
 * returns -EINVAL; pve_conf_parse_ids parses a ';'-separated device list; pve_conf_slurp reads
 * a whole small regular file below the root (-EINVAL when it holds a NUL byte; *ret set only
 * on success). */
int pve_conf_errf(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pve_conf_parse_ids(const char *list, bool need_domain, struct pve_pci_id *ids, int *nids,
		       char *err, size_t errsize);
int pve_conf_slurp(const struct sysroot *sr, const char *path, size_t max, char **ret);

#endif
