/* test_sriov.c - the [sriov] engine (common/dev_sriov.c) on the fake kernel
 * (tests/fixture/fakekernel.c, which makes VFs on a write to sriov_numvfs): a Raptor Lake iGPU
 * PF on i915 offering seven VFs. The VFs are made with the INI's count and driver,
 * sriov_drivers_autoprobe goes to 0 before sriov_numvfs, a second run writes nothing, and a PF
 * that cannot make VFs, or has another count, is refused with nothing written. Post-stop and
 * reconcile remove a dynamic id of vfio-pci that would take the PF (Proxmox's new_id). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "dev_handoff.h"
#include "dev_lock.h"
#include "dev_reconcile.h"
#include "dev_sriov.h"
#include "dev_state.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "harness.h"
#include "testlib.h"
#include "util.h"

#define PF "0000:00:02.0"

static const char *igpu_spec =
	"pci 0000:00:02.0 vendor=8086 device=a7a0 class=030000 driver=i915 group=0 boot_vga=1\n"
	IGPU_PF_SRIOV_SPEC
	"pci 0000:00:1f.2 vendor=8086 device=7a62 class=010601 driver=ahci group=12\n"
	"driver i915\n";

struct world {
	struct sysroot sr;
	struct fake_kernel k;
	struct sriov_ops ops;
	struct sriov_state st;
	char err[512];
};

/* The host, with vfio-pci registered unless NO_VFIO. */
static struct world *world_of(const char *extra, bool no_vfio)
{
	static struct world w;
	char spec[4096];
	int line = 0;

	memset(&w, 0, sizeof(w));
	snprintf(spec, sizeof(spec), "%s%s%s", igpu_spec, no_vfio ? "" : "driver vfio-pci\n",
		 extra ? extra : "");
	if (fakesys_build(test_tmpdir(), spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&w.sr, test_tmpdir()), 0);
	fk_init(&w.k, test_tmpdir(), &w.sr);
	w.ops = (struct sriov_ops){ .sr = &w.sr, .timeout_ms = 2000, .load = fk_load,
				    .data = &w.k };
	return &w;
}

static struct world *world(const char *extra)
{
	return world_of(extra, false);
}

static struct sriov_opts ini(const char *text)
{
	struct cfg c;
	char err[256];

	if (cfg_parse(text, "t.ini", &c, err, sizeof(err)) < 0)
		test_fail(__FILE__, __LINE__, "%s", err);
	return c.sriov;
}

static const char *attr(struct world *w, const char *name)
{
	static char buf[64];

	if (sr_read_str(&w->sr, name, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(none)");
	return buf;
}

TEST(vfs_made_with_the_ini_count_and_driver)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 3\n");
	int changes = -1;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "3");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "0");
	CHECK_INT(w->st.nvfs, 3);
	CHECK_STR(w->st.vf[0].name, "0000:00:02.1");
	CHECK_STR(w->st.vf[2].name, "0000:00:02.3");
	for (int i = 0; i < 3; i++) {
		CHECK_STR(fk_driver(&w->k, w->st.vf[i].name), "vfio-pci");
		CHECK_STR(fk_override(&w->k, w->st.vf[i].name), "vfio-pci");
	}
	CHECK(strcmp(fk_driver(&w->k, "0000:00:02.4"), "") == 0); /* no fourth VF */
	CHECK_STR(fk_driver(&w->k, PF), "i915");                  /* the PF untouched */
	CHECK_INT(changes, 2 + 3 * 2);
}

TEST(autoprobe_off_before_numvfs)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 8086:a7a0\nvfs = 7\n");
	const char *ap, *nv;
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	ap = strstr(w->k.log, PF "/sriov_drivers_autoprobe=0");
	nv = strstr(w->k.log, PF "/sriov_numvfs=7");
	CHECK(ap && nv && ap < nv);
	/* with autoprobe on, i915 would have taken them: none is on it */
	for (int i = 0; i < 7; i++)
		CHECK_STR(fk_driver(&w->k, w->st.vf[i].name), "vfio-pci");
}

TEST(second_run_writes_nothing)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK(changes > 0);
	w->k.log[0] = '\0';
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_INT(changes, 0);
	CHECK_STR(w->k.log, "");
	CHECK_INT(w->st.nvfs, 7);
}

