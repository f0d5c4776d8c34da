/* pve_storage.h - one storage of Proxmox's /etc/pve/storage.cfg, read the way pve-storage reads
 * it (PVE::SectionConfig + PVE::Storage::Plugin::parse_config):
 *
 *   dir: local                 section header "TYPE: ID" in column 0
 *   	path /var/lib/vz         properties: indented "KEY VALUE" (a bare KEY is boolean 1)
 *   	content iso,vztmpl,backup
 *   	content-dirs snippets=hooks
 *   (blank line)               ends the section; lines starting with '#' are skipped
 *
 * Proxmox's fix-ups are applied: a missing, non-"dir" or moved "local" storage is replaced by
 * "dir: local" with path /var/lib/vz and every content type (snippets included); "local"
 * without a path gets /var/lib/vz; network types are always shared. A line Proxmox would
 * ignore is ignored here too. Library code: returns 0 or a negative errno, never logs. */
#ifndef PGP_PVE_STORAGE_H
#define PGP_PVE_STORAGE_H

#include <stdbool.h>

#include "sysroot.h"

#define PVE_STORAGE_CFG "/etc/pve/storage.cfg"
#define PVE_STORAGE_CFG_MAX (1 << 20)
#define PVE_STORAGE_ID_MAX 64

struct pve_storage {
	char type[32];         /* "dir", "nfs", "cifs", ... */
	char id[PVE_STORAGE_ID_MAX];
	char path[256];        /* "" when the storage has no path (cannot hold snippets) */
	char content[256];     /* the content list as written, "" when there is no content line */
	bool has_content;      /* a content line was present (else the type's default applies) */
	char snippets_dir[256]; /* content-dirs override for snippets, "" for "snippets" */
	char nodes[256];       /* nodes restriction as written, "" for every node */
	bool shared;
	bool disabled;
	bool synthesized;      /* "local" made up by Proxmox's rules, not read from the file */
};

/* True when ID is a valid Proxmox storage id ([a-z][a-z0-9._-]*[a-z0-9], any case). */
bool pve_storage_id_valid(const char *id);

/* Finds storage ID in storage.cfg TEXT. -ENOENT when there is no such storage (and ID is not
 * "local"), -ENAMETOOLONG when one of its values does not fit struct pve_storage, -EBADMSG
 * when its content-dirs holds an entry Proxmox rejects ("snippets=../../etc"). */
int pve_storage_parse(const char *text, const char *id, struct pve_storage *ret);

/* Reads /etc/pve/storage.cfg below the root and finds ID. A missing file counts as an empty
 * one (Proxmox then knows only "local"); -EFBIG when it is larger than PVE_STORAGE_CFG_MAX,
 * -SR_ENOTREG when it is not a regular file, -EINVAL when it holds a NUL byte. */
int pve_storage_load(const struct sysroot *sr, const char *id, struct pve_storage *ret);

/* True when the storage's content list contains TYPE ("snippets"). */
bool pve_storage_has_content(const struct pve_storage *s, const char *type);

/* True when NODE may use the storage (no nodes restriction, or NODE is listed). */
bool pve_storage_on_node(const struct pve_storage *s, const char *node);

/* The directory that holds STORAGE:snippets/NAME: PATH/snippets, or PATH/OVERRIDE from
 * content-dirs. -ENOTDIR when the storage has no path. */
int pve_storage_snippets_dir(const struct pve_storage *s, char out[SR_PATH_MAX]);

#endif
