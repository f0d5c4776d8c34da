/* check_vm_entry.c - the checks of one hostpci entry of a VM and the devices it passes:
 * vm.mapping, vm.igd (legacy-igd), vm.functions (the functions of a card left out), vm.romfile. */
#define _GNU_SOURCE
#include "check_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_rom.h"
#include "pve_conf.h"
#include "sysfs.h"
#include "util.h"

/* A mapping entry: Proxmox's validation of every map entry of this node. Returns -EINVAL
 * (after a FAIL) when the start would stop there. */
int check_vm_mapping(struct ctx *c, const struct pve_hostpci *h, const char *subj)
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
void check_vm_igd(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
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

/* A VM that passes some functions of a card but not all: when the card has no function-level
 * reset, its reset (a bus reset, every function at once) hits the functions left out too; a
 * function on another bus behind the card's own switch (pcidb_card) stays on the host. */
void check_vm_functions(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
			const struct pve_devlist *l, const struct pve_devlist *all,
			const char *subj)
{
	const struct pcidb *db = c->rep->db;
	char left[256] = "", slot[PCI_ADDR_LEN], path[SR_PATH_MAX], methods[128] = "";
	const struct pci_dev_info *first = l->n ? pcidb_find(db, l->names[0]) : NULL;
	char apart[256] = "", apart_cmd[256] = "", card[PCI_ADDR_LEN];
	int next = hostpci_next_free(conf);
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

void check_vm_romfile(struct ctx *c, const struct pve_vmconf *conf, const struct pve_hostpci *h,
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
