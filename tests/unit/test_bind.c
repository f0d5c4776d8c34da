/* test_bind.c - the bind engine and the hookscript's handoff on the fake kernel
 * (tests/fixture/fakekernel.c): a VM start that moves the GPU's group to vfio-pci and a stop
 * that gives it back, every refusal with nothing written, a rollback after a fault at each
 * step that leaves the host as it was, the give-back paths, and a kill point that stops the
 * program midway (what post-stop then restores). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "dev_bind.h"
#include "dev_lock.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "dev_handoff.h"
#include "harness.h"
#include "howorld.h"
#include "testlib.h"
#include "dev_reconcile.h"
#include "dev_state.h"
#include "pci_db.h"
#include "dev_state.h"
#include "pci_db.h"
#include "util.h"

#define GPU "0000:02:00.0"
#define AUDIO "0000:02:00.1"

static const char *base_spec = SEED_HOST_SPEC;

static struct cfg cfg = { .hook = {
	.unbind_timeout_ms = 1000, .bind_timeout_ms = 100, .release_timeout_ms = 100,
	.return_on_stop = true, .holders_refuse = true,
} };

/* A fake host from base_spec plus EXTRA, with the fake kernel at its write point. */
static struct world *world(const char *extra)
{
	return ho_world(base_spec, extra, &cfg, NULL);
}

static void put_file(const char *rel, const char *data, size_t len);

static void reset_log(struct world *w)
{
	ho_world_reset_log(w);
}

static bool exists(const char *rel)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", test_tmpdir(), rel);
	return lstat(p, &st) == 0;
}

static void text(struct world *w, const char *path, char *buf, size_t size)
{
	if (sr_read_str(&w->sr, path, buf, size) < 0)
		snprintf(buf, size, "(unreadable)");
}

static const char *text_of(struct world *w, const char *path)
{
	static char buf[256];

	text(w, path, buf, sizeof(buf));
	return buf;
}

/* Everything a handoff changes, as one string: equal strings, equal hosts. */
static void snapshot(struct world *w, char *out, size_t size)
{
	char vt[16], gpu_ov[64], audio_ov[64];

	text(w, "/sys/class/vtconsole/vtcon1/bind", vt, sizeof(vt));
	snprintf(gpu_ov, sizeof(gpu_ov), "%s", fk_override(&w->k, GPU));
	snprintf(audio_ov, sizeof(audio_ov), "%s", fk_override(&w->k, AUDIO));
	snprintf(out, size, "gpu=%s/%s ", fk_driver(&w->k, GPU), gpu_ov);
	snprintf(out + strlen(out), size - strlen(out), "audio=%s/%s vtcon1=%s efifb=%d state=%d "
		 "vfio29=%d", fk_driver(&w->k, AUDIO), audio_ov, vt,
		 exists("/sys/devices/platform/efi-framebuffer.0/driver"),
		 exists("/run/pve-gpu-passthrough/100.state"), exists("/dev/vfio/29"));
}

static const char *host_before =
	"gpu=nouveau/ audio=snd_hda_intel/ vtcon1=1 efifb=1 state=0 vfio29=0";

TEST(handoff_moves_the_group_and_gives_it_back)
{
	struct world *w = world(NULL);
	char snap[512];

	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, "gpu=vfio-pci/vfio-pci audio=vfio-pci/vfio-pci vtcon1=0 efifb=0 state=1 "
			"vfio29=1");
	/* the order the engine promises: consoles, overrides, then each device unbound and
	 * probed (vfio-pci is registered, so nothing binds before the probe) */
	CHECK_STR(w->k.log, "/sys/class/vtconsole/vtcon1/bind=0\n"
			    "/sys/bus/platform/drivers/efi-framebuffer/unbind=efi-framebuffer.0\n"
			    "/sys/bus/pci/devices/0000:02:00.0/driver_override=vfio-pci\n"
			    "/sys/bus/pci/devices/0000:02:00.1/driver_override=vfio-pci\n"
			    "/sys/bus/pci/drivers/nouveau/unbind=0000:02:00.0\n"
			    "/sys/bus/pci/drivers_probe=0000:02:00.0\n"
			    "/sys/bus/pci/drivers/snd_hda_intel/unbind=0000:02:00.1\n"
			    "/sys/bus/pci/drivers_probe=0000:02:00.1\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0 10de:0fc6: nouveau -> vfio-pci\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1 10de:0e1b: snd_hda_intel -> vfio-pci\n");
	CHECK_CONTAINS(w->cap.text, "IOMMU group 29 (0000:02:00.0 0000:02:00.1) ready");
	CHECK(!strstr(w->cap.text, "E: "));

	/* QEMU starts; Proxmox's own binder adds the ids to vfio-pci's table */
	reset_log(w);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "10de 0fc6"), 0);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
	/* without remove_id the probe would have put the GPU straight back on vfio-pci */
	CHECK_CONTAINS(w->k.log, "/sys/bus/pci/drivers/vfio-pci/remove_id=10de 0fc6\n"
				 "/sys/bus/pci/devices/0000:02:00.0/driver_override=\\n\n"
				 "/sys/bus/pci/drivers/vfio-pci/unbind=0000:02:00.0\n"
				 "/sys/bus/pci/drivers_probe=0000:02:00.0\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci -> nouveau");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1: vfio-pci -> snd_hda_intel");
	CHECK_CONTAINS(w->cap.text, "firmware framebuffer efi-framebuffer.0 restored");
	CHECK_CONTAINS(w->cap.text, "vtcon1 (framebuffer console) restored");
}

