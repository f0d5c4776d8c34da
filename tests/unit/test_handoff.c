/* test_handoff.c - the handoff engine on fake trees: planning, refusals (nothing may change
 * when it refuses), dry runs, and the state file. Real binding is tested in the QEMU lab. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev_console.h"
#include "fakesys.h"
#include "dev_handoff.h"
#include "harness.h"
#include "howorld.h"
#include "testlib.h"
#include "util.h"
#include "dev_holders.h"
#include "dev_state.h"

/* The seed host (howorld.h), and a VM that keeps its GPU on the host driver. */
static const char *base_spec =
	SEED_HOST_SPEC
	"file /etc/pve/qemu-server/102.conf memory: 2048\\nhostpci0: 02:00.0,driver=keep\n";

static struct cfg cfg = { .hook = {
	.unbind_timeout_ms = 1000, .bind_timeout_ms = 100, .release_timeout_ms = 100,
	.return_on_stop = true, .holders_refuse = true,
} };

static int run(const char *extra, int vmid, bool dry, struct capture *cap, struct sysroot *sr)
{
	char spec[8192];
	struct handoff_ops ops = { .sr = sr, .cfg = &cfg, .node = "pve", .dry_run = dry,
				   .log = capture_log, .ud = cap };

	snprintf(spec, sizeof(spec), "%s%s", base_spec, extra ? extra : "");
	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(sr, test_tmpdir()), 0);
	memset(cap, 0, sizeof(*cap));
	return handoff_prepare(&ops, vmid);
}

static void unchanged(struct sysroot *sr)
{
	char buf[64];

	CHECK_INT(sr_read_str(sr, "/sys/bus/pci/devices/0000:02:00.0/driver_override", buf, sizeof(buf)) > 0, 1);
	CHECK_STR(buf, "(null)");
	CHECK_INT(sr_read_str(sr, "/sys/class/vtconsole/vtcon1/bind", buf, sizeof(buf)), 1);
	CHECK_STR(buf, "1");
	CHECK_INT(sr_read(sr, "/sys/bus/pci/drivers/nouveau/unbind", buf, sizeof(buf)), 0);
	CHECK_INT(sr_read(sr, "/sys/bus/pci/drivers_probe", buf, sizeof(buf)), 0);
	CHECK(!sr_exists(sr, "/run/pve-gpu-passthrough/100.state"));
}

TEST(fast_path_knows_vms_without_devices)
{
	struct sysroot sr;
	struct capture cap;
	char err[128];

	run(NULL, 102, true, &cap, &sr);
	CHECK_INT(handoff_vm_has_devices(&sr, 100, err, sizeof(err)), 1);
	CHECK_INT(handoff_vm_has_devices(&sr, 102, err, sizeof(err)), 0); /* driver=keep */
	CHECK(handoff_vm_has_devices(&sr, 999, err, sizeof(err)) < 0);
	CHECK_STR(cap.text, ""); /* driver=keep: nothing to do, nothing said */
}

TEST(dry_run_plans_the_whole_group_and_changes_nothing)
{
	struct sysroot sr;
	struct capture cap;

	CHECK_INT(run(NULL, 100, true, &cap, &sr), 0);
	CHECK_CONTAINS(cap.text, "releasing the host console: firmware framebuffer 'efifb' holds 0000:02:00.0");
	CHECK_CONTAINS(cap.text, "would write '0' to /sys/class/vtconsole/vtcon1/bind");
	CHECK(!strstr(cap.text, "vtcon0")); /* the dummy console is left alone */
	CHECK_CONTAINS(cap.text, "would write 'efi-framebuffer.0' to /sys/bus/platform/drivers/efi-framebuffer/unbind");
	CHECK_CONTAINS(cap.text, "would write 'vfio-pci' to /sys/bus/pci/devices/0000:02:00.1/driver_override");
	CHECK_CONTAINS(cap.text, "would write '0000:02:00.0' to /sys/bus/pci/drivers/nouveau/unbind");
	CHECK_CONTAINS(cap.text, "would write '0000:02:00.1' to /sys/bus/pci/drivers/snd_hda_intel/unbind");
	CHECK_CONTAINS(cap.text, "would prove IOMMU group 29 (0000:02:00.0 0000:02:00.1)");
	CHECK(!strstr(cap.text, "0000:00:01.0")); /* the bridge stays */
	unchanged(&sr);
}

