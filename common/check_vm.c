/* check_vm.c - the VM checks: one VM config's hostpci entries, mappings, ROM files,
 * hookscript (see check_list.h for the ids); the BARs against the guest's address space are in
 * check_vm_bars.c. */
#define _GNU_SOURCE
#include "check_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev_bind.h"
#include "cfg_ini.h"
#include "dev_console.h"
#include "pve_conf.h"
#include "pve_hookrec.h"
#include "pve_storage.h"
#include "dev_rom.h"
#include "util.h"
#include "sysfs.h"

/* --- VMs -------------------------------------------------------------------------------- */

static bool is_q35(const char *machine)
{
	const char *m = str_has_prefix(machine, "type=") ? machine + 5 : machine;

	return strncmp(m, "q35", 3) == 0 || str_has_prefix(m, "pc-q35");
}

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

static void check_hookscript(struct ctx *c, const struct pve_vmconf *conf, const char *subj)
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

/* VALUE (a hostpciN value) with the items whose key is DROP removed and ADD appended; the
 * first item may be a bare host id. The result is valid until the next call. */
static const char *hostpci_edit(const char *value, const char *drop, const char *add_item)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	size_t n;

	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t klen = strcspn(t, "=");

		if (drop && strlen(drop) == klen && !strncmp(t, drop, klen) && t[klen] == '=')
			continue;
		n = strlen(out);
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", t);
	}
	n = strlen(out);
	if (add_item)
		snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", add_item);
	return out;
}

/* VALUE with its host ids replaced by HOST. */
static const char *hostpci_with_host(const char *value, const char *host)
{
	static char out[1200];
	char buf[1024], *save = NULL;
	int i = 0;

	snprintf(out, sizeof(out), "%s", host);
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		size_t n = strlen(out);

		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "host="))
			continue;
		snprintf(out + n, sizeof(out) - n, ",%s", t);
	}
	return out;
}

/* A mapping entry: Proxmox's validation of every map entry of this node. Returns -EINVAL
 * (after a FAIL) when the start would stop there. */
static int check_mapping(struct ctx *c, const struct pve_hostpci *h, const char *subj)
{
	struct pve_map_problem p;
	struct check_result *r;
	char err[320];
	int rc = pve_mapping_validate(c->sr, h->mapping, c->node, &p, err, sizeof(err));

	if (rc == 0) {
		ck_add(c, "vm.mapping", CHECK_PASS, subj, "mapping '%s': every entry for node '%s' "
		    "matches the hardware (id, subsystem-id, iommugroup)", h->mapping, c->node);
		return 0;
	}
	if (rc != -EINVAL)
		return 0; /* not found: vm.hostpci reports Proxmox's error */
	r = ck_add(c, "vm.mapping", CHECK_FAIL, subj, "mapping '%s': %s: Proxmox refuses to start "
		"the VM, and the hookscript refuses it before binding anything", h->mapping, err);
	if (p.fixed[0]) {
		ck_fix(c, r, "edit '/etc/pve/mapping/pci.cfg' line %d to read:", p.line);
		ck_fix(c, r, "    \tmap %s", p.fixed);
		ck_fix(c, r, "(or correct the entry for node '%s' in Datacenter > Resource Mappings)",
		    c->node);
	} else {
		ck_fix(c, r, "'/etc/pve/mapping/pci.cfg' line %d (map %s) no longer describes this "
			  "host: correct its path in Datacenter > Resource Mappings "
			  "(pve-gpu-passthrough list shows the devices)", p.line, p.entry);
	}
	return -EINVAL;
}

/* Proxmox's legacy-igd rules (qemu-server PCI.pm parse_hostpci_devices), in its order. */
static void check_igd(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
		      const struct pve_devlist *l, bool q35, bool *seen, const char *subj)
{
	const struct pci_dev_info *d = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
	struct check_result *r;
	const char *why = NULL, *fixline = NULL;
	char fixbuf[1400];

	if (*seen) {
		why = "only one device can be assigned in legacy-igd mode";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "legacy-igd", NULL));
	} else if (strcmp(conf->vga, "none") != 0) {
		why = "legacy IGD assignment requires VGA mode to be 'none'";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --vga none", conf->vmid);
	} else if (!h->rombar) {
		why = "legacy IGD assignment requires rombar to be enabled";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "rombar", NULL));
	} else if (h->x_vga) {
		why = "legacy IGD assignment is not compatible with x-vga";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "x-vga", NULL));
	} else if (h->mdev) {
		why = "legacy IGD assignment is not compatible with mdev";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_edit(h->value, "mdev", NULL));
	} else if (q35) {
		why = "legacy IGD assignment is not compatible with q35";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --machine pc", conf->vmid);
		if (h->pcie)
			snprintf(fixbuf + strlen(fixbuf), sizeof(fixbuf) - strlen(fixbuf),
				 " --hostpci%d %s", h->index, hostpci_edit(h->value, "pcie", NULL));
	} else if (l->n > 1) {
		why = "legacy IGD assignment is not compatible with multifunction devices";
		snprintf(fixbuf, sizeof(fixbuf), "qm set %d --hostpci%d %s", conf->vmid, h->index,
			 hostpci_with_host(h->value, "0000:00:02.0"));
	} else if (l->n == 1 && !str_has_prefix(l->names[0] + strlen(l->names[0]) - 4, "02.0")) {
		why = "legacy IGD assignment only works for devices on host bus 00:02.0";
		fixline = "pass the iGPU at 0000:00:02.0 in legacy-igd mode, other devices without it";
	}
	*seen = true;
	if (!why) {
		ck_add(c, "vm.igd", CHECK_PASS, subj, "legacy-igd: machine i440fx, vga none, %s%s",
		    l->n ? l->names[0] : "the iGPU", d && !pcidev_is_igpu(d) ? " (not an Intel iGPU)" : "");
		return;
	}
	r = ck_add(c, "vm.igd", CHECK_FAIL, subj, "%s: Proxmox refuses to start the VM", why);
	if (fixline)
		ck_fix(c, r, "%s", fixline);
	else
		ck_fix(c, r, "run: %s", fixbuf);
}

