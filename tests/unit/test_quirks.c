/* test_quirks.c - what specific cards need (dev_quirks.h) and what the handoff does with it, on
 * fake trees and the fake kernel: an SR-IOV PF with VFs is refused and a VF passes alone; a
 * VM's reset_method is set at pre-start and put back at post-stop (and by a rollback); the AMD
 * generation table; vendor-reset's state; NVIDIA's nvidia-persistenced and persistence mode.
 * The lab has no NVIDIA card and no AMD GPU: their sysfs and procfs (the nvidia driver's
 * /proc/driver/nvidia, nvidia-persistenced's /proc entry) are fake trees here, and systemctl
 * and nvidia-smi are a fake runner that records what would run. The SR-IOV part also runs on
 * a real kernel in the lab (tests/lab/scenarios/hook-sriov.sh). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cfg_ini.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "dev_handoff.h"
#include "harness.h"
#include "howorld.h"
#include "testlib.h"
#include "dev_quirks.h"
#include "dev_state.h"

#define DEVS "/sys/devices/pci0000:00/"
#define PF "0000:05:00.0"
#define VF0 "0000:05:00.1"
#define VF1 "0000:05:00.2"
#define NV "0000:03:00.0"
#define AMD "0000:04:00.0"

/* A host with an SR-IOV NVMe PF (two VFs enabled, each in its own group), an NVIDIA GPU on
 * the nvidia driver, an AMD Polaris GPU with reset_method, a SATA disk holding /. */
static const char *base_spec =
	"pci 0000:00:1f.2 vendor=8086 device=8d02 class=010601 driver=ahci group=27\n"
	"link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
	"dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
	"file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
	"file /proc/iomem 00000000-00000fff : Reserved\n"
	"pci " PF " vendor=1b36 device=0010 class=010802 driver=nvme group=40\n"
	"file " DEVS PF "/sriov_totalvfs 2\n"
	"file " DEVS PF "/sriov_numvfs 2\n"
	"pci " VF0 " vendor=1b36 device=0010 class=010802 driver=nvme group=41\n"
	"pci " VF1 " vendor=1b36 device=0010 class=010802 driver=nvme group=42\n"
	"link " DEVS PF "/virtfn0 ../" VF0 "\n"
	"link " DEVS PF "/virtfn1 ../" VF1 "\n"
	"link " DEVS VF0 "/physfn ../" PF "\n"
	"link " DEVS VF1 "/physfn ../" PF "\n"
	"pci " NV " vendor=10de device=2204 class=030000 driver=nvidia group=30\n"
	"file /proc/driver/nvidia/gpus/" NV "/information Model: RTX 3090\\nDevice Minor: 0\n"
	"pci " AMD " vendor=1002 device=67df class=030000 driver=amdgpu group=31\n"
	"file " DEVS AMD "/reset_method bus\n"
	"driver vfio-pci\n"
	"dir /sys/module/vfio_iommu_type1\n"
	"dir /dev/vfio\n"
	"file /etc/pve/qemu-server/200.conf hostpci0: " PF "\n"
	"file /etc/pve/qemu-server/201.conf hostpci0: " VF0 "\n"
	"file /etc/pve/qemu-server/202.conf hostpci0: " NV "\n"
	"file /etc/pve/qemu-server/203.conf hostpci0: " AMD "\n";

/* The fake runner: records each command line; "systemctl stop" ends the fake daemon (its
 * /proc entry goes), "start" brings it back; nvidia-smi answers PERSISTENCE. */
struct runner {
	char log[2048];
	const char *persistence; /* nvidia-smi's answer, NULL: not installed */
	int stop_status;         /* systemctl stop's exit status */
	int start_status;        /* systemctl start's exit status */
	bool daemon_ignores_stop;
};

static struct runner run_log;

