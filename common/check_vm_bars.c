/* check_vm_bars.c - the VM check of a VM's 64-bit BARs against the guest's address space
 * (vm.bars, vm.rebar): the host's and the guest's physical address bits from the cpu option,
 * OVMF's 64-bit MMIO window, RAM above 4 GiB, Resizable BARs, and the cpu option that makes
 * the BARs fit. check_vm() (check_vm.c) calls check_bars() once per VM with every device the
 * hook would pass through. */
#define _GNU_SOURCE
#include "check_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "sysfs.h"

/* --- BARs and the guest's address space --------------------------------------------------- */

#define IORESOURCE_MEM_64 0x00100000
#define GIB (1ULL << 30)

/* "128 GiB", "512 MiB". */
static const char *human(unsigned long long v, char *buf, size_t size)
{
	if (v >= GIB && v % GIB == 0)
		snprintf(buf, size, "%llu GiB", v / GIB);
	else if (v >= GIB)
		snprintf(buf, size, "%.1f GiB", (double)v / (double)GIB);
	else
		snprintf(buf, size, "%llu MiB", v >> 20);
	return buf;
}

/* The host CPU's physical address bits ("address sizes : 46 bits physical"), 0 unknown. */
static int host_phys_bits(const struct ctx *c)
{
	_cleanup_free_ char *text = NULL;
	const char *p;
	size_t len;
	int bits;

	if (sr_read_all(c->sr, "/proc/cpuinfo", 1u << 22, &text, &len) < 0)
		return 0;
	p = strstr(text, "address sizes");
	if (!p || sscanf(p, "address sizes : %d bits physical", &bits) != 1 || bits < 32 ||
	    bits > 64)
		return 0;
	return bits;
}

struct guest_cpu {
	char type[64];      /* the CPU model */
	char phys[16];      /* phys-bits= ("host", a number, "" unset) */
	int guest_bits;     /* guest-phys-bits=, 0 unset */
	bool pdpe1gb;       /* +pdpe1gb in flags */
};

/* Proxmox's cpu option: "[cputype=]TYPE[,phys-bits=N|host][,guest-phys-bits=N][,flags=...]".
 * Without it qemu-server uses x86-64-v2-AES (get_default_cpu_type, KVM). */
static void parse_cpu(const char *cpu, struct guest_cpu *g)
{
	char buf[128], *save = NULL;
	int i = 0;

	memset(g, 0, sizeof(*g));
	snprintf(g->type, sizeof(g->type), "x86-64-v2-AES");
	snprintf(buf, sizeof(buf), "%s", cpu);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		unsigned long v;

		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "cputype="))
			snprintf(g->type, sizeof(g->type), "%s", strchr(t, '=') ? strchr(t, '=') + 1 : t);
		else if (str_has_prefix(t, "phys-bits="))
			snprintf(g->phys, sizeof(g->phys), "%s", t + 10);
		else if (str_has_prefix(t, "guest-phys-bits=") &&
			 parse_ulong(t + 16, 10, 64, &v) == 0)
			g->guest_bits = (int)v;
		else if (str_has_prefix(t, "flags="))
			g->pdpe1gb = strstr(t, "+pdpe1gb") != NULL;
	}
}

/* Proxmox's models built on qemu64 (qemu-server CPUConfig.pm $builtin_models_by_arch: the
 * x86-64-v2..v4 levels are "reported-model" qemu64 plus flags), and kvm64: no 1 GiB pages
 * (pdpe1gb) unless the flags add them. */
static bool lacks_1g_pages(const struct guest_cpu *g)
{
	return !g->pdpe1gb && (!strcmp(g->type, "qemu64") || !strcmp(g->type, "kvm64") ||
			       str_has_prefix(g->type, "x86-64-v"));
}

/* The cpu option with phys-bits=host (other settings kept), and +pdpe1gb when PDPE1GB. */
static void cpu_with_host_bits(const char *cpu, const struct guest_cpu *g, bool pdpe1gb,
			       char *out, size_t size)
{
	char buf[128], *save = NULL;
	bool flags = false;
	int i = 0;
	size_t n;

	snprintf(out, size, "%s", g->type);
	snprintf(buf, sizeof(buf), "%s", cpu);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
		if ((i == 0 && !strchr(t, '=')) || str_has_prefix(t, "cputype=") ||
		    str_has_prefix(t, "phys-bits="))
			continue;
		n = strlen(out);
		snprintf(out + n, size - n, ",%s%s", t,
			 pdpe1gb && str_has_prefix(t, "flags=") ? ";+pdpe1gb" : "");
		flags |= str_has_prefix(t, "flags=");
	}
	n = strlen(out);
	if (strcmp(g->type, "host") != 0)
		snprintf(out + n, size - n, ",phys-bits=host");
	n = strlen(out);
	if (pdpe1gb && !flags)
		snprintf(out + n, size - n, ",flags=+pdpe1gb");
}