/* The AMD APU generation when D is a function of an APU's card (the GPU's slot), or NULL. */
static const char *apu_of_card(const struct ctx *c, const struct pci_dev_info *d)
{
	const struct pcidb *db = c->rep->db;

	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[i];
		const char *g = quirk_amd_apu(o);

		if (g && pcidb_same_card(db, o, d))
			return g;
	}
	return NULL;
}

/* The first hostpci index the VM does not use. */
static int next_free(const struct pve_vmconf *conf)
{
	for (int n = 0; n < PVE_MAX_HOSTPCI; n++) {
		bool used = false;

		for (int i = 0; i < conf->nhostpci && !used; i++)
			used = conf->hostpci[i].index == n;
		if (!used)
			return n;
	}
	return PVE_MAX_HOSTPCI;
}

/* A VM that passes some functions of a card but not all: when the card has no function-level
 * reset, its reset (a bus reset, every function at once) hits the functions left out too; a
 * function on another bus behind the card's own switch (pcidb_card) stays on the host. */
static void check_functions(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			    const struct pve_devlist *l, const struct pve_devlist *all,
			    const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char left[256] = "", slot[PCI_ADDR_LEN], path[SR_PATH_MAX], methods[128] = "";
	const struct pci_dev_info *first = l->n ? pcidb_find(db, l->names[0]) : NULL;
	char apart[256] = "", apart_cmd[256] = "", card[PCI_ADDR_LEN];
	int next = next_free(conf);
	struct check_result *r;
	bool flr;

	/* an APU's slot holds host devices too (vm.apu_functions); only its HDMI audio goes
	 * with the GPU (vm.apu) */
	if (!first || first->is_bridge || apu_of_card(c, first))
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[db->byaddr[i]];
		bool in = false;
		size_t n;

		if (o == first || o->is_bridge || !pcidb_same_card(db, o, first))
			continue;
		for (int k = 0; k < all->n && !in; k++)
			in = !strcmp(all->names[k], o->name);
		if (in)
			continue;
		if (!pcidev_same_slot(o, first)) {
			n = strlen(apart);
			snprintf(apart + n, sizeof(apart) - n, "%s%s (%s)", n ? ", " : "", o->name,
				 drv_name(o));
			n = strlen(apart_cmd);
			if (next < PVE_MAX_HOSTPCI)
				snprintf(apart_cmd + n, sizeof(apart_cmd) - n, " --hostpci%d %s%s",
					 next++, o->name, h->pcie ? ",pcie=1" : "");
			continue;
		}
		n = strlen(left);
		snprintf(left + n, sizeof(left) - n, "%s%s (%s)", n ? ", " : "", o->name, drv_name(o));
	}
	if (apart[0]) {
		pcidb_card(db, first, card);
		r = ck_add(c, "vm.functions", CHECK_WARN, subj, "passes %s but not %s of the same card "
			"behind its own PCIe switch (%s): it stays on the host (for a GPU's audio "
			"function: the guest gets no sound over HDMI/DisplayPort)", first->name, apart,
			card);
		if (h->mapping[0])
			ck_fix(c, r, "map it too: a mapping of its own for each (their ids differ from "
				  "the GPU's), and a hostpci entry for it in the VM");
		else
			ck_fix(c, r, "pass it too: qm set %d%s", conf->vmid, apart_cmd);
	}
	if (!left[0])
		return;
	/* Without reset_method (kernels before 5.15) the reset cannot be told: no warning. */
	if (sysfs_pci_dev(path, first->name, "reset_method") < 0 ||
	    sr_read_str(c->sr, path, methods, sizeof(methods)) < 0)
		return;
	flr = has_word(methods, "flr") || has_word(methods, "af_flr") ||
	      has_word(methods, "device_specific");
	if (flr)
		return;
	snprintf(slot, sizeof(slot), "%.*s", (int)strlen(first->name) - 2, first->name);
	r = ck_add(c, "vm.functions", CHECK_WARN, subj, "passes %s but not %s of the same card, "
		"which resets as one (%s): the guest's resets reset the functions left out too",
		first->name, left, methods[0] ? methods : "no function-level reset");
	if (h->mapping[0])
		ck_fix(c, r, "map the whole card: path=%s in mapping '%s' (Datacenter > Resource "
			  "Mappings)", slot, h->mapping);
	else
		ck_fix(c, r, "pass the whole card: qm set %d --hostpci%d %s", conf->vmid, h->index,
		    hostpci_with_host(h->value, slot));
}