TEST(handoff_twice_is_a_no_op)
{
	struct world *w = world(NULL);
	char snap[512];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	reset_log(w);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(w->k.log, ""); /* already there: nothing written */
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0 10de:0fc6: already on vfio-pci");
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

TEST(every_refusal_writes_nothing)
{
	static const struct {
		const char *extra, *says;
		int vmid;
	} cases[] = {
		{ "", "backs /", 101 },
		{ "file /etc/pve/qemu-server/103.conf hostpci0: 0000:03:00.0\n"
		  "pci 0000:03:00.0 vendor=10de device=1049 class=030000\n",
		  "0000:03:00.0 has no IOMMU group", 103 },
		{ "link /proc/4711/fd/7 /dev/dri/card0\nfile /proc/4711/comm Xorg\n",
		  "in use on the host by 4711 (Xorg)", 100 },
		{ "file /dev/vfio/29 node\nlink /proc/555/fd/30 /dev/vfio/29\nfile /proc/555/comm kvm\n",
		  "IOMMU group 29 is open by 555 (kvm)", 100 },
		{ "file /run/qemu-server/pci-id-reservations 0000:02:00.1 105 time:9999999999\n",
		  "reserved by running VM 105", 100 },
		{ "file /run/pve-gpu-passthrough/106.state pve-gpu-passthrough-state 1\\nvmid 106\\n"
		  "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n",
		  "was handed over for VM 106", 100 },
		{ "rm /sys/module/vfio_iommu_type1\n", "vfio_iommu_type1 cannot be loaded", 100 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world *w = world(cases[i].extra);
		char snap[512], before[512];

		snapshot(w, before, sizeof(before)); /* host_before, but for another QEMU's node */
		CHECK(handoff_prepare(&w->ops, cases[i].vmid) < 0);
		CHECK_CONTAINS(w->cap.text, cases[i].says);
		CHECK_STR(w->k.log, "");
		snapshot(w, snap, sizeof(snap));
		CHECK_STR(snap, before);
	}
}

/* A fault at one step of the VM start: the start fails, and everything is undone. */
static void rollback_after(const char *step, unsigned nth, int err, const char *says)
{
	struct world *w = world(NULL);
	char snap[512];

	fk_fail(&w->k, step, nth, err);
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, says);
	CHECK_CONTAINS(w->cap.text, "W: undoing the handoff of VM 100");
	CHECK(!w->left_changed);
	CHECK(!strstr(w->cap.text, "still changed"));
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

TEST(rollback_at_each_step)
{
	rollback_after("bind", 1, -EIO, "cannot unbind framebuffer console vtcon1");
	rollback_after("unbind", 1, -EIO, "cannot release firmware framebuffer efi-framebuffer.0");
	rollback_after("driver_override", 1, -EINVAL, "0000:02:00.0: cannot set driver_override");
	rollback_after("driver_override", 2, -EINVAL, "0000:02:00.1: cannot set driver_override");
	rollback_after("unbind", 2, -EIO, "0000:02:00.0: cannot unbind from nouveau");
	rollback_after("drivers_probe", 1, -EIO, "0000:02:00.0: drivers_probe failed");
	rollback_after("unbind", 3, -EIO, "0000:02:00.1: cannot unbind from snd_hda_intel");
	rollback_after("drivers_probe", 2, -EIO, "0000:02:00.1: drivers_probe failed");
}

TEST(rollback_when_vfio_pci_does_not_bind)
{
	struct world *w = world(NULL);
	char snap[512];

	w->k.vfio_refuses = true;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci did not bind within 100 ms (now: no "
				    "driver); see dmesg");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: no driver -> nouveau");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

static int prove_fails(const struct sysroot *sr, int group, const char *const *devs, int ndev,
		       unsigned flags, struct vfio_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->bad_dev = rep->bad_bar = -1;
	rep->stage = "type1 iommu";
	return -ENODEV;
}

/* A give-back that fails during the rollback: the run says which member is left where and the
 * one command that finishes, keeps the state file for it, and that command converges. */
TEST(rollback_that_cannot_finish_names_what_is_left)
{
	struct world *w = world(NULL);
	char snap[512];

	w->ops.prove = prove_fails;
	fk_fail(&w->k, "drivers_probe", 3, -EIO); /* the rollback's first probe: the audio */
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK(w->left_changed);
	CHECK_CONTAINS(w->cap.text, "E: 0000:02:00.1: drivers_probe failed: Input/output error");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci -> nouveau");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.1 on no driver, not "
				    "snd_hda_intel; when the device is free, finish with: "
				    "pve-gpu-passthrough release 100\n");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	w->ops.prove = fk_prove;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1: no driver -> snd_hda_intel");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: back on nouveau");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* Post-stop checks the removal of Proxmox's dynamic id: a failure keeps the device on
 * vfio-pci (a probe would hand it straight back) with the real errno; an id vfio-pci does not
 * have is no failure. */
TEST(release_checks_the_dynamic_id_removal)
{
	struct world *w = world(NULL);
	char snap[512];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/vfio-pci/new_id", "10de 0fc6"), 0);
	fk_fail(&w->k, "remove_id", 1, -EACCES);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -EACCES);
	CHECK_CONTAINS(w->cap.text, "E: 0000:02:00.0: cannot remove the dynamic id 10de:0fc6 from "
				    "vfio-pci: Permission denied (it would take the device again); "
				    "not giving it back");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1: vfio-pci -> snd_hda_intel");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.0 on vfio-pci, not nouveau;");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* A state file as the handoff before its step table wrote it (every record kind, written by
 * hand here, not by state_format): it still loads, formats back to the same text, and a
 * release from it gives the devices and the console back. */
TEST(state_file_in_todays_format_still_loads)
{
	static const char *full =
		"pve-gpu-passthrough-state 1\n"
		"vmid 100\n"
		"device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n"
		"device 0000:02:00.1 group 29 id 10de:0e1b driver snd_hda_intel override - vfio 0\n"
		"vtcon 1\n"
		"fb efi-framebuffer.0 efi-framebuffer\n"
		"con2fb 0000:02:00.0 3\n"
		"vgacon 0000:02:00.0\n"
		"reset 0000:02:00.0 flr,bus\n"
		"persistenced 1\n";
	static const char *ours =
		"pve-gpu-passthrough-state 1\n"
		"vmid 100\n"
		"device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n"
		"device 0000:02:00.1 group 29 id 10de:0e1b driver snd_hda_intel override - vfio 0\n"
		"vtcon 1\n"
		"fb efi-framebuffer.0 efi-framebuffer\n";
	struct handoff_state st;
	struct world *w = world(NULL);
	char buf[4096], snap[512];

	CHECK_INT(state_parse(full, &st), 0);
	CHECK_INT(st.ndevs, 2);
	CHECK_STR(st.resets[0].method, "flr bus");
	CHECK(st.persistenced && st.con_mask == 3 && st.nvtcons == 1 && st.nfbs == 1);
	CHECK(state_format(&st, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, full);
	/* the release of a pre-start that wrote it */
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	put_file("/run/pve-gpu-passthrough/100.state", ours, strlen(ours));
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci -> nouveau\n");
	CHECK_CONTAINS(w->cap.text, "vtcon1 (framebuffer console) restored");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* A "still changed" line says what is left: a device already back on its own driver whose
 * driver_override could not be cleared is named with that override, not as "on X, not X". */
TEST(still_changed_names_a_driver_override_left)
{
	struct world *w = world(NULL);
	char snap[512];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	/* the audio function is back on its own driver meanwhile, its override still vfio-pci */
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/devices/" AUDIO "/driver_override", "\n"), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/vfio-pci/unbind", AUDIO), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/snd_hda_intel/bind", AUDIO), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/devices/" AUDIO "/driver_override", "vfio-pci"),
		  0);
	fk_fail(&w->k, "driver_override", 2, -EIO); /* the release's second: the audio's */
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -EIO);
	CHECK_CONTAINS(w->cap.text, "E: 0000:02:00.1: cannot restore driver_override: "
				    "Input/output error");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.1 on snd_hda_intel, "
				    "driver_override still vfio-pci; when the device is free");
	CHECK(!strstr(w->cap.text, "on snd_hda_intel, not snd_hda_intel"));
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* A state file that cannot be rewritten is an error with its path and errno. */
TEST(release_reports_a_state_file_it_cannot_update)
{
	struct world *w = world(NULL);
	char tmp[700];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_INT(fakesys_build(test_tmpdir(),
				"link /proc/777/fd/30 /dev/vfio/29\nfile /proc/777/comm kvm\n", NULL),
		  0);
	/* the atomic write's temporary name is taken */
	snprintf(tmp, sizeof(tmp), "%s/run/pve-gpu-passthrough/100.state.tmp.%d", test_tmpdir(),
		 (int)getpid());
	CHECK_INT(mkdir(tmp, 0700), 0);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: cannot update the state file "
				    "/run/pve-gpu-passthrough/100.state: File exists");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.0 on vfio-pci (its group is "
				    "open); 0000:02:00.1 on vfio-pci (its group is open); when the "
				    "device is free, finish with: pve-gpu-passthrough release 100");
}

TEST(rollback_when_the_group_is_not_usable)
{
	struct world *w = world(NULL);
	char snap[512];

	w->ops.prove = prove_fails;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, "IOMMU group 29 (0000:02:00.0 0000:02:00.1) is not usable "
				    "through VFIO: type1 iommu");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

TEST(rollback_keeps_an_earlier_state_file)
{
	struct world *w = world(NULL);
	char before[4096], after[4096];

	/* a first start moved the group; a second start of the same VM fails at the proof */
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/100.state", before, sizeof(before)) > 0);
	w->ops.prove = prove_fails;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK(sr_read(&w->sr, "/run/pve-gpu-passthrough/100.state", after, sizeof(after)) > 0);
	CHECK_STR(after, before);
}

TEST(give_back_leaves_a_device_another_driver_took)
{
	struct world *w = world(NULL);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	/* meanwhile the admin moved the audio function to another driver */
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/vfio-pci/unbind", AUDIO), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/devices/" AUDIO "/driver_override", "\n"), 0);
	CHECK_INT(fakesys_build(test_tmpdir(), "pci 0000:09:00.0 driver=pci-stub\n", NULL), 0);
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/drivers/pci-stub/new_id", "10de 0e1b"), 0);
	CHECK_STR(fk_driver(&w->k, AUDIO), "pci-stub");
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "W: 0000:02:00.1: now on pci-stub; leaving it there");
	CHECK_STR(fk_driver(&w->k, AUDIO), "pci-stub");
	CHECK_STR(fk_driver(&w->k, GPU), "nouveau");
}

TEST(give_back_reports_a_driver_that_does_not_take_it)
{
	struct world *w = world(NULL);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	w->k.host_refuses = true;
	/* the real errno, not a generic EIO */
	CHECK_INT(handoff_release(&w->ops, 100), -ETIMEDOUT);
	CHECK_CONTAINS(w->cap.text, "E: 0000:02:00.0: nouveau did not take it back within 100 ms "
				    "(now: no driver); see dmesg");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.0 on no driver, not nouveau; "
				    "0000:02:00.1 on no driver, not snd_hda_intel; when the device "
				    "is free, finish with: pve-gpu-passthrough release 100\n");
	CHECK_STR(fk_override(&w->k, GPU), ""); /* the kernel may still find it a driver */
	/* the state file keeps the device that is not back (and the consoles) for that release */
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	CHECK_STR(text_of(w, "/sys/class/vtconsole/vtcon1/bind"), "0");
	w->k.host_refuses = false;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: no driver -> nouveau");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1: no driver -> snd_hda_intel");
	{
		char snap[512];

		snapshot(w, snap, sizeof(snap));
		CHECK_STR(snap, host_before);
	}
}

/* QEMU still holds the group: /dev/vfio/29, or (a QEMU using iommufd) a member's
 * /dev/vfio/devices/vfioN. Post-stop waits for it and leaves the group to a later release. */