TEST(variant_driver_is_used)
{
	struct world *w = world("driver xe_vfio_pci\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\ndriver = xe_vfio_pci\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "xe_vfio_pci");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "xe_vfio_pci");
}

TEST(pf_without_driver_is_refused_with_nothing_written)
{
	struct world *w = world("rm /sys/bus/pci/drivers/i915/" PF "\n"
				"rm " PFDIR "/driver\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENODEV);
	CHECK_CONTAINS(w->err, "PF 0000:00:02.0 has no driver");
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "1");
}

TEST(pf_that_cannot_make_vfs_is_refused)
{
	struct world *w = world("rm " PFDIR "/sriov_totalvfs\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)),
		  -EOPNOTSUPP);
	CHECK_CONTAINS(w->err, "cannot make VFs");
	CHECK_STR(w->k.log, "");

	w = world(NULL);
	o = ini("[sriov]\npf = 00:02.0\nvfs = 8\n");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ERANGE);
	CHECK_CONTAINS(w->err, "at most 7 VFs");
	CHECK_STR(w->k.log, "");

	w = world(NULL);
	o = ini("[sriov]\npf = 10de:2204\nvfs = 1\n");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENODEV);
	CHECK_CONTAINS(w->err, "no PF has the id 10de:2204");
}

TEST(another_count_is_refused_not_torn_down)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	w->k.log[0] = '\0';
	o.vfs = 4;
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -EBUSY);
	CHECK_CONTAINS(w->err, "has 2 VFs, the INI asks for 4");
	CHECK_STR(w->k.log, "");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "vfio-pci");
}

TEST(vf_on_a_host_driver_is_left_and_reported)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 3\n");
	int changes;

	/* VFs made earlier with autoprobe on (a sysfsutils line): i915 took them */
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/devices/" PF "/sriov_numvfs", "3"), 0);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "i915");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -EBUSY);
	CHECK_CONTAINS(w->err, "VF 0000:00:02.1 is on i915");
	CHECK_CONTAINS(w->err, "3 VFs on other drivers");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "i915");
}

TEST(dry_run_writes_nothing)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	struct sr_write_point dry = { .dry_run = true, .next = w->sr.wp };
	int changes;

	w->sr.wp = &dry;
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_INT(changes, 2);
	w->sr.wp = dry.next;
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "1");
}

TEST(vfio_pci_is_loaded_when_missing)
{
	struct world *w = world_of(NULL, true);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\n");
	int changes;

	CHECK(!w->k.loaded);
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK(w->k.loaded);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "vfio-pci");
}

TEST(variant_driver_that_does_not_register_is_refused_before_any_write)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\ndriver = xe_vfio_pci\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENOENT);
	CHECK_CONTAINS(w->err, "xe_vfio_pci is not loaded");
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
}

/* ---- the PF is never harmed by a dynamic id (dev_ho_sriov.c) --------------------------------
 * The iGPU with three VFs made by [sriov] (on vfio-pci), VM 100 passing VF 00:02.1. Proxmox's
 * new_id for a VF that is not on vfio-pci yet adds "8086 a7a0", the PF's own id: the PF's next
 * probe would then land on vfio-pci and its VFs would go. */

static struct cfg hook_cfg = { .hook = {
	.unbind_timeout_ms = 1000, .bind_timeout_ms = 100, .release_timeout_ms = 100,
	.return_on_stop = true, .holders_refuse = true,
} };

struct hworld {
	struct world *w;
	struct capture cap;
	struct handoff_ops ops;
};

static struct hworld *vf_vm(const char *extra)
{
	static struct hworld h;
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 3\n");
	char spec[2048];
	int changes;

	snprintf(spec, sizeof(spec), "dir /sys/module/vfio_iommu_type1\ndir /dev/vfio\n"
		 "link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
		 "dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
		 "file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
		 "file /proc/iomem 00000000-00000fff : Reserved\nvtcon 0 (S) dummy device\n"
		 "file /etc/pve/qemu-server/100.conf hostpci0: 0000:00:02.1,pcie=1\n%s",
		 extra ? extra : "");
	memset(&h, 0, sizeof(h));
	h.w = world(spec);
	CHECK_INT(sriov_apply(&h.w->ops, &o, &h.w->st, &changes, h.w->err, sizeof(h.w->err)), 0);
	h.ops = (struct handoff_ops){ .sr = &h.w->sr, .cfg = &hook_cfg, .node = "pve",
				      .log = capture_log, .ud = &h.cap, .prove = fk_prove };
	return &h;
}