static int fake_run(void *data, const char *const *argv, char *out, size_t outsize)
{
	struct runner *rn = data;
	char cmd[600];

	for (int i = 0; argv[i]; i++)
		snprintf(rn->log + strlen(rn->log), sizeof(rn->log) - strlen(rn->log), "%s%s",
			 i ? " " : "", argv[i]);
	snprintf(rn->log + strlen(rn->log), sizeof(rn->log) - strlen(rn->log), "\n");
	out[0] = '\0';
	if (!strcmp(argv[0], "/usr/bin/nvidia-smi")) {
		if (!rn->persistence)
			return -ENOENT;
		snprintf(out, outsize, "%s\n", rn->persistence);
		return 0;
	}
	if (!strcmp(argv[0], "/usr/bin/systemctl") && !strcmp(argv[1], "stop")) {
		if (rn->stop_status || rn->daemon_ignores_stop)
			return rn->stop_status;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s/proc/4242'", test_tmpdir());
		CHECK_INT(system(cmd), 0);
		return 0;
	}
	if (!strcmp(argv[0], "/usr/bin/systemctl") && !strcmp(argv[1], "start"))
		return rn->start_status;
	return 0;
}

static const struct quirks_exec fake_exec = { .run = fake_run, .data = &run_log };

static struct cfg cfg;

static struct world *world(const char *extra)
{
	memset(&run_log, 0, sizeof(run_log));
	cfg.hook = (struct hook_opts){ .unbind_timeout_ms = 1000, .bind_timeout_ms = 100,
				   .release_timeout_ms = 100, .return_on_stop = true,
				   .holders_refuse = true };
	return ho_world(base_spec, extra, &cfg, &fake_exec);
}

static void reset_log(struct world *w)
{
	ho_world_reset_log(w);
	run_log.log[0] = '\0';
}

static const char *reset_method(struct world *w, const char *dev)
{
	static char buf[128];

	if (quirks_reset_method_read(&w->sr, dev, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(unreadable)");
	return buf;
}

/* ---- SR-IOV ------------------------------------------------------------------------------ */

TEST(sriov_facts_of_pf_and_vfs)
{
	struct world *w = world(NULL);
	char vfs[4][PCI_ADDR_LEN];
	struct sriov_info si;

	CHECK_INT(quirks_sriov(&w->sr, PF, &si), 0);
	CHECK_INT(si.totalvfs, 2);
	CHECK_INT(si.numvfs, 2);
	CHECK(!si.is_vf);
	CHECK_INT(quirks_sriov_vfs(&w->sr, PF, vfs, 4), 2);
	CHECK_STR(vfs[0], VF0);
	CHECK_STR(vfs[1], VF1);
	CHECK_INT(quirks_sriov(&w->sr, VF1, &si), 0);
	CHECK(si.is_vf);
	CHECK_STR(si.pf, PF);
	CHECK_INT(si.totalvfs, 0);
	CHECK_INT(quirks_sriov(&w->sr, NV, &si), 0);
	CHECK(!si.is_vf && si.totalvfs == 0);
	CHECK_INT(quirks_sriov(&w->sr, "0000:09:00.0", &si), -ENOENT);
	CHECK_STR(quirks_sriov_boot_param("i915"), "i915.max_vfs=7 (i915-sriov-dkms)");
	CHECK(quirks_sriov_boot_param("nvme") == NULL);
}

TEST(sriov_pf_with_vfs_is_refused_and_nothing_written)
{
	struct world *w = world(NULL);

	CHECK_INT(handoff_prepare(&w->ops, 200), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: " PF " is an SR-IOV physical function with 2 VFs "
				    "enabled (driver nvme): binding it to vfio-pci would destroy them");
	CHECK_CONTAINS(w->cap.text, "echo 0 > /sys/bus/pci/devices/" PF "/sriov_numvfs");
	CHECK_STR(w->k.log, ""); /* not one write */
	CHECK_STR(fk_driver(&w->k, PF), "nvme");
	CHECK_STR(fk_driver(&w->k, VF0), "nvme");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/200.state"));
}

TEST(sriov_pf_without_vfs_is_handed_over)
{
	struct world *w = world("file " DEVS PF "/sriov_numvfs 0\n");

	CHECK_INT(handoff_prepare(&w->ops, 200), 0);
	CHECK_STR(fk_driver(&w->k, PF), "vfio-pci");
	CHECK_INT(handoff_release(&w->ops, 200), 0);
	CHECK_STR(fk_driver(&w->k, PF), "nvme");
}

TEST(sriov_vf_alone_goes_and_comes_back)
{
	struct world *w = world(NULL);

	CHECK_INT(handoff_prepare(&w->ops, 201), 0);
	CHECK_STR(fk_driver(&w->k, VF0), "vfio-pci");
	CHECK_STR(fk_driver(&w->k, VF1), "nvme"); /* its own group: the other VF stays */
	CHECK_STR(fk_driver(&w->k, PF), "nvme");
	CHECK_CONTAINS(w->cap.text, "IOMMU group 41 (" VF0 ") ready");
	CHECK_INT(handoff_release(&w->ops, 201), 0);
	CHECK_STR(fk_driver(&w->k, VF0), "nvme");
}

/* ---- reset_method --------------------------------------------------------------------------- */

TEST(reset_method_values)
{
	CHECK(quirks_reset_method_valid("device_specific"));
	CHECK(quirks_reset_method_valid("default"));
	CHECK(quirks_reset_method_valid("device_specific bus"));
	CHECK(!quirks_reset_method_valid(""));
	CHECK(!quirks_reset_method_valid("bus bus"));
	CHECK(!quirks_reset_method_valid("reboot"));
	CHECK(!quirks_reset_method_valid("flr;bus"));
	CHECK(!quirks_reset_method_valid("default flr"));
}

TEST(reset_method_set_for_the_vm_and_put_back)
{
	struct world *w = world(NULL);
	char buf[4096];

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	CHECK_INT(handoff_prepare(&w->ops, 203), 0);
	CHECK_STR(reset_method(w, AMD), "device_specific");
	CHECK_STR(fk_driver(&w->k, AMD), "vfio-pci");
	/* set before the bind: vfio-pci resets the card on first use */
	CHECK(strstr(w->k.log, "reset_method=device_specific") <
	      strstr(w->k.log, "driver_override=vfio-pci"));
	CHECK_CONTAINS(w->cap.text, AMD ": reset_method bus -> device_specific");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/203.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "reset " AMD " bus\n");
	/* a second pre-start keeps the true original */
	CHECK_INT(handoff_prepare(&w->ops, 203), 0);
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/203.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "reset " AMD " bus\n");
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 203), 0);
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
	CHECK_CONTAINS(w->cap.text, AMD ": reset_method restored (bus)");
}

