/* test_containers.c - the containers row of the handoff (common/dev_ho_containers.c) on fake
 * trees and the fake kernel: a running container using the VM's GPU is refused (containers =
 * refuse) or shut down for the VM and started again after it (containers = stop); containers
 * that were not running are never started; one started by hand is left alone; a failed
 * start, a killed hook and a start that fails at post-stop converge. pct is a fake runner
 * that records what would run and plays the container's cgroup (the lab runs a stand-in pct
 * on a real kernel: tests/lab/scenarios/hook-containers.sh). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cfg_ini.h"
#include "dev_handoff.h"
#include "dev_state.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "harness.h"
#include "howorld.h"
#include "pve_lxc.h"
#include "testlib.h"

#define GPU "0000:03:00.0"
#define AUD "0000:03:00.1"
#define STATE "/run/pve-gpu-passthrough/100.state"
#define EVENTS(ct) "/sys/fs/cgroup/lxc/" ct "/cgroup.events"

/* The GPU (renderD128) and its audio function in one group; container 300 (jellyfin) uses it
 * through dev0 and runs, 301 uses it through the old mount + cgroup lines and is stopped, 302
 * uses another card. */
static const char *base_spec =
	"pci 0000:00:1f.2 vendor=8086 device=8d02 class=010601 driver=ahci group=27\n"
	"file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
	"file /proc/iomem 00000000-00000fff : Reserved\n"
	"pci " GPU " vendor=1002 device=73bf class=030000 driver=amdgpu group=30 drm=card0,renderD128\n"
	"pci " AUD " vendor=1002 device=ab28 class=040300 driver=snd_hda_intel group=30\n"
	"pci 0000:04:00.0 vendor=8086 device=56a0 class=030000 driver=i915 group=31 drm=card1,renderD129\n"
	"driver vfio-pci\n"
	"dir /sys/module/vfio_iommu_type1\n"
	"dir /dev/vfio\n"
	"file /etc/pve/qemu-server/100.conf hostpci0: 0000:03:00\n"
	"file /etc/pve/lxc/300.conf hostname: jellyfin\\ndev0: /dev/dri/renderD128,gid=104\n"
	"file /etc/pve/lxc/301.conf lxc.cgroup2.devices.allow: c 226:* rwm\\n"
	"lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n"
	"file /etc/pve/lxc/302.conf dev0: /dev/dri/renderD129\n"
	"dir /var/lib/lxc/300\n"
	"dir /var/lib/lxc/301\n"
	"dir /var/lib/lxc/302\n"
	"file " EVENTS("300") " populated 1\n"
	"file " EVENTS("301") " populated 0\n"
	"file " EVENTS("302") " populated 1\n"
	/* jellyfin's transcoder holds the render node, inside the container */
	"file /proc/4300/comm ffmpeg\n"
	"file /proc/4300/cgroup 0::/lxc/300/ns/system.slice/jellyfin.service\n"
	"link /proc/4300/fd/7 /dev/dri/renderD128\n";

/* The fake pct: records each command line and plays the container's cgroup. */
struct runner {
	char log[2048];
	bool shutdown_hangs; /* pct shutdown times out, the container keeps running */
	int start_status;    /* pct start's exit status */
};
static struct runner rn;

static void set_running(const char *ct, bool on)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/lxc/%s/cgroup.events", test_tmpdir(), ct);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "populated %d\n", on);
	fclose(f);
	if (!on) { /* its processes are gone */
		snprintf(path, sizeof(path), "rm -rf '%s/proc/4%s'", test_tmpdir(), ct);
		CHECK_INT(system(path), 0);
	}
}

static int fake_run(void *data, const char *const *argv, char *out, size_t outsize)
{
	struct runner *r = data;

	for (int i = 0; argv[i]; i++)
		snprintf(r->log + strlen(r->log), sizeof(r->log) - strlen(r->log), "%s%s",
			 i ? " " : "", argv[i]);
	snprintf(r->log + strlen(r->log), sizeof(r->log) - strlen(r->log), "\n");
	out[0] = '\0';
	if (strcmp(argv[0], "pct"))
		return -ENOENT;
	if (!strcmp(argv[1], "shutdown")) {
		if (r->shutdown_hangs) {
			snprintf(out, outsize, "shutdown timeout\n");
			return 255;
		}
		set_running(argv[2], false);
	} else if (!strcmp(argv[1], "stop")) {
		set_running(argv[2], false);
	} else if (!strcmp(argv[1], "start")) {
		if (r->start_status) {
			snprintf(out, outsize, "explicitly configured lxc.apparmor.profile\n"
					       "startup for container '%s' failed\n", argv[2]);
			return r->start_status;
		}
		set_running(argv[2], true);
	}
	return 0;
}

