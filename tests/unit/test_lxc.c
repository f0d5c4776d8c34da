/* test_lxc.c - containers that use a GPU (common/pve_lxc.c): every config form, hostile
 * configs, nodes tied by major:minor and by-path, running containers, a process's container. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pve_lxc.h"
#include "testlib.h"

/* Two GPUs whose render nodes were renumbered by a rebind: the iGPU at 00:02.0 has card1 and
 * renderD129, the dGPU at 03:00.0 card0 and renderD128. An NVIDIA card at 04:00.0 is minor 1. */
static const char *spec =
	"pci 0000:00:02.0 vendor=8086 device=a780 class=030000 driver=i915 group=0 drm=card1,renderD129\n"
	"pci 0000:03:00.0 vendor=1002 device=73bf class=030000 driver=amdgpu group=1 drm=card0,renderD128\n"
	"pci 0000:04:00.0 vendor=10de device=2684 class=030000 driver=nvidia group=2\n"
	"file /proc/driver/nvidia/gpus/0000:04:00.0/information Model: RTX 4090\\nDevice Minor: 1\n"
	"link /dev/dri/by-path/pci-0000:00:02.0-render ../renderD129\n";

static int parse(const char *text, struct lxc_conf *c, int *line, char *err)
{
	memset(c, 0, sizeof(*c));
	return pve_lxc_parse(text, strlen(text), c, line, err, 256);
}

TEST(lxc_every_form)
{
	struct lxc_conf c;
	char err[256];
	int line = 0;
	const char *conf = "arch: amd64\n"
			   "hostname: jellyfin\n"
			   "dev0: /dev/dri/renderD128,gid=104,mode=0666\n"
			   "dev1: path=/dev/nvidia0,uid=0,deny-write=0\n"
			   "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n"
			   "lxc.mount.entry: /mnt/media mnt/media none bind 0 0\n"
			   "lxc.mount.entry: /dev/net/tun dev/net/tun none bind,create=file\n"
			   "lxc.cgroup2.devices.allow: c 226:* rwm\n"
			   "lxc.cgroup.devices.allow: c 195:255 rwm\n"
			   "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
			   "lxc.cgroup2.devices.allow: a\n"
			   "devices: nothing of ours\n"
			   "[snap1]\n"
			   "dev2: /dev/dri/card0\n";

	CHECK_INT(parse(conf, &c, &line, err), 0);
	CHECK_STR(c.hostname, "jellyfin");
	CHECK_INT(c.nuses, 6);
	CHECK_INT(c.uses[0].kind, LXC_USE_DEV);
	CHECK_INT(c.uses[0].index, 0);
	CHECK_STR(c.uses[0].path, "/dev/dri/renderD128");
	CHECK_INT(c.uses[0].line, 3);
	CHECK_STR(c.uses[1].path, "/dev/nvidia0");
	CHECK_INT(c.uses[1].index, 1);
	CHECK_INT(c.uses[2].kind, LXC_USE_MOUNT);
	CHECK_STR(c.uses[2].path, "/dev/dri");
	CHECK_INT(c.uses[3].kind, LXC_USE_CGROUP);
	CHECK_INT(c.uses[3].major, 226);
	CHECK(c.uses[3].minor == LXC_ANY);
	CHECK_INT(c.uses[4].major, 195);
	CHECK_INT(c.uses[4].minor, 255);
	CHECK(c.uses[5].major == LXC_ANY);
}