TEST(give_back_waits_while_the_group_is_open)
{
	static const char *const held[] = {
		"link /proc/777/fd/30 /dev/vfio/29\nfile /proc/777/comm kvm\n",
		"dir /sys/bus/pci/devices/" GPU "/vfio-dev/vfio3\nfile /dev/vfio/devices/vfio3 node\n"
		"link /proc/777/fd/31 /dev/vfio/devices/vfio3\nlink /proc/777/fd/30 /dev/iommu\n"
		"file /proc/777/comm kvm\n",
	};

	for (size_t c = 0; c < ARRAY_SIZE(held); c++) {
		struct world *w = world(NULL);

		CHECK_INT(handoff_prepare(&w->ops, 100), 0);
		CHECK_INT(fakesys_build(test_tmpdir(), held[c], NULL), 0);
		reset_log(w);
		CHECK(handoff_release(&w->ops, 100) < 0);
		CHECK_CONTAINS(w->cap.text, "IOMMU group 29 is still open by 777 (kvm)");
		CHECK_STR(w->k.log, "");
		CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
		CHECK(exists("/run/pve-gpu-passthrough/100.state")); /* for a later release */
	}
}

/* Waits (up to 10 s) until the blocked unbind child, let go by our opening the FIFO for
 * reading, has written its value into it. */
static bool child_wrote(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];

	return poll(&p, 1, 10000) == 1 && read(fd, buf, sizeof(buf)) > 0;
}

TEST(unbind_that_hangs_times_out)
{
	struct world *w = world(NULL);
	char fifo[600];
	int fd;

	/* nouveau's remove blocks (a client holds the GPU): the write never returns */
	snprintf(fifo, sizeof(fifo), "%s/sys/bus/pci/drivers/nouveau/unbind", test_tmpdir());
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	cfg.hook.unbind_timeout_ms = 200;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	cfg.hook.unbind_timeout_ms = 1000;
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: nouveau did not let go within 200 ms");
	CHECK_STR(fk_override(&w->k, GPU), "vfio-pci"); /* left alone while nouveau hangs */
	CHECK_STR(fk_override(&w->k, AUDIO), "");       /* rolled back */
	/* let the blocked child go; then release finishes the job */
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(child_wrote(fd)); /* its write went through: the child is done */
	close(fd);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	{
		char snap[512];

		snapshot(w, snap, sizeof(snap));
		CHECK_STR(snap, host_before);
	}
}

/* The child stuck in the unbind write outlives the failed pre-start: it must hold none of the
 * hook's device locks, or every later hook for the device would be refused while it hangs. */
TEST(stuck_unbind_child_holds_no_device_lock)
{
	struct world *w = world(NULL);
	char fifo[600];
	pid_t holder;
	int fd, lock;

	snprintf(fifo, sizeof(fifo), "%s/sys/bus/pci/drivers/nouveau/unbind", test_tmpdir());
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	cfg.hook.unbind_timeout_ms = 200;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	cfg.hook.unbind_timeout_ms = 1000;
	/* not undone: the driver still has the device; the state file stays for release */
	CHECK(w->left_changed);
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.0: nouveau has not let go (its "
				    "unbind did not return; driver_override stays vfio-pci); when "
				    "the device is free, finish with: pve-gpu-passthrough release "
				    "100\n");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	CHECK_STR(fk_override(&w->k, GPU), "vfio-pci"); /* not touched while its driver hangs */
	CHECK_STR(fk_override(&w->k, AUDIO), "");        /* the other member is given back */
	/* the child is still blocked in open() of the FIFO: the locks must be free */
	lock = devlock_take(&w->sr, GPU, &holder);
	CHECK(lock >= 0);
	close(lock);
	lock = devlock_take(&w->sr, AUDIO, &holder);
	CHECK(lock >= 0);
	close(lock);
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(child_wrote(fd)); /* its write went through: the child is done */
	close(fd);
}

/* After such an unbind, reading the device's driver_override waits on the device lock the
 * stuck driver holds (before Linux 6.19): list, check and report read it with a deadline once a
 * state file records the device as stuck, and read every other device as before. */
TEST(list_reads_a_stuck_devices_override_with_a_deadline)
{
	struct world *w = world(NULL);
	const struct pci_dev_info *gpu, *audio;
	char fifo[600], ovr[600];
	struct pcidb *db = NULL;
	int fd, wfd;

	snprintf(fifo, sizeof(fifo), "%s/sys/bus/pci/drivers/nouveau/unbind", test_tmpdir());
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	cfg.hook.unbind_timeout_ms = 200;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	cfg.hook.unbind_timeout_ms = 1000;
	/* the kernel's stand-in: the override's read blocks (a FIFO with no writer) */
	snprintf(ovr, sizeof(ovr), "%s/sys/bus/pci/devices/" GPU "/driver_override",
		 test_tmpdir());
	CHECK_INT(unlink(ovr), 0);
	CHECK_INT(mkfifo(ovr, 0600), 0);
	CHECK_INT(state_pcidb_load(&w->sr, &db), 0);
	gpu = pcidb_find(db, GPU);
	audio = pcidb_find(db, AUDIO);
	CHECK(gpu && audio);
	CHECK(gpu->override_unknown);
	CHECK_STR(gpu->override, "");
	CHECK(!audio->override_unknown);
	CHECK_STR(gpu->driver, "nouveau");
	pcidb_free(db);
	/* let the two blocked children go: the override's reader, then the unbind's writer */
	wfd = open(ovr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(wfd >= 0);
	close(wfd);
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(child_wrote(fd));
	close(fd);
}

TEST(dry_run_writes_nothing_on_the_kernel)
{
	struct world *w = world(NULL);
	char snap[512];

	w->ops.dry_run = true;
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(w->k.log, "");
	CHECK_CONTAINS(w->cap.text, "would write 'vfio-pci' to "
				    "/sys/bus/pci/devices/0000:02:00.0/driver_override");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0 10de:0fc6: nouveau -> vfio-pci (dry run)");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* The program is killed right after the GPU was unbound (a kill point): the state file it
 * wrote first lets post-stop put the host back. */
TEST(killed_midway_post_stop_restores)
{
	struct world *w = world(NULL);
	char snap[512];

	ho_world_prepare_killed(w, "unbind:2", 100);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, "gpu=/vfio-pci audio=snd_hda_intel/vfio-pci vtcon1=0 efifb=0 state=1 "
			"vfio29=0");
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

TEST(kill_point_spec)
{
	struct sr_write_point wp = { 0 };

	CHECK_INT(sr_kill_point_parse(&wp, "drivers_probe:3"), 0);
	CHECK_STR(wp.kill_step, "drivers_probe");
	CHECK_INT(wp.kill_nth, 3);
	CHECK_INT(sr_kill_point_parse(&wp, "unbind"), 0);
	CHECK_INT(wp.kill_nth, 1);
	CHECK_INT(sr_kill_point_parse(&wp, NULL), 0);
	CHECK_STR(wp.kill_step, "");
	CHECK_INT(sr_kill_point_parse(&wp, "unbind:0"), -EINVAL);
	CHECK_INT(sr_kill_point_parse(&wp, ":2"), -EINVAL);
	CHECK_INT(sr_kill_point_parse(&wp, "a/b"), -EINVAL);
	CHECK_INT(sr_kill_point_parse(&wp, "unbind:x"), -EINVAL);
}

TEST(one_list_of_vfio_modules)
{
	const char *missing = NULL;
	struct world *w = world(NULL);

	CHECK_INT(bind_nvfio_modules, 3);
	CHECK_INT(bind_vfio_available(&w->sr, &missing), 1);
	CHECK_INT(fakesys_build(test_tmpdir(), "rm /sys/module/vfio_iommu_type1\n", NULL), 0);
	CHECK_INT(bind_vfio_available(&w->sr, &missing), 0);
	CHECK_STR(missing, "vfio_iommu_type1");
}

/* Post-stop's lock: another hook holding a device is named with its pid; any other lock error
 * is reported as that error (it used to read "another hook (pid 0)"). */
TEST(release_names_the_lock_holder)
{
	struct world *w = world(NULL);
	char want[128];
	int up[2], down[2], status; /* child -> parent, parent -> child */
	pid_t pid;

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_INT(pipe(up), 0);
	CHECK_INT(pipe(down), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pid_t holder;
		char c;
		int fd = devlock_take(&w->sr, GPU, &holder);

		(void)!write(up[1], fd >= 0 ? "y" : "n", 1);
		(void)!read(down[0], &c, 1); /* until the parent is done */
		_exit(0);
	}
	{
		char c = 0;

		CHECK_INT(read(up[0], &c, 1), 1);
		CHECK(c == 'y');
	}
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -EBUSY);
	snprintf(want, sizeof(want), "E: %s is being handed over by another hook (pid %d); not "
		 "giving it back now", GPU, (int)pid);
	CHECK_CONTAINS(w->cap.text, want);
	CHECK_STR(w->k.log, "");
	(void)!write(down[1], "x", 1);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	/* a lock that cannot be taken at all says why */
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/run/pve-gpu-passthrough/lock' && : >'%s/run/"
			 "pve-gpu-passthrough/lock'", test_tmpdir(), test_tmpdir());
		CHECK_INT(system(cmd), 0);
	}
	reset_log(w);
	CHECK(handoff_release(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, "E: cannot lock 0000:02:00.0: ");
	CHECK(!strstr(w->cap.text, "pid 0"));
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
}

