/* test_pveconf.c - Proxmox VM configs, hostpci forms, mappings and reservations. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fakesys.h"
#include "harness.h"
#include "pve_conf.h"

/* Devices modelled on Proxmox's own test mock: a multi-function slot, a non-zero domain. */
static const char *host_spec =
	"pci 0000:01:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29\n"
	"pci 0000:01:00.1 vendor=10de device=0e1b class=040300 driver=snd_hda_intel group=29\n"
	"pci 0000:02:00.0 vendor=10de device=1049 class=030000 group=30\n"
	"pci 0000:f0:43.0 vendor=8086 device=1234 class=020000 group=31\n"
	"pci 0000:f0:43.1 vendor=8086 device=1234 class=020000 group=31\n"
	"pci 1234:f0:43.1 vendor=8086 device=1234 class=020000 group=32\n";

static struct sysroot root(const char *extra)
{
	struct sysroot sr;
	char spec[4096];

	snprintf(spec, sizeof(spec), "%s%s", host_spec, extra ? extra : "");
	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	return sr;
}

TEST(live_section_only)
{
	struct pve_vmconf c;
	char err[256];
	int line;
	const char *conf = "# description line\n"
			   "boot: order=scsi0\n"
			   "bios: ovmf\n"
			   "hostpci1: 0000:02:00.0,pcie=1\n"
			   "hostpci0: 01:00,pcie=1,x-vga=1,romfile=gtx650.rom\n"
			   "machine: pc-q35-8.1\n"
			   "hookscript: local:snippets/pve-gpu-passthrough-hook\n"
			   "garbage line that proxmox ignores\n"
			   "\n"
			   "[PENDING]\n"
			   "hostpci2: 0000:f0:43.0\n"
			   "\n"
			   "[snap1]\n"
			   "hostpci3: 0000:f0:43.1\n";

	CHECK_INT(pve_vmconf_parse(conf, &c, &line, err, sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 2);
	/* sorted by index, as Proxmox processes them */
	CHECK_INT(c.hostpci[0].index, 0);
	CHECK(c.hostpci[0].x_vga);
	CHECK(c.hostpci[0].pcie);
	CHECK_STR(c.hostpci[0].romfile, "gtx650.rom");
	CHECK(!c.hostpci[0].ids[0].has_func);
	CHECK_INT(c.hostpci[1].index, 1);
	CHECK_STR(c.bios, "ovmf");
	CHECK_STR(c.machine, "pc-q35-8.1");
	CHECK_STR(c.hookscript, "local:snippets/pve-gpu-passthrough-hook");
}

static void bad(const char *value, const char *msg)
{
	struct pve_hostpci h;
	char err[256];

	CHECK_INT(pve_hostpci_parse(value, &h, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, msg);
}

TEST(hostpci_forms)
{
	struct pve_hostpci h;
	char err[256];

	CHECK_INT(pve_hostpci_parse("host=0000:01:00.0;0000:01:00.1,pcie=on", &h, err, sizeof(err)), 0);
	CHECK_INT(h.nids, 2);
	CHECK(h.pcie);
	CHECK_INT(pve_hostpci_parse("1234:f0:43.1", &h, err, sizeof(err)), 0);
	CHECK_INT(h.ids[0].addr.domain, 0x1234);
	CHECK_INT(pve_hostpci_parse("mapping=gpu,x-vga=1", &h, err, sizeof(err)), 0);
	CHECK_STR(h.mapping, "gpu");
	CHECK_INT(pve_hostpci_parse("01:00.0,driver=keep", &h, err, sizeof(err)), 0);
	CHECK(h.keep);
	CHECK_INT(pve_hostpci_parse("01:00.0,mdev=nvidia-63", &h, err, sizeof(err)), 0);
	CHECK(h.mdev);
	bad("01:00.0,mapping=gpu", "cannot set both");
	bad("pcie=1", "neither");
	bad("01:0A.0", "not a PCI id");
	bad("1:00.0", "not a PCI id");
	bad("01:00.0,frobnicate=1", "unknown option");
	bad("01:00.0,pcie=maybe", "not a boolean");
	bad("01:00.0,02:00.0", "only the first item");
	bad("01:00.0,driver=nvidia", "not vfio or keep");
}

TEST(expand_like_proxmox)
{
	struct sysroot sr = root(NULL);
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[256];

	/* no function: every present function, sorted */
	CHECK_INT(pve_hostpci_parse("01:00", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.names[0], "0000:01:00.0");
	CHECK_STR(l.names[1], "0000:01:00.1");
	/* no domain means domain 0000 only */
	CHECK_INT(pve_hostpci_parse("f0:43.1", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 1);
	CHECK_STR(l.names[0], "0000:f0:43.1");
	CHECK_INT(pve_hostpci_parse("1234:f0:43", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 1);
	CHECK_STR(l.names[0], "1234:f0:43.1");
	/* ';' joins devices into one entry */
	CHECK_INT(pve_hostpci_parse("01:00.1;02:00.0", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 2);
	CHECK_INT(pve_hostpci_parse("05:00", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -ENODEV);
	CHECK_CONTAINS(err, "no PCI device found for '0000:05:00'");
	/* keep and mdev: nothing for us to do */
	CHECK_INT(pve_hostpci_parse("01:00,driver=keep", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 0);
	sr_close(&sr);
}

TEST(mapping_first_free_entry_on_this_node)
{
	struct sysroot sr = root(
		"file /etc/pve/mapping/pci.cfg # cluster mappings\\n"
		"gpu\\n"
		"\\tmap node=pve2,path=0000:02:00.0,id=10de:1049\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n"
		"\\tdescription two cards\\n"
		"\\n"
		"stale\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:ffff,iommugroup=30,subsystem-id=0000:0000\\n"
		"\n"
		"file /run/qemu-server/pci-id-reservations 0000:01:00.0 105 time:9999999999\\n"
		"0000:02:00.0 100 time:1\n");
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[256];

	CHECK_INT(pve_hostpci_parse("mapping=gpu", &h, err, sizeof(err)), 0);
	/* VM 105 holds the first entry on pve1, so VM 100 gets the second */
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 1);
	CHECK_STR(l.names[0], "0000:02:00.0");
	/* VM 105 itself gets its own reservation back */
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 105, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.names[1], "0000:01:00.1");
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve3", 100, &l, err, sizeof(err)), -ENODEV);
	CHECK_CONTAINS(err, "not found for 'gpu' on node 'pve3'");
	CHECK_INT(pve_hostpci_parse("mapping=stale", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "hardware probably changed");
	CHECK_INT(pve_hostpci_parse("mapping=none", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -ENODEV);
	sr_close(&sr);
}

/* A line starting with '#' in column 0 inside a section is a comment, as SectionConfig reads
 * it: it does not end the section. The parser that picks a device and the one that validates
 * the entries (once two that disagreed) see the same entries. */
TEST(mapping_comment_in_column_0_keeps_the_section)
{
	struct sysroot sr = root(
		"file /etc/pve/mapping/pci.cfg gpu\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"# the second card, added later\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n"
		"\\n"
		"bad\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"#\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:ffff,iommugroup=30,subsystem-id=0000:0000\\n"
		"\n"
		"file /run/qemu-server/pci-id-reservations 0000:01:00.0 105 time:9999999999\\n\n");
	struct pve_map_problem p;
	struct pve_mapping m;
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[320];

	CHECK_INT(pve_mapping_parse("gpu\n\tmap node=pve1,path=0000:01:00,id=10de:0fc6\n"
				    "# comment\n\tmap node=pve1,path=0000:02:00.0,id=10de:1049\n",
				    "gpu", "pve1", &m), 0);
	CHECK_INT(m.nentries, 2);
	CHECK_INT(m.nalts, 2);
	CHECK_STR(m.alts[1].id, "10de:1049");
	/* VM 105 holds the first entry: VM 100 gets the one below the comment */
	CHECK_INT(pve_hostpci_parse("mapping=gpu", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), 0);
	CHECK_INT(l.n, 1);
	CHECK_STR(l.names[0], "0000:02:00.0");
	/* the entry below the comment is validated too, on its own line */
	CHECK_INT(pve_mapping_validate(&sr, "bad", "pve1", &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(p.line, 9);
	CHECK_INT(pve_hostpci_parse("mapping=bad", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -EINVAL);
	sr_close(&sr);
}

TEST(reservations)
{
	struct sysroot sr = root("file /run/qemu-server/pci-id-reservations "
				 "0000:01:00.0 101 pid:4242\\n0000:02:00.0 102 pid:999999\\n"
				 "0000:f0:43.0 103 time:9999999999\\nbroken line\n"
				 "dir /proc/4242\n");

	CHECK_INT(pve_reserved_by_other(&sr, "0000:01:00.0", 100), 101);
	CHECK_INT(pve_reserved_by_other(&sr, "0000:01:00.0", 101), 0);
	CHECK_INT(pve_reserved_by_other(&sr, "0000:02:00.0", 100), 0); /* pid gone */
	CHECK_INT(pve_reserved_by_other(&sr, "0000:f0:43.0", 100), 103);
	CHECK_INT(pve_reserved_by_other(&sr, "0000:f0:43.1", 100), 0);
	sr_close(&sr);
}

TEST(hostile_configs)
{
	struct pve_vmconf c;
	char err[256], big[9000];
	int line;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "hostpci0: ", 10);
	CHECK_INT(pve_vmconf_parse(big, &c, &line, err, sizeof(err)), -EINVAL);
	CHECK_INT(line, 1);
	CHECK_INT(pve_vmconf_parse("hostpci0: 01:00.0\nhostpci1: zz\n", &c, &line, err, sizeof(err)), -EINVAL);
	CHECK_INT(line, 2);
	CHECK_CONTAINS(err, "hostpci1:");
	/* hostpci16 and above do not exist in Proxmox: ignored */
	CHECK_INT(pve_vmconf_parse("hostpci16: 01:00.0\n", &c, &line, err, sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 0);
	CHECK_INT(pve_vmconf_parse("", &c, &line, err, sizeof(err)), 0);
}

TEST(whole_vm_like_a_proxmox_start)
{
	struct sysroot sr = root(
		"file /etc/pve/mapping/pci.cfg gpu\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n");
	struct pve_vmconf c;
	struct pve_devlist l;
	char err[256];
	int line, idx;

	/* two entries on one mapping get two different cards */
	CHECK_INT(pve_vmconf_parse("hostpci0: mapping=gpu\nhostpci1: mapping=gpu\n", &c, &line, err,
				   sizeof(err)), 0);
	c.vmid = 100;
	CHECK_INT(pve_vmconf_expand(&sr, &c, "pve1", &l, &idx, err, sizeof(err)), 0);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.names[0], "0000:01:00.0");
	CHECK_STR(l.names[2], "0000:02:00.0");
	/* a third has nothing left */
	CHECK_INT(pve_vmconf_parse("hostpci0: mapping=gpu\nhostpci1: mapping=gpu\nhostpci2: mapping=gpu\n",
				   &c, &line, err, sizeof(err)), 0);
	CHECK(pve_vmconf_expand(&sr, &c, "pve1", &l, &idx, err, sizeof(err)) < 0);
	CHECK_INT(idx, 2);
	CHECK_CONTAINS(err, "could not find a free device for mapping 'gpu'");
	/* one device in two entries */
	CHECK_INT(pve_vmconf_parse("hostpci0: 01:00\nhostpci3: 0000:01:00.1\n", &c, &line, err,
				   sizeof(err)), 0);
	CHECK_INT(pve_vmconf_expand(&sr, &c, "pve1", &l, &idx, err, sizeof(err)), -EINVAL);
	CHECK_INT(idx, 3);
	CHECK_CONTAINS(err, "device '0000:01:00.1' assigned more than once");
	sr_close(&sr);
}

/* Proxmox's own key rules: hostpci0..hostpci15 as Proxmox writes them, from column 0. */
TEST(hostpci_keys_as_proxmox_spells_them)
{
	struct pve_vmconf c;
	char err[256];
	int line;

	CHECK_INT(pve_vmconf_parse("hostpci00: 01:00.0\nhostpci015: 02:00.0\n", &c, &line, err,
				   sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 0);
	CHECK_INT(pve_vmconf_parse(" hostpci0: 01:00.0\n\thostpci1: 02:00.0\n", &c, &line, err,
				   sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 0);
	/* an indented section header is no section: the line after it is still live */
	CHECK_INT(pve_vmconf_parse(" [snap]\nhostpci3: 01:00.0\n", &c, &line, err, sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 1);
	CHECK_INT(pve_vmconf_parse("hostpci0: 01:00.0\nhostpci10: 02:00.0\nhostpci15: 01:00.1 \n", &c,
				   &line, err, sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 3);
	CHECK_INT(c.hostpci[1].index, 10);
	CHECK_INT(c.hostpci[2].index, 15);
	CHECK_INT(pve_vmconf_parse("hostpci: 01:00.0\nhostpci-1: 01:00.0\n", &c, &line, err, sizeof(err)), 0);
	CHECK_INT(c.nhostpci, 0);
}

/* PCI domains of 4 to 8 lower-case hex digits (VMD domains have 5), never truncated. */
TEST(hostpci_domains)
{
	struct pve_hostpci h;
	char err[256], name[PCI_ADDR_LEN];

	CHECK_INT(pve_hostpci_parse("10000:e0:06.0", &h, err, sizeof(err)), 0);
	CHECK_INT(h.ids[0].addr.domain, 0x10000);
	CHECK_INT(pve_hostpci_parse("1000000a:e0:06.0", &h, err, sizeof(err)), 0);
	pci_addr_fmt(&h.ids[0].addr, name);
	CHECK_STR(name, "1000000a:e0:06.0");
	CHECK(pve_hostpci_parse("100000000:e0:06.0", &h, err, sizeof(err)) < 0);
	CHECK(pve_hostpci_parse("000:01:00.0", &h, err, sizeof(err)) < 0);
	CHECK(pve_hostpci_parse("0000:0A:00.0", &h, err, sizeof(err)) < 0);
	CHECK(pve_hostpci_parse("0000:01:00.0;0000:01:00.1,pcie=1", &h, err, sizeof(err)) == 0);
}

/* The review's double free: a NUL byte in the mapping file is an error message, not a crash. */
TEST(mapping_file_with_nul_is_an_error)
{
	struct sysroot sr = root("hexfile /etc/pve/mapping/pci.cfg 67 70 75 0a 09 6d 61 70 20 00 6e\n"
				 "file /etc/pve/qemu-server/100.conf hostpci0: mapping=gpu\n");
	struct pve_vmconf c;
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[256];
	int line, idx;

	CHECK_INT(pve_hostpci_parse("mapping=gpu", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "contains a NUL byte");
	CHECK_INT(pve_vmconf_load(&sr, 100, &c, &line, err, sizeof(err)), 0);
	CHECK_INT(pve_vmconf_expand(&sr, &c, "pve1", &l, &idx, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "contains a NUL byte");
	sr_close(&sr);
}

/* FIFOs and directories where a file is expected: refused at once, never blocking. */
TEST(non_regular_files_refused)
{
	struct sysroot sr = root("dir /etc/pve/qemu-server/101.conf\n"
				 "file /etc/pve/qemu-server/100.conf hostpci0: mapping=gpu\n");
	struct pve_vmconf c;
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[256], p[600];
	int line;

	snprintf(p, sizeof(p), "%s/etc/pve/qemu-server/102.conf", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/etc/pve/mapping", test_tmpdir());
	CHECK_INT(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/etc/pve/mapping/pci.cfg", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(pve_vmconf_load(&sr, 102, &c, &line, err, sizeof(err)), -SR_ENOTREG);
	CHECK_CONTAINS(err, "not a regular file");
	CHECK_INT(pve_vmconf_load(&sr, 101, &c, &line, err, sizeof(err)), -SR_ENOTREG);
	CHECK_INT(pve_hostpci_parse("mapping=gpu", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -SR_ENOTREG);
	CHECK_CONTAINS(err, "not a regular file");
	sr_close(&sr);
}

/* The mapping parser alone, on a buffer. */
TEST(mapping_parse_buffer)
{
	struct pve_mapping m;
	char text[64 * 80 + 64];
	size_t off = 0;

	CHECK_INT(pve_mapping_parse("gpu\n\tmap node=pve1,path=0000:01:00,id=10de:0fc6\n"
				    "\tmap node=pve1,path=zz,id=10de:0fc6\n"
				    "\tmap node=pve2,path=0000:02:00.0,id=10de:1049\n"
				    "other\n\tmap node=pve1,path=0000:02:00.0,id=10de:1049\n",
				    "gpu", "pve1", &m), 0);
	CHECK_INT(m.nentries, 2);
	CHECK_INT(m.nalts, 1);
	CHECK_STR(m.alts[0].id, "10de:0fc6");
	CHECK(!m.alts[0].ids[0].has_func);
	off += (size_t)snprintf(text, sizeof(text), "gpu\n");
	for (int i = 0; i <= PVE_MAX_MAP_ALTS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"\tmap node=pve1,path=0000:01:00.0,id=10de:0fc6\n");
	CHECK_INT(pve_mapping_parse(text, "gpu", "pve1", &m), -E2BIG);
}

TEST(mapping_validated_as_proxmox_does)
{
	struct sysroot sr = root(
		"file /etc/pve/mapping/pci.cfg # ids as they were before the card was swapped\\n"
		"nosub\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29\\n"
		"\\n"
		"moved\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n"
		"\\tmap node=pve1,path=0000:01:00,description=old slot,id=10de:0fc6,iommugroup=12,subsystem-id=0000:0000\\n"
		"\\n"
		"gone\\n"
		"\\tmap node=pve1,path=0000:05:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"\\n"
		"other\\n"
		"\\tmap node=pve2,path=0000:01:00,id=10de:0fc6\\n"
		"\\tmap node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000\\n"
		"\\n"
		"vgpu\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n"
		"\\tmdev 1\\n");
	struct pve_map_problem p;
	struct pve_hostpci h;
	struct pve_devlist l;
	char err[320];

	CHECK_INT(pve_mapping_validate(&sr, "nosub", "pve1", &p, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "PCI device mapping invalid (hardware probably changed): missing expected "
		       "property 'subsystem-id' for device '0000:01:00.0'");
	CHECK_INT(p.line, 3);
	CHECK_STR(p.fixed, "node=pve1,path=0000:01:00,id=10de:0fc6,iommugroup=29,subsystem-id=0000:0000");
	/* every entry of the node is checked before one is chosen, not only the first free one */
	CHECK_INT(pve_mapping_validate(&sr, "moved", "pve1", &p, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "'iommugroup' does not match for 'moved' (29 != 12)");
	CHECK_INT(p.line, 7);
	CHECK_STR(p.fixed, "node=pve1,path=0000:01:00,description=old slot,id=10de:0fc6,"
			   "iommugroup=29,subsystem-id=0000:0000");
	CHECK_INT(pve_hostpci_parse("mapping=moved", &h, err, sizeof(err)), 0);
	CHECK_INT(pve_hostpci_expand(&sr, &h, "pve1", 100, &l, err, sizeof(err)), -EINVAL);
	CHECK_INT(pve_mapping_validate(&sr, "gone", "pve1", &p, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "pci device '0000:05:00.0' not found");
	CHECK_STR(p.fixed, "");
	/* the other node's incomplete entry is not this node's business */
	CHECK_INT(pve_mapping_validate(&sr, "other", "pve1", &p, err, sizeof(err)), 0);
	CHECK_INT(pve_mapping_validate(&sr, "vgpu", "pve1", &p, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "'mdev' does not match for 'vgpu' (0 != 1)");
	CHECK_INT(pve_mapping_validate(&sr, "none", "pve1", &p, err, sizeof(err)), -ENODEV);
	sr_close(&sr);
}

TEST(expand_all_reports_each_entry)
{
	struct sysroot sr = root(
		"file /etc/pve/mapping/pci.cfg gpu\\n"
		"\\tmap node=pve1,path=0000:02:00.0,id=10de:1049,iommugroup=30,subsystem-id=0000:0000\\n");
	struct pve_hostpci_result *res = calloc(PVE_MAX_HOSTPCI, sizeof(*res));
	struct pve_vmconf c;
	struct pve_devlist all;
	char err[256];
	int line, idx = -1;

	CHECK(res != NULL);
	CHECK_INT(pve_vmconf_parse("hostpci0: mapping=gpu\nhostpci1: 0000:07:00\nhostpci2: 01:00\n"
				   "hostpci3: mapping=gpu\n", &c, &line, err, sizeof(err)), 0);
	c.vmid = 100;
	CHECK_INT(pve_vmconf_expand_all(&sr, &c, "pve1", res, &all, &idx), -ENODEV);
	CHECK_INT(idx, 1);
	CHECK_INT(res[0].rc, 0);
	CHECK_STR(res[0].devs.names[0], "0000:02:00.0");
	CHECK_CONTAINS(res[1].err, "no PCI device found for '0000:07:00'");
	CHECK_INT(res[2].rc, 0);
	CHECK_INT(res[2].devs.n, 2);
	CHECK_CONTAINS(res[3].err, "could not find a free device for mapping 'gpu'");
	CHECK_INT(all.n, 3);
	/* the hook's call stops at the same first error */
	CHECK_INT(pve_vmconf_expand(&sr, &c, "pve1", &all, &idx, err, sizeof(err)), -ENODEV);
	CHECK_INT(idx, 1);
	CHECK_CONTAINS(err, "no PCI device found");
	free(res);
	sr_close(&sr);
}