TEST(lxc_hostile)
{
	struct lxc_conf c;
	char err[256], *big;
	int line = 0;
	static const char *bad[] = {
		"dev0: /etc/shadow\n",
		"dev0: /dev/../etc/shadow\n",
		"dev0: /dev/dri//renderD128\n",
		"dev0: \n",
		"dev0: /dev/\n",
		"dev0: /dev/dri/renderD128/\n",
		"dev0: /dev/\x01x\n",
		"lxc.mount.entry: /dev/dri/../../etc dev/dri none bind\n",
		"lxc.cgroup2.devices.allow: c 226 rwm\n",
		"lxc.cgroup2.devices.allow: c x:1 rwm\n",
		"lxc.cgroup2.devices.allow: z 226:1 rwm\n",
		"lxc.cgroup2.devices.allow: c 226:99999999 rwm\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		line = 0;
		CHECK_INT(parse(bad[i], &c, &line, err), -EINVAL);
		CHECK_INT(line, 1);
	}
	/* a NUL byte anywhere */
	CHECK_INT(pve_lxc_parse("dev0: /dev/dri/card0\0\n", 22, &c, &line, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "NUL") != NULL);
	/* too many entries */
	big = malloc(64 * 40);
	big[0] = '\0';
	for (int i = 0; i < LXC_MAX_USES + 1; i++)
		sprintf(big + strlen(big), "lxc.cgroup2.devices.allow: c 226:%d rwm\n", i);
	CHECK_INT(parse(big, &c, &line, err), -E2BIG);
	CHECK_INT(line, LXC_MAX_USES + 1);
	free(big);
	/* a long description line is not ours; a long line of ours is refused */
	big = malloc(5000);
	memset(big, 'x', 4999);
	memcpy(big, "description: ", 13);
	big[4999] = '\0';
	CHECK_INT(parse(big, &c, &line, err), 0);
	memcpy(big, "dev0: /dev/aa", 13);
	CHECK_INT(parse(big, &c, &line, err), -EINVAL);
	free(big);
}