/* The hook program itself, stopped by PGP_TEST_KILL_POINT right after its first
 * driver_override write; post-stop then puts the override back. */
static int run_hook(const char *kill, const char *phase, int *sig)
{
	char self[PATH_MAX], hook[PATH_MAX + 64], out[600];
	int status;
	pid_t pid;

	CHECK(realpath(test_program(), self) != NULL);
	*strrchr(self, '/') = '\0'; /* BUILD/tests */
	snprintf(hook, sizeof(hook), "%s/../pve-gpu-passthrough-hook", self);
	if (access(hook, X_OK) != 0)
		test_fail(__FILE__, __LINE__, "%s is not built", hook);
	snprintf(out, sizeof(out), "%s/hook.out", test_tmpdir());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		if (kill)
			setenv("PGP_TEST_KILL_POINT", kill, 1);
		else
			unsetenv("PGP_TEST_KILL_POINT");
		execl(hook, hook, "--sysroot", test_tmpdir(), "--node", "pve", "100", phase,
		      (char *)NULL);
		_exit(127);
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(hook_program_stops_at_its_kill_point)
{
	char buf[64];
	int sig;

	CHECK_INT(fakesys_build(test_tmpdir(), base_spec, NULL), 0);
	struct sysroot sr;
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(run_hook("driver_override", "pre-start", &sig), -1);
	CHECK_INT(sig, SIGKILL);
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	CHECK(sr_read_str(&sr, "/sys/bus/pci/devices/" GPU "/driver_override", buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "vfio-pci");
	CHECK(sr_read_str(&sr, "/sys/bus/pci/devices/" AUDIO "/driver_override", buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "(null)"); /* it never got there */
	CHECK_INT(run_hook(NULL, "post-stop", &sig), 0);
	CHECK_INT(sig, 0);
	CHECK(!exists("/run/pve-gpu-passthrough/100.state"));
	CHECK_INT(sr_read_str(&sr, "/sys/class/vtconsole/vtcon1/bind", buf, sizeof(buf)), 1);
	CHECK_STR(buf, "1");
	CHECK_INT(run_hook("no/such", "pre-start", &sig), 64); /* a malformed kill point: usage */
	sr_close(&sr);
}

/* ---- several cards: every IOMMU group at the same time ------------------------------------ */

#define GPU2 "0000:03:00.0"
#define AUDIO2 "0000:03:00.1"
#define GPU3 "0000:04:00.0"
#define AUDIO3 "0000:04:00.1"

/* Two more cards, each with its audio function in its own group, and a VM with all three. */
static const char *three_cards =
	"pci 0000:00:02.0 vendor=8086 device=2f04 class=060400 bridge=1 group=2 driver=pcieport\n"
	"pci 0000:03:00.0 vendor=10de device=1db6 class=030200 driver=nouveau group=30 "
	"parent=0000:00:02.0\n"
	"pci 0000:03:00.1 vendor=10de device=10f0 class=040300 driver=snd_hda_intel group=30 "
	"parent=0000:00:02.0\n"
	"pci 0000:00:03.0 vendor=8086 device=2f08 class=060400 bridge=1 group=3 driver=pcieport\n"
	"pci 0000:04:00.0 vendor=10de device=1db6 class=030200 driver=nouveau group=31 "
	"parent=0000:00:03.0\n"
	"pci 0000:04:00.1 vendor=10de device=10f0 class=040300 driver=snd_hda_intel group=31 "
	"parent=0000:00:03.0\n"
	"file /etc/pve/qemu-server/104.conf hostpci0: 0000:02:00,pcie=1,x-vga=1\\n"
	"hostpci1: 0000:03:00,pcie=1\\nhostpci2: 0000:04:00,pcie=1\n";

static const char *const cards[] = { GPU, AUDIO, GPU2, AUDIO2, GPU3, AUDIO3 };

/* Every device's driver/override, the group nodes and the state file of VM 104. */
static void snapshot3(struct world *w, char *out, size_t size)
{
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cards); i++) {
		char ov[64];

		snprintf(ov, sizeof(ov), "%s", fk_override(&w->k, cards[i]));
		len += (size_t)snprintf(out + len, size - len, "%s=%s/%s ", cards[i] + 5,
					fk_driver(&w->k, cards[i]), ov);
	}
	snprintf(out + len, size - len, "vfio=%d%d%d state=%d", exists("/dev/vfio/29"),
		 exists("/dev/vfio/30"), exists("/dev/vfio/31"),
		 exists("/run/pve-gpu-passthrough/104.state"));
}

static const char *host3 =
	"02:00.0=nouveau/ 02:00.1=snd_hda_intel/ 03:00.0=nouveau/ 03:00.1=snd_hda_intel/ "
	"04:00.0=nouveau/ 04:00.1=snd_hda_intel/ vfio=000 state=0";

/* Each needle appears in TEXT, each after the one before. */
static void in_order(const char *text, const char *const *needles, int n)
{
	const char *at = text;

	for (int i = 0; i < n; i++) {
		const char *p = strstr(at, needles[i]);

		if (!p)
			test_fail(__FILE__, __LINE__, "\"%s\" missing or out of order in:\n%s",
				  needles[i], text);
		at = p + strlen(needles[i]);
	}
}

/* The three groups' unbinds are in the kernel at the same time (the fake kernel holds each
 * until three are in flight: one group after the other can never get there), and the log
 * still reads group by group. */
TEST(groups_are_handed_over_at_the_same_time)
{
	static const char *const pre[] = {
		"0000:02:00.0 10de:0fc6: nouveau -> vfio-pci\n",
		"0000:02:00.1 10de:0e1b: snd_hda_intel -> vfio-pci\n",
		"IOMMU group 29 (0000:02:00.0 0000:02:00.1) ready",
		"0000:03:00.0 10de:1db6: nouveau -> vfio-pci\n",
		"0000:03:00.1 10de:10f0: snd_hda_intel -> vfio-pci\n",
		"IOMMU group 30 (0000:03:00.0 0000:03:00.1) ready",
		"0000:04:00.0 10de:1db6: nouveau -> vfio-pci\n",
		"0000:04:00.1 10de:10f0: snd_hda_intel -> vfio-pci\n",
		"IOMMU group 31 (0000:04:00.0 0000:04:00.1) ready",
	};
	static const char *const post[] = {
		"0000:02:00.0: vfio-pci -> nouveau\n",  "0000:02:00.1: vfio-pci -> snd_hda_intel\n",
		"0000:03:00.0: vfio-pci -> nouveau\n",  "0000:03:00.1: vfio-pci -> snd_hda_intel\n",
		"0000:04:00.0: vfio-pci -> nouveau\n",  "0000:04:00.1: vfio-pci -> snd_hda_intel\n",
		"vtcon1 (framebuffer console) restored",
	};
	struct world *w = world(three_cards);
	char snap[512];

	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, host3);
	w->k.unbind_meet = 3;
	CHECK_INT(handoff_prepare(&w->ops, 104), 0);
	CHECK(w->k.met);
	CHECK(w->k.max_inflight >= 3);
	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, "02:00.0=vfio-pci/vfio-pci 02:00.1=vfio-pci/vfio-pci "
			"03:00.0=vfio-pci/vfio-pci 03:00.1=vfio-pci/vfio-pci "
			"04:00.0=vfio-pci/vfio-pci 04:00.1=vfio-pci/vfio-pci vfio=111 state=1");
	in_order(w->cap.text, pre, (int)ARRAY_SIZE(pre));
	CHECK(!strstr(w->cap.text, "E: "));

	reset_log(w);
	w->k.met = false; /* vfio-pci's unbinds meet likewise at the stop */
	CHECK_INT(handoff_release(&w->ops, 104), 0);
	CHECK(w->k.met);
	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, host3);
	in_order(w->cap.text, post, (int)ARRAY_SIZE(post));
	CHECK(!strstr(w->cap.text, "E: ") && !strstr(w->cap.text, "W: "));
}