TEST(refuses_host_critical_group)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run(NULL, 101, false, &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "E: refusing: 0000:00:1f.2 (IOMMU group 27) backs /");
	unchanged(&sr);
}

/* Proxmox validates a mapping before its start; the hook does the same before it binds: a
 * map entry without the subsystem-id the card has stops it, nothing changed. */
TEST(refuses_invalid_mapping_before_binding)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run("file /etc/pve/mapping/pci.cfg gtx650\\n"
		  "\\tmap node=pve,path=0000:02:00,id=10de:0fc6,iommugroup=29\n"
		  "file /etc/pve/qemu-server/103.conf hostpci0: mapping=gtx650,pcie=1\n",
		  103, false, &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "E: hostpci0: PCI device mapping invalid (hardware probably "
				 "changed): missing expected property 'subsystem-id' for device "
				 "'0000:02:00.0'");
	unchanged(&sr);
}

TEST(refuses_when_iommu_off)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run("file /etc/pve/qemu-server/103.conf hostpci0: 0000:03:00.0\n"
		  "pci 0000:03:00.0 vendor=10de device=1049 class=030000\n", 103, false, &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "0000:03:00.0 has no IOMMU group");
	unchanged(&sr);
}

TEST(refuses_processes_holding_the_gpu)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run("link /proc/4711/fd/7 /dev/dri/card0\nfile /proc/4711/comm Xorg\n", 100, false,
		  &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "E: refusing: 0000:02:00.0 is in use on the host by 4711 (Xorg)");
	unchanged(&sr);
}

TEST(holders_warn_only_when_configured)
{
	struct sysroot sr;
	struct capture cap;

	cfg.hook.holders_refuse = false;
	CHECK_INT(run("link /proc/4711/fd/7 /dev/dri/renderD128\nfile /proc/4711/comm ollama\n", 100,
		      true, &cap, &sr), 0);
	cfg.hook.holders_refuse = true;
	CHECK_CONTAINS(cap.text, "W: 0000:02:00.0 is in use on the host by 4711 (ollama)");
}

TEST(refuses_group_open_by_another_qemu)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run("file /dev/vfio/29 node\nlink /proc/555/fd/30 /dev/vfio/29\nfile /proc/555/comm kvm\n", 100, false, &cap,
		  &sr) < 0);
	CHECK_CONTAINS(cap.text, "IOMMU group 29 is open by 555 (kvm)");
	unchanged(&sr);
}