/* NVSwitches the VM does not pass while it passes datacenter GPUs. */
static void check_vm_fabric(struct ctx *c, const struct pve_vmconf *conf,
			    const struct pve_devlist *all, int next_index, const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char missing[512] = "", cmd[1024] = "";
	struct check_result *r;
	bool gpu = false;
	int nsw = 0, nmiss = 0;

	for (int k = 0; k < all->n; k++) {
		const struct pci_dev_info *d = pcidb_find(db, all->names[k]);

		gpu |= d && pcidev_is_nv_datacenter(d);
	}
	if (!gpu)
		return;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *d = &db->dev[db->byaddr[i]];
		bool in = false;

		if (!pcidev_is_nvswitch(d))
			continue;
		nsw++;
		for (int k = 0; k < all->n && !in; k++)
			in = !strcmp(all->names[k], d->name);
		if (in)
			continue;
		if (nmiss < 8) {
			size_t n = strlen(missing), m = strlen(cmd);

			snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", d->name);
			if (next_index < PVE_MAX_HOSTPCI)
				snprintf(cmd + m, sizeof(cmd) - m, " --hostpci%d %s", next_index++,
					 d->name);
		}
		nmiss++;
	}
	if (!nsw)
		return;
	if (!nmiss) {
		r = ck_add(c, "vm.fabric", CHECK_INFO, subj, "passes NVIDIA datacenter GPUs with all %d "
			"NVSwitches", nsw);
		ck_fix(c, r, "run nvidia-fabricmanager in the guest, or CUDA reports error 802 (\"system "
			  "not yet initialized\")");
		return;
	}
	r = ck_add(c, "vm.fabric", CHECK_WARN, subj, "passes NVIDIA datacenter GPUs of an HGX board "
		"but not its NVSwitch%s %s%s: without Fabric Manager on the switches CUDA reports "
		"error 802 (\"system not yet initialized\")", nmiss == 1 ? "" : "es", missing,
		nmiss > 8 ? ", ..." : "");
	if (cmd[0])
		ck_fix(c, r, "to pass the whole board: qm set %d%s, then run nvidia-fabricmanager in the "
			  "guest; or run Fabric Manager in a service VM that holds the NVSwitches",
		    conf->vmid, cmd);
	else
		ck_fix(c, r, "run Fabric Manager in a service VM that holds the NVSwitches");
}

/* True when the GOP driver ROM INFO is for D itself or for a display of D's card. */
static bool gop_for_card(const struct ctx *c, const struct rom_info *info,
			 const struct pci_dev_info *d)
{
	const struct pcidb *db = c->rep->db;

	if (rom_matches_ids(info, d->vendor, d->device))
		return true;
	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[i];

		if (pcidev_is_display(o) && rom_matches_ids(info, o->vendor, o->device) &&
		    pcidb_same_card(db, o, d))
			return true;
	}
	return false;
}