/* The first group is the slowest: it finishes last, and its lines still come first. */
TEST(log_order_does_not_follow_completion)
{
	static const char *const pre[] = {
		"0000:02:00.1 10de:0e1b: snd_hda_intel -> vfio-pci\n",
		"IOMMU group 29 (0000:02:00.0 0000:02:00.1) ready",
		"0000:03:00.0 10de:1db6: nouveau -> vfio-pci\n",
		"IOMMU group 30 (0000:03:00.0 0000:03:00.1) ready",
		"IOMMU group 31 (0000:04:00.0 0000:04:00.1) ready",
	};
	struct world *w = world(three_cards);
	char snap[512];

	w->k.unbind_delay_ms = 300;
	snprintf(w->k.slow_value, sizeof(w->k.slow_value), "%s", GPU);
	CHECK_INT(handoff_prepare(&w->ops, 104), 0);
	in_order(w->cap.text, pre, (int)ARRAY_SIZE(pre));
	/* the fake kernel saw group 29's GPU unbound after the other groups were done */
	CHECK(strstr(w->k.log, "drivers/nouveau/unbind=" GPU "\n") >
	      strstr(w->k.log, "drivers/snd_hda_intel/unbind=" AUDIO3 "\n"));
	CHECK_INT(handoff_release(&w->ops, 104), 0);
	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, host3);
}

/* One group fails (the last card's audio cannot be unbound) while the others succeed: every
 * group is undone and the host is as it was. */
TEST(failure_in_one_group_undoes_all)
{
	struct world *w = world(three_cards);
	char snap[512];

	w->k.unbind_meet = 3;
	fk_fail_value(&w->k, "unbind", AUDIO3, -EIO);
	CHECK(handoff_prepare(&w->ops, 104) < 0);
	CHECK(w->k.met);
	CHECK_CONTAINS(w->cap.text, "E: 0000:04:00.1: cannot unbind from snd_hda_intel: "
				    "Input/output error");
	CHECK_CONTAINS(w->cap.text, "W: undoing the handoff of VM 104");
	/* the groups that made it are given back too, in group order (every GPU was on vfio-pci:
	 * their unbinds met; an audio function may have been stopped before its turn) */
	{
		static const char *const undo[] = {
			"W: undoing the handoff of VM 104",
			"0000:02:00.0: vfio-pci -> nouveau\n",
			"0000:03:00.0: vfio-pci -> nouveau\n",
			"0000:04:00.0: vfio-pci -> nouveau\n",
		};

		in_order(w->cap.text, undo, (int)ARRAY_SIZE(undo));
	}
	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, host3);
	CHECK_STR(fk_driver(&w->k, GPU), "nouveau");
	CHECK_INT(sr_read_str(&w->sr, "/sys/class/vtconsole/vtcon1/bind", snap, sizeof(snap)), 1);
	CHECK_STR(snap, "1");
}

/* A group that fails stops the others before their next device, and everything is undone.
 * The rendezvous: the second card's GPU lets go only once the third card's group thread, whose
 * GPU unbind failed, has ended (it marks the job failed before it ends), so the second card's
 * thread always sees the failure before its audio function. */
TEST(failure_stops_the_other_groups)
{
	struct world *w = world(three_cards);
	char snap[512];

	w->k.slow_until_fault = true;
	snprintf(w->k.slow_value, sizeof(w->k.slow_value), "%s", GPU2);
	fk_fail_value(&w->k, "unbind", GPU3, -EIO);
	CHECK(handoff_prepare(&w->ops, 104) < 0);
	CHECK_CONTAINS(w->cap.text, "E: 0000:04:00.0: cannot unbind from nouveau: Input/output error");
	CHECK(w->k.fault_fired && w->k.fault_thread_gone);
	CHECK_CONTAINS(w->cap.text, "IOMMU group 30: stopped, another group failed");
	CHECK(!strstr(w->k.log, "unbind=" AUDIO2 "\n")); /* never reached */
	snapshot3(w, snap, sizeof(snap));
	CHECK_STR(snap, host3);
}

/* ---- reconcile (dev_reconcile.h): release --stale, the pre-start watcher ---------------------- */

/* Writes FILE below the fake root with LEN bytes of DATA (NULs allowed), making its parents. */
static void put_file(const char *rel, const char *data, size_t len)
{
	char p[1024], cmd[1200];
	int fd;

	snprintf(p, sizeof(p), "%s%s", test_tmpdir(), rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
	CHECK_INT(system(cmd), 0);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, data, len), (long long)len);
	close(fd);
}

/* VM VMID's QEMU as qemu-server starts it: its pidfile names PID, whose command line has
 * "-id" ID (ID != VMID: a reused pid). */
static void fake_qemu(int vmid, int pid, int id)
{
	char rel[128], cmd[128], num[16];
	int n;

	snprintf(rel, sizeof(rel), "/run/qemu-server/%d.pid", vmid);
	snprintf(num, sizeof(num), "%d\n", pid);
	put_file(rel, num, strlen(num));
	n = snprintf(cmd, sizeof(cmd), "/usr/bin/kvm%c-id%c%d%c-name%cvm%d,debug-threads=on%c", 0,
		     0, id, 0, 0, id, 0);
	snprintf(rel, sizeof(rel), "/proc/%d/cmdline", pid);
	put_file(rel, cmd, (size_t)n);
}

/* A fake host under Proxmox: its config lock directory exists. */
static struct world *pve_world(void)
{
	return world("dir /var/lock/qemu-server\n");
}

/* Holds VM VMID's config lock (as Proxmox during a start); returns the fd. */
static int hold_config_lock(int vmid)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/var/lock/qemu-server/lock-%d.conf", test_tmpdir(), vmid);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(flock(fd, LOCK_EX | LOCK_NB), 0);
	return fd;
}

TEST(release_stale_gives_back_a_vm_that_is_not_running)
{
	struct world *w = pve_world();
	char snap[512];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running: giving its devices back\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci -> nouveau\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.1: vfio-pci -> snd_hda_intel\n");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
	/* a pidfile whose pid is now another VM's QEMU (reused) is no running VM either */
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	fake_qemu(100, 4242, 101);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* A state file edited by hand: refused with its path and line, nothing written, and the other
 * state files are still reconciled. */
TEST(release_stale_refuses_an_edited_state_file)
{
	struct world *w = pve_world();
	static const char bad[] = "pve-gpu-passthrough-state 1\nvmid 105\n"
				  "device 0000:02:00.0 group many id 10de:0fc6 driver nouveau "
				  "override - vfio 0\n";

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	put_file("/run/pve-gpu-passthrough/105.state", bad, sizeof(bad) - 1);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), -EINVAL);
	CHECK_CONTAINS(w->cap.text, "E: state file /run/pve-gpu-passthrough/105.state of VM 105 is "
				    "refused: line 3 is not a valid record: 'device 0000:02:00.0 group "
				    "many id 10de:0fc6 driver nouveau override - vfio 0'; not "
				    "reconciling it");
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running: giving its devices back");
	CHECK_STR(fk_driver(&w->k, GPU), "nouveau");
	CHECK(exists("/run/pve-gpu-passthrough/105.state"));
}

TEST(release_stale_leaves_a_running_vm_alone)
{
	struct world *w = pve_world();

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	fake_qemu(100, 4242, 100);
	CHECK_INT(vm_qemu_running(&w->sr, 100), 1);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_STR(w->cap.text, "0000:02:00.0: VM 100 is running; left on vfio-pci\n"
			       "0000:02:00.1: VM 100 is running; left on vfio-pci\n");
	CHECK_STR(w->k.log, "");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
}

/* ---- per-VM options: a job takes them from its own VM's [vm:N] section ----------------- */

/* The configuration INI, for the world's handoffs from now on. */
static void use_config(struct world *w, const char *ini)
{
	static struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse(ini, "test.ini", &c, err, sizeof(err)), 0);
	w->ops.cfg = &c;
}

/* VM 200's pre-start reconciles VM 100's stale state with VM 100's options: [vm:200]
 * return_on_stop = no is VM 200's choice; VM 100's devices come back (and its state file,
 * the only record of its drivers, goes only then). */
TEST(reconcile_uses_the_reconciled_vms_options)
{
	struct world *w = pve_world();
	char snap[512];

	use_config(w, "[hook]\nbind_timeout = 100ms\nrelease_timeout = 100ms\n"
		      "[vm:200]\nreturn_on_stop = no\n");
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 200), 0); /* what VM 200's pre-start does first */
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running: giving its devices back\n");
	CHECK(!strstr(w->cap.text, "return_on_stop"));
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* release --stale keeps what [vm:100] return_on_stop = no says to keep, in one line. */
TEST(release_stale_keeps_a_vm_with_return_on_stop_no)
{
	struct world *w = pve_world();

	use_config(w, "[hook]\nbind_timeout = 100ms\nrelease_timeout = 100ms\n"
		      "[vm:100]\nreturn_on_stop = no\n");
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0); /* the timer's release --stale: [hook] */
	CHECK_STR(w->cap.text, "return_on_stop = no: devices of VM 100 stay on vfio-pci\n");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK_STR(fk_driver(&w->k, AUDIO), "vfio-pci");
	CHECK_STR(w->k.log, "");
}