TEST(lxc_huge_and_nul_files)
{
	struct sysroot sr = test_root_with(spec);
	struct lxc_conf c;
	char err[256], path[4096];
	int line = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/pve/lxc", sr.dir);
	CHECK_INT(sr_mkdir_p(&sr, "/etc/pve/lxc", 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/pve/lxc/200.conf", sr.dir);
	f = fopen(path, "w");
	for (int i = 0; i < (LXC_CONF_MAX / 16) + 1; i++)
		fputs("# padding line.\n", f);
	fclose(f);
	CHECK_INT(pve_lxc_load(&sr, "pve1", 200, &c, &line, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "larger than 1 MiB") != NULL);
	f = fopen(path, "w");
	fwrite("dev0: /dev/dri/card0\n\0", 1, 22, f);
	fclose(f);
	CHECK_INT(pve_lxc_load(&sr, "pve1", 200, &c, &line, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "NUL") != NULL);
}

/* The container names renderD128: that is the dGPU now, whatever the number once meant. */
TEST(lxc_tied_by_major_minor)
{
	struct sysroot sr = test_root_with(spec);
	struct lxc_node n[2][8];
	struct lxc_use u = { .kind = LXC_USE_DEV, .path = "/dev/dri/renderD128" };
	int nn0 = pve_lxc_dev_nodes(&sr, "0000:00:02.0", n[0], 8);
	int nn1 = pve_lxc_dev_nodes(&sr, "0000:03:00.0", n[1], 8);

	CHECK_INT(nn0, 2);
	CHECK_INT(nn1, 2);
	CHECK_INT(pve_lxc_resolve(&sr, &u), 0);
	CHECK_INT(u.major, 226);
	CHECK_INT(u.minor, 128);
	CHECK(!pve_lxc_use_hits(&u, "0000:00:02.0", n[0], nn0));
	CHECK(pve_lxc_use_hits(&u, "0000:03:00.0", n[1], nn1));
	/* by-path: the device in its name */
	u = (struct lxc_use){ .kind = LXC_USE_DEV, .path = "/dev/dri/by-path/pci-0000:00:02.0-render" };
	CHECK_INT(pve_lxc_resolve(&sr, &u), 0);
	CHECK_STR(u.by_path, "0000:00:02.0");
	CHECK(pve_lxc_use_hits(&u, "0000:00:02.0", n[0], nn0));
	CHECK(!pve_lxc_use_hits(&u, "0000:03:00.0", n[1], nn1));
	/* a node no device has now (its GPU is on vfio-pci): not tied to anything */
	u = (struct lxc_use){ .kind = LXC_USE_DEV, .path = "/dev/dri/renderD130" };
	CHECK_INT(pve_lxc_resolve(&sr, &u), -ENOENT);
	CHECK(!pve_lxc_use_hits(&u, "0000:00:02.0", n[0], nn0));
	/* /dev/dri as a whole: every DRM card */
	u = (struct lxc_use){ .kind = LXC_USE_MOUNT, .path = "/dev/dri" };
	CHECK_INT(pve_lxc_resolve(&sr, &u), 0);
	CHECK(pve_lxc_use_hits(&u, "0000:00:02.0", n[0], nn0));
	CHECK(pve_lxc_use_hits(&u, "0000:03:00.0", n[1], nn1));
}

TEST(lxc_nvidia)
{
	struct sysroot sr = test_root_with(spec);
	struct lxc_node n[8];
	int nn = pve_lxc_dev_nodes(&sr, "0000:04:00.0", n, 8);
	struct lxc_use u0 = { .kind = LXC_USE_DEV, .path = "/dev/nvidia0" };
	struct lxc_use u1 = { .kind = LXC_USE_MOUNT, .path = "/dev/nvidia1" };
	struct lxc_use all = { .kind = LXC_USE_CGROUP, .major = 195, .minor = LXC_ANY, .resolved = true };
	struct lxc_use drm = { .kind = LXC_USE_CGROUP, .major = 226, .minor = LXC_ANY, .resolved = true };

	CHECK_INT(nn, 1);
	CHECK_STR(n[0].name, "nvidia1");
	CHECK_INT(pve_lxc_resolve(&sr, &u0), 0);
	CHECK_INT(pve_lxc_resolve(&sr, &u1), 0);
	CHECK(!pve_lxc_use_hits(&u0, "0000:04:00.0", n, nn));
	CHECK(pve_lxc_use_hits(&u1, "0000:04:00.0", n, nn));
	CHECK(pve_lxc_use_hits(&all, "0000:04:00.0", n, nn));
	CHECK(!pve_lxc_use_hits(&drm, "0000:04:00.0", n, nn));
}

TEST(lxc_running_and_pid)
{
	struct sysroot sr = test_root_with(
		"dir /var/lib/lxc/200\n"
		"file /sys/fs/cgroup/lxc/200/cgroup.events populated 1\\nfrozen 0\n"
		"dir /var/lib/lxc/201\n"
		"file /sys/fs/cgroup/lxc/201/cgroup.events populated 0\\nfrozen 0\n"
		"file /sys/fs/cgroup/lxc/202/cgroup.events populated 1\\nfrozen 0\n"
		"file /proc/4242/cgroup 0::/lxc/200/ns/init.scope\n"
		"file /proc/4243/cgroup 0::/lxc.payload.201/init.scope\n"
		"file /proc/4244/cgroup 0::/system.slice/jellyfin.service\n"
		"file /proc/4245/cgroup 0::/lxc/abc/ns\n"
		"file /proc/4246/cgroup 12:devices:/lxc/300/ns\\n0::/lxc/300/ns\n");

	CHECK_INT(pve_lxc_running(&sr, 200), 1);
	CHECK_INT(pve_lxc_running(&sr, 201), 0); /* its cgroup is empty */
	CHECK_INT(pve_lxc_running(&sr, 202), 0); /* Proxmox has no /var/lib/lxc/202 */
	CHECK_INT(pve_lxc_running(&sr, 203), 0);
	CHECK_INT(pve_lxc_of_pid(&sr, 4242), 200);
	CHECK_INT(pve_lxc_of_pid(&sr, 4243), 201);
	CHECK_INT(pve_lxc_of_pid(&sr, 4244), 0);
	CHECK_INT(pve_lxc_of_pid(&sr, 4245), 0);
	CHECK_INT(pve_lxc_of_pid(&sr, 4246), 300);
	CHECK_INT(pve_lxc_of_pid(&sr, 4247), -ENOENT);
}

TEST(lxc_users)
{
	char full[4096];
	struct sysroot sr;
	struct lxc_user u[16];
	const char *devs[] = { "0000:00:02.0", "0000:03:00.0", "0000:04:00.0" };
	char err[256];
	int nbad = 0, n;

	snprintf(full, sizeof(full), "%s"
		 "file /etc/pve/lxc/200.conf hostname: jellyfin\\ndev0: /dev/dri/renderD128,gid=104\n"
		 "file /etc/pve/nodes/pve1/lxc/201.conf hostname: plex\\n"
		 "lxc.cgroup2.devices.allow: c 226:129 rwm\\n"
		 "lxc.mount.entry: /dev/dri/by-path/pci-0000:00:02.0-render dev/dri/renderD128 none bind,create=file\n"
		 "file /etc/pve/nodes/pve2/lxc/202.conf dev0: /dev/dri/renderD129\n"
		 "file /etc/pve/lxc/203.conf dev0: /etc/passwd\n"
		 "file /etc/pve/lxc/204.conf lxc.cgroup2.devices.allow: c 195:* rwm\n"
		 "file /etc/pve/lxc/205.conf hostname: nothing\n"
		 "dir /var/lib/lxc/200\n"
		 "file /sys/fs/cgroup/lxc/200/cgroup.events populated 1\n", spec);
	sr = test_root_with(full);
	n = pve_lxc_users(&sr, "pve1", devs, 3, u, 16, &nbad, err, sizeof(err));
	CHECK_INT(n, 3);
	CHECK_INT(u[0].ctid, 200);
	CHECK(u[0].running);
	CHECK_STR(u[0].hostname, "jellyfin");
	CHECK_STR(u[0].dev, "0000:03:00.0");
	CHECK_STR(u[0].what, "dev0 /dev/dri/renderD128");
	CHECK_INT(u[1].ctid, 201);
	CHECK(!u[1].running);
	CHECK_STR(u[1].dev, "0000:00:02.0");
	CHECK_STR(u[1].what, "lxc.cgroup2.devices.allow c 226:129");
	CHECK_INT(u[2].ctid, 204);
	CHECK_STR(u[2].dev, "0000:04:00.0");
	/* 202 is another node's; 203's path is refused and named */
	CHECK_INT(nbad, 1);
	CHECK_STR(err, "CT 203: config line 1: dev0: the device path is not a plain path below /dev");
}

TEST(lxc_missing)
{
	struct sysroot sr = test_root_with(spec);
	struct lxc_conf c;
	char paths[4][LXC_PATH_MAX];
	int line;
	char err[256];

	CHECK_INT(parse("dev0: /dev/dri/renderD128\ndev1: /dev/dri/renderD130\n"
			"lxc.mount.entry: /dev/dri dev/dri none bind\n"
			"lxc.mount.entry: /dev/nvidia1 dev/nvidia1 none bind\n", &c, &line, err), 0);
	CHECK_INT(pve_lxc_missing(&sr, &c, paths, 4), 2);
	CHECK_STR(paths[0], "/dev/dri/renderD130");
	CHECK_STR(paths[1], "/dev/nvidia1");
}

TEST(lxc_list)
{
	struct sysroot sr = test_root_with("file /etc/pve/lxc/300.conf x\n"
					   "file /etc/pve/lxc/200.conf x\n"
					   "file /etc/pve/lxc/99.conf x\n"
					   "file /etc/pve/lxc/0200.conf x\n"
					   "file /etc/pve/lxc/201.conf.tmp x\n"
					   "file /etc/pve/nodes/pve1/lxc/200.conf x\n"
					   "file /etc/pve/nodes/pve1/lxc/250.conf x\n");
	int ids[8];

	CHECK_INT(pve_lxc_list(&sr, "pve1", ids, 8), 3);
	CHECK_INT(ids[0], 200);
	CHECK_INT(ids[1], 250);
	CHECK_INT(ids[2], 300);
}