TEST(reset_method_refused_by_the_kernel_rolls_back)
{
	struct world *w = world(NULL);

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	fk_fail(&w->k, "reset_method", 1, -EINVAL);
	CHECK(handoff_prepare(&w->ops, 203) < 0);
	CHECK_CONTAINS(w->cap.text, "E: " AMD ": the kernel refuses reset_method 'device_specific' "
				    "(the device has no such method: is vendor-reset loaded?); its "
				    "methods: bus");
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/203.state"));
}

TEST(reset_method_rollback_after_a_later_failure)
{
	struct world *w = world(NULL);

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	w->k.vfio_refuses = true;
	CHECK(handoff_prepare(&w->ops, 203) < 0);
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
}

/* A reset_method the rollback cannot put back counts (issue 26 item 5): named in the "still
 * changed" line, the host is left changed (pre-start exits 4), and the state file stays with
 * the original for the release that finishes the job. */
TEST(reset_method_restore_failing_in_rollback_is_left_changed)
{
	struct world *w = world(NULL);
	char buf[4096];

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	w->k.vfio_refuses = true;
	fk_fail(&w->k, "reset_method", 2, -EIO); /* the first is the set, the second the undo */
	CHECK(handoff_prepare(&w->ops, 203) < 0);
	CHECK(w->left_changed);
	CHECK_CONTAINS(w->cap.text, "E: " AMD ": cannot restore reset_method 'bus': Input/output "
				    "error");
	CHECK_CONTAINS(w->cap.text, "E: still changed: " AMD ": reset_method is not 'bus' again; "
				    "when the device is free, finish with: pve-gpu-passthrough "
				    "release 203");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
	CHECK_STR(reset_method(w, AMD), "device_specific");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/203.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "reset " AMD " bus\n");
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 203), 0);
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/203.state"));
}

/* At post-stop likewise: the release fails, and the state file keeps only the reset_method
 * still to put back (the devices are back); the next release finishes. */
TEST(reset_method_restore_failing_at_post_stop_is_kept)
{
	struct world *w = world(NULL);
	char buf[4096];

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	CHECK_INT(handoff_prepare(&w->ops, 203), 0);
	fk_fail(&w->k, "reset_method", 1, -EIO);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 203), -EIO);
	CHECK_CONTAINS(w->cap.text, "E: still changed: " AMD ": reset_method is not 'bus' again; ");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/203.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "reset " AMD " bus\n");
	CHECK(!strstr(buf, "device " AMD));
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 203), 0);
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK(!strstr(w->k.log, "unbind")); /* the devices were not touched again */
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/203.state"));
}