/* A per-VM unbind_timeout is used when another VM reconciles it: VM 100's give back waits
 * its own 200 ms for a probe that hangs, not [hook]'s or VM 200's. */
TEST(reconcile_uses_the_reconciled_vms_unbind_timeout)
{
	struct world *w = pve_world();
	char fifo[600];
	int fd;

	use_config(w, "[hook]\nunbind_timeout = 5s\nbind_timeout = 100ms\n"
		      "release_timeout = 100ms\n[vm:100]\nunbind_timeout = 200ms\n"
		      "[vm:200]\nunbind_timeout = 3s\n");
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	/* from now on a probe hangs (a driver still holds the device lock) */
	snprintf(fifo, sizeof(fifo), "%s/sys/bus/pci/drivers_probe", test_tmpdir());
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	reset_log(w);
	CHECK(reconcile_all(&w->ops, 200) < 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: its driver has not let go (drivers_probe did not "
				    "return within 200 ms");
	CHECK(exists("/run/pve-gpu-passthrough/100.state")); /* for the release that finishes */
	/* let the blocked probes go */
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(child_wrote(fd));
	close(fd);
}

TEST(release_stale_leaves_a_starting_vm_alone)
{
	struct world *w = pve_world();
	int lock;

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	lock = hold_config_lock(100);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: VM 100 is starting (its config lock is held); "
				    "left on vfio-pci\n");
	CHECK_STR(w->k.log, "");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	close(lock);
	/* without Proxmox's lock directory nothing can be told: left alone too */
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/var/lock/qemu-server'", test_tmpdir());
		CHECK_INT(system(cmd), 0);
	}
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: no Proxmox config lock for VM 100");
	CHECK_STR(w->k.log, "");
	/* the VM excluded (a pre-start's own) is not looked at */
	CHECK_INT(fakesys_build(test_tmpdir(), "dir /var/lock/qemu-server\n", NULL), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 100), 0);
	CHECK_STR(w->cap.text, "");
}

/* A QEMU command line over 64 KiB (many devices and disks) that begins with "-id 100", as
 * qemu-server starts it: the VM is running, its devices stay. One whose first 64 KiB name no
 * VM cannot be told: nothing is given back either. */
TEST(release_stale_reads_a_long_qemu_command_line_as_running)
{
	struct world *w = pve_world();
	static char cmd[80000];
	size_t n = 0;

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	put_file("/run/qemu-server/100.pid", "4242\n", 5);
	n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "/usr/bin/kvm%c-id%c100%c", 0, 0, 0);
	while (n < 70000)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "-device%cvirtio-blk,drive=d%zu%c", 0,
				      n, 0);
	put_file("/proc/4242/cmdline", cmd, n);
	CHECK_INT(vm_qemu_running(&w->sr, 100), 1);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, GPU ": VM 100 is running; left on vfio-pci\n");
	CHECK_STR(w->k.log, "");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	/* the same length without "-id" at its beginning: cannot be told */
	memcpy(cmd + 13, "-xx", 3);
	put_file("/proc/4242/cmdline", cmd, n);
	CHECK_INT(vm_qemu_running(&w->sr, 100), -EFBIG);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), -EFBIG);
	CHECK_CONTAINS(w->cap.text, "E: VM 100: cannot tell whether it runs (the command line of "
				    "the process its pidfile names is over 64 KiB");
	CHECK_STR(w->k.log, "");
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	/* a long command line of another VM's QEMU (a reused pid) is no running VM 100 */
	memcpy(cmd + 13, "-id", 3);
	memcpy(cmd + 17, "101", 3);
	put_file("/proc/4242/cmdline", cmd, n);
	CHECK_INT(vm_qemu_running(&w->sr, 100), 0);
}

/* The watcher a pre-start leaves: the hook's caller sees EOF on the hook's output at once
 * (the watcher holds none of its fds), while the watcher waits for the config lock; when the
 * start ends without a QEMU, the devices come back. */