static void check_romfile(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			  const struct pve_devlist *l, const char *subj)
{
	_cleanup_free_ struct rom_info *info = calloc(1, sizeof(*info));
	_cleanup_free_ uint8_t *buf = NULL;
	const struct pci_dev_info *first = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
	bool ovmf = strcmp(conf->bios, "ovmf") == 0;
	char path[SR_PATH_MAX];
	struct check_result *r;
	size_t len;
	int rc;

	if (!info) {
		c->oom = true;
		return;
	}
	/* Proxmox always passes romfile=/usr/share/kvm/VALUE to QEMU. */
	if (sr_path(path, "/usr/share/kvm/%s", h->romfile) < 0) {
		r = ck_add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s' is too long", h->romfile);
		ck_fix(c, r, "put the ROM in /usr/share/kvm under a short name and set romfile=NAME");
		return;
	}
	rc = rom_load(c->sr, path, &buf, &len);
	if (rc < 0) {
		r = ck_add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s': %s: QEMU fails to start the "
			"VM", path, rc == -ENOENT ? "no such file" : sr_strerror(rc));
		if (first && quirk_amd_apu(first))
			ck_fix(c, r, "an AMD APU has no ROM BAR: take its video BIOS from the ACPI VFCT "
				  "table: pve-gpu-passthrough rom dump --vfct %s -o '%s'", first->name,
			    path);
		else if (first && pcidev_is_igpu(first))
			ck_fix(c, r, "an integrated GPU has no ROM BAR to dump: put its video BIOS, taken "
				  "from the board's firmware image, at '%s', or drop romfile= "
				  "(qm set %d --hostpci%d %s)", path, conf->vmid, h->index,
			    hostpci_edit(h->value, "romfile", NULL));
		else if (first)
			ck_fix(c, r, "dump the card's ROM there: pve-gpu-passthrough rom dump %s -o '%s' "
				  "(or copy a ROM file there)", first->name, path);
		else
			ck_fix(c, r, "copy the ROM file to '%s'", path);
		return;
	}
	rom_parse(buf, len, info);
	if (rom_verdict(info) == ROM_INVALID) {
		r = ck_add(c, "vm.romfile", CHECK_FAIL, subj, "romfile '%s' is not a valid ROM: %s", path,
			rom_error_str(info->error));
		ck_fix(c, r, "see: pve-gpu-passthrough rom check '%s'; a header in front of the image "
			  "is cut with rom patch", path);
		return;
	}
	/* the AMD APU recipe (vm.apu judges it whole): the GPU's VFCT image without an EFI image,
	 * a GOP driver ROM with the GPU's ids on its audio function */
	if (first && apu_of_card(c, first) && rom_is_gop_driver(info) &&
	    gop_for_card(c, info, first)) {
		ck_add(c, "vm.romfile", CHECK_PASS, subj, "romfile '%s' is a GOP driver ROM for the GPU "
		    "of this APU (see vm.apu)", path);
		return;
	}
	if (first && quirk_amd_apu(first) && rom_matches_ids(info, first->vendor, first->device) &&
	    rom_verdict(info) != ROM_VALID_OVMF) {
		ck_add(c, "vm.romfile", CHECK_PASS, subj, "romfile '%s' is valid: the APU's video BIOS "
		    "without an EFI image%s", path, ovmf ? " (OVMF's display driver comes from a GOP "
		    "driver ROM: see vm.apu)" : "");
		return;
	}
	if (first && !rom_matches_ids(info, first->vendor, first->device)) {
		r = ck_add(c, "vm.romfile", CHECK_WARN, subj, "romfile '%s' is for another card than %s "
			"[%04x:%04x]", path, first->name, first->vendor, first->device);
		if (quirk_amd_apu(first))
			ck_fix(c, r, "use this APU's video BIOS (pve-gpu-passthrough rom dump --vfct %s)",
			    first->name);
		else if (first->res[6].end > first->res[6].start)
			ck_fix(c, r, "use the ROM of this very card (pve-gpu-passthrough rom dump %s)",
			    first->name);
		else
			ck_fix(c, r, "use a ROM made for %04x:%04x (%s has no ROM BAR to dump), or drop "
				  "romfile=", first->vendor, first->device, first->name);
		return;
	}
	if (ovmf && rom_verdict(info) != ROM_VALID_OVMF) {
		r = ck_add(c, "vm.romfile", CHECK_WARN, subj, "romfile '%s' has no x64 EFI image, and the "
			"VM boots with OVMF: the screen stays dark until the guest's driver loads", path);
		ck_fix(c, r, "find a ROM of this card with UEFI (GOP) support, check it with "
			  "pve-gpu-passthrough rom check FILE, and set romfile= to it");
		return;
	}
	ck_add(c, "vm.romfile", CHECK_PASS, subj, "romfile '%s' is valid%s", path,
	    rom_verdict(info) == ROM_VALID_OVMF ? " and has an x64 EFI image" : "");
}

/* A romfile (below /usr/share/kvm) parsed into INFO: true when it is a valid ROM. */
static bool romfile_valid(struct ctx *c, const char *romfile, struct rom_info *info)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char path[SR_PATH_MAX];
	size_t len;

	if (!romfile[0] || sr_path(path, "/usr/share/kvm/%s", romfile) < 0 ||
	    rom_load(c->sr, path, &buf, &len) < 0)
		return false;
	rom_parse(buf, len, info);
	return rom_verdict(info) != ROM_INVALID;
}

static bool devlist_has(const struct pve_devlist *l, const char *name)
{
	for (int k = 0; k < l->n; k++)
		if (!strcmp(l->names[k], name))
			return true;
	return false;
}

/* The HDMI/DP audio function of GPU G's card (same vendor, class 04 03), or NULL. */
static const struct pci_dev_info *card_audio(const struct ctx *c, const struct pci_dev_info *g)
{
	const struct pcidb *db = c->rep->db;

	for (int i = 0; i < db->ndev; i++) {
		const struct pci_dev_info *o = &db->dev[db->byaddr[i]];

		if (o->vendor == g->vendor && (o->class >> 8) == 0x0403 && pcidb_same_card(db, o, g))
			return o;
	}
	return NULL;
}