/* The guest's physical address bits: QEMU gives the host's with host-phys-bits (the default
 * of -cpu host and max: target/i386/host-cpu.c) or phys-bits=host, the number of phys-bits=N,
 * and otherwise 40 (TCG_PHYS_ADDR_BITS, target/i386/cpu.h). 0 when the host's are unknown. */
static int guest_phys_bits(const struct guest_cpu *g, int host_bits)
{
	unsigned long v;

	if (!strcmp(g->phys, "host") || !strcmp(g->type, "host") || !strcmp(g->type, "max"))
		return host_bits;
	if (g->phys[0] && parse_ulong(g->phys, 10, 64, &v) == 0)
		return (int)v;
	return 40;
}

/* OVMF's 64-bit PCI window (edk2 OvmfPkg/Library/PlatformInitLib/MemDetect.c, in Proxmox's
 * pve-edk2-firmware since edk2-stable202305): the classic window is 32 GiB (PcdPciMmio64Size)
 * or opt/ovmf/X-PciMmio64Mb; when PlatformAddressWidthFromCpuid trusts the CPUID address width
 * (guest-phys-bits given, 41 bits or more, 36 or 39 with Intel's signature, 40 with AMD's:
 * QEMU reports the host's vendor under KVM) it caps it (GuestPhysBits, 46 with 4-level
 * paging, 40 without 1 GiB pages) and PlatformDynamicMmioWindow grows the window to 1/8 of
 * that address space. LO is the window, HI the same (kept for the message). Returns the bits
 * used. */
static int ovmf_window(const struct ctx *c, const struct pve_vmconf *conf,
		       const struct guest_cpu *g, int bits, unsigned long long *lo,
		       unsigned long long *hi)
{
	enum cpu_vendor v = c->rep->host.cpu;
	const char *x = strstr(conf->args, "opt/ovmf/X-PciMmio64Mb,string=");
	unsigned long long classic = 32 * GIB;
	unsigned long mb;
	char num[24];
	bool trusted;

	if (x) {
		x += strlen("opt/ovmf/X-PciMmio64Mb,string=");
		snprintf(num, sizeof(num), "%.*s", (int)strcspn(x, " ,'\""), x);
		if (parse_ulong(num, 10, 1UL << 40, &mb) == 0 && mb)
			classic = (unsigned long long)mb << 20;
	}
	trusted = g->guest_bits || bits >= 41 || (v == CPU_INTEL && (bits == 36 || bits == 39)) ||
		  (v == CPU_AMD && bits == 40);
	if (g->guest_bits && bits > g->guest_bits)
		bits = g->guest_bits;
	if (bits > 46)
		bits = 46;
	/* without 1 GiB pages (qemu-server warns the same for its qemu64-based models) */
	if (bits > 40 && lacks_1g_pages(g))
		bits = 40;
	*lo = *hi = classic;
	if (trusted && bits >= 36 && (1ULL << (bits - 3)) > classic)
		*lo = *hi = 1ULL << (bits - 3);
	return bits;
}

/* RAM above 4 GiB: QEMU keeps 2 GiB below 4 GiB on q35 once the VM has 2.75 GiB or more
 * (hw/i386/pc_q35.c), 3 GiB on i440fx from 3.5 GiB (hw/i386/pc_piix.c, gigabyte_align). */
static unsigned long long ram_above_4g(const struct pve_vmconf *conf, bool q35)
{
	unsigned long long ram = (unsigned long long)(conf->memory_mb ? conf->memory_mb : 512) << 20;
	unsigned long long low = ram;

	if (q35 && ram >= 0xb0000000ULL)
		low = 2 * GIB;
	else if (!q35 && ram >= 0xe0000000ULL)
		low = 3 * GIB;
	return ram - low;
}

