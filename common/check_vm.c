/* check_vm.c - check VMID: the VM's config (vm.config), each hostpci entry (vm.hostpci, vm.pcie,
 * vm.xvga; the entry's own checks are in check_vm_entry.c and check_vm_apu.c), then the checks of
 * the VM as a whole (check_vm_whole.c, check_vm_apu.c, check_vm_bars.c, check_containers.c,
 * check_vm_hook.c, check_vm_variant.c, the backup jobs) and vm.nvidia. See check_list.h for
 * the ids; the fixes' hostpci edits are in check_vm_fix.c. */
#define _GNU_SOURCE
#include "check_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pve_conf.h"
#include "util.h"

static bool is_q35(const char *machine)
{
	const char *m = str_has_prefix(machine, "type=") ? machine + 5 : machine;

	return strncmp(m, "q35", 3) == 0 || str_has_prefix(m, "pc-q35");
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
		if (h->keep && check_vm_keep_variant(c, w, h, hsubj))
			continue; /* the hookscript binds a device of it to a variant */
		if (h->keep || h->mdev) {
			r = ck_add(c, "vm.hostpci", CHECK_INFO, hsubj, "%s: left to Proxmox, not checked",
				h->keep ? "driver=keep" : "mediated device");
			ck_fix(c, r, "nothing to do");
			continue;
		}
		if (h->mapping[0] && check_vm_mapping(c, h, hsubj) < 0)
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
			check_vm_igd(c, conf, h, l, q35, &igd_seen, hsubj);
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
			check_vm_romfile(c, conf, h, l, hsubj);
		check_vm_functions(c, conf, h, l, &w->all, hsubj);
		check_vm_apu_functions(c, conf, h, l, hsubj);
	}
	check_vm_apu(c, w, subj);
	check_bars(c, conf, &w->all, q35, subj);
	check_vm_reboot(c, w, subj);
	check_vm_reset_method(c, w, subj);
	check_vm_containers(c, w, subj);
	check_vm_hookscript(c, conf, subj);
	check_vm_variant(c, w, subj);
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