static const struct quirks_exec fake_exec = { .run = fake_run, .data = &rn };
static struct cfg cfg;

static struct world *world(const char *extra, bool stop)
{
	memset(&rn, 0, sizeof(rn));
	cfg.hook = (struct hook_opts){ .unbind_timeout_ms = 1000, .bind_timeout_ms = 100,
				       .release_timeout_ms = 100, .return_on_stop = true,
				       .holders_refuse = true, .containers_stop = stop };
	return ho_world(base_spec, extra, &cfg, &fake_exec);
}

static void reset_log(struct world *w)
{
	ho_world_reset_log(w);
	rn.log[0] = '\0';
}

static const char *state_text(struct world *w)
{
	static char buf[4096];

	if (sr_read_str(&w->sr, STATE, buf, sizeof(buf)) < 0)
		return "(none)";
	return buf;
}

TEST(containers_refused_by_default_nothing_changed)
{
	struct world *w = world(NULL, false);

	CHECK_INT(handoff_prepare(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: running container 300 jellyfin (" GPU ": dev0 "
				    "/dev/dri/renderD128) uses the VM's GPU: shut it down first "
				    "(pct shutdown CTID), or set containers = stop");
	/* one line: not the pids of its processes (they mean nothing to the admin) */
	CHECK(!strstr(w->cap.text, "4300"));
	CHECK(!strstr(w->cap.text, "301")); /* not running */
	CHECK(!strstr(w->cap.text, "302")); /* another card */
	CHECK_STR(w->k.log, "");
	CHECK_STR(rn.log, "");
	CHECK_STR(fk_driver(&w->k, GPU), "amdgpu");
	CHECK(!sr_exists(&w->sr, STATE));
}

TEST(containers_stopped_for_the_vm_and_started_after)
{
	struct world *w = world(NULL, true);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(rn.log, "pct shutdown 300 --timeout 1\n");
	CHECK_CONTAINS(w->cap.text, "running container 300 jellyfin (" GPU ": dev0 "
				    "/dev/dri/renderD128) uses the GPU: shutting it down for the VM "
				    "(containers = stop)");
	CHECK_CONTAINS(w->cap.text, "container 300 stopped; it is started again when VM 100 stops");
	CHECK(!strstr(w->cap.text, "in use on the host")); /* its ffmpeg is no host holder */
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK_CONTAINS(state_text(w), "rec container 300 " GPU);
	CHECK_INT(pve_lxc_running(&w->sr, 300), 0);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(fk_driver(&w->k, GPU), "amdgpu");
	CHECK_STR(rn.log, "pct start 300\n"); /* 301 was not running: never started */
	CHECK_CONTAINS(w->cap.text, "container 300 started again");
	CHECK(!sr_exists(&w->sr, STATE));
}

/* A host process (not in a container) keeps today's holders rule. */
TEST(containers_host_holder_still_refused)
{
	struct world *w = world("file /proc/4400/comm Xorg\n"
				"file /proc/4400/cgroup 0::/system.slice/display-manager.service\n"
				"link /proc/4400/fd/3 /dev/dri/card0\n", true);

	CHECK_INT(handoff_prepare(&w->ops, 100), -EBUSY);
	CHECK_CONTAINS(w->cap.text, "E: refusing: " GPU " is in use on the host by 4400 (Xorg)");
	CHECK(!strstr(w->cap.text, "ffmpeg"));
	CHECK_STR(rn.log, "");
	CHECK_STR(w->k.log, "");
}

TEST(containers_shutdown_deadline_then_stop)
{
	struct world *w = world(NULL, true);

	rn.shutdown_hangs = true;
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(rn.log, "pct shutdown 300 --timeout 1\npct stop 300\n");
	CHECK_CONTAINS(w->cap.text, "W: container 300 did not shut down within 1 s (exit status "
				    "255: shutdown timeout): stopping it (pct stop 300)");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
}

/* A start that fails after the container was stopped: the rollback starts it again. */
TEST(containers_failed_start_rollback_starts_them)
{
	struct world *w = world(NULL, true);

	w->k.vfio_refuses = true;
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK(!w->left_changed);
	CHECK_STR(rn.log, "pct shutdown 300 --timeout 1\npct start 300\n");
	CHECK_STR(fk_driver(&w->k, GPU), "amdgpu");
	CHECK_INT(pve_lxc_running(&w->sr, 300), 1);
	CHECK(!sr_exists(&w->sr, STATE));
}

/* The hook killed at its first sysfs write (the container already stopped): the state file
 * says so, and the release (post-stop, the watcher, release --stale) starts it again. */
TEST(containers_killed_hook_converges)
{
	struct world *w = world(NULL, true);

	ho_world_prepare_killed(w, "driver_override:1", 100);
	CHECK_INT(pve_lxc_running(&w->sr, 300), 0);
	CHECK_CONTAINS(state_text(w), "rec container 300 " GPU);
	rn.log[0] = '\0';
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(rn.log, "pct start 300\n");
	CHECK_INT(pve_lxc_running(&w->sr, 300), 1);
	CHECK_STR(fk_driver(&w->k, GPU), "amdgpu");
	CHECK(!sr_exists(&w->sr, STATE));
}

/* Started by hand while the VM ran: left alone at post-stop (no second start). */
TEST(containers_started_by_hand_left_alone)
{
	struct world *w = world(NULL, true);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	set_running("300", true);
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(rn.log, "");
	CHECK_CONTAINS(w->cap.text, "container 300 is running already (started by hand?): left alone");
	CHECK(!sr_exists(&w->sr, STATE));
}

/* pct start failing at post-stop: named, its record kept; the next release starts it. */
TEST(containers_start_failing_is_kept)
{
	struct world *w = world(NULL, true);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	rn.start_status = 1;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), -EIO);
	CHECK_CONTAINS(w->cap.text, "E: cannot start container 300 again (pct start 300: exit "
				    "status 1: startup for container '300' failed)");
	CHECK_CONTAINS(w->cap.text, "E: still changed: container 300 is stopped (pct start 300)");
	CHECK_STR(fk_driver(&w->k, GPU), "amdgpu");
	CHECK_CONTAINS(state_text(w), "rec container 300 " GPU);
	rn.start_status = 0;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(rn.log, "pct start 300\n");
	CHECK(!sr_exists(&w->sr, STATE));
}