void check_bars(struct ctx *c, const struct pve_vmconf *conf, const struct pve_devlist *all,
		bool q35, const char *subj)
{
	unsigned long long sum = 0, largest = 0, lo, hi, need;
	const char *large_dev = "";
	struct guest_cpu g;
	struct check_result *r;
	bool ovmf = strcmp(conf->bios, "ovmf") == 0;
	int hbits = host_phys_bits(c), bits, n = 0;
	char b1[32], b2[32], b3[32], cpu[256];

	for (int k = 0; k < all->n; k++) {
		const struct pci_dev_info *d = pcidb_find(c->rep->db, all->names[k]);

		for (int i = 0; d && i < 6; i++) {
			const struct pci_resource *b = &d->res[i];
			unsigned long long size = b->end > b->start ? b->end - b->start + 1 : 0;
			char path[SR_PATH_MAX], attr[32];

			if (!size || !(b->flags & IORESOURCE_MEM) || !(b->flags & IORESOURCE_MEM_64))
				continue;
			n++;
			sum += size;
			if (size > largest) {
				largest = size;
				large_dev = d->name;
			}
			/* resourceN_resize: the BAR is resizable (kernel 5.13+); one above the
			 * 256 MiB the PCIe spec's default allows was resized by the firmware */
			snprintf(attr, sizeof(attr), "resource%d_resize", i);
			if (size > (256ULL << 20) && sysfs_pci_dev(path, d->name, attr) == 0 &&
			    sr_exists(c->sr, path)) {
				r = ck_add(c, "vm.rebar", CHECK_INFO, subj, "%s BAR %d is a Resizable BAR set to "
					"%s: the guest gets all of it", d->name, i, human(size, b1, sizeof(b1)));
				ck_fix(c, r, "if the VM hangs at start or on a second start, or its driver "
					  "cannot map the BAR, switch Resizable BAR off in the host's firmware "
					  "setup (or write a smaller size to '%s' while the card has no driver)",
				    path);
			}
		}
	}
	if (!n)
		return;
	parse_cpu(conf->cpu, &g);
	bits = guest_phys_bits(&g, hbits);
	if (!bits) {
		r = ck_add(c, "vm.bars", CHECK_INFO, subj, "64-bit BARs: %s in all, the largest %s; the "
			"host's physical address bits are unknown ('/proc/cpuinfo' has no address "
			"sizes), so the guest's window cannot be told", human(sum, b1, sizeof(b1)),
			human(largest, b2, sizeof(b2)));
		ck_fix(c, r, "run the check on the host itself");
		return;
	}
	cpu_with_host_bits(conf->cpu, &g, ovmf && lacks_1g_pages(&g), cpu, sizeof(cpu));
	if (ovmf) {
		int used = ovmf_window(c, conf, &g, bits, &lo, &hi);

		need = sum;
		if (largest > hi || need > hi) {
			r = ck_add(c, "vm.bars", CHECK_FAIL, subj, "64-bit BARs: %s in all, the largest %s "
				"(%s), but OVMF's 64-bit PCI window with %d physical address bits (CPU %s) "
				"is %s: the firmware cannot map them, the guest's driver fails",
				human(sum, b1, sizeof(b1)), human(largest, b2, sizeof(b2)), large_dev,
				used, g.type, human(hi, b3, sizeof(b3)));
			if (hbits > used && strcmp(g.phys, "host") && strcmp(g.type, "host") &&
			    (1ULL << ((hbits > 46 ? 46 : hbits) - 3)) >= need)
				ck_fix(c, r, "give the guest the host's %d address bits%s: qm set %d --cpu %s",
				    hbits, lacks_1g_pages(&g) ? " and 1 GiB pages" : "", conf->vmid, cpu);
			else
				ck_fix(c, r, "pass fewer devices to this VM, or a host CPU with more physical "
					  "address bits; the window cannot grow past 1/8 of the guest's "
					  "address space");
			return;
		}
		ck_add(c, "vm.bars", CHECK_PASS, subj, "64-bit BARs: %s in all, the largest %s; OVMF's "
		    "64-bit PCI window with %d address bits (CPU %s): %s", human(sum, b1, sizeof(b1)),
		    human(largest, b2, sizeof(b2)), used, g.type, human(lo, b3, sizeof(b3)));
		return;
	}
	/* SeaBIOS (src/fw/pciinit.c, pci_bios_map_devices) puts the 64-bit BARs above 4 GiB and
	 * the RAM there, 1 GiB aligned, ending at 2^phys-bits (at most 2^44 for guests with less
	 * than 1 TiB of RAM); the guest cannot reach addresses above its physical address bits. */
	{
		unsigned long long top = 1ULL << (bits > 44 ? 44 : bits);
		unsigned long long base = 4 * GIB + ram_above_4g(conf, q35);

		need = (sum + GIB - 1) / GIB * GIB;
		if (base + need > top) {
			char b4[32];

			r = ck_add(c, "vm.bars", CHECK_FAIL, subj, "64-bit BARs: %s in all, the largest %s, "
				"but SeaBIOS puts them above the guest's RAM (from %s) and below 2^%d = %s "
				"(%d address bits, CPU %s): they do not fit", human(sum, b1, sizeof(b1)),
				human(largest, b2, sizeof(b2)), human(base, b3, sizeof(b3)),
				bits > 44 ? 44 : bits, human(top, b4, sizeof(b4)), bits, g.type);
			if (hbits > bits && base + need <= (1ULL << (hbits > 44 ? 44 : hbits)))
				ck_fix(c, r, "give the guest the host's %d address bits: qm set %d --cpu %s",
				    hbits, conf->vmid, cpu);
			else
				ck_fix(c, r, "pass fewer devices to this VM, or give it less memory");
			return;
		}
		ck_add(c, "vm.bars", CHECK_PASS, subj, "64-bit BARs: %s in all, the largest %s; with "
		    "SeaBIOS above the RAM and below 2^%d (%d address bits, CPU %s)",
		    human(sum, b1, sizeof(b1)), human(largest, b2, sizeof(b2)), bits > 44 ? 44 : bits,
		    bits, g.type);
	}
}
