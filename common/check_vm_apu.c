/* check_vm_apu.c - a VM passing an AMD APU's GPU: vm.apu (its video BIOS and GOP driver ROM, the
 * recipe) and vm.apu_functions (the host functions of the APU's slot an entry takes). */
#define _GNU_SOURCE
#include "check_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_rom.h"
#include "pve_conf.h"
#include "util.h"

/* The AMD APU generation when D is a function of an APU's card (the GPU's slot), or NULL. */
const char *apu_of_card(const struct ctx *c, const struct pci_dev_info *d)
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

/* True when the GOP driver ROM INFO is for D itself or for a display of D's card. */
bool gop_for_card(const struct ctx *c, const struct rom_info *info,
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
void check_vm_apu(struct ctx *c, const struct vmwork *w, const char *subj)
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
				    conf->vmid, hostpci_next_free(conf), audio->name,
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
				    audio->name, conf->vmid, hostpci_next_free(conf), audio->name);
			else
				ck_fix(c, r, "put a GOP driver ROM for %04x:%04x on the romfile of another "
					  "function of the APU", g->vendor, g->device);
		}
	}
}

/* A hostpci entry that takes an APU's whole slot: besides the GPU and its audio the slot holds
 * the host's PSP, USB controllers, audio coprocessor and HD audio; all leave the host. */
void check_vm_apu_functions(struct ctx *c, const struct pve_vmconf *conf,
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
		    conf->vmid, h->index, hostpci_with_host(h->value, g->name), hostpci_next_free(conf),
		    audio->name, h->pcie ? ",pcie=1" : "");
	else
		ck_fix(c, r, "if the host needs them (USB ports, the PSP for its firmware TPM, sound), "
			  "pass the GPU alone: qm set %d --hostpci%d %s", conf->vmid, h->index,
		    hostpci_with_host(h->value, g->name));
}