/* The PF's driver lets go and probes again (a module reload): where it lands. */
static const char *pf_after_reprobe(struct world *w)
{
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/i915/unbind", PF), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers_probe", PF), 0);
	return fk_driver(&w->k, PF);
}

TEST(post_stop_removes_a_new_id_that_takes_the_pf)
{
	struct hworld *h = vf_vm(NULL);

	if (handoff_prepare(&h->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", h->cap.text);
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.1"), "vfio-pci");
	/* Proxmox's binder for the VF, as for a VF it found on another driver */
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 a7a0"), 0);
	h->w->k.log[0] = '\0';
	memset(&h->cap, 0, sizeof(h->cap));
	CHECK_INT(handoff_release(&h->ops, 100), 0);
	CHECK_CONTAINS(h->w->k.log, "/sys/bus/pci/drivers/vfio-pci/remove_id=8086 a7a0\n");
	CHECK_CONTAINS(h->cap.text, "removed the dynamic id 8086:a7a0 from vfio-pci: it is the id "
				    "of SR-IOV PF 0000:00:02.0, which it would take on its next "
				    "probe, destroying its 3 VFs");
	CHECK(!strstr(h->cap.text, "E: "));
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.1"), "vfio-pci"); /* stays: it was there */
	CHECK_STR(pf_after_reprobe(h->w), "i915");
}

TEST(post_stop_with_return_on_stop_no_still_removes_it)
{
	struct hworld *h = vf_vm(NULL);

	hook_cfg.hook.return_on_stop = false;
	CHECK_INT(handoff_prepare(&h->ops, 100), 0);
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 a7a0"), 0);
	CHECK_INT(handoff_release(&h->ops, 100), 0);
	hook_cfg.hook.return_on_stop = true;
	CHECK_CONTAINS(h->w->k.log, "/sys/bus/pci/drivers/vfio-pci/remove_id=8086 a7a0\n");
	CHECK_STR(pf_after_reprobe(h->w), "i915");
}

TEST(post_stop_without_such_an_id_says_nothing)
{
	struct hworld *h = vf_vm(NULL);

	CHECK_INT(handoff_prepare(&h->ops, 100), 0);
	/* an id of another device stays: only a PF's id is removed */
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "10de 2204"), 0);
	memset(&h->cap, 0, sizeof(h->cap));
	h->w->k.log[0] = '\0';
	CHECK_INT(handoff_release(&h->ops, 100), 0);
	CHECK(!strstr(h->cap.text, "dynamic id"));
	CHECK(!strstr(h->w->k.log, "remove_id=10de 2204"));
	/* the kernel answered -ENODEV for the PF's id: the one write tried, nothing else */
	CHECK_STR(h->w->k.log, "");
	CHECK_STR(pf_after_reprobe(h->w), "i915");
}

TEST(post_stop_names_an_id_it_cannot_remove)
{
	struct hworld *h = vf_vm(NULL);

	CHECK_INT(handoff_prepare(&h->ops, 100), 0);
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 a7a0"), 0);
	fk_fail(&h->w->k, "remove_id", 1, -EACCES);
	memset(&h->cap, 0, sizeof(h->cap));
	CHECK_INT(handoff_release(&h->ops, 100), -EACCES);
	CHECK_CONTAINS(h->cap.text, "E: cannot remove the dynamic id 8086:a7a0 from vfio-pci "
				    "(Permission denied): SR-IOV PF 0000:00:02.0 with 3 VFs has "
				    "that id, and vfio-pci takes it on its next probe; run: echo "
				    "'8086 a7a0' > /sys/bus/pci/drivers/vfio-pci/remove_id");
	CHECK_CONTAINS(h->cap.text, "still changed: vfio-pci's dynamic id 8086:a7a0 (SR-IOV PF "
				    "0000:00:02.0)");
}