/* Killed right after the reset_method write: the state file already holds the original, so
 * post-stop puts it back. */
TEST(reset_method_killed_after_the_write_post_stop_restores)
{
	struct world *w = world(NULL);

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	ho_world_prepare_killed(w, "reset_method:1", 203);
	CHECK_STR(reset_method(w, AMD), "device_specific");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu"); /* killed before the bind */
	CHECK_INT(handoff_release(&w->ops, 203), 0);
	CHECK_STR(reset_method(w, AMD), "bus");
	CHECK_STR(fk_driver(&w->k, AMD), "amdgpu");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/203.state"));
}

TEST(reset_method_needs_the_attribute)
{
	struct world *w = world("rm " DEVS AMD "/reset_method\n");

	snprintf(cfg.hook.reset_method, sizeof(cfg.hook.reset_method), "device_specific");
	CHECK(handoff_prepare(&w->ops, 203) < 0);
	CHECK_CONTAINS(w->cap.text, "E: refusing: reset_method = device_specific is set for VM 203, "
				    "but " AMD " has no reset_method attribute");
	CHECK_STR(w->k.log, "");
}

/* ---- AMD generations, vendor-reset -------------------------------------------------------- */

TEST(amd_generation_table)
{
	const struct amd_generation *g;

	CHECK((g = quirks_amd_generation(0x1002, 0x67df)) != NULL);
	CHECK_STR(g->name, "Polaris 10");
	CHECK_INT(g->reset, AMD_RESET_VENDOR_RESET);
	CHECK_STR(quirks_amd_generation(0x1002, 0x687f)->name, "Vega 10");
	CHECK_STR(quirks_amd_generation(0x1002, 0x66af)->name, "Vega 20");
	CHECK_STR(quirks_amd_generation(0x1002, 0x738c)->name, "Vega 20"); /* MI100 */
	CHECK_STR(quirks_amd_generation(0x1002, 0x731f)->name, "Navi 10");
	CHECK_STR(quirks_amd_generation(0x1002, 0x7340)->name, "Navi 14");
	CHECK_STR(quirks_amd_generation(0x1002, 0x7362)->name, "Navi 12");
	/* holes in vendor-reset's list are not guessed into it */
	CHECK(quirks_amd_generation(0x1002, 0x67c3) == NULL);
	CHECK(quirks_amd_generation(0x1002, 0x7311) == NULL);
	g = quirks_amd_generation(0x1002, 0x73bf);
	CHECK(g && g->reset == AMD_RESET_NOT_COVERED);
	CHECK_STR(g->name, "Navi 21");
	CHECK_INT(quirks_amd_generation(0x1002, 0x744c)->reset, AMD_RESET_NOT_COVERED);
	CHECK(quirks_amd_generation(0x10de, 0x67df) == NULL);
}

TEST(vendor_reset_state_and_secure_boot)
{
	struct vendor_reset_state vr;
	struct world *w = world(NULL);

	CHECK_INT(quirks_secure_boot(&w->sr), 0);
	CHECK_INT(quirks_vendor_reset(&w->sr, &vr), 0);
	CHECK(!vr.loaded && !vr.file);

	w = world("file /proc/sys/kernel/osrelease 6.8.12-4-pve\n"
		  "kmod 6.8.12-4-pve module updates/dkms/vendor-reset.ko\n"
		  "rawfile /lib/modules/6.8.12-4-pve/updates/dkms/vendor-reset.ko "
		  "ELF...~Module signature appended~\\n\n"
		  "hexfile /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0a5d8c9e0b4 "
		  "06 00 00 00 01\n");
	CHECK_INT(quirks_secure_boot(&w->sr), 1);
	CHECK_INT(quirks_vendor_reset(&w->sr, &vr), 0);
	CHECK(!vr.loaded);
	CHECK(vr.file);
	CHECK_STR(vr.path, "/lib/modules/6.8.12-4-pve/updates/dkms/vendor-reset.ko");
	CHECK_INT(vr.file_signed, 1);

	w = world("file /proc/sys/kernel/osrelease 6.8.12-4-pve\n"
		  "kmod 6.8.12-4-pve module updates/dkms/vendor-reset.ko\n"
		  "rawfile /lib/modules/6.8.12-4-pve/updates/dkms/vendor-reset.ko ELF...\n"
		  "file /sys/module/vendor_reset/taint OE\n");
	CHECK_INT(quirks_vendor_reset(&w->sr, &vr), 0);
	CHECK(vr.loaded && vr.tainted);
	CHECK_INT(vr.file_signed, 0);
}