/* The AMD APU recipe (isc30/ryzen-gpu-passthrough-proxmox): the GPU has no ROM BAR, so its
 * hostpci entry needs romfile= with the VFCT image (rom dump --vfct); OVMF also needs a GOP
 * driver ROM, which the recipe puts on the audio function's entry. Names what is missing. */
static void check_vm_apu(struct ctx *c, const struct vmwork *w, const char *subj)
{
	const struct pve_vmconf *conf = &w->conf;
	_cleanup_free_ struct rom_info *info = calloc(1, sizeof(*info));
	bool ovmf = strcmp(conf->bios, "ovmf") == 0;

	if (!info) {
		c->oom = true;
		return;
	}
	for (int k = 0; k < w->all.n; k++) {
		const struct pci_dev_info *g = pcidb_find(c->rep->db, w->all.names[k]);
		const struct pci_dev_info *audio;
		const char *gen = g ? quirk_amd_apu(g) : NULL;
		int gpu_entry = -1, gop_entry = -1, audio_entry = -1;
		bool gpu_rom = false;
		struct check_result *r;

		if (!gen)
			continue;
		audio = card_audio(c, g);
		for (int i = 0; i < conf->nhostpci; i++) {
			const struct pve_hostpci *h = &conf->hostpci[i];
			const struct pve_devlist *l = &w->res[i].devs;
			const struct pci_dev_info *f = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;

			if (!f)
				continue;
			if (audio && devlist_has(l, audio->name) && audio_entry < 0)
				audio_entry = i;
			if (devlist_has(l, g->name)) {
				gpu_entry = i;
				gpu_rom = romfile_valid(c, h->romfile, info) &&
					  rom_matches_ids(info, g->vendor, g->device);
			} else if (!pcidev_is_display(f) && pcidb_same_card(c->rep->db, f, g) &&
				   romfile_valid(c, h->romfile, info) && rom_is_gop_driver(info) &&
				   gop_for_card(c, info, f)) {
				gop_entry = i;
			}
		}
		if (gpu_rom && (!ovmf || gop_entry >= 0)) {
			if (ovmf)
				ck_add(c, "vm.apu", CHECK_PASS, subj, "AMD APU %s (%s): its video BIOS on "
				    "hostpci%d and a GOP driver ROM on hostpci%d, the recipe for OVMF",
				    g->name, gen, conf->hostpci[gpu_entry].index,
				    conf->hostpci[gop_entry].index);
			else
				ck_add(c, "vm.apu", CHECK_PASS, subj, "AMD APU %s (%s): its video BIOS on "
				    "hostpci%d", g->name, gen, conf->hostpci[gpu_entry].index);
			continue;
		}
		r = ck_add(c, "vm.apu", CHECK_WARN, subj, "AMD APU %s (%s) has no ROM BAR, and the VM "
			"lacks %s%s%s: %s", g->name, gen,
			gpu_rom ? "" : "its video BIOS (romfile= on the GPU's entry)",
			!gpu_rom && ovmf && gop_entry < 0 ? " and " : "",
			ovmf && gop_entry < 0 ? "a GOP driver ROM on its audio function" : "",
			gpu_rom ? "OVMF has no display driver for it, the screen stays dark until the "
				  "guest's driver loads" :
				  "the guest's driver finds no video BIOS and fails (code 43 on Windows)");
		if (!gpu_rom && gpu_entry >= 0 && conf->hostpci[gpu_entry].romfile[0]) {
			ck_fix(c, r, "put it where romfile= points, from the ACPI VFCT table: "
				  "pve-gpu-passthrough rom dump --vfct %s -o '/usr/share/kvm/%s' (see "
				  "vm.romfile)", g->name, conf->hostpci[gpu_entry].romfile);
		} else if (!gpu_rom && gpu_entry >= 0) {
			char item[64];

			snprintf(item, sizeof(item), "romfile=vbios-%04x-%04x.bin", g->vendor, g->device);
			ck_fix(c, r, "take it from the ACPI VFCT table: pve-gpu-passthrough rom dump "
				  "--vfct %s -o /usr/share/kvm/%s", g->name, item + 8);
			ck_fix(c, r, "then run: qm set %d --hostpci%d %s", conf->vmid,
			    conf->hostpci[gpu_entry].index,
			    hostpci_edit(conf->hostpci[gpu_entry].value, "romfile", item));
		}
		if (ovmf && gop_entry < 0) {
			if (audio && audio_entry >= 0 && audio_entry == gpu_entry)
				ck_fix(c, r, "put a GOP driver ROM for %04x:%04x in /usr/share/kvm (the "
					  "recipe's AMDGopDriver.rom), check it with pve-gpu-passthrough rom "
					  "check --device %s FILE, and give the audio function an entry of its "
					  "own with it: qm set %d --hostpci%d %s,romfile=AMDGopDriver.rom (and "
					  "the GPU alone in hostpci%d)", g->vendor, g->device, audio->name,
				    conf->vmid, next_free(conf), audio->name,
				    conf->hostpci[gpu_entry].index);
			else if (audio && audio_entry >= 0)
				ck_fix(c, r, "put a GOP driver ROM for %04x:%04x in /usr/share/kvm (the "
					  "recipe's AMDGopDriver.rom), check it with pve-gpu-passthrough rom "
					  "check --device %s FILE, then: qm set %d --hostpci%d %s", g->vendor,
				    g->device, audio->name, conf->vmid, conf->hostpci[audio_entry].index,
				    hostpci_edit(conf->hostpci[audio_entry].value, "romfile",
						 "romfile=AMDGopDriver.rom"));
			else if (audio)
				ck_fix(c, r, "put a GOP driver ROM for %04x:%04x in /usr/share/kvm (the "
					  "recipe's AMDGopDriver.rom), check it with pve-gpu-passthrough rom "
					  "check --device %s FILE, then: qm set %d --hostpci%d "
					  "%s,pcie=1,romfile=AMDGopDriver.rom", g->vendor, g->device,
				    audio->name, conf->vmid, next_free(conf), audio->name);
			else
				ck_fix(c, r, "put a GOP driver ROM for %04x:%04x on the romfile of another "
					  "function of the APU", g->vendor, g->device);
		}
	}
}