TEST(post_stop_dry_run_writes_nothing)
{
	struct hworld *h = vf_vm(NULL);

	CHECK_INT(handoff_prepare(&h->ops, 100), 0);
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 a7a0"), 0);
	h->w->k.log[0] = '\0';
	memset(&h->cap, 0, sizeof(h->cap));
	h->ops.dry_run = true;
	CHECK_INT(handoff_release(&h->ops, 100), 0);
	CHECK_STR(h->w->k.log, "");
	CHECK_CONTAINS(h->cap.text, "would write '8086 a7a0' to /sys/bus/pci/drivers/vfio-pci/"
				    "remove_id");
}

TEST(reconcile_removes_it_with_no_vm_to_give_back)
{
	struct hworld *h = vf_vm(NULL);

	/* no state file at all: a VM started without our hook, Proxmox's new_id left behind */
	CHECK_INT(sr_write(&h->w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 a7a0"), 0);
	CHECK_INT(reconcile_all(&h->ops, 0), 0);
	CHECK_CONTAINS(h->cap.text, "removed the dynamic id 8086:a7a0 from vfio-pci");
	CHECK_STR(pf_after_reprobe(h->w), "i915");
}

/* ---- a mapping with several VFs: each start picks the first entry not reserved or in use --
 * VMs 102 and 103 both use the mapping igpu-vf (VFs 00:02.1-.3, as Proxmox lists them). */

#define MAPPING_SPEC                                                                          \
	"file /etc/pve/qemu-server/102.conf hostpci0: mapping=igpu-vf,pcie=1\n"               \
	"file /etc/pve/qemu-server/103.conf hostpci0: mapping=igpu-vf,pcie=1\n"               \
	"file /etc/pve/mapping/pci.cfg igpu-vf\\n"                                             \
	"\\tmap id=8086:a7a0,node=pve,path=0000:00:02.1,iommugroup=900,subsystem-id=0000:0000\\n" \
	"\\tmap id=8086:a7a0,node=pve,path=0000:00:02.2,iommugroup=901,subsystem-id=0000:0000\\n" \
	"\\tmap id=8086:a7a0,node=pve,path=0000:00:02.3,iommugroup=902,subsystem-id=0000:0000\\n"

/* The device VMID's state file records ("" when none). */
static const char *picked(struct hworld *h, int vmid)
{
	static char name[2][PCI_ADDR_LEN];
	static int k;
	struct handoff_state st;

	k ^= 1;
	name[k][0] = '\0';
	if (state_load(&h->w->sr, vmid, &st) == 0 && st.ndevs == 1)
		str_copy(name[k], sizeof(name[k]), st.devs[0].name);
	return name[k];
}

static void prepare_ok(struct hworld *h, int vmid)
{
	memset(&h->cap, 0, sizeof(h->cap));
	if (handoff_prepare(&h->ops, vmid) != 0)
		test_fail(__FILE__, __LINE__, "VM %d: %s", vmid, h->cap.text);
}

TEST(mapping_skips_an_entry_another_vm_was_given)
{
	struct hworld *h = vf_vm(MAPPING_SPEC);

	prepare_ok(h, 102);
	CHECK_STR(picked(h, 102), "0000:00:02.1");
	/* before: "refusing: 0000:00:02.1 was handed over for VM 102" */
	prepare_ok(h, 103);
	CHECK_STR(picked(h, 103), "0000:00:02.2");
	CHECK_INT(handoff_release(&h->ops, 102), 0);
	CHECK_INT(handoff_release(&h->ops, 103), 0);
	prepare_ok(h, 103); /* the first entry is free again */
	CHECK_STR(picked(h, 103), "0000:00:02.1");
}

TEST(mapping_skips_an_entry_another_hook_is_handing_over)
{
	struct hworld *h = vf_vm(MAPPING_SPEC);
	int go[2], done[2];
	char c;
	pid_t pid;

	CHECK_INT(pipe(go), 0);
	CHECK_INT(pipe(done), 0);
	if ((pid = fork()) == 0) { /* another pre-start, in the middle of its handoff */
		pid_t holder;
		int fd;

		close(done[1]);
		close(go[0]);
		fd = devlock_take(&h->w->sr, "0000:00:02.1", &holder);
		_exit(fd < 0 || write(go[1], "x", 1) != 1 || read(done[0], &c, 1) < 0);
	}
	close(go[1]);
	close(done[0]);
	CHECK_INT(read(go[0], &c, 1), 1);
	prepare_ok(h, 103); /* before: "refusing: 0000:00:02.1 is being handed over by ..." */
	CHECK_STR(picked(h, 103), "0000:00:02.2");
	close(done[1]);
	CHECK_INT(waitpid(pid, NULL, 0), pid);
	close(go[0]);
}

/* Two pre-starts of VMs on one mapping at the same time pick different entries: the pick and
 * the lock of what was picked are one step (DEVLOCK_PICK). */
TEST(concurrent_starts_on_one_mapping_pick_different_vfs)
{
	struct hworld *h = vf_vm(MAPPING_SPEC);
	int go[2], status;
	pid_t pids[2];
	char c;

	CHECK_INT(pipe(go), 0);
	for (int i = 0; i < 2; i++)
		if ((pids[i] = fork()) == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) < 0) /* both wait here, then start at once */
				_exit(3);
			_exit(handoff_prepare(&h->ops, 102 + i) == 0 ? 0 : 2);
		}
	close(go[0]);
	close(go[1]); /* EOF: both go */
	for (int i = 0; i < 2; i++) {
		CHECK_INT(waitpid(pids[i], &status, 0), pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(picked(h, 102)[0] && picked(h, 103)[0]);
	CHECK(strcmp(picked(h, 102), picked(h, 103)) != 0);
}

/* ---- pre-start of a VM passing a VF that is not made yet (dev_ho_sriov.c) ------------------
 * The PF's driver bound after pve-guests started the VM, or its boot unit failed: the PF has
 * no VFs, and VM 100 passes VF 00:02.1 (the first: routing id PF + sriov_offset). Pre-start
 * makes the INI's VFs with the boot unit's engine, then hands the VF over. */

static struct cfg late_cfg;

static struct hworld *late_vm(const char *conf, bool pf_bound)
{
	static struct hworld h;
	char spec[2048], err[256];

	snprintf(spec, sizeof(spec), "dir /sys/module/vfio_iommu_type1\ndir /dev/vfio\n"
		 "link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
		 "dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
		 "file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
		 "file /proc/iomem 00000000-00000fff : Reserved\nvtcon 0 (S) dummy device\n"
		 "file /etc/pve/qemu-server/100.conf %s\n", conf);
	memset(&h, 0, sizeof(h));
	h.w = world(spec);
	if (cfg_parse("[hook]\nbind_timeout = 100ms\nunbind_timeout = 1s\nrelease_timeout = 100ms\n"
		      "[sriov]\npf = 00:02.0\nvfs = 3\n", "t.ini", &late_cfg, err, sizeof(err)) < 0)
		test_fail(__FILE__, __LINE__, "%s", err);
	if (!pf_bound)
		CHECK_INT(sr_write(&h.w->sr, "/sys/bus/pci/drivers/i915/unbind", PF), 0);
	h.w->k.log[0] = '\0';
	h.ops = (struct handoff_ops){ .sr = &h.w->sr, .cfg = &late_cfg, .node = "pve",
				      .log = capture_log, .ud = &h.cap, .prove = fk_prove };
	return &h;
}

TEST(pre_start_makes_the_vfs_of_a_vf_not_made_yet)
{
	struct hworld *h = late_vm("hostpci0: 0000:00:02.1,pcie=1", true);
	struct handoff_state st;

	CHECK(!sr_exists(&h->w->sr, "/sys/bus/pci/devices/0000:00:02.1"));
	if (handoff_prepare(&h->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", h->cap.text);
	CHECK_CONTAINS(h->cap.text, "VF 0000:00:02.1 of [sriov] PF 0000:00:02.0 does not exist "
				    "(0 of 3 VFs): making them as the INI says");
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "3");
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "0");
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.1"), "vfio-pci");
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.2"), "vfio-pci");
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.3"), "vfio-pci");
	CHECK_STR(fk_driver(&h->w->k, PF), "i915");
	CHECK_INT(state_load(&h->w->sr, 100, &st), 0);
	CHECK_INT(st.ndevs, 1);
	CHECK_STR(st.devs[0].name, "0000:00:02.1");
	/* post-stop: as the handoff found it (the INI's driver), the PF and the other VFs kept */
	CHECK_INT(handoff_release(&h->ops, 100), 0);
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.1"), "vfio-pci");
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "3");
	CHECK(state_load(&h->w->sr, 100, &st) == -ENOENT);
}

TEST(pre_start_makes_the_vfs_for_a_mapping_of_vfs)
{
	struct hworld *h = late_vm("hostpci0: mapping=igpu-vf,pcie=1\n"
				   "file /etc/pve/mapping/pci.cfg igpu-vf\\n"
				   "\\tmap id=8086:a7a0,node=pve,path=0000:00:02.2,iommugroup=901,"
				   "subsystem-id=0000:0000\\n", true);

	if (handoff_prepare(&h->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", h->cap.text);
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "3");
	CHECK_STR(fk_driver(&h->w->k, "0000:00:02.2"), "vfio-pci");
}

TEST(pre_start_with_the_pf_without_driver_writes_nothing)
{
	struct hworld *h = late_vm("hostpci0: 0000:00:02.1,pcie=1", false);
	struct handoff_state st;

	CHECK_INT(handoff_prepare(&h->ops, 100), -ENODEV);
	CHECK_STR(h->cap.text, "E: VF 0000:00:02.1 of [sriov] PF 0000:00:02.0 does not exist: PF "
			       "0000:00:02.0 has no driver yet; VFs are made when its driver binds "
			       "(pve-gpu-passthrough-sriov@0000:00:02.0.service)\n");
	CHECK_STR(h->w->k.log, "");
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
	CHECK(state_load(&h->w->sr, 100, &st) == -ENOENT);
}

TEST(pre_start_dry_run_prints_the_writes_and_makes_nothing)
{
	struct hworld *h = late_vm("hostpci0: 0000:00:02.1,pcie=1", true);
	struct handoff_state st;

	h->ops.dry_run = true;
	CHECK_INT(handoff_prepare(&h->ops, 100), 0);
	CHECK_CONTAINS(h->cap.text, "would write '3' to /sys/bus/pci/devices/" PF "/sriov_numvfs");
	CHECK_CONTAINS(h->cap.text, "dry run: the VFs are not made, so their handoff is not "
				    "planned");
	CHECK_STR(h->w->k.log, "");
	CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
	CHECK(state_load(&h->w->sr, 100, &st) == -ENOENT);
}

/* A missing device that is no VF of the PF (00:03.0), or a VF beyond the INI's count (00:02.5
 * with vfs = 3): the start fails as Proxmox's would, and the PF is neither read for nor
 * written. */
TEST(pre_start_of_a_vm_not_passing_a_vf_of_the_pf_leaves_it_alone)
{
	static const char *const confs[] = { "hostpci0: 0000:00:03.0,pcie=1",
					     "hostpci0: 0000:00:02.5,pcie=1" };

	for (int i = 0; i < 2; i++) {
		struct hworld *h = late_vm(confs[i], true);

		CHECK_INT(handoff_prepare(&h->ops, 100), -ENODEV);
		CHECK_CONTAINS(h->cap.text, "E: hostpci0: no PCI device found for");
		CHECK(!strstr(h->cap.text, "[sriov]"));
		CHECK_STR(h->w->k.log, "");
		CHECK_STR(attr(h->w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
	}
}

/* Which VF an address would be, from the PF's sriov_offset / sriov_stride (1 and 1 here). */
TEST(vf_index_from_offset_and_stride)
{
	struct world *w = world(NULL);
	static const struct {
		const char *addr;
		int want;
	} cases[] = { { "0000:00:02.1", 0 },	    { "0000:00:02.3", 2 },
		      { "0000:00:02.4", -ENOENT }, /* vfs = 3: no fourth */
		      { "0000:00:02.0", -ENOENT }, /* the PF itself */
		      { "0000:00:01.0", -ENOENT }, /* before it */
		      { "0001:00:02.1", -ENOENT } }; /* another domain */

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pci_addr a;

		CHECK_INT(pci_addr_parse(cases[i].addr, &a), 0);
		CHECK_INT(sriov_vf_index(&w->sr, PF, &a, 3), cases[i].want);
	}
}
