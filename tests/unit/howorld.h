/* howorld.h - the fake host of the handoff tests (test_bind.c, test_quirks.c,
 * test_containers.c): a fakesys tree with the fake kernel at its write point, and handoff ops
 * that log into a capture (testlib.h). Defined in testlib.c. */
#ifndef PGP_HOWORLD_H
#define PGP_HOWORLD_H

#include <stdbool.h>

#include "cfg_ini.h"
#include "dev_handoff.h"
#include "dev_quirks.h"
#include "fakekernel.h"
#include "testlib.h"

/* The seed's GPU (GTX 650 + HDMI audio, group 29) on efifb with fbcon, a SATA disk holding /,
 * vfio-pci registered (Proxmox loads it at boot); VM 100 passes the GPU, VM 101 the disk
 * controller (test_bind.c, test_handoff.c). */
#define SEED_HOST_SPEC \
	"pci 0000:00:01.0 vendor=8086 device=2f02 class=060400 bridge=1 group=1 driver=pcieport\n" \
	"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29 boot_vga=1 " \
	"parent=0000:00:01.0 bar0=f6000000:1000000 bar1=e0000000:8000000 drm=card0,renderD128\n" \
	"pci 0000:02:00.1 vendor=10de device=0e1b class=040300 driver=snd_hda_intel group=29 " \
	"parent=0000:00:01.0\n" \
	"pci 0000:00:1f.2 vendor=8086 device=8d02 class=010601 driver=ahci group=27\n" \
	"link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n" \
	"dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n" \
	"file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n" \
	"file /proc/iomem 00000000-00000fff : Reserved\\ne0000000-e7ffffff : 0000:02:00.0\\n" \
	"  e0000000-e02fffff : efifb\\nf6000000-f6ffffff : 0000:02:00.0\n" \
	"platform efi-framebuffer.0 driver=efi-framebuffer fb=0\n" \
	"vtcon 0 (S) dummy device\n" \
	"vtcon 1 (M) frame buffer device\n" \
	"driver vfio-pci\n" \
	"dir /sys/module/vfio_iommu_type1\n" \
	"dir /dev/vfio\n" \
	"file /etc/pve/qemu-server/100.conf bios: ovmf\\nhostpci0: 0000:02:00,pcie=1,x-vga=1\n" \
	"file /etc/pve/qemu-server/101.conf hostpci0: 0000:00:1f.2\n"

struct world {
	struct sysroot sr;
	struct fake_kernel k;
	struct capture cap;
	struct handoff_ops ops;
	bool left_changed;
};

/* A fresh host (what the test's temporary directory held goes) from BASE plus EXTRA (a
 * fakesys spec, tests/fixture/fakesys.h; a malformed one fails the test), opened, with the
 * fake kernel at its write point; its ops run on node "pve" with CFG and EXEC (NULL: none).
 * One world at a time: each call gives the same one, rebuilt. */
struct world *ho_world(const char *base, const char *extra, const struct cfg *cfg,
		       const struct quirks_exec *exec);
/* Forgets the log lines and the fake kernel's log. */
void ho_world_reset_log(struct world *w);
/* Runs handoff_prepare(VMID) in a child that a kill point (sr_kill_point_parse: "STEP:N")
 * kills at that write, as a killed hook; the test fails unless it was killed there. */
void ho_world_prepare_killed(struct world *w, const char *point, int vmid);

#endif