/* A hostpci entry that takes an APU's whole slot: besides the GPU and its audio the slot holds
 * the host's PSP, USB controllers, audio coprocessor and HD audio; all leave the host. */
static void check_apu_functions(struct ctx *c, const struct pve_vmconf *conf,
				const struct pve_hostpci *h, const struct pve_devlist *l,
				const char *subj)
{
	struct pcidb *db = c->rep->db;
	const struct pci_dev_info *g = NULL, *audio;
	char taken[768] = "", cls[128];
	const char *gen = NULL;
	struct check_result *r;

	for (int k = 0; k < l->n && !gen; k++) {
		g = pcidb_find(db, l->names[k]);
		gen = g ? quirk_amd_apu(g) : NULL;
	}
	if (!gen)
		return;
	audio = card_audio(c, g);
	for (int k = 0; k < l->n; k++) {
		const struct pci_dev_info *d = pcidb_find(db, l->names[k]);
		const char *cn;
		size_t n = strlen(taken);

		if (!d || d == g || d == audio || !pcidb_same_card(db, d, g))
			continue;
		cn = pcidb_class_name(db, d->class, cls, sizeof(cls));
		snprintf(taken + n, sizeof(taken) - n, "%s%s (%s, %s)", n ? ", " : "", d->name,
			 cn ? cn : "other", drv_name(d));
	}
	if (!taken[0])
		return;
	r = ck_add(c, "vm.apu_functions", CHECK_WARN, subj, "passes the functions of AMD APU %s (%s) "
		"beyond its GPU and audio: %s leave the host while the VM runs", g->name, gen, taken);
	if (audio)
		ck_fix(c, r, "if the host needs them (USB ports, the PSP for its firmware TPM, sound), "
			  "pass the GPU and its audio alone: qm set %d --hostpci%d %s --hostpci%d %s%s",
		    conf->vmid, h->index, hostpci_with_host(h->value, g->name), next_free(conf),
		    audio->name, h->pcie ? ",pcie=1" : "");
	else
		ck_fix(c, r, "if the host needs them (USB ports, the PSP for its firmware TPM, sound), "
			  "pass the GPU alone: qm set %d --hostpci%d %s", conf->vmid, h->index,
		    hostpci_with_host(h->value, g->name));
}

/* Cards that need a host-side reset between guest boots: a reboot inside the guest runs no
 * hooks (the VM's QEMU keeps running), so the card comes back unreset; reboot: 0 makes a guest
 * reboot stop the VM, and the next start runs the hookscript. */
static void check_vm_reboot(struct ctx *c, const struct vmwork *w, const char *subj)
{
	const struct pve_vmconf *conf = &w->conf;
	struct check_result *r;

	for (int k = 0; k < w->all.n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, w->all.names[k]);
		const char *what = d ? quirk_needs_host_reset(d) : NULL;

		if (!what)
			continue;
		if (conf->no_reboot) {
			ck_add(c, "vm.reboot", CHECK_PASS, subj, "reboot: 0: a guest reboot stops the VM, "
			    "so %s (%s) is reset by the host between guest boots", d->name, what);
			return;
		}
		r = ck_add(c, "vm.reboot", CHECK_WARN, subj, "passes %s, %s, which needs a host-side "
			"reset between guest boots: a reboot inside the guest runs no hooks, the card "
			"can come back dead (0xffff) and hang the guest or the host", d->name, what);
		ck_fix(c, r, "run: qm set %d --reboot 0 (a guest reboot then stops the VM; start it "
			  "again)", conf->vmid);
		return;
	}
}