TEST(watcher_holds_no_fd_and_gives_back_after_a_failed_start)
{
	struct world *w = pve_world();
	char snap[512], buf[256];
	int out[2], lock, status;
	pid_t hook;
	ssize_t n;
	uint64_t deadline;

	lock = hold_config_lock(100); /* Proxmox's start */
	CHECK_INT(pipe(out), 0);
	hook = fork();
	CHECK(hook >= 0);
	if (hook == 0) {
		/* the hook: its stdout and stderr are Proxmox's pipe */
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		close(out[0]);
		close(out[1]);
		if (handoff_prepare(&w->ops, 100) < 0)
			_exit(3);
		printf("prepared\n");
		fflush(stdout);
		_exit(reconcile_watch(&w->ops, 100, 20000) < 0 ? 4 : 0);
	}
	close(out[1]);
	CHECK_INT(waitpid(hook, &status, 0), hook);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* EOF right after the hook exited, with the watcher still waiting for the lock */
	{
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		size_t got = 0;

		deadline = now_ms() + 2000;
		for (;;) {
			int left = (int)(deadline > now_ms() ? deadline - now_ms() : 0);

			CHECK(poll(&pfd, 1, left) == 1); /* not a timeout: EOF or data */
			n = read(out[0], buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		buf[got] = '\0';
		CHECK_INT(n, 0);
		CHECK_CONTAINS(buf, "prepared\n");
	}
	close(out[0]);
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci"); /* still waiting: nothing given back */
	CHECK(exists("/run/pve-gpu-passthrough/100.state"));
	/* the start fails: Proxmox lets go of the lock, no QEMU ran */
	close(lock);
	deadline = now_ms() + 10000;
	while (exists("/run/pve-gpu-passthrough/100.state") && now_ms() < deadline)
		usleep(20 * 1000);
	CHECK(!exists("/run/pve-gpu-passthrough/100.state"));
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* ---- a device whose unbind never returned (issue 26, item 4) -------------------------------- */

/* VM 100's state file. */
static const char *state_text(struct world *w)
{
	static char buf[4096];

	if (sr_read(&w->sr, "/run/pve-gpu-passthrough/100.state", buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(unreadable)");
	return buf;
}

/* The fake tree's path of GPU's attribute ATTR. */
static void gpu_attr(char *out, size_t size, const char *attr)
{
	snprintf(out, size, "%s/sys/bus/pci/devices/" GPU "/%s", test_tmpdir(), attr);
}

/* A kernel before 6.19 with nouveau stuck in remove() for the GPU: its unbind never returns (a
 * FIFO) and pre-start fails, leaving the GPU in the state file; then, as the driver holds the
 * device's lock, reading or writing the GPU's driver_override blocks too (a FIFO in its place:
 * an open waits for ever). */
static void stick_gpu(struct world *w)
{
	char fifo[600];

	snprintf(fifo, sizeof(fifo), "%s/sys/bus/pci/drivers/nouveau/unbind", test_tmpdir());
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	cfg.hook.unbind_timeout_ms = 200;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK(w->left_changed);
	CHECK_CONTAINS(state_text(w), "stuck " GPU);
	gpu_attr(fifo, sizeof(fifo), "driver_override");
	CHECK_INT(unlink(fifo), 0);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	reset_log(w);
}

/* Every process blocked on the FIFO at PATH goes on: writers blocked in open() write into it,
 * readers read EOF. */
static void let_go(const char *path)
{
	int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), wr;
	char buf[256];

	CHECK(rd >= 0);
	wr = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(wr >= 0);
	close(wr);
	usleep(100 * 1000); /* not a condition: only drains what the writers sent */
	while (read(rd, buf, sizeof(buf)) > 0)
		;
	close(rd);
}

/* nouveau lets go: the stuck unbind returns (the fake kernel keeps the GPU on nouveau, as
 * when a driver's remove() fails), the device's lock is free and driver_override what the
 * handoff left, vfio-pci. */
static void unstick_gpu(struct world *w)
{
	char p[600];
	int fd;

	(void)w;
	snprintf(p, sizeof(p), "%s/sys/bus/pci/drivers/nouveau/unbind", test_tmpdir());
	fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(child_wrote(fd));
	close(fd);
	gpu_attr(p, sizeof(p), "driver_override");
	let_go(p);
	CHECK_INT(unlink(p), 0);
	put_file("/sys/bus/pci/devices/" GPU "/driver_override", "vfio-pci\n", 9);
	cfg.hook.unbind_timeout_ms = 1000;
}

/* A log sink for processes of their own (the watcher keeps no fd but the root): appends each
 * line to /log below the fake root. */
static void file_log(void *ud, enum ho_level level, const char *msg)
{
	const struct sysroot *sr = ud;
	char line[1200];
	int fd = openat(sr->fd, "log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int n = snprintf(line, sizeof(line), "%s%s\n",
			 level == HO_ERROR ? "E: " : level == HO_WARN ? "W: " : "", msg);

	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		abort();
	close(fd);
}

/* The file log's text, and how many of its lines name NAME. */
static const char *file_log_text(int *naming, const char *name)
{
	static char buf[8192];
	char p[600];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/log", test_tmpdir());
	f = fopen(p, "re");
	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	*naming = 0;
	for (const char *l = buf; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		const char *e = strchr(l, '\n');

		if (memmem(l, e ? (size_t)(e - l) : strlen(l), name, strlen(name)))
			(*naming)++;
	}
	return buf;
}

/* release --stale gives VM 100's devices back (saying SAYS): the host is as before. */
static void stale_gives_back(struct world *w, const char *says)
{
	char snap[512];

	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, says);
	CHECK(!exists("/run/pve-gpu-passthrough/100.state"));
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

enum stuck_run { RUN_STALE, RUN_RELEASE, RUN_PREPARE };

/* Runs WHAT in a child of its own (its lines to the file log); true when it ended within MS,
 * with its exit status in *STATUS; else it is killed. */
static bool ends_within(struct world *w, enum stuck_run what, unsigned long ms, int *status)
{
	uint64_t deadline = now_ms() + ms;
	pid_t pid = fork(), got;

	CHECK(pid >= 0);
	if (pid == 0) {
		struct handoff_ops ops = w->ops;
		int r;

		ops.log = file_log;
		ops.ud = &w->sr;
		r = what == RUN_STALE	? reconcile_all(&ops, 0)
		    : what == RUN_RELEASE ? handoff_release(&ops, 100)
					  : handoff_prepare(&ops, 100);
		_exit(r == -ETIMEDOUT ? 2 : r == -EBUSY ? 3 : r < 0 ? 1 : 0);
	}
	while ((got = waitpid(pid, status, WNOHANG)) == 0 && now_ms() < deadline)
		usleep(5 * 1000);
	if (got == pid)
		return true;
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/* Whether VM 100's config lock is held by someone else right now. */
static bool config_lock_held(struct world *w)
{
	int fd = vm_config_lock(&w->sr, 100, 0);

	if (fd >= 0)
		close(fd);
	return fd == -EBUSY;
}

/* The watcher a failed start leaves, with the GPU still stuck: it takes the config lock once
 * Proxmox lets go, leaves the GPU alone (named in one line) and lets go of the lock within the
 * deadline plus a second; it never reads the GPU's driver_override without a deadline. Once
 * nouveau lets go, release gives the GPU back. */
TEST(watcher_leaves_a_stuck_device_and_frees_the_config_lock)
{
	struct world *w = pve_world();
	char snap[512];
	const char *log;
	int lock, status, naming;
	uint64_t until;
	pid_t hook;

	stick_gpu(w);
	lock = hold_config_lock(100); /* the start that failed has not ended yet */
	hook = fork();
	CHECK(hook >= 0);
	if (hook == 0) {
		struct handoff_ops ops = w->ops;

		ops.log = file_log;
		ops.ud = &w->sr;
		_exit(reconcile_watch(&ops, 100, 20000) < 0 ? 4 : 0);
	}
	CHECK_INT(waitpid(hook, &status, 0), hook);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lock); /* Proxmox's start ends */
	/* the watcher takes the lock (it waits in steps of at most half a second), ... */
	until = now_ms() + 10000;
	while (!config_lock_held(w) && !strstr(file_log_text(&naming, GPU), "not let go") &&
	       now_ms() < until)
		usleep(2 * 1000);
	/* ... and lets go of it within the deadline plus a second */
	lock = vm_config_lock(&w->sr, 100, cfg.hook.unbind_timeout_ms + 1000);
	CHECK(lock >= 0);
	close(lock);
	until = now_ms() + 10000; /* its last line may follow the unlock */
	while (!strstr(file_log_text(&naming, GPU), "not let go") && now_ms() < until)
		usleep(10 * 1000);
	log = file_log_text(&naming, GPU);
	CHECK_CONTAINS(log, "E: still changed: " GPU ": its driver has not let go (driver_override "
			    "did not return within 200 ms; not touched again, nothing waits on it); "
			    "when the device is free, finish with: pve-gpu-passthrough release 100\n");
	CHECK_INT(naming, 1);
	CHECK_CONTAINS(state_text(w), "stuck " GPU);
	unstick_gpu(w);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK(!exists("/run/pve-gpu-passthrough/100.state"));
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* release --stale and release VMID with the GPU stuck: each ends within the deadline plus a
 * second (release --stale holding the config lock only that long), names the GPU in one line
 * and keeps it as stuck; a pre-start refuses it the same way instead of reading it. Once
 * nouveau lets go, release --stale converges. */
TEST(release_leaves_a_stuck_device_and_converges_once_it_lets_go)
{
	struct world *w = pve_world();
	unsigned long bound = cfg.hook.unbind_timeout_ms;
	const char *log;
	int status, naming;

	stick_gpu(w);
	bound = cfg.hook.unbind_timeout_ms + 1000;
	CHECK(ends_within(w, RUN_STALE, bound, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	CHECK(!config_lock_held(w));
	log = file_log_text(&naming, GPU);
	CHECK_CONTAINS(log, "VM 100 is not running: giving its devices back\n");
	CHECK_CONTAINS(log, "E: still changed: " GPU ": its driver has not let go");
	CHECK_INT(naming, 1);
	CHECK_CONTAINS(state_text(w), "stuck " GPU);

	put_file("/log", "", 0);
	CHECK(ends_within(w, RUN_RELEASE, bound, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	file_log_text(&naming, GPU);
	CHECK_INT(naming, 1);

	put_file("/log", "", 0);
	CHECK(ends_within(w, RUN_PREPARE, bound, &status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	log = file_log_text(&naming, GPU);
	CHECK_CONTAINS(log, "E: refusing: " GPU ": an unbind of it never returned and it still "
			    "does not answer within 200 ms");
	CHECK_INT(naming, 1);

	unstick_gpu(w);
	stale_gives_back(w, GPU ": back on nouveau");
}

/* The state file's "stuck ADDR PID START" record: after its device's line, once; it prints
 * back. */
TEST(state_stuck_record_follows_its_device)
{
	static const char head[] = "pve-gpu-passthrough-state 1\nvmid 100\n"
				   "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau "
				   "override - vfio 0\n";
	static struct handoff_state s;
	char text[1024], back[1024];

	snprintf(text, sizeof(text), "%sstuck 0000:02:00.0 4242 123456\n", head);
	CHECK_INT(state_parse(text, &s), 0);
	CHECK(s.devs[0].stuck);
	CHECK_INT(s.devs[0].stuck_pid, 4242);
	CHECK_INT(s.devs[0].stuck_start, 123456);
	CHECK(state_format(&s, back, sizeof(back)) > 0);
	CHECK_STR(back, text);
	snprintf(text, sizeof(text), "%sstuck 0000:02:00.0 0 0\nstuck 0000:02:00.0 0 0\n", head);
	CHECK_INT(state_parse(text, &s), -EINVAL); /* twice */
	snprintf(text, sizeof(text), "%sstuck 0000:02:00.1 0 0\n", head);
	CHECK_INT(state_parse(text, &s), -EINVAL); /* no such device */
	snprintf(text, sizeof(text), "%sstuck 0000:02:00.0 1\n", head);
	CHECK_INT(state_parse(text, &s), -EINVAL);
	snprintf(text, sizeof(text), "%sstuck 0000:02:00.0 4242 0\n", head); /* a pid, no start */
	CHECK_INT(state_parse(text, &s), -EINVAL);
	snprintf(text, sizeof(text), "pve-gpu-passthrough-state 1\nvmid 100\nstuck 0000:02:00.0 0 0\n"
		 "device 0000:02:00.0 group 29 id 10de:0fc6 driver nouveau override - vfio 0\n");
	CHECK_INT(state_parse(text, &s), -EINVAL); /* before its device */
}

/* While the process left blocked in a stuck device's unbind lives (its pid and start time in
 * the state file), nothing reads the device at all: release and pre-start name it at once and
 * start no new read that would block too (each would stay blocked until the driver lets go,
 * one more every minute from the timer). A pid that now names another process (another start
 * time) is no such proof: the device is read again, with the deadline, and given back. */
TEST(a_stuck_device_is_not_read_while_its_unbind_is_blocked)
{
	struct world *w = pve_world();
	static char stat[] = "4242 (pve-gpu-passth) D 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 "
				   "0 1 0 777 0 0\n";
	char p[600];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	put_file("/proc/4242/stat", stat, sizeof(stat) - 1);
	{
		struct handoff_state s;

		CHECK_INT(state_load(&w->sr, 100, &s), 0);
		s.devs[0].stuck = true;
		s.devs[0].stuck_pid = 4242;
		s.devs[0].stuck_start = 777;
		CHECK_STR(s.devs[0].name, GPU);
		CHECK_INT(state_save(&w->sr, &s), 0);
	}
	/* any read of its driver_override fails now (a directory in its place): not reached */
	gpu_attr(p, sizeof(p), "driver_override");
	CHECK_INT(unlink(p), 0);
	CHECK_INT(mkdir(p, 0755), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), -ETIMEDOUT);
	CHECK_CONTAINS(w->cap.text, "E: still changed: " GPU ": its driver has not let go");
	CHECK(!strstr(w->cap.text, "cannot restore driver_override"));
	CHECK_CONTAINS(w->k.log, "/sys/bus/pci/drivers/vfio-pci/unbind=" AUDIO "\n");
	CHECK(!strstr(w->k.log, GPU));
	CHECK_CONTAINS(state_text(w), "stuck " GPU " 4242 777\n");
	reset_log(w);
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, "E: refusing: " GPU ": an unbind of it never returned (pid 4242 "
				    "is still blocked in it");
	CHECK(!strstr(w->k.log, GPU));
	/* pid 4242 is another process now: read again (with the deadline), and given back */
	CHECK_INT(rmdir(p), 0);
	put_file("/sys/bus/pci/devices/" GPU "/driver_override", "vfio-pci\n", 9);
	memcpy(strstr(stat, " 777 "), " 778 ", 5);
	put_file("/proc/4242/stat", stat, sizeof(stat) - 1);
	stale_gives_back(w, GPU ": vfio-pci -> nouveau");
}

/* Live migration: the source node runs no post-stop (qemu-server skips the hookscript there)
 * and the config moves to the target's directory. Once the source's QEMU has exited, the
 * reconcile (release --stale, the timer, the next pre-start) gives the devices back from
 * the state file alone; while it still runs (the migration's last phase) nothing is touched. */
TEST(migration_source_gets_its_devices_back_through_reconcile)
{
	struct world *w = pve_world();
	char snap[512], from[512], to[512], cmd[4096];

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	fake_qemu(100, 4343, 100); /* still running on the source */
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK(!strstr(w->cap.text, "giving its devices back"));
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	/* migrated: the config is in the target's directory, QEMU is gone here */
	snprintf(from, sizeof(from), "%s/etc/pve/qemu-server/100.conf", test_tmpdir());
	snprintf(to, sizeof(to), "%s/etc/pve/nodes/pve2/qemu-server", test_tmpdir());
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && mv '%s' '%s/' && rm -f '%s/run/qemu-server/100.pid'",
		 to, from, to, test_tmpdir());
	CHECK_INT(system(cmd), 0);
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running: giving its devices back\n");
	CHECK_CONTAINS(w->cap.text, "0000:02:00.0: vfio-pci -> nouveau\n");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);
}

/* ---- health after stop (dev_ho_health.c) -------------------------------------------------- */

#define BOOT_A "6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab"
#define BOOT_B "11111111-2222-4333-8444-555555555555"
#define GPU_MARK "/run/pve-gpu-passthrough/health/" GPU

static void set_boot(const char *id)
{
	char line[64];

	snprintf(line, sizeof(line), "%s\n", id);
	put_file("/proc/sys/kernel/random/boot_id", line, strlen(line));
}

/* The GPU did not come out of its reset: its config space reads all ones once it is back. */
static void gpu_reads_ffff(void)
{
	unsigned char ones[256];

	memset(ones, 0xff, sizeof(ones));
	put_file("/sys/bus/pci/devices/" GPU "/config", (const char *)ones, sizeof(ones));
}

/* ... and its ids again (it is healthy). */
static void gpu_reads_ids(void)
{
	unsigned char ids[4] = { 0xde, 0x10, 0xc6, 0x0f };

	put_file("/sys/bus/pci/devices/" GPU "/config", (const char *)ids, sizeof(ids));
}

/* A member that reads 0xffff after post-stop is marked (post-stop still succeeds: it is back
 * on its driver); the next pre-start refuses it in one line with the fix and writes nothing;
 * a mark of another boot is void. */
TEST(health_marks_a_member_that_reads_ffff_and_pre_start_refuses_it)
{
	struct world *w = world(NULL);
	char snap[512];

	set_boot(BOOT_A);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	gpu_reads_ffff();
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "W: 0000:02:00.0 did not come back after VM 100 (its config "
				    "space reads 0xffff): marked until the host reboots, no VM start "
				    "takes it; fix: reboot the host");
	CHECK(!strstr(w->cap.text, "0000:02:00.1 did not come back"));
	CHECK(exists(GPU_MARK));
	CHECK(!exists("/run/pve-gpu-passthrough/health/" AUDIO));
	CHECK_STR(text_of(w, GPU_MARK), "pve-gpu-passthrough-health 1\nboot " BOOT_A "\nvmid 100\n"
					"id 10de:0fc6\nfault ffff\ndriver nouveau");
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);

	reset_log(w);
	CHECK_INT(handoff_prepare(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: 0000:02:00.0 (10de:0fc6) did not come back after "
				    "VM 100 stopped (its config space reads 0xffff); it is marked "
				    "until the host reboots: reboot the host (nothing else brings it "
				    "back); so that it comes back next time, set a reset_method "
				    "0000:02:00.0 has in [vm:100]");
	CHECK_STR(w->k.log, ""); /* nothing written */
	snapshot(w, snap, sizeof(snap));
	CHECK_STR(snap, host_before);

	/* the host rebooted (and /run kept the file, say): the mark is void */
	set_boot(BOOT_B);
	gpu_reads_ids();
	reset_log(w);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
}

/* A member whose driver does not take it back (its re-probe fails) is marked too, beside the
 * failed give-back (post-stop fails for that, as before); release --stale marks likewise. */
TEST(health_marks_a_member_its_driver_did_not_take_back)
{
	struct world *w = world(NULL);

	set_boot(BOOT_A);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	w->k.host_refuses = true;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -ETIMEDOUT);
	CHECK_CONTAINS(w->cap.text, "W: 0000:02:00.0 did not come back after VM 100 (its driver did "
				    "not take it back): marked until the host reboots");
	CHECK_CONTAINS(w->cap.text, "E: still changed: 0000:02:00.0 on no driver, not nouveau");
	CHECK(exists(GPU_MARK));
	w->k.host_refuses = false;
	reset_log(w);
	CHECK_INT(handoff_prepare(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "refusing: 0000:02:00.0 (10de:0fc6) did not come back after VM "
				    "100 stopped (its driver did not take it back)");
	CHECK_STR(w->k.log, "");
}

/* A dry run marks nothing; a mark file that is not valid refuses its device (named):
 * a mark on any member of the group refuses the VM. */
TEST(health_dry_run_marks_nothing_and_a_bad_mark_refuses)
{
	struct world *w = world(NULL);

	set_boot(BOOT_A);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	gpu_reads_ffff();
	w->ops.dry_run = true;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "would mark 0000:02:00.0: its config space reads 0xffff");
	CHECK(!exists(GPU_MARK));
	w->ops.dry_run = false;
	gpu_reads_ids();
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK(!exists(GPU_MARK));

	put_file("/run/pve-gpu-passthrough/health/" AUDIO, "pve-gpu-passthrough-health 1\nboot x\n",
		 36);
	reset_log(w);
	CHECK_INT(handoff_prepare(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: 0000:02:00.1: its health mark "
				    "/run/pve-gpu-passthrough/health/0000:02:00.1 cannot be used");
	CHECK_STR(w->k.log, "");
}

/* The reconcile (release --stale, the watcher, another VM's pre-start) reads the devices it
 * gave back likewise. */
TEST(health_marks_after_a_reconcile_too)
{
	struct world *w = pve_world();

	set_boot(BOOT_A);
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	gpu_reads_ffff();
	reset_log(w);
	CHECK_INT(reconcile_all(&w->ops, 0), 0);
	CHECK_CONTAINS(w->cap.text, "VM 100 is not running: giving its devices back\n");
	CHECK_CONTAINS(w->cap.text, "W: 0000:02:00.0 did not come back after VM 100 (its config "
				    "space reads 0xffff): marked until the host reboots");
	CHECK(exists(GPU_MARK));
}