/* ---- NVIDIA (fake trees: the lab has no NVIDIA card) -------------------------------------- */

#define DAEMON "file /proc/4242/comm nvidia-persiste\n" \
	       "file /proc/4242/cgroup 0::/system.slice/nvidia-persistenced.service\n" \
	       "link /proc/4242/exe /usr/bin/nvidia-persistenced\n" \
	       "link /proc/4242/fd/3 /dev/nvidia0\n"
/* A user's processes that call themselves nvidia-persistenced: its own program in its
 * session's cgroup; the real program, but outside the unit; a cgroup path that only starts
 * like the unit's; the real program in the user's own ("systemctl --user") unit of that name. */
#define IMPOSTORS "file /proc/5000/comm nvidia-persistenced\n" \
		  "file /proc/5000/cgroup 0::/user.slice/user-1000.slice/session-3.scope\n" \
		  "link /proc/5000/exe /home/mallory/nvidia-persistenced\n" \
		  "file /proc/5001/comm nvidia-persiste\n" \
		  "file /proc/5001/cgroup 0::/user.slice/user-1000.slice/session-3.scope\n" \
		  "link /proc/5001/exe /usr/bin/nvidia-persistenced\n" \
		  "file /proc/5002/comm nvidia-persiste\n" \
		  "file /proc/5002/cgroup 0::/system.slice/nvidia-persistenced.service/../x.scope\n" \
		  "link /proc/5002/exe /tmp/nvidia-persistenced-x\n" \
		  "file /proc/5003/comm nvidia-persiste\n" \
		  "file /proc/5003/cgroup 0::/user.slice/user-1000.slice/user@1000.service/app.slice/nvidia-persistenced.service\n" \
		  "link /proc/5003/exe /usr/bin/nvidia-persistenced\n"

TEST(nvidia_daemon_found_by_comm_unit_and_program)
{
	struct world *w = world(DAEMON "file /proc/77/comm bash\n");

	CHECK_INT(quirks_nvidia_daemon(&w->sr), 4242);
	w = world("file /proc/77/comm bash\n");
	CHECK_INT(quirks_nvidia_daemon(&w->sr), 0);
	/* cgroup v1 (the systemd hierarchy line), and a program replaced while it runs */
	w = world("file /proc/4243/comm nvidia-persiste\n"
		  "file /proc/4243/cgroup 12:cpu:/\\n1:name=systemd:/system.slice/nvidia-persistenced.service\n"
		  "link /proc/4243/exe /usr/bin/nvidia-persistenced (deleted)\n");
	CHECK_INT(quirks_nvidia_daemon(&w->sr), 4243);
}

TEST(nvidia_daemon_impostors_are_not_it)
{
	struct world *w = world(IMPOSTORS);

	CHECK_INT(quirks_nvidia_daemon(&w->sr), 0);
	w = world(IMPOSTORS DAEMON);
	CHECK_INT(quirks_nvidia_daemon(&w->sr), 4242);
}

/* An impostor neither makes pre-start refuse nor, with nvidia_persistenced = stop, gets the
 * real daemon's unit stopped. */
TEST(nvidia_persistenced_impostor_changes_nothing)
{
	struct world *w = world(IMPOSTORS);

	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
	CHECK(!strstr(w->cap.text, "nvidia-persistenced"));
	CHECK_STR(fk_driver(&w->k, NV), "vfio-pci");
	CHECK_INT(handoff_release(&w->ops, 202), 0);
	w = world(IMPOSTORS);
	cfg.hook.persistenced_stop = true;
	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
	CHECK(!strstr(run_log.log, "systemctl"));
	CHECK_STR(fk_driver(&w->k, NV), "vfio-pci");
}