/* reset_method = device_specific in the VM's [vm:N] section: the kernel refuses the write
 * ("Unsupported reset method") unless something provides a device-specific reset for the id,
 * and the hook's start fails there. */
static void check_vm_reset_method(struct ctx *c, const struct vmwork *w, const char *subj)
{
	_cleanup_free_ struct cfg *cfg = calloc(1, sizeof(*cfg));
	const char *ini = c->o->config ? c->o->config : CONFIG_DEFAULT_PATH;
	struct check_result *r;
	char err[256], why[256];
	bool any = false;

	if (!cfg || cfg_load(c->sr, c->o->config, cfg, err, sizeof(err)) < 0 ||
	    !has_word(cfg_hook_opts(cfg, w->conf.vmid)->reset_method, "device_specific"))
		return;
	for (int k = 0; k < w->all.n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, w->all.names[k]);

		if (!d || !pcidev_is_display(d))
			continue;
		any = true;
		if (quirk_device_specific_ok(c, d, why, sizeof(why)))
			continue;
		r = ck_add(c, "vm.reset_method", CHECK_FAIL, subj, "reset_method = device_specific in "
			"[vm:%d] of '%s', but %s has no device-specific reset: %s; the kernel refuses "
			"the write (\"Unsupported reset method\") and the hookscript refuses to start "
			"the VM", w->conf.vmid, ini, d->name, why);
		ck_fix(c, r, "remove the reset_method line from [vm:%d] (the kernel's own methods "
			  "stay), or load a module that provides the reset for %04x:%04x before "
			  "vfio-pci", w->conf.vmid, d->vendor, d->device);
		return;
	}
	if (any)
		ck_add(c, "vm.reset_method", CHECK_PASS, subj, "reset_method = device_specific in "
		    "[vm:%d]: the kernel has a device-specific reset for its GPUs", w->conf.vmid);
}