TEST(refuses_devices_of_another_vm)
{
	struct sysroot sr;
	struct capture cap;

	CHECK(run("file /run/qemu-server/pci-id-reservations 0000:02:00.1 105 time:9999999999\n",
		  100, false, &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "0000:02:00.1 is reserved by running VM 105");
	unchanged(&sr);
	CHECK(run("file /run/pve-gpu-passthrough/106.state pve-gpu-passthrough-state 1\\nvmid 106\\n"
		  "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n",
		  100, false, &cap, &sr) < 0);
	CHECK_CONTAINS(cap.text, "0000:02:00.0 was handed over for VM 106 and not given back yet");
}

TEST(refuses_when_vfio_cannot_load)
{
	struct sysroot sr;
	struct capture cap;
	char path[600];

	/* remove vfio-pci from the fake tree: no module either (no /lib/modules) */
	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	snprintf(path, sizeof(path), "rm -rf %s/sys/bus/pci/drivers/vfio-pci", test_tmpdir());
	CHECK_INT(system(path), 0);
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	memset(&cap, 0, sizeof(cap));
	CHECK(handoff_prepare(&ops, 100) < 0);
	CHECK_CONTAINS(cap.text, "refusing: vfio-pci cannot be loaded");
	unchanged(&sr);
}

TEST(console_plan_leaves_consoles_of_other_gpus)
{
	struct sysroot sr;
	struct console_plan p;
	struct pci_dev_info d;

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(fakesys_build(test_tmpdir(),
				"pci 0000:03:00.0 vendor=10de device=1049 class=030000 group=30 "
				"bar0=f8000000:1000000\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(pcidev_read(&sr, "0000:03:00.0", &d), 0);
	CHECK_INT(console_plan(&sr, &d, 1, &p), 0);
	CHECK_INT(p.nvtcons, 0);
	CHECK_INT(p.nfbs, 0);
	CHECK_INT(pcidev_read(&sr, "0000:02:00.0", &d), 0);
	CHECK_INT(console_plan(&sr, &d, 1, &p), 0);
	CHECK_INT(p.nvtcons, 1);
	CHECK_INT(p.vtcons[0], 1);
	CHECK_INT(p.nfbs, 1);
	CHECK_STR(p.fbs[0], "efi-framebuffer.0");
	CHECK_STR(p.fb_drivers[0], "efi-framebuffer");
}

/* Proxmox's kernels: simpledrm on simple-framebuffer.0, whose own BOOTFB region sits in BAR 1.
 * Its fate depends on the class: vfio-pci removes it for a VGA controller only. */
TEST(simple_framebuffer_fate_by_class)
{
	struct sysroot sr;
	struct pci_dev_info d;
	struct iomem_entry fb;
	int bar = -1;

	CHECK_INT(fakesys_build(test_tmpdir(),
				"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 group=29 "
				"bar0=f6000000:1000000 bar1=e0000000:8000000\n"
				"pci 0000:03:00.0 vendor=1234 device=1111 class=038000 group=30 "
				"bar0=c0000000:1000000\n"
				"file /proc/iomem e0000000-e7ffffff : 0000:02:00.0\\n"
				"  e0000000-e07e8fff : BOOTFB\\n    e0000000-e07e8fff : simple-framebuffer\\n"
				"f6000000-f6ffffff : 0000:02:00.0\\nc0000000-c0ffffff : 0000:03:00.0\\n"
				"  c0000000-c02fffff : BOOTFB\n",
				NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(pcidev_read(&sr, "0000:02:00.0", &d), 0);
	CHECK_INT(console_fb_left(&sr, &d, &fb, &bar), 1);
	CHECK_STR(fb.name, "BOOTFB");
	CHECK_INT(bar, 1);
	CHECK_INT(console_fb_fate(&d, fb.name), CONSOLE_FB_REMOVED);
	CHECK_INT(console_fb_fate(&d, "efifb"), CONSOLE_FB_RELEASED);
	CHECK_INT(console_fb_fate(&d, "efi-framebuffer"), CONSOLE_FB_RELEASED);
	CHECK_INT(pcidev_read(&sr, "0000:03:00.0", &d), 0);
	CHECK_INT(console_fb_left(&sr, &d, &fb, &bar), 1);
	CHECK_INT(bar, 0);
	CHECK_INT(console_fb_fate(&d, fb.name), CONSOLE_FB_STAYS);
	/* newer kernels' names are firmware framebuffers too */
	CHECK_INT(iomem_is_fw_fb("efi-framebuffer"), 1);
	CHECK_INT(iomem_is_fw_fb("vesa-framebuffer"), 1);
	CHECK_INT(iomem_is_fw_fb("0000:02:00.0"), 0);
	sr_close(&sr);
}

/* The keyed records a handoff step keeps in the state file: added, read back, dropped, kept
 * through the text form; a key or value the file cannot hold is refused. */
TEST(state_keyed_records)
{
	static struct handoff_state s, t;
	char buf[4096];

	s.vmid = 100;
	CHECK_INT(state_rec_add(&s, "health", "0000:02:00.0 ok"), 0);
	CHECK_INT(state_rec_add(&s, "ct_stopped", "105"), 0);
	CHECK_INT(state_rec_add(&s, "ct_stopped", "106"), 0);
	CHECK_INT(state_rec_add(&s, "Bad", "x"), -EINVAL);
	CHECK_INT(state_rec_add(&s, "9x", "x"), -EINVAL);
	CHECK_INT(state_rec_add(&s, "k", ""), -EINVAL);
	CHECK_INT(state_rec_add(&s, "k", "two  spaces"), -EINVAL);
	CHECK_INT(state_rec_add(&s, "k", "tab\there"), -EINVAL);
	CHECK_INT(state_rec_add(&s, "k", " lead"), -EINVAL);
	CHECK(state_format(&s, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "pve-gpu-passthrough-state 1\nvmid 100\nrec health 0000:02:00.0 ok\n"
		       "rec ct_stopped 105\nrec ct_stopped 106\n");
	CHECK_INT(state_parse(buf, &t), 0);
	CHECK_STR(state_rec_get(&t, "ct_stopped", 1), "106");
	CHECK_STR(state_rec_get(&t, "health", 0), "0000:02:00.0 ok");
	CHECK(!state_rec_get(&t, "health", 1));
	state_rec_drop(&t, "ct_stopped");
	CHECK_INT(t.nrecs, 1);
	CHECK(!state_rec_get(&t, "ct_stopped", 0));
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nrec A b\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nrec a  b\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nrec a\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nrec a b \n", &t), -EINVAL);
}

TEST(state_roundtrip_and_hostile_text)
{
	struct handoff_state s = { .vmid = 100, .ndevs = 2, .nvtcons = 1, .vtcons = { 1 }, .nfbs = 1 };
	struct handoff_state t;
	char buf[4096];

	strcpy(s.devs[0].name, "0000:02:00.0");
	s.devs[0].group = 29;
	s.devs[0].vendor = 0x10de;
	s.devs[0].device = 0x0fc6;
	strcpy(s.devs[0].driver, "nouveau");
	strcpy(s.devs[1].name, "0000:02:00.1");
	s.devs[1].was_vfio = true;
	strcpy(s.fbs[0], "efi-framebuffer.0");
	strcpy(s.fb_drivers[0], "efi-framebuffer");
	CHECK(state_format(&s, buf, sizeof(buf)) > 0);
	CHECK_INT(state_parse(buf, &t), 0);
	CHECK_INT(t.ndevs, 2);
	CHECK_STR(t.devs[0].driver, "nouveau");
	CHECK_STR(t.devs[0].override, "");
	CHECK(t.devs[1].was_vfio);
	CHECK_STR(t.fbs[0], "efi-framebuffer.0");
	CHECK_INT(state_parse("", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 2\nvmid 1\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nrm -rf /\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\ndevice ../../x group 1 id "
			      "10de:0fc6 driver a override - vfio 0\n", &t), -EINVAL);
	CHECK_INT(state_parse("pve-gpu-passthrough-state 1\nvmid 100\nvtcon 64\n", &t), -EINVAL);
}

TEST(release_without_state_is_a_no_op)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(handoff_release(&ops, 100), 0);
	CHECK_STR(cap.text, "");
}

TEST(holders_found_by_link_target)
{
	struct sysroot sr;
	struct holder h[4];
	const char *paths[] = { "/dev/vfio/29", "/dev/dri/card0" };
	char list[128];

	CHECK_INT(fakesys_build(test_tmpdir(),
				"link /proc/10/fd/3 /dev/vfio/29\nfile /proc/10/comm kvm\n"
				"link /proc/10/fd/4 /dev/dri/card0\nlink /proc/11/fd/0 /dev/null\n"
				"dir /proc/self\nfile /dev/vfio/29 node\nfile /dev/dri/card0 node\n",
				NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(holders_find(&sr, paths, 2, h, 4), 2);
	holders_format(h, 2, list, sizeof(list));
	CHECK_STR(list, "10 (kvm)");
	/* a node that is not there is not looked for (nothing can hold it under that name) */
	CHECK_INT(fakesys_build(test_tmpdir(), "rm /dev/dri/card0\n", NULL), 0);
	CHECK_INT(holders_find(&sr, paths, 2, h, 4), 1);
	CHECK_STR(h[0].path, "/dev/vfio/29");
	sr_close(&sr);
}

/* Without any of the nodes there is no scan at all: an unreadable /proc is not even opened. */
TEST(holders_scan_nothing_without_nodes)
{
	struct sysroot sr;
	struct holder h[4];
	const char *paths[] = { "/dev/vfio/29", "/dev/dri/card0" };

	CHECK_INT(fakesys_build(test_tmpdir(), "dir /dev\nfile /dev/vfio/29 node\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(holders_find(&sr, paths, 2, h, 4), -ENOENT); /* no /proc: the scan fails */
	CHECK_INT(fakesys_build(test_tmpdir(), "rm /dev/vfio/29\n", NULL), 0);
	CHECK_INT(holders_find(&sr, paths, 2, h, 4), 0); /* no node: nothing to scan */
	sr_close(&sr);
}

#define HDR "pve-gpu-passthrough-state 1\nvmid 100\n"
#define DEV0 "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n"

/* Every name read back from a state file becomes a sysfs path or a value written there. */
TEST(state_names_are_validated)
{
	struct handoff_state t;

	CHECK_INT(state_parse(HDR DEV0 "fb efi-framebuffer.0 efi-framebuffer\n", &t), 0);
	/* the adversarial review's reproducer: a framebuffer driver climbing out of sysfs */
	CHECK_INT(state_parse(HDR "fb simple-framebuffer.0 ../../../../etc/victim\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "fb ../../../etc simple-framebuffer\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "fb .. simple-framebuffer\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "fb simple-framebuffer.0 .\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "fb a\\b c\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "fb efi-framebuffer.0 efi-framebuffer\n"
				  "fb efi-framebuffer.0 efi-framebuffer\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "vtcon 1\nvtcon 1\n", &t), -EINVAL);
	/* a device named twice made release lock against itself */
	CHECK_INT(state_parse(HDR DEV0 DEV0, &t), -EINVAL);
	/* devices: canonical PCI addresses only; drivers and overrides: one path component */
	CHECK_INT(state_parse(HDR "device 0000:02:00.A group 29 id 10de:0fc6 driver nouveau "
				  "override - vfio 0\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "device 0000:02:00.0 group 29 id 10de:0fc6 driver ../x "
				  "override - vfio 0\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau "
				  "override .. vfio 0\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "device 0000:02:00.0 group 29 id 10de:0fc6 driver "
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
				  "override - vfio 0\n", &t), -EINVAL);
	/* the longest PCI domain (8 digits, VMD) fits */
	CHECK_INT(state_parse(HDR "device 1000000a:e0:06.0 group 29 id 8086:a77f driver nvme "
				  "override - vfio 0\n", &t), 0);
	CHECK_STR(t.devs[0].name, "1000000a:e0:06.0");
}

/* The reproducer of the review: post-stop must not write outside sysfs through an fb record. */
TEST(release_fb_traversal_writes_nothing)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };
	char buf[64];

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(fakesys_build(test_tmpdir(),
				"platform simple-framebuffer.0\n"
				"file /etc/victim/bind keep\n"
				"file /run/pve-gpu-passthrough/100.state " "pve-gpu-passthrough-state 1\\n"
				"vmid 100\\nfb simple-framebuffer.0 ../../../../etc/victim\\n\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(handoff_release(&ops, 100), -EINVAL);
	/* refused with the path and what is wrong: the line, as a hand edit would be shown */
	CHECK_CONTAINS(cap.text, "E: state file /run/pve-gpu-passthrough/100.state of VM 100 is "
				 "refused: line 3 is not a valid record: 'fb simple-framebuffer.0 "
				 "../../../../etc/victim'; nothing is given back");
	CHECK_INT(sr_read_str(&sr, "/etc/victim/bind", buf, sizeof(buf)), 4);
	CHECK_STR(buf, "keep");
}

/* A valid-looking framebuffer driver that does not exist: nothing is created or written. */
TEST(release_fb_driver_must_exist)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(fakesys_build(test_tmpdir(),
				"platform simple-framebuffer.0\n"
				"file /run/pve-gpu-passthrough/100.state pve-gpu-passthrough-state 1\\n"
				"vmid 100\\nfb simple-framebuffer.0 nosuchdrv\\n\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(handoff_release(&ops, 100), 0);
	CHECK_CONTAINS(cap.text, "cannot rebind firmware framebuffer simple-framebuffer.0");
	CHECK(!sr_exists(&sr, "/sys/bus/platform/drivers/nosuchdrv"));
	CHECK(!sr_exists(&sr, "/run/pve-gpu-passthrough/100.state"));
}

/* Two identical device lines: refused at once (before, release locked against itself). */
TEST(release_duplicate_device_refused)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(fakesys_build(test_tmpdir(),
				"file /run/pve-gpu-passthrough/100.state pve-gpu-passthrough-state 1\\n"
				"vmid 100\\ndevice 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau "
				"override - vfio 0\\ndevice 0000:02:00.0 group 29 id 10de:0fc6 driver "
				"nouveau override - vfio 0\\n\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(handoff_release(&ops, 100), -EINVAL);
	CHECK_CONTAINS(cap.text, "100.state of VM 100 is refused: line 4 is not a valid record: "
				 "'device 0000:02:00.0 ");
}

/* A state file that is a FIFO (or a directory) is refused without blocking. */
TEST(release_state_fifo_refused)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };
	char p[600];

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	CHECK_INT(fakesys_build(test_tmpdir(), "dir /run/pve-gpu-passthrough\n", NULL), 0);
	snprintf(p, sizeof(p), "%s/run/pve-gpu-passthrough/100.state", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(handoff_release(&ops, 100), -SR_ENOTREG);
	CHECK_CONTAINS(cap.text, "not a regular file");
}

/* The review's absolute-link tree: /run/pve-gpu-passthrough points at a real directory
 * outside; release and pre-start must neither delete nor create anything there. */
TEST(state_dir_absolute_link_stays_inside)
{
	struct sysroot sr;
	struct capture cap = { 0 };
	struct handoff_ops ops = { .sr = &sr, .cfg = &cfg, .node = "pve", .log = capture_log, .ud = &cap };
	char root[300], out[300], p[700];
	struct stat st;
	FILE *f;

	snprintf(root, sizeof(root), "%s/root", test_tmpdir());
	snprintf(out, sizeof(out), "%s/outside", test_tmpdir());
	CHECK_INT(mkdir(out, 0700), 0);
	snprintf(p, sizeof(p), "%s/100.state", out);
	f = fopen(p, "w");
	CHECK(f != NULL);
	fputs(HDR "vtcon 1\n", f);
	fclose(f);
	CHECK_INT(fakesys_build(root, base_spec, NULL), 0);
	snprintf(p, sizeof(p), "link /run/pve-gpu-passthrough %s\nlink /run/lock/pve-gpu-passthrough %s\n", out, out);
	CHECK_INT(fakesys_build(root, p, NULL), 0);
	CHECK_INT(sr_open(&sr, root), 0);
	CHECK_INT(handoff_release(&ops, 100), 0); /* no state inside the root */
	memset(&cap, 0, sizeof(cap));
	handoff_prepare(&ops, 100);
	snprintf(p, sizeof(p), "%s/100.state", out);
	CHECK_INT(stat(p, &st), 0); /* the real file is still there, untouched */
	CHECK_INT(st.st_size, (long long)strlen(HDR "vtcon 1\n"));
	{
		DIR *d = opendir(out);
		struct dirent *de;
		int n = 0;

		CHECK(d != NULL);
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		CHECK_INT(n, 1); /* no lock, no new state */
	}
	sr_close(&sr);
}

/* Two GPUs: the consoles moved off the handed-over card are recorded with the card, so
 * post-stop can move them back; the record is as strict as the rest. */
TEST(state_con2fb_record)
{
	struct handoff_state s = { .vmid = 100, .con_mask = CONSOLE_ALL }, t;
	char buf[1024];

	strcpy(s.con_home, "0000:01:00.0");
	CHECK(state_format(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "con2fb 0000:01:00.0 7fffffffffffffff\n") != NULL);
	CHECK_INT(state_parse(buf, &t), 0);
	CHECK_STR(t.con_home, "0000:01:00.0");
	CHECK(t.con_mask == CONSOLE_ALL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 5\n", &t), 0);
	CHECK(t.con_mask == 5);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 0\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 8000000000000000\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 -1\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 1ffffffffffffffff\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb ../../x 1\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 1 x\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "con2fb 0000:01:00.0 1\ncon2fb 0000:02:00.0 1\n", &t), -EINVAL);
}

TEST(console_ranges_and_fb_of_device)
{
	struct sysroot sr;
	char buf[128];

	console_mask_format(CONSOLE_ALL, buf, sizeof(buf));
	CHECK_STR(buf, "tty1-tty63");
	console_mask_format(UINT64_C(0x2f), buf, sizeof(buf));
	CHECK_STR(buf, "tty1-tty4,tty6");
	console_mask_format(UINT64_C(1) << 62, buf, sizeof(buf));
	CHECK_STR(buf, "tty63");
	/* a DRM driver's fbdev sits below the PCI device; a firmware one below a platform device */
	CHECK_INT(fakesys_build(test_tmpdir(),
				"dir /sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/graphics/fb1\n"
				"dir /sys/devices/pci0000:00/0000:00:02.0/drm/card0/fb2\n"
				"link /sys/class/graphics/fb2/device /sys/devices/pci0000:00/0000:00:02.0/drm/card0\n"
				"link /sys/class/graphics/fb1/device /sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0\n"
				"dir /sys/devices/platform/efi-framebuffer.0\n"
				"link /sys/class/graphics/fb0/device /sys/devices/platform/efi-framebuffer.0\n",
				NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(console_fb_of(&sr, "0000:01:00.0"), 1);
	CHECK_INT(console_fb_of(&sr, "efi-framebuffer.0"), 0);
	CHECK_INT(console_fb_of(&sr, "0000:01:00.1"), -ENOENT);
	CHECK_INT(console_fb_of(&sr, "0000:00:02.0"), 2); /* below its drm card */
	CHECK_INT(console_fb_of(&sr, "0000:00:1c.0"), -ENOENT); /* behind the port, not its own */
	/* no /dev/fb node (or no fbcon): reading the console map fails, nothing is planned */
	CHECK(console_con2fb_get(&sr, 1, 1) < 0);
	CHECK_INT(console_con2fb_get(&sr, 1, 0), -EINVAL);
	CHECK_INT(console_con2fb_get(&sr, 1, 64), -EINVAL);
	sr_close(&sr);
}

/* VGA text mode: from 6.0 vfio-pci removes vgacon of the boot VGA device; said before. */
TEST(vgacon_lost_only_for_the_boot_vga_on_6_0_and_later)
{
	struct sysroot sr;
	struct pci_dev_info d = { .class = 0x030000, .boot_vga = 1 };
	struct handoff_state t;

	strcpy(d.name, "0000:01:00.0");
	CHECK_INT(fakesys_build(test_tmpdir(), "file /sys/class/vtconsole/vtcon0/name (S) VGA+\n"
					       "file /sys/class/vtconsole/vtcon0/bind 1\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(console_vgacon_lost(&sr, &d, "6.12.117+deb13-amd64"), 1);
	CHECK_INT(console_vgacon_lost(&sr, &d, "6.0.0"), 1);
	CHECK_INT(console_vgacon_lost(&sr, &d, "5.10.0-46-amd64"), 0);
	CHECK_INT(console_vgacon_lost(&sr, &d, ""), 0);
	d.boot_vga = 0;
	CHECK_INT(console_vgacon_lost(&sr, &d, "6.12.0"), 0);
	d.boot_vga = 1;
	d.class = 0x038000;
	CHECK_INT(console_vgacon_lost(&sr, &d, "6.12.0"), 0);
	sr_close(&sr);
	/* fbcon took over (a DRM driver kicked vgacon out): nothing to lose */
	d.class = 0x030000;
	CHECK_INT(fakesys_build(test_tmpdir(), "file /sys/class/vtconsole/vtcon0/name (S) dummy device\n"
					       "file /sys/class/vtconsole/vtcon1/name (M) frame buffer device\n",
				NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(console_vgacon_lost(&sr, &d, "6.12.0"), 0);
	sr_close(&sr);
	CHECK_INT(state_parse(HDR "vgacon 0000:01:00.0\n", &t), 0);
	CHECK_STR(t.vgacon, "0000:01:00.0");
	CHECK_INT(state_parse(HDR "vgacon ../x\n", &t), -EINVAL);
	CHECK_INT(state_parse(HDR "vgacon 0000:01:00.0\nvgacon 0000:01:00.0\n", &t), -EINVAL);
	CHECK_INT(kernel_series("6.8.12-4-pve"), 608);
	CHECK_INT(kernel_series("x"), -1);
}

/* Two VGA cards on 6.0 to 6.11: vfio-pci taking the other card removes the boot GPU's
 * firmware framebuffer (the lab shows it on 6.1, not on 5.10 or 6.12). */
TEST(other_fb_lost_on_kernels_before_6_12)
{
	struct sysroot sr;
	struct pci_dev_info d = { .class = 0x030000, .boot_vga = 0 };
	char fb[64] = "";

	strcpy(d.name, "0000:00:03.0");
	CHECK_INT(fakesys_build(test_tmpdir(), "dir /sys/bus/platform/devices/efi-framebuffer.0/graphics/fb0\n"
					       "dir /sys/bus/platform/devices/serial8250\n", NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(console_other_fb_lost(&sr, &d, "6.1.0-50-amd64", fb), 1);
	CHECK_STR(fb, "efi-framebuffer.0");
	CHECK_INT(console_other_fb_lost(&sr, &d, "6.12.117+deb13-amd64", fb), 0);
	CHECK_INT(console_other_fb_lost(&sr, &d, "5.10.0-46-amd64", fb), 0);
	d.boot_vga = 1; /* the card the framebuffer is on: the usual release, not this case */
	CHECK_INT(console_other_fb_lost(&sr, &d, "6.1.0", fb), 0);
	d.boot_vga = 0;
	d.class = 0x038000; /* vfio-pci removes nothing for a non-VGA display */
	CHECK_INT(console_other_fb_lost(&sr, &d, "6.1.0", fb), 0);
	{
		char names[4][64];

		CHECK_INT(console_fw_fbs(&sr, names, 4), 1);
		CHECK_STR(names[0], "efi-framebuffer.0");
	}
	sr_close(&sr);
}
