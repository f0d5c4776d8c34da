/* check_vm_hook.c - vm.hookscript: the hookscript a VM names, its snippet volume, and the VM's
 * own hookscript that ours runs (attach's record). */
#define _GNU_SOURCE
#include "check_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "pve_hookrec.h"
#include "pve_storage.h"
#include "util.h"

/* The fix for a hookscript volume that is not there (a restore, another node): ours is put
 * back by attach (on the same storage); someone else's cannot be, so the VM starts without it
 * (our attach keeps a hookscript only while its volume exists). */
static void fix_missing_volume(struct ctx *c, struct check_result *r, int vmid, const char *hs,
			       const char *storage, bool storage_ok)
{
	if (pve_snippet_volid_ours(hs) && storage_ok)
		ck_fix(c, r, "put the snippet back: pve-gpu-passthrough attach %d%s%s; or start "
		       "without a hookscript: qm set %d --delete hookscript", vmid,
		       strcmp(storage, "local") ? " --storage " : "",
		       strcmp(storage, "local") ? storage : "", vmid);
	else if (pve_snippet_volid_ours(hs))
		ck_fix(c, r, "run: pve-gpu-passthrough attach %d (on a storage of this node); or "
		       "start without a hookscript: qm set %d --delete hookscript", vmid, vmid);
	else
		ck_fix(c, r, "start without it: qm set %d --delete hookscript (then "
		       "pve-gpu-passthrough attach %d for ours); or restore '%s' on this node",
		       vmid, vmid, hs);
}

void check_vm_hookscript(struct ctx *c, const struct pve_vmconf *conf, const char *subj)
{
	const char *hs = conf->hookscript, *colon = strchr(hs, ':');
	char storage[PVE_STORAGE_ID_MAX], dir[SR_PATH_MAX], path[SR_PATH_MAX], real[SR_PATH_MAX];
	char theirs[VOLID_MAX];
	struct pve_storage st;
	struct check_result *r;
	long long unused;
	int rc;

	if (!hs[0]) {
		r = ck_add(c, "vm.hookscript", CHECK_WARN, subj, "no hookscript: Proxmox binds the "
			"devices itself (by id, every identical card too), releases no console or "
			"framebuffer, and never gives the GPU back to the host");
		ck_fix(c, r, "run: pve-gpu-passthrough attach %d", conf->vmid);
		return;
	}
	if (!colon || !str_has_prefix(colon + 1, "snippets/") || strchr(colon + 10, '/') ||
	    str_copy_n(storage, sizeof(storage), hs, (size_t)(colon - hs)) < 0) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' is not a snippets volume "
			"(STORAGE:snippets/NAME): Proxmox refuses to start the VM", hs);
		ck_fix(c, r, "run: qm set %d --delete hookscript (then pve-gpu-passthrough attach %d)",
		       conf->vmid, conf->vmid);
		return;
	}
	rc = pve_storage_load(c->sr, storage, &st);
	if (rc == -ENOENT) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s': there is no storage "
			"'%s' in '%s': Proxmox refuses to start the VM", hs, storage, PVE_STORAGE_CFG);
		fix_missing_volume(c, r, conf->vmid, hs, storage, false);
		return;
	}
	if (rc == 0)
		rc = pve_storage_snippets_dir(&st, dir);
	if (rc == 0)
		rc = sr_path(path, "%s/%s", dir, colon + 10);
	if (rc < 0) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s': storage '%s' has no "
			"snippets directory (%s): Proxmox refuses to start the VM", hs, storage,
			strerror(-rc));
		fix_missing_volume(c, r, conf->vmid, hs, storage, false);
		return;
	}
	if (hostinfo_mtime(c->sr, path, &unused) < 0) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' ('%s') does not exist "
			"on this node: Proxmox refuses to start the VM", hs, path);
		fix_missing_volume(c, r, conf->vmid, hs, storage, true);
		return;
	}
	if (sr_realpath(c->sr, path, real) < 0 || strcmp(strrchr(real, '/') + 1, HOOK_NAME) != 0) {
		r = ck_add(c, "vm.hookscript", CHECK_WARN, subj, "hookscript '%s' is another script, not "
			"%s: devices are handed over by Proxmox alone", hs, HOOK_NAME);
		ck_fix(c, r, "to use ours too: pve-gpu-passthrough attach %d (keeps '%s' and runs it "
		       "in every phase)", conf->vmid, hs);
		return;
	}
	{
		_cleanup_close_ int fd = sr_openat(c->sr, path, O_PATH, 0);
		struct stat sb;

		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 0111)) {
			r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' ('%s') is not an "
				"executable file: Proxmox refuses to start the VM", hs, real);
			ck_fix(c, r, "reinstall the package (apt install --reinstall pve-gpu-passthrough)");
			return;
		}
	}
	rc = hookrec_load(c->sr, conf->vmid, theirs, sizeof(theirs));
	if (rc == 0 && (pve_snippet_path(c->sr, theirs, path) < 0 ||
			hostinfo_mtime(c->sr, path, &unused) < 0)) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' is %s, but the VM's "
			   "own '%s' it runs does not exist on this node: the start fails as Proxmox's "
			   "would", hs, HOOK_NAME, theirs);
		ck_fix(c, r, "restore '%s' on this node, or forget it: rm %s/%d", theirs, HOOKREC_DIR,
		       conf->vmid);
		return;
	}
	if (rc == 0) {
		ck_add(c, "vm.hookscript", CHECK_PASS, subj, "hookscript '%s' is %s; it runs the VM's "
		       "own '%s' in every phase", hs, HOOK_NAME, theirs);
		return;
	}
	if (rc != -ENOENT) {
		r = ck_add(c, "vm.hookscript", CHECK_FAIL, subj, "hookscript '%s' is %s, but the record "
			   "of the VM's own hookscript '%s/%d' cannot be read (%s): the start fails",
			   hs, HOOK_NAME, HOOKREC_DIR, conf->vmid,
			   rc == -EBADMSG ? "not a record of ours" : strerror(-rc));
		ck_fix(c, r, "write the one line 'hookscript: STORAGE:snippets/NAME' into it, or remove "
		       "it (the VM then runs ours alone): rm %s/%d", HOOKREC_DIR, conf->vmid);
		return;
	}
	ck_add(c, "vm.hookscript", CHECK_PASS, subj, "hookscript '%s' is %s", hs, HOOK_NAME);
}