TEST(containers_return_on_stop_no)
{
	struct world *w = world(NULL, true);

	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	cfg.hook.return_on_stop = false;
	reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(rn.log, "");
	CHECK_CONTAINS(w->cap.text, "container 300 is not started: its GPU stays on vfio-pci "
				    "(return_on_stop = no); start it once the GPU is back: pct start 300");
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK(!sr_exists(&w->sr, STATE));
}

/* A record edited by hand is hostile input: dropped with a warning, nothing run. */
TEST(containers_hostile_record)
{
	static const char *bad[] = { "rec container 0300 " GPU, "rec container 300 /etc/passwd",
				     "rec container 300 " GPU " " GPU " " GPU " " GPU " " GPU " " GPU
				     " " GPU " " GPU " " GPU, "rec container -1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char spec[1024];
		struct world *w;

		snprintf(spec, sizeof(spec), "file " STATE " pve-gpu-passthrough-state 1\\nvmid 100\\n%s\n",
			 bad[i]);
		w = world(spec, true);
		set_running("300", false);
		CHECK_INT(handoff_release(&w->ops, 100), 0);
		CHECK_STR(rn.log, "");
		CHECK_CONTAINS(w->cap.text, "is not valid; dropped");
	}
}

TEST(containers_dry_run)
{
	struct world *w = world(NULL, true);

	w->ops.dry_run = true;
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_CONTAINS(w->cap.text, "would run pct shutdown 300 --timeout 1");
	CHECK_STR(rn.log, "");
	CHECK_INT(pve_lxc_running(&w->sr, 300), 1);
}

/* [hook] containers and its [vm:N] override, like the other [hook] keys. */
TEST(containers_config_key)
{
	struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse("[hook]\ncontainers = stop\n[vm:101]\ncontainers = refuse\n[vm:102]\n"
			    "holders = warn\n", "t.ini", &c, err, sizeof(err)), 0);
	CHECK(c.hook.containers_stop);
	CHECK(!cfg_hook_opts(&c, 101)->containers_stop);
	CHECK(cfg_hook_opts(&c, 102)->containers_stop); /* inherited */
	CHECK(cfg_hook_opts(&c, 103)->containers_stop);
	CHECK_INT(cfg_parse("[hook]\n", "t.ini", &c, err, sizeof(err)), 0);
	CHECK(!c.hook.containers_stop); /* refuse by default */
	CHECK_INT(cfg_parse("[hook]\ncontainers = kill\n", "t.ini", &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t.ini:2: containers: 'kill' is not 'refuse' or 'stop'");
	CHECK_INT(cfg_parse("[vm:100]\ncontainers = stop\ncontainers = stop\n", "t.ini", &c, err,
			    sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "t.ini:3: duplicate key 'containers'");
}