TEST(nvidia_persistenced_refused_by_default)
{
	struct world *w = world(DAEMON);

	CHECK_INT(handoff_prepare(&w->ops, 202), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: " NV " is kept initialised by nvidia-persistenced "
				    "(pid 4242)");
	CHECK_CONTAINS(w->cap.text, "Set nvidia_persistenced = stop");
	CHECK_STR(w->k.log, "");
	CHECK_STR(run_log.log, ""); /* nothing was run */
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
}

TEST(nvidia_persistenced_stopped_for_the_vm_and_started_after)
{
	struct world *w = world(DAEMON);
	char buf[4096];

	cfg.hook.persistenced_stop = true;
	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
	CHECK_STR(run_log.log, "/usr/bin/systemctl stop nvidia-persistenced.service\n");
	CHECK_STR(fk_driver(&w->k, NV), "vfio-pci");
	CHECK_CONTAINS(w->cap.text, "nvidia-persistenced (pid 4242) keeps the NVIDIA GPU initialised: "
				    "stopping it for the handoff");
	CHECK_CONTAINS(w->cap.text, "nvidia-persistenced stopped; it is started again when VM 202 "
				    "stops");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/202.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "persistenced 1\n");
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 202), 0);
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
	CHECK_STR(run_log.log, "/usr/bin/systemctl start nvidia-persistenced.service\n");
	CHECK_CONTAINS(w->cap.text, "nvidia-persistenced started again");
}

/* Killed after nvidia-persistenced was stopped (at the first driver_override write): the
 * state file says so, and post-stop starts it again. */
TEST(nvidia_persistenced_killed_midway_post_stop_starts_it)
{
	struct world *w = world(DAEMON);

	cfg.hook.persistenced_stop = true;
	ho_world_prepare_killed(w, "driver_override:1", 202);
	CHECK_INT(quirks_nvidia_daemon(&w->sr), 0); /* the child stopped it */
	run_log.log[0] = '\0';
	CHECK_INT(handoff_release(&w->ops, 202), 0);
	CHECK_STR(run_log.log, "/usr/bin/systemctl start nvidia-persistenced.service\n");
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
}

/* nvidia-persistenced that cannot be started again counts, in a rollback and at post-stop
 * (issue 26 item 5): named, left changed, its record kept for the release that finishes. */
TEST(nvidia_persistenced_restart_failing_is_left_changed)
{
	struct world *w = world(DAEMON);
	char buf[4096];

	cfg.hook.persistenced_stop = true;
	run_log.start_status = 1;
	w->k.vfio_refuses = true;
	CHECK(handoff_prepare(&w->ops, 202) < 0);
	CHECK(w->left_changed);
	CHECK_CONTAINS(w->cap.text, "E: cannot start nvidia-persistenced again");
	CHECK_CONTAINS(w->cap.text, "E: still changed: nvidia-persistenced is stopped; ");
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/202.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "persistenced 1\n");
	/* post-stop: still failing, still kept */
	w->k.vfio_refuses = false;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 202), -EIO);
	CHECK_CONTAINS(w->cap.text, "E: still changed: nvidia-persistenced is stopped; ");
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/202.state", buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "persistenced 1\n");
	run_log.start_status = 0;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 202), 0);
	CHECK_STR(run_log.log, "/usr/bin/systemctl start nvidia-persistenced.service\n");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/202.state"));
}

TEST(nvidia_persistenced_that_stays_is_a_rollback)
{
	struct world *w = world(DAEMON);

	cfg.hook.persistenced_stop = true;
	run_log.daemon_ignores_stop = true;
	CHECK(handoff_prepare(&w->ops, 202) < 0);
	CHECK_CONTAINS(w->cap.text, "E: nvidia-persistenced (pid 4242) is still running after "
				    "systemctl stop");
	CHECK_STR(run_log.log, "/usr/bin/systemctl stop nvidia-persistenced.service\n"
			       "/usr/bin/systemctl start nvidia-persistenced.service\n");
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
	CHECK(!sr_exists(&w->sr, "/run/pve-gpu-passthrough/202.state"));
}

