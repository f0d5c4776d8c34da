/* pve_hookrec.h - what `attach` keeps about hookscripts (hostile input when read back):
 *  - the VM's own hookscript, kept when attach made ours the VM's hookscript:
 *    HOOKREC_DIR/VMID holds exactly one line "hookscript: STORAGE:snippets/NAME". It lives in
 *    /etc/pve (pmxcfs), so it follows the VM to every node of the cluster, as its config does;
 *  - the snippet copies attach made (SNIPPET_RECORD, this node's): one "VOLID PATH" a line
 *    (a line with only a PATH is a symlink an older version made).
 * And the one question purge and detach ask: does any VM still name a snippet volume? */
#ifndef PGP_PVE_HOOKREC_H
#define PGP_PVE_HOOKREC_H

#include <stdbool.h>
#include <stddef.h>

#include "sysroot.h"

#define SNIPPET_NAME "pve-gpu-passthrough-hook"
/* In every copy of snippet/main.c's program, and nowhere else in a snippets directory: what
 * tells our copy from an admin's file of the same name (attach, debian/postinst, postrm). */
#define SNIPPET_MARKER "pve-gpu-passthrough-snippet-v1: a copy made by 'pve-gpu-passthrough attach'"
#define HOOKREC_DIR "/etc/pve/pve-gpu-passthrough/vm-hookscript"
#define HOOKREC_MAX 512
#define SNIPPET_RECORD "/var/lib/pve-gpu-passthrough/snippets"
#define SNIPPET_RECORD_MAX 16384
#define SNIPPET_RECORD_LINES 64
#define VOLID_MAX 256

/* True when VOLID is STORAGE:snippets/NAME as Proxmox accepts it for a hookscript (a valid
 * storage id; NAME printable, no '/', not "." or "..", shorter than VOLID_MAX in all). */
bool pve_snippet_volid_valid(const char *volid);
/* True when VOLID is STORAGE:snippets/pve-gpu-passthrough-hook: ours. */
bool pve_snippet_volid_ours(const char *volid);
/* Splits a valid snippet VOLID into its storage id and NAME (pointers into VOLID). */
int pve_snippet_volid_split(const char *volid, char *id, size_t idsize, const char **name);

/* The path of snippet volume VOLID on this node (its storage's snippets directory): 0,
 * -EINVAL (not a snippet volume), -ENOENT (no such storage), or pve_storage's errors. */
int pve_snippet_path(const struct sysroot *sr, const char *volid, char out[SR_PATH_MAX]);

/* Parses a VM hookscript record: the volume (valid, not ours) into VOLID. -EBADMSG when the
 * text is anything but "hookscript: VOLID" and an optional newline. */
int hookrec_parse(const char *text, char *volid, size_t size);
/* Reads VM VMID's record: 0, -ENOENT (none), -EBADMSG (not a record), or -errno. */
int hookrec_load(const struct sysroot *sr, int vmid, char *volid, size_t size);
/* Writes it (creating HOOKREC_DIR), or removes it ("already gone" is success). */
int hookrec_save(const struct sysroot *sr, int vmid, const char *volid);
int hookrec_remove(const struct sysroot *sr, int vmid);

struct snippet_copy {
	char volid[VOLID_MAX]; /* "" for a line of an older version (a symlink, path only) */
	char path[SR_PATH_MAX];
};
/* Parses SNIPPET_RECORD's text into at most MAX copies; lines that are not valid (an absolute
 * path without "..", ending in "/" SNIPPET_NAME; a VOLID of ours) are skipped and counted in
 * *BAD. Returns the number of copies. */
int snipcopy_parse(const char *text, struct snippet_copy *out, int max, int *bad);
/* Reads SNIPPET_RECORD (a missing file: 0 copies). */
int snipcopy_load(const struct sysroot *sr, struct snippet_copy *out, int max, int *bad);
/* Writes N copies back (removing the file when N is 0). */
int snipcopy_save(const struct sysroot *sr, const struct snippet_copy *c, int n);

/* How many VM configs, on any node (/etc/pve/nodes/NODE/qemu-server and /etc/pve/qemu-server),
 * name VOLID as hookscript, in their live section or a snapshot's. The live section of VM
 * SKIP_VMID is not counted (0: none skipped). Returns the count or -errno. */
int pve_hookscript_users(const struct sysroot *sr, const char *volid, int skip_vmid);

#endif