void check_vm(struct ctx *c, const struct vmwork *w, int vmid)
{
	const struct pve_vmconf *conf = &w->conf;
	bool q35 = is_q35(conf->machine), nvidia = false, hidden = false, igd_seen = false;
	char subj[48];
	struct check_result *r;
	int next_index = 0;

	snprintf(subj, sizeof(subj), "vm %d", vmid);
	if (w->rc == -ENOENT) {
		r = ck_add(c, "vm.config", CHECK_FAIL, subj, "no VM %d on this node "
			"('/etc/pve/qemu-server/%d.conf')", vmid, vmid);
		ck_fix(c, r, "check the VMID with: qm list");
		return;
	}
	if (w->rc < 0) {
		if (w->err_line)
			r = ck_add(c, "vm.config", CHECK_FAIL, subj, "'/etc/pve/qemu-server/%d.conf' line "
				"%d: %s", vmid, w->err_line, w->err);
		else
			r = ck_add(c, "vm.config", CHECK_FAIL, subj, "%s", w->err);
		ck_fix(c, r, "correct the entry (qm config %d shows what Proxmox reads)", vmid);
		return;
	}
	ck_add(c, "vm.config", CHECK_PASS, subj, "%d hostpci entr%s, machine %s, %s", conf->nhostpci,
	    conf->nhostpci == 1 ? "y" : "ies", conf->machine[0] ? conf->machine : "i440fx (default)",
	    strcmp(conf->bios, "ovmf") == 0 ? "OVMF (UEFI)" : "SeaBIOS");
	if (conf->nhostpci == 0) {
		r = ck_add(c, "vm.hostpci", CHECK_INFO, subj, "no hostpci entries: nothing is passed "
			"through");
		ck_fix(c, r, "add the card: qm set %d --hostpci0 BUS:SLOT,pcie=1 (pve-gpu-passthrough "
			  "list shows the candidates)", vmid);
	}
	for (int i = 0; i < conf->nhostpci; i++)
		if (conf->hostpci[i].index >= next_index)
			next_index = conf->hostpci[i].index + 1;
	for (int i = 0; i < conf->nhostpci; i++) {
		const struct pve_hostpci *h = &conf->hostpci[i];
		const struct pve_devlist *l = &w->res[i].devs;
		const struct pci_dev_info *first;
		char hsubj[48], devs[512] = "";

		snprintf(hsubj, sizeof(hsubj), "vm %d hostpci%d", vmid, h->index);
		if (h->keep || h->mdev) {
			r = ck_add(c, "vm.hostpci", CHECK_INFO, hsubj, "%s: left to Proxmox, not checked",
				h->keep ? "driver=keep" : "mediated device");
			ck_fix(c, r, "nothing to do");
			continue;
		}
		if (h->mapping[0] && check_mapping(c, h, hsubj) < 0)
			continue;
		if (w->res[i].rc < 0) {
			r = ck_add(c, "vm.hostpci", CHECK_FAIL, hsubj, "%s: Proxmox refuses to start the VM",
				w->res[i].err[0] ? w->res[i].err : strerror(-w->res[i].rc));
			ck_fix(c, r, "pve-gpu-passthrough list --all shows the devices; then: qm set %d "
				  "--hostpci%d ADDRESS,...", vmid, h->index);
			continue;
		}
		first = l->n ? pcidb_find(c->rep->db, l->names[0]) : NULL;
		for (int j = 0; j < l->n; j++) {
			const struct pci_dev_info *d = pcidb_find(c->rep->db, l->names[j]);
			size_t n = strlen(devs);

			snprintf(devs + n, sizeof(devs) - n, "%s%s", j ? " " : "", l->names[j]);
			/* Code 43 concerns GeForce (VGA class) cards, not datacenter GPUs */
			if (d && d->vendor == 0x10de && pcidev_is_vga(d))
				nvidia = true;
		}
		ck_add(c, "vm.hostpci", CHECK_PASS, hsubj, "passes %s", devs);
		if (h->pcie) {
			if (q35) {
				ck_add(c, "vm.pcie", CHECK_PASS, hsubj, "pcie=1 on a q35 machine");
			} else {
				r = ck_add(c, "vm.pcie", CHECK_FAIL, hsubj, "pcie=1 needs a q35 machine, this "
					"VM has %s: Proxmox refuses to start it", conf->machine[0] ?
					conf->machine : "i440fx (the default)");
				ck_fix(c, r, "run: qm set %d --machine q35 (or drop pcie=1 from hostpci%d)",
				    vmid, h->index);
			}
		}
		if (h->legacy_igd)
			check_igd(c, conf, h, l, q35, &igd_seen, hsubj);
		if (h->x_vga && first && !pcidev_is_vga(first)) {
			char cls[128];
			const char *cn = pcidb_class_name(c->rep->db, first->class, cls, sizeof(cls));

			/* Only VGA class devices get vfio's VGA region (see is_vga). */
			r = ck_add(c, "vm.xvga", CHECK_FAIL, hsubj, "x-vga=1 on %s, a %s (class %04x), not a "
				"VGA controller: QEMU refuses to start (\"does not support requested "
				"feature x-vga\")", first->name, cn ? cn : "display controller",
				first->class >> 8);
			ck_fix(c, r, "run: qm set %d --hostpci%d %s", vmid, h->index,
			    hostpci_edit(h->value, "x-vga", NULL));
		} else if (h->x_vga) {
			if (strcmp(conf->bios, "ovmf") == 0) {
				ck_add(c, "vm.xvga", CHECK_PASS, hsubj, "x-vga=1 with OVMF: the card is the "
				    "primary display (it needs a ROM with an EFI image)");
			} else {
				r = ck_add(c, "vm.xvga", CHECK_INFO, hsubj, "x-vga=1 with SeaBIOS: the card "
					"runs its legacy VGA BIOS, which many modern cards boot badly with");
				ck_fix(c, r, "if the screen stays dark: qm set %d --bios ovmf, with an EFI "
					  "disk (qm set %d --efidisk0 STORAGE:1)", vmid, vmid);
			}
			hidden = true; /* Proxmox adds kvm=off with x-vga */
		}
		if (h->romfile[0])
			check_romfile(c, conf, h, l, hsubj);
		check_functions(c, conf, h, l, &w->all, hsubj);
		check_apu_functions(c, conf, h, l, hsubj);
	}
	check_vm_apu(c, w, subj);
	check_bars(c, conf, &w->all, q35, subj);
	check_vm_reboot(c, w, subj);
	check_vm_reset_method(c, w, subj);
	check_vm_containers(c, w, subj);
	check_hookscript(c, conf, subj);
	check_backup_jobs(c, "vm.backup", conf, c->node, subj);
	check_vm_fabric(c, conf, &w->all, next_index, subj);
	/* The Code 43 of drivers before 465 was Windows-only (NVIDIA's GeForce driver 465 release
	 * notes: "GeForce GPU passthrough for Windows virtual machines"). */
	if (nvidia && is_windows(conf->ostype)) {
		if (strstr(conf->cpu, "hidden=1"))
			hidden = true;
		r = ck_add(c, "vm.nvidia", CHECK_INFO, subj, "NVIDIA GPU: drivers before 465 stop with "
			"Code 43 when they see a hypervisor%s", hidden ?
			"; KVM is hidden from the guest (x-vga=1 or cpu hidden=1)" : "");
		ck_fix(c, r, "nothing to do with drivers 465 and newer; for older ones hide KVM: "
			  "qm set %d --cpu host,hidden=1 (and patch the ROM if the card is the boot GPU: "
			  "pve-gpu-passthrough rom patch)", vmid);
	}
}