TEST(nvidia_persistenced_dry_run_runs_nothing)
{
	struct world *w = world(DAEMON);

	cfg.hook.persistenced_stop = true;
	w->ops.dry_run = true;
	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
	CHECK_STR(run_log.log, "");
	CHECK_CONTAINS(w->cap.text, "would run systemctl stop nvidia-persistenced.service");
	CHECK_STR(fk_driver(&w->k, NV), "nvidia");
}

TEST(nvidia_persistence_mode_without_daemon_is_refused)
{
	struct world *w = world(NULL);

	run_log.persistence = "Enabled";
	CHECK_INT(handoff_prepare(&w->ops, 202), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: persistence mode is on for " NV);
	CHECK_CONTAINS(w->cap.text, "nvidia-smi -i " NV " -pm 0");
	CHECK_STR(run_log.log, "/usr/bin/nvidia-smi --query-gpu=persistence_mode "
			       "--format=csv,noheader -i " NV "\n");
	CHECK_STR(w->k.log, "");

	w = world(NULL);
	run_log.persistence = "Disabled";
	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
	CHECK_STR(fk_driver(&w->k, NV), "vfio-pci");
	/* no nvidia-smi: nothing to ask, the handoff goes on */
	w = world(NULL);
	CHECK_INT(handoff_prepare(&w->ops, 202), 0);
}

TEST(real_runner_refuses_below_a_test_root)
{
	struct world *w = world(NULL);
	const char *argv[] = { "/bin/true", NULL };
	char out[16];

	CHECK_INT(quirks_exec_real(&w->sr, argv, out, sizeof(out)), -EPERM);
}

/* ---- the state file, the INI ---------------------------------------------------------------- */

TEST(state_keeps_resets_and_the_daemon)
{
	struct handoff_state s, back;
	char buf[4096];

	memset(&s, 0, sizeof(s));
	s.vmid = 203;
	s.nresets = 2;
	strcpy(s.resets[0].name, AMD);
	strcpy(s.resets[0].method, "flr bus");
	strcpy(s.resets[1].name, NV);
	s.persistenced = true;
	CHECK(state_format(&s, buf, sizeof(buf)) > 0);
	CHECK_CONTAINS(buf, "reset " AMD " flr,bus\nreset " NV " -\npersistenced 1\n");
	CHECK_INT(state_parse(buf, &back), 0);
	CHECK_INT(back.nresets, 2);
	CHECK_STR(back.resets[0].method, "flr bus");
	CHECK_STR(back.resets[1].method, "");
	CHECK(back.persistenced);
	static const char *const bad[] = {
		"reset 0000:04:00.0 flr/../x\n", "reset 0000:4:0.0 flr\n", "reset 0000:04:00.0\n",
		"reset 0000:04:00.0 flr\nreset 0000:04:00.0 bus\n", "reset 0000:04:00.0 flr,,bus\n",
		"reset 0000:04:00.0 ,flr\n", "persistenced 2\n", "persistenced 1\npersistenced 1\n",
		"reset 0000:04:00.0 FLR\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "pve-gpu-passthrough-state 1\nvmid 203\n%s", bad[i]);
		if (state_parse(buf, &back) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
	}
}

TEST(config_keys_reset_method_and_persistenced)
{
	struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse("[hook]\nnvidia_persistenced = stop\n[vm:203]\nreset_method = "
			       "device_specific\n[vm:204]\nnvidia_persistenced = refuse\n",
			       "t.ini", &c, err, sizeof(err)), 0);
	CHECK(c.hook.persistenced_stop);
	CHECK_STR(c.hook.reset_method, "");
	CHECK_STR(cfg_hook_opts(&c, 203)->reset_method, "device_specific");
	CHECK(cfg_hook_opts(&c, 203)->persistenced_stop); /* inherited */
	CHECK(!cfg_hook_opts(&c, 204)->persistenced_stop);
	CHECK(cfg_parse("[vm:203]\nreset_method = reboot\n", "t.ini", &c, err, sizeof(err)) < 0);
	CHECK_STR(err, "t.ini:2: reset_method: 'reboot' is not 'default' or reset methods the kernel "
		       "knows (device_specific acpi flr af_flr pm bus cxl_bus)");
	CHECK(cfg_parse("[hook]\nnvidia_persistenced = kill\n", "t.ini", &c, err,
			   sizeof(err)) < 0);
	CHECK_STR(err, "t.ini:2: nvidia_persistenced: 'kill' is not 'refuse' or 'stop'");
}
